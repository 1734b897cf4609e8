//! faultline-reports: the HTML reports — of a run or a check, of a campaign — and JUnit XML.
//!
//! ```text
//!  History + CheckResult (+ test.json, node logs) ──render_report──▶ report.html (self-contained)
//!  CampaignSummary (faultline_store) ──campaign::write_outputs──▶ junit.xml, campaign.html
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
//! - [`campaign`]: a campaign's `junit.xml` and `campaign.html` (the model is
//!   `faultline_store::campaign`).
//! - [`junit`]: JUnit XML for CI (runs, checks, campaigns).
//! - [`checks`]: a check's `results.json` and report in its store directory.
//! - [`ownership`]: who owned which keys when (sharded systems), for the plots.
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
pub mod sample;
pub mod timeline;

pub use error::ReportError;
pub use input::ReportInput;
pub use render::{render_report, write_report};
