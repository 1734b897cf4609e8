//! `campaign.html`: the matrix as a grid (one row per configuration, one column per seed),
//! each cell coloured by outcome and linking to its run's report, then every cell's details
//! and, in `faultline serve`, its history across campaigns (a strip of marks, one per earlier
//! campaign of the same name, newest last); and `campaigns.html`, the list of campaigns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use minijinja::context;
use serde::Serialize;

use faultline_store::campaign::trend::{CampaignEntry, Mark};
use faultline_store::campaign::Outcome;
use faultline_store::campaign::{CampaignPlan, CampaignSummary, CellResult};

/// How a page links to a run's report.
pub enum Links<'a> {
    /// A file next to the store: links relative to the campaign's directory.
    Files(&'a Path),
    /// `faultline serve`: `/runs/<path in the store>`, for the store at this path.
    Serve(&'a Path),
}

impl Links<'_> {
    fn link(&self, report: &Path) -> Option<String> {
        match self {
            Links::Files(dir) => relative(dir, report),
            Links::Serve(store) => {
                let store = std::fs::canonicalize(store).ok()?;
                let report = std::fs::canonicalize(report).ok()?;
                let rel = report.strip_prefix(&store).ok()?;
                Some(format!("/runs/{}", rel.to_str()?))
            }
        }
    }
}

/// `target` relative to the directory `from` (both made absolute), e.g. `../../../t/x/report.html`.
fn relative(from: &Path, target: &Path) -> Option<String> {
    let from = std::fs::canonicalize(from).ok()?;
    let target = std::fs::canonicalize(target).ok()?;
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = target.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut rel = PathBuf::new();
    for _ in common..a.len() {
        rel.push("..");
    }
    for c in &b[common..] {
        rel.push(c);
    }
    rel.to_str().map(str::to_string)
}

#[derive(Serialize)]
struct GridCell {
    outcome: String,
    link: Option<String>,
    title: String,
    regression: bool,
    flaky: bool,
}

#[derive(Serialize)]
struct Row {
    name: String,
    expect: String,
    cells: Vec<Option<GridCell>>,
}

#[derive(Serialize)]
struct MarkView {
    time: String,
    outcome: String,
    link: Option<String>,
}

#[derive(Serialize)]
struct CellView<'a> {
    #[serde(flatten)]
    cell: &'a CellResult,
    link: Option<String>,
    time: String,
    history: Vec<MarkView>,
}

/// The configuration's name without its seed (`<id>` is `<configuration>-s<seed>`).
pub fn row_name(id: &str, seed: u64) -> &str {
    id.strip_suffix(&format!("-s{seed}")).unwrap_or(id)
}

/// Renders the page. Cells of the plan without a result show as not run yet.
///
/// # Errors
/// A template error (the template is compiled in and tested).
pub fn render(
    plan: &CampaignPlan,
    s: &CampaignSummary,
    links: Option<Links<'_>>,
    history: Option<&BTreeMap<String, Vec<Mark>>>,
) -> Result<String, minijinja::Error> {
    let link = |p: &Option<PathBuf>| p.as_deref().and_then(|p| links.as_ref()?.link(p));
    let results: BTreeMap<usize, &CellResult> = s.cells.iter().map(|c| (c.index, c)).collect();
    let seeds: BTreeSet<u64> = plan.selected().map(|c| c.config.seed).collect();
    let seeds: Vec<u64> = seeds.into_iter().collect();
    let mut rows: Vec<Row> = Vec::new();
    for c in plan.selected() {
        let name = row_name(&c.id, c.config.seed).to_string();
        let expect = c.expect.to_string();
        let at = match rows.iter().position(|r| r.name == name && r.expect == expect) {
            Some(i) => i,
            None => {
                rows.push(Row { name, expect, cells: seeds.iter().map(|_| None).collect() });
                rows.len() - 1
            }
        };
        let col = seeds.iter().position(|x| *x == c.config.seed).unwrap_or(0);
        let cell = match results.get(&c.index) {
            Some(r) => GridCell {
                outcome: r.outcome.to_string(),
                link: link(&r.report),
                title: r.anomaly.clone().or(r.reason.clone()).unwrap_or_default(),
                regression: r.regression,
                flaky: r.flaky,
            },
            None => GridCell {
                outcome: "skipped".into(),
                link: None,
                title: "not run yet".into(),
                regression: false,
                flaky: false,
            },
        };
        rows[at].cells[col] = Some(cell);
    }
    let cells: Vec<CellView> = s
        .cells
        .iter()
        .map(|c| CellView {
            cell: c,
            link: link(&c.report),
            time: format!("{:.1} s", c.duration_secs),
            history: history
                .and_then(|h| h.get(&c.id))
                .map(|marks| {
                    strip(marks, &s.start_time)
                        .map(|m| MarkView {
                            time: m.time.clone(),
                            outcome: m.outcome.to_string(),
                            link: link(&m.report),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let env = crate::render::environment();
    env.get_template("campaign.html")?.render(context! {
        css => crate::render::CSS,
        s => s,
        line => s.line(),
        started => faultline_store::index::readable_time(&s.start_time),
        elapsed => format!("{:.0} s", s.elapsed_secs),
        seeds => seeds,
        rows => rows,
        cells => cells,
        history => history.is_some(),
        serve => matches!(links, Some(Links::Serve(_))),
    })
}

/// The marks of campaigns that started before `start_time`, oldest first (newest last).
/// `marks` is newest first, as [`faultline_store::campaign::trend::history`] gives them.
pub fn strip<'a>(marks: &'a [Mark], start_time: &'a str) -> impl Iterator<Item = &'a Mark> {
    marks.iter().rev().filter(move |m| m.time.as_str() < start_time)
}

/// One line of the campaigns page.
#[derive(Serialize)]
struct ListRow<'a> {
    name: &'a str,
    time: &'a str,
    started: String,
    planned: usize,
    done: usize,
    pass: usize,
    fail: usize,
    missed: usize,
    error: usize,
    /// Undecided and skipped cells.
    other: usize,
    exit_code: Option<u8>,
    regressions: usize,
    flaky: usize,
}

/// Renders `campaigns.html`: every campaign of `entries` in their order (newest first, as
/// [`faultline_store::campaign::trend::scan`] gives them), with its counts by outcome, linking to its page.
///
/// # Errors
/// A template error (the template is compiled in and tested).
pub fn render_list(entries: &[CampaignEntry]) -> Result<String, minijinja::Error> {
    let rows: Vec<ListRow> = entries
        .iter()
        .map(|e| {
            let s = e.summary.as_ref();
            let n = |o: Outcome| s.and_then(|s| s.counts.get(&o).copied()).unwrap_or(0);
            let done = s.map_or(0, |s| s.cells.len());
            let named =
                n(Outcome::Pass) + n(Outcome::Fail) + n(Outcome::Missed) + n(Outcome::Error);
            ListRow {
                name: &e.name,
                time: &e.time,
                started: faultline_store::index::readable_time(&e.time),
                planned: s
                    .map(|s| s.planned)
                    .or(e.plan.as_ref().map(|p| p.selected().count()))
                    .unwrap_or(0),
                done,
                pass: n(Outcome::Pass),
                fail: n(Outcome::Fail),
                missed: n(Outcome::Missed),
                error: n(Outcome::Error),
                other: done.saturating_sub(named),
                exit_code: s.map(|s| s.exit_code),
                regressions: s.map_or(0, |s| s.regressions.len()),
                flaky: s.map_or(0, |s| s.flaky.len()),
            }
        })
        .collect();
    let env = crate::render::environment();
    env.get_template("campaigns.html")?
        .render(context! { css => crate::render::CSS, campaigns => rows })
}
