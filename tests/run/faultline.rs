//! faultline clusters: a short correct run under partitions and kills passes with the full
//! store; planted bugs are caught (stale-reads under partitions, commit-old-term under the
//! figure8 nemesis, which the correct node passes); `--replay` repeats the configuration;
//! composed faults (`clock+partition`) overlap in the history and are counted each.

use super::util::{self, assert_layout, run_faultline};

#[test]
fn three_nodes_under_partitions_and_kills_pass() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let r = run_faultline(
        store.path(),
        &[
            "--workload",
            "cas-register",
            "--nemesis",
            "partition,kill",
            "--nodes",
            "3",
            "--time-limit",
            "12",
            "--nemesis-interval",
            "2",
            "--concurrency",
            "6",
            "--rate",
            "150",
            "--keys",
            "4",
            "--ops-per-key",
            "150",
            "--seed",
            "11",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let dir = r.dir();
    let results = assert_layout(store.path(), &dir, 3);
    assert_eq!(results["verdict"], "linearizable");
    let history = util::history(&dir);
    let ok = history.ops.iter().filter(|o| o.outcome == faultline_checker::Outcome::Ok).count();
    assert!(ok > 300, "only {ok} ok operations: {r:?}");
    // Every ok completion names the node that answered it.
    let ok_ops = || history.ops.iter().filter(|o| o.outcome == faultline_checker::Outcome::Ok);
    assert!(ok_ops().all(|o| o.node.as_deref().is_some_and(|n| n.starts_with('n'))), "node");
    assert!(history.nemesis.iter().any(|e| e.f == "start-partition" || e.f == "kill"), "no faults");
    // Each healed partition says how much traffic it stopped (the proxies count connections
    // closed or refused on cut links); between nodes in constant contact that is never 0.
    let healed: Vec<u64> = history
        .nemesis
        .iter()
        .filter(|e| e.f == "stop-partition")
        .map(|e| e.value["cut_traffic"].as_u64().expect("cut_traffic on stop-partition"))
        .collect();
    assert!(!healed.is_empty() && healed.iter().all(|&n| n > 0), "{healed:?}");
    // Coverage: the faults took effect, and what they did is counted.
    let cov = &results["coverage"];
    assert!(cov["installed"].as_u64().unwrap() >= 1, "{cov}");
    // The first fault goes for the leader (default targets: leader,random).
    assert!(cov["leader_disturbed"].as_u64().unwrap() >= 1, "{cov}");
    assert_eq!(cov["faults"].as_array().unwrap().len(), 2, "{cov}");
    assert!(r.stderr.contains("faults: partition"), "{r:?}");
    // Final reads: every key used got a read after the faults healed.
    let keys = results["stats"]["keys"].as_u64().unwrap();
    assert_eq!(results["stats"]["final_reads"]["read"].as_u64().unwrap(), keys, "{results}");
    // test.json is complete and names the seed.
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!((test["seed"].as_u64(), test["nodes"].as_u64()), (Some(11), Some(3)));
}

#[test]
fn composed_faults_overlap_in_the_history_and_each_is_counted() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let r = run_faultline(
        store.path(),
        &["--workload", "register", "--read-mode", "lease", "--nemesis", "clock+partition",
          "--nemesis-targets", "leader", "--nemesis-clock-rate", "0.5", "--nodes", "3",
          "--time-limit", "8", "--nemesis-interval", "1", "--keys", "2", "--seed", "5"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let dir = r.dir();
    let history = util::history(&dir);
    let fs: Vec<&str> = history.nemesis.iter().map(|e| e.f.as_str()).collect();
    // Every period: the leader's clock slows, the leader is isolated; the partition heals
    // before the clock is reset, so the two overlap.
    let periods = fs
        .windows(4)
        .filter(|w| *w == ["clock-rate", "start-partition", "stop-partition", "clock-reset"]);
    assert!(periods.count() >= 2, "{fs:?}");
    let cov = &util::assert_layout(store.path(), &dir, 3)["coverage"];
    let faults = cov["faults"].as_array().unwrap();
    let installed: Vec<(&str, u64)> = faults
        .iter()
        .map(|f| (f["fault"].as_str().unwrap(), f["installed"].as_u64().unwrap()))
        .collect();
    assert_eq!(installed.len(), 2, "{cov}");
    assert!(installed.iter().all(|(_, n)| *n >= 2), "{cov}");
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["nemesis"], "clock+partition", "{test}");
}

#[test]
fn faults_that_cannot_run_are_never_a_pass() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    // Refused before anything starts.
    let r = run_faultline(store.path(), &["--nemesis", "loss", "--time-limit", "3"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("loss: packet loss needs the netns or ssh backend"), "{r:?}");
    assert!(!store.path().join("latest").exists(), "nothing was started");
    // Allowed, the run goes, but a run whose faults all failed to take effect is exit 2.
    let args = ["--nemesis", "loss", "--allow-skipped-faults", "--time-limit", "4"];
    let r = run_faultline(
        store.path(),
        &[&args[..], &["--nemesis-interval", "1", "--seed", "3"]].concat(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    let j = r.json();
    assert_eq!(
        (j["verdict"].as_str(), j["coverage"]["installed"].as_u64()),
        (Some("linearizable"), Some(0))
    );
    assert!(j["coverage"]["faults"][0]["skipped"].as_u64().unwrap() >= 1, "{j}");
    assert!(r.stderr.contains("none of the requested faults took effect"), "{r:?}");
}

#[test]
fn stale_reads_bug_is_caught() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let r = run_faultline(
        store.path(),
        &[
            "--unsafe-bug",
            "stale-reads",
            "--workload",
            "register",
            "--nemesis",
            "partition",
            "--nodes",
            "3",
            "--time-limit",
            "15",
            "--nemesis-interval",
            "2",
            "--concurrency",
            "9",
            "--rate",
            "300",
            "--keys",
            "2",
            "--seed",
            "3",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    let json = r.json();
    assert_eq!(json["verdict"], "illegal");
    assert!(json["anomaly"]["key"].is_string(), "{}", json["anomaly"]);
    assert!(r.stderr.contains("NOT LINEARIZABLE"), "{r:?}");
}

#[test]
fn replay_repeats_the_configuration() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let first = run_faultline(
        store.path(),
        &[
            "--workload",
            "kv",
            "--nemesis",
            "none",
            "--time-limit",
            "2",
            "--rate",
            "50",
            "--name",
            "replayed",
        ],
    );
    assert_eq!(first.code, 0, "{first:?}");
    let test_json = first.dir().join("test.json");
    let second = util::run(store.path(), &["--replay", test_json.to_str().unwrap()]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_ne!(first.dir(), second.dir());
    let read = |p: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (a, b) = (read(test_json), read(second.dir().join("test.json")));
    assert_eq!(a, b, "replay changed the configuration");
    assert_eq!(first.json()["seed"], second.json()["seed"]);
}

/// `examples/figure8.toml` (30 s, seed 1): the figure8 nemesis and the settings that expose
/// commit-old-term.
fn run_figure8(store: &std::path::Path, bug: Option<&str>) -> util::Run {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/figure8.toml");
    let mut args = vec!["--test", spec, "--time-limit", "30", "--seed", "1"];
    if let Some(b) = bug {
        args.extend(["--unsafe-bug", b]);
    }
    run_faultline(store, &args)
}

#[test]
fn figure8_catches_commit_old_term() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let r = run_figure8(store.path(), Some("commit-old-term"));
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["verdict"], "illegal");
    // The node saw what the checker inferred: a committed entry was overwritten.
    let logs: String = (1..=3)
        .map(|n| std::fs::read_to_string(r.dir().join(format!("nodes/n{n}/node.log"))).unwrap())
        .collect();
    assert!(logs.contains("leader overwrote a committed entry"), "no overwrite logged");
}

#[test]
fn figure8_passes_the_correct_node() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let r = run_figure8(store.path(), None);
    assert_eq!(r.code, 0, "{r:?}");
    // The sequence ran to its last step at least once, and each step is in the history.
    let history = util::history(&r.dir());
    let steps: Vec<u64> = history
        .nemesis
        .iter()
        .filter(|e| e.f == "start-partition" && e.value["shape"] == "figure8")
        .filter_map(|e| e.value["step"].as_u64())
        .collect();
    for s in 1..=4 {
        assert!(steps.contains(&s), "step {s} never ran: {steps:?}");
    }
}
