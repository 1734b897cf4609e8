//! Integration tests of faultline-reports, in one binary (see STYLE.md 6.6):
//! - `render`: reports of valid and invalid histories (Porcupine's test data checked by the
//!   real checker, and synthetic ones), checked by content.
//! - `server`: the axum router through `tower::ServiceExt::oneshot`, and one end-to-end run
//!   over real HTTP.
//! - `limits`: the server's defences (Host/Origin, body limits, requests in flight, the
//!   bounded run queue and cancellation, contained panics).
//! - `browser`: headless Chromium loads a report and the index (skipped without chromium).
//! - `campaigns`: the campaigns pages (router and Chromium) and the campaigns API.

mod browser;
mod campaigns;
mod fixtures;
mod limits;
mod render;
mod server;
