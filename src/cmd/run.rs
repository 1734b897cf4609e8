//! `faultline run` (being built).

use clap::Args;

/// Arguments of `faultline run`.
#[derive(Debug, Args)]
pub struct RunArgs {}

/// Runs `faultline run`.
///
/// # Errors
/// Always, for now: the command is not built yet.
pub fn run(_args: RunArgs) -> anyhow::Result<crate::Exit> {
    anyhow::bail!("faultline run is not built yet")
}
