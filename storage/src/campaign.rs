//! Campaigns, defined once: the resolved matrix (`campaign.json`), each cell's result and the
//! summary (`summary.json`), written by `faultline campaign` and read back with these same
//! types by `--resume`, `merge`, `diff`, the trends and `faultline serve`.
//!
//! ```text
//!  campaign file ──(root crate)──▶ CampaignPlan { cells: [PlannedCell{id, expect, config}] }
//!     each cell: faultline run ──▶ RunResults ──CellResult::from_run──▶ outcome
//!  [CellResult] ──CampaignSummary::new──▶ counts, exit code ──▶ summary.json
//!                                    (faultline_reports::campaign: junit.xml, campaign.html)
//! ```
//!
//! # Layout
//! - [`merge`]: shards' results into one summary; the diff of two campaigns.
//! - [`trend`]: regressions and flaky cells across the campaigns of one name.
//!
//! `junit.xml` and `campaign.html` are written by `faultline_reports::campaign`.

pub mod merge;
pub mod trend;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultline_api::RunConfig;
use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use crate::results::RunResults;

faultline_api::names! {
    /// What a cell is expected to do.
    pub enum Expect ("expectation") {
        /// The run passes: linearizable, with work done and faults installed.
        Pass = "pass",
        /// The run finds an anomaly (a cell with a planted bug: the tester testing itself).
        Catch = "catch",
    }
}

faultline_api::names! {
    /// What became of a cell, measured against its expectation.
    pub enum Outcome ("outcome") {
        /// It met its expectation.
        Pass = "pass",
        /// An anomaly where none was expected.
        Fail = "fail",
        /// A `catch` cell whose run found nothing: the planted bug was missed.
        Missed = "missed",
        /// The check could not decide.
        Unknown = "unknown",
        /// The harness could not run it, or the run tested nothing (no completed operation,
        /// no fault installed).
        Error = "error",
        /// Not run (the time budget ran out).
        Skipped = "skipped",
    }
}

/// `I/N`: the I-th (1-based) of N shards; cell `k` (0-based, in plan order) belongs to shard
/// `k % N + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1..=count.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// Whether the cell at `k` (plan order) is this shard's.
    pub fn has(&self, k: usize) -> bool {
        k % self.count + 1 == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("{:?} is not a shard I/N with 1 <= I <= N <= 10000", faultline_api::cut(s, 40))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || index > count || count > 10_000 {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// One cell of the resolved matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedCell {
    /// Position in the plan (0-based); shards split by it.
    pub index: usize,
    /// Stable name: the same configuration has the same id in every campaign.
    pub id: String,
    /// Where it came from: `matrix` or `cell N` (the N-th `[[cell]]`).
    pub origin: String,
    /// What it must do.
    pub expect: Expect,
    /// The run's full configuration, seed included.
    pub config: RunConfig,
}

/// `campaign.json`: the resolved matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignPlan {
    /// The campaign's name.
    pub name: String,
    /// The campaign file it came from.
    pub file: Option<PathBuf>,
    /// Which shard this directory runs (`None`: every cell).
    pub shard: Option<Shard>,
    /// Every cell of the matrix (all shards').
    pub cells: Vec<PlannedCell>,
}

impl CampaignPlan {
    /// The cells this directory runs.
    pub fn selected(&self) -> impl Iterator<Item = &PlannedCell> {
        self.cells.iter().filter(|c| self.shard.is_none_or(|s| s.has(c.index)))
    }
}

/// One cell's result (a row of `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Position in the plan.
    pub index: usize,
    /// The cell's id.
    pub id: String,
    /// What it had to do.
    pub expect: Expect,
    /// What became of it.
    pub outcome: Outcome,
    /// `faultline`, `etcd`.
    pub system: String,
    /// The workload.
    pub workload: String,
    /// The faults.
    pub nemesis: String,
    /// The seed.
    pub seed: u64,
    /// The planted bug, if any.
    pub unsafe_bug: Option<String>,
    /// The checker's verdict, when the run got that far.
    pub verdict: Option<Verdict>,
    /// `faultline run`'s exit code, when it ran.
    pub exit_code: Option<u8>,
    /// Seconds the cell took (timing: not compared by merges).
    pub duration_secs: f64,
    /// Operations that completed `ok`.
    pub ops_ok: Option<u64>,
    /// The run's directory in the store.
    pub store: Option<PathBuf>,
    /// Its `report.html`.
    pub report: Option<PathBuf>,
    /// The first anomaly, in one line.
    pub anomaly: Option<String>,
    /// Why it is not a pass (error text, skip reason, what was missed), in one line.
    pub reason: Option<String>,
    /// The command that repeats this cell's run.
    pub replay: Option<String>,
    /// Passed in the campaign of this name before, fails now (see [`trend`]).
    #[serde(default)]
    pub regression: bool,
    /// Both outcomes in recent campaigns at this configuration (see [`trend`]).
    #[serde(default)]
    pub flaky: bool,
}

/// `s` on one line, at most `max` characters: cut at the end of a word (so no number or name
/// is cut in two) and marked with `…`.
fn one_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        None => flat,
        Some((at, _)) => {
            let head = &flat[..at];
            // Unless the cut falls between words already, end at the last whole word.
            let head = if flat[at..].starts_with(' ') {
                head
            } else {
                head.rfind(' ').map_or(head, |space| &head[..space])
            };
            format!("{}…", head.trim_end_matches([',', ';', ':']))
        }
    }
}

impl CellResult {
    fn base(cell: &PlannedCell, outcome: Outcome, secs: f64) -> CellResult {
        let c = &cell.config;
        CellResult {
            index: cell.index,
            id: cell.id.clone(),
            expect: cell.expect,
            outcome,
            system: c.system.to_string(),
            workload: c.workload.to_string(),
            nemesis: c.nemesis.to_string(),
            seed: c.seed,
            unsafe_bug: c.unsafe_bug.map(|b| b.to_string()),
            verdict: None,
            exit_code: None,
            duration_secs: secs,
            ops_ok: None,
            store: None,
            report: None,
            anomaly: None,
            reason: None,
            replay: None,
            regression: false,
            flaky: false,
        }
    }

    /// A cell that could not run (exit 3, a crash), with why.
    pub fn error(cell: &PlannedCell, why: &str, exit_code: Option<u8>, secs: f64) -> CellResult {
        let mut r = CellResult::base(cell, Outcome::Error, secs);
        r.reason = Some(one_line(why, 400));
        r.exit_code = exit_code;
        r
    }

    /// A cell not run, with why.
    pub fn skipped(cell: &PlannedCell, why: &str) -> CellResult {
        let mut r = CellResult::base(cell, Outcome::Skipped, 0.0);
        r.reason = Some(one_line(why, 400));
        r
    }

    /// Judges a finished run against the cell's expectation. A run that tested nothing (no
    /// operation succeeded, or faults were asked for and none took effect) is an error
    /// whatever its verdict, except that an anomaly found stands.
    pub fn from_run(cell: &PlannedCell, run: &RunResults, secs: f64) -> CellResult {
        let c = &run.stats.counts;
        let asked_faults = !cell.config.nemesis.is_empty();
        let vacuous = if c.ok == 0 {
            Some("no operation completed: the cluster never served the workload".to_string())
        } else if asked_faults && run.coverage.installed == 0 {
            let why: Vec<String> =
                run.coverage.faults.iter().flat_map(|f| f.skip_reasons.iter().cloned()).collect();
            Some(format!(
                "none of the faults ({}) took effect{}",
                cell.config.nemesis,
                if why.is_empty() { String::new() } else { format!(": {}", why.join("; ")) }
            ))
        } else {
            None
        };
        let anomaly = run.anomaly.as_ref().map(|a| {
            one_line(&format!("key {}: {}", a.key.as_deref().unwrap_or("-"), a.explanation), 300)
        });
        // An anomaly found: a history that is not linearizable, or a run that failed a check
        // of its own with the history linearizable (the sharded KV's settle check: a group
        // stuck behind the controller's configuration).
        let found = run.verdict == Verdict::Illegal || (run.exit_code == 1 && anomaly.is_some());
        let (outcome, reason) = match (found, run.verdict, cell.expect) {
            (true, _, Expect::Pass) => (Outcome::Fail, None),
            (true, _, Expect::Catch) => (Outcome::Pass, None),
            _ if vacuous.is_some() => (Outcome::Error, vacuous),
            (_, Verdict::Unknown, _) => (
                Outcome::Unknown,
                Some("the checker could not decide (time or memory bound)".into()),
            ),
            (_, _, Expect::Pass) if run.exit_code == 0 => (Outcome::Pass, None),
            (_, _, Expect::Pass) => (
                Outcome::Unknown,
                Some(format!("linearizable, but the run exited {}", run.exit_code)),
            ),
            (_, _, Expect::Catch) => (
                Outcome::Missed,
                Some(format!(
                    "the planted bug ({}) was not caught: the history is linearizable",
                    cell.config.unsafe_bug.map_or("none".into(), |b| b.to_string())
                )),
            ),
        };
        let mut r = CellResult::base(cell, outcome, secs);
        r.reason = reason;
        r.verdict = Some(run.verdict);
        r.exit_code = Some(run.exit_code);
        r.ops_ok = Some(c.ok);
        r.store = Some(run.dir.clone());
        r.report = run.report.clone();
        r.anomaly = anomaly;
        r.replay = Some(run.replay.clone());
        r
    }
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSummary {
    /// The campaign's name.
    pub name: String,
    /// Its directory's start time (`20261204T190000.000Z`).
    pub start_time: String,
    /// The shard it ran, if one.
    pub shard: Option<Shard>,
    /// Cells it was to run.
    pub planned: usize,
    /// Cells by outcome.
    pub counts: BTreeMap<Outcome, usize>,
    /// The campaign's exit code: 1 if any cell failed or missed its bug, else 3 if any
    /// errored (or nothing ran), else 2 if any was undecided, else 0.
    pub exit_code: u8,
    /// Campaign-level errors (no cells, cells that no shard ran, ...).
    pub errors: Vec<String>,
    /// Cells marked as regressions.
    #[serde(default)]
    pub regressions: Vec<String>,
    /// Cells marked as flaky.
    #[serde(default)]
    pub flaky: Vec<String>,
    /// Seconds from start to end (timing: not compared by merges).
    pub elapsed_secs: f64,
    /// Every cell with a result, in plan order.
    pub cells: Vec<CellResult>,
}

impl CampaignSummary {
    /// Sums up `cells` (sorted into plan order); `errors` are campaign-level problems.
    pub fn new(
        plan: &CampaignPlan,
        start_time: &str,
        mut cells: Vec<CellResult>,
        mut errors: Vec<String>,
        elapsed_secs: f64,
    ) -> CampaignSummary {
        cells.sort_by_key(|c| c.index);
        let planned = plan.selected().count();
        if planned == 0 {
            errors.push(NO_CELLS.into());
        } else if !cells.is_empty() && cells.iter().all(|c| c.outcome == Outcome::Skipped) {
            errors.push(ALL_SKIPPED.into());
        }
        let mut counts = BTreeMap::new();
        for c in &cells {
            *counts.entry(c.outcome).or_insert(0) += 1;
        }
        let has = |o: Outcome| counts.get(&o).is_some_and(|n| *n > 0);
        let exit_code = if has(Outcome::Fail) || has(Outcome::Missed) {
            1
        } else if has(Outcome::Error) || !errors.is_empty() {
            3
        } else if has(Outcome::Unknown) {
            2
        } else {
            0
        };
        let marked = |f: fn(&CellResult) -> bool| {
            cells.iter().filter(|c| f(c)).map(|c| c.id.clone()).collect::<Vec<_>>()
        };
        CampaignSummary {
            name: plan.name.clone(),
            start_time: start_time.to_string(),
            shard: plan.shard,
            planned,
            regressions: marked(|c| c.regression),
            flaky: marked(|c| c.flaky),
            counts,
            exit_code,
            errors,
            elapsed_secs,
            cells,
        }
    }

    /// One line: `smoke: 9 cells: 8 pass, 1 fail (exit 1)`.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self.counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
        let mut s = format!(
            "{}: {} of {} cells: {} (exit {})",
            self.name,
            self.cells.len(),
            self.planned,
            if parts.is_empty() { "none run".into() } else { parts.join(", ") },
            self.exit_code
        );
        for e in &self.errors {
            s.push_str(&format!("; error: {e}"));
        }
        s
    }
}

/// One progress line of `faultline campaign --progress-json` on stderr, as `faultline serve`
/// reads it back: `{"campaign_progress": {..}}`, written when a cell starts and ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignProgressLine {
    /// The progress.
    pub campaign_progress: CampaignProgress,
}

/// Where a running campaign is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignProgress {
    /// `<name>/<start-time>`: its directory under `store/campaigns/`.
    pub campaign: String,
    /// Cells with a result.
    pub done: usize,
    /// Cells it runs.
    pub total: usize,
    /// The cells running now.
    pub running: Vec<String>,
    /// Cells with a result, by outcome.
    pub counts: BTreeMap<Outcome, usize>,
    /// The latest result: cell id and outcome.
    pub last: Option<(String, Outcome)>,
}

impl CampaignProgress {
    /// The progress of `plan` started at `start_time` with `results` and `running` cells.
    pub fn new(
        plan: &CampaignPlan,
        start_time: &str,
        results: &[CellResult],
        running: Vec<String>,
    ) -> CampaignProgress {
        let mut counts = BTreeMap::new();
        for c in results {
            *counts.entry(c.outcome).or_insert(0) += 1;
        }
        CampaignProgress {
            campaign: format!("{}/{start_time}", plan.name),
            done: results.len(),
            total: plan.selected().count(),
            running,
            counts,
            last: results.last().map(|c| (c.id.clone(), c.outcome)),
        }
    }
}

/// The campaign-level errors a summary makes by itself (a merge recomputes them).
pub(crate) const NO_CELLS: &str = "no cells selected: the campaign tests nothing";
/// See `NO_CELLS`.
pub(crate) const ALL_SKIPPED: &str = "every cell was skipped: the campaign tested nothing";

/// The files of a campaign's directory.
pub const PLAN_FILE: &str = "campaign.json";
/// See [`PLAN_FILE`].
pub const SUMMARY_FILE: &str = "summary.json";
/// See [`PLAN_FILE`].
pub const JUNIT_FILE: &str = "junit.xml";
/// See [`PLAN_FILE`].
pub const HTML_FILE: &str = "campaign.html";

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > 256 << 20 {
        return Err(format!("{}: larger than 256 MiB", path.display()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads `dir/campaign.json`.
///
/// # Errors
/// Missing or not a plan, naming the file.
pub fn read_plan(dir: &Path) -> Result<CampaignPlan, String> {
    read_json(&dir.join(PLAN_FILE))
}

/// Reads `dir/summary.json`.
///
/// # Errors
/// Missing or not a summary, naming the file.
pub fn read_summary(dir: &Path) -> Result<CampaignSummary, String> {
    read_json(&dir.join(SUMMARY_FILE))
}

/// Writes `value` as pretty JSON to `path` atomically (a reader never sees half a file, and
/// a campaign killed mid-write keeps the previous one).
///
/// # Errors
/// The file cannot be written.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let json = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json + "\n")?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Coverage, FaultCoverage, RunStats};
    use faultline_api::{Fault, LiveCounts, RunSettings, UnsafeBug};
    use faultline_checker::{CheckResult, Counts};

    #[test]
    fn anomaly_text_is_cut_between_words() {
        let text = "the read returned 12345,\n  but 67890 was written";
        assert_eq!(one_line(text, 100), "the read returned 12345, but 67890 was written");
        // A cut inside "67890" ends before it, never in the middle of a number.
        assert_eq!(one_line(text, 28), "the read returned 12345, but…");
        assert_eq!(one_line(text, 20), "the read returned…");
        assert_eq!(one_line("0123456789", 4), "0123…", "one long word is cut where it must be");
    }

    fn cell(index: usize, expect: Expect, bug: Option<UnsafeBug>) -> PlannedCell {
        let s = RunSettings { seed: Some(index as u64), unsafe_bug: bug, ..RunSettings::default() };
        PlannedCell {
            index,
            id: format!("c{index}-s{index}"),
            origin: "matrix".into(),
            expect,
            config: s.into_config().unwrap(),
        }
    }

    /// A sharded run whose groups never reached the latest configuration: exit 1, an
    /// anomaly, a linearizable history.
    fn stuck() -> RunResults {
        let mut r = run(Verdict::Linearizable, 1, 100, 2);
        r.anomaly = Some(crate::results::Anomaly {
            key: None,
            explanation: "The replica groups did not all reach the latest configuration".into(),
            ops: Vec::new(),
        });
        r
    }

    fn run(verdict: Verdict, exit_code: u8, ok: u64, installed: u32) -> RunResults {
        let coverage = Coverage {
            faults: vec![FaultCoverage {
                fault: Fault::Partition,
                installed,
                skipped: u32::from(installed == 0),
                indeterminate: 0,
                no_effect: 0,
                skip_reasons: vec!["no route".into()],
                active_secs: 1.0,
                ops: LiveCounts::default(),
            }],
            installed,
            ..Coverage::default()
        };
        RunResults {
            test: "t".into(),
            dir: "store/t/1".into(),
            verdict,
            exit_code,
            seed: 1,
            replay: "faultline run --replay store/t/1/test.json".into(),
            anomaly: None,
            stats: RunStats {
                workload_secs: 5.0,
                history_secs: 6.0,
                total_secs: 7.0,
                ops_per_sec: 10.0,
                counts: LiveCounts { invoked: ok, ok, ..LiveCounts::default() },
                history_events: 2 * ok,
                keys: 1,
                recovered: true,
                final_reads: Default::default(),
                check_secs: 0.1,
            },
            coverage,
            shards: None,
            network: None,
            check: CheckResult {
                verdict,
                model: "kv".into(),
                keys: vec![],
                counts: Counts::default(),
                micros: 1,
            },
            report: Some("store/t/1/report.html".into()),
        }
    }

    #[test]
    fn outcomes_against_expectations() {
        let pass = cell(0, Expect::Pass, None);
        let catch = cell(1, Expect::Catch, Some(UnsafeBug::StaleReads));
        #[rustfmt::skip]
        let cases = [
            (&pass,  run(Verdict::Linearizable, 0, 100, 2), Outcome::Pass),
            (&pass,  run(Verdict::Illegal,      1, 100, 2), Outcome::Fail),
            (&pass,  run(Verdict::Unknown,      2, 100, 2), Outcome::Unknown),
            // Nothing exercised: an error, never a pass.
            (&pass,  run(Verdict::Linearizable, 2, 0,   2), Outcome::Error),
            (&pass,  run(Verdict::Linearizable, 2, 100, 0), Outcome::Error),
            (&catch, run(Verdict::Illegal,      1, 100, 2), Outcome::Pass),
            (&catch, run(Verdict::Linearizable, 0, 100, 2), Outcome::Missed),
            (&catch, run(Verdict::Linearizable, 2, 100, 0), Outcome::Error),
            // An anomaly found stands even when no fault took effect.
            (&catch, run(Verdict::Illegal,      1, 100, 0), Outcome::Pass),
            // A linearizable history with a failed check of the run's own (settle): found.
            (&catch, stuck(),                                Outcome::Pass),
            (&pass,  stuck(),                                Outcome::Fail),
        ];
        for (c, r, want) in cases {
            let got = CellResult::from_run(c, &r, 7.0);
            assert_eq!(
                got.outcome, want,
                "{:?} {:?} ok {}",
                c.expect, r.verdict, r.stats.counts.ok
            );
            if want == Outcome::Error {
                assert!(
                    got.reason.as_deref().is_some_and(
                        |r| r.contains("no operation") || r.contains("none of the faults")
                    ),
                    "{:?}",
                    got.reason
                );
            }
        }
    }

    #[test]
    fn campaign_exit_codes() {
        let plan = |n: usize| CampaignPlan {
            name: "x".into(),
            file: None,
            shard: None,
            cells: (0..n).map(|i| cell(i, Expect::Pass, None)).collect(),
        };
        let with = |outcomes: &[Outcome]| {
            let p = plan(outcomes.len());
            let cells = p
                .cells
                .iter()
                .zip(outcomes)
                .map(|(c, o)| {
                    let mut r = CellResult::skipped(c, "x");
                    r.outcome = *o;
                    r
                })
                .collect();
            CampaignSummary::new(&p, "t", cells, vec![], 1.0)
        };
        use Outcome::*;
        #[rustfmt::skip]
        let cases: [(&[Outcome], u8); 9] = [
            (&[Pass, Pass],            0),
            (&[Pass, Skipped],         0),
            (&[Pass, Fail],            1),
            (&[Missed, Error],         1),
            (&[Pass, Error],           3),
            (&[Unknown, Pass],         2),
            (&[Unknown, Error],        3),
            (&[Skipped, Skipped],      3),
            (&[],                      3),
        ];
        for (outcomes, code) in cases {
            let s = with(outcomes);
            assert_eq!(s.exit_code, code, "{outcomes:?}: {}", s.line());
        }
        assert_eq!(with(&[]).errors, vec![NO_CELLS.to_string()]);
    }

    #[test]
    fn shards_parse_and_partition() {
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1", "a/b", "1/0", "1/100000"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        for n in 1..=7 {
            for k in 0..30 {
                let owners = (1..=n).filter(|i| Shard { index: *i, count: n }.has(k)).count();
                assert_eq!(owners, 1, "cell {k} of {n} shards");
            }
        }
    }
}
