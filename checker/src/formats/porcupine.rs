//! Porcupine's `test_data/jepsen/etcd_*.log`: `INFO  jepsen.util - <process> <type> <f>
//! <value>` lines (tabs or runs of spaces), read the way Porcupine's tests read them:
//! - `:fail :cas` is a cas that compared and did not match (an observation), so it is kept
//!   as a failure with error `cas-mismatch`;
//! - `:fail :read :timed-out` is a read with no answer (it constrains nothing);
//! - `:info` leaves the operation pending: it may take effect at any later time, or never.
//!
//! The line number is the event's time, as Porcupine uses the event index.

use std::io::BufRead;

use crate::error::{shown, HistoryError};
use crate::formats::edn::Parser;
use crate::formats::{Lines, ReadError};
use crate::history::{Event, EventKind, History, HistoryBuilder, Process};

/// Reads a Jepsen etcd log.
///
/// # Errors
/// I/O errors, and lines that do not match the format (with line and field).
pub fn read_log<R: BufRead>(input: R) -> Result<History, ReadError> {
    let mut builder = HistoryBuilder::default();
    let mut lines = Lines::new(input);
    let mut index = 0u64;
    while let Some((n, line)) = lines.next_line()? {
        if line.trim().is_empty() {
            continue;
        }
        let event = parse_line(line, n, index)?;
        builder.push(n, event)?;
        index += 1;
    }
    Ok(builder.finish())
}

fn parse_line(line: &str, n: usize, index: u64) -> Result<Event, HistoryError> {
    let rest = line.split_once("jepsen.util -").map(|(_, r)| r).ok_or_else(|| {
        HistoryError::at(n, "-", "expected `INFO jepsen.util - <process> <type> <f> <value>`")
    })?;
    let mut fields = rest.split_whitespace();
    let process: u64 = fields
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| HistoryError::at(n, "process", "expected a non-negative integer"))?;
    let kind = match fields.next() {
        Some(":invoke") => EventKind::Invoke,
        Some(":ok") => EventKind::Ok,
        Some(":fail") => EventKind::Fail,
        Some(":info") => EventKind::Info,
        other => {
            return Err(HistoryError::at(
                n,
                "type",
                format!("expected :invoke/:ok/:fail/:info, got {}", shown(&other.unwrap_or(""))),
            ))
        }
    };
    let f = fields
        .next()
        .and_then(|f| f.strip_prefix(':'))
        .ok_or_else(|| HistoryError::at(n, "f", "expected a keyword such as :read"))?
        .to_string();
    let value_text: Vec<&str> = fields.collect();
    let value_text = value_text.join(" ");
    let mut parser = Parser::new(&value_text);
    let value = parser
        .next_value()
        .map_err(|e| HistoryError::at(n, "value", e.message))?
        .map_or(serde_json::Value::Null, |v| v.to_json());
    if parser.next_value().map_err(|e| HistoryError::at(n, "value", e.message))?.is_some() {
        return Err(HistoryError::at(n, "value", "more than one value after the function"));
    }
    let timed_out = value == serde_json::Value::String("timed-out".into());
    let (value, error) = match kind {
        EventKind::Fail if f == "cas" => (value, Some("cas-mismatch".to_string())),
        EventKind::Fail | EventKind::Info if timed_out => {
            (serde_json::Value::Null, Some("timed-out".to_string()))
        }
        _ => (value, None),
    };
    Ok(Event {
        index,
        kind,
        process: Process::Client(process),
        f,
        key: None,
        value,
        time: index,
        error,
        node: None,
        term: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    #[test]
    fn reads_tabs_and_spaces_and_maps_fail_cas_to_mismatch() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n\
                    INFO  jepsen.util - 1   :invoke   :write   3\n\
                    INFO  jepsen.util - 0\t:fail\t:cas\t[1 2]\n\
                    INFO  jepsen.util - 1\t:info\t:write\t:timed-out\n";
        let h = read_log(text.as_bytes()).unwrap();
        assert_eq!(h.ops[0].outcome, Outcome::Fail);
        assert_eq!(h.ops[0].error.as_deref(), Some("cas-mismatch"));
        assert_eq!(h.ops[0].input, serde_json::json!([1, 2]));
        assert_eq!(h.ops[1].outcome, Outcome::Unknown);
        assert_eq!(h.ops[1].input, serde_json::json!(3));
    }

    #[test]
    fn bad_lines_name_the_field() {
        let e = match read_log("INFO  jepsen.util - x\t:invoke\t:read\tnil\n".as_bytes()) {
            Err(ReadError::Parse(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!((e.line, e.field.as_str()), (1, "process"));
    }

    #[test]
    fn deep_or_trailing_values_are_errors_naming_the_line() {
        let deep = format!("INFO  jepsen.util - 0\t:invoke\t:write\t{}\n", "[".repeat(10_000));
        let text = format!("INFO  jepsen.util - 1\t:invoke\t:read\tnil\n{deep}");
        let e = match read_log(text.as_bytes()) {
            Err(ReadError::Parse(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!((e.line, e.field.as_str()), (2, "value"), "{e}");
        assert!(e.message.contains("nested more than 128 deep"), "{e}");
        let e = match read_log("INFO  jepsen.util - 0\t:invoke\t:write\t1 2\n".as_bytes()) {
            Err(ReadError::Parse(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!((e.line, e.field.as_str()), (1, "value"), "{e}");
    }
}
