//! Integration tests of faultline-reports, in one binary:
//! - `render`: reports of valid and invalid histories (Porcupine's test data checked by the
//!   real checker, and synthetic ones), checked by content.
//! - `browser`: headless Chromium loads reports (skipped without chromium).
//! - `chromium`, `fixtures`: helpers, shared with faultline-server's tests.

mod browser;
mod chromium;
mod fixtures;
mod render;
