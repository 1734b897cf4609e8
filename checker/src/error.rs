//! Errors of the checker: bad input (with where it is) and bad models or options.

use thiserror::Error;

/// A problem with a history's content, located by line and field.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("line {line}, field `{field}`: {message}")]
pub struct HistoryError {
    /// 1-based line number in the input (0 when not line-based).
    pub line: usize,
    /// The field at fault (`type`, `process`, `value`, ...).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl HistoryError {
    /// An error at `line` in `field`.
    pub fn at(line: usize, field: &str, message: impl Into<String>) -> Self {
        HistoryError { line, field: field.to_string(), message: message.into() }
    }
}

/// An error reading or checking a history.
#[derive(Debug, Error)]
pub enum CheckError {
    /// The input could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is malformed.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What and where.
        source: HistoryError,
    },
    /// An operation does not fit the chosen model (unknown `f`, wrong value shape).
    #[error("operation {op} (history index {index}): {message}")]
    Model {
        /// The operation's id.
        op: usize,
        /// The `index` of its invoke event.
        index: u64,
        /// What is wrong.
        message: String,
    },
    /// Bad options (an unknown model name, an unparsable initial value).
    #[error("{0}")]
    Usage(String),
}
