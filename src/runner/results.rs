//! What a run produced: `results.json` (the checker's result plus run statistics), the first
//! anomaly in words, and the summary printed at the end.

use std::fmt::Write as _;
use std::path::PathBuf;

use faultline_checker::{CheckResult, History, Operation, Outcome, Verdict};
use faultline_workloads::{FinalReads, LiveCounts};
use serde::Serialize;
use serde_json::Value;

/// Statistics of the run itself (the history's own counts are in the check result).
#[derive(Debug, Clone, Serialize)]
pub struct RunStats {
    /// Seconds of workload (the time limit, as run).
    pub workload_secs: f64,
    /// Seconds from the first event to the end of the final reads.
    pub history_secs: f64,
    /// Seconds of the whole run, cluster start to cluster stop.
    pub total_secs: f64,
    /// Operations completed per second during the workload.
    pub ops_per_sec: f64,
    /// Events counted by the recorder.
    pub counts: LiveCounts,
    /// Lines written to `history.jsonl`.
    pub history_events: u64,
    /// Keys used.
    pub keys: usize,
    /// Whether the cluster answered with a leader after healing, within `recovery-time`.
    pub recovered: bool,
    /// The final reads.
    pub final_reads: FinalReads,
    /// Seconds the checker took.
    pub check_secs: f64,
}

/// One operation of an anomaly, for people.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyOp {
    /// Operation id in the history.
    pub id: usize,
    /// Client process.
    pub process: u64,
    /// `f` and values, e.g. `read -> 5` or `write 3`.
    pub what: String,
    /// ok / fail / unknown.
    pub outcome: Outcome,
    /// Invoke and completion, seconds since the start.
    pub interval: (f64, Option<f64>),
}

/// The first anomaly: the key and the operations the checker could not order.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// The key.
    pub key: Option<String>,
    /// The checker's explanation.
    pub explanation: String,
    /// The operations that could not be linearized next, and the one that forced it.
    pub ops: Vec<AnomalyOp>,
}

/// `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunResults {
    /// The test's name.
    pub test: String,
    /// The run's directory.
    pub dir: PathBuf,
    /// The verdict.
    pub verdict: Verdict,
    /// The exit code of `faultline run` (DESIGN.md).
    pub exit_code: u8,
    /// The seed.
    pub seed: u64,
    /// The command that repeats this run.
    pub replay: String,
    /// The first anomaly, when not linearizable.
    pub anomaly: Option<Anomaly>,
    /// Run statistics.
    pub stats: RunStats,
    /// The checker's result.
    pub check: CheckResult,
    /// `report.html`, when written.
    pub report: Option<PathBuf>,
}

fn describe(op: &Operation) -> String {
    let show = |v: &Value| if v.is_null() { "nil".to_string() } else { v.to_string() };
    match (op.f.as_str(), op.outcome) {
        ("read" | "get", Outcome::Ok) => format!("{} -> {}", op.f, show(&op.output)),
        (f, _) => format!("{f} {}", show(&op.input)),
    }
}

/// The first illegal key's operations, from the counterexample.
pub fn first_anomaly(result: &CheckResult, history: &History) -> Option<Anomaly> {
    let key = result.first_illegal()?;
    let cx = key.counterexample.as_ref()?;
    let mut ids: Vec<usize> = cx.stuck.iter().map(|s| s.op).collect();
    ids.extend(cx.blocking);
    ids.sort_unstable();
    ids.dedup();
    let secs = |t: u64| t as f64 / 1e9;
    let ops = ids
        .into_iter()
        .filter_map(|id| history.ops.get(id))
        .map(|op| AnomalyOp {
            id: op.id,
            process: op.process,
            what: describe(op),
            outcome: op.outcome,
            interval: (secs(op.call), op.ret.map(secs)),
        })
        .collect();
    Some(Anomaly { key: key.key.clone(), explanation: cx.explanation.clone(), ops })
}

/// The human summary printed at the end of a run.
pub fn summary(r: &RunResults) -> String {
    let mut s = String::new();
    let c = &r.stats.counts;
    let _ = writeln!(s, "faultline run {} (seed {})", r.test, r.seed);
    let _ = writeln!(
        s,
        "  {} ops in {:.1}s ({:.0}/s): {} ok, {} fail, {} info; {} nemesis events; {} keys",
        c.invoked,
        r.stats.workload_secs,
        r.stats.ops_per_sec,
        c.ok,
        c.fail,
        c.info,
        c.nemesis,
        r.stats.keys
    );
    if !r.stats.recovered {
        let _ = writeln!(s, "  warning: the cluster did not recover (no leader) after healing");
    }
    if c.ok == 0 {
        let _ = writeln!(s, "  error: no operation succeeded, so nothing was checked (exit 2)");
    }
    if !r.stats.final_reads.missed.is_empty() {
        let _ = writeln!(
            s,
            "  warning: final reads failed for {} key(s)",
            r.stats.final_reads.missed.len()
        );
    }
    match r.verdict {
        Verdict::Linearizable => {
            let _ = writeln!(s, "  verdict: linearizable (exit 0)");
        }
        Verdict::Unknown => {
            let why: Vec<String> = r
                .check
                .undecided()
                .take(3)
                .map(|k| format!("{} ({:?})", k.key.as_deref().unwrap_or("-"), k.unknown_reason))
                .collect();
            let _ = writeln!(s, "  verdict: UNKNOWN (exit 2): undecided keys {}", why.join(", "));
        }
        Verdict::Illegal => {
            let _ = writeln!(s, "  verdict: NOT LINEARIZABLE (exit 1)");
            if let Some(a) = &r.anomaly {
                let _ = writeln!(
                    s,
                    "  first anomaly, key {}: {}",
                    a.key.as_deref().unwrap_or("-"),
                    a.explanation
                );
                for op in a.ops.iter().take(8) {
                    let end = op.interval.1.map_or("...".into(), |t| format!("{t:.3}s"));
                    let _ = writeln!(
                        s,
                        "    op {:>5}  process {:>4}  {:<24} {:?}  [{:.3}s, {end}]",
                        op.id, op.process, op.what, op.outcome, op.interval.0
                    );
                }
            }
        }
    }
    let _ = writeln!(s, "  store: {}", r.dir.display());
    if let Some(report) = &r.report {
        let _ = writeln!(s, "  report: {}", report.display());
    }
    let _ = write!(s, "  replay: {}", r.replay);
    s
}
