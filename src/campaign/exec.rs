//! Running a campaign's cells: N workers, each cell a `faultline run` child process of this
//! same binary, results written after every cell so that an interrupted campaign resumes.
//!
//! ```text
//!  pending cells ──▶ worker k (of --jobs) ──▶ CellRunner::run ──▶ CellResult ──▶ summary.json
//!                     │  ChildRunner: block_on faultline_child::supervise of
//!                     │    ChildCommand::Run (faultline run --test cells/<i>.json --json ...)
//!                     │    env FAULTLINE_PORT_RANGE = slot k's own ports (no two runs collide)
//!                     │    env FAULTLINE_PARENT_PID = us (a child whose campaign dies stops)
//!  --time-budget: a cell that would end past the budget is recorded `skipped`
//!  SIGINT/SIGTERM/SIGHUP ──▶ Stop::stop: no new cell; every child cancelled (SIGINT, each
//!     tears its cluster down; SIGKILL after the grace); their results are not recorded, so
//!     `--resume` runs them again; exit 3
//! ```
// A campaign waits on processes and reads the clock for its budget and progress.
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use faultline_child::output::run_results;
use faultline_child::{supervise, Cancel, ChildCommand, ChildLine, ChildSpec, Exit};
use faultline_reports::campaign::write_outputs;
use faultline_store::campaign::{
    self, CampaignPlan, CampaignProgress, CampaignSummary, CellResult, PlannedCell,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs one cell.
pub trait CellRunner: Sync {
    /// Runs `cell` as job slot `slot` (0..jobs); `None` when it was interrupted (no result:
    /// a resume runs it again).
    fn run(&self, cell: &PlannedCell, slot: usize, status: &Status) -> Option<CellResult>;
}

/// Whether the campaign is stopping: one switch that cancels every running child.
#[derive(Debug, Default)]
pub struct Stop {
    cancel: Cancel,
}

impl Stop {
    /// Stops starting cells and cancels every running child (SIGINT, as Ctrl-C would).
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Whether [`Stop::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data behind these locks (pids, strings) stays valid after a panic elsewhere.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the progress bar shows of running cells.
#[derive(Debug, Default)]
pub struct Status {
    /// Per slot: the running cell and its last progress.
    pub slots: Mutex<Vec<String>>,
    /// The stop switch.
    pub stop: Stop,
}

impl Status {
    fn set(&self, slot: usize, text: String) {
        let mut s = lock(&self.slots);
        if s.len() <= slot {
            s.resize(slot + 1, String::new());
        }
        s[slot] = text;
    }
}

/// How to run a campaign.
#[derive(Debug, Clone)]
pub struct Options {
    /// Cells at once.
    pub jobs: usize,
    /// Start no cell that would end after this.
    pub time_budget: Option<Duration>,
    /// Draw a progress bar (stderr is a terminal); otherwise one line per cell.
    pub progress: bool,
    /// Print a campaign progress line (`ChildLine::Campaign`) on stderr when a cell starts
    /// and when it ends.
    pub progress_json: bool,
}

/// The ports of job slot `slot` of `jobs`: disjoint slices of 20000..32000.
pub fn port_range(slot: usize, jobs: usize) -> (u16, u16) {
    let span = 12_000 / jobs.max(1);
    let lo = 20_000 + slot * span;
    (lo as u16, (lo + span - 1) as u16)
}

/// Runs every cell of `plan` (this shard's) that has no result in `done`, writing
/// `summary.json` after each, then every output file. `elapsed_before`: seconds spent by
/// earlier attempts (a resume).
#[allow(clippy::too_many_arguments)] // each is a distinct input of the campaign's run
pub fn execute(
    plan: &CampaignPlan,
    dir: &Path,
    start_time: &str,
    done: Vec<CellResult>,
    elapsed_before: f64,
    runner: &dyn CellRunner,
    opts: &Options,
    status: &Status,
) -> std::io::Result<CampaignSummary> {
    let began = Instant::now();
    let have: std::collections::BTreeSet<usize> = done.iter().map(|c| c.index).collect();
    let todo: VecDeque<&PlannedCell> =
        plan.selected().filter(|c| !have.contains(&c.index)).collect();
    let total = plan.selected().count();
    let results = Mutex::new(done);
    let pending = Mutex::new(todo);
    let pb = bar(opts.progress, total as u64, (total - pending_len(&pending)) as u64);
    // Seconds a cell takes beyond its time limit (cluster start, recovery, final reads,
    // check), measured as cells finish; 15 s until then.
    let overhead = Mutex::new((15.0f64, 0u32));
    let save = |results: &Vec<CellResult>| {
        let s = CampaignSummary::new(
            plan,
            start_time,
            results.clone(),
            Vec::new(),
            elapsed_before + began.elapsed().as_secs_f64(),
        );
        campaign::write_json(&dir.join(campaign::SUMMARY_FILE), &s)
    };
    let estimate = |c: &PlannedCell| c.config.time_limit + lock(&overhead).0;
    // Running cells by slot, for the JSON progress lines.
    let running = Mutex::new(std::collections::BTreeMap::<usize, String>::new());
    let progress_json = || {
        if !opts.progress_json {
            return;
        }
        let now: Vec<String> = lock(&running).values().cloned().collect();
        let p = CampaignProgress::new(plan, start_time, &lock(&results), now);
        eprintln!("{}", ChildLine::campaign(p).to_line());
    };
    progress_json();
    let worker = |slot: usize| -> std::io::Result<()> {
        loop {
            if status.stop.is_stopping() {
                return Ok(());
            }
            let Some(cell) = lock(&pending).pop_front() else { return Ok(()) };
            if let Some(budget) = opts.time_budget {
                let end = began.elapsed().as_secs_f64() + estimate(cell);
                if end > budget.as_secs_f64() {
                    let r = CellResult::skipped(
                        cell,
                        &format!(
                            "the time budget ({:.0} s) would be exceeded (about {:.0} s more)",
                            budget.as_secs_f64(),
                            estimate(cell)
                        ),
                    );
                    finish(&pb, &results, r, &save)?;
                    continue;
                }
            }
            status.set(slot, cell.id.clone());
            lock(&running).insert(slot, cell.id.clone());
            progress_json();
            let t = Instant::now();
            let r = runner.run(cell, slot, status);
            status.set(slot, String::new());
            lock(&running).remove(&slot);
            let Some(r) = r else { return Ok(()) };
            if r.verdict.is_some() {
                let mut o = lock(&overhead);
                let extra = (t.elapsed().as_secs_f64() - cell.config.time_limit).max(0.0);
                o.0 = (o.0 * f64::from(o.1) + extra) / f64::from(o.1 + 1);
                o.1 += 1;
            }
            finish(&pb, &results, r, &save)?;
            progress_json();
        }
    };
    let ticker_done = AtomicBool::new(false);
    let outcome: std::io::Result<()> = std::thread::scope(|s| {
        let ticker = s.spawn(|| {
            while !ticker_done.load(Ordering::SeqCst) {
                let running: Vec<String> =
                    lock(&status.slots).iter().filter(|x| !x.is_empty()).cloned().collect();
                let left: f64 = lock(&pending).iter().map(|c| estimate(c)).sum::<f64>()
                    / opts.jobs.max(1) as f64;
                pb.set_message(format!(
                    "~{} left · {}",
                    human(left),
                    if running.is_empty() { "-".into() } else { running.join(" | ") }
                ));
                for _ in 0..10 {
                    if ticker_done.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        let handles: Vec<_> = (0..opts.jobs.max(1)).map(|k| s.spawn(move || worker(k))).collect();
        let mut r = Ok(());
        for h in handles {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => r = Err(e),
                Err(_) => r = Err(std::io::Error::other("a campaign worker panicked")),
            }
        }
        ticker_done.store(true, Ordering::SeqCst);
        let _ = ticker.join();
        r
    });
    pb.finish_and_clear();
    outcome?;
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut errors = Vec::new();
    if status.stop.is_stopping() {
        errors.push(format!(
            "interrupted: {} of {total} cells have results; resume with `faultline campaign \
             --resume {}`",
            results.len(),
            dir.display()
        ));
    }
    let mut cells = results;
    let store = plan.selected().next().map(|c| c.config.store.clone());
    if let Some(store) = store {
        let entries = campaign::trend::scan(&store);
        campaign::trend::mark(plan, start_time, &mut cells, &entries);
    }
    let summary = CampaignSummary::new(
        plan,
        start_time,
        cells,
        errors,
        elapsed_before + began.elapsed().as_secs_f64(),
    );
    write_outputs(dir, plan, &summary)?;
    Ok(summary)
}

fn pending_len(p: &Mutex<VecDeque<&PlannedCell>>) -> usize {
    lock(p).len()
}

fn finish(
    pb: &ProgressBar,
    results: &Mutex<Vec<CellResult>>,
    r: CellResult,
    save: &dyn Fn(&Vec<CellResult>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let line = format!(
        "{:<8} {} ({:.1} s){}",
        r.outcome.to_string(),
        r.id,
        r.duration_secs,
        r.anomaly.as_deref().or(r.reason.as_deref()).map(|s| format!(": {s}")).unwrap_or_default()
    );
    let mut all = lock(results);
    all.push(r);
    save(&all)?;
    drop(all);
    pb.inc(1);
    if pb.is_hidden() {
        eprintln!("[{}/{}] {line}", pb.position(), pb.length().unwrap_or(0));
    } else {
        pb.println(line);
    }
    Ok(())
}

fn human(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn bar(enabled: bool, total: u64, done: u64) -> ProgressBar {
    let pb = if enabled {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4))
    } else {
        ProgressBar::hidden()
    };
    pb.set_length(total);
    pb.set_position(done);
    // The template is a constant known to parse.
    if let Ok(style) =
        ProgressStyle::with_template("{bar:24} {pos}/{len} cells · {elapsed_precise} · {msg}")
    {
        pb.set_style(style);
    }
    pb
}

/// Runs cells as `faultline run` child processes of this binary, each supervised by
/// `faultline_child::supervise` (the supervisor `faultline serve` uses too) in one runtime
/// that every worker thread blocks on.
pub struct ChildRunner {
    /// The `faultline` binary.
    pub exe: PathBuf,
    /// The campaign's directory (cell specs and logs go in `cells/`).
    pub dir: PathBuf,
    /// Cells at once (for the port ranges).
    pub jobs: usize,
    /// The runtime the children are supervised in.
    pub runtime: tokio::runtime::Runtime,
}

impl ChildRunner {
    /// A runner of `jobs` cells at once from `dir`, with its own runtime.
    ///
    /// # Errors
    /// The runtime cannot be started.
    pub fn new(exe: PathBuf, dir: PathBuf, jobs: usize) -> std::io::Result<ChildRunner> {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        Ok(ChildRunner { exe, dir, jobs, runtime })
    }
}

impl CellRunner for ChildRunner {
    fn run(&self, cell: &PlannedCell, slot: usize, status: &Status) -> Option<CellResult> {
        let t = Instant::now();
        let fail =
            |why: String| Some(CellResult::error(cell, &why, None, t.elapsed().as_secs_f64()));
        let cells = self.dir.join("cells");
        if let Err(e) = std::fs::create_dir_all(&cells) {
            return fail(format!("creating {}: {e}", cells.display()));
        }
        let spec_path = cells.join(format!("{:04}.json", cell.index));
        if let Err(e) = campaign::write_json(&spec_path, &cell.config) {
            return fail(format!("writing {}: {e}", spec_path.display()));
        }
        let log_path = cells.join(format!("{:04}.log", cell.index));
        let mut log = match std::fs::File::create(&log_path) {
            Ok(f) => f,
            Err(e) => return fail(format!("creating {}: {e}", log_path.display())),
        };
        if status.stop.is_stopping() {
            return None;
        }
        let (lo, hi) = port_range(slot, self.jobs);
        let command = ChildCommand::Run { test: spec_path, store: None, verbose: false };
        let mut spec = ChildSpec::new(&self.exe, command);
        spec.env.push((faultline_nemesis::PORT_RANGE_ENV.into(), format!("{lo}-{hi}").into()));
        let mut tail = VecDeque::<String>::new();
        let on_line = |line: String| match ChildLine::parse(&line) {
            ChildLine::Run(p) => {
                let c = p.progress.counts;
                status.set(
                    slot,
                    format!(
                        "{} {:.0}s ok {} fail {} info {} [{}]",
                        cell.id, p.progress.elapsed_secs, c.ok, c.fail, c.info, p.progress.fault
                    ),
                );
            }
            _ => {
                let _ = writeln!(log, "{line}");
                tail.push_back(line);
                if tail.len() > 20 {
                    tail.pop_front();
                }
            }
        };
        // A stop (Ctrl-C) cancels every cell through the one switch: SIGINT to each child,
        // which tears its cluster down.
        let exited = self.runtime.block_on(supervise(&spec, &status.stop.cancel, on_line));
        let secs = t.elapsed().as_secs_f64();
        let done = match exited {
            Ok(done) => done,
            Err(e) => return fail(e),
        };
        let verdict = done.exit().is_some_and(Exit::has_verdict);
        match run_results(&done.stdout) {
            Some(run) if verdict => Some(CellResult::from_run(cell, &run, secs)),
            _ if status.stop.is_stopping() => None,
            _ => {
                let why = tail
                    .iter()
                    .rev()
                    .find(|l| l.starts_with("error"))
                    .or(tail.back())
                    .cloned()
                    .unwrap_or_else(|| "no output".into());
                let code = done.code.and_then(|c| u8::try_from(c).ok());
                Some(CellResult::error(
                    cell,
                    &format!("faultline run exited {code:?}: {why} (log: {})", log_path.display()),
                    code,
                    secs,
                ))
            }
        }
    }
}
