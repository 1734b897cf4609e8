//! faultline's JSON Lines history (`docs/history-format.md`): one event a line, streamed.
//! Unknown fields are ignored; errors name the line and the field.

use std::io::BufRead;
use std::path::Path;

use serde_json::Value;

use crate::error::{shown, CheckError, HistoryError};
use crate::formats::{Lines, ReadError};
use crate::history::{Event, History, HistoryBuilder};

/// Reads a JSONL history file.
///
/// # Errors
/// As [`crate::formats::read_path`].
pub fn read_path(path: &Path) -> Result<History, CheckError> {
    crate::formats::read_path(path, crate::formats::Format::Jsonl)
}

/// Parses a JSONL history held in memory.
///
/// # Errors
/// [`CheckError::Parse`] naming the line and field.
pub fn parse_str(text: &str) -> Result<History, CheckError> {
    read(text.as_bytes()).map_err(|e| e.into_check("<input>"))
}

/// Reads JSONL from `input`, line by line.
///
/// # Errors
/// I/O errors, and malformed lines (with line number and field).
pub fn read<R: BufRead>(input: R) -> Result<History, ReadError> {
    let mut builder = HistoryBuilder::default();
    let mut lines = Lines::new(input);
    while let Some((n, line)) = lines.next_line()? {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let event = parse_line(t, n)?;
        builder.push(n, event)?;
    }
    Ok(builder.finish())
}

/// Parses one line into an [`Event`].
///
/// # Errors
/// A [`HistoryError`] naming `line` and the field at fault.
pub fn parse_line(text: &str, line: usize) -> Result<Event, HistoryError> {
    match serde_json::from_str::<Event>(text) {
        Ok(e) => Ok(e),
        Err(err) => Err(diagnose(text, line, &err)),
    }
}

/// Finds which field made `text` fail, for a precise message.
fn diagnose(text: &str, line: usize, err: &serde_json::Error) -> HistoryError {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return HistoryError::at(line, "-", format!("not valid JSON: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return HistoryError::at(line, "-", "expected a JSON object");
    };
    for (field, want) in [("index", "a non-negative integer"), ("time", "a non-negative integer")] {
        match obj.get(field) {
            None => return HistoryError::at(line, field, "missing"),
            Some(x) if x.as_u64().is_none() => {
                return HistoryError::at(line, field, format!("expected {want}, got {}", shown(x)))
            }
            _ => {}
        }
    }
    match obj.get("type") {
        None => return HistoryError::at(line, "type", "missing"),
        Some(Value::String(s)) if ["invoke", "ok", "fail", "info"].contains(&s.as_str()) => {}
        Some(x) => {
            return HistoryError::at(
                line,
                "type",
                format!("expected \"invoke\", \"ok\", \"fail\" or \"info\", got {}", shown(x)),
            )
        }
    }
    match obj.get("process") {
        None => return HistoryError::at(line, "process", "missing"),
        Some(Value::String(s)) if s == "nemesis" => {}
        Some(x) if x.as_u64().is_some() => {}
        Some(x) => {
            return HistoryError::at(
                line,
                "process",
                format!("expected a non-negative integer or \"nemesis\", got {}", shown(x)),
            )
        }
    }
    match obj.get("f") {
        None => return HistoryError::at(line, "f", "missing"),
        Some(Value::String(_)) => {}
        Some(x) => {
            return HistoryError::at(line, "f", format!("expected a string, got {}", shown(x)))
        }
    }
    if let Some(k) = obj.get("key") {
        if !(k.is_string() || k.is_u64() || k.is_i64() || k.is_null()) {
            return HistoryError::at(line, "key", format!("expected a string, got {}", shown(k)));
        }
    }
    if let Some(e) = obj.get("error") {
        if !(e.is_string() || e.is_null()) {
            return HistoryError::at(line, "error", format!("expected a string, got {}", shown(e)));
        }
    }
    HistoryError::at(line, "-", err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_line_and_field() {
        let bad = [
            (r#"{"index":0,"type":"invoke","process":1,"f":"read","time":-1}"#, "time"),
            (r#"{"index":0,"type":"start","process":1,"f":"read","time":1}"#, "type"),
            (r#"{"index":0,"type":"ok","process":"x","f":"read","time":1}"#, "process"),
            (r#"{"index":0,"type":"ok","process":1,"time":1}"#, "f"),
            (r#"{"index":0,"type":"ok","process":1,"f":"read","time":1,"key":[1]}"#, "key"),
            (r#"{"index":0,"type":"ok","#, "-"),
        ];
        for (text, field) in bad {
            let e = parse_line(text, 7).unwrap_err();
            assert_eq!((e.line, e.field.as_str()), (7, field), "{text}: {e}");
        }
    }

    #[test]
    fn unknown_fields_are_accepted_and_keys_may_be_integers() {
        let e = parse_line(
            r#"{"index":3,"type":"ok","process":2,"f":"read","key":7,"value":1,"time":5,"node":"n1"}"#,
            1,
        )
        .unwrap();
        assert_eq!(e.key.as_deref(), Some("7"));
    }

    proptest::proptest! {
        #[test]
        fn events_round_trip_through_a_line(
            index in 0u64..1 << 40, time in 0u64..1 << 60, kind in 0u8..4, p in proptest::option::of(0u64..1000),
            f in "[a-z-]{1,12}", key in proptest::option::of("[ -~]{0,12}"), v in proptest::option::of(-1000i64..1000),
            s in proptest::option::of("\\PC{0,16}"), error in proptest::option::of("[a-z-]{1,10}"),
        ) {
            use crate::history::{EventKind, Process};
            let value = match (v, s) {
                (Some(v), _) => serde_json::json!(v),
                (None, Some(s)) => serde_json::json!(s),
                (None, None) => serde_json::Value::Null,
            };
            let e = Event {
                index,
                kind: [EventKind::Invoke, EventKind::Ok, EventKind::Fail, EventKind::Info][kind as usize],
                process: p.map_or(Process::Nemesis, Process::Client),
                f, key, value, time, error,
                node: None,
                term: None,
            };
            let line = serde_json::to_string(&e).unwrap();
            proptest::prop_assert_eq!(parse_line(&line, 1).unwrap(), e);
        }
    }

    #[test]
    fn pairing_errors_name_the_line() {
        let text = "{\"index\":0,\"type\":\"ok\",\"process\":1,\"f\":\"read\",\"time\":1}\n";
        let e = parse_str(text).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("no pending invoke"), "{e}");
    }
}
