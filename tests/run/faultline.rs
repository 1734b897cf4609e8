//! faultline clusters: a short correct run under partitions and kills passes with the full
//! store; a planted bug is caught; `--replay` repeats the configuration.

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
    assert!(history.nemesis.iter().any(|e| e.f == "start-partition" || e.f == "kill"), "no faults");
    // Final reads: every key used got a read after the faults healed.
    let keys = results["stats"]["keys"].as_u64().unwrap();
    assert_eq!(results["stats"]["final_reads"]["read"].as_u64().unwrap(), keys, "{results}");
    // test.json is complete and names the seed.
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!((test["seed"].as_u64(), test["nodes"].as_u64()), (Some(11), Some(3)));
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
