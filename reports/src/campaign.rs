//! A campaign's report output: each cell and campaign-level error as a JUnit case, and the
//! files `faultline campaign` writes after its cells (`summary.json`, `junit.xml`,
//! `campaign.html`). The campaign model itself is `faultline_store::campaign`.
//!
//! ```text
//!  CampaignSummary ──junit_cases──▶ junit.xml     ──html::render──▶ campaign.html
//! ```
//!
//! # Layout
//! - [`html`]: `campaign.html`, the matrix as a grid, and the campaigns page.

pub mod html;

use std::path::Path;

use faultline_store::campaign::{self, CampaignPlan, CampaignSummary, CellResult, Outcome};

use crate::junit::{write_junit, CaseOutcome, JunitCase};

/// This cell as a JUnit test case (suite = system).
pub fn cell_case(cell: &CellResult) -> JunitCase {
    let mut details = Vec::new();
    if let Some(a) = &cell.anomaly {
        details.push(format!("anomaly: {a}"));
    }
    if let Some(r) = &cell.report {
        details.push(format!("report: {}", r.display()));
    }
    if let Some(s) = &cell.store {
        details.push(format!("store: {}", s.display()));
    }
    if let Some(r) = &cell.replay {
        details.push(format!("replay: {r}"));
    }
    let details = details.join("\n");
    let reason = cell.reason.clone().unwrap_or_default();
    let outcome = match cell.outcome {
        Outcome::Pass => CaseOutcome::Passed,
        Outcome::Fail => CaseOutcome::Failure {
            message: format!(
                "unexpected anomaly: {}",
                cell.anomaly.as_deref().unwrap_or("not linearizable")
            ),
            kind: "anomaly".into(),
            details,
        },
        Outcome::Missed => CaseOutcome::Failure { message: reason, kind: "missed".into(), details },
        Outcome::Unknown => {
            CaseOutcome::Failure { message: reason, kind: "unknown".into(), details }
        }
        Outcome::Error => CaseOutcome::Error { message: reason, kind: "error".into(), details },
        Outcome::Skipped => CaseOutcome::Skipped { message: reason },
    };
    let mut classname = format!("{}.{}", cell.system, cell.workload);
    if let Some(b) = &cell.unsafe_bug {
        classname.push_str(&format!(".bug-{b}"));
    }
    JunitCase {
        suite: cell.system.clone(),
        name: cell.id.clone(),
        classname,
        secs: cell.duration_secs,
        outcome,
        out: cell.replay.clone(),
    }
}

/// The campaign as JUnit test cases; campaign-level errors become error cases of a
/// `campaign` suite, so a campaign that tested nothing is red in CI too.
pub fn junit_cases(summary: &CampaignSummary) -> Vec<JunitCase> {
    let mut cases: Vec<JunitCase> = summary.cells.iter().map(cell_case).collect();
    for (i, e) in summary.errors.iter().enumerate() {
        cases.push(JunitCase {
            suite: "campaign".into(),
            name: format!("{} campaign error {}", summary.name, i + 1),
            classname: "campaign".into(),
            secs: 0.0,
            outcome: CaseOutcome::Error {
                message: e.clone(),
                kind: "campaign".into(),
                details: String::new(),
            },
            out: None,
        });
    }
    cases
}

/// Writes `summary.json`, `junit.xml` and `campaign.html` of `summary` into `dir`.
///
/// # Errors
/// A file cannot be written.
pub fn write_outputs(
    dir: &Path,
    plan: &CampaignPlan,
    summary: &CampaignSummary,
) -> std::io::Result<()> {
    campaign::write_json(&dir.join(campaign::SUMMARY_FILE), summary)?;
    write_junit(
        &dir.join(campaign::JUNIT_FILE),
        &format!("faultline campaign {}", summary.name),
        &junit_cases(summary),
    )?;
    let page = html::render(plan, summary, Some(html::Links::Files(dir)), None)
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join(campaign::HTML_FILE), page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_api::RunSettings;
    use faultline_store::campaign::{Expect, PlannedCell};

    #[test]
    fn a_campaign_that_tested_nothing_is_an_error_case() {
        let plan = CampaignPlan { name: "x".into(), file: None, shard: None, cells: vec![] };
        let summary = CampaignSummary::new(&plan, "t", vec![], vec![], 1.0);
        let cases = junit_cases(&summary);
        assert_eq!(cases.len(), 1);
        assert!(matches!(cases[0].outcome, CaseOutcome::Error { .. }));
        assert_eq!(cases[0].suite, "campaign");
    }

    #[test]
    fn cells_become_cases_by_outcome() {
        let config = RunSettings { seed: Some(1), ..RunSettings::default() }.into_config().unwrap();
        let cell = PlannedCell {
            index: 0,
            id: "c0".into(),
            origin: "matrix".into(),
            expect: Expect::Pass,
            config,
        };
        let skipped = cell_case(&CellResult::skipped(&cell, "budget"));
        assert!(
            matches!(skipped.outcome, CaseOutcome::Skipped { ref message } if message == "budget")
        );
        let error = cell_case(&CellResult::error(&cell, "no binary", Some(3), 1.0));
        assert!(
            matches!(error.outcome, CaseOutcome::Error { ref message, .. } if message == "no binary")
        );
        assert_eq!(error.name, "c0");
    }
}
