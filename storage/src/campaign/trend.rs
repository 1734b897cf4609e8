//! Memory across campaigns: every campaign in the store, each cell's history across the
//! campaigns of one name, regressions and flaky cells.
//!
//! ```text
//!  store/campaigns/<name>/<time>/{campaign.json, summary.json} ──scan──▶ [CampaignEntry]
//!  earlier entries of <name> + this campaign's cells ──mark──▶ cell.regression, cell.flaky
//! ```
//! A cell is the same cell in two campaigns when its id and its configuration (less where
//! each machine keeps its store and binaries) are the same.
//! - regression: it fails (an unexpected anomaly, or a planted bug missed) now, and the
//!   latest earlier campaign that ran it at this configuration had it pass;
//! - flaky: among its last [`FLAKY_WINDOW`] decided runs (this one included) at this
//!   configuration, both pass and fail occur.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultline_api::RunConfig;
use serde::Serialize;

use super::{CampaignPlan, CampaignSummary, CellResult, Outcome};

/// How many recent decided runs of a cell the flaky flag looks at.
pub const FLAKY_WINDOW: usize = 5;

/// The settings that make two cells the same test, as one string: the configuration
/// without `store`, `node-binary`, `etcd-binary` and `name` (paths differ between machines).
pub fn config_key(cfg: &RunConfig) -> String {
    let mut v = serde_json::to_value(cfg).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        for k in ["store", "node-binary", "etcd-binary", "name"] {
            m.remove(k);
        }
    }
    v.to_string()
}

/// One campaign directory in the store.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignEntry {
    /// `<name>/<start-time>`, its id in URLs and the API.
    pub id: String,
    /// The campaign's name.
    pub name: String,
    /// Its start time (directory name).
    pub time: String,
    /// The directory.
    #[serde(skip)]
    pub dir: PathBuf,
    /// Its plan, when readable.
    #[serde(skip)]
    pub plan: Option<CampaignPlan>,
    /// Its summary, when written (a campaign still running has a partial one).
    pub summary: Option<CampaignSummary>,
}

fn dirs(path: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(path) else { return Vec::new() };
    let mut v: Vec<String> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| crate::index::is_safe_component(n) && n != "latest")
        .collect();
    v.sort();
    v
}

/// Every campaign under `store/campaigns/`, newest first (by start time, then name).
pub fn scan(store: &Path) -> Vec<CampaignEntry> {
    let root = store.join("campaigns");
    let mut out = Vec::new();
    for name in dirs(&root) {
        for time in dirs(&root.join(&name)) {
            let dir = root.join(&name).join(&time);
            out.push(CampaignEntry {
                id: format!("{name}/{time}"),
                plan: super::read_plan(&dir).ok(),
                summary: super::read_summary(&dir).ok(),
                name: name.clone(),
                time,
                dir,
            });
        }
    }
    out.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.name.cmp(&b.name)));
    out
}

/// One past run of a cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    /// The campaign's start time.
    pub time: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Its report, when there is one.
    pub report: Option<PathBuf>,
}

/// Per cell id: its runs in `entries` (newest first) at the configuration `plan` gives it.
pub fn history(plan: &CampaignPlan, entries: &[CampaignEntry]) -> BTreeMap<String, Vec<Mark>> {
    let keys: BTreeMap<&str, String> =
        plan.cells.iter().map(|c| (c.id.as_str(), config_key(&c.config))).collect();
    let mut out: BTreeMap<String, Vec<Mark>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.name == plan.name) {
        let (Some(p), Some(s)) = (&e.plan, &e.summary) else { continue };
        let theirs: BTreeMap<&str, String> =
            p.cells.iter().map(|c| (c.id.as_str(), config_key(&c.config))).collect();
        for c in &s.cells {
            let same =
                keys.get(c.id.as_str()).is_some_and(|k| theirs.get(c.id.as_str()) == Some(k));
            if same {
                out.entry(c.id.clone()).or_default().push(Mark {
                    time: e.time.clone(),
                    outcome: c.outcome,
                    report: c.report.clone(),
                });
            }
        }
    }
    for marks in out.values_mut() {
        marks.sort_by(|a, b| b.time.cmp(&a.time));
    }
    out
}

fn failed(o: Outcome) -> bool {
    matches!(o, Outcome::Fail | Outcome::Missed)
}

/// Sets `regression` and `flaky` on `cells` from the campaigns in `earlier` (any order; only
/// those of `plan`'s name older than `start_time` count).
pub fn mark(
    plan: &CampaignPlan,
    start_time: &str,
    cells: &mut [CellResult],
    earlier: &[CampaignEntry],
) {
    let before: Vec<CampaignEntry> =
        earlier.iter().filter(|e| e.time.as_str() < start_time).cloned().collect();
    let past = history(plan, &before);
    for c in cells.iter_mut() {
        let marks = past.get(&c.id).map(Vec::as_slice).unwrap_or_default();
        let decided: Vec<Outcome> = std::iter::once(c.outcome)
            .chain(marks.iter().map(|m| m.outcome))
            .filter(|o| *o == Outcome::Pass || failed(*o))
            .take(FLAKY_WINDOW)
            .collect();
        let last = marks.iter().map(|m| m.outcome).find(|o| *o == Outcome::Pass || failed(*o));
        c.regression = failed(c.outcome) && last == Some(Outcome::Pass);
        c.flaky = decided.contains(&Outcome::Pass) && decided.iter().any(|o| failed(*o));
    }
}
