//! The timeline's data, embedded in the report as compact column-wise JSON and drawn by the
//! page's script on a `<canvas>` (only the visible bars are drawn, so 100,000 operations stay
//! responsive).
//!
//! ```text
//!  History + CheckResult + fault intervals ──build──▶ TimelineData ──to_script_json──▶ <script>
//! ```
//! Times are integers in units of `scale` nanoseconds (1 for short histories, 1000 beyond
//! ~100 ms) to keep the numbers short.

use std::collections::BTreeMap;

use faultline_checker::{CheckResult, History, Outcome, Verdict};
use serde::Serialize;
use serde_json::Value;

use crate::nemesis::Interval;

/// Column-wise operations plus what the page overlays on them.
#[derive(Debug, Serialize)]
pub struct TimelineData {
    /// Nanoseconds per time unit below.
    pub scale: u64,
    /// The end of the history, in units.
    pub end: u64,
    /// Process number of each lane, ascending.
    pub lanes: Vec<u64>,
    /// Distinct functions (`read`, `write`, ...), indexed by `f`.
    pub fs: Vec<String>,
    /// Distinct keys, indexed by `k`.
    pub keys: Vec<String>,
    /// Per operation (index = op id): lane.
    pub p: Vec<u32>,
    /// Invoke time.
    pub c: Vec<u64>,
    /// Completion time, or -1 when it never completed.
    pub r: Vec<i64>,
    /// Outcome: 0 ok, 1 fail, 2 info.
    pub o: Vec<u8>,
    /// Function index.
    pub f: Vec<u16>,
    /// Key index, -1 when unkeyed.
    pub k: Vec<i32>,
    /// Input value as compact JSON text (`""` for null).
    pub i: Vec<String>,
    /// Output value as compact JSON text (`""` for null).
    pub out: Vec<String>,
    /// Error texts by op id (sparse).
    pub err: BTreeMap<usize, String>,
    /// Who answered, by op id (sparse): `n2 (term 3)`.
    pub sv: BTreeMap<usize, String>,
    /// Fault intervals (times in units).
    pub nem: Vec<NemSpan>,
    /// Per-key verdicts, by key index (-1 for the unkeyed result).
    pub verdicts: Vec<KeyVerdict>,
    /// The counterexamples, one per illegal key.
    pub violations: Vec<Violation>,
    /// Operations the explanations name (op id, role), marked on the timeline.
    pub related: Vec<(usize, String)>,
}

/// A fault interval in time units.
#[derive(Debug, Serialize)]
pub struct NemSpan {
    /// Start.
    pub s: u64,
    /// End.
    pub e: u64,
    /// Family (`partition`, `kill`, ...).
    pub kind: String,
    /// Label.
    pub label: String,
    /// The row of the fault strip it is drawn on: overlapping faults (`a+b`) get rows of
    /// their own, so that each one's span and label stay readable.
    pub t: u32,
}

/// A key's verdict.
#[derive(Debug, Serialize)]
pub struct KeyVerdict {
    /// Key index, -1 for unkeyed.
    pub k: i32,
    /// `linearizable`, `illegal` or `unknown`.
    pub verdict: Verdict,
}

/// What the page draws for an illegal key.
#[derive(Debug, Serialize)]
pub struct Violation {
    /// Key index, -1 for unkeyed.
    pub k: i32,
    /// The longest linearizable prefix, op ids in linearization order.
    pub prefix: Vec<usize>,
    /// Ops that could not go next, with the model's reason.
    pub stuck: Vec<(usize, String)>,
    /// The op whose completion forced the dead end.
    pub blocking: Option<usize>,
    /// Model state after the prefix.
    pub state: String,
}

fn compact(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The scale used for a history ending at `end_ns`.
pub fn scale_for(end_ns: u64) -> u64 {
    if end_ns > 100_000_000 {
        1000
    } else {
        1
    }
}

/// Builds the timeline's data.
pub fn build(history: &History, result: &CheckResult, faults: &[Interval]) -> TimelineData {
    let end_ns = history_end(history);
    let scale = scale_for(end_ns);
    let mut lanes: Vec<u64> = history.ops.iter().map(|o| o.process).collect();
    lanes.sort_unstable();
    lanes.dedup();
    let lane_of: rustc_hash::FxHashMap<u64, u32> =
        lanes.iter().enumerate().map(|(i, p)| (*p, i as u32)).collect();
    let mut fs: Vec<String> = Vec::new();
    let mut keys: Vec<String> = history.ops.iter().filter_map(|o| o.key.clone()).collect();
    keys.sort_unstable();
    keys.dedup();
    let key_of: rustc_hash::FxHashMap<&str, i32> =
        keys.iter().enumerate().map(|(i, k)| (k.as_str(), i as i32)).collect();
    let key_index =
        |k: Option<&String>| k.and_then(|k| key_of.get(k.as_str()).copied()).unwrap_or(-1);
    let n = history.ops.len();
    let mut d = TimelineData {
        scale,
        end: end_ns / scale,
        lanes: Vec::new(),
        fs: Vec::new(),
        keys: Vec::new(),
        p: Vec::with_capacity(n),
        c: Vec::with_capacity(n),
        r: Vec::with_capacity(n),
        o: Vec::with_capacity(n),
        f: Vec::with_capacity(n),
        k: Vec::with_capacity(n),
        i: Vec::with_capacity(n),
        out: Vec::with_capacity(n),
        err: BTreeMap::new(),
        sv: BTreeMap::new(),
        nem: Vec::new(),
        verdicts: Vec::new(),
        violations: Vec::new(),
        related: Vec::new(),
    };
    for op in &history.ops {
        // `lanes` holds every op's process, so the lookup cannot miss.
        d.p.push(lane_of.get(&op.process).copied().unwrap_or(0));
        d.c.push(op.call / scale);
        d.r.push(op.ret.map_or(-1, |r| (r / scale) as i64));
        d.o.push(match op.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Unknown => 2,
        });
        let fi = match fs.iter().position(|f| *f == op.f) {
            Some(i) => i,
            None => {
                fs.push(op.f.clone());
                fs.len() - 1
            }
        };
        d.f.push(fi as u16);
        d.k.push(key_index(op.key.as_ref()));
        d.i.push(compact(&op.input));
        d.out.push(compact(&op.output));
        if let Some(e) = &op.error {
            d.err.insert(op.id, e.clone());
        }
        if let Some(by) = op.served() {
            d.sv.insert(op.id, by);
        }
    }
    d.nem = faults
        .iter()
        .zip(crate::nemesis::tracks(faults))
        .map(|(f, t)| NemSpan {
            s: f.start / scale,
            e: f.end / scale,
            kind: f.kind.clone(),
            label: f.label.clone(),
            t,
        })
        .collect();
    for kr in &result.keys {
        let k = key_index(kr.key.as_ref());
        d.verdicts.push(KeyVerdict { k, verdict: kr.verdict });
        if let Some(cx) = &kr.counterexample {
            d.violations.push(Violation {
                k,
                prefix: cx.prefix.clone(),
                stuck: cx.stuck.iter().map(|s| (s.op, s.reason.clone())).collect(),
                blocking: cx.blocking,
                state: cx.state.clone(),
            });
        }
    }
    d.lanes = lanes;
    d.fs = fs;
    d.keys = keys;
    d
}

/// The last time in the history (completions, invokes and faults).
pub fn history_end(history: &History) -> u64 {
    let ops = history.ops.iter().map(|o| o.ret.unwrap_or(o.call)).max().unwrap_or(0);
    let nem = history.nemesis.iter().map(|e| e.time).max().unwrap_or(0);
    ops.max(nem)
}

/// Serializes for a `<script type="application/json">` element: `<` is escaped so that no
/// value can close the element.
pub fn to_script_json<T: Serialize>(data: &T) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string(data)?.replace('<', "\\u003c"))
}
