//! Shards cover every cell exactly once, and merging the shards' directories gives the
//! unsplit campaign's summary (timing fields aside). Cells are judged by a stand-in runner
//! (outcome from the seed), so this needs no cluster.

use std::path::Path;
use std::time::Duration;

use faultline::campaign::exec::{self, CellRunner, Options, Status};
use faultline::campaign::file;
use faultline_store::campaign::{
    self, merge, CampaignPlan, CampaignSummary, CellResult, Outcome, PlannedCell, Shard,
};

/// Passes a cell unless its seed is 3 (then it fails); takes `.0` to do it.
struct StandIn(Duration);

impl CellRunner for StandIn {
    fn run(&self, cell: &PlannedCell, slot: usize, _: &Status) -> Option<CellResult> {
        let mut r = CellResult::skipped(cell, "");
        r.reason = None;
        std::thread::sleep(self.0);
        r.outcome = if cell.config.seed == 3 { Outcome::Fail } else { Outcome::Pass };
        r.exit_code = Some(u8::from(r.outcome == Outcome::Fail));
        r.duration_secs = 0.01 * (slot + 1) as f64;
        Some(r)
    }
}

fn campaign_text(store: &Path) -> String {
    format!(
        r#"name = "sharded"
[defaults]
time-limit = 5
store = "{}"
[matrix]
workload = ["register", "kv", "cas-register"]
nemesis = ["partition", "kill"]
seed = [1, 2, 3, 4]
[[cell]]
workload = "register"
unsafe-bug = "stale-reads"
"#,
        store.display()
    )
}

fn run(plan: &CampaignPlan, dir: &Path, jobs: usize) -> CampaignSummary {
    std::fs::create_dir_all(dir).unwrap();
    campaign::write_json(&dir.join(campaign::PLAN_FILE), plan).unwrap();
    let opts = Options { jobs, time_budget: None, progress: false, progress_json: false };
    let t = dir.file_name().unwrap().to_string_lossy().into_owned();
    exec::execute(plan, dir, &t, vec![], 0.0, &StandIn(Duration::ZERO), &opts, &Status::default())
        .unwrap()
}

/// The summary without what depends on timing or directories.
fn comparable(s: &CampaignSummary) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap();
    let m = v.as_object_mut().unwrap();
    m.remove("start_time");
    m.remove("elapsed_secs");
    for c in m["cells"].as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("duration_secs");
    }
    v
}

#[test]
fn shards_cover_every_cell_once_and_merge_to_the_unsplit_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let plan = file::parse("sharded.toml", &campaign_text(&store)).unwrap();
    assert_eq!(plan.cells.len(), 3 * 2 * 4 + 1);
    let whole = run(&plan, &tmp.path().join("whole"), 2);
    assert_eq!(whole.cells.len(), plan.cells.len());
    assert_eq!(whole.exit_code, 1, "seed 3 fails: {}", whole.line());

    for n in [1, 2, 3, 5, 30] {
        let mut seen = vec![0; plan.cells.len()];
        let mut parts = Vec::new();
        for i in 1..=n {
            let p = CampaignPlan { shard: Some(Shard { index: i, count: n }), ..plan.clone() };
            let s = run(&p, &tmp.path().join(format!("n{n}-shard{i}")), 1 + i % 2);
            for c in &s.cells {
                seen[c.index] += 1;
            }
            parts.push((p, s));
        }
        assert!(seen.iter().all(|k| *k == 1), "{n} shards: {seen:?}");
        let (merged_plan, merged) = merge::merge(&parts, "m").unwrap();
        assert_eq!(merged_plan, plan);
        assert_eq!(comparable(&merged), comparable(&whole), "{n} shards");
        // A shard with no cells (30 shards of 25) is an error alone, not once merged.
        if n == 30 {
            assert_eq!(parts[29].1.exit_code, 3);
        }
    }
}

#[test]
fn a_merge_with_a_shard_missing_is_an_error_not_a_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        campaign_text(&tmp.path().join("store")).replace("seed = [1, 2, 3, 4]", "seed = [1, 2]");
    let plan = file::parse("s.toml", &text).unwrap();
    let p1 = CampaignPlan { shard: Some(Shard { index: 1, count: 2 }), ..plan.clone() };
    let s1 = run(&p1, &tmp.path().join("a"), 1);
    let (_, merged) = merge::merge(&[(p1.clone(), s1.clone())], "m").unwrap();
    assert_eq!(merged.exit_code, 3, "{}", merged.line());
    assert_eq!(
        merged.counts.get(&Outcome::Error).copied(),
        Some(plan.cells.len() - s1.cells.len())
    );
    // The same shard twice: cells with two results.
    let (_, twice) = merge::merge(&[(p1.clone(), s1.clone()), (p1, s1.clone())], "m").unwrap();
    assert!(
        twice.errors.iter().any(|e| e.contains("more than one directory")),
        "{:?}",
        twice.errors
    );
    // Different matrices do not merge.
    let other = file::parse("o.toml", &text.replace("seed = [1, 2]", "seed = [7]")).unwrap();
    let s2 = run(&other, &tmp.path().join("b"), 1);
    assert!(merge::merge(&[(plan, s1), (other, s2)], "m").is_err());
}

#[test]
fn a_time_budget_skips_the_rest_and_resume_runs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let text = campaign_text(&tmp.path().join("store"));
    let plan = file::parse("s.toml", &text).unwrap();
    let dir = tmp.path().join("budget");
    std::fs::create_dir_all(&dir).unwrap();
    // Each cell is estimated at its time limit (5 s) plus 15 s until one has been measured:
    // a 21 s budget starts the first, and no other once 1.1 s have passed.
    let opts = Options {
        jobs: 1,
        time_budget: Some(Duration::from_secs(21)),
        progress: false,
        progress_json: false,
    };
    let slow = StandIn(Duration::from_millis(1100));
    let s = exec::execute(&plan, &dir, "t", vec![], 0.0, &slow, &opts, &Status::default()).unwrap();
    let skipped = s.counts.get(&Outcome::Skipped).copied().unwrap_or(0);
    assert_eq!(skipped, plan.cells.len() - 1, "{}", s.line());
    assert!(s.cells.iter().filter(|c| c.outcome == Outcome::Skipped).all(|c| c
        .reason
        .as_deref()
        .unwrap()
        .contains("time budget")));
    // What --resume does: keep the results, run the skipped.
    let done: Vec<CellResult> =
        s.cells.into_iter().filter(|c| c.outcome != Outcome::Skipped).collect();
    let opts = Options { time_budget: None, ..opts };
    let s = exec::execute(
        &plan,
        &dir,
        "t",
        done,
        1.0,
        &StandIn(Duration::ZERO),
        &opts,
        &Status::default(),
    )
    .unwrap();
    assert_eq!(s.cells.len(), plan.cells.len());
    assert_eq!(s.counts.get(&Outcome::Skipped), None);
    let back = campaign::read_summary(&dir).unwrap();
    assert_eq!(back, s, "summary.json reads back with the type that wrote it");
}
