//! Shards' results into one summary (`faultline campaign merge`), and what changed between
//! two campaigns (`faultline campaign diff`).
//!
//! ```text
//!  shard dirs: (campaign.json, summary.json) × N ──merge──▶ one plan (shard: none)
//!                                                          + one summary of every cell
//!  summary A, summary B ──diff──▶ [Change { id, before, after }]
//! ```
//! Every shard must come from the same resolved matrix (same cells, same configurations); a
//! cell no shard ran, or that two shards ran, is a campaign error of the merged summary.

use std::collections::BTreeMap;

use super::{
    CampaignPlan, CampaignSummary, CellResult, Outcome, PlannedCell, ALL_SKIPPED, NO_CELLS,
};

/// Compares two plans' cells, ignoring where each machine keeps its store and binaries.
fn same_cells(a: &[PlannedCell], b: &[PlannedCell]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.id == y.id
                && x.expect == y.expect
                && super::trend::config_key(&x.config) == super::trend::config_key(&y.config)
        })
}

/// Merges shards (or any campaign directories of one plan) into one plan and summary.
///
/// # Errors
/// No input, or inputs from different campaigns or matrices.
pub fn merge(
    parts: &[(CampaignPlan, CampaignSummary)],
    start_time: &str,
) -> Result<(CampaignPlan, CampaignSummary), String> {
    let Some((first, _)) = parts.first() else { return Err("nothing to merge".into()) };
    for (plan, _) in &parts[1..] {
        if plan.name != first.name {
            return Err(format!("campaigns differ: {:?} and {:?}", first.name, plan.name));
        }
        if !same_cells(&first.cells, &plan.cells) {
            return Err(format!(
                "the matrices of campaign {:?} differ between the directories (different \
                 campaign files or seeds); shards must come from one file",
                plan.name
            ));
        }
    }
    let plan = CampaignPlan { shard: None, ..first.clone() };
    let mut errors: Vec<String> = Vec::new();
    let mut by_index: BTreeMap<usize, CellResult> = BTreeMap::new();
    let mut elapsed: f64 = 0.0;
    for (_, s) in parts {
        elapsed = elapsed.max(s.elapsed_secs);
        for e in &s.errors {
            if e != NO_CELLS && e != ALL_SKIPPED && !errors.contains(e) {
                errors.push(e.clone());
            }
        }
        for c in &s.cells {
            if by_index.insert(c.index, c.clone()).is_some() {
                errors.push(format!("cell {} has results from more than one directory", c.id));
            }
        }
    }
    let missing: Vec<&PlannedCell> =
        plan.cells.iter().filter(|c| !by_index.contains_key(&c.index)).collect();
    for c in missing {
        by_index.insert(
            c.index,
            CellResult::error(c, "no merged directory has a result for this cell", None, 0.0),
        );
    }
    let cells = by_index.into_values().collect();
    let summary = CampaignSummary::new(&plan, start_time, cells, errors, elapsed);
    Ok((plan, summary))
}

/// A cell whose outcome differs between two campaigns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The cell's id.
    pub id: String,
    /// Its outcome in the first campaign (`None`: not there).
    pub before: Option<Outcome>,
    /// Its outcome in the second.
    pub after: Option<Outcome>,
}

impl Change {
    /// A pass that is no longer one.
    pub fn is_worse(&self) -> bool {
        self.before == Some(Outcome::Pass)
            && self.after.is_some_and(|o| o != Outcome::Pass && o != Outcome::Skipped)
    }
}

/// The cells whose outcome changed from `a` to `b`, by id, in `b`'s order then `a`'s.
pub fn diff(a: &CampaignSummary, b: &CampaignSummary) -> Vec<Change> {
    let before: BTreeMap<&str, Outcome> =
        a.cells.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
    let after: BTreeMap<&str, Outcome> =
        b.cells.iter().map(|c| (c.id.as_str(), c.outcome)).collect();
    let mut changes = Vec::new();
    for c in &b.cells {
        let was = before.get(c.id.as_str()).copied();
        if was != Some(c.outcome) {
            changes.push(Change { id: c.id.clone(), before: was, after: Some(c.outcome) });
        }
    }
    for c in &a.cells {
        if !after.contains_key(c.id.as_str()) {
            changes.push(Change { id: c.id.clone(), before: Some(c.outcome), after: None });
        }
    }
    changes
}
