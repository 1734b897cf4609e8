//! Readers of history files: faultline's JSONL, Porcupine's two test-data formats, and
//! Jepsen/Knossos EDN. Each streams its input and names the line and field of any error.
//!
//! # Layout
//! - [`jsonl`]: the native format (`docs/history-format.md`).
//! - [`edn`]: a small EDN reader, and Jepsen/Knossos histories (a vector of op maps, or one
//!   map per line — which also covers Porcupine's `kv/*.txt`).
//! - [`porcupine`]: Porcupine's `jepsen/etcd_*.log` (`INFO jepsen.util - ...` lines).
//!
//! # Bounds
//! Input may be hostile (`faultline serve` checks posted histories), so every reader is
//! bounded: one event (a JSONL or log line, an EDN op map) may take at most
//! [`MAX_EVENT_BYTES`], values nest at most [`MAX_DEPTH`] deep, and nothing recurses without
//! that limit. A UTF-8 byte order mark at the start is skipped.

pub mod edn;
pub mod jsonl;
pub mod porcupine;

pub(crate) use lines::Lines;

mod lines;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use crate::error::CheckError;
use crate::history::History;

/// The most bytes one event may take: a JSONL or log line, or an EDN op map.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// The deepest nesting of values (as `serde_json`'s own recursion limit).
pub const MAX_DEPTH: usize = 128;

/// The UTF-8 byte order mark, skipped at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Decide from the first non-blank line.
    Auto,
    /// faultline's JSON Lines.
    Jsonl,
    /// Jepsen/Knossos EDN (and Porcupine's kv files).
    Edn,
    /// Porcupine's `jepsen/etcd_*.log`.
    JepsenLog,
}

impl Format {
    /// The format in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Auto => "any format",
            Format::Jsonl => "faultline JSONL",
            Format::Edn => "Jepsen/Knossos EDN",
            Format::JepsenLog => "a Porcupine jepsen log",
        }
    }
}

impl FromStr for Format {
    type Err = CheckError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Format::Auto),
            "jsonl" | "json" => Ok(Format::Jsonl),
            "edn" | "knossos" | "jepsen" | "porcupine-kv" => Ok(Format::Edn),
            "jepsen-log" | "porcupine-jepsen" | "log" => Ok(Format::JepsenLog),
            other => Err(CheckError::Usage(format!(
                "unknown format {other:?}: expected auto, jsonl, edn or jepsen-log"
            ))),
        }
    }
}

/// Guesses the format from the first non-blank line.
pub fn detect(first_line: &str) -> Format {
    let t = first_line.trim_start();
    if t.starts_with("INFO") || t.contains("jepsen.util") {
        Format::JepsenLog
    } else if t.starts_with("{\"") || t.starts_with("{ \"") || t.starts_with("{}") {
        Format::Jsonl
    } else {
        Format::Edn
    }
}

/// Reads a history file.
///
/// # Errors
/// [`CheckError::Io`] when it cannot be read, [`CheckError::Parse`] (file, line, field) when
/// it is malformed.
pub fn read_path(path: &Path, format: Format) -> Result<History, CheckError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|error| CheckError::Io { path: name.clone(), error })?;
    read(BufReader::new(file), format, &name)
}

/// Reads a history from `input`; `name` is used in errors.
///
/// # Errors
/// As [`read_path`].
pub fn read<R: Read>(input: R, format: Format, name: &str) -> Result<History, CheckError> {
    let io = |error| CheckError::Io { path: name.to_string(), error };
    let mut reader = BufReader::new(input);
    let buf = reader.fill_buf().map_err(io)?;
    if buf.starts_with(BOM) {
        reader.consume(BOM.len());
    }
    let guessed = format == Format::Auto;
    let format = if guessed {
        // Detection looks at a bounded prefix: what one fill of the buffer gives.
        let buf = reader.fill_buf().map_err(io)?;
        let head = String::from_utf8_lossy(&buf[..buf.len().min(4096)]).to_string();
        let first = head.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        detect(first)
    } else {
        format
    };
    let read = match format {
        Format::Jsonl | Format::Auto => jsonl::read(reader),
        Format::JepsenLog => porcupine::read_log(reader),
        Format::Edn => edn::read_history(reader),
    };
    read.map_err(|e| match e {
        // Say what the file was taken for, so a wrong guess is seen as one.
        ReadError::Parse(mut e) if guessed => {
            e.message = format!(
                "{} (read as {}, guessed from its first line; --format jsonl, edn or jepsen-log \
                 picks the format)",
                e.message,
                format.describe()
            );
            ReadError::Parse(e).into_check(name)
        }
        e => e.into_check(name),
    })
}

/// An error of a streaming reader: I/O, or content at a line.
#[derive(Debug)]
pub enum ReadError {
    /// Reading failed.
    Io(std::io::Error),
    /// The content is malformed.
    Parse(crate::error::HistoryError),
}

impl ReadError {
    pub(crate) fn into_check(self, name: &str) -> CheckError {
        match self {
            ReadError::Io(error) => CheckError::Io { path: name.to_string(), error },
            ReadError::Parse(error) => CheckError::Parse { path: name.to_string(), error },
        }
    }
}

impl From<crate::error::HistoryError> for ReadError {
    fn from(e: crate::error::HistoryError) -> Self {
        ReadError::Parse(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An endless input (its pattern repeated) that counts the bytes taken from it.
    struct Endless {
        pattern: Vec<u8>,
        at: usize,
        taken: u64,
    }

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            for b in out.iter_mut() {
                *b = self.pattern[self.at];
                self.at = (self.at + 1) % self.pattern.len();
            }
            self.taken += out.len() as u64;
            Ok(out.len())
        }
    }

    /// What any reader may take of an input before it must have given up on it.
    const BOUND: u64 = 2 * MAX_EVENT_BYTES as u64 + (1 << 20);

    fn read_endless(pattern: &[u8], format: Format) -> (Result<History, CheckError>, u64) {
        let mut input = Endless { pattern: pattern.to_vec(), at: 0, taken: 0 };
        let r = read(&mut input, format, "endless");
        (r, input.taken)
    }

    #[test]
    fn endless_inputs_are_refused_after_a_bounded_read() {
        // `/dev/zero`, a file of `[` or of blanks in a comment, under each format.
        for (pattern, format) in [
            (&b"\0"[..], Format::Auto),
            (b"\0", Format::Edn),
            (b"x", Format::Jsonl),
            (b"x", Format::JepsenLog),
            (b"[", Format::Edn),
            (b"{:a ", Format::Edn),
            (b"\"abc", Format::Edn),
        ] {
            let (r, taken) = read_endless(pattern, format);
            assert!(r.is_err(), "{pattern:?} {format:?}");
            assert!(taken <= BOUND, "{pattern:?} {format:?}: read {taken} bytes");
        }
    }

    const JSONL: &str =
        "{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1,\"time\":0}\n";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// No endless input makes a reader hold more than a bounded part of it: garbage is
        /// refused, and input that never forms an op cannot grow memory.
        #[test]
        fn endless_garbage_is_read_with_bounded_memory(
            pattern in proptest::collection::vec(
                prop::sample::select(b"{[(#_:\\\" ,xn0".to_vec()), 1..6),
            format in prop::sample::select(vec![Format::Auto, Format::Edn, Format::Jsonl]),
        ) {
            // (Endless blanks are an endless empty history, not garbage.)
            prop_assume!(pattern.iter().any(|b| !b" ,".contains(b)));
            let (r, taken) = read_endless(&pattern, format);
            prop_assert!(r.is_err(), "{:?} {:?}", pattern, format);
            prop_assert!(taken <= BOUND, "{:?} {:?}: read {} bytes", pattern, format, taken);
        }
    }

    #[test]
    fn edn_ops_comments_and_strings_across_chunk_boundaries() {
        // Ops after a comment and inside a string longer than the reader's chunks.
        let long = "y".repeat(200_000);
        let text = format!(
            "; {long}\n[{{:type :invoke, :f :write, :value \"{long}\", :process 0}}\n\
             {{:type :ok, :f :write, :value \"{long}\", :process 0}}]\n; {long}"
        );
        let h = read(text.as_bytes(), Format::Edn, "h.edn").unwrap();
        assert_eq!(h.ops.len(), 1);
        assert_eq!(h.ops[0].input.as_str().map(str::len), Some(200_000));
        // Errors still name their line after a window moved on.
        let text = format!("; {long}\n\n{{:type :invoke, :f :read, :process -1}}");
        let e = read(text.as_bytes(), Format::Edn, "h.edn").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains(":process"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_skipped_before_detection() {
        let with_bom = [BOM, JSONL.as_bytes()].concat();
        let h = read(&with_bom[..], Format::Auto, "h").unwrap();
        assert_eq!(h.ops.len(), 1);
        let log = [BOM, &b"INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"[..]].concat();
        assert_eq!(read(&log[..], Format::Auto, "h").unwrap().ops.len(), 1);
    }

    #[test]
    fn non_utf8_edn_names_its_line() {
        match read(&b"{:type :invoke}\n{:f \"\xff\"}"[..], Format::Edn, "h.edn") {
            Err(e @ CheckError::Parse { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "h.edn: line 2, field `-`: not UTF-8 (at byte 5 of the line)"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn completions_must_repeat_their_invokes() {
        let ev = |i: u64, kind: &str, f: &str, key: &str, v: &str| {
            format!("{{\"index\":{i},\"type\":\"{kind}\",\"process\":0,\"f\":\"{f}\",\"key\":\"{key}\",\"value\":{v},\"time\":{i}}}\n")
        };
        let bad = [
            (ev(0, "invoke", "put", "a", "\"x\"") + &ev(1, "ok", "put", "b", "\"x\""), "`key`"),
            (
                ev(0, "invoke", "append", "a", "\"x\"") + &ev(1, "info", "append", "a", "\"y\""),
                "`value`",
            ),
            (ev(0, "invoke", "put", "a", "\"x\"") + &ev(1, "ok", "get", "a", "\"x\""), "`f`"),
        ];
        for (text, field) in bad {
            let e = read(text.as_bytes(), Format::Jsonl, "h").unwrap_err().to_string();
            assert!(e.contains(&format!("line 2, field {field}")) && e.contains("line 1"), "{e}");
        }
        // A completion without a value, or with the same one, is fine; so are reads.
        let ok = ev(0, "invoke", "put", "a", "\"x\"")
            + &ev(1, "ok", "put", "a", "null")
            + &ev(2, "invoke", "get", "a", "null")
            + &ev(3, "ok", "get", "a", "\"x\"");
        read(ok.as_bytes(), Format::Jsonl, "h").unwrap();
    }
}
