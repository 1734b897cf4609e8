//! Test helpers: transactions written compactly and turned into histories.

use serde_json::{json, Value};

use crate::history::{Event, EventKind, History, HistoryBuilder, Process};

/// A micro-op: `A(k, v)` append, `W(k, v)` write, `R(k, Some(list))` list read, `Rv(k, v)`
/// register read (`None` for null), `Ru(k)` a read of unknown result.
#[derive(Debug, Clone)]
pub enum M {
    A(&'static str, i64),
    W(&'static str, i64),
    R(&'static str, Vec<i64>),
    Rv(&'static str, Option<i64>),
    Ru(&'static str),
}

/// A transaction: process, invoke time, completion time, outcome, micro-ops.
#[derive(Debug, Clone)]
pub struct T {
    pub process: u64,
    pub call: u64,
    pub ret: u64,
    pub kind: EventKind,
    pub mops: Vec<M>,
}

/// An `ok` transaction.
pub fn ok(process: u64, call: u64, ret: u64, mops: Vec<M>) -> T {
    T { process, call, ret, kind: EventKind::Ok, mops }
}

/// A transaction with outcome `kind`.
pub fn ended(kind: EventKind, process: u64, call: u64, ret: u64, mops: Vec<M>) -> T {
    T { process, call, ret, kind, mops }
}

fn value(mops: &[M], done: bool) -> Value {
    Value::Array(
        mops.iter()
            .map(|m| match m {
                M::A(k, v) => json!(["append", k, v]),
                M::W(k, v) => json!(["w", k, v]),
                M::R(k, l) if done => json!(["r", k, l]),
                M::Rv(k, v) if done => json!(["r", k, v]),
                M::R(k, _) | M::Rv(k, _) | M::Ru(k) => json!(["r", k, null]),
            })
            .collect(),
    )
}

/// The events of `txns`, ordered by time (invokes before completions at equal times).
pub fn events(txns: &[T]) -> Vec<Event> {
    let mut evs: Vec<(u64, u8, usize)> = Vec::new();
    for (i, t) in txns.iter().enumerate() {
        evs.push((t.call, 0, i));
        if t.kind != EventKind::Info {
            evs.push((t.ret, 1, i));
        }
    }
    evs.sort();
    evs.iter()
        .enumerate()
        .map(|(index, &(time, c, i))| {
            let t = &txns[i];
            let kind = if c == 0 { EventKind::Invoke } else { t.kind };
            Event {
                index: index as u64,
                kind,
                process: Process::Client(t.process),
                f: "txn".into(),
                key: None,
                value: value(&t.mops, kind == EventKind::Ok),
                time,
                error: None,
                node: None,
                term: None,
            }
        })
        .collect()
}

/// The history of `txns`.
pub fn history(txns: &[T]) -> History {
    let mut b = HistoryBuilder::default();
    for (line, e) in events(txns).into_iter().enumerate() {
        b.push(line + 1, e).unwrap();
    }
    b.finish()
}

/// A generated operation as a compact transaction (for planting anomalies into it).
pub fn from_op(op: &crate::history::Operation) -> T {
    let v = if op.output.is_null() { &op.input } else { &op.output };
    let name = |k: &Value| -> &'static str { Box::leak(k.to_string().into_boxed_str()) };
    let mops = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let (f, k, x) = (m[0].as_str().unwrap(), name(&m[1]), &m[2]);
            match f {
                "append" => M::A(k, x.as_i64().unwrap()),
                "w" => M::W(k, x.as_i64().unwrap()),
                _ if x.is_array() => {
                    M::R(k, x.as_array().unwrap().iter().map(|e| e.as_i64().unwrap()).collect())
                }
                _ => M::Rv(k, x.as_i64()),
            }
        })
        .collect();
    let kind = match op.outcome {
        crate::history::Outcome::Ok => EventKind::Ok,
        crate::history::Outcome::Fail => EventKind::Fail,
        crate::history::Outcome::Unknown => EventKind::Info,
    };
    T { process: op.process, call: op.call, ret: op.ret.unwrap_or(op.call), kind, mops }
}
