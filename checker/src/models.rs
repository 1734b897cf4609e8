//! The built-in models.
//!
//! # Layout
//! - [`register`]: `register` and `cas-register` (integer values, configurable initial value).
//! - [`kv`]: one key of the Get/Put/Append store, plus cas and delete.
//! - [`whole`]: any model lifted to a map of keys, for checking without partitioning.

pub mod kv;
pub mod register;
pub mod whole;

pub use kv::Kv;
pub use register::Register;
pub use whole::Whole;

use serde_json::Value;

use crate::history::Operation;

/// The `[expected, new]` pair of a cas operation's input.
pub(crate) fn cas_pair(op: &Operation) -> Result<(&Value, &Value), String> {
    match &op.input {
        Value::Array(v) if v.len() == 2 => Ok((&v[0], &v[1])),
        other => Err(format!("cas value must be [expected, new], got {other}")),
    }
}

/// Whether a failed operation reports an observed compare mismatch (the cas ran, compared,
/// and did not match), which is information; any other failure means "did not happen".
pub(crate) fn is_mismatch(op: &Operation) -> bool {
    op.error.as_deref().is_some_and(|e| e == "cas-mismatch" || e == "mismatch")
}

/// Shortens long strings for reports.
pub(crate) fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max / 2).collect();
    let tail: String =
        s.chars().rev().take(max / 2).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{head}…{tail}")
}
