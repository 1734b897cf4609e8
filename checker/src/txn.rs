//! Transactional isolation checking, Elle-style (Kingsbury & Alvaro, VLDB 2020): infer
//! write-write, write-read and read-write dependencies between transactions from a
//! list-append or rw-register history, add process and real-time order, find cycles, name
//! each anomaly, and list the consistency models the history rules out.
//!
//! ```text
//!  History (f "txn") ──ops::Txns::read──▶ Txns (interned keys and values)
//!        │                                  │
//!        │              append::infer / register::infer ──▶ ww / wr / rw edges
//!        │                                  │                + non-cycle anomalies
//!        └──▶ process and real-time edges ──┤
//!                                           ▼
//!                       graph::Edges::build ──▶ Csr graph ──cycles::find──▶ cycles
//!                                                                  │
//!            names::ConsistencyModel::ruled_out ◀── anomaly types ◀─┘
//!                                           ▼
//!                                       TxnResult
//! ```
//!
//! # Layout
//! - [`names`]: the history models, anomaly names and consistency models (one name table
//!   each), and which model forbids which anomaly.
//! - [`ops`]: transactions and micro-ops over interned keys and values.
//! - [`append`], [`register`]: the two inferences.
//! - [`graph`]: edges, process and real-time order, the compressed graph.
//! - [`cycles`]: components, the constrained searches and the naming of cycles.
//! - [`explain`]: names and sentences; [`result`]: what a check returns.
//! - [`gen`]: histories of a simulated serializable store (benchmarks, tests).
//!
//! # Example
//! ```
//! use faultline_checker::formats::jsonl;
//! use faultline_checker::txn::{self, Anomaly, ConsistencyModel, TxnModel};
//! // T0 and T2 each read the key the other appends and miss the append: write skew.
//! let h = jsonl::parse_str(r#"{"index":0,"type":"invoke","process":0,"f":"txn","value":[["r","x",null],["append","y",1]],"time":0}
//! {"index":1,"type":"invoke","process":1,"f":"txn","value":[["r","y",null],["append","x",1]],"time":1}
//! {"index":2,"type":"ok","process":0,"f":"txn","value":[["r","x",[]],["append","y",1]],"time":2}
//! {"index":3,"type":"ok","process":1,"f":"txn","value":[["r","y",[]],["append","x",1]],"time":3}
//! "#).unwrap();
//! let r = txn::check(&h, TxnModel::ListAppend, ConsistencyModel::Serializable).unwrap();
//! assert!(!r.valid);
//! assert_eq!(r.anomaly_types, vec![Anomaly::G2Item]);
//! assert!(!r.not.contains(&ConsistencyModel::SnapshotIsolation));
//! ```

pub mod append;
pub mod cycles;
pub mod explain;
pub mod gen;
pub mod graph;
pub mod names;
pub mod ops;
pub mod register;
pub mod result;

#[cfg(test)]
mod brute_test;
#[cfg(test)]
mod planted_test;
#[cfg(test)]
mod testkit;

pub use names::{Anomaly, ConsistencyModel, TxnModel};
pub use result::{EdgeReport, Found, TxnCounts, TxnRef, TxnResult};

use crate::error::HistoryError;
use crate::history::History;
use explain::Ctx;
use graph::Edges;
use ops::{Status, Txns};
use result::Findings;

/// Checks a transactional history against `consistency`.
///
/// # Errors
/// Operations that are not transactions of `model` (naming the line and field), and, for
/// list-append, an element appended twice to one key.
pub fn check(
    history: &History,
    model: TxnModel,
    consistency: ConsistencyModel,
) -> Result<TxnResult, HistoryError> {
    // The check's duration is reported, never used to decide.
    #[allow(clippy::disallowed_methods)]
    let began = std::time::Instant::now();
    let txns = Txns::read(history, model)?;
    let ctx = Ctx { history, txns: &txns, model };
    let mut edges = Edges::default();
    let mut found = Findings::default();
    match model {
        TxnModel::ListAppend => append::infer(&ctx, &mut edges, &mut found)?,
        TxnModel::RwRegister => register::infer(&ctx, &mut edges, &mut found),
    }
    edges.add_process(history, &txns);
    edges.add_realtime(history, &txns);
    let graph = edges.build(txns.txns.len());
    let (cycles, sccs) = cycles::find(&graph);
    for (anomaly, cycle) in &cycles {
        found.add(*anomaly, || Found {
            anomaly: *anomaly,
            txns: cycle.iter().map(|(a, _, _)| ctx.txn_ref(*a)).collect(),
            edges: cycle.iter().map(|(a, b, d)| ctx.edge(*a, *b, d)).collect(),
            explanation: ctx.cycle_text(cycle),
        });
    }
    let (anomaly_types, anomaly_counts, anomalies) = found.finish();
    let not = ConsistencyModel::ruled_out(&anomaly_types);
    let mut counts = TxnCounts {
        txns: txns.txns.len(),
        edges: graph.edge_count(),
        sccs,
        ..TxnCounts::default()
    };
    for t in &txns.txns {
        match t.status {
            Status::Ok => counts.ok += 1,
            Status::Fail => counts.fail += 1,
            Status::Info => counts.info += 1,
        }
    }
    let mut keys: Vec<u32> = txns.mops.iter().map(|m| m.key).collect();
    keys.sort_unstable();
    keys.dedup();
    counts.keys = keys.len();
    Ok(TxnResult {
        model,
        consistency_model: consistency,
        valid: !not.contains(&consistency),
        anomaly_types,
        anomaly_counts,
        anomalies,
        not,
        counts,
        micros: began.elapsed().as_micros() as u64,
    })
}
