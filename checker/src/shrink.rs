//! Minimal failing histories: for each illegal key, a small sub-history that is still not
//! linearizable, found by greedy delta debugging with the checker as the oracle.
//!
//! ```text
//!  History + CheckResult ──illegal keys──▶ ops of the key (failed ops dropped: they constrain
//!        nothing)
//!     ──▶ try: drop what was invoked after the anomaly; drop halves, quarters, … single ops
//!         (each drop closed under `needs`) ──check(sub-history) still illegal? keep the drop
//!     ──▶ single-op passes until none can go (1-minimal) or the time budget is spent
//!     ──▶ re-check: Shrunk { ids, history, result }
//! ```
//!
//! A drop never leaves a kept observer (an `ok` read, a get, a successful cas) without an
//! operation that could have written what it saw: dropping a writer drops the observers that
//! need it too (see [`needs`]). Without that rule a history would shrink to one read of a value
//! nobody wrote, which is illegal and proves nothing. The result is 1-minimal when
//! [`Shrunk::minimal`] is set: dropping any single kept operation (with the observers that need
//! it) makes the sub-history linearizable.
// The shrinker reads the wall clock for its time budget and its statistics.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::check::{check, CheckOptions, ModelSpec};
use crate::error::CheckError;
use crate::history::{History, Operation, Outcome};
use crate::models::value_unknown;
use crate::verdict::{CheckResult, Verdict};

/// The time budget of a shrink when none is given: about as long as a user waits for a report.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(10);

/// A smallest failing sub-history of one key.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The key (`None` for an unpartitioned check).
    pub key: Option<String>,
    /// Operations of the key in the full history.
    pub before: usize,
    /// The kept operations: their ids in the full history, ascending. `history.ops[i]` is the
    /// full history's operation `ids[i]`.
    pub ids: Vec<usize>,
    /// The sub-history (operations renumbered from 0; event indices, times, nodes kept; the
    /// nemesis events kept too).
    pub history: History,
    /// The check of the sub-history: illegal.
    pub result: CheckResult,
    /// Whether the search ended at a 1-minimal history (else the budget ran out first).
    pub minimal: bool,
    /// Checks run.
    pub checks: usize,
    /// Microseconds spent.
    pub micros: u64,
}

/// The value an observer saw, as the dependency rule reads it.
enum Seen<'a> {
    /// A register value (JSON), compared by equality with written values.
    Register(&'a Value),
    /// A kv string: made of a put's value (a prefix) and appended strings (substrings).
    Kv(String),
}

fn kv_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// What `op` observed, if it observes a value that some write must have produced.
fn seen<'a>(model: &ModelSpec, op: &'a Operation) -> Option<Seen<'a>> {
    if op.outcome != Outcome::Ok || value_unknown(op) {
        return None;
    }
    let observed = match op.f.as_str() {
        "read" | "get" => &op.output,
        "cas" => op.input.as_array().filter(|a| a.len() == 2).map(|a| &a[0])?,
        _ => return None,
    };
    match model {
        ModelSpec::Kv => kv_string(observed).filter(|s| !s.is_empty()).map(Seen::Kv),
        ModelSpec::Register { initial } | ModelSpec::CasRegister { initial } => {
            let is_initial = match (initial, observed) {
                (None, Value::Null) => true,
                (Some(i), v) => v.as_i64() == Some(*i),
                _ => false,
            };
            (!is_initial).then_some(Seen::Register(observed))
        }
    }
}

/// The value `op` may write (failed operations never took effect).
fn written(op: &Operation) -> Option<&Value> {
    if op.outcome == Outcome::Fail {
        return None;
    }
    match op.f.as_str() {
        "write" | "put" | "append" => Some(&op.input),
        "cas" => op.input.as_array().filter(|a| a.len() == 2).map(|a| &a[1]),
        _ => None,
    }
}

/// The operations of one key that may write, indexed for the observers' look-ups.
#[derive(Default)]
struct Writers {
    /// Register: value (JSON text) → positions of its writes. Kv: appended string →
    /// positions of its appends.
    exact: FxHashMap<String, Vec<usize>>,
    /// Kv: puts and cas (their new value, non-empty) — a result may start with one.
    starts: Vec<(String, usize)>,
    /// Kv: the distinct lengths of appended strings, ascending.
    lengths: Vec<usize>,
    /// Kv: no appended string is a prefix of another, so a result splits one way only.
    prefix_free: bool,
}

impl Writers {
    fn build(model: &ModelSpec, ops: &[&Operation], key: Option<&str>) -> Writers {
        let mut w = Writers::default();
        for (j, o) in ops.iter().enumerate().filter(|(_, o)| o.key.as_deref() == key) {
            let Some(v) = written(o) else { continue };
            match model {
                ModelSpec::Kv => match kv_string(v) {
                    Some(p) if p.is_empty() => {}
                    Some(p) if o.f == "append" => w.exact.entry(p).or_default().push(j),
                    Some(p) => w.starts.push((p, j)),
                    None => {}
                },
                _ => w.exact.entry(v.to_string()).or_default().push(j),
            }
        }
        if *model == ModelSpec::Kv {
            let mut strings: Vec<&str> = w.exact.keys().map(String::as_str).collect();
            strings.sort_unstable();
            w.prefix_free = strings.windows(2).all(|p| !p[1].starts_with(p[0]));
            w.lengths = strings.iter().map(|s| s.len()).collect();
            w.lengths.sort_unstable();
            w.lengths.dedup();
        }
        w
    }

    /// Positions of the operations that could have written (a part of) what was seen.
    fn of(&self, seen: &Seen<'_>) -> Vec<usize> {
        match seen {
            Seen::Register(v) => self.exact.get(&v.to_string()).cloned().unwrap_or_default(),
            Seen::Kv(s) => self.split(s).unwrap_or_else(|| self.containing(s)),
        }
    }

    /// The writers of every way `s` splits into a put (or none) and appends, when the
    /// appended strings are prefix-free (else `None`, as also when no split exists).
    fn split(&self, s: &str) -> Option<Vec<usize>> {
        if !self.prefix_free {
            return None;
        }
        let mut out: Vec<usize> = Vec::new();
        let mut found = false;
        let firsts = self.starts.iter().filter(|(p, _)| s.starts_with(p.as_str()));
        for (len, start) in firsts.map(|(p, j)| (p.len(), Some(*j))).chain([(0, None)]) {
            let mut used: Vec<usize> = start.into_iter().collect();
            let mut at = len;
            while at < s.len() {
                let piece = self.lengths.iter().find_map(|&l| {
                    s.get(at..at + l).and_then(|x| self.exact.get(x)).map(|ws| (l, ws))
                });
                let Some((l, ws)) = piece else { break };
                used.extend(ws);
                at += l;
            }
            if at == s.len() {
                found = true;
                out.extend(used);
            }
        }
        out.sort_unstable();
        out.dedup();
        found.then_some(out)
    }

    /// Every append whose string occurs in `s` and every put or cas whose value starts it.
    fn containing(&self, s: &str) -> Vec<usize> {
        let appends = self.exact.iter().filter(|(p, _)| s.contains(p.as_str()));
        let mut out: Vec<usize> = appends.flat_map(|(_, ws)| ws.iter().copied()).collect();
        out.extend(self.starts.iter().filter(|(p, _)| s.starts_with(p.as_str())).map(|(_, j)| *j));
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// For each operation of `ops` (positions in `ops`), the positions of the operations that
/// could have written the value it observed: an observer may only be kept with all of them.
/// For kv, those are the put and appends of every way the result splits into them (when the
/// appended strings are prefix-free, else every one it contains).
pub fn needs(model: &ModelSpec, ops: &[&Operation]) -> Vec<Vec<usize>> {
    let mut by_key: FxHashMap<Option<&str>, Writers> = FxHashMap::default();
    ops.iter()
        .enumerate()
        .map(|(i, o)| match seen(model, o) {
            Some(s) => {
                let key = o.key.as_deref();
                let w = by_key.entry(key).or_insert_with(|| Writers::build(model, ops, key));
                w.of(&s).into_iter().filter(|&j| j != i).collect()
            }
            None => Vec::new(),
        })
        .collect()
}

/// The sub-history of `history` made of the operations `ids` (ascending), renumbered, with
/// every nemesis event.
pub fn sub_history(history: &History, ids: &[usize]) -> History {
    let ops = ids
        .iter()
        .filter_map(|&id| history.ops.get(id))
        .enumerate()
        .map(|(i, o)| Operation { id: i, ..o.clone() })
        .collect();
    History { ops, nemesis: history.nemesis.clone() }
}

/// The search over one key: the kept set and the closure rule.
struct Search<'a> {
    model: &'a ModelSpec,
    history: &'a History,
    opts: CheckOptions,
    /// The key's operations (history ids, ascending).
    ids: Vec<usize>,
    /// `users[j]`: positions of the observers that need position `j`.
    users: Vec<Vec<usize>>,
    deadline: Instant,
    checks: usize,
}

impl Search<'_> {
    /// `keep` minus `drop`, closed: an observer that needs a dropped op is dropped too.
    fn without(&self, keep: &[bool], drop: &[usize]) -> Vec<bool> {
        let mut k = keep.to_vec();
        let mut stack: Vec<usize> = drop.iter().copied().filter(|&j| k[j]).collect();
        for &j in &stack {
            k[j] = false;
        }
        while let Some(j) = stack.pop() {
            for &u in &self.users[j] {
                if k[u] {
                    k[u] = false;
                    stack.push(u);
                }
            }
        }
        k
    }

    fn kept_ids(&self, keep: &[bool]) -> Vec<usize> {
        (0..self.ids.len()).filter(|&j| keep[j]).map(|j| self.ids[j]).collect()
    }

    /// Whether the kept operations are still illegal (undecided counts as no).
    fn illegal(&mut self, keep: &[bool]) -> Result<bool, CheckError> {
        if !keep.iter().any(|&k| k) {
            return Ok(false);
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        self.checks += 1;
        let h = sub_history(self.history, &self.kept_ids(keep));
        let opts = CheckOptions { time_limit: Some(left), ..self.opts.clone() };
        Ok(check(&h, self.model, &opts)?.verdict == Verdict::Illegal)
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Greedy delta debugging: chunks of halving size, then single ops until a fixpoint.
    /// Returns the kept set and whether the fixpoint was reached.
    fn run(
        &mut self,
        mut keep: Vec<bool>,
        tail_from: Option<u64>,
    ) -> Result<(Vec<bool>, bool), CheckError> {
        // First guess: nothing invoked after the anomaly's completion is needed.
        if let Some(t) = tail_from {
            let late: Vec<usize> = (0..self.ids.len())
                .filter(|&j| keep[j] && self.history.ops[self.ids[j]].call > t)
                .collect();
            if !late.is_empty() {
                let k = self.without(&keep, &late);
                if self.illegal(&k)? {
                    keep = k;
                }
            }
        }
        let mut chunk = keep.iter().filter(|&&k| k).count() / 2;
        while chunk > 1 {
            let kept: Vec<usize> = (0..keep.len()).filter(|&j| keep[j]).collect();
            for part in kept.chunks(chunk) {
                if self.out_of_time() {
                    return Ok((keep, false));
                }
                if part.iter().all(|&j| !keep[j]) {
                    continue;
                }
                let k = self.without(&keep, part);
                if self.illegal(&k)? {
                    keep = k;
                }
            }
            chunk /= 2;
        }
        loop {
            let mut changed = false;
            // Latest first: later operations are more often irrelevant to the anomaly.
            for j in (0..keep.len()).rev() {
                if !keep[j] {
                    continue;
                }
                if self.out_of_time() {
                    return Ok((keep, false));
                }
                let k = self.without(&keep, &[j]);
                if self.illegal(&k)? {
                    keep = k;
                    changed = true;
                }
            }
            if !changed {
                return Ok((keep, true));
            }
        }
    }
}

/// Shrinks every illegal key of `result` (the check of `history` under `model` with `opts`)
/// within `budget` in all. Keys are taken in the result's order; a key the budget leaves no
/// time for is not shrunk.
///
/// # Errors
/// [`CheckError`] from a check of a sub-history (an operation that does not fit the model,
/// which the full check would have reported first).
pub fn shrink(
    history: &History,
    model: &ModelSpec,
    result: &CheckResult,
    opts: &CheckOptions,
    budget: Duration,
) -> Result<Vec<Shrunk>, CheckError> {
    let started = Instant::now();
    let deadline = started + budget;
    let mut out = Vec::new();
    for kr in result.keys.iter().filter(|k| k.verdict == Verdict::Illegal) {
        if Instant::now() >= deadline {
            break;
        }
        let key_started = Instant::now();
        let ops: Vec<&Operation> =
            history.ops.iter().filter(|o| !opts.partition || o.key == kr.key).collect();
        let before = ops.len();
        let need = needs(model, &ops);
        let mut users = vec![Vec::new(); ops.len()];
        for (u, ws) in need.iter().enumerate() {
            for &w in ws {
                users[w].push(u);
            }
        }
        let mut search = Search {
            model,
            history,
            opts: CheckOptions {
                all_keys: false,
                witness: false,
                threads: 1,
                cancel: None,
                ..opts.clone()
            },
            ids: ops.iter().map(|o| o.id).collect(),
            users,
            deadline,
            checks: 0,
        };
        // Failed operations constrain nothing (the models leave them out), unless a cas
        // failure reports a compare mismatch.
        let keep: Vec<bool> = ops
            .iter()
            .map(|o| o.outcome != Outcome::Fail || crate::models::is_mismatch(o))
            .collect();
        if !search.illegal(&keep)? {
            continue;
        }
        let tail_from = kr
            .counterexample
            .as_ref()
            .and_then(|c| c.blocking)
            .and_then(|b| history.ops.get(b))
            .and_then(|b| b.ret);
        let (keep, minimal) = search.run(keep, tail_from)?;
        let ids = search.kept_ids(&keep);
        let sub = sub_history(history, &ids);
        // The re-check, without the budget: it is one check of a small history.
        let recheck = CheckOptions { time_limit: None, ..search.opts.clone() };
        let checked = check(&sub, model, &recheck)?;
        search.checks += 1;
        if checked.verdict != Verdict::Illegal {
            tracing::warn!(key = ?kr.key, "the shrunk history re-checked as {}", checked.verdict);
            continue;
        }
        out.push(Shrunk {
            key: kr.key.clone(),
            before,
            ids,
            history: sub,
            result: checked,
            minimal,
            checks: search.checks,
            micros: key_started.elapsed().as_micros() as u64,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Against brute force on small random histories: the shrunk history is illegal, a
    //! sub-history of one key, closed under `needs`, and 1-minimal.

    use super::*;
    use crate::brute::tests::{history, Kind};
    use crate::brute::Rng;
    use crate::formats::jsonl::parse_str;

    fn opts() -> CheckOptions {
        CheckOptions { threads: 1, ..CheckOptions::default() }
    }

    /// Checks every property of `s`, a shrink of `h` under `kind`; `brute` is the oracle.
    fn assert_minimal(kind: Kind, h: &History, s: &Shrunk) {
        let model = kind.spec();
        assert!(!kind.brute(&s.history), "still illegal: {:#?}", s.history.ops);
        assert!(s.ids.windows(2).all(|w| w[0] < w[1]), "ascending ids");
        for (i, &id) in s.ids.iter().enumerate() {
            let (a, b) = (&s.history.ops[i], &h.ops[id]);
            assert_eq!(
                (a.id, &a.f, &a.key, &a.input, &a.output),
                (i, &b.f, &b.key, &b.input, &b.output)
            );
            assert_eq!(a.key, s.key, "one key");
        }
        let ops: Vec<&Operation> = s.history.ops.iter().collect();
        let need = needs(&model, &ops);
        // Closed under needs against the full key: an observer's writers are all kept.
        let full: Vec<&Operation> = h.ops.iter().filter(|o| o.key == s.key).collect();
        let full_need = needs(&model, &full);
        for (p, o) in full.iter().enumerate() {
            if s.ids.contains(&o.id) {
                for &w in &full_need[p] {
                    assert!(
                        s.ids.contains(&full[w].id),
                        "op {} kept without writer {}",
                        o.id,
                        full[w].id
                    );
                }
            }
        }
        // 1-minimal: an op no kept observer needs cannot go.
        for j in 0..ops.len() {
            if need.iter().any(|ws| ws.contains(&j)) {
                continue;
            }
            let rest: Vec<usize> = (0..ops.len()).filter(|&i| i != j).collect();
            let smaller = sub_history(&s.history, &rest);
            assert!(
                smaller.ops.is_empty() || kind.brute(&smaller),
                "dropping op {j} keeps it illegal: {:#?}",
                s.history.ops
            );
        }
    }

    #[test]
    fn shrunk_histories_are_illegal_closed_and_one_minimal() {
        let mut shrunk = [0usize; 3];
        for seed in 0..3000u64 {
            let mut rng = Rng(seed ^ 0x5EED);
            let kind = [Kind::Register, Kind::CasRegister, Kind::Kv][(seed % 3) as usize];
            let n = 2 + rng.below(7) as usize;
            let procs = 1 + rng.below(4);
            let keys = 1 + rng.below(2);
            let h = history(seed, kind, n, procs, keys, false);
            if kind.brute(&h) {
                continue;
            }
            let r = check(&h, &kind.spec(), &opts()).unwrap();
            assert_eq!(r.verdict, Verdict::Illegal, "seed {seed}");
            let out = shrink(&h, &kind.spec(), &r, &opts(), Duration::from_secs(30)).unwrap();
            assert!(!out.is_empty(), "seed {seed}: nothing shrunk: {:#?}", h.ops);
            for s in &out {
                assert!(s.minimal, "seed {seed}: the budget ran out");
                assert!(s.ids.len() <= s.before);
                assert_minimal(kind, &h, s);
                shrunk[(seed % 3) as usize] += 1;
            }
        }
        assert!(shrunk.iter().all(|&n| n > 100), "{shrunk:?}");
    }

    #[test]
    fn a_stale_read_keeps_the_write_it_saw_and_the_one_it_missed() {
        // write 1, write 2 (completed), read 1: the read alone proves nothing; the write of 1
        // it needs and the write of 2 it missed are kept, the unrelated ops go.
        let h = parse_str(
            r#"{"index":0,"type":"invoke","process":0,"f":"write","value":1,"time":0}
{"index":1,"type":"ok","process":0,"f":"write","value":1,"time":10}
{"index":2,"type":"invoke","process":0,"f":"write","value":2,"time":20}
{"index":3,"type":"ok","process":0,"f":"write","value":2,"time":30}
{"index":4,"type":"invoke","process":2,"f":"read","value":null,"time":31}
{"index":5,"type":"ok","process":2,"f":"read","value":2,"time":32}
{"index":6,"type":"invoke","process":1,"f":"read","value":null,"time":40}
{"index":7,"type":"ok","process":1,"f":"read","value":1,"time":50}
{"index":8,"type":"invoke","process":0,"f":"write","value":3,"time":60}
{"index":9,"type":"ok","process":0,"f":"write","value":3,"time":70}
"#,
        )
        .unwrap();
        let model = ModelSpec::Register { initial: None };
        let r = check(&h, &model, &opts()).unwrap();
        let out = shrink(&h, &model, &r, &opts(), DEFAULT_BUDGET).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ids, vec![0, 1, 3], "{:#?}", out[0].history.ops);
        assert!(out[0].minimal);
        assert_minimal(Kind::Register, &h, &out[0]);
    }

    #[test]
    fn events_read_back_as_the_same_history() {
        let h = history(7, Kind::CasRegister, 8, 3, 2, false);
        let text: Vec<String> =
            h.to_events().iter().map(|e| serde_json::to_string(e).unwrap()).collect();
        let back = parse_str(&text.join("\n")).unwrap();
        assert_eq!(back.ops.len(), h.ops.len());
        for (a, b) in back.ops.iter().zip(&h.ops) {
            assert_eq!(
                (a.id, &a.f, &a.key, &a.input, &a.output, a.outcome, a.call, a.ret),
                (b.id, &b.f, &b.key, &b.input, &b.output, b.outcome, b.call, b.ret)
            );
        }
    }
}
