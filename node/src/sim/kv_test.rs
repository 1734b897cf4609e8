//! The 6.824 KV suite's linearizability tests, in the simulator: clients issue get / put /
//! append with retries under partitions and crashes; the history is checked with
//! `faultline_checker`. The bug switches must make the same tests fail on some seed.

use super::workload::{run_kv, Faults, WorkloadConfig, WorkloadRun};
use super::{SimCluster, SimConfig};
use crate::raft::types::{ReadMode, UnsafeBug};
use faultline_checker::{check, formats, CheckOptions, ModelSpec, Verdict};
use std::time::Duration;

/// The checker's verdict on a KV history the simulator wrote (per key).
pub(super) fn kv_verdict(history: &str) -> Verdict {
    let history = match formats::jsonl::parse_str(history) {
        Ok(h) => h,
        Err(e) => panic!("the simulator wrote a history the checker cannot read: {e}"),
    };
    let opts = CheckOptions {
        time_limit: Some(Duration::from_secs(30)),
        threads: 1,
        ..CheckOptions::default()
    };
    match check(&history, &ModelSpec::Kv, &opts) {
        Ok(r) => r.verdict,
        Err(e) => panic!("checker error: {e}"),
    }
}

/// One KV run: the verdict, and the run for diagnostics.
fn kv_run(cfg: SimConfig, wl: &WorkloadConfig) -> (Verdict, WorkloadRun, Vec<String>) {
    let mut sim = SimCluster::new(cfg);
    let run = run_kv(&mut sim, wl);
    (kv_verdict(&run.history), run, sim.violations().to_vec())
}

/// Runs the seeds of a test and asserts every history is linearizable (and that more than
/// 10 operations succeeded, so that the check is not vacuous).
fn linearizable(name: &str, seeds: u64, cfg: impl Fn(u64) -> SimConfig, wl: &WorkloadConfig) {
    linearizable_min(name, seeds, cfg, wl, 10)
}

/// As [`linearizable`], for fault schedules so harsh that few operations can succeed.
fn linearizable_min(
    name: &str,
    seeds: u64,
    cfg: impl Fn(u64) -> SimConfig,
    wl: &WorkloadConfig,
    min_ok: usize,
) {
    for seed in super::seeds_from_env(1, seeds) {
        let repro = super::repro(name, seed);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kv_run(cfg(seed), wl)));
        let (verdict, run, violations) = match outcome {
            Ok(o) => o,
            Err(panic) => {
                eprintln!("{repro}");
                std::panic::resume_unwind(panic);
            }
        };
        assert!(violations.is_empty(), "{name}: safety violation {violations:?}\n{repro}");
        assert!(run.ok >= min_ok, "{name}: only {} operations succeeded\n{repro}", run.ok);
        if verdict != Verdict::Linearizable {
            let path = std::env::temp_dir().join(format!("faultline-{name}-{seed}.jsonl"));
            let _ = std::fs::write(&path, &run.history);
            panic!("{name}: verdict {verdict:?} (history in {})\n{repro}", path.display());
        }
    }
}

/// Asserts that at least one seed of `seeds` gives a non-linearizable history (or a
/// safety violation): proof that the tester can catch the bug. With
/// `FAULTLINE_CATCH_RATE=N` it runs seeds 1..=N and prints how many caught the bug.
fn caught(
    name: &str,
    seeds: std::ops::Range<u64>,
    cfg: impl Fn(u64) -> SimConfig,
    wl: &WorkloadConfig,
) {
    let rate: Option<u64> = std::env::var("FAULTLINE_CATCH_RATE").ok().and_then(|n| n.parse().ok());
    let seeds = rate.map_or(seeds, |n| 1..n + 1);
    let mut hits = 0;
    for seed in seeds.clone() {
        let (verdict, _, violations) = kv_run(cfg(seed), wl);
        if verdict == Verdict::Illegal || !violations.is_empty() {
            eprintln!(
                "{name}: caught on seed {seed} ({verdict:?}, {} violations: {:?})",
                violations.len(),
                violations.first()
            );
            hits += 1;
            if rate.is_none() {
                return;
            }
        }
    }
    let n = seeds.end - seeds.start;
    eprintln!("{name}: caught on {hits} of {n} seeds");
    assert!(hits > 0, "{name}: the bug went unnoticed on seeds {seeds:?}");
}

fn base(seed: u64, nodes: usize) -> SimConfig {
    SimConfig::builder().seed(seed).nodes(nodes).build()
}

fn wl(faults: Faults) -> WorkloadConfig {
    WorkloadConfig { faults, ..WorkloadConfig::default() }
}

#[test]
fn kv_basic_no_faults() {
    linearizable("kv_basic_no_faults", 3, |s| base(s, 3), &wl(Faults::None));
}

#[test]
fn kv_unreliable_network() {
    let cfg = |s| SimConfig::builder().seed(s).nodes(5).unreliable().build();
    linearizable("kv_unreliable_network", 3, cfg, &wl(Faults::None));
}

#[test]
fn kv_partitions() {
    linearizable("kv_partitions", 4, |s| base(s, 5), &wl(Faults::Partitions));
}

#[test]
fn kv_crashes() {
    linearizable("kv_crashes", 4, |s| base(s, 5), &wl(Faults::Crashes));
}

#[test]
fn kv_partitions_and_crashes_with_snapshots() {
    let cfg = |s| {
        SimConfig::builder()
            .seed(s)
            .nodes(5)
            .snapshot_threshold_bytes(4_000)
            .snapshot_chunk_bytes(1_000)
            .build()
    };
    linearizable(
        "kv_partitions_and_crashes_with_snapshots",
        4,
        cfg,
        &wl(Faults::PartitionsAndCrashes),
    );
}

#[test]
fn kv_unreliable_partitions_and_crashes() {
    let cfg = |s| {
        SimConfig::builder().seed(s).nodes(5).unreliable().snapshot_threshold_bytes(8_000).build()
    };
    linearizable("kv_unreliable_partitions_and_crashes", 3, cfg, &wl(Faults::PartitionsAndCrashes));
}

#[test]
fn kv_read_mode_log() {
    let cfg = |s| SimConfig::builder().seed(s).nodes(5).read_mode(ReadMode::Log).build();
    linearizable("kv_read_mode_log", 3, cfg, &wl(Faults::PartitionsAndCrashes));
}

#[test]
fn kv_read_mode_lease() {
    // Without clock skew, leases are safe.
    let cfg = |s| SimConfig::builder().seed(s).nodes(5).read_mode(ReadMode::Lease).build();
    linearizable("kv_read_mode_lease", 3, cfg, &wl(Faults::Partitions));
}

fn buggy(bug: UnsafeBug) -> impl Fn(u64) -> SimConfig {
    move |s| SimConfig::builder().seed(s).nodes(5).bug(Some(bug)).build()
}

#[test]
fn bug_stale_reads_is_caught() {
    caught(
        "bug_stale_reads_is_caught",
        1..9,
        buggy(UnsafeBug::StaleReads),
        &wl(Faults::Partitions),
    );
}

#[test]
fn bug_no_dedup_is_caught() {
    caught(
        "bug_no_dedup_is_caught",
        1..9,
        buggy(UnsafeBug::NoDedup),
        &wl(Faults::PartitionsAndCrashes),
    );
}

#[test]
fn kv_leader_churn() {
    let w = WorkloadConfig { nemesis_interval_us: 150_000, ..wl(Faults::LeaderChurn) };
    linearizable_min("kv_leader_churn", 3, |s| base(s, 5), &w, 1);
}

#[test]
fn bug_commit_old_term_is_caught() {
    // Few, slow clients leave new leaders without entries of their own term for a while:
    // the window in which the bug commits an old entry that a later leader overwrites.
    let w = WorkloadConfig {
        clients: 3,
        think_us: 30_000,
        nemesis_interval_us: 80_000,
        ..wl(Faults::LeaderChurn)
    };
    let cfg = |s| SimConfig::builder().seed(s).nodes(3).bug(Some(UnsafeBug::CommitOldTerm)).build();
    let seeds = match std::env::var("FAULTLINE_BUG_SEEDS").ok().and_then(|s| s.parse::<u64>().ok())
    {
        Some(n) => 1..1 + n,
        None => 1..41,
    };
    caught("bug_commit_old_term_is_caught", seeds, cfg, &w);
}

#[test]
fn kv_lease_reads_under_mild_clock_skew() {
    // A leader clock at 0.6x stretches a 15-tick lease to 25 real ticks: still inside the
    // followers' 30-tick election timeout, so the margin holds.
    let cfg = |s| SimConfig::builder().seed(s).nodes(5).read_mode(ReadMode::Lease).build();
    linearizable("kv_lease_reads_under_mild_clock_skew", 3, cfg, &wl(Faults::ClockSkew));
}

#[test]
fn bug_lease_skew_is_caught() {
    let cfg = |s| {
        SimConfig::builder()
            .seed(s)
            .nodes(5)
            .read_mode(ReadMode::Lease)
            .bug(Some(UnsafeBug::LeaseSkew))
            .build()
    };
    caught("bug_lease_skew_is_caught", 1..13, cfg, &wl(Faults::ClockSkew));
}

#[test]
fn bug_ack_before_fsync_is_caught() {
    // Slow fsyncs widen the window in which acknowledged entries exist only in memory.
    let cfg = |s| {
        SimConfig::builder()
            .seed(s)
            .nodes(3)
            .fsync_us(30_000)
            .bug(Some(UnsafeBug::AckBeforeFsync))
            .build()
    };
    let w = WorkloadConfig { nemesis_interval_us: 100_000, ..wl(Faults::Crashes) };
    caught("bug_ack_before_fsync_is_caught", 1..41, cfg, &w);
}

#[test]
fn kv_slow_fsync_crashes() {
    let cfg = |s| SimConfig::builder().seed(s).nodes(3).fsync_us(30_000).build();
    let w = WorkloadConfig { nemesis_interval_us: 100_000, ..wl(Faults::Crashes) };
    linearizable_min("kv_slow_fsync_crashes", 3, cfg, &w, 1);
}

/// The membership nemesis, composed with partitions and crashes, on five nodes.
fn membership_wl() -> WorkloadConfig {
    WorkloadConfig { nemesis_interval_us: 250_000, ..wl(Faults::Membership) }
}

#[test]
fn kv_membership_changes() {
    let name = "kv_membership_changes";
    let w = membership_wl();
    linearizable_min(name, 6, |s| base(s, 5), &w, 10);
    // Not vacuous: the schedule removes, wipes, re-adds and promotes nodes.
    let mut sim = SimCluster::new(base(1, 5));
    let run = super::workload::run_kv(&mut sim, &w);
    for f in ["remove-member", "add-member", "promote-member"] {
        let n = run.history.matches(&format!("\"f\":\"{f}\"")).count();
        assert!(n > 0, "{name}: no {f} event in the history");
    }
    assert!(run.history.contains("\"wiped\":true"), "{name}: no member wiped");
}

#[test]
fn bug_membership_overlap_is_caught() {
    let cfg =
        |s| SimConfig::builder().seed(s).nodes(5).bug(Some(UnsafeBug::MembershipOverlap)).build();
    caught("bug_membership_overlap_is_caught", 1..21, cfg, &membership_wl());
}
