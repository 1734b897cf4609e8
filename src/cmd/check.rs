//! `faultline check` (being built).

use clap::Args;

/// Arguments of `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {}

/// Runs `faultline check`.
///
/// # Errors
/// Always, for now: the command is not built yet.
pub fn run(_args: CheckArgs) -> anyhow::Result<crate::Exit> {
    anyhow::bail!("faultline check is not built yet")
}
