//! What the checker concludes: a [`Verdict`] per key and for the whole history, with the
//! evidence a report draws (counterexample or witness) and search statistics.

use serde::{Deserialize, Serialize};

/// The answer for a key or a history (porcupine's `CheckResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// A linearization exists.
    Linearizable,
    /// No linearization exists: an anomaly.
    Illegal,
    /// Undecided: a time or memory bound was hit, or the search was cancelled.
    Unknown,
}

impl Verdict {
    /// Combines per-key verdicts: any `Illegal` wins, then any `Unknown`.
    pub fn combine(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (Illegal, _) | (_, Illegal) => Illegal,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Linearizable,
        }
    }

    /// The name, as serde writes it: `linearizable`, `illegal`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::Illegal => "illegal",
            Verdict::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a key was left [`Verdict::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownReason {
    /// The time limit passed.
    TimeLimit,
    /// The memory limit (search cache) was reached.
    MemoryLimit,
    /// Another key was found illegal first and the search stopped.
    Cancelled,
    /// The caller gave the check up before it ended (a client that went away).
    Abandoned,
}

impl UnknownReason {
    /// In words, for summaries and reports: `time limit`, `memory limit`, ...
    pub fn describe(self) -> &'static str {
        match self {
            UnknownReason::TimeLimit => "time limit",
            UnknownReason::MemoryLimit => "memory limit",
            UnknownReason::Cancelled => "not searched: another key failed first",
            UnknownReason::Abandoned => "abandoned by its caller",
        }
    }
}

/// What every output says of a history with no operations: it is [`Verdict::Unknown`], never
/// a pass (see [`CheckResult::nothing_checked`]).
pub const NOTHING_CHECKED: &str = "no operations, so nothing was checked";

/// Which algorithm decided a key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decider {
    /// The WGL search (any history; exponential in the worst case).
    #[default]
    Wgl,
    /// The polynomial register checker for keys whose writes all write distinct values
    /// ([`crate::unique::register`]).
    UniqueRegister,
    /// The polynomial list-append checker for kv keys with only gets and distinct appends
    /// ([`crate::unique::append`]).
    UniqueAppend,
    /// The O(n log n) certificates for an operation that observes a value no write could have
    /// left visible: never written, or certainly overwritten ([`crate::visible`]).
    InvisibleValue,
    /// The WGL search with its symmetry reductions used (identical operations as one
    /// multiset, observers linearized at once; see [`crate::wgl`]).
    WglSymmetric,
}

/// An operation that could not be linearized next, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckOp {
    /// The operation's id ([`crate::Operation::id`]).
    pub op: usize,
    /// The model's words for why it cannot go next (e.g. "read 3, but the value is 5").
    pub reason: String,
}

/// The evidence for an `Illegal` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterexample {
    /// The longest linearizable prefix found: op ids in linearization order.
    pub prefix: Vec<usize>,
    /// The model state after that prefix, described.
    pub state: String,
    /// The operations that could not be linearized next (every candidate there), with why.
    pub stuck: Vec<StuckOp>,
    /// The operation whose completion forced the dead end: it had returned, so it had to be
    /// linearized by then, and no order allowed it.
    pub blocking: Option<usize>,
    /// One paragraph in words, for the report.
    pub explanation: String,
}

/// The result for one key (or for the whole history, unpartitioned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyResult {
    /// The key (`None` for an unkeyed or unpartitioned history).
    pub key: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The algorithm that decided it (older results without the field were all WGL).
    #[serde(default)]
    pub checker: Decider,
    /// Why undecided, when `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<UnknownReason>,
    /// Operations of this key in the history (all outcomes).
    pub ops: usize,
    /// Operations the search considered after exact simplification.
    pub searched_ops: usize,
    /// For `Illegal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Counterexample>,
    /// For `Linearizable`, on request: op ids in a valid linearization order (operations
    /// that may never have happened and were not needed are left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<Vec<usize>>,
    /// Search statistics.
    pub stats: SearchStats,
}

/// Counters of one search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchStats {
    /// Operations linearized (search steps forward).
    pub steps: u64,
    /// Backtracks.
    pub backtracks: u64,
    /// Configurations (linearized set, state) remembered in the cache.
    pub cached: u64,
    /// Distinct model states seen.
    pub states: u64,
    /// Bytes the cache used at its largest.
    pub cache_bytes: u64,
    /// Microseconds spent.
    pub micros: u64,
    /// Observing operations linearized as soon as they were legal, without branching
    /// (symmetry reductions of [`crate::wgl`]).
    #[serde(default)]
    pub forced: u64,
    /// Candidates skipped because an identical operation with an earlier deadline was open.
    #[serde(default)]
    pub symmetric: u64,
}

/// The result of checking a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The combined verdict.
    pub verdict: Verdict,
    /// The model's name.
    pub model: String,
    /// Per key, ordered by key.
    pub keys: Vec<KeyResult>,
    /// Counts of the history.
    pub counts: Counts,
    /// Wall-clock microseconds for the whole check.
    pub micros: u64,
}

impl CheckResult {
    /// The first illegal key (in key order), if any.
    pub fn first_illegal(&self) -> Option<&KeyResult> {
        self.keys.iter().find(|k| k.verdict == Verdict::Illegal)
    }

    /// Keys left undecided.
    pub fn undecided(&self) -> impl Iterator<Item = &KeyResult> {
        self.keys.iter().filter(|k| k.verdict == Verdict::Unknown)
    }

    /// The history had no client operation: the verdict is [`Verdict::Unknown`], and every
    /// output says [`NOTHING_CHECKED`].
    pub fn nothing_checked(&self) -> bool {
        self.counts.ops == 0
    }
}

/// Operation counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// All client operations.
    pub ops: usize,
    /// `ok` ones.
    pub ok: usize,
    /// `fail` ones.
    pub fail: usize,
    /// `info` (or never completed) ones.
    pub info: usize,
    /// Distinct keys.
    pub keys: usize,
    /// Nemesis events.
    pub nemesis: usize,
}
