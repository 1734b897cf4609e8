//! `faultline serve` (being built).

use clap::Args;

/// Arguments of `faultline serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs `faultline serve`.
///
/// # Errors
/// Always, for now: the command is not built yet.
pub fn run(_args: ServeArgs) -> anyhow::Result<crate::Exit> {
    anyhow::bail!("faultline serve is not built yet")
}
