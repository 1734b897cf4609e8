//! faultline-checker: history types, models, and a Porcupine-style WGL linearizability
//! checker.
//!
//! ```text
//!  file ──formats::read──▶ History ──check(model, options)──▶ CheckResult
//!                            │            │
//!                            │            ├─ partition by key (P-compositionality)
//!                            │            ├─ distinct written values? unique::{register,append}
//!                            │            │  decide the key in O(n log n)
//!                            │            ├─ register: a value observed that no write could have
//!                            │            │  left visible? visible: Illegal in O(n log n)
//!                            │            ├─ else exact simplification (drop fail / unobservable ops)
//!                            │            └─   and the WGL search, per key on a worker pool, with
//!                            │                 symmetry reductions (observers go at once,
//!                            │                 identical ops in deadline order: small domains)
//!                            └─ ops (invoke+completion) and nemesis events
//! ```
//!
//! # Layout
//! - [`history`]: events, operations, pairing.
//! - [`formats`]: readers for native JSONL, Porcupine's test data and Jepsen/Knossos EDN.
//! - [`model`]: the [`Model`] trait; [`models`]: register, cas-register, kv.
//! - [`check`](mod@check): partitioning, the worker pool, bounds; [`wgl`]: the search.
//! - [`unique`]: polynomial checkers for keys whose writes write distinct values, tried
//!   before WGL per key.
//! - [`visible`]: certificates for register keys (a value observed that is never written, or
//!   certainly overwritten), tried next.
//! - [`synth`]: seeded register histories, linearizable by construction (tests, benches).
//! - [`shrink`]: a smallest failing sub-history of each illegal key (delta debugging with
//!   the checker as the oracle).
//! - [`verdict`]: results (verdicts, counterexamples, witnesses, statistics).
//!
//! # Example
//! ```
//! use faultline_checker::{check, formats, CheckOptions, ModelSpec, Verdict};
//! let jsonl = r#"{"index":0,"type":"invoke","process":0,"f":"write","value":1,"time":0}
//! {"index":1,"type":"ok","process":0,"f":"write","value":1,"time":10}
//! {"index":2,"type":"invoke","process":1,"f":"read","value":null,"time":20}
//! {"index":3,"type":"ok","process":1,"f":"read","value":2,"time":30}
//! "#;
//! let history = formats::jsonl::parse_str(jsonl).unwrap();
//! let model: ModelSpec = "cas-register".parse().unwrap();
//! let result = check(&history, &model, &CheckOptions::default()).unwrap();
//! assert_eq!(result.verdict, Verdict::Illegal);
//! ```
#![deny(missing_docs)]

pub mod check;
mod decision;
pub mod error;
pub mod formats;
pub mod history;
pub mod model;
pub mod models;
pub mod shrink;
pub mod synth;
pub mod txn;
pub mod unique;
pub mod verdict;
pub mod visible;
pub mod wgl;

#[cfg(test)]
mod brute;

pub use check::{check, CancelToken, CheckOptions, ModelSpec};
pub use error::{CheckError, HistoryError};
pub use history::{Event, EventKind, History, HistoryBuilder, Operation, Outcome, Process};
pub use model::Model;
pub use unique::Uniqueness;
pub use verdict::{
    CheckResult, Counterexample, Counts, Decider, KeyResult, SearchStats, StuckOp, UnknownReason,
    Verdict, NOTHING_CHECKED,
};
