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
    #[command(after_help = CHECK_EXAMPLES)]
    Check(cmd::check::CheckArgs),
    /// Start a cluster, run a workload under faults, record and check the history.
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<cmd::run::RunArgs>),
    /// Serve the store's reports and the JSON API.
    Serve(cmd::serve::ServeArgs),
    /// Run a matrix of runs with expected outcomes (exit 0 all met, 1 a failure or a missed
    /// planted bug, 2 undecided, 3 error).
    #[command(after_help = CAMPAIGN_EXAMPLES)]
    Campaign(Box<cmd::campaign::CampaignArgs>),
    /// Measure the checker and real clusters, and print figures.
    Bench(cmd::bench::BenchArgs),
}

const RUN_EXAMPLES: &str = "\
Examples:
  faultline run                                  3 local nodes, kv, partition,kill,figure8, 20 s
  faultline run --system etcd --workload cas-register --nemesis partition --nodes 5
  faultline run --nemesis clock+partition,kill --nemesis-targets leader
  faultline run --unsafe-bug stale-reads --time-limit 30     a planted bug: exit 1
  faultline run --test examples/register-partition.toml      settings from a file
  faultline run --replay store/latest/test.json              the same run again";

const CHECK_EXAMPLES: &str = "\
Examples:
  faultline check store/latest/history.jsonl     the model comes from the run's test.json
  faultline check --model register --json history.jsonl
  faultline check --model cas-register --time-limit 60 --memory-limit 8GiB history.edn
  faultline check --junit checks.xml runs/*/history.jsonl";

const CAMPAIGN_EXAMPLES: &str = "\
Examples:
  faultline campaign examples/nightly.toml --jobs 2      results in store/campaigns/<name>/
  faultline campaign examples/nightly.toml --shard 1/3 --time-budget 80m
  faultline campaign --resume store/campaigns/nightly/<time>
  faultline campaign diff store/campaigns/nightly/<a> store/campaigns/nightly/<b>";

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;
    use faultline_child::ChildCommand;

    use super::{Cli, Command};

    fn parse(c: &ChildCommand) -> Cli {
        let argv = std::iter::once("faultline".into()).chain(c.args());
        Cli::try_parse_from(argv).expect("a child's command line parses as faultline's")
    }

    #[test]
    fn the_command_line_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// The child-run protocol's command lines (built in `faultline_child::command`) are
    /// command lines this binary reads as meant.
    #[test]
    fn child_command_lines_parse_as_meant() {
        let run = ChildCommand::Run {
            test: "s/.specs/run-1.json".into(),
            store: Some("s".into()),
            verbose: true,
        };
        let cli = parse(&run);
        assert_eq!(cli.verbose, 1);
        let Command::Run(args) = cli.command else { panic!("not a run") };
        assert_eq!(args.test, Some(PathBuf::from("s/.specs/run-1.json")));
        assert_eq!(args.settings.store, Some(PathBuf::from("s")));
        assert!(args.json && args.progress_json && !args.no_progress);

        let cell = ChildCommand::Run { test: "c/0001.json".into(), store: None, verbose: false };
        let cli = parse(&cell);
        assert_eq!(cli.verbose, 0);
        let Command::Run(args) = cli.command else { panic!("not a run") };
        assert_eq!(args.settings.store, None, "a cell's store comes from its spec");

        let campaign = ChildCommand::Campaign { file: "x.toml".into() };
        let Command::Campaign(args) = parse(&campaign).command else { panic!("not a campaign") };
        assert_eq!(args.file, Some(PathBuf::from("x.toml")));
        assert!(args.json && args.no_progress && args.progress_json);
    }
}
