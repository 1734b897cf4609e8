//! faultline-workloads: operation generators, one client per system, and the streaming
//! history recorder.
//!
//! ```text
//!  WorkloadSpec + seed ─▶ Generator ─▶ WorkloadRun (workers, pacer) ─▶ Client ─▶ cluster
//!                                          │ invoke / complete              │
//!                                          ▼                                ▼
//!                                       Recorder ─▶ history.jsonl      Outcome ok/fail/info
//! ```
//!
//! # Layout
//! - [`op`]: [`Op`] (function, key, value in history shape) and [`Outcome`].
//! - [`generator`]: seeded generators for register, cas-register and kv, independent keys.
//! - [`mapping`]: history values ↔ wire strings.
//! - [`policy`]: the client retry policy as an I/O-free state machine (real client and
//!   simulator alike).
//! - [`client`]: [`Clients`] / [`Client`] for the faultline node and etcd.
//! - [`recorder`]: [`Recorder`], streaming events to `history.jsonl`.
//! - [`worker`]: [`WorkloadRun`], workers, rate pacing and final reads.
//!
//! # Example
//! ```
//! use faultline_workloads::{Generator, WorkloadKind, WorkloadSpec};
//! let spec = WorkloadSpec::new(WorkloadKind::CasRegister, 4, Some(100));
//! let mut a = Generator::new(&spec, 42).unwrap();
//! let mut b = Generator::new(&spec, 42).unwrap();
//! assert_eq!(a.next_op(), b.next_op());
//! ```
#![deny(missing_docs)]

pub mod client;
pub mod generator;
pub mod mapping;
pub mod op;
pub mod policy;
pub mod recorder;
pub mod worker;

pub use client::{Client, ClientConfig, ClientError, Clients, Endpoint, SystemKind};
pub use generator::{Generator, Mix, SpecError, WorkloadKind, WorkloadSpec};
pub use op::{Func, Op, Outcome};
pub use recorder::{HistoryWriter, LiveCounts, Recorder};
pub use worker::{FinalReads, Pacer, Worker, WorkloadRun};
