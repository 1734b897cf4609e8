//! A brute-force linearizability checker for tests: tries every order of the operations that
//! respects real time, with raw model states and no simplification, including or leaving out
//! each indeterminate operation. Exponential; for histories of up to about 8 operations. It
//! shares only `convert` and `step` with the real checker, so it checks the search, the
//! partitioning, the canonical states and the dropping of operations.

use crate::history::History;
use crate::model::Model;

/// Whether `history` is linearizable under `model` (one partition: the whole history).
pub fn linearizable<M: Model>(model: &M, history: &History) -> bool {
    let mut ops = Vec::new();
    for op in &history.ops {
        if let Some((i, o)) = model.convert(op).expect("ops fit the model") {
            let ret = if o.is_some() { op.ret.unwrap_or(u64::MAX) } else { u64::MAX };
            ops.push((op.call, ret, i, o));
        }
    }
    let mut used = vec![false; ops.len()];
    dfs(model, &ops, &mut used, &model.init())
}

type Op<M> = (u64, u64, <M as Model>::Input, Option<<M as Model>::Output>);

fn dfs<M: Model>(model: &M, ops: &[Op<M>], used: &mut [bool], state: &M::State) -> bool {
    if ops.iter().zip(used.iter()).all(|(o, &u)| u || o.1 == u64::MAX) {
        return true;
    }
    // The earliest return among unused definite ops: nothing invoked after it may go first.
    let bound = ops
        .iter()
        .zip(used.iter())
        .filter(|(_, &u)| !u)
        .map(|(o, _)| o.1)
        .min()
        .unwrap_or(u64::MAX);
    for i in 0..ops.len() {
        if used[i] || ops[i].0 > bound {
            continue;
        }
        if let Some(next) = model.step(state, &ops[i].2, ops[i].3.as_ref()) {
            used[i] = true;
            let ok = dfs(model, ops, used, &next);
            used[i] = false;
            if ok {
                return true;
            }
        }
    }
    false
}

pub(crate) use crate::synth::Rng;

#[cfg(test)]
pub(crate) mod tests {
    //! WGL against brute force on thousands of small random histories; histories built by
    //! applying operations at random instants inside their intervals are linearizable; and
    //! mutated reads labelled by brute force are caught.

    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::{linearizable, Rng};
    use crate::history::{Event, EventKind, History, HistoryBuilder, Process};
    use crate::models::{Kv, Register, Whole};
    use crate::{check, CheckOptions, ModelSpec, Verdict};

    #[derive(Clone, Copy, Debug, PartialEq)]
    pub(crate) enum Kind {
        Register,
        CasRegister,
        Kv,
    }

    impl Kind {
        pub(crate) fn spec(self) -> ModelSpec {
            match self {
                Kind::Register => ModelSpec::Register { initial: None },
                Kind::CasRegister => ModelSpec::CasRegister { initial: None },
                Kind::Kv => ModelSpec::Kv,
            }
        }
        pub(crate) fn brute(self, h: &History) -> bool {
            match self {
                Kind::Register => linearizable(&Whole(Register { initial: None, cas: false }), h),
                Kind::CasRegister => linearizable(&Whole(Register { initial: None, cas: true }), h),
                Kind::Kv => linearizable(&Whole(Kv), h),
            }
        }
    }

    /// The abstract object, to build histories that are linearizable by construction.
    #[derive(Clone, Debug, Default)]
    struct Obj {
        reg: std::collections::BTreeMap<String, Option<i64>>,
        kv: std::collections::BTreeMap<String, String>,
    }

    #[derive(Clone, Debug)]
    struct Pending {
        process: u64,
        f: &'static str,
        key: String,
        input: Value,
        /// Set once it took effect: (output, is cas mismatch).
        effect: Option<(Value, bool)>,
        /// Completed as info (it may still take effect).
        info: bool,
    }

    fn random_op(rng: &mut Rng, kind: Kind, keys: u64) -> (&'static str, String, Value) {
        let key = format!("k{}", rng.below(keys));
        let v = rng.below(3) as i64;
        match kind {
            Kind::Register | Kind::CasRegister => {
                match rng.below(if kind == Kind::CasRegister { 3 } else { 2 }) {
                    0 => ("read", key, Value::Null),
                    1 => ("write", key, json!(v)),
                    _ => {
                        let e = if rng.chance(20) { Value::Null } else { json!(rng.below(3)) };
                        ("cas", key, json!([e, v]))
                    }
                }
            }
            Kind::Kv => match rng.below(4) {
                0 | 1 => ("get", key, Value::Null),
                2 => ("append", key, json!(["a", "b", "c"][rng.below(3) as usize])),
                _ => ("put", key, json!(["a", "ab", ""][rng.below(3) as usize])),
            },
        }
    }

    fn apply(obj: &mut Obj, p: &Pending) -> (Value, bool) {
        match p.f {
            "read" => (json!(obj.reg.get(&p.key).copied().flatten()), false),
            "write" => {
                obj.reg.insert(p.key.clone(), p.input.as_i64());
                (p.input.clone(), false)
            }
            "cas" => {
                let cur = obj.reg.get(&p.key).copied().flatten();
                if json!(cur) == p.input[0] {
                    obj.reg.insert(p.key.clone(), p.input[1].as_i64());
                    (p.input.clone(), false)
                } else {
                    (p.input.clone(), true)
                }
            }
            "get" => (json!(obj.kv.get(&p.key).cloned().unwrap_or_default()), false),
            "put" => {
                obj.kv.insert(p.key.clone(), p.input.as_str().unwrap().to_string());
                (p.input.clone(), false)
            }
            "append" => {
                obj.kv.entry(p.key.clone()).or_default().push_str(p.input.as_str().unwrap());
                (p.input.clone(), false)
            }
            f => unreachable!("{f}"),
        }
    }

    /// A history of `n` operations over `procs` processes. When `valid`, every op takes effect
    /// at a random instant inside its interval (or, if it ends `info`, possibly later or
    /// never), so the history is linearizable; otherwise outputs and outcomes are random.
    pub(crate) fn history(
        seed: u64,
        kind: Kind,
        n: usize,
        procs: u64,
        keys: u64,
        valid: bool,
    ) -> History {
        let mut rng = Rng(seed);
        let mut obj = Obj::default();
        let mut b = HistoryBuilder::default();
        let mut time = 0u64;
        let mut next_proc = procs;
        let mut slots: Vec<(u64, Option<usize>)> = (0..procs).map(|p| (p, None)).collect();
        let mut pend: Vec<Pending> = Vec::new();
        let mut invoked = 0;
        let mut emit = |b: &mut HistoryBuilder,
                        kind: EventKind,
                        p: &Pending,
                        value: Value,
                        error: Option<&str>| {
            let e = Event {
                index: time,
                kind,
                process: Process::Client(p.process),
                f: p.f.to_string(),
                key: Some(p.key.clone()),
                value,
                time,
                error: error.map(str::to_string),
                node: None,
                term: None,
            };
            b.push(time as usize + 1, e).unwrap();
            time += 1;
        };
        for _ in 0..n * 8 {
            let s = rng.below(slots.len() as u64) as usize;
            match slots[s].1 {
                None if invoked < n => {
                    let (f, key, input) = random_op(&mut rng, kind, keys);
                    let p =
                        Pending { process: slots[s].0, f, key, input, effect: None, info: false };
                    emit(&mut b, EventKind::Invoke, &p, p.input.clone(), None);
                    pend.push(p);
                    slots[s].1 = Some(pend.len() - 1);
                    invoked += 1;
                }
                None => {}
                Some(i) => {
                    if valid && pend[i].effect.is_none() && rng.chance(50) {
                        let e = apply(&mut obj, &pend[i]);
                        pend[i].effect = Some(e);
                        continue;
                    }
                    let p = pend[i].clone();
                    let info = rng.chance(15);
                    if info {
                        emit(&mut b, EventKind::Info, &p, Value::Null, Some("timeout"));
                        pend[i].info = true;
                        slots[s] = (next_proc, None);
                        next_proc += 1;
                        continue;
                    }
                    if valid {
                        let (out, mismatch) = match &p.effect {
                            Some(e) => e.clone(),
                            None => continue, // must take effect before completing
                        };
                        if mismatch {
                            emit(
                                &mut b,
                                EventKind::Fail,
                                &p,
                                p.input.clone(),
                                Some("cas-mismatch"),
                            );
                        } else {
                            emit(&mut b, EventKind::Ok, &p, out, None);
                        }
                    } else {
                        let r = rng.below(10);
                        if r == 0 {
                            emit(&mut b, EventKind::Fail, &p, p.input.clone(), None);
                        } else if r == 1 && p.f == "cas" {
                            emit(
                                &mut b,
                                EventKind::Fail,
                                &p,
                                p.input.clone(),
                                Some("cas-mismatch"),
                            );
                        } else {
                            let out = match p.f {
                                "read" => {
                                    if rng.chance(25) {
                                        Value::Null
                                    } else {
                                        json!(rng.below(3))
                                    }
                                }
                                "get" => {
                                    json!(["", "a", "b", "ab", "ba", "abc"][rng.below(6) as usize])
                                }
                                _ => p.input.clone(),
                            };
                            emit(&mut b, EventKind::Ok, &p, out, None);
                        }
                    }
                    slots[s].1 = None;
                }
            }
            // Ops that ended info may still take effect later.
            if valid {
                for p in pend.iter_mut().filter(|p| p.info && p.effect.is_none()) {
                    if rng.chance(10) {
                        let e = apply(&mut obj, p);
                        p.effect = Some(e);
                    }
                }
            }
        }
        b.finish()
    }

    fn wgl(kind: Kind, h: &History, partition: bool) -> Verdict {
        let opts = CheckOptions { partition, threads: 1, ..CheckOptions::default() };
        check(h, &kind.spec(), &opts).unwrap().verdict
    }

    fn kinds() -> impl Strategy<Value = Kind> {
        prop_oneof![Just(Kind::Register), Just(Kind::CasRegister), Just(Kind::Kv)]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn wgl_agrees_with_brute_force(seed: u64, kind in kinds(), n in 1usize..=8, procs in 1u64..=4, keys in 1u64..=2) {
            let h = history(seed, kind, n, procs, keys, false);
            let want = if kind.brute(&h) { Verdict::Linearizable } else { Verdict::Illegal };
            prop_assert_eq!(wgl(kind, &h, true), want, "partitioned: {:#?}", h.ops);
            prop_assert_eq!(wgl(kind, &h, false), want, "whole: {:#?}", h.ops);
        }

        #[test]
        fn histories_applied_inside_their_intervals_are_linearizable(seed: u64, kind in kinds(), n in 1usize..=60, procs in 1u64..=6, keys in 1u64..=3) {
            let h = history(seed, kind, n, procs, keys, true);
            prop_assert_eq!(wgl(kind, &h, true), Verdict::Linearizable, "{:#?}", h.ops);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, max_global_rejects: 1_000_000, ..ProptestConfig::default() })]

        #[test]
        fn mutated_reads_labelled_by_brute_force_are_caught(seed: u64, kind in kinds(), n in 2usize..=8, procs in 1u64..=3, pick: u64, to: u64) {
            let mut h = history(seed, kind, n, procs, 1, true);
            let reads: Vec<usize> = h.ops.iter().filter(|o| {
                o.outcome == crate::Outcome::Ok && (o.f == "read" || o.f == "get")
            }).map(|o| o.id).collect();
            prop_assume!(!reads.is_empty());
            let id = reads[(pick % reads.len() as u64) as usize];
            let new = match kind {
                Kind::Kv => json!(["", "a", "b", "ab", "ba", "c"][(to % 6) as usize]),
                _ => if to % 4 == 3 { Value::Null } else { json!(to % 3) },
            };
            prop_assume!(h.ops[id].output != new);
            h.ops[id].output = new;
            let want = if kind.brute(&h) { Verdict::Linearizable } else { Verdict::Illegal };
            prop_assert_eq!(wgl(kind, &h, true), want, "{:#?}", h.ops);
        }
    }

    /// Thousands of small single-key register histories over 3 values under high concurrency
    /// (up to 8 processes for 9 operations, info and cas included), random or applied inside
    /// their intervals: the default checker (certificates, then the reduced search) agrees
    /// with brute force, and both the reductions and the certificates are exercised.
    #[test]
    fn small_domains_under_high_concurrency_agree_with_brute_force() {
        use crate::Decider;
        let mut by = std::collections::BTreeMap::<String, usize>::new();
        for seed in 0..4000u64 {
            let mut rng = Rng(seed);
            let kind = if seed % 2 == 0 { Kind::Register } else { Kind::CasRegister };
            let n = 4 + rng.below(6) as usize;
            let procs = 4 + rng.below(5);
            let h = history(seed, kind, n, procs, 1, seed % 3 == 0);
            let want = if kind.brute(&h) { Verdict::Linearizable } else { Verdict::Illegal };
            let opts = CheckOptions { threads: 1, ..CheckOptions::default() };
            let r = check(&h, &kind.spec(), &opts).unwrap();
            assert_eq!(r.verdict, want, "seed {seed}: {:#?}", h.ops);
            if let Some(k) = r.keys.first() {
                *by.entry(format!("{:?}", k.checker)).or_default() += 1;
            }
        }
        eprintln!("{by:?}");
        let count = |d: Decider| by.get(&format!("{d:?}")).copied().unwrap_or(0);
        assert!(count(Decider::WglSymmetric) > 500, "{by:?}");
        assert!(count(Decider::InvisibleValue) > 100, "{by:?}");
    }

    /// On larger histories than brute force can take (up to 60 operations, 10 processes, one
    /// key), the reduced search and the certificates give plain WGL's verdicts.
    #[test]
    fn reductions_keep_plain_wgl_verdicts() {
        use crate::Uniqueness;
        let mut illegal = 0;
        for seed in 0..600u64 {
            let mut rng = Rng(seed ^ 0xABCD);
            let kind = if seed % 2 == 0 { Kind::Register } else { Kind::CasRegister };
            let n = 20 + rng.below(41) as usize;
            let procs = 3 + rng.below(8);
            let mut h = history(seed, kind, n, procs, 1, true);
            if seed % 2 == 1 {
                // One read changed: often illegal, sometimes not.
                let reads: Vec<usize> = h
                    .ops
                    .iter()
                    .filter(|o| o.f == "read" && o.outcome == crate::Outcome::Ok)
                    .map(|o| o.id)
                    .collect();
                if let Some(&id) = reads.get(rng.below(reads.len() as u64) as usize) {
                    h.ops[id].output = json!(rng.below(3));
                }
            }
            let on = CheckOptions { threads: 1, ..CheckOptions::default() };
            let off = CheckOptions { unique_values: Uniqueness::Off, ..on.clone() };
            let (a, b) =
                (check(&h, &kind.spec(), &on).unwrap(), check(&h, &kind.spec(), &off).unwrap());
            assert_eq!(a.verdict, b.verdict, "seed {seed}: {:#?}", h.ops);
            illegal += usize::from(a.verdict == Verdict::Illegal);
        }
        assert!(illegal > 50, "{illegal} illegal");
    }
}
