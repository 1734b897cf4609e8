//! `faultline run`: start a cluster, run a workload under faults, record and check the
//! history, store everything (see [`crate::runner`]).

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::runner::config::Layer;
use crate::runner::progress::Lines;
use crate::runner::watchdog;
use crate::runner::{self, RunConfig, RunOptions, RunSettings};
use crate::Exit;
use anyhow::Context;
use clap::Args;
use faultline_reports::campaign::cell_case;
use faultline_store::campaign::{CellResult, Expect, PlannedCell};

/// Arguments of `faultline run`: every run setting ([`RunSettings`], declared once in
/// `faultline_api::run`), which can also come from `--test spec.toml` (same names, e.g.
/// `time-limit = 60`) or `--replay test.json`; flags given here win.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The run's settings.
    #[command(flatten)]
    pub settings: RunSettings,
    /// A spec file (TOML) with any of these settings.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub test: Option<PathBuf>,
    /// Repeat a run: its store's test.json (seed included).
    #[arg(long, value_name = "TEST_JSON")]
    pub replay: Option<PathBuf>,
    /// Print one JSON result object on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Do not draw the progress line.
    #[arg(long)]
    pub no_progress: bool,
    /// Print progress on stderr every 5 s as one JSON object a line (`{"progress": ..}`), for
    /// programs; `faultline serve` uses it.
    #[arg(long, conflicts_with = "no_progress")]
    pub progress_json: bool,
    /// Also write the outcome as a JUnit XML file (one test case; an anomaly is a failure, a
    /// run that could not set up or tested nothing an error).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// A hard cap on the run's wall time, in seconds, replacing the watchdog's budget (every
    /// bound of the run plus a grace): past it the cluster is removed and the run ends
    /// unknown (exit 2). For CI.
    #[arg(long, value_name = "S", env = watchdog::BUDGET_ENV, value_parser = watchdog::parse_cap)]
    pub watchdog_secs: Option<std::time::Duration>,
}

impl RunArgs {
    /// Resolves flags over the spec file (or replayed test.json) over the defaults.
    ///
    /// # Errors
    /// A bad file or flag, naming the file (or `command line`) and the field.
    pub fn resolve(&self) -> anyhow::Result<RunConfig> {
        let flags = self.settings.clone();
        flags.check("command line")?;
        let base = match self.test.as_ref().or(self.replay.as_ref()) {
            Some(path) => RunSettings::from_file(path)?,
            None => RunSettings::default(),
        };
        Ok(flags.or(base).into_config()?)
    }
}

/// Runs `faultline run`: exit 0 passed, 1 anomaly, 2 unknown; harness errors are returned
/// (exit 3).
///
/// # Errors
/// Bad settings, a missing binary, a cluster that cannot start, Ctrl-C.
pub fn run(args: RunArgs) -> anyhow::Result<Exit> {
    let cfg = args.resolve()?;
    let terminal = std::io::stderr().is_terminal();
    let opts = RunOptions {
        progress: !args.no_progress && !args.progress_json && terminal,
        progress_lines: if args.progress_json {
            Lines::Json
        } else if !args.no_progress && !terminal {
            Lines::Text
        } else {
            Lines::None
        },
        watchdog_cap: args.watchdog_secs,
    };
    let results = runner::execute(&cfg, opts);
    if let Some(path) = &args.junit {
        write_junit(path, &cfg, &results)
            .with_context(|| format!("writing the JUnit file {}", path.display()))?;
    }
    let results = results?;
    let summary = runner::results::summary(&results);
    if args.json {
        eprintln!("{summary}");
        println!("{}", serde_json::to_string(&results)?);
    } else {
        println!("{summary}");
    }
    // A run that ended has a verdict's exit (0, 1 or 2).
    Ok(Exit::from_code(Some(results.exit_code.into()))
        .filter(|e| e.has_verdict())
        .unwrap_or(Exit::Unknown))
}

/// The run as one JUnit test case, judged as a campaign judges a cell that expects a pass.
fn write_junit(
    path: &std::path::Path,
    cfg: &RunConfig,
    results: &anyhow::Result<runner::RunResults>,
) -> std::io::Result<()> {
    let cell = PlannedCell {
        index: 0,
        id: cfg.test_name(),
        origin: "run".into(),
        expect: Expect::Pass,
        config: cfg.clone(),
    };
    let result = match results {
        Ok(r) => CellResult::from_run(&cell, r, r.stats.total_secs),
        Err(e) => CellResult::error(&cell, &format!("{e:#}"), Some(Exit::Error.code()), 0.0),
    };
    faultline_reports::junit::write_junit(path, "faultline run", &[cell_case(&result)])
}
