//! `kv` keys with only gets and appends, every appended string distinct (Elle's list-append
//! idea on the Get/Put/Append store): decided in O(n log n) plus the size of the results.
//!
//! ```text
//!  convert (Kv's own) ─▶ only get/append, appended strings non-empty, distinct, and no one a
//!        │               prefix of another (so a result splits into appends one way only)
//!        ▼
//!  the longest get S ─split─▶ s1 s2 … sm: the order of the first m appends
//!        ▼  every other get must be a prefix of S ending between two appends: k of them
//!  stages: gets with 0 │ s1 │ gets with 1 │ s2 │ … │ sm │ gets with m │ ok appends not in S
//!        ▼
//!  stages::run ─▶ the order, or an op that completed before one it must follow was invoked
//! ```
//!
//! Exact: a get returns the concatenation of the appends before it, so in any valid order the
//! gets' results are prefixes of one another, `S` fixes the order of the appends it shows, the
//! gets with `k` appends sit between `s_k` and `s_k+1`, and an append no get shows comes after
//! every get. An `info` append that `S` shows must have happened (kept, no deadline); one that
//! no get shows is left out (no get can tell). Within those constraints the only freedom left
//! is the order inside a stage, which [`stages::run`] handles exactly.

use rustc_hash::FxHashMap;

use crate::error::CheckError;
use crate::history::Operation;
use crate::model::convert;
use crate::model::Model;
use crate::models::kv::{KvInput, KvOutput, KvState};
use crate::models::Kv;
use crate::unique::stages::{self, Slot};
use crate::unique::{counterexample, not_unique, who, Decision, Uniqueness};

/// One converted operation: a get (with its result) or an append.
struct Item<'h> {
    op: &'h Operation,
    input: KvInput,
    output: Option<KvOutput>,
}

impl Item<'_> {
    fn slot(&self, item: u32) -> Slot {
        let ret = if self.output.is_some() { self.op.ret.unwrap_or(u64::MAX) } else { u64::MAX };
        Slot { item, call: self.op.call, ret }
    }

    fn got(&self) -> Option<&str> {
        match &self.output {
            Some(KvOutput::Get(s)) => Some(s),
            _ => None,
        }
    }
}

/// Decides one key, or `Ok(None)` when the key does not qualify (WGL decides it).
///
/// # Errors
/// An operation that does not fit the model; under [`Uniqueness::Require`], a string appended
/// twice (or an empty one).
pub fn check(
    ops: &[&Operation],
    uniqueness: Uniqueness,
    witness: bool,
) -> Result<Option<Decision>, CheckError> {
    if uniqueness == Uniqueness::Off {
        return Ok(None);
    }
    let mut items = Vec::with_capacity(ops.len());
    for op in ops {
        match convert(&Kv, op)? {
            Some((input @ (KvInput::Get | KvInput::Append(_)), output)) => {
                items.push(Item { op, input, output })
            }
            Some(_) => return Ok(None), // put, delete, cas: WGL decides
            None => {}
        }
    }
    // Appended strings: distinct, non-empty, prefix-free.
    let mut appended: FxHashMap<&[u8], u32> = FxHashMap::default();
    for (i, it) in items.iter().enumerate() {
        let KvInput::Append(x) = &it.input else { continue };
        let dup = appended.insert(x.as_bytes(), i as u32);
        if x.is_empty() || dup.is_some() {
            if uniqueness == Uniqueness::Require {
                let first = dup.map_or(it.op, |d| items[d as usize].op);
                return Err(not_unique(it.op, first, &format!("{x:?}")));
            }
            return Ok(None);
        }
    }
    let mut sorted: Vec<&[u8]> = appended.keys().copied().collect();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[1].starts_with(w[0])) {
        return Ok(None); // a result could split into appends two ways: WGL decides
    }
    let mut lengths: Vec<usize> = sorted.iter().map(|s| s.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();

    // The longest get, split into appends.
    let gets: Vec<u32> =
        (0..items.len() as u32).filter(|&i| items[i as usize].got().is_some()).collect();
    let longest = gets.iter().copied().max_by_key(|&g| items[g as usize].got().map_or(0, str::len));
    let s: &[u8] = longest.and_then(|g| items[g as usize].got()).unwrap_or("").as_bytes();
    let mut order: Vec<u32> = Vec::new();
    let mut ends: Vec<usize> = vec![0];
    let mut in_s = vec![false; items.len()];
    while let Some(&at) = ends.last() {
        if at == s.len() {
            break;
        }
        let found = lengths
            .iter()
            .take_while(|&&l| at + l <= s.len())
            .find_map(|&l| appended.get(&s[at..at + l]).map(|&a| (a, l)));
        // Invariant: `longest` is Some whenever `s` is non-empty.
        let g = longest.unwrap_or_else(|| unreachable!("s is a get's result"));
        match found {
            None => return Ok(Some(not_appends(&items, g, at))),
            Some((a, _)) if in_s[a as usize] => return Ok(Some(twice(&items, g, a))),
            Some((a, l)) => {
                in_s[a as usize] = true;
                order.push(a);
                ends.push(at + l);
            }
        }
    }
    // Every get: how many of S's appends it shows.
    let mut by_count: Vec<Vec<Slot>> = vec![Vec::new(); order.len() + 1];
    for &g in &gets {
        let r = items[g as usize].got().unwrap_or("").as_bytes();
        match (s.starts_with(r), ends.binary_search(&r.len())) {
            (true, Ok(k)) => by_count[k].push(items[g as usize].slot(g)),
            // Invariant: gets are non-empty when a get exists, and `longest` is one.
            _ => return Ok(Some(diverge(&items, longest.unwrap_or(g), g))),
        }
    }
    let tail: Vec<Slot> = (0..items.len() as u32)
        .filter(|&i| {
            let it = &items[i as usize];
            matches!(it.input, KvInput::Append(_)) && !in_s[i as usize] && it.output.is_some()
        })
        .map(|i| items[i as usize].slot(i))
        .collect();
    let mut stages_of: Vec<Vec<Slot>> = Vec::with_capacity(order.len() * 2 + 2);
    stages_of.push(std::mem::take(&mut by_count[0]));
    for (k, &a) in order.iter().enumerate() {
        stages_of.push(vec![items[a as usize].slot(a)]);
        stages_of.push(std::mem::take(&mut by_count[k + 1]));
    }
    stages_of.push(tail);
    stages_of.retain(|st| !st.is_empty());
    let linear = |upto: Option<usize>| -> Vec<usize> {
        let mut out = Vec::new();
        for st in &stages_of {
            let mut st = st.clone();
            st.sort_by_key(|x| x.call);
            for x in st {
                let id = items[x.item as usize].op.id;
                if Some(id) == upto {
                    return out;
                }
                out.push(id);
            }
        }
        out
    };
    match stages::run(stages_of.iter().map(Vec::as_slice)) {
        Ok(_) => Ok(Some(Decision::Linearizable(if witness { linear(None) } else { Vec::new() }))),
        Err(late) => {
            let prefix = linear(Some(items[late.op.item as usize].op.id));
            // Appends of S in the stages before the late op's.
            let shown = stages_of
                .iter()
                .take_while(|st| st.iter().all(|x| x.item != late.op.item))
                .flatten()
                .filter(|x| in_s[x.item as usize])
                .count();
            let state = String::from_utf8_lossy(&s[..ends[shown]]).into_owned();
            Ok(Some(late_op(&items, &in_s, late, prefix, state)))
        }
    }
}

fn words(it: &Item) -> String {
    who(it.op, &Kv.describe_op(&it.input, it.output.as_ref()))
}

fn not_appends(items: &[Item], g: u32, at: usize) -> Decision {
    let it = &items[g as usize];
    let text = format!(
        "{} returned a value that is not a sequence of appended strings (from byte {at} on, no \
         append of this key matches), so no order of the appends produces it.",
        words(it)
    );
    let reason = "its result is not made of this key's appends".to_string();
    Decision::Illegal(counterexample(
        Vec::new(),
        "\"\"".into(),
        vec![(it.op.id, reason)],
        it.op.id,
        text,
    ))
}

fn twice(items: &[Item], g: u32, a: u32) -> Decision {
    let (it, ap) = (&items[g as usize], &items[a as usize]);
    let text =
        format!("{} shows the string of {} twice, but it was appended once.", words(it), words(ap));
    Decision::Illegal(counterexample(
        Vec::new(),
        "\"\"".into(),
        vec![(it.op.id, "shows one append twice".into()), (ap.op.id, "appended once".into())],
        it.op.id,
        text,
    ))
}

fn diverge(items: &[Item], longest: u32, g: u32) -> Decision {
    let (l, it) = (&items[longest as usize], &items[g as usize]);
    let text = format!(
        "{} and {} returned values neither of which extends the other: appends only add to \
         the end, so every get returns a prefix of any later one.",
        words(it),
        words(l)
    );
    let reason = "its result is not a prefix of the longest get's".to_string();
    Decision::Illegal(counterexample(
        Vec::new(),
        "\"\"".into(),
        vec![(it.op.id, reason), (l.op.id, "the longest result".into())],
        it.op.id,
        text,
    ))
}

fn late_op(
    items: &[Item],
    in_s: &[bool],
    late: stages::Late,
    prefix: Vec<usize>,
    state: String,
) -> Decision {
    let (o, q) = (&items[late.op.item as usize], &items[late.after.item as usize]);
    let (oi, qi) = (late.op.item as usize, late.after.item as usize);
    let why = match (&o.input, &q.input) {
        (KvInput::Get, KvInput::Append(_)) => "its result contains that append".to_string(),
        (KvInput::Get, KvInput::Get) => "its result extends that get's".to_string(),
        (KvInput::Append(_), KvInput::Get) if in_s[oi] => {
            "that get's result does not contain this append, though a later one does".to_string()
        }
        (KvInput::Append(_), KvInput::Append(_)) if in_s[oi] && in_s[qi] => {
            "the longest get lists that append before this one".to_string()
        }
        _ => "no get's result contains this append, so it took effect after every get and \
              every append they show"
            .to_string(),
    };
    let text = format!(
        "{} must take effect after {}, because {why}; but it completed before that operation \
         was invoked.",
        words(o),
        words(q),
    );
    Decision::Illegal(counterexample(
        prefix,
        Kv.describe_state(&KvState::Value(state)),
        vec![
            (
                o.op.id,
                format!(
                    "completed before {} was invoked",
                    Kv.describe_op(&q.input, q.output.as_ref())
                ),
            ),
            (q.op.id, "must take effect first".into()),
        ],
        o.op.id,
        text,
    ))
}
