//! Maelstrom nodes (`--system maelstrom --node-cmd`): examples/maelstrom/raft_kv.py passes
//! under partitions and pauses with the router's counts in results.json; its planted
//! stale reads are caught; a node that writes junk is counted and the run goes on; faults a
//! Maelstrom node cannot take are refused before anything starts. Each test skips, saying
//! why, without python3.

use std::path::PathBuf;
use std::process::Command;

use super::util::{self, assert_layout};

/// `python3 <repo>/examples/maelstrom/raft_kv.py` plus `extra`, or `None` (printed) without
/// python3.
fn raft_kv(extra: &str) -> Option<String> {
    let ok = Command::new("python3").arg("-V").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: python3 is not installed");
        return None;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/maelstrom/raft_kv.py");
    Some(format!("python3 {} {extra}", script.display()).trim_end().to_string())
}

fn run(store: &std::path::Path, cmd: &str, extra: &[&str]) -> util::Run {
    let mut args = vec!["--system", "maelstrom", "--node-cmd", cmd, "--workload", "register"];
    args.extend_from_slice(extra);
    util::run(store, &args)
}

const SHORT: &[&str] = &[
    "--time-limit",
    "12",
    "--nemesis-interval",
    "2",
    "--concurrency",
    "6",
    "--rate",
    "100",
    "--keys",
    "4",
    "--seed",
    "5",
];

#[test]
fn raft_kv_passes_under_partitions_and_pauses() {
    let Some(cmd) = raft_kv("") else { return };
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let mut args = vec!["--nemesis", "partition,pause"];
    args.extend_from_slice(SHORT);
    let r = run(store.path(), &cmd, &args);
    assert_eq!(r.code, 0, "{r:?}");
    let results = assert_layout(store.path(), &r.dir(), 3);
    assert_eq!(results["verdict"], "linearizable");
    assert!(results["stats"]["counts"]["ok"].as_u64().unwrap() > 200, "{results}");
    let cov = &results["coverage"];
    assert!(cov["installed"].as_u64().unwrap() >= 2, "{cov}");
    // The router's counts: links between nodes carried messages, and the cut dropped some.
    let net = &results["network"];
    assert!(net["links"].as_array().unwrap().len() >= 6, "{net}");
    let cut: u64 =
        net["seconds"].as_array().unwrap().iter().map(|s| s["cut"].as_u64().unwrap()).sum();
    let partitioned = util::history(&r.dir()).nemesis.iter().any(|e| e.f == "start-partition");
    assert!(!partitioned || cut > 0, "{net}");
    assert_eq!(net["misbehaviour"]["not_a_message"], 0, "{net}");
    // The node's stderr is its log.
    let log = std::fs::read_to_string(r.dir().join("nodes/n1/node.log")).unwrap();
    assert!(log.contains("initialised among"), "{log}");
}

#[test]
fn planted_stale_reads_are_caught() {
    let Some(cmd) = raft_kv("--bug stale-reads") else { return };
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let mut args = vec!["--nemesis", "partition"];
    args.extend_from_slice(SHORT);
    let r = run(store.path(), &cmd, &args);
    assert_eq!(r.code, 1, "{r:?}");
    let results = r.json();
    assert_eq!(results["verdict"], "illegal", "{results}");
    assert!(results["test"].as_str().unwrap().ends_with("-bug-stale_reads"), "{results}");
}

#[test]
fn a_node_writing_junk_is_counted_and_the_run_goes_on() {
    let Some(node) = raft_kv("") else { return };
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    // The example behind a shell that first prints a line that is not a message.
    let cmd = format!("sh -c 'echo hello, not json; exec {node}'");
    let mut args = vec!["--nemesis", "none"];
    args.extend_from_slice(SHORT);
    let r = run(store.path(), &cmd, &args);
    assert_eq!(r.code, 0, "{r:?}");
    let results = r.json();
    assert_eq!(results["network"]["misbehaviour"]["not_a_message"], 3, "{results}");
    let samples = results["network"]["misbehaviour"]["samples"].to_string();
    assert!(samples.contains("hello, not json"), "{samples}");
    let log = std::fs::read_to_string(r.dir().join("nodes/n2/node.log")).unwrap();
    assert!(log.contains("faultline: n2 answered init with not a message"), "{log}");
}

#[test]
fn what_a_maelstrom_node_cannot_take_is_refused_up_front() {
    let store = tempfile::tempdir().unwrap();
    let r = run(store.path(), "python3 node.py", &["--nemesis", "clock"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("Maelstrom's protocol has no clock to set"), "{r:?}");
    let r = run(store.path(), "python3 node.py", &["--nemesis-targets", "leader"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("reports no leader"), "{r:?}");
    let r = util::run(store.path(), &["--system", "maelstrom"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("--node-cmd"), "{r:?}");
    let r = run(store.path(), "/nonexistent/node --x", &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/node is neither a file nor on PATH"), "{r:?}");
    let r = run(store.path(), "python3 'unclosed", &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("unclosed"), "{r:?}");
    assert!(!store.path().join("latest").exists());
}
