//! Command-line definitions (clap only). Each subcommand's arguments live beside its code in
//! `cmd/<name>.rs`, so this file only lists them.

use clap::{Parser, Subcommand};

use crate::cmd;

/// faultline: test distributed systems the Jepsen way.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check histories for linearizability (exit 0 linearizable, 1 not, 2 unknown, 3 error).
    Check(cmd::check::CheckArgs),
    /// Start a cluster, run a workload under faults, record and check the history.
    Run(Box<cmd::run::RunArgs>),
    /// Serve the store's reports and the JSON API.
    Serve(cmd::serve::ServeArgs),
    /// Run a matrix of runs with expected outcomes (exit 0 all met, 1 a failure or a missed
    /// planted bug, 2 undecided, 3 error).
    Campaign(Box<cmd::campaign::CampaignArgs>),
    /// Measure the checker (and, later, the node) and print figures.
    Bench(cmd::bench::BenchArgs),
}
