//! etcd 3.4 clusters: linearizable reads pass under partitions; serializable reads under
//! partitions are caught.

use super::util::{self, assert_layout};

#[test]
fn etcd_with_linearizable_reads_passes() {
    if !util::etcd_available() {
        return;
    }
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let r = util::run(
        store.path(),
        &[
            "--system",
            "etcd",
            "--workload",
            "cas-register",
            "--nemesis",
            "partition,kill",
            "--nodes",
            "3",
            "--time-limit",
            "10",
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
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let results = assert_layout(store.path(), &r.dir(), 3);
    assert!(results["stats"]["counts"]["ok"].as_u64().unwrap() > 200, "{results}");
}

#[test]
fn etcd_serializable_reads_under_partitions_are_caught() {
    if !util::etcd_available() {
        return;
    }
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let r = util::run(
        store.path(),
        &[
            "--system",
            "etcd",
            "--etcd-serializable-reads",
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
            "8",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["verdict"], "illegal");
}
