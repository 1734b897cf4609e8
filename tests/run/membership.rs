//! The membership fault on faultline nodes and on etcd: a short 5-node run removes members,
//! wipes them and adds them back (learner, then voter), passes, shows each step in the
//! history, never counts an answer of a node that is out, and leaves nothing behind; sizes,
//! systems and planted bugs it cannot serve are refused up front.

use std::collections::BTreeSet;
use std::time::Duration;

use faultline_checker::Outcome;

use super::leftovers::{tags_in_logs, Leftovers};
use super::util::{self, assert_layout, run_faultline, Run};

#[test]
fn five_nodes_lose_and_regain_members_and_pass() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let r = run_faultline(store.path(), &ARGS);
    assert_lost_and_regained(store.path(), &r);
}

#[test]
fn etcd_members_are_removed_and_added_back_through_its_member_api() {
    if !util::etcd_available() {
        return;
    }
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let mut args = vec!["--system", "etcd"];
    args.extend_from_slice(&ARGS);
    let r = util::run(store.path(), &args);
    assert_lost_and_regained(store.path(), &r);
}

/// A short 5-node run under the membership fault alone.
#[rustfmt::skip]
const ARGS: [&str; 14] = [
    "--nemesis", "membership", "--nodes", "5", "--time-limit", "15", "--nemesis-interval", "3",
    "--concurrency", "6", "--rate", "150", "--seed", "7",
];

/// `r` passed, removed at least two members and brought each back (see the module doc).
fn assert_lost_and_regained(store: &std::path::Path, r: &Run) {
    assert_eq!(r.code, 0, "{r:?}");
    let dir = r.dir();
    let results = assert_layout(store, &dir, 5);
    assert_eq!(results["verdict"], "linearizable");
    let history = util::history(&dir);
    let steps: Vec<(&str, String, u64)> = history
        .nemesis
        .iter()
        .map(|e| (e.f.as_str(), e.value["nodes"][0].as_str().unwrap_or("").to_string(), e.time))
        .collect();
    // Each removal is followed by the same node's add and promotion, all installed, and the
    // promotion names all five voters again.
    let removals: Vec<usize> =
        (0..steps.len()).filter(|&i| steps[i].0 == "remove-member").collect();
    assert!(removals.len() >= 2, "{steps:?}");
    for &i in &removals {
        let node = &steps[i].1;
        let kinds: Vec<&str> = steps[i..].iter().take(3).map(|s| s.0).collect();
        assert_eq!(kinds, ["remove-member", "add-member", "promote-member"], "{steps:?}");
        assert!(steps[i..i + 3].iter().all(|s| s.1 == *node), "{steps:?}");
        let removed = &history.nemesis[i].value;
        assert_eq!(removed["voters"].as_array().unwrap().len(), 4, "{removed}");
        assert!(!removed["voters"].as_array().unwrap().iter().any(|v| v == node), "{removed}");
        let promoted = &history.nemesis[i + 2].value;
        assert_eq!(promoted["voters"].as_array().unwrap().len(), 5, "{promoted}");
        for e in &history.nemesis[i..i + 3] {
            assert_eq!(e.value["outcome"], "installed", "{}", e.value);
        }
        // While out (cut off or told it is out, then wiped, then a learner), the node
        // answered nothing that counted.
        let (from, to) = (steps[i].2, steps[i + 2].2);
        let served = history.ops.iter().filter(|o| {
            o.outcome == Outcome::Ok
                && o.node.as_deref() == Some(node.as_str())
                && o.call > from
                && o.ret.is_some_and(|t| t < to)
        });
        assert_eq!(served.count(), 0, "{node} served while out of the cluster");
    }
    let cov = &results["coverage"]["faults"][0];
    assert_eq!(cov["fault"], "membership", "{cov}");
    assert!(cov["installed"].as_u64().unwrap() >= 2, "{cov}");
    // The final reads see the whole cluster again.
    let keys = results["stats"]["keys"].as_u64().unwrap();
    assert_eq!(results["stats"]["final_reads"]["read"].as_u64().unwrap(), keys, "{results}");
    let tags: BTreeSet<String> = tags_in_logs(store).into_iter().collect();
    assert!(!tags.is_empty());
    let left = Leftovers::settle(store, &tags, Duration::from_secs(5));
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn sizes_systems_and_bugs_membership_cannot_serve_are_refused() {
    let store = tempfile::tempdir().unwrap();
    let r = run_faultline(store.path(), &["--nemesis", "membership", "--nodes", "3"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("needs --nodes 4 or more (this run has 3)"), "{r:?}");
    assert!(r.stderr.contains("--allow-skipped-faults"), "names the real flag: {r:?}");
    // One node: the default partition and figure8 cannot take effect, said before starting.
    let r = run_faultline(store.path(), &["--nodes", "1"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("partition: it cuts the links between nodes"), "{r:?}");
    let r = util::run(store.path(), &["--system", "sharded", "--nemesis", "membership"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("groups change through reconfigure"), "{r:?}");
    let r = run_faultline(store.path(), &["--unsafe-bug", "membership-overlap", "--nodes", "5"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("membership-overlap needs the membership fault"), "{r:?}");
    assert!(!store.path().join("latest").exists(), "nothing was started");
}
