//! What a run counted, as `results.json` and the progress events carry it.

use serde::{Deserialize, Serialize};

/// Counters of the events recorded so far (for the progress line and the run stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCounts {
    /// Invocations.
    pub invoked: u64,
    /// `ok` completions.
    pub ok: u64,
    /// `fail` completions.
    pub fail: u64,
    /// `info` completions.
    pub info: u64,
    /// Nemesis events.
    pub nemesis: u64,
}

/// What the final reads achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalReads {
    /// Keys read successfully.
    pub read: usize,
    /// Keys that could not be read before the deadline.
    pub missed: Vec<String>,
}

/// One progress report of a running run: what `faultline run --progress-json` prints on
/// stderr every 5 s as `{"progress": {...}}`, and what `faultline serve` streams as a
/// server-sent event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Seconds since the history began.
    pub elapsed_secs: f64,
    /// Events so far.
    pub counts: LiveCounts,
    /// The faults active now (`"calm"` when none).
    pub fault: String,
}

/// The line `--progress-json` prints: `{"progress": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressLine {
    /// The report.
    pub progress: Progress,
}
