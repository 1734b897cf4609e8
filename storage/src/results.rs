//! `results.json`, defined once: what `faultline run` and `faultline check` write, and what
//! the store index, `faultline serve` and campaigns read back with the same types.
//!
//! ```text
//!   faultline run   ──▶ RunResults   ─┐
//!   faultline check ──▶ CheckRecord  ─┴─▶ results.json ──Stored::read──▶ index, serve
//! ```

use std::path::{Path, PathBuf};

use faultline_api::maelstrom::NetworkStats;
use faultline_api::{FinalReads, LiveCounts};
use faultline_checker::{CheckResult, Outcome, Verdict};
use serde::{Deserialize, Serialize};

/// Statistics of the run itself (the history's own counts are in the check result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The key.
    pub key: Option<String>,
    /// The checker's explanation.
    pub explanation: String,
    /// The operations that could not be linearized next, and the one that forced it.
    pub ops: Vec<AnomalyOp>,
}

/// `results.json` of a run (and the object `faultline run --json` prints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// The test's name.
    pub test: String,
    /// The run's directory.
    pub dir: PathBuf,
    /// The verdict.
    pub verdict: Verdict,
    /// The exit code of `faultline run` (docs/history-format.md).
    pub exit_code: u8,
    /// The seed.
    pub seed: u64,
    /// The command that repeats this run.
    pub replay: String,
    /// The first anomaly, when not linearizable.
    pub anomaly: Option<Anomaly>,
    /// Run statistics.
    pub stats: RunStats,
    /// What the faults did.
    #[serde(default)]
    pub coverage: Coverage,
    /// The checker's result.
    pub check: CheckResult,
    /// `report.html`, when written.
    pub report: Option<PathBuf>,
    /// Sharded KV: whether every replica group reached the latest configuration after the
    /// heal (a group stuck behind is a stall, exit 1, even with a linearizable history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<ShardSettle>,
    /// Maelstrom: the network faultline was for the nodes (what it routed, dropped, held
    /// back, and what the nodes did wrong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkStats>,
}

/// Sharded KV: where the replica groups were once the cluster was healed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSettle {
    /// The controller's latest configuration.
    pub latest: u64,
    /// Every replica group's leader applied it and no shard was still moving.
    pub settled: bool,
    /// Each group as last seen (`g2: config 7, serving [1, 4]`, or why it is behind).
    pub groups: Vec<String>,
    /// Seconds waited.
    pub waited_secs: f64,
}

/// `results.json` of a check (`faultline check`, `POST /api/check`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// The verdict.
    pub verdict: Verdict,
    /// Who checked: `cli` or `api`.
    pub source: String,
    /// The checker's result.
    pub check: CheckResult,
}

/// A `results.json` as read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// A run's.
    Run(Box<RunResults>),
    /// A check's.
    Check(Box<CheckRecord>),
}

impl Stored {
    /// Reads `results.json` (at most 64 MiB); `None` when it is missing, too large, or
    /// neither a run's nor a check's.
    pub fn read(path: &Path) -> Option<Stored> {
        if std::fs::metadata(path).ok()?.len() > 64 << 20 {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        Stored::parse(&bytes)
    }

    /// Parses a `results.json` (or `faultline run --json`) object.
    pub fn parse(bytes: &[u8]) -> Option<Stored> {
        if let Ok(r) = serde_json::from_slice::<RunResults>(bytes) {
            return Some(Stored::Run(Box::new(r)));
        }
        serde_json::from_slice::<CheckRecord>(bytes).ok().map(|c| Stored::Check(Box::new(c)))
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        match self {
            Stored::Run(r) => r.verdict,
            Stored::Check(c) => c.verdict,
        }
    }

    /// Seconds the run took, cluster start to stop (runs only).
    pub fn total_secs(&self) -> Option<f64> {
        match self {
            Stored::Run(r) => Some(r.stats.total_secs),
            Stored::Check(_) => None,
        }
    }
}

/// What the faults of a run did: the evidence that a green verdict tested something.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Per fault kind asked for, in the order asked.
    pub faults: Vec<FaultCoverage>,
    /// Fault starts that took effect, all kinds together.
    pub installed: u32,
    /// Times the node that led changed (a new leader seen in the nodes' status).
    pub leader_changes: u32,
    /// Terms that passed, first to last status seen (elections, won or not).
    pub terms: u64,
    /// Seconds during which no node answered as leader.
    pub no_leader_secs: f64,
    /// Fault starts that hit the node leading at the time: killed, paused, clock-skewed, or
    /// cut off from a majority by a partition.
    pub leader_disturbed: u32,
    /// Operations that completed while no fault was active.
    pub calm: LiveCounts,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What one kind of fault did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultCoverage {
    /// The fault kind.
    pub fault: faultline_api::Fault,
    /// Starts that took effect.
    pub installed: u32,
    /// Starts that certainly did not take effect.
    pub skipped: u32,
    /// Starts whose effect is unknown.
    pub indeterminate: u32,
    /// Installed starts that changed nothing the fault exists to change (a power loss that
    /// found nothing un-fsynced to drop): counted in `installed`, and said apart.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_effect: u32,
    /// Why starts were skipped (distinct reasons, at most five).
    pub skip_reasons: Vec<String>,
    /// Seconds this fault was active.
    pub active_secs: f64,
    /// Operations that completed while it was active (`invoked` counts invocations).
    pub ops: LiveCounts,
}

impl Coverage {
    /// One line for the summary: what was exercised.
    pub fn line(&self) -> String {
        let kinds: Vec<String> = self
            .faults
            .iter()
            .map(|f| {
                let mut s = format!("{} {}x", f.fault, f.installed);
                if f.no_effect > 0 {
                    s.push_str(&format!(" ({} with no effect)", f.no_effect));
                }
                if f.skipped > 0 {
                    s.push_str(&format!(" ({} skipped)", f.skipped));
                }
                s
            })
            .collect();
        format!(
            "faults: {}; leader hit {}x, {} leader change(s), {} term(s), {:.1}s without a leader",
            if kinds.is_empty() { "none".into() } else { kinds.join(", ") },
            self.leader_disturbed,
            self.leader_changes,
            self.terms,
            self.no_leader_secs
        )
    }
}
