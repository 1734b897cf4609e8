//! Errors of the checker: bad input (with where it is) and bad models or options.
//!
//! Every message that quotes input goes through [`shown`], so a hostile 10 MB value is cut to
//! its first and last characters and its size, never echoed whole.
//!
//! Each variant's `Display` is the whole message (file, line, field, cause) and none has an
//! error `source`: a chain printer (`anyhow`'s `{:#}`) would otherwise print the cause twice.

use thiserror::Error;

/// The most characters of one quoted input value in an error message.
pub const MAX_SHOWN: usize = 120;

/// The most characters of a whole error message about input (several quoted values).
const MAX_MESSAGE: usize = 8 * MAX_SHOWN;

/// `text` cut to at most `max` characters: its head and tail around `…(N bytes)…`.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let half = max / 2;
    let head: String = text.chars().take(half).collect();
    let tail: Vec<char> = text.chars().rev().take(half).collect();
    let tail: String = tail.into_iter().rev().collect();
    format!("{head}…({} bytes)…{tail}", text.len())
}

/// An input value as quoted in an error message: its `Display`, cut to [`MAX_SHOWN`].
pub fn shown(value: &impl std::fmt::Display) -> String {
    cut(&value.to_string(), MAX_SHOWN)
}

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
    /// An error at `line` in `field`; a message longer than a few quoted values is cut.
    pub fn at(line: usize, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let message =
            if message.len() > MAX_MESSAGE { cut(&message, MAX_MESSAGE) } else { message };
        HistoryError { line, field: cut(field, MAX_SHOWN), message }
    }
}

/// An error reading or checking a history.
#[derive(Debug, Error)]
pub enum CheckError {
    /// The input could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        error: std::io::Error,
    },
    /// The input is malformed.
    #[error("{path}: {error}")]
    Parse {
        /// The file.
        path: String,
        /// What and where.
        error: HistoryError,
    },
    /// An operation does not fit the chosen model (unknown `f`, wrong value shape). The
    /// message starts with the line and field (see `models::bad_field`).
    #[error("operation {op} (history index {index}): {message}")]
    Model {
        /// The operation's id.
        op: usize,
        /// The `index` of its invoke event.
        index: u64,
        /// Where and what is wrong.
        message: String,
    },
    /// Bad options (an unknown model name, an unparsable initial value).
    #[error("{0}")]
    Usage(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_short_ones_kept() {
        assert_eq!(cut("abc", 10), "abc");
        let long = "x".repeat(10_000_000);
        let c = cut(&long, MAX_SHOWN);
        assert!(c.len() < 2 * MAX_SHOWN, "{}", c.len());
        assert!(c.contains("(10000000 bytes)"), "{c}");
        let e = HistoryError::at(3, "value", format!("bad {long}"));
        assert!(e.to_string().len() < 2 * MAX_MESSAGE);
        assert!(e.to_string().starts_with("line 3, field `value`: bad xxx"));
    }

    #[test]
    fn a_parse_error_says_its_cause_once() {
        let e = CheckError::Parse { path: "h.jsonl".into(), error: HistoryError::at(2, "f", "x") };
        assert_eq!(format!("{:#}", anyhow_like(&e)), "h.jsonl: line 2, field `f`: x");
        let e = CheckError::Io { path: "h".into(), error: std::io::ErrorKind::NotFound.into() };
        assert!(std::error::Error::source(&e).is_none());
    }

    /// What `anyhow`'s `{:#}` prints: the error, then `: cause` for each source.
    fn anyhow_like(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            out.push_str(&format!(": {c}"));
            cause = c.source();
        }
        out
    }
}
