//! The violation in words: one paragraph built from a counterexample and the history.
//!
//! ```text
//!  KeyResult.counterexample { prefix, stuck, blocking } + History.ops of the key
//!     ──▶ which op could not go next (a read, a cas) ──▶ which write made it impossible
//!     ──▶ "read of k7 returned 3 at t=…, but 3 was overwritten by the write of 5 that
//!          completed at t=…, before this read began at t=…"
//! ```
//! When the shape is not one of the stale/unwritten/future read patterns below, the paragraph
//! falls back to the prefix, the state after it and the model's reason for each stuck op.

use faultline_checker::{Counterexample, History, KeyResult, Operation, Outcome};
use serde_json::Value;

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

fn show(v: &Value) -> String {
    match v {
        Value::Null => "nothing".to_string(),
        Value::String(s) if s.is_empty() => "nothing".to_string(),
        other => other.to_string(),
    }
}

fn is_read(op: &Operation) -> bool {
    matches!(op.f.as_str(), "read" | "get")
}

/// The value `op` writes, if it is a write-like operation that may have taken effect.
fn written(op: &Operation) -> Option<&Value> {
    if op.outcome == Outcome::Fail {
        return None;
    }
    match op.f.as_str() {
        "write" | "put" => Some(&op.input),
        "cas" => op.input.as_array().and_then(|a| a.get(1)),
        _ => None,
    }
}

fn absent(v: &Value) -> bool {
    matches!(v, Value::Null) || v.as_str() == Some("")
}

/// What `op` observed or required, for the ops this module can reason about: the value a
/// read returned, or the value a successful cas expected.
fn observed(op: &Operation) -> Option<(&'static str, &Value)> {
    if op.outcome != Outcome::Ok {
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

fn describe(op: &Operation) -> String {
    let key = op.key.as_deref().map(|k| format!(" of key {k}")).unwrap_or_default();
    match op.f.as_str() {
        "cas" => {
            let a = op.input.as_array();
            let (e, n) = (a.and_then(|a| a.first()), a.and_then(|a| a.get(1)));
            match (e, n) {
                (Some(e), Some(n)) => format!("cas{key} from {} to {}", show(e), show(n)),
                _ => format!("cas{key}"),
            }
        }
        f if written(op).is_some()
            || f == "append"
            || op.outcome == Outcome::Fail && f != "read" =>
        {
            let to = op.key.as_deref().map(|k| format!(" to key {k}")).unwrap_or_default();
            format!("{f} of {}{to}", show(&op.input))
        }
        f => format!("{f}{key}"),
    }
}

fn who(op: &Operation) -> String {
    match op.served() {
        Some(by) => format!("(op {}, process {}, answered by {by})", op.id, op.process),
        None => format!("(op {}, process {})", op.id, op.process),
    }
}

/// The primary sentence for an op that observed `v`, if one of the known patterns fits.
/// Operations an explanation names, with their role (`wrote 3`, `overwrote it`), so the
/// timeline can mark them.
pub type Related = Vec<(usize, String)>;

/// An explanation: the paragraph, and the operations it names besides the stuck ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// One paragraph in words.
    pub text: String,
    /// Operations named, with their role.
    pub related: Related,
}

fn pattern(ops: &[&Operation], b: &Operation, verb: &str, v: &Value) -> Option<(String, Related)> {
    let b_ret = b.ret.unwrap_or(b.call);
    let head = if verb == "returned" {
        format!("The {} {} returned {} at t={}", describe(b), who(b), show(v), fmt_time(b_ret))
    } else {
        format!(
            "The {} {} succeeded at t={}, so the value was {} when it took effect",
            describe(b),
            who(b),
            fmt_time(b_ret),
            show(v)
        )
    };
    if ops.iter().any(|o| o.f == "append") {
        return append_pattern(ops, b, v.as_str()?);
    }
    if absent(v) {
        if ops.iter().any(|o| o.f == "delete") {
            return None;
        }
        let w = ops
            .iter()
            .filter(|o| o.outcome == Outcome::Ok && written(o).is_some())
            .filter(|o| o.ret.is_some_and(|r| r < b.call))
            .max_by_key(|o| o.ret)?;
        let text = format!(
            "{head}, but the {} {} had completed at t={}, before this {} began at t={}.",
            describe(w),
            who(w),
            fmt_time(w.ret.unwrap_or(w.call)),
            b.f,
            fmt_time(b.call),
        );
        return Some((text, vec![(w.id, format!("wrote {} before", show(&w.input)))]));
    }
    let writers: Vec<&&Operation> =
        ops.iter().filter(|o| o.id != b.id && written(o) == Some(v)).collect();
    if writers.is_empty() {
        return Some((format!("{head}, but no operation ever wrote {}.", show(v)), Vec::new()));
    }
    if writers.iter().all(|w| w.call > b_ret) {
        // Only writes invoked after this op completed could have produced the value.
        let w = writers.iter().min_by_key(|w| w.call)?;
        let text = format!(
            "{head}, but the only write of {} ({} {}) began at t={}, after this {} had completed.",
            show(v),
            describe(w),
            who(w),
            fmt_time(w.call),
            b.f,
        );
        return Some((text, vec![(w.id, format!("wrote {} later", show(v)))]));
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
    let text = format!(
        "{head}, but {} was written by the {} {} that completed at t={} and then \
         overwritten by the {} {} that completed at t={}, before this {} began at t={}.",
        show(v),
        describe(w),
        who(w),
        fmt_time(w.ret.unwrap_or(w.call)),
        describe(x),
        who(x),
        fmt_time(x.ret.unwrap_or(x.call)),
        b.f,
        fmt_time(b.call),
    );
    let related = vec![
        (w.id, format!("wrote {}", show(v))),
        (x.id, format!("overwrote it with {}", show(written(x).unwrap_or(&Value::Null)))),
    ];
    Some((text, related))
}

/// For the append store: splits what a get returned into appended pieces and finds a piece
/// from the future, a missing completed append, or two appends in the wrong order.
fn append_pattern(ops: &[&Operation], b: &Operation, read: &str) -> Option<(String, Related)> {
    let appends: Vec<&Operation> = ops
        .iter()
        .copied()
        .filter(|o| o.f == "append" && o.outcome != Outcome::Fail && o.input.as_str().is_some())
        .collect();
    let piece = |o: &Operation| o.input.as_str().unwrap_or_default().to_string();
    // Greedy split into the longest matching pieces.
    let mut seen: Vec<&Operation> = Vec::new();
    let mut rest = read;
    let b_ret = b.ret.unwrap_or(b.call);
    let head =
        format!("The {} {} returned {:?} at t={}", describe(b), who(b), read, fmt_time(b_ret));
    while !rest.is_empty() {
        let next = appends
            .iter()
            .filter(|o| !seen.iter().any(|s| s.id == o.id))
            .filter(|o| !piece(o).is_empty() && rest.starts_with(&piece(o)))
            .max_by_key(|o| piece(o).len());
        let Some(next) = next else {
            let shown: String = rest.chars().take(24).collect();
            let more = if rest.chars().count() > 24 { "…" } else { "" };
            let key = b.key.as_deref().unwrap_or("the key");
            let text = format!(
                "{head}, but the part {shown:?}{more} (from character {}) does not start with any \
                 value appended to key {key} by an operation that could have taken effect, so no \
                 order of the appends produces what the get returned.",
                read.len() - rest.len()
            );
            return Some((text, Vec::new()));
        };
        rest = &rest[piece(next).len()..];
        seen.push(next);
    }
    if let Some(f) = seen.iter().find(|o| o.call > b_ret) {
        let text = format!(
            "{head}, which includes {:?}, appended by the {} {} that began at t={}, after this get had completed.",
            piece(f), describe(f), who(f), fmt_time(f.call)
        );
        return Some((text, vec![(f.id, "appended later".into())]));
    }
    let missing = appends
        .iter()
        .filter(|o| o.outcome == Outcome::Ok && o.ret.is_some_and(|r| r < b.call))
        .find(|o| !seen.iter().any(|s| s.id == o.id));
    if let Some(m) = missing {
        let text = format!(
            "{head}, which lacks {:?}: the {} {} had completed at t={}, before this get began at t={}.",
            piece(m), describe(m), who(m), fmt_time(m.ret.unwrap_or(m.call)), fmt_time(b.call)
        );
        return Some((text, vec![(m.id, "missing from the get".into())]));
    }
    for (i, later) in seen.iter().enumerate() {
        if let Some(earlier) = seen[i + 1..].iter().find(|e| e.ret.is_some_and(|r| r < later.call))
        {
            let text = format!(
                "{head}, in which {:?} comes before {:?}, but the {} {} had completed at t={}, \
                 before the {} {} began at t={}.",
                piece(later),
                piece(earlier),
                describe(earlier),
                who(earlier),
                fmt_time(earlier.ret.unwrap_or(earlier.call)),
                describe(later),
                who(later),
                fmt_time(later.call)
            );
            return Some((
                text,
                vec![(earlier.id, "appended first".into()), (later.id, "appended second".into())],
            ));
        }
    }
    None
}

/// One paragraph explaining why `key` is not linearizable, and the operations it names.
/// Empty when the key has no counterexample.
pub fn explain(history: &History, key: &KeyResult) -> Explanation {
    let Some(cx) = &key.counterexample else {
        return Explanation::default();
    };
    let ops: Vec<&Operation> = history.ops.iter().filter(|o| o.key == key.key).collect();
    let op = |id: usize| history.ops.get(id);
    let primary = cx
        .blocking
        .into_iter()
        .chain(cx.stuck.iter().map(|s| s.op))
        .filter_map(op)
        .find_map(|b| observed(b).and_then(|(verb, v)| pattern(&ops, b, verb, v)));
    let (mut text, related) = primary.unwrap_or_else(|| (fallback_head(history, cx), Vec::new()));
    text.push(' ');
    text.push_str(&context(history, key, cx));
    Explanation { text, related }
}

fn fallback_head(history: &History, cx: &Counterexample) -> String {
    let b = cx.blocking.and_then(|id| history.ops.get(id));
    match b {
        Some(b) => format!(
            "The {} {} completed at t={}, so it had to take effect by then, but no order of the \
             operations before it allows it.",
            describe(b),
            who(b),
            fmt_time(b.ret.unwrap_or(b.call)),
        ),
        None => "No order of the operations is consistent with their results.".to_string(),
    }
}

fn context(history: &History, key: &KeyResult, cx: &Counterexample) -> String {
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
        .map(|(o, r)| format!("{} {}: {}", describe(o), who(o), r))
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
    use faultline_checker::{SearchStats, StuckOp, Verdict};

    /// A history from `(process, f, value-in, value-out, call, ret)` rows on key k.
    fn history(rows: &[(u64, &str, Value, Value, u64, u64)]) -> History {
        let mut lines = Vec::new();
        let mut evs: Vec<(u64, String)> = Vec::new();
        for (p, f, i, o, c, r) in rows {
            evs.push((
                *c,
                format!(
                    r#""type":"invoke","process":{p},"f":"{f}","key":"k","value":{i},"time":{c}"#
                ),
            ));
            evs.push((
                *r,
                format!(r#""type":"ok","process":{p},"f":"{f}","key":"k","value":{o},"time":{r}"#),
            ));
        }
        evs.sort_by_key(|e| e.0);
        for (n, (_, e)) in evs.iter().enumerate() {
            lines.push(format!(r#"{{"index":{n},{e}}}"#));
        }
        faultline_checker::formats::jsonl::parse_str(&lines.join("\n")).unwrap()
    }

    fn key(prefix: Vec<usize>, stuck: usize) -> KeyResult {
        KeyResult {
            key: Some("k".into()),
            verdict: Verdict::Illegal,
            checker: Default::default(),
            unknown_reason: None,
            ops: 2,
            searched_ops: 2,
            counterexample: Some(Counterexample {
                prefix,
                state: "0".into(),
                stuck: vec![StuckOp { op: stuck, reason: "no".into() }],
                blocking: Some(stuck),
                explanation: String::new(),
            }),
            witness: None,
            stats: SearchStats::default(),
        }
    }

    #[test]
    fn read_of_a_value_never_written() {
        let h = history(&[
            (0, "write", json(1), json(1), 0, 10),
            (1, "read", Value::Null, json(7), 20, 30),
        ]);
        let e = explain(&h, &key(vec![0], 1));
        assert!(e.text.starts_with("The read of key k (op 1, process 1) returned 7 at t=30 ns, but no operation ever wrote 7."), "{}", e.text);
    }

    #[test]
    fn read_from_the_future() {
        let h = history(&[
            (1, "read", Value::Null, json(5), 0, 10),
            (0, "write", json(5), json(5), 20, 30),
        ]);
        let e = explain(&h, &key(vec![], 0));
        assert!(e.text.contains("but the only write of 5 (write of 5 to key k (op 1, process 0)) began at t=20 ns, after this read had completed."), "{}", e.text);
        assert_eq!(e.related, vec![(1, "wrote 5 later".to_string())]);
    }

    #[test]
    fn read_of_nothing_after_a_completed_write() {
        let h = history(&[
            (0, "write", json(3), json(3), 0, 10),
            (1, "read", Value::Null, Value::Null, 20, 30),
        ]);
        let e = explain(&h, &key(vec![0], 1));
        assert!(e.text.contains("returned nothing at t=30 ns, but the write of 3 to key k (op 0, process 0) had completed at t=10 ns, before this read began at t=20 ns."), "{}", e.text);
    }

    fn json(n: i64) -> Value {
        Value::from(n)
    }
}
