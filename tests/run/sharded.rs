//! The sharded KV (`--system sharded`): a run under reconfigure + partition + kill passes,
//! settles and leaves no process behind, on the local and (root) netns backends; a planted
//! bug (`shard-serve-late`) is caught.

use super::leftovers::processes_mentioning;
use super::util::{self, assert_layout};

fn run_sharded(store: &std::path::Path, args: &[&str]) -> util::Run {
    let node = util::node_binary();
    let mut all = vec!["--system", "sharded", "--node-binary", node.to_str().unwrap()];
    all.extend_from_slice(args);
    util::run(store, &all)
}

#[test]
fn sharded_under_reconfigure_partitions_and_kills_passes() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let args = ["--nemesis", "reconfigure,partition,kill", "--nemesis-interval", "2"];
    let r = run_sharded(
        store.path(),
        &[&args[..], &["--time-limit", "15", "--seed", "7", "--groups", "3"]].concat(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let dir = r.dir();
    // A controller group and 3 replica groups of 3 nodes each.
    let results = assert_layout(store.path(), &dir, 12);
    assert_eq!(results["verdict"], "linearizable");
    assert_eq!(results["shards"]["settled"], true, "{}", results["shards"]);
    let history = util::history(&dir);
    let ok = history.ops.iter().filter(|o| o.outcome == faultline_checker::Outcome::Ok).count();
    assert!(ok > 300, "only {ok} ok operations: {r:?}");
    let changes: Vec<_> = history
        .nemesis
        .iter()
        .filter(|e| ["join", "leave", "move"].contains(&e.f.as_str()))
        .collect();
    assert!(!changes.is_empty(), "no reconfiguration: {:?}", history.nemesis);
    assert!(
        changes.iter().any(|e| e.value["to"].as_u64() > e.value["from"].as_u64()),
        "no change made a new config: {changes:?}"
    );
    let leftover = processes_mentioning(store.path());
    assert!(leftover.is_empty(), "processes left behind: {leftover:?}");
}

#[test]
fn a_group_serving_a_shard_it_handed_over_is_caught() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let args = ["--nemesis", "reconfigure", "--nemesis-interval", "2", "--time-limit", "12"];
    let r = run_sharded(
        store.path(),
        &[&args[..], &["--seed", "3", "--unsafe-bug", "shard-serve-late"]].concat(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    let j = r.json();
    assert!(j["anomaly"]["explanation"].as_str().is_some_and(|e| !e.is_empty()), "{j}");
    assert!(processes_mentioning(store.path()).is_empty(), "processes left behind");
}

#[test]
fn sharded_on_netns_partitions_cut_traffic_between_groups_too() {
    if util::skip_without_root() {
        return;
    }
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let r = run_sharded(
        store.path(),
        &["--backend", "netns", "--nemesis", "reconfigure,partition,kill", "--nemesis-interval",
          "2", "--time-limit", "12", "--seed", "1", "--groups", "2"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let dir = r.dir();
    let results = assert_layout(store.path(), &dir, 9);
    assert_eq!(results["shards"]["settled"], true, "{}", results["shards"]);
    // Partitions are drawn over every node: some cut a replica group off from the controller
    // or from another group (node-to-node traffic of every kind, by iptables).
    let history = util::history(&dir);
    let cuts: Vec<_> = history.nemesis.iter().filter(|e| e.f == "start-partition").collect();
    assert!(!cuts.is_empty(), "no partition: {:?}", history.nemesis);
    assert!(processes_mentioning(store.path()).is_empty(), "processes left behind");
}

#[test]
fn figure8_plays_in_one_raft_group_at_a_time() {
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let r = run_sharded(
        store.path(),
        &["--nemesis", "figure8", "--nemesis-interval", "2", "--time-limit", "10", "--seed", "3",
          "--groups", "2"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let history = util::history(&r.dir());
    let firsts: Vec<_> = history
        .nemesis
        .iter()
        .filter(|e| e.f == "start-partition" && e.value["step"] == 1)
        .collect();
    assert!(!firsts.is_empty(), "no figure8 sequence: {:?}", history.nemesis);
    // Step 1 isolates one group's leader; every other node, of any group, stays together.
    for e in firsts {
        let groups = e.value["groups"].as_array().unwrap();
        let sizes: Vec<usize> = groups.iter().map(|g| g.as_array().unwrap().len()).collect();
        assert!(sizes.contains(&1) && sizes.iter().sum::<usize>() == 9, "{}", e.value);
    }
    assert!(processes_mentioning(store.path()).is_empty(), "processes left behind");
}
