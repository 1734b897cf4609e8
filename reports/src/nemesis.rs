//! Fault intervals: nemesis start/stop events paired into shaded spans.
//!
//! ```text
//!  History.nemesis (start-partition, kill, pause, clock-*, start-loss, and their ends)
//!      ──pair by (kind, nodes)──▶ [Interval { start, end, kind, label }]
//! ```
//! An interval whose end never came runs to the end of the history.

use faultline_api::{Edge, EventName};
use faultline_checker::Event;
use serde::Serialize;
use serde_json::Value;

/// One fault, from its start event to its end event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// Start, history nanoseconds.
    pub start: u64,
    /// End, history nanoseconds.
    pub end: u64,
    /// The fault family: `partition`, `kill`, `pause`, `clock`, `loss`, or the event's `f`.
    pub kind: String,
    /// A short label, e.g. `partition [n1 n2] | [n3 n4 n5]` or `kill n3`.
    pub label: String,
    /// Whether the start event's value says the fault was not installed.
    pub skipped: bool,
    /// The nodes named by the start event (empty when it names none).
    pub nodes: Vec<String>,
}

/// `(kind, is_start)` of a nemesis event: faultline's own names, read through the one
/// table of event names ([`faultline_api::fault::event::TABLE`]; a step within a fault is a
/// marker), plus `heal` and `restart` from other tools.
fn classify(f: &str, value: &Value) -> Option<(&'static str, bool)> {
    if let Some(name) = EventName::parse(f, value.get("shape").and_then(Value::as_str)) {
        return match name.edge() {
            Edge::Start => Some((name.fault().name(), true)),
            Edge::End => Some((name.fault().name(), false)),
            Edge::Step => None,
        };
    }
    match f {
        "heal" => Some(("partition", false)),
        "restart" => Some(("kill", false)),
        _ => None,
    }
}

/// The faults in place at history time `t` (installed ones only), as one sentence for an
/// anomaly's explanation: "Faults active then: kill n3; partition `[n1] | [n2 n3]`." or "No
/// fault was active then."
pub fn active_at(faults: &[Interval], t: u64) -> String {
    let active: Vec<&str> = faults
        .iter()
        .filter(|f| !f.skipped && f.start <= t && t <= f.end)
        .map(|f| f.label.as_str())
        .collect();
    if active.is_empty() {
        "No fault was active then.".into()
    } else {
        format!("Faults active then: {}.", active.join("; "))
    }
}

/// Node names an event mentions (`nodes`, `node`, or `groups` flattened).
fn nodes_of(value: &Value) -> Vec<String> {
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    if let Some(n) = value.get("nodes") {
        return strs(n);
    }
    if let Some(n) = value.get("node").and_then(Value::as_str) {
        return vec![n.to_string()];
    }
    if let Some(groups) = value.get("groups").and_then(Value::as_array) {
        return groups.iter().flat_map(strs).collect();
    }
    Vec::new()
}

fn label_of(f: &str, kind: &str, value: &Value) -> String {
    if let Some(groups) = value.get("groups").and_then(Value::as_array) {
        let parts: Vec<String> = groups
            .iter()
            .map(|g| {
                let names: Vec<&str> = g
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                format!("[{}]", names.join(" "))
            })
            .collect();
        // A figure8 step is a partition too, but named as itself, with its step.
        let name = match (kind, value.get("step").and_then(Value::as_u64)) {
            ("figure8", Some(step)) => format!("figure8 step {step}"),
            ("figure8", None) => "figure8".to_string(),
            _ => "partition".to_string(),
        };
        return format!("{name} {}", parts.join(" | "));
    }
    let nodes = nodes_of(value);
    let mut label = if kind == "clock" { f.to_string() } else { kind.to_string() };
    if !nodes.is_empty() {
        label.push(' ');
        label.push_str(&nodes.join(" "));
    }
    if let Some(d) = value.get("delta_ms").and_then(Value::as_i64) {
        label.push_str(&format!(" {d:+}ms"));
    }
    if let Some(r) = value.get("rate").and_then(Value::as_f64) {
        label.push_str(&format!(" x{r}"));
    }
    if let Some(p) = value.get("probability").and_then(Value::as_f64) {
        label.push_str(&format!(" p={p}"));
    }
    if let Some(shape) = value.get("shape").and_then(Value::as_str) {
        if value.get("groups").is_none() {
            label.push_str(&format!(" ({shape})"));
        }
    }
    label
}

/// The row each interval (ordered by start) is drawn on: the lowest row free at its start,
/// so that overlapping faults (`a+b`) stack instead of covering each other's labels.
pub fn tracks(faults: &[Interval]) -> Vec<u32> {
    let mut ends: Vec<u64> = Vec::new();
    faults
        .iter()
        .map(|f| {
            let row = ends.iter().position(|&e| e < f.start).unwrap_or(ends.len());
            if row == ends.len() {
                ends.push(f.end);
            } else {
                ends[row] = f.end;
            }
            row as u32
        })
        .collect()
}

/// Pairs nemesis events into intervals, ordered by start. `end_of_history` closes the ones
/// left open. Events the vocabulary does not know become zero-length intervals (markers).
pub fn intervals(events: &[Event], end_of_history: u64) -> Vec<Interval> {
    let mut done = Vec::new();
    // Open intervals, in start order.
    let mut open: Vec<Interval> = Vec::new();
    for e in events {
        let Some((kind, is_start)) = classify(&e.f, &e.value) else {
            done.push(Interval {
                start: e.time,
                end: e.time,
                kind: e.f.clone(),
                label: e.f.clone(),
                skipped: false,
                nodes: nodes_of(&e.value),
            });
            continue;
        };
        let nodes = nodes_of(&e.value);
        if is_start {
            let skipped = matches!(
                e.value.get("outcome").and_then(Value::as_str),
                Some("skipped") | Some("failed")
            );
            open.push(Interval {
                start: e.time,
                end: end_of_history.max(e.time),
                kind: kind.to_string(),
                label: label_of(&e.f, kind, &e.value),
                skipped,
                nodes,
            });
        } else {
            // Close the oldest open interval of this kind naming the same nodes, else the
            // oldest of this kind (a heal ends every partition).
            let pos = open
                .iter()
                .position(|i| i.kind == kind && !nodes.is_empty() && i.nodes == nodes)
                .or_else(|| open.iter().position(|i| i.kind == kind));
            if let Some(pos) = pos {
                let mut i = open.remove(pos);
                i.end = e.time;
                done.push(i);
            }
        }
    }
    done.extend(open);
    done.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::{EventKind, Process};
    use serde_json::json;

    fn ev(f: &str, value: Value, time: u64) -> Event {
        Event {
            index: 0,
            kind: EventKind::Info,
            process: Process::Nemesis,
            f: f.into(),
            key: None,
            value,
            time,
            error: None,
            node: None,
            term: None,
        }
    }

    #[test]
    fn pairs_starts_and_stops_by_kind_and_node() {
        let events = vec![
            ev("start-partition", json!({"groups":[["n1","n2"],["n3","n4","n5"]]}), 10),
            ev("kill", json!({"nodes":["n3"]}), 20),
            ev("kill", json!({"nodes":["n1"]}), 25),
            ev("start", json!({"nodes":["n1"]}), 30),
            ev("stop-partition", json!({}), 40),
            ev("pause", json!({"nodes":["n2"]}), 50),
        ];
        let got: Vec<(u64, u64, String)> =
            intervals(&events, 100).into_iter().map(|i| (i.start, i.end, i.label)).collect();
        pretty_assertions::assert_eq!(
            got,
            vec![
                (10, 40, "partition [n1 n2] | [n3 n4 n5]".to_string()),
                (20, 100, "kill n3".to_string()),
                (25, 30, "kill n1".to_string()),
                (50, 100, "pause n2".to_string()),
            ]
        );
        let faults = intervals(&events, 100);
        assert_eq!(
            active_at(&faults, 27),
            "Faults active then: partition [n1 n2] | [n3 n4 n5]; kill n3; kill n1."
        );
        assert_eq!(active_at(&faults, 45), "Faults active then: kill n3.");
        assert_eq!(active_at(&faults, 5), "No fault was active then.");
        // A figure8 step shades like a partition, named as itself.
        let f8 = [ev("start-partition", json!({"shape":"figure8","step":1}), 1)];
        assert_eq!(intervals(&f8, 9)[0].kind, "figure8");
        let f8 = [ev(
            "start-partition",
            json!({"shape":"figure8","step":2,"groups":[["n1","n2"],["n3"]]}),
            1,
        )];
        assert_eq!(intervals(&f8, 9)[0].label, "figure8 step 2 [n1 n2] | [n3]");
    }

    fn span(start: u64, end: u64) -> Interval {
        Interval {
            start,
            end,
            kind: "clock".into(),
            label: String::new(),
            skipped: false,
            nodes: Vec::new(),
        }
    }

    #[test]
    fn overlapping_faults_get_rows_of_their_own() {
        // clock+partition overlap; kill comes after both ended; a third overlaps the kill.
        let faults = [span(10, 50), span(12, 48), span(60, 90), span(70, 80)];
        assert_eq!(tracks(&faults), [0, 1, 0, 1]);
        assert_eq!(tracks(&[span(0, 10), span(11, 20)]), [0, 0]);
    }
}
