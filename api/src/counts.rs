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
