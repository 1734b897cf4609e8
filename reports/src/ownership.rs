//! Shard ownership over time (the sharded KV): which replica group owned which shard, from
//! the `reconfigure` fault's `join`/`leave`/`move` events. Each such event's value carries
//! the assignment before the change (`was`) and after it (`shards`, when the controller
//! took the change), one gid per shard, 0 for none.
//!
//! ```text
//!  History.nemesis ──join/leave/move with shards──▶ assignment at t0, t1, .. ──▶ [Span]
//! ```
//! The first known assignment (`was` of the first change) holds from the start of the
//! history; a history without such events (any other system) has no spans.

use faultline_checker::Event;
use serde_json::Value;

/// One shard owned by one group from `start` to `end` (history nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The shard.
    pub shard: usize,
    /// The owning group; 0: no group (before the first join).
    pub gid: u64,
    /// From, history nanoseconds.
    pub start: u64,
    /// To, history nanoseconds.
    pub end: u64,
}

/// Most shards drawn (a hostile history cannot make the plot unbounded).
const MAX_SHARDS: usize = 256;

/// A `[gid, ..]` array of at most [`MAX_SHARDS`] entries, or `None`.
fn assignment(v: Option<&Value>) -> Option<Vec<u64>> {
    let a = v?.as_array()?;
    if a.is_empty() || a.len() > MAX_SHARDS {
        return None;
    }
    a.iter().map(Value::as_u64).collect()
}

/// The ownership spans, shard by shard in time order, up to `end` (history nanoseconds).
pub fn spans(events: &[Event], end: u64) -> Vec<Span> {
    let changes = events
        .iter()
        .filter(|e| matches!(e.f.as_str(), "join" | "leave" | "move"))
        .map(|e| (e.time, assignment(e.value.get("was")), assignment(e.value.get("shards"))));
    // (time the assignment took effect, the assignment), in history order.
    let mut timeline: Vec<(u64, Vec<u64>)> = Vec::new();
    for (t, was, now) in changes {
        if timeline.is_empty() {
            if let Some(was) = was {
                timeline.push((0, was));
            }
        }
        if let Some(now) = now {
            timeline.push((t.min(end), now));
        }
    }
    let Some(n) = timeline.iter().map(|(_, a)| a.len()).max() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for shard in 0..n {
        let mut open: Option<Span> = None;
        for (t, a) in &timeline {
            let gid = a.get(shard).copied().unwrap_or(0);
            match &mut open {
                Some(s) if s.gid == gid => {}
                _ => {
                    if let Some(mut s) = open.take() {
                        s.end = *t;
                        if s.end > s.start {
                            out.push(s);
                        }
                    }
                    open = Some(Span { shard, gid, start: *t, end });
                }
            }
        }
        out.extend(open.filter(|s| s.end > s.start));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(f: &str, time: u64, value: Value) -> Event {
        serde_json::from_value(json!({
            "index": 0, "type": "info", "process": "nemesis", "f": f, "value": value,
            "time": time
        }))
        .unwrap()
    }

    #[test]
    fn ownership_follows_each_taken_change() {
        let events = vec![
            event("start-partition", 5, json!({})),
            event("move", 10, json!({"was": [1, 1, 2], "shards": [2, 1, 2]})),
            // Refused by the controller: no new assignment.
            event("leave", 20, json!({"was": [2, 1, 2], "shards": null})),
            event("join", 30, json!({"was": [2, 1, 2], "shards": [2, 3, 2]})),
        ];
        let s = spans(&events, 100);
        let of = |shard| -> Vec<(u64, u64, u64)> {
            s.iter().filter(|x| x.shard == shard).map(|x| (x.gid, x.start, x.end)).collect()
        };
        assert_eq!(of(0), vec![(1, 0, 10), (2, 10, 100)]);
        assert_eq!(of(1), vec![(1, 0, 30), (3, 30, 100)]);
        assert_eq!(of(2), vec![(2, 0, 100)]);
    }

    #[test]
    fn histories_without_assignments_have_no_spans() {
        assert!(spans(&[event("kill", 1, json!({"nodes": ["n1"]}))], 10).is_empty());
        // Malformed or oversized assignments are ignored, not trusted.
        let big: Vec<u64> = vec![1; MAX_SHARDS + 1];
        let bad = [
            event("move", 1, json!({"was": "x", "shards": [1, -2]})),
            event("move", 2, json!({"was": big.clone(), "shards": big})),
        ];
        assert!(spans(&bad, 10).is_empty());
    }
}
