//! Per-node log excerpts around each fault.
//!
//! ```text
//!  nodes/<n>/node.log (tracing, RFC 3339 timestamps) ──parse time of each line──┐
//!  fault intervals (history ns) + start_unix_ns ─────────────────────────────────┴─▶ excerpts
//! ```
//! A line without a timestamp belongs to the line before it. Without the run's wall-clock
//! start, or when a log has no timestamps, only links to the full logs are given.

use std::path::Path;

use serde::Serialize;

use crate::explain::fmt_time;
use crate::nemesis::Interval;

/// Lines shown before a fault's start.
const BEFORE_NS: u64 = 500_000_000;
/// Lines shown after a fault's start.
const AFTER_NS: u64 = 1_500_000_000;
/// At most this many lines per excerpt.
const MAX_LINES: usize = 24;
/// Logs larger than this are read only up to it.
const MAX_LOG_BYTES: u64 = 64 << 20;

/// A node's full log, linked from the report.
#[derive(Debug, Clone, Serialize)]
pub struct NodeLog {
    /// The node's directory name (`n1`, ...).
    pub node: String,
    /// Link relative to the report.
    pub href: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Lines of one node's log around one fault.
#[derive(Debug, Clone, Serialize)]
pub struct Excerpt {
    /// The node.
    pub node: String,
    /// Link to the full log.
    pub href: String,
    /// `(is_after_fault_start, text)` per line.
    pub lines: Vec<(bool, String)>,
}

/// The excerpts for one fault.
#[derive(Debug, Clone, Serialize)]
pub struct FaultLogs {
    /// The fault's label.
    pub label: String,
    /// Its start, for people.
    pub at: String,
    /// One per node log with lines in the window.
    pub excerpts: Vec<Excerpt>,
}

struct Loaded {
    log: NodeLog,
    /// (unix ns, line) for every line; untimed lines carry the previous line's time.
    lines: Vec<(Option<u64>, String)>,
}

/// Lists node logs under `dir` (`<dir>/<node>/node.log`), ordered by node name.
pub fn list(dir: &Path, href: &str) -> Vec<NodeLog> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut logs: Vec<NodeLog> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let node = e.file_name().to_string_lossy().into_owned();
            let meta = std::fs::metadata(e.path().join("node.log")).ok()?;
            Some(NodeLog {
                href: format!("{}/{node}/node.log", href.trim_end_matches('/')),
                node,
                bytes: meta.len(),
            })
        })
        .collect();
    logs.sort_by_key(|l| natural(&l.node));
    logs
}

fn natural(s: &str) -> (String, u64) {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    (s.chars().filter(|c| !c.is_ascii_digit()).collect(), digits.parse().unwrap_or(0))
}

fn load(dir: &Path, log: NodeLog) -> Loaded {
    use std::io::Read;
    let mut text = String::new();
    if let Ok(f) = std::fs::File::open(dir.join(&log.node).join("node.log")) {
        let mut bytes = Vec::new();
        let _ = f.take(MAX_LOG_BYTES).read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut last = None;
    let lines = text
        .lines()
        .map(|l| {
            let l = strip_ansi(l);
            if let Some(t) = parse_rfc3339(l.trim_start()) {
                last = Some(t);
            }
            (last, l)
        })
        .collect();
    Loaded { log, lines }
}

/// Removes ANSI colour escapes (`ESC [ ... letter`), which tracing writes by default.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a leading `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into Unix nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut frac_ns: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        let mut padded: String = digits.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac_ns = padded.parse().ok()?;
    }
    let offset_s: i64 = match b.get(i) {
        Some(b'Z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    u64::try_from(secs).ok().map(|s| s * 1_000_000_000 + frac_ns as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The node logs under `dir`, and excerpts around each fault's start.
pub fn excerpts(
    dir: &Path,
    href: &str,
    faults: &[Interval],
    start_unix_ns: Option<u64>,
) -> (Vec<NodeLog>, Vec<FaultLogs>) {
    let logs = list(dir, href);
    let Some(start) = start_unix_ns else { return (logs, Vec::new()) };
    let loaded: Vec<Loaded> = logs.iter().cloned().map(|l| load(dir, l)).collect();
    let mut out = Vec::new();
    for f in faults {
        let at = start + f.start;
        let (lo, hi) = (at.saturating_sub(BEFORE_NS), at + AFTER_NS);
        let mut excerpts = Vec::new();
        for l in &loaded {
            let named = f.nodes.is_empty()
                || f.nodes
                    .iter()
                    .any(|n| *n == l.log.node || n.trim_start_matches('n') == l.log.node);
            if !named && !matches!(f.kind.as_str(), "partition" | "loss") {
                continue;
            }
            let window: Vec<&(Option<u64>, String)> =
                l.lines.iter().filter(|(t, _)| t.is_some_and(|t| t >= lo && t <= hi)).collect();
            if window.is_empty() {
                continue;
            }
            let before: Vec<_> = window.iter().filter(|(t, _)| t.is_some_and(|t| t < at)).collect();
            let skip = before.len().saturating_sub(MAX_LINES / 3);
            let lines = window
                .iter()
                .skip(skip)
                .take(MAX_LINES)
                .map(|(t, s)| (t.is_some_and(|t| t >= at), s.clone()))
                .collect();
            excerpts.push(Excerpt { node: l.log.node.clone(), href: l.log.href.clone(), lines });
        }
        out.push(FaultLogs { label: f.label.clone(), at: fmt_time(f.start), excerpts });
    }
    (logs, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tracing_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z  INFO x"), Some(1_500_000_000));
        assert_eq!(
            parse_rfc3339("2026-11-22T00:31:02.123456Z  INFO raft: became leader"),
            Some(1_795_307_462_123_456_000)
        );
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00 x"), Some(0));
        assert_eq!(parse_rfc3339("no time here"), None);
        assert_eq!(strip_ansi("\u{1b}[2m2026\u{1b}[0m x"), "2026 x");
    }
}
