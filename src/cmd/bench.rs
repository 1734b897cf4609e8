//! `faultline bench` (being built).

use clap::Args;

/// Arguments of `faultline bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {}

/// Runs `faultline bench`.
///
/// # Errors
/// Always, for now: the command is not built yet.
pub fn run(_args: BenchArgs) -> anyhow::Result<crate::Exit> {
    anyhow::bail!("faultline bench is not built yet")
}
