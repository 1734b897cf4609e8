//! The result of a transactional check: the anomalies found (each with its transactions,
//! its edges and an explanation in words), the consistency models they rule out, and
//! whether the chosen model holds.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::txn::graph::EdgeKind;
use crate::txn::names::{Anomaly, ConsistencyModel, TxnModel};

/// The most reports kept per anomaly type (all are counted).
pub const MAX_REPORTED: usize = 8;

/// A transaction named in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TxnRef {
    /// How the explanation names it: `T` and the history index of its invoke.
    pub name: String,
    /// Its operation's id in the history.
    pub op: usize,
    /// The history index of its invoke.
    pub index: u64,
    /// Its process.
    pub process: u64,
    /// The line of its completion (or invoke) in the input.
    pub line: usize,
    /// Its micro-ops as completed (as invoked when it did not complete `ok`).
    pub value: Value,
}

/// An edge of a cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeReport {
    /// The source transaction's name.
    pub from: String,
    /// The target transaction's name.
    pub to: String,
    /// ww, wr, rw, process or realtime.
    pub kind: EdgeKind,
    /// The key, for dependencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The value that justifies it, for dependencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// One anomaly found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// Its type.
    pub anomaly: Anomaly,
    /// The transactions involved (for a cycle, in cycle order).
    pub txns: Vec<TxnRef>,
    /// For a cycle, its edges in order (the last returns to the first transaction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<EdgeReport>,
    /// What happened, in words.
    pub explanation: String,
}

/// Counts of the input.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TxnCounts {
    /// Transactions.
    pub txns: usize,
    /// Committed.
    pub ok: usize,
    /// Failed.
    pub fail: usize,
    /// Unknown.
    pub info: usize,
    /// Distinct keys.
    pub keys: usize,
    /// Edges of the dependency graph (after removing repeats).
    pub edges: usize,
    /// Strongly connected components of more than one transaction.
    pub sccs: usize,
}

/// The result of a transactional check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TxnResult {
    /// list-append or rw-register.
    pub model: TxnModel,
    /// The model the history was checked against.
    pub consistency_model: ConsistencyModel,
    /// Whether the history satisfies it (as far as the checker can tell: no anomaly found
    /// that the model forbids).
    pub valid: bool,
    /// The anomaly types found, in the order of [`Anomaly::ALL`].
    pub anomaly_types: Vec<Anomaly>,
    /// How many of each were found.
    pub anomaly_counts: BTreeMap<String, usize>,
    /// Up to [`MAX_REPORTED`] reports of each type.
    pub anomalies: Vec<Found>,
    /// The models the anomalies rule out, strongest first.
    pub not: Vec<ConsistencyModel>,
    /// Counts of the input and the graph.
    pub counts: TxnCounts,
    /// Wall time of the check, in microseconds.
    pub micros: u64,
}

impl TxnResult {
    /// Whether nothing was checked: no transaction committed.
    pub fn is_vacuous(&self) -> bool {
        self.counts.ok == 0
    }
}

/// Anomalies as they are found: all counted, the first few kept.
#[derive(Debug, Default)]
pub struct Findings {
    by: BTreeMap<Anomaly, (usize, Vec<Found>)>,
}

impl Findings {
    /// Counts one anomaly of type `a`; builds its report only while few are kept.
    pub fn add(&mut self, a: Anomaly, report: impl FnOnce() -> Found) {
        let (n, kept) = self.by.entry(a).or_default();
        *n += 1;
        if kept.len() < MAX_REPORTED {
            kept.push(report());
        }
    }

    /// The types found, the counts and the reports.
    pub fn finish(self) -> (Vec<Anomaly>, BTreeMap<String, usize>, Vec<Found>) {
        let types = self.by.keys().copied().collect();
        let counts = self.by.iter().map(|(a, (n, _))| (a.name().to_string(), *n)).collect();
        let reports = self.by.into_values().flat_map(|(_, v)| v).collect();
        (types, counts, reports)
    }
}
