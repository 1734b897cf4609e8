//! faultline-reports: the HTML report of a run or a check, the store index, and the
//! `faultline serve` web service.
//!
//! ```text
//!  History + CheckResult (+ test.json, node logs) ──render_report──▶ report.html (self-contained)
//!  store/<test>/<time>/ ──store::scan──▶ index pages ──server::app──▶ axum Router (+ JSON API)
//! ```
//!
//! # Layout
//! - [`render`]: [`render_report`] / [`write_report`], the page (minijinja templates, inline
//!   CSS and script).
//! - [`input`]: [`ReportInput`], what a report is made from.
//! - [`timeline`]: the compact JSON the page's `<canvas>` timeline draws.
//! - [`explain`]: the violation in words.
//! - [`plots`]: latency, quantile and throughput plots (plotters, inline SVG).
//! - [`nemesis`]: fault events paired into intervals.
//! - [`logs`]: node-log excerpts around faults.
//! - [`sample`]: synthetic histories for examples, tests and benchmarks.
//! - [`results`]: `results.json` of runs and checks, written and read with the same types.
//! - [`store`]: reading the store (run summaries, safe paths).
//! - [`campaign`]: campaigns' plan, cell results and summary (`campaign.json`,
//!   `summary.json`), merges, trends and `campaign.html`.
//! - [`junit`]: JUnit XML for CI (runs, checks, campaigns).
//! - [`checks`]: a check's place in the store, and the store's timestamps.
//! - [`server`]: the axum service of `faultline serve` ([`server::app`]).
//! - [`error`]: the error type, [`ReportError`].
//!
//! # Example
//! ```
//! use faultline_checker::{CheckResult, Counts, History, Verdict};
//! use faultline_reports::{write_report, ReportInput};
//! # let dir = tempfile::tempdir().unwrap();
//! let history = History::default();
//! let result = CheckResult {
//!     verdict: Verdict::Linearizable,
//!     model: "cas-register".into(),
//!     keys: vec![],
//!     counts: Counts::default(),
//!     micros: 12,
//! };
//! let input = ReportInput::new("register-smoke", &history, &result)
//!     .command("faultline check --model cas-register history.jsonl");
//! let path = write_report(dir.path(), &input).unwrap();
//! assert!(path.ends_with("report.html"));
//! ```
#![deny(missing_docs)]

pub mod campaign;
pub mod checks;
pub mod error;
pub mod explain;
pub mod input;
pub mod junit;
pub mod logs;
pub mod nemesis;
pub mod ownership;
pub mod plots;
pub mod render;
pub mod results;
pub mod sample;
pub mod server;
pub mod store;
pub mod timeline;

pub use error::ReportError;
pub use input::ReportInput;
pub use render::{render_report, write_report};
