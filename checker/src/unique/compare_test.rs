//! The polynomial checkers against WGL and the brute-force checker on many thousands of random
//! small histories with distinct written values: valid ones (every op applied at a random
//! instant inside its interval, `info` ones possibly later or never) and ones with random
//! results. Verdicts must agree on every history; the tests also count how many histories the
//! polynomial checkers decided, so they cannot pass by always falling back to WGL.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::brute::{linearizable, Rng};
use crate::history::{Event, EventKind, History, HistoryBuilder, Process};
use crate::models::{Kv, Register};
use crate::{check, CheckOptions, Decider, ModelSpec, Uniqueness, Verdict};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    Register,
    CasRegister,
    Append,
}

impl Kind {
    fn spec(self, initial: Option<i64>) -> ModelSpec {
        match self {
            Kind::Register => ModelSpec::Register { initial },
            Kind::CasRegister => ModelSpec::CasRegister { initial },
            Kind::Append => ModelSpec::Kv,
        }
    }
}

#[derive(Clone, Debug)]
struct Pending {
    process: u64,
    f: &'static str,
    input: Value,
    /// Set once applied: (result, cas mismatch).
    effect: Option<(Value, bool)>,
    info: bool,
}

/// The object: a register value or the kv string.
#[derive(Clone, Debug)]
struct Obj {
    reg: Option<i64>,
    kv: String,
}

fn apply(o: &mut Obj, p: &Pending) -> (Value, bool) {
    match p.f {
        "read" => (json!(o.reg), false),
        "write" => {
            o.reg = p.input.as_i64();
            (p.input.clone(), false)
        }
        "cas" => {
            if json!(o.reg) == p.input[0] {
                o.reg = p.input[1].as_i64();
                (p.input.clone(), false)
            } else {
                (p.input.clone(), true)
            }
        }
        "get" => (json!(o.kv), false),
        "append" => {
            o.kv.push_str(p.input.as_str().unwrap_or(""));
            (p.input.clone(), false)
        }
        f => unreachable!("{f}"),
    }
}

/// A random history of `n` ops on one key. Written values are distinct unless `dup`; reads in
/// invalid histories return plausible values (written ones, the initial one, prefixes).
pub(crate) fn history(
    seed: u64,
    kind: Kind,
    n: usize,
    procs: u64,
    initial: Option<i64>,
    valid: bool,
    dup: bool,
) -> History {
    let mut rng = Rng(seed);
    let mut obj = Obj { reg: initial, kv: String::new() };
    let mut b = HistoryBuilder::default();
    let mut time = 0u64;
    let mut index = 0u64;
    let mut next_value = 1i64;
    let mut written: Vec<i64> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut next_proc = procs;
    let mut slots: Vec<(u64, Option<usize>)> = (0..procs).map(|p| (p, None)).collect();
    let mut pend: Vec<Pending> = Vec::new();
    let mut invoked = 0;
    let mut emit = |b: &mut HistoryBuilder, kind: EventKind, p: &Pending, value: Value, err| {
        let e = Event {
            index,
            kind,
            process: Process::Client(p.process),
            f: p.f.to_string(),
            key: Some("k".into()),
            value,
            time,
            error: err,
        };
        b.push(index as usize + 1, e).unwrap();
        index += 1;
        // Some events share an instant: touching intervals are concurrent.
        time += u64::from(!index.is_multiple_of(3));
    };
    for _ in 0..n * 10 {
        let s = rng.below(slots.len() as u64) as usize;
        match slots[s].1 {
            None if invoked < n => {
                let (f, input) = match kind {
                    Kind::Append => {
                        if rng.chance(50) {
                            ("get", Value::Null)
                        } else {
                            let t = if dup && rng.chance(15) && !tokens.is_empty() {
                                tokens[rng.below(tokens.len() as u64) as usize].clone()
                            } else {
                                format!("{},", next_value)
                            };
                            next_value += 1;
                            tokens.push(t.clone());
                            ("append", json!(t))
                        }
                    }
                    _ => {
                        let mut v = next_value;
                        if dup && rng.chance(15) && !written.is_empty() {
                            v = written[rng.below(written.len() as u64) as usize];
                        } else {
                            next_value += 1;
                        }
                        match rng.below(if kind == Kind::CasRegister { 3 } else { 2 }) {
                            0 => ("read", Value::Null),
                            1 => {
                                written.push(v);
                                ("write", json!(v))
                            }
                            _ => {
                                written.push(v);
                                let e = match rng.below(4) {
                                    0 => json!(initial),
                                    1 => json!(next_value + 5),
                                    _ if !written.is_empty() => {
                                        json!(written[rng.below(written.len() as u64) as usize])
                                    }
                                    _ => Value::Null,
                                };
                                ("cas", json!([e, v]))
                            }
                        }
                    }
                };
                let p = Pending { process: slots[s].0, f, input, effect: None, info: false };
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
                if rng.chance(15) {
                    emit(&mut b, EventKind::Info, &p, Value::Null, Some("timeout".into()));
                    pend[i].info = true;
                    slots[s] = (next_proc, None);
                    next_proc += 1;
                    continue;
                }
                let (out, mismatch) = if valid {
                    match &p.effect {
                        Some(e) => e.clone(),
                        None => continue,
                    }
                } else {
                    let out = match p.f {
                        "read" => match rng.below(4) {
                            0 => json!(initial),
                            1 if !written.is_empty() => {
                                json!(written[rng.below(written.len() as u64) as usize])
                            }
                            2 => json!(obj.reg),
                            _ => json!(next_value - 1),
                        },
                        "get" => {
                            let mut t = tokens.clone();
                            if rng.chance(60) {
                                let len = t.len() as u64;
                                let (x, y) = (rng.below(len) as usize, rng.below(len) as usize);
                                if x < t.len() && y < t.len() {
                                    t.swap(x, y);
                                }
                            }
                            let k = rng.below(t.len() as u64 + 1) as usize;
                            json!(t[..k].concat())
                        }
                        _ => p.input.clone(),
                    };
                    (out, p.f == "cas" && rng.chance(20))
                };
                if mismatch {
                    emit(&mut b, EventKind::Fail, &p, p.input.clone(), Some("cas-mismatch".into()));
                } else if !valid && rng.chance(8) {
                    emit(&mut b, EventKind::Fail, &p, p.input.clone(), None);
                } else {
                    emit(&mut b, EventKind::Ok, &p, out, None);
                }
                slots[s].1 = None;
            }
        }
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

/// The verdict and decider with the polynomial checkers on, and WGL's verdict.
fn both(kind: Kind, h: &History, initial: Option<i64>) -> (Verdict, Decider, Verdict) {
    let fast = CheckOptions { threads: 1, ..CheckOptions::default() };
    let slow = CheckOptions { unique_values: Uniqueness::Off, ..fast.clone() };
    let r = check(h, &kind.spec(initial), &fast).unwrap();
    let w = check(h, &kind.spec(initial), &slow).unwrap();
    assert_eq!(w.keys[0].checker, Decider::Wgl);
    (r.verdict, r.keys.first().map_or(Decider::Wgl, |k| k.checker), w.verdict)
}

fn brute(kind: Kind, h: &History, initial: Option<i64>) -> Verdict {
    let ok = match kind {
        Kind::Register => linearizable(&Register { initial, cas: false }, h),
        Kind::CasRegister => linearizable(&Register { initial, cas: true }, h),
        Kind::Append => linearizable(&Kv, h),
    };
    if ok {
        Verdict::Linearizable
    } else {
        Verdict::Illegal
    }
}

fn kinds() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Register), Just(Kind::CasRegister), Just(Kind::Append)]
}

fn initials() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![Just(None), Just(Some(0)), Just(Some(1))]
}

/// 6,000 cases per property, or `PROPTEST_CASES` for a longer soak.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(6000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn unique_checkers_agree_with_brute_force_and_wgl(
        seed: u64, kind in kinds(), n in 1usize..=8, procs in 1u64..=4,
        initial in initials(), valid: bool, dup in proptest::bool::weighted(0.1),
    ) {
        let h = history(seed, kind, n, procs, initial, valid, dup);
        let (fast, decider, wgl) = both(kind, &h, initial);
        let want = brute(kind, &h, initial);
        prop_assert_eq!(wgl, want, "WGL vs brute force: {:#?}", h.ops);
        prop_assert_eq!(fast, want, "{:?} vs brute force: {:#?}", decider, h.ops);
    }

    #[test]
    fn unique_checkers_agree_with_wgl_on_larger_histories(
        seed: u64, kind in kinds(), n in 9usize..=60, procs in 1u64..=8,
        initial in initials(), valid: bool,
    ) {
        let h = history(seed, kind, n, procs, initial, valid, false);
        let (fast, decider, wgl) = both(kind, &h, initial);
        prop_assert_eq!(fast, wgl, "{:?} vs WGL: {:#?}", decider, h.ops);
    }
}

/// A witness of the polynomial checkers replays through the model from the initial value,
/// holds every op that completed ok, and respects real time.
fn assert_witness(kind: Kind, h: &History, initial: Option<i64>) {
    use crate::model::Model;
    let opts = CheckOptions { threads: 1, witness: true, ..CheckOptions::default() };
    let r = check(h, &kind.spec(initial), &opts).unwrap();
    let k = &r.keys[0];
    if k.verdict != Verdict::Linearizable || k.checker == Decider::Wgl {
        return;
    }
    let order = k.witness.clone().unwrap_or_default();
    fn replay<M: Model>(m: &M, h: &History, order: &[usize]) -> bool {
        let mut s = m.init();
        order.iter().all(|&id| {
            let (i, o) = m.convert(&h.ops[id]).unwrap().expect("a kept op");
            m.step(&s, &i, o.as_ref()).map(|n| s = n).is_some()
        })
    }
    let ok = match kind {
        Kind::Append => replay(&Kv, h, &order),
        _ => replay(&Register { initial, cas: kind == Kind::CasRegister }, h, &order),
    };
    assert!(ok, "witness {order:?} does not replay: {h:#?}");
    for o in h.ops.iter().filter(|o| o.outcome == crate::Outcome::Ok) {
        assert!(order.contains(&o.id), "op {} missing from {order:?}", o.id);
    }
    for (i, &a) in order.iter().enumerate() {
        for &b in &order[i + 1..] {
            let (a, b) = (&h.ops[a], &h.ops[b]);
            let b_done = b.outcome == crate::Outcome::Ok;
            assert!(!(b_done && b.ret.unwrap() < a.call), "{} before {}: {h:#?}", a.id, b.id);
        }
    }
}

/// The generators above reach the polynomial checkers, both verdicts, and every kind.
#[test]
fn the_comparison_exercises_the_polynomial_checkers() {
    let mut seen = std::collections::BTreeMap::new();
    for seed in 0..3000u64 {
        let kind = [Kind::Register, Kind::CasRegister, Kind::Append][(seed % 3) as usize];
        let initial = [None, Some(0)][(seed / 3 % 2) as usize];
        let h = history(seed, kind, 8, 3, initial, seed % 5 != 0, false);
        let (fast, decider, wgl) = both(kind, &h, initial);
        assert_eq!(fast, wgl, "{h:#?}");
        assert_witness(kind, &h, initial);
        *seen.entry((format!("{decider:?}"), format!("{fast:?}"))).or_insert(0) += 1;
    }
    for d in ["UniqueRegister", "UniqueAppend"] {
        for v in ["Linearizable", "Illegal"] {
            let n = seen.get(&(d.to_string(), v.to_string())).copied().unwrap_or(0);
            assert!(n >= 50, "{d} decided only {n} {v} histories: {seen:?}");
        }
    }
}

/// A one-key history from `(f, input, output, call, ret)` rows, each ok, each by its own
/// process.
fn rows(rows: &[(&str, Value, Value, u64, u64)]) -> History {
    let mut evs: Vec<(u64, usize, String)> = Vec::new();
    for (p, (f, i, o, c, r)) in rows.iter().enumerate() {
        evs.push((*c, 0, format!(r#""type":"invoke","process":{p},"f":"{f}","value":{i}"#)));
        evs.push((*r, 1, format!(r#""type":"ok","process":{p},"f":"{f}","value":{o}"#)));
    }
    evs.sort_by_key(|e| (e.0, e.1));
    let lines: Vec<String> = evs
        .iter()
        .enumerate()
        .map(|(n, (t, _, e))| format!(r#"{{"index":{n},{e},"time":{t}}}"#))
        .collect();
    crate::formats::jsonl::parse_str(&lines.join("\n")).unwrap()
}

/// Each kind of violation the polynomial checkers report: the verdict matches WGL's, the key
/// was theirs, and the evidence names the operation that completed and its words.
#[test]
fn each_violation_kind_is_explained() {
    let null = Value::Null;
    #[rustfmt::skip]
    let cases: Vec<(Kind, &str, History)> = vec![
        (Kind::Register, "no operation that may have taken effect writes it", rows(&[
            ("write", json!(1), json!(1), 0, 10),
            ("read", null.clone(), json!(2), 20, 30),
        ])),
        (Kind::CasRegister, "replaced the value 1", rows(&[
            ("write", json!(1), json!(1), 0, 10),
            ("cas", json!([1, 2]), json!([1, 2]), 20, 30),
            ("cas", json!([1, 3]), json!([1, 3]), 40, 50),
        ])),
        (Kind::CasRegister, "compare-and-sets that loop", rows(&[
            ("cas", json!([2, 3]), json!([2, 3]), 0, 10),
            ("cas", json!([3, 2]), json!([3, 2]), 0, 10),
            ("read", null.clone(), json!(3), 20, 30),
        ])),
        (Kind::Register, "it wrote the value", rows(&[
            ("read", null.clone(), json!(1), 0, 10),
            ("write", json!(1), json!(1), 20, 30),
        ])),
        (Kind::Register, "so value 2 comes first", rows(&[
            ("write", json!(1), json!(1), 0, 10),
            ("write", json!(2), json!(2), 20, 30),
            ("read", null.clone(), json!(1), 40, 50),
        ])),
        (Kind::Append, "not a sequence of appended strings", rows(&[
            ("append", json!("1,"), json!("1,"), 0, 10),
            ("get", null.clone(), json!("1,9,"), 20, 30),
        ])),
        (Kind::Append, "twice", rows(&[
            ("append", json!("1,"), json!("1,"), 0, 10),
            ("get", null.clone(), json!("1,1,"), 20, 30),
        ])),
        (Kind::Append, "neither of which extends the other", rows(&[
            ("append", json!("1,"), json!("1,"), 0, 10),
            ("append", json!("2,"), json!("2,"), 0, 10),
            ("get", null.clone(), json!("1,2,"), 20, 30),
            ("get", null.clone(), json!("2,"), 20, 30),
        ])),
        (Kind::Append, "does not contain this append, though a later one does", rows(&[
            ("append", json!("1,"), json!("1,"), 0, 10),
            ("get", null.clone(), json!("1,"), 20, 30),
            ("get", null.clone(), json!(""), 40, 50),
        ])),
        (Kind::Append, "its result extends that get's", rows(&[
            ("append", json!("1,"), json!("1,"), 0, 100),
            ("get", null.clone(), json!("1,"), 5, 30),
            ("get", null.clone(), json!(""), 40, 50),
        ])),
        (Kind::Append, "no get's result contains this append", rows(&[
            ("append", json!("1,"), json!("1,"), 0, 10),
            ("get", null.clone(), json!(""), 20, 30),
        ])),
    ];
    for (kind, words, h) in cases {
        let (fast, decider, wgl) = both(kind, &h, None);
        assert_eq!((fast, wgl), (Verdict::Illegal, Verdict::Illegal), "{words}");
        assert_ne!(decider, Decider::Wgl, "{words}");
        let opts = CheckOptions { threads: 1, ..CheckOptions::default() };
        let r = check(&h, &kind.spec(None), &opts).unwrap();
        let cx = r.keys[0].counterexample.clone().expect("evidence");
        assert!(cx.explanation.contains(words), "{words:?} not in {:?}", cx.explanation);
        assert!(cx.blocking.is_some() && !cx.stuck.is_empty(), "{cx:?}");
    }
}
