//! Integration tests of faultline-server, in one binary:
//! - `server`: the axum router through `tower::ServiceExt::oneshot`, and one end-to-end run
//!   over real HTTP.
//! - `limits`: the server's defences (Host/Origin, body limits, requests in flight, the
//!   bounded run queue and cancellation, contained panics).
//! - `campaigns`: the campaigns pages (router and Chromium) and the campaigns API.
//!
//! The history fixtures and the Chromium helper are faultline-reports' test helpers,
//! included here; `store_fixtures` writes runs' files into a store.

mod campaigns;
#[path = "../../reports/tests/chromium.rs"]
mod chromium;
// Only the histories of the shared fixtures are used here.
#[allow(dead_code)]
#[path = "../../reports/tests/fixtures.rs"]
mod fixtures;
mod limits;
mod server;
mod store_fixtures;
