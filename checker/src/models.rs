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

use crate::error::shown;
use crate::history::{Operation, Outcome, VALUE_UNKNOWN};

/// Which event of an operation a bad field is on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    /// The invoke (its `f` and argument).
    Invoke,
    /// The completion (its result).
    Completion,
}

/// A model error about `field` of `op`, starting with the line of the event it is on:
/// `line 7, field `value`: ...`.
pub(crate) fn bad_field(op: &Operation, side: Side, field: &str, message: &str) -> String {
    let line = match side {
        Side::Invoke => Some(op.invoke_line),
        Side::Completion => op.complete_line,
    };
    match line {
        Some(line) if line > 0 => format!("line {line}, field `{field}`: {message}"),
        _ => format!("field `{field}`: {message}"),
    }
}

/// An error for a value of the wrong shape: `what` must be `want`, got the value (cut).
pub(crate) fn bad_value(op: &Operation, side: Side, what: &str, want: &str, v: &Value) -> String {
    bad_field(op, side, "value", &format!("{what} must be {want}, got {}", shown(v)))
}

/// An error for an `f` the model does not know.
pub(crate) fn unknown_f(op: &Operation, model: &str, expected: &str) -> String {
    let f = shown(&format!("{:?}", op.f));
    bad_field(
        op,
        Side::Invoke,
        "f",
        &format!("unknown function {f} for the {model} model (expected {expected})"),
    )
}

/// Whether an `ok` read returned a value that is not known (Knossos's `nil` read): such a
/// read constrains nothing.
pub(crate) fn value_unknown(op: &Operation) -> bool {
    op.outcome == Outcome::Ok && op.error.as_deref() == Some(VALUE_UNKNOWN)
}

/// The `[expected, new]` pair of a cas operation's input.
pub(crate) fn cas_pair(op: &Operation) -> Result<(&Value, &Value), String> {
    match &op.input {
        Value::Array(v) if v.len() == 2 => Ok((&v[0], &v[1])),
        other => Err(bad_value(op, Side::Invoke, "a cas value", "[expected, new]", other)),
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
