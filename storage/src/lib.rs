//! faultline-store: the store and its schema — `results.json`, the store index, the store's
//! directory layout, and campaigns' records and trends — read and written with the same types
//! by the runner, the campaigns and the server (docs/history-format.md).
//!
//! ```text
//!  faultline run / check ──▶ results::RunResults / CheckRecord ──▶ store/<test>/<stamp>/
//!  faultline campaign   ──▶ campaign::{CampaignPlan, CampaignSummary} ──▶ store/campaigns/
//!  store/ ──index::scan──▶ [RunSummary]      store/campaigns/ ──campaign::trend::scan──▶ trends
//! ```
//!
//! # Layout
//! - [`results`]: `results.json` of runs and checks, written and read with the same types.
//! - [`index`]: reading the store (run summaries, safe paths).
//! - [`layout`]: the store's directory names (timestamps, run, check and campaign dirs).
//! - [`campaign`]: campaigns' plan, cell results and summary (`campaign.json`,
//!   `summary.json`), merges and trends.
#![deny(missing_docs)]

pub mod campaign;
pub mod index;
pub mod layout;
pub mod results;
