//! The violation in words: one story per illegal key, built from the counterexample and the
//! history, for every model (register, cas-register, kv with gets, puts and appends).
//!
//! ```text
//!  KeyResult.counterexample { blocking, stuck } + History.ops of the key
//!     ──▶ an observer (a read or get with its result, a cas that succeeded): what it saw
//!     ──▶ where that value came from (register: the writes of it; kv: the result split into
//!         a put's value and appended strings)
//!     ──▶ the first certain contradiction:
//!           unwritten  no operation could have produced (a part of) it
//!           future     only operations invoked after the observer completed could have
//!           missed     a write completed before the observer began, and what it saw does
//!                      not show it (nor could anything have replaced it in between)
//!           reordered  (kv) two appends shown in the opposite order of real time
//!     ──▶ Explanation { text, related (op, role) for the timeline, window for the faults }
//! ```
//! Every pattern is a proof on its own (it fires only when the contradiction is certain), so
//! any observer of the key may carry the story; those the checker got stuck on are tried
//! first. When none fits, the paragraph falls back to the checker's dead end: the prefix, the
//! state after it and the model's reason for each stuck operation.

use faultline_checker::{Counterexample, History, KeyResult, Operation, Outcome};
use serde_json::Value;

use crate::nemesis::Interval;

/// A time in the history, for people: `1.234567 s`, `12.345 ms`, `5.1 µs`, `517 µs` or
/// `17 ns` (no trailing zeros: `517.000 µs` reads as a measurement to the nanosecond).
pub fn fmt_time(ns: u64) -> String {
    let (value, digits, unit) = if ns >= 1_000_000_000 {
        (ns as f64 / 1e9, 6, "s")
    } else if ns >= 1_000_000 {
        (ns as f64 / 1e6, 3, "ms")
    } else if ns >= 1_000 {
        (ns as f64 / 1e3, 3, "µs")
    } else {
        return format!("{ns} ns");
    };
    let fixed = format!("{value:.digits$}");
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    format!("{trimmed} {unit}")
}

/// Operations an explanation names, with their role (`wrote 3`, `missed by the get`), so the
/// timeline can outline them.
pub type Related = Vec<(usize, String)>;

/// An explanation: the paragraph, the operations it names and when they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// One paragraph in words.
    pub text: String,
    /// Operations named (the observer included), with their role, for the timeline.
    pub related: Related,
    /// From the earliest invoke to the latest completion among the operations named (for
    /// the faults active then); `None` when the story names none.
    pub window: Option<(u64, u64)>,
}

/// How a model's values are read: integers (registers) or strings built by appends (kv).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Register,
    Kv,
}

/// How the story shows values and operations: the model's kind of value, and the ids the
/// reader knows the operations by (a shrunk history's operations by their ids in the full one).
#[derive(Debug, Clone, Copy)]
struct Values<'a> {
    kind: Kind,
    ids: Option<&'a [usize]>,
}

impl<'a> Values<'a> {
    fn of(ops: &[&Operation], ids: Option<&'a [usize]>) -> Values<'a> {
        let kv = ops.iter().any(|o| matches!(o.f.as_str(), "get" | "put" | "append" | "delete"));
        let kind = if kv { Kind::Kv } else { Kind::Register };
        Values { kind, ids }
    }

    /// The id `op` is shown with.
    fn id(self, op: &Operation) -> usize {
        self.ids.and_then(|ids| ids.get(op.id).copied()).unwrap_or(op.id)
    }

    /// A value for people: `3`, `nothing` (a register's null), `"7,8,"` (a kv string, the
    /// end kept when long: that is where appends land).
    fn show(self, v: &Value) -> String {
        match (self.kind, v) {
            (Kind::Register, Value::Null) => "nothing".to_string(),
            (Kind::Kv, v) => {
                let s = kv_string(v);
                let n = s.chars().count();
                if n > 48 {
                    let tail: String = s.chars().skip(n - 40).collect();
                    format!("\"…{tail}\" ({n} characters)")
                } else {
                    format!("{s:?}")
                }
            }
            (_, other) => other.to_string(),
        }
    }
}

fn kv_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn is_read(op: &Operation) -> bool {
    matches!(op.f.as_str(), "read" | "get")
}

/// The value `op` writes (or appends), if it may have taken effect.
fn written(op: &Operation) -> Option<&Value> {
    if op.outcome == Outcome::Fail {
        return None;
    }
    match op.f.as_str() {
        "write" | "put" | "append" => Some(&op.input),
        "cas" => op.input.as_array().and_then(|a| a.get(1)),
        _ => None,
    }
}

/// Whether `op` replaces the whole value (a write, put, delete or cas) and may have taken
/// effect.
fn resets(op: &Operation) -> bool {
    op.outcome != Outcome::Fail && matches!(op.f.as_str(), "write" | "put" | "delete" | "cas")
}

/// Whether a failed cas reports that it compared and found another value.
fn mismatch(op: &Operation) -> bool {
    matches!(op.error.as_deref(), Some("cas-mismatch" | "mismatch"))
}

/// What `op` observed: the value a read returned, the value a successful cas expected, or the
/// value a cas that compared and failed did not find (`found no`).
fn observed(op: &Operation) -> Option<(&'static str, &Value)> {
    if op.f == "cas" && op.outcome == Outcome::Fail && mismatch(op) {
        return op.input.as_array().and_then(|a| a.first()).map(|e| ("found no", e));
    }
    if op.outcome != Outcome::Ok || op.error.as_deref() == Some("value-unknown") {
        return None;
    }
    if is_read(op) {
        return Some(("returned", &op.output));
    }
    if op.f == "cas" {
        return op.input.as_array().and_then(|a| a.first()).map(|e| ("expected", e));
    }
    None
}

/// The operation for people: `get of key k`, `append of "11," to key k`, `write of 3`,
/// `cas of key k from 1 to 2`.
fn act(values: Values<'_>, op: &Operation) -> String {
    let of = op.key.as_deref().map(|k| format!(" of key {k}")).unwrap_or_default();
    let to = op.key.as_deref().map(|k| format!(" to key {k}")).unwrap_or_default();
    match op.f.as_str() {
        "cas" => match op.input.as_array().map(Vec::as_slice) {
            Some([e, n]) => format!("cas{of} from {} to {}", values.show(e), values.show(n)),
            _ => format!("cas{of}"),
        },
        f if is_read(op) || f == "delete" => format!("{f}{of}"),
        f => format!("{f} of {}{to}", values.show(&op.input)),
    }
}

/// Who and how: `op 12, client 2, ok via n2 (term 3), completed at 11.9 s`.
fn via(values: Values<'_>, op: &Operation) -> String {
    let end = match (op.outcome, op.ret) {
        (Outcome::Ok, Some(r)) => match op.served() {
            Some(by) => format!("ok via {by}, completed at {}", fmt_time(r)),
            None => format!("ok, completed at {}", fmt_time(r)),
        },
        (Outcome::Fail, _) => "failed".to_string(),
        (Outcome::Unknown, _) => format!("outcome unknown, invoked at {}", fmt_time(op.call)),
        (Outcome::Ok, None) => "ok".to_string(),
    };
    format!("op {}, client {}, {end}", values.id(op), op.process)
}

/// A named operation: `the append of "11," to key k (op 12, client 2, ok via n2, …)`.
fn named(values: Values<'_>, op: &Operation) -> String {
    format!("the {} ({})", act(values, op), via(values, op))
}

/// The observer's opening: `The get of key k by client 4, answered by n3 (op 17), returned
/// "7,8,9,10," at 12.3 s`.
fn head(values: Values<'_>, b: &Operation, verb: &str, v: &Value) -> String {
    let by = match b.served() {
        Some(n) => format!("by client {}, answered by {n} (op {}),", b.process, values.id(b)),
        None => format!("by client {} (op {})", b.process, values.id(b)),
    };
    let at = fmt_time(b.ret.unwrap_or(b.call));
    if verb == "returned" {
        format!("The {} {by} returned {} at {at}", act(values, b), values.show(v))
    } else if verb == "found no" {
        format!(
            "The {} {by} failed at {at}: it found the value was not {}",
            act(values, b),
            values.show(v)
        )
    } else {
        format!(
            "The {} {by} succeeded at {at}, so the value was {} when it took effect",
            act(values, b),
            values.show(v)
        )
    }
}

/// A story: its words and the operations it names.
type Story = (String, Related);

/// The story of an observer `b` that saw `v`, if one of the patterns fits.
fn story(
    values: Values<'_>,
    ops: &[&Operation],
    b: &Operation,
    verb: &str,
    v: &Value,
) -> Option<Story> {
    let head = head(values, b, verb, v);
    let observer = |role: &str| (b.id, role.to_string());
    if b.outcome == Outcome::Fail && values.kind == Kind::Kv {
        return None;
    }
    match values.kind {
        Kind::Register => register_story(values, ops, b, v, head, observer),
        Kind::Kv => kv_story(values, ops, b, &kv_string(v), head, observer),
    }
}

fn register_story(
    values: Values<'_>,
    ops: &[&Operation],
    b: &Operation,
    v: &Value,
    head: String,
    observer: impl Fn(&str) -> (usize, String),
) -> Option<Story> {
    let b_ret = b.ret.unwrap_or(b.call);
    let shown = values.show(v);
    if b.outcome == Outcome::Fail {
        // A cas that found another value, though a write of its expected value had completed
        // before it began and nothing else could have taken effect since.
        let other = |w: &Operation| {
            ops.iter().any(|x| {
                x.id != w.id
                    && x.id != b.id
                    && written(x).is_some_and(|u| u != v)
                    && x.deadline() >= w.call
                    && x.call <= b_ret
            })
        };
        let w = ops
            .iter()
            .filter(|w| w.outcome == Outcome::Ok && w.id != b.id && written(w) == Some(v))
            .filter(|w| w.ret.is_some_and(|r| r < b.call) && !other(w))
            .max_by_key(|w| w.ret)?;
        let text = format!(
            "{head}, but {} had completed before this cas began at {}, and no operation that \
             writes another value could have taken effect in between.",
            named(values, w),
            fmt_time(b.call),
        );
        return Some((
            text,
            vec![observer(&format!("found no {shown}")), (w.id, format!("wrote {shown}; missed"))],
        ));
    }
    if v.is_null() {
        // Nothing, though a write had certainly completed before the read began.
        let w = ops
            .iter()
            .filter(|o| o.outcome == Outcome::Ok && written(o).is_some())
            .filter(|o| o.ret.is_some_and(|r| r < b.call))
            .max_by_key(|o| o.ret)?;
        let text = format!(
            "{head}, but {} had completed before this {} began at {}.",
            named(values, w),
            b.f,
            fmt_time(b.call),
        );
        let wrote = values.show(&w.input);
        return Some((
            text,
            vec![observer("saw nothing"), (w.id, format!("wrote {wrote} before"))],
        ));
    }
    let writers: Vec<&&Operation> =
        ops.iter().filter(|o| o.id != b.id && written(o) == Some(v)).collect();
    if writers.is_empty() {
        let text = format!("{head}, but no operation ever wrote {shown}.");
        return Some((text, vec![observer(&format!("saw {shown}, never written"))]));
    }
    if writers.iter().all(|w| w.call > b_ret) {
        let w = writers.iter().min_by_key(|w| w.call)?;
        let text = format!(
            "{head}, but the only write of {shown}, {}, began at {}, after this {} had completed.",
            named(values, w),
            fmt_time(w.call),
            b.f,
        );
        return Some((
            text,
            vec![
                observer(&format!("saw {shown} too early")),
                (w.id, format!("wrote {shown} later")),
            ],
        ));
    }
    // Stale: every write of v that could precede b is followed by an overwrite that completed
    // before b began.
    let mut best: Option<(&Operation, &Operation)> = None;
    for w in writers.iter().filter(|w| w.call <= b_ret) {
        let w_ret = match (w.outcome, w.ret) {
            (Outcome::Ok, Some(r)) => r,
            // An unknown write may take effect at any time: it cannot be shown overwritten.
            _ => return None,
        };
        let over = ops
            .iter()
            .filter(|x| x.outcome == Outcome::Ok && x.id != b.id)
            .filter(|x| written(x).is_some_and(|u| u != v))
            .filter(|x| x.call > w_ret && x.ret.is_some_and(|r| r < b.call))
            .max_by_key(|x| x.ret)?;
        if best.is_none_or(|(bw, _)| w.call > bw.call) {
            best = Some((w, over));
        }
    }
    let (w, x) = best?;
    let new = values.show(written(x).unwrap_or(&Value::Null));
    let text = format!(
        "{head}, but {shown} was written by {} and then overwritten by {}, which had completed \
         before this {} began at {}.",
        named(values, w),
        named(values, x),
        b.f,
        fmt_time(b.call),
    );
    let related = vec![
        observer(&format!("saw {shown}, stale")),
        (w.id, format!("wrote {shown}")),
        (x.id, format!("overwrote it with {new}; missed")),
    ];
    Some((text, related))
}

/// The operations whose effects make up a kv result, in order: an optional put (or cas) at
/// the start, then appends. `Err(at)`: no split; `at` is the furthest character reached.
fn split_kv<'h>(s: &str, ops: &[&'h Operation]) -> Result<Vec<&'h Operation>, usize> {
    let piece = |o: &Operation| written(o).map(kv_string).unwrap_or_default();
    let appends: Vec<&Operation> = ops
        .iter()
        .copied()
        .filter(|o| o.f == "append" && written(o).is_some() && !piece(o).is_empty())
        .collect();
    let starts: Vec<&Operation> = ops
        .iter()
        .copied()
        .filter(|o| o.f != "append" && !piece(o).is_empty() && s.starts_with(piece(o).as_str()))
        .collect();
    let mut furthest = 0usize;
    let mut steps = 0u32;
    #[allow(clippy::too_many_arguments)]
    fn dfs<'h>(
        s: &str,
        at: usize,
        appends: &[&'h Operation],
        used: &mut Vec<&'h Operation>,
        furthest: &mut usize,
        steps: &mut u32,
        piece: &dyn Fn(&Operation) -> String,
    ) -> bool {
        *furthest = (*furthest).max(at);
        if at == s.len() {
            return true;
        }
        *steps += 1;
        if *steps > 20_000 {
            return false;
        }
        let mut next: Vec<&'h Operation> = appends
            .iter()
            .copied()
            .filter(|o| {
                !used.iter().any(|u| u.id == o.id) && s[at..].starts_with(piece(o).as_str())
            })
            .collect();
        next.sort_by_key(|o| std::cmp::Reverse(piece(o).len()));
        next.dedup_by_key(|o| piece(o));
        for o in next {
            used.push(o);
            if dfs(s, at + piece(o).len(), appends, used, furthest, steps, piece) {
                return true;
            }
            used.pop();
        }
        false
    }
    let mut firsts: Vec<Option<&Operation>> = starts.into_iter().map(Some).collect();
    firsts.sort_by_key(|o| std::cmp::Reverse(o.map_or(0, |o| piece(o).len())));
    firsts.push(None);
    for first in firsts {
        let mut used: Vec<&Operation> = first.into_iter().collect();
        let at = first.map_or(0, |o| piece(o).len());
        if dfs(s, at, &appends, &mut used, &mut furthest, &mut steps, &piece) {
            return Ok(used);
        }
    }
    Err(furthest)
}

fn kv_story(
    values: Values<'_>,
    ops: &[&Operation],
    b: &Operation,
    s: &str,
    head: String,
    observer: impl Fn(&str) -> (usize, String),
) -> Option<Story> {
    let b_ret = b.ret.unwrap_or(b.call);
    let key = b.key.as_deref().map(|k| format!(" to key {k}")).unwrap_or_default();
    let piece = |o: &Operation| values.show(written(o).unwrap_or(&Value::Null));
    let parts = match split_kv(s, ops) {
        Ok(parts) => parts,
        Err(at) => {
            let rest: String = s[at..].chars().take(24).collect();
            let more = if s[at..].chars().count() > 24 { "…" } else { "" };
            let text = format!(
                "{head}, but from character {at} on (\"{rest}{more}\") it is not made of the \
                 values put and appended{key} by operations that could have taken effect: no \
                 order of them produces it."
            );
            return Some((text, vec![observer("result never written")]));
        }
    };
    if let Some(f) = parts.iter().find(|o| o.call > b_ret) {
        let text = format!(
            "{head}, which includes {}, written by {} that began at {}, after this {} had \
             completed.",
            piece(f),
            named(values, f),
            fmt_time(f.call),
            b.f
        );
        return Some((
            text,
            vec![observer("saw a later append"), (f.id, "appended later".to_string())],
        ));
    }
    // A completed write the result does not show, with nothing that could have replaced the
    // value between that write's invoke and the observer's completion.
    let replaced = |x: &Operation| {
        ops.iter().any(|y| {
            y.id != x.id && y.id != b.id && resets(y) && y.deadline() >= x.call && y.call <= b_ret
        })
    };
    let missed = ops
        .iter()
        .copied()
        .filter(|x| x.outcome == Outcome::Ok && x.id != b.id && x.ret.is_some_and(|r| r < b.call))
        .filter(|x| match x.f.as_str() {
            "append" => !parts.iter().any(|p| p.id == x.id),
            "put" => parts.first().is_none_or(|p| p.id != x.id),
            _ => false,
        })
        .filter(|x| !kv_string(written(x).unwrap_or(&Value::Null)).is_empty() && !replaced(x))
        .min_by_key(|x| x.ret);
    if let Some(x) = missed {
        let mut related =
            vec![observer("missed it"), (x.id, format!("{} {}; missed", x.f, piece(x)))];
        let last = parts.last().map(|l| {
            related.push((l.id, "last value shown".to_string()));
            format!(" (the last value it shows, {}, came from {})", piece(l), named(values, l))
        });
        let shows = if x.f == "put" { "start with its value" } else { "show it" };
        let text = format!(
            "{head}, but {} had completed before this {} began at {}, and the result does not \
             {shows}{}.",
            named(values, x),
            b.f,
            fmt_time(b.call),
            last.unwrap_or_default()
        );
        return Some((text, related));
    }
    for (i, later) in parts.iter().enumerate() {
        if let Some(earlier) = parts[i + 1..].iter().find(|e| e.ret.is_some_and(|r| r < later.call))
        {
            let text = format!(
                "{head}, in which {} comes before {}, but {} had completed before {} began at {}.",
                piece(later),
                piece(earlier),
                named(values, earlier),
                named(values, later),
                fmt_time(later.call)
            );
            return Some((
                text,
                vec![
                    observer("saw them out of order"),
                    (earlier.id, "appended first".into()),
                    (later.id, "appended second".into()),
                ],
            ));
        }
    }
    None
}

/// Most observers tried when neither the blocking op nor a stuck one carries a story.
/// Each costs a pass over the key's operations (more for register values written many
/// times), so they are the ones nearest in time to the dead end, and only on keys of at most
/// `MAX_KEY_OPS_FOR_OTHERS` operations.
const MAX_OBSERVERS: usize = 200;

/// The largest key on which observers besides the stuck ones are tried.
const MAX_KEY_OPS_FOR_OTHERS: usize = 20_000;

/// One paragraph explaining why `key` is not linearizable, the operations it names, and when
/// they ran. Empty when the key has no counterexample.
pub fn explain(history: &History, key: &KeyResult) -> Explanation {
    explain_as(history, key, None)
}

/// [`explain`] for a sub-history (a shrunk one): its operation `i` is shown as `ids[i]`, its id
/// in the full history. The related operations keep the sub-history's ids.
pub fn explain_shrunk(history: &History, key: &KeyResult, ids: &[usize]) -> Explanation {
    explain_as(history, key, Some(ids))
}

fn explain_as(history: &History, key: &KeyResult, ids: Option<&[usize]>) -> Explanation {
    let Some(cx) = &key.counterexample else {
        return Explanation::default();
    };
    let ops: Vec<&Operation> = history.ops.iter().filter(|o| o.key == key.key).collect();
    let values = Values::of(&ops, ids);
    let op = |id: usize| history.ops.get(id);
    let at = cx.blocking.and_then(op).map_or(0, |b| b.ret.unwrap_or(b.call));
    let mut others: Vec<&Operation> = if ops.len() <= MAX_KEY_OPS_FOR_OTHERS {
        ops.iter().copied().filter(|o| observed(o).is_some()).collect()
    } else {
        Vec::new()
    };
    others.sort_by_key(|o| o.ret.unwrap_or(o.call).abs_diff(at));
    others.truncate(MAX_OBSERVERS);
    let primary = cx
        .blocking
        .into_iter()
        .chain(cx.stuck.iter().map(|s| s.op))
        .filter_map(op)
        .chain(others)
        .find_map(|b| observed(b).and_then(|(verb, v)| story(values, &ops, b, verb, v)));
    let (mut text, related) =
        primary.unwrap_or_else(|| (fallback_head(values, history, cx), Vec::new()));
    let window = window(history, &related);
    text.push(' ');
    text.push_str(&context(values, history, key, cx));
    Explanation { text, related, window }
}

fn window(history: &History, related: &Related) -> Option<(u64, u64)> {
    let named = related.iter().filter_map(|(id, _)| history.ops.get(*id));
    let from = named.clone().map(|o| o.call).min()?;
    let to = named.map(|o| o.ret.unwrap_or(o.call)).max()?;
    Some((from, to))
}

/// The faults that overlapped `window` (an explanation's), in a sentence.
pub fn faults_during(faults: &[Interval], (from, to): (u64, u64)) -> String {
    let active: Vec<&str> = faults
        .iter()
        .filter(|f| !f.skipped && f.start <= to && from <= f.end)
        .map(|f| f.label.as_str())
        .collect();
    let span = format!("from {} to {}", fmt_time(from), fmt_time(to));
    if active.is_empty() {
        format!("No fault was active while these operations ran ({span}).")
    } else {
        format!("Faults active while these operations ran ({span}): {}.", active.join("; "))
    }
}

fn fallback_head(values: Values<'_>, history: &History, cx: &Counterexample) -> String {
    let b = cx.blocking.and_then(|id| history.ops.get(id));
    match b {
        Some(b) => format!(
            "The {} ({}) had to take effect before it completed, but no order of the operations \
             before it allows it.",
            act(values, b),
            via(values, b),
        ),
        None => "No order of the operations is consistent with their results.".to_string(),
    }
}

fn context(values: Values<'_>, history: &History, key: &KeyResult, cx: &Counterexample) -> String {
    let of_key = key.key.as_deref().map(|k| format!(" of key {k}")).unwrap_or_default();
    let mut s = format!(
        "The longest linearizable prefix the checker found has {} operation{}{} (the path \
         through the bars); after it the state is {}.",
        cx.prefix.len(),
        if cx.prefix.len() == 1 { "" } else { "s" },
        of_key,
        cx.state,
    );
    let reasons: Vec<String> = cx
        .stuck
        .iter()
        .filter_map(|st| history.ops.get(st.op).map(|o| (o, &st.reason)))
        .take(4)
        .map(|(o, r)| {
            format!("the {} (op {}, client {}): {}", act(values, o), values.id(o), o.process, r)
        })
        .collect();
    if !reasons.is_empty() {
        s.push_str(" None of the pending operations can go next: ");
        s.push_str(&reasons.join("; "));
        if cx.stuck.len() > reasons.len() {
            s.push_str(&format!("; and {} more", cx.stuck.len() - reasons.len()));
        }
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    //! Hand-made histories per model, checked by the real checker: the story names the
    //! operations that make the anomaly.

    use faultline_checker::{check, CheckOptions, ModelSpec, Verdict};
    use serde_json::json;

    use super::*;

    #[test]
    fn times_have_no_trailing_zeros() {
        assert_eq!(fmt_time(517_000), "517 µs");
        assert_eq!(fmt_time(5_100), "5.1 µs");
        assert_eq!(fmt_time(12_345_678), "12.346 ms");
        assert_eq!(fmt_time(6_000_000), "6 ms");
        assert_eq!(fmt_time(1_234_567_000), "1.234567 s");
        assert_eq!(fmt_time(20_000_000_000), "20 s");
        assert_eq!(fmt_time(17), "17 ns");
    }

    /// A history on key k from `(process, f, input, output, call, ret)` rows, all ok and
    /// answered by node `n<process>`; times in milliseconds.
    fn history(rows: &[(u64, &str, Value, Value, u64, u64)]) -> History {
        let mut evs: Vec<(u64, String)> = Vec::new();
        for (p, f, i, o, c, r) in rows {
            let (c, r) = (c * 1_000_000, r * 1_000_000);
            evs.push((
                c,
                format!(
                    r#""type":"invoke","process":{p},"f":"{f}","key":"k","value":{i},"time":{c}"#
                ),
            ));
            evs.push((
                r,
                format!(
                    r#""type":"ok","process":{p},"f":"{f}","key":"k","value":{o},"time":{r},"node":"n{p}""#
                ),
            ));
        }
        evs.sort_by_key(|e| e.0);
        let lines: Vec<String> =
            evs.iter().enumerate().map(|(n, (_, e))| format!(r#"{{"index":{n},{e}}}"#)).collect();
        faultline_checker::formats::jsonl::parse_str(&lines.join("\n")).unwrap()
    }

    /// Checks `h` (illegal) under `model` and explains its key.
    fn explained(h: &History, model: &str) -> Explanation {
        let r = check(h, &model.parse::<ModelSpec>().unwrap(), &CheckOptions::default()).unwrap();
        assert_eq!(r.verdict, Verdict::Illegal, "{h:#?}");
        explain(h, r.first_illegal().unwrap())
    }

    fn ids(e: &Explanation) -> Vec<usize> {
        let mut v: Vec<usize> = e.related.iter().map(|r| r.0).collect();
        v.sort_unstable();
        v
    }

    const NULL: Value = Value::Null;

    #[test]
    fn register_stale_read_names_the_write_it_saw_and_the_overwrite_it_missed() {
        let h = history(&[
            (1, "write", json!(1), json!(1), 0, 10),
            (2, "write", json!(2), json!(2), 20, 30),
            (3, "read", NULL, json!(1), 40, 50),
        ]);
        let e = explained(&h, "register");
        assert!(
            e.text.starts_with(
                "The read of key k by client 3, answered by n3 (op 2), returned 1 at 50 ms, but \
                 1 was written by the write of 1 to key k (op 0, client 1, ok via n1, completed \
                 at 10 ms) and then overwritten by the write of 2 to key k (op 1, client 2, ok \
                 via n2, completed at 30 ms), which had completed before this read began at 40 \
                 ms."
            ),
            "{}",
            e.text
        );
        assert_eq!(ids(&e), vec![0, 1, 2]);
        assert_eq!(e.window, Some((0, 50_000_000)));
    }

    #[test]
    fn register_reads_of_unwritten_future_and_nothing() {
        let h = history(&[
            (1, "write", json!(1), json!(1), 0, 10),
            (2, "read", NULL, json!(7), 20, 30),
        ]);
        let e = explained(&h, "register");
        assert!(
            e.text.contains("returned 7 at 30 ms, but no operation ever wrote 7."),
            "{}",
            e.text
        );
        assert_eq!(ids(&e), vec![1]);

        let h = history(&[
            (2, "read", NULL, json!(5), 0, 10),
            (1, "write", json!(5), json!(5), 20, 30),
        ]);
        let e = explained(&h, "register");
        assert!(e.text.contains("but the only write of 5, the write of 5 to key k (op 1, client 1, ok via n1, completed at 30 ms), began at 20 ms, after this read had completed."), "{}", e.text);
        assert_eq!(ids(&e), vec![0, 1]);

        let h =
            history(&[(1, "write", json!(3), json!(3), 0, 10), (2, "read", NULL, NULL, 20, 30)]);
        let e = explained(&h, "register");
        assert!(e.text.contains("returned nothing at 30 ms, but the write of 3 to key k (op 0, client 1, ok via n1, completed at 10 ms) had completed before this read began at 20 ms."), "{}", e.text);
        assert_eq!(ids(&e), vec![0, 1]);
    }

    #[test]
    fn cas_register_stale_cas_names_the_overwrite() {
        let h = history(&[
            (1, "write", json!(1), json!(1), 0, 10),
            (2, "write", json!(2), json!(2), 20, 30),
            (3, "cas", json!([1, 4]), json!([1, 4]), 40, 50),
        ]);
        let e = explained(&h, "cas-register");
        assert!(
            e.text.starts_with("The cas of key k from 1 to 4 by client 3, answered by n3 (op 2), succeeded at 50 ms, so the value was 1 when it took effect, but 1 was written by the write of 1 to key k (op 0, client 1, ok via n1, completed at 10 ms) and then overwritten by the write of 2 to key k (op 1, client 2, ok via n2, completed at 30 ms), which had completed before this cas began at 40 ms."),
            "{}",
            e.text
        );
        assert_eq!(ids(&e), vec![0, 1, 2]);
    }

    #[test]
    fn cas_register_cas_that_found_another_value_names_the_write_it_missed() {
        let h = faultline_checker::formats::jsonl::parse_str(
            r#"{"index":0,"type":"invoke","process":0,"f":"write","value":2,"time":0}
{"index":1,"type":"ok","process":0,"f":"write","value":2,"time":10,"node":"n1"}
{"index":2,"type":"invoke","process":1,"f":"cas","value":[2,5],"time":20}
{"index":3,"type":"fail","process":1,"f":"cas","value":[2,5],"time":30,"error":"cas-mismatch","node":"n2"}"#,
        )
        .unwrap();
        let e = explained(&h, "cas-register");
        assert!(
            e.text.starts_with(
                "The cas from 2 to 5 by client 1, answered by n2 (op 1), failed at 30 ns: it \
                 found the value was not 2, but the write of 2 (op 0, client 0, ok via n1, \
                 completed at 10 ns) had completed before this cas began at 20 ns, and no \
                 operation that writes another value could have taken effect in between."
            ),
            "{}",
            e.text
        );
        assert_eq!(ids(&e), vec![0, 1]);
    }

    /// Appends of "7," … "11," by clients 1..5, one after another, then a get by client 6.
    fn appends_then(get: &str, extra: &[(u64, &str, Value, Value, u64, u64)]) -> History {
        let mut rows: Vec<(u64, &str, Value, Value, u64, u64)> = (0..5u64)
            .map(|i| {
                let v = json!(format!("{},", 7 + i));
                (1 + i, "append", v.clone(), v, i * 10, i * 10 + 5)
            })
            .collect();
        rows.push((6, "get", NULL, json!(get), 100, 110));
        rows.extend_from_slice(extra);
        history(&rows)
    }

    #[test]
    fn append_stale_get_names_the_append_it_missed() {
        // Only gets and distinct appends: the polynomial append checker decides the key.
        let h = appends_then("7,8,9,10,", &[]);
        let e = explained(&h, "kv");
        assert!(
            e.text.starts_with(
                "The get of key k by client 6, answered by n6 (op 5), returned \"7,8,9,10,\" at \
                 110 ms, but the append of \"11,\" to key k (op 4, client 5, ok via n5, \
                 completed at 45 ms) had completed before this get began at 100 ms, and the \
                 result does not show it (the last value it shows, \"10,\", came from the \
                 append of \"10,\" to key k (op 3, client 4, ok via n4, completed at 35 ms))."
            ),
            "{}",
            e.text
        );
        assert_eq!(ids(&e), vec![3, 4, 5]);
        assert!(e.related.contains(&(4, "append \"11,\"; missed".to_string())), "{:?}", e.related);
    }

    #[test]
    fn kv_with_puts_names_the_missed_put_and_out_of_order_appends() {
        // A put makes the key one for the WGL search.
        let h = history(&[
            (1, "put", json!("x"), json!("x"), 0, 10),
            (2, "append", json!("a"), json!("a"), 20, 30),
            (3, "get", NULL, json!("x"), 40, 50),
        ]);
        let e = explained(&h, "kv");
        assert!(e.text.contains("returned \"x\" at 50 ms, but the append of \"a\" to key k (op 1, client 2, ok via n2, completed at 30 ms) had completed before this get began at 40 ms"), "{}", e.text);
        assert_eq!(ids(&e), vec![0, 1, 2]);

        let h = history(&[
            (1, "put", json!("ab"), json!("ab"), 0, 10),
            (2, "get", NULL, json!(""), 20, 30),
        ]);
        let e = explained(&h, "kv");
        assert!(e.text.contains("but the put of \"ab\" to key k (op 0, client 1, ok via n1, completed at 10 ms) had completed before this get began at 20 ms"), "{}", e.text);

        let h = history(&[
            (1, "append", json!("a"), json!("a"), 0, 10),
            (2, "append", json!("b"), json!("b"), 20, 30),
            (3, "get", NULL, json!("ba"), 40, 50),
        ]);
        let e = explained(&h, "kv");
        assert!(e.text.contains("in which \"b\" comes before \"a\", but the append of \"a\" to key k (op 0, client 1, ok via n1, completed at 10 ms) had completed before the append of \"b\""), "{}", e.text);
        assert_eq!(ids(&e), vec![0, 1, 2]);
    }

    #[test]
    fn kv_results_never_written_or_from_the_future() {
        let h = appends_then("7,8,X,", &[]);
        let e = explained(&h, "kv");
        assert!(e.text.contains("but from character 4 on (\"X,\") it is not made of the values put and appended to key k"), "{}", e.text);
        let h = history(&[
            (1, "get", NULL, json!("a"), 0, 10),
            (2, "append", json!("a"), json!("a"), 20, 30),
        ]);
        let e = explained(&h, "kv");
        assert!(e.text.contains("which includes \"a\", written by the append of \"a\" to key k (op 1, client 2, ok via n2, completed at 30 ms) that began at 20 ms, after this get had completed."), "{}", e.text);
        assert_eq!(ids(&e), vec![0, 1]);
    }

    #[test]
    fn faults_overlapping_the_story_are_named() {
        let f = |s, e, label: &str| Interval {
            start: s,
            end: e,
            kind: "partition".into(),
            label: label.into(),
            skipped: false,
            nodes: Vec::new(),
        };
        let faults = [f(0, 5, "early"), f(20, 60, "during"), f(70, 80, "late")];
        assert_eq!(
            faults_during(&faults, (10, 65)),
            "Faults active while these operations ran (from 10 ns to 65 ns): during."
        );
        assert!(faults_during(&faults, (6, 19)).starts_with("No fault was active"));
    }
}
