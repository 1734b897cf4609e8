//! Operations as the generators make them and the history records them.
//!
//! An [`Op`] carries the history's own shapes (docs/history-format.md): register values are JSON integers,
//! kv values are strings, `cas` carries `[expected, new]`. The clients translate to each
//! system's wire format ([`crate::mapping`]) and back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use faultline_api::Func;

/// One operation to invoke: function, key, and the invoke's value in history shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// The function.
    pub f: Func,
    /// The key (every workload here is keyed, as Jepsen's independent keys).
    pub key: String,
    /// The invoke's value: `null` for reads, an integer (register) or string (kv) for writes,
    /// `[expected, new]` for cas.
    pub value: Value,
}

/// How one operation ended, from the client's point of view (Jepsen's ok / fail / info).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It took effect; the value is the completion's value in history shape (the value read,
    /// or the invoke's value for writes).
    Ok(Value),
    /// It certainly did not take effect; the reason (`"cas-mismatch"` for an observed compare
    /// failure, which the checker treats as a read of a different value).
    Fail(String),
    /// It may or may not have taken effect; the reason (`"timeout"`, `"unavailable"`, ...).
    Unknown(String),
}

impl Outcome {
    /// Whether the operation's process must be retired (an `info` completion).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Outcome::Unknown(_))
    }
}
