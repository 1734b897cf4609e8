//! `faultline campaign`: run a campaign file (or resume one), merge shards, diff two
//! campaigns (see [`crate::campaign`]).
// Naming a campaign's directory needs the wall clock.
#![allow(clippy::disallowed_methods)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use faultline_api::RunSettings;
use faultline_reports::campaign::write_outputs;
use faultline_store::campaign::{self, merge, CampaignPlan, CampaignSummary, Outcome, Shard};
use faultline_store::layout::create_stamped_dir;

use crate::campaign::exec::{self, ChildRunner, Options, Status};
use crate::campaign::file;
use crate::runner::signals::Interrupts;
use crate::Exit;

/// Arguments of `faultline campaign`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CampaignArgs {
    /// Merge or diff campaigns instead of running one.
    #[command(subcommand)]
    pub action: Option<Action>,
    /// The campaign file (TOML: name, `[defaults]`, `[matrix]`, `[[exclude]]`,
    /// `[[override]]`, `[[cell]]`).
    #[arg(required_unless_present = "resume", conflicts_with = "resume")]
    pub file: Option<PathBuf>,
    /// Continue an interrupted campaign: run only its cells without a result.
    #[arg(long, value_name = "DIR", conflicts_with = "shard")]
    pub resume: Option<PathBuf>,
    /// Cells at once, each with its own ports.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
    /// Run only shard I of N (1-based): cells I-1, I-1+N, I-1+2N, ... of the matrix.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Start no cell that would end after this long (e.g. 90m, 2h, 1h30m, 600s); the rest
    /// are recorded as skipped.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub time_budget: Option<Duration>,
    /// Do not draw the progress bar (one line per cell instead).
    #[arg(long)]
    pub no_progress: bool,
    /// Print summary.json on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print progress as JSON lines on stderr when a cell starts and ends
    /// (`{"campaign_progress": {"campaign", "done", "total", "running", "counts", "last"}}`),
    /// as `faultline serve` follows a campaign.
    #[arg(long)]
    pub progress_json: bool,
}

/// `faultline campaign merge` and `diff`.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Merge shards' directories into one summary, JUnit file and grid.
    Merge {
        /// The campaign directories (`store/campaigns/<name>/<time>`), one per shard.
        #[arg(required = true, num_args = 1..)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged campaign [default: a new directory beside the first].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print the merged summary.json on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Which cells changed outcome from campaign A to campaign B (exit 1 when a cell that
    /// passed in A does not in B).
    Diff {
        /// The earlier campaign's directory.
        a: PathBuf,
        /// The later campaign's directory.
        b: PathBuf,
    },
}

/// `90`, `90s`, `15m`, `2h`, `1h30m`, `1d`.
///
/// # Errors
/// Anything else.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!("{:?} is not a duration such as 90s, 15m, 2h or 1h30m", faultline_api::cut(s, 40))
    };
    let s = s.trim();
    if s.is_empty() || s.len() > 40 {
        return Err(bad());
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = total.checked_add(n.checked_mul(unit).ok_or_else(bad)?).ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        total = total.checked_add(num.parse::<u64>().map_err(|_| bad())?).ok_or_else(bad)?;
    }
    if total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

fn exit_of(code: u8) -> Exit {
    match code {
        0 => Exit::Pass,
        1 => Exit::Anomaly,
        2 => Exit::Unknown,
        _ => Exit::Error,
    }
}

/// Runs `faultline campaign`.
///
/// # Errors
/// A bad file or directory, a store that cannot be written (exit 3).
pub fn run(args: CampaignArgs) -> anyhow::Result<Exit> {
    match &args.action {
        Some(Action::Merge { dirs, out, json }) => return merge_dirs(dirs, out.as_deref(), *json),
        Some(Action::Diff { a, b }) => return diff(a, b),
        None => {}
    }
    let (plan, dir, start_time, done, elapsed_before) = match (&args.resume, &args.file) {
        (Some(dir), _) => resume(dir)?,
        (None, Some(path)) => start(path, args.shard)?,
        (None, None) => bail!("give a campaign file or --resume DIR"),
    };
    for cell in plan.selected() {
        crate::runner::exec::check_binaries(&cell.config)
            .with_context(|| format!("cell {}", cell.id))?;
    }
    let selected = plan.selected().count();
    eprintln!(
        "faultline campaign {}: {selected} cell(s){}{}, {} at once; {}",
        plan.name,
        plan.shard
            .map(|s| format!(" (shard {s} of {} cells)", plan.cells.len()))
            .unwrap_or_default(),
        if done.is_empty() { String::new() } else { format!(", {} already done", done.len()) },
        args.jobs,
        dir.display()
    );
    let status = Arc::new(Status::default());
    watch_signals(status.clone())?;
    let exe = std::env::current_exe().context("finding the faultline binary")?;
    let jobs = usize::from(args.jobs);
    let runner = ChildRunner::new(exe, dir.clone(), jobs).context("starting the tokio runtime")?;
    let opts = Options {
        jobs,
        time_budget: args.time_budget,
        progress: !args.no_progress && std::io::stderr().is_terminal(),
        progress_json: args.progress_json,
    };
    let summary =
        exec::execute(&plan, &dir, &start_time, done, elapsed_before, &runner, &opts, &status)
            .with_context(|| format!("writing the campaign's files in {}", dir.display()))?;
    report(&summary, &dir, args.json)?;
    Ok(exit_of(summary.exit_code))
}

fn report(summary: &CampaignSummary, dir: &Path, json: bool) -> anyhow::Result<()> {
    for c in summary.cells.iter().filter(|c| c.outcome != Outcome::Pass) {
        eprintln!(
            "  {} {}{}{}: {}",
            c.outcome,
            c.id,
            if c.regression { " [regression]" } else { "" },
            if c.flaky { " [flaky]" } else { "" },
            c.anomaly.as_deref().or(c.reason.as_deref()).unwrap_or("")
        );
    }
    eprintln!("{}", summary.line());
    eprintln!("  grid: {}", dir.join(campaign::HTML_FILE).display());
    eprintln!("  junit: {}", dir.join(campaign::JUNIT_FILE).display());
    if json {
        println!("{}", serde_json::to_string(summary)?);
    } else {
        println!("{}", dir.display());
    }
    Ok(())
}

type Started = (CampaignPlan, PathBuf, String, Vec<campaign::CellResult>, f64);

fn start(path: &Path, shard: Option<Shard>) -> anyhow::Result<Started> {
    let mut plan = file::read(path)?;
    plan.shard = shard;
    let store = plan
        .cells
        .first()
        .map(|c| c.config.store.clone())
        .unwrap_or_else(|| RunSettings::default().resolve().store);
    let (start_time, dir) =
        create_stamped_dir(&store.join("campaigns").join(&plan.name), SystemTime::now())
            .with_context(|| {
                format!("creating the campaign's directory under {}", store.display())
            })?;
    campaign::write_json(&dir.join(campaign::PLAN_FILE), &plan).context("writing campaign.json")?;
    Ok((plan, dir, start_time, Vec::new(), 0.0))
}

fn resume(dir: &Path) -> anyhow::Result<Started> {
    let plan = campaign::read_plan(dir).map_err(|e| anyhow!("{e}"))?;
    let (start_time, done, elapsed) = match campaign::read_summary(dir) {
        Ok(s) => {
            let done: Vec<_> =
                s.cells.into_iter().filter(|c| c.outcome != Outcome::Skipped).collect();
            (s.start_time, done, s.elapsed_secs)
        }
        Err(_) => {
            let t = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (t, Vec::new(), 0.0)
        }
    };
    Ok((plan, dir.to_path_buf(), start_time, done, elapsed))
}

/// SIGINT, SIGTERM and SIGHUP stop the campaign: no new cell, SIGINT to each running one.
fn watch_signals(status: Arc<Status>) -> anyhow::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("campaign-signals".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return drop(tx.send(Err(e.to_string()))),
            };
            rt.block_on(async move {
                let mut signals = match Interrupts::register() {
                    Ok(s) => s,
                    Err(e) => return drop(tx.send(Err(e.to_string()))),
                };
                let _ = tx.send(Ok(()));
                loop {
                    let s = signals.recv().await;
                    eprintln!("interrupted ({s}): stopping the running cells (each tears its cluster down)");
                    status.stop.stop();
                }
            });
        })
        .context("starting the signal thread")?;
    rx.recv()
        .map_err(|_| anyhow!("the signal thread ended"))?
        .map_err(|e| anyhow!("installing the signal handlers: {e}"))
}

fn merge_dirs(dirs: &[PathBuf], out: Option<&Path>, json: bool) -> anyhow::Result<Exit> {
    let mut parts = Vec::new();
    for d in dirs {
        let plan = campaign::read_plan(d).map_err(|e| anyhow!("{e}"))?;
        let summary = campaign::read_summary(d).map_err(|e| anyhow!("{e}"))?;
        parts.push((plan, summary));
    }
    let (start_time, dir) = match out {
        Some(o) => {
            std::fs::create_dir_all(o).with_context(|| format!("creating {}", o.display()))?;
            let t = o.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (t, o.to_path_buf())
        }
        None => {
            let parent =
                dirs[0].parent().ok_or_else(|| anyhow!("{} has no parent", dirs[0].display()))?;
            create_stamped_dir(parent, SystemTime::now())
                .with_context(|| format!("creating a directory in {}", parent.display()))?
        }
    };
    let (plan, summary) = merge::merge(&parts, &start_time).map_err(|e| anyhow!("{e}"))?;
    campaign::write_json(&dir.join(campaign::PLAN_FILE), &plan)?;
    write_outputs(&dir, &plan, &summary)?;
    report(&summary, &dir, json)?;
    Ok(exit_of(summary.exit_code))
}

fn diff(a: &Path, b: &Path) -> anyhow::Result<Exit> {
    let sa = campaign::read_summary(a).map_err(|e| anyhow!("{e}"))?;
    let sb = campaign::read_summary(b).map_err(|e| anyhow!("{e}"))?;
    let changes = merge::diff(&sa, &sb);
    let name = |o: Option<Outcome>| o.map_or("-".to_string(), |o| o.to_string());
    for c in &changes {
        println!(
            "{:<8} -> {:<8} {}{}",
            name(c.before),
            name(c.after),
            c.id,
            if c.is_worse() { "  [worse]" } else { "" }
        );
    }
    let worse = changes.iter().filter(|c| c.is_worse()).count();
    eprintln!(
        "{} cell(s) changed between {} and {}; {worse} got worse",
        changes.len(),
        sa.start_time,
        sb.start_time
    );
    Ok(if worse > 0 { Exit::Anomaly } else { Exit::Pass })
}
