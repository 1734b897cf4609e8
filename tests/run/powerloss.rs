//! The power-loss fault end to end: a run of the correct node under `--nemesis power-loss`
//! passes and leaves no mount behind; `ack-before-fsync` is caught; SIGTERM unmounts, and a
//! SIGKILLed run's mounts are unmounted by the next run's sweep. Each skips where FUSE is
//! missing (`util::fuse_available`).
// Waits on child processes in real time.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::leftovers::{self, Background, Leftovers};
use super::util;

/// The nemesis events of a finished run's history, as `(f, value)`.
fn nemesis_events(dir: &std::path::Path) -> Vec<(String, serde_json::Value)> {
    let text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["process"] == "nemesis")
        .map(|v| (v["f"].as_str().unwrap_or_default().to_string(), v["value"].clone()))
        .collect()
}

#[test]
fn the_correct_node_passes_under_power_loss_and_leaves_no_mount() {
    if !util::fuse_available() {
        return;
    }
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let args = ["--nemesis", "power-loss", "--nemesis-interval", "3", "--time-limit", "15"];
    let run = util::run_faultline(store.path(), &args);
    assert_eq!(run.code, 0, "{run:?}");
    let dir = run.dir();
    let events = nemesis_events(&dir);
    // The installed cuts (one that found its node down, or no leader, is skipped).
    let cuts: Vec<&serde_json::Value> = events
        .iter()
        .filter(|(f, v)| f == "power-loss" && v["outcome"] == "installed")
        .map(|(_, v)| v)
        .collect();
    assert!(!cuts.is_empty(), "{events:?}");
    assert!(cuts.iter().all(|v| v["dropped"]["bytes"].is_u64()), "{cuts:?}");
    assert!(events.iter().any(|(f, _)| f == "power-on"), "{events:?}");
    let results = util::assert_layout(store.path(), &dir, 3);
    let fault = &results["coverage"]["faults"][0];
    assert_eq!(fault["fault"], "power-loss", "{results}");
    assert!(fault["installed"].as_u64().unwrap() >= 1, "{results}");
    assert!(dir.join("nodes/n1/data.disk/wal").is_file(), "the bytes live on the backing dir");
    assert_eq!(leftovers::mounts_under(store.path()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn ack_before_fsync_is_caught_under_power_loss() {
    if !util::fuse_available() {
        return;
    }
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let args = [
        "--nemesis",
        "power-loss",
        "--nemesis-targets",
        "majority",
        "--time-limit",
        "20",
        "--unsafe-bug",
        "ack-before-fsync",
        "--seed",
        "SEED",
    ];
    // Not every seed loses an acknowledged write in 20 s: the first of three that does.
    let mut codes = Vec::new();
    for seed in ["1", "2", "3"] {
        let args: Vec<&str> = args.iter().map(|a| if *a == "SEED" { seed } else { a }).collect();
        let run = util::run_faultline(store.path(), &args);
        codes.push(run.code);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        if run.code == 1 {
            break;
        }
    }
    assert!(codes.contains(&1), "never caught: exits {codes:?}");
    assert_eq!(leftovers::mounts_under(store.path()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn sigterm_unmounts_and_a_sigkilled_runs_mounts_are_swept_by_the_next_run() {
    if !util::fuse_available() {
        return;
    }
    let _one = util::cluster_lock();
    let root = tempfile::tempdir().unwrap();
    let args = ["--time-limit", "60", "--nemesis", "power-loss", "--nemesis-interval", "1"];
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        let store = root.path().join(sig.as_str());
        let mut run = Background::start(&store, &args, &[]);
        run.wait_for_workload(3, Duration::from_secs(60));
        assert_eq!(leftovers::mounts_under(&store).len(), 3, "a disk per node");
        let mut tags: BTreeSet<String> =
            leftovers::tags_of_controller(run.pid()).into_iter().collect();
        run.signal(sig);
        let status = run.wait(Duration::from_secs(60));
        tags.extend(leftovers::tags_in_logs(&store));
        if sig == Signal::SIGKILL {
            assert_eq!(leftovers::mounts_under(&store).len(), 3, "SIGKILL leaves the mounts");
            // The next run sweeps them (and the orphaned nodes).
            let next_args = ["--time-limit", "3", "--nemesis", "none"];
            let next = util::run_faultline(&root.path().join("next"), &next_args);
            assert_eq!(next.code, 0, "{next:?}");
        } else {
            assert_eq!(status.code(), Some(3), "{}", run.stderr());
        }
        let left = Leftovers::settle(&store, &tags, Duration::from_secs(10));
        assert!(left.is_empty(), "{sig} left {left:?}\n{}", run.stderr());
    }
}
