//! The orchestration of `faultline run`: a real cluster, a workload under faults, the
//! recorded history, the check, and the store (Jepsen's `core/run!`).
//!
//! ```text
//!  flags / --test spec.toml / --replay test.json ─▶ RunSettings ─▶ RunConfig
//!      ─▶ exec::execute: RunDir (faultline_store::layout), faultline.log, Cluster (nemesis crate),
//!         WorkloadRun + Recorder (workloads crate), Nemesis schedule, heal, final reads,
//!         check (checker crate), results.json, report.html (reports crate)
//!      ─▶ results::RunResults (exit code = verdict's: 0 / 1 / 2; harness errors are 3)
//! ```
//!
//! # Layout
//! - [`config`]: [`RunSettings`] (file / flags, declared in `faultline_api`) and the resolved
//!   [`RunConfig`].
//! - [`exec`]: [`execute`], the run itself.
//! - [`results`]: [`RunResults`] (`results.json`) and the printed summary.
//! - [`signals`]: SIGINT, SIGTERM and SIGHUP, each ending a run the same way (exit 3).
//! - [`watchdog`]: ends a run that outlives every bound it was given (exit 2).
//! - `coverage`: what the faults did (leader hits, elections, operations per fault).
//! - `progress`, `logging`: the progress line and `faultline.log`.

pub mod config;
mod coverage;
pub mod exec;
mod logging;
pub mod progress;
pub mod results;
pub mod signals;
pub mod watchdog;

pub use config::{ConfigError, RunConfig, RunSettings};
pub use exec::{execute, RunOptions};
pub use results::RunResults;
