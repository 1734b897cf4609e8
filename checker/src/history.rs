//! The history: events as recorded (one JSON object a line, `docs/history-format.md`) and operations as the
//! checker sees them (an invoke paired with its completion).
//!
//! ```text
//!   history.jsonl ──parse──▶ Event* ──History::from_events──▶ History { ops, nemesis }
//!                                         (pairs invoke/completion per process)
//! ```
//!
//! Semantics of a completion, as in Jepsen:
//! - `ok`: the operation took effect, at one instant between its invoke and its completion.
//! - `fail`: it certainly did not take effect.
//! - `info`: unknown — it may take effect at any instant after its invoke, or never. A process
//!   that got `info` never issues again.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{shown, HistoryError};

/// The `error` of an `ok` read whose value is not known (Knossos's `nil` read): it
/// constrains nothing. The EDN reader gives it to `:ok :read` ops with a `nil` value.
pub const VALUE_UNKNOWN: &str = "value-unknown";

/// Functions whose completion, when it has a value, must repeat the invoke's.
const ECHOED: [&str; 3] = ["write", "put", "append"];

/// The kind of a history event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The operation was invoked.
    Invoke,
    /// It completed and took effect.
    Ok,
    /// It completed and certainly did not take effect.
    Fail,
    /// Its outcome is unknown (or, for the nemesis, an informational event).
    Info,
}

/// Who issued an event: a client process (a number) or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process; numbers are never reused after an `info`.
    Client(u64),
    /// The fault injector.
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(n) => s.serialize_u64(*n),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Num(u64),
            Str(String),
        }
        match Repr::deserialize(d)? {
            Repr::Num(n) => Ok(Process::Client(n)),
            Repr::Str(s) if s == "nemesis" => Ok(Process::Nemesis),
            Repr::Str(s) => s.parse().map(Process::Client).map_err(|_| {
                serde::de::Error::custom(format!(
                    "process must be a non-negative integer or \"nemesis\", got {s:?}"
                ))
            }),
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(n) => write!(f, "{n}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

/// One line of `history.jsonl`. Unknown fields are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history, from 0.
    pub index: u64,
    /// invoke / ok / fail / info.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The client process, or the nemesis.
    pub process: Process,
    /// The function: `read`, `write`, `cas`, `get`, `put`, `append`, ... or a nemesis action.
    pub f: String,
    /// The key, for keyed workloads (strings; integers are accepted and turned into strings).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_key")]
    pub key: Option<String>,
    /// The value: the argument on invoke, the result on `ok` (see `docs/history-format.md` per model).
    #[serde(default)]
    pub value: Value,
    /// Nanoseconds since the start of the run, from the recorder's monotonic clock.
    pub time: u64,
    /// A short machine-readable reason, on `fail` / `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// On completions: the node that answered, where the client knows it (the checker
    /// ignores it; the report shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// On completions: that node's term, where the system reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
}

fn de_key<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "key must be a string or an integer, got {other}"
        ))),
    }
}

/// How an operation ended (Jepsen's ok / fail / info).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Took effect at one instant within `[call, ret]`.
    Ok,
    /// Certainly did not take effect.
    Fail,
    /// May take effect at any instant after `call`, or never (`info`, or never completed).
    Unknown,
}

/// An operation: an invoke and its completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Position in [`History::ops`] (ops are ordered by invoke).
    pub id: usize,
    /// The client process that issued it.
    pub process: u64,
    /// The function (`read`, `write`, `cas`, `get`, `put`, `append`, ...).
    pub f: String,
    /// The key, if the workload is keyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The invoke's value (the argument).
    pub input: Value,
    /// The completion's value (the result) when `ok`; otherwise null.
    pub output: Value,
    /// ok / fail / unknown.
    pub outcome: Outcome,
    /// Invoke time.
    pub call: u64,
    /// Completion time, when there was a completion (also for `info`, for display only: an
    /// `info` operation may still take effect after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ret: Option<u64>,
    /// `index` of the invoke event.
    pub invoke_index: u64,
    /// `index` of the completion event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_index: Option<u64>,
    /// The completion's `error`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The node that answered the completion, where recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// That node's term, where recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    /// The line of the invoke event in the input (for errors; 0 when unknown).
    #[serde(default)]
    pub invoke_line: usize,
    /// The line of the completion event, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_line: Option<usize>,
}

impl Operation {
    /// Who answered, for people: `n2 (term 3)`, `n2`, or `None` when not recorded.
    pub fn served(&self) -> Option<String> {
        let node = self.node.as_ref()?;
        Some(match self.term {
            Some(t) => format!("{node} (term {t})"),
            None => node.clone(),
        })
    }
    /// The instant after which the operation can no longer take effect (`u64::MAX` when it
    /// may take effect at any time after its invoke).
    pub fn deadline(&self) -> u64 {
        match (self.outcome, self.ret) {
            (Outcome::Ok, Some(t)) => t,
            _ => u64::MAX,
        }
    }
}

/// A whole history: client operations (by invoke order) and the nemesis' events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Client operations, ordered by invoke; `ops[i].id == i`.
    pub ops: Vec<Operation>,
    /// Events of the nemesis, in order.
    pub nemesis: Vec<Event>,
}

impl History {
    /// Pairs invokes with completions. `source` names the input in errors.
    ///
    /// Invokes still pending at the end become [`Outcome::Unknown`].
    ///
    /// # Errors
    /// A completion without an invoke, a second invoke while one is pending, a process that
    /// invokes again after `info`, times that go backwards, an `index` seen before, or a
    /// completion whose function, key or (for a write) value differs from its invoke's.
    pub fn from_events<I>(events: I) -> Result<History, HistoryError>
    where
        I: IntoIterator<Item = Result<(usize, Event), HistoryError>>,
    {
        let mut builder = HistoryBuilder::default();
        for item in events {
            let (line, event) = item?;
            builder.push(line, event)?;
        }
        Ok(builder.finish())
    }

    /// The events again, as `history.jsonl` holds them: each operation's
    /// invoke and completion (none for one that never completed) with their original indexes,
    /// times, errors and nodes, and the nemesis events, ordered by time (then index). Reading
    /// them back gives this history.
    pub fn to_events(&self) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::with_capacity(self.ops.len() * 2 + self.nemesis.len());
        for op in &self.ops {
            let event = |index, kind, value, time| Event {
                index,
                kind,
                process: Process::Client(op.process),
                f: op.f.clone(),
                key: op.key.clone(),
                value,
                time,
                error: None,
                node: None,
                term: None,
            };
            out.push(event(op.invoke_index, EventKind::Invoke, op.input.clone(), op.call));
            if let (Some(index), Some(time)) = (op.complete_index, op.ret) {
                let (kind, value) = match op.outcome {
                    Outcome::Ok => (EventKind::Ok, op.output.clone()),
                    Outcome::Fail => (EventKind::Fail, Value::Null),
                    Outcome::Unknown => (EventKind::Info, Value::Null),
                };
                out.push(Event {
                    error: op.error.clone(),
                    node: op.node.clone(),
                    term: op.term,
                    ..event(index, kind, value, time)
                });
            }
        }
        out.extend(self.nemesis.iter().cloned());
        out.sort_by_key(|e| (e.time, e.index));
        out
    }
}

/// Builds a [`History`] one event at a time (used by the readers, which stream).
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    history: History,
    /// process -> index in `history.ops` of its pending invoke.
    pending: rustc_hash::FxHashMap<u64, usize>,
    /// processes that got `info` and so must never issue again.
    retired: rustc_hash::FxHashSet<u64>,
    /// `index` values seen, and the line of each.
    indexes: Indexes,
    last_time: u64,
}

impl HistoryBuilder {
    /// Adds one event read at `line` (1-based, for errors).
    ///
    /// # Errors
    /// See [`History::from_events`].
    pub fn push(&mut self, line: usize, e: Event) -> Result<(), HistoryError> {
        if e.time < self.last_time {
            return Err(HistoryError::at(
                line,
                "time",
                format!("time {} is before the previous event's {}", e.time, self.last_time),
            ));
        }
        self.last_time = e.time;
        if let Some(first) = self.indexes.insert(e.index, line) {
            return Err(HistoryError::at(
                line,
                "index",
                format!("index {} is already used on line {first}", e.index),
            ));
        }
        let p = match e.process {
            Process::Nemesis => {
                self.history.nemesis.push(e);
                return Ok(());
            }
            Process::Client(p) => p,
        };
        match e.kind {
            EventKind::Invoke => {
                if self.pending.contains_key(&p) {
                    return Err(HistoryError::at(
                        line,
                        "process",
                        format!(
                            "process {p} invoked again before its previous operation completed"
                        ),
                    ));
                }
                if self.retired.contains(&p) {
                    return Err(HistoryError::at(
                        line,
                        "process",
                        format!("process {p} invoked after an info completion (it must use a new process number)"),
                    ));
                }
                let id = self.history.ops.len();
                self.pending.insert(p, id);
                self.history.ops.push(Operation {
                    id,
                    process: p,
                    f: e.f,
                    key: e.key,
                    input: e.value,
                    output: Value::Null,
                    outcome: Outcome::Unknown,
                    call: e.time,
                    ret: None,
                    invoke_index: e.index,
                    complete_index: None,
                    error: None,
                    node: None,
                    term: None,
                    invoke_line: line,
                    complete_line: None,
                });
            }
            kind => {
                let Some(id) = self.pending.remove(&p) else {
                    return Err(HistoryError::at(
                        line,
                        "process",
                        format!("completion for process {p}, which has no pending invoke"),
                    ));
                };
                let op = &mut self.history.ops[id];
                let invoked = op.invoke_line;
                if op.f != e.f {
                    return Err(HistoryError::at(
                        line,
                        "f",
                        format!(
                            "completion f {} does not match the f {} of its invoke on line {invoked}",
                            shown(&format!("{:?}", e.f)),
                            shown(&format!("{:?}", op.f))
                        ),
                    ));
                }
                if e.key.is_some() && e.key != op.key {
                    return Err(HistoryError::at(
                        line,
                        "key",
                        format!(
                            "completion key {} does not match the key {} of its invoke on line {invoked}",
                            shown(&format!("{:?}", e.key.as_deref().unwrap_or(""))),
                            shown(&format!("{:?}", op.key.as_deref().unwrap_or("")))
                        ),
                    ));
                }
                if ECHOED.contains(&op.f.as_str()) && !e.value.is_null() && e.value != op.input {
                    return Err(HistoryError::at(
                        line,
                        "value",
                        format!(
                            "completion value {} of a {} does not match the value {} of its invoke on line {invoked}",
                            shown(&e.value),
                            op.f,
                            shown(&op.input)
                        ),
                    ));
                }
                op.complete_line = Some(line);
                op.ret = Some(e.time);
                op.complete_index = Some(e.index);
                op.error = e.error;
                op.node = e.node;
                op.term = e.term;
                match kind {
                    EventKind::Ok => {
                        op.outcome = Outcome::Ok;
                        op.output = e.value;
                    }
                    EventKind::Fail => op.outcome = Outcome::Fail,
                    _ => {
                        op.outcome = Outcome::Unknown;
                        self.retired.insert(p);
                    }
                }
            }
        }
        Ok(())
    }

    /// Finishes: pending invokes stay [`Outcome::Unknown`].
    pub fn finish(self) -> History {
        self.history
    }
}

/// The `index` values seen so far and the line of each: a dense table while the indexes stay
/// near the number of events (as they do: 0, 1, 2, ...; 4 bytes an event), a map for the rest.
#[derive(Debug, Default)]
struct Indexes {
    /// `dense[i]` is the line of index `i` (capped at `u32::MAX`), 0 when unseen.
    dense: Vec<u32>,
    sparse: rustc_hash::FxHashMap<u64, usize>,
    count: usize,
}

impl Indexes {
    /// Records `index` at `line`; the line it was first seen on, if it was.
    fn insert(&mut self, index: u64, line: usize) -> Option<usize> {
        self.count += 1;
        let short = u32::try_from(line).unwrap_or(u32::MAX).max(1);
        let dense_limit = 4 * self.count as u64 + 4096;
        match usize::try_from(index) {
            Ok(i) if index < dense_limit => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, 0);
                }
                let first = std::mem::replace(&mut self.dense[i], short);
                if first != 0 {
                    self.dense[i] = first;
                    return Some(first as usize);
                }
                self.sparse.get(&index).copied()
            }
            _ => match self.sparse.entry(index) {
                std::collections::hash_map::Entry::Occupied(o) => Some(*o.get()),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(line.max(1));
                    None
                }
            },
        }
    }
}

/// A time for people: nanoseconds as ms or s; small numbers (event indices) as they are.
pub(crate) fn show_time(t: u64) -> String {
    if t >= 1_000_000_000 {
        format!("{:.3}s", t as f64 / 1e9)
    } else if t >= 1_000_000 {
        format!("{:.3}ms", t as f64 / 1e6)
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_index_is_found_dense_or_sparse() {
        let mut ix = Indexes::default();
        assert_eq!(ix.insert(0, 1), None);
        assert_eq!(ix.insert(1 << 60, 2), None);
        assert_eq!(ix.insert(7, 3), None);
        assert_eq!(ix.insert(7, 4), Some(3));
        assert_eq!(ix.insert(1 << 60, 5), Some(2));
        assert_eq!(ix.insert(0, 6), Some(1));
        // Seen while sparse, repeated once the dense table reaches it.
        let mut ix = Indexes::default();
        assert_eq!(ix.insert(5000, 1), None);
        for i in 0..2000 {
            assert_eq!(ix.insert(i, 2), None);
        }
        assert_eq!(ix.insert(5000, 9), Some(1));
    }
}
