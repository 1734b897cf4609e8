//! Operations as the generators make them and the history records them.
//!
//! An [`Op`] carries the history's own shapes (DESIGN.md): register values are JSON integers,
//! kv values are strings, `cas` carries `[expected, new]`. The clients translate to each
//! system's wire format ([`crate::mapping`]) and back.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The function of an operation, as it appears in the history's `f` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Func {
    /// register / cas-register: read the value (`null` if unset).
    Read,
    /// register / cas-register: write an integer.
    Write,
    /// cas-register (and kv): `[expected, new]`; fails when the current value differs.
    Cas,
    /// kv: read a key's string (`""` if absent).
    Get,
    /// kv: set a key's string.
    Put,
    /// kv: append to a key's string.
    Append,
    /// kv: remove a key.
    Delete,
}

impl Func {
    /// Every function, in a fixed order.
    pub const ALL: [Func; 7] =
        [Func::Read, Func::Write, Func::Cas, Func::Get, Func::Put, Func::Append, Func::Delete];

    /// The history's name of the function.
    pub fn name(self) -> &'static str {
        match self {
            Func::Read => "read",
            Func::Write => "write",
            Func::Cas => "cas",
            Func::Get => "get",
            Func::Put => "put",
            Func::Append => "append",
            Func::Delete => "delete",
        }
    }

    /// Whether the function never changes state (so a failed or timed-out attempt can be
    /// recorded as `fail`: it certainly had no effect on any later operation).
    pub fn is_read(self) -> bool {
        matches!(self, Func::Read | Func::Get)
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Func {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Func::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            format!(
                "unknown operation {s:?}: expected read, write, cas, get, put, append or delete"
            )
        })
    }
}

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
