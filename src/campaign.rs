//! `faultline campaign`: a matrix of runs with expected outcomes, as one command, one
//! summary, one JUnit file and one grid (`store/campaigns/<name>/<start-time>/`, see
//! `docs/history-format.md`).
//!
//! ```text
//!  campaign.toml ──file::read──▶ CampaignPlan (campaign.json) ──[--shard I/N]──▶ this shard's
//!     cells ──exec::execute (--jobs, --time-budget, signals)──▶ CellResult per cell
//!     ──▶ summary.json, junit.xml, campaign.html (faultline_store::campaign, faultline_reports::campaign)
//!  --resume DIR: campaign.json + summary.json ──▶ the cells without a result
//!  merge DIR.. ──▶ one summary;  diff A B ──▶ cells whose outcome changed
//! ```
//!
//! # Layout
//! - [`mod@file`]: the campaign file and its resolution into cells.
//! - [`exec`]: workers, child processes, the budget, progress.

pub mod exec;
pub mod file;
