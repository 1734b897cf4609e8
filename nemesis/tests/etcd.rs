//! A real 3-member etcd cluster under the local backend: writes and reads through the
//! gateway, kill/restart, pause, a leader isolated by the per-destination proxies, a short
//! nemesis run, and a shutdown that leaves no process behind.

use std::net::SocketAddr;
use std::time::Duration;

use faultline_nemesis::{
    Backend, Cluster, ClusterSpec, Fault, FaultOutcome, Grudge, Nemesis, NemesisConfig, SystemSpec,
};
use serde_json::{json, Value};

use crate::util::{b64, etcd_binary, eventually, proc_state, processes_mentioning};

async fn put(http: &reqwest::Client, addr: SocketAddr, key: &str, value: &str) -> Option<()> {
    let body = json!({"key": b64(key.as_bytes()), "value": b64(value.as_bytes())});
    let r = http
        .post(format!("http://{addr}/v3/kv/put"))
        .json(&body)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    r.status().is_success().then_some(())
}

async fn get(http: &reqwest::Client, addr: SocketAddr, key: &str) -> Option<String> {
    let body = json!({"key": b64(key.as_bytes())});
    let r = http
        .post(format!("http://{addr}/v3/kv/range"))
        .json(&body)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    if v.get("error").is_some() {
        return None;
    }
    Some(v["kvs"][0]["value"].as_str().unwrap_or("").to_string())
}

fn spec(dir: &std::path::Path) -> Option<ClusterSpec> {
    let system = SystemSpec::Etcd { binary: etcd_binary()?, serializable_reads: false };
    Some(ClusterSpec::new(system, 3, Backend::Local, dir.to_path_buf(), 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_local_cluster_survives_kill_pause_partition_and_cleans_up() {
    let Some(spec) = spec(&tempfile::tempdir().unwrap().keep()) else { return };
    let dir = spec.dir.clone();
    let cluster = Cluster::start(spec).await.expect("etcd cluster starts");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let addrs = cluster.client_addrs();
    assert_eq!(cluster.node_names(), ["n1", "n2", "n3"]);
    assert!(cluster.log_file("n1").unwrap().starts_with(&dir));

    // Write through one member, read it back through another.
    put(&http, addrs[0].1, "k1", "v1").await.expect("put");
    assert_eq!(get(&http, addrs[2].1, "k1").await.as_deref(), Some(b64(b"v1").as_str()));
    // Peer traffic really flows through the proxies.
    assert!(cluster.proxied_connections() > 0);

    // Kill a member: the rest still serve writes; restart it with its data.
    let pid = cluster.pid("n2").unwrap();
    assert_eq!(cluster.kill("n2").unwrap(), FaultOutcome::Installed);
    assert!(!cluster.is_running("n2"));
    assert!(proc_state(pid).is_none(), "killed process is gone");
    assert!(matches!(cluster.kill("n2").unwrap(), FaultOutcome::Skipped(_)));
    let ok = eventually(Duration::from_secs(15), || put(&http, addrs[0].1, "k2", "v2")).await;
    ok.expect("put with n2 down");
    assert_eq!(cluster.start_node("n2").unwrap(), FaultOutcome::Installed);
    let seen = eventually(Duration::from_secs(15), || get(&http, addrs[1].1, "k2")).await;
    assert_eq!(seen.as_deref(), Some(b64(b"v2").as_str()), "restarted n2 catches up");

    // Pause a member: its process is stopped (state T) until resumed.
    assert_eq!(cluster.pause("n3").unwrap(), FaultOutcome::Installed);
    let pid3 = cluster.pid("n3").unwrap();
    let stopped = eventually(Duration::from_secs(2), || async {
        (proc_state(pid3) == Some('T')).then_some(())
    });
    assert!(stopped.await.is_some(), "paused process is in state T");
    let ok = eventually(Duration::from_secs(15), || put(&http, addrs[0].1, "k3", "v3")).await;
    ok.expect("put with n3 paused");
    assert_eq!(cluster.resume("n3").unwrap(), FaultOutcome::Installed);
    let running = eventually(Duration::from_secs(2), || async {
        (proc_state(pid3) != Some('T')).then_some(())
    });
    assert!(running.await.is_some(), "resumed process leaves state T");

    // Clock faults cannot reach etcd: skipped with the reason.
    let out = cluster.set_clock("n1", 5_000, 1.0).await.unwrap();
    assert!(matches!(&out, FaultOutcome::Skipped(r) if r.contains("vDSO")), "{out:?}");

    // Isolate the leader through the per-destination proxies: the others elect a new one.
    let leader = eventually(Duration::from_secs(10), || cluster.leader()).await.expect("leader");
    let li = cluster.node_names().iter().position(|n| *n == leader).unwrap();
    cluster.set_cut(&Grudge::isolate(3, li)).unwrap();
    let other = (li + 1) % 3;
    let new_leader = eventually(Duration::from_secs(20), || async {
        put(&http, addrs[other].1, "k4", "v4").await?;
        cluster.leader().await.filter(|l| *l != leader)
    })
    .await;
    assert!(new_leader.is_some(), "majority side elects a new leader while {leader} is cut off");
    // The isolated old leader cannot serve a linearizable read.
    assert_eq!(
        get(&http, addrs[li].1, "k4").await,
        None,
        "isolated member answers no linearizable read"
    );
    cluster.heal().unwrap();
    let healed = eventually(Duration::from_secs(15), || async {
        get(&http, addrs[li].1, "k4").await.filter(|v| !v.is_empty())
    })
    .await;
    assert_eq!(healed.as_deref(), Some(b64(b"v4").as_str()));

    cluster.shutdown().await.unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new(), "no etcd process left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_run_on_etcd_reports_paired_events_and_heals() {
    let Some(spec) = spec(&tempfile::tempdir().unwrap().keep()) else { return };
    let dir = spec.dir.clone();
    let cluster = Cluster::start(spec).await.expect("etcd cluster starts");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let faults = vec![Fault::Partition, Fault::Kill, Fault::Pause, Fault::Clock, Fault::Loss];
    let mut nemesis = Nemesis::new(NemesisConfig::new(faults, Duration::from_millis(400), 5));
    nemesis.run(&cluster, Duration::from_secs(6), &tx).await.unwrap();
    nemesis.heal_all(&cluster, &tx).await.unwrap();
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    assert!(events.len() >= 4, "{events:?}");
    let starts = [
        "start-partition",
        "kill",
        "pause",
        "clock-bump",
        "clock-strobe",
        "clock-rate",
        "start-loss",
    ];
    let mut open: Option<&str> = None;
    for e in &events {
        if starts.contains(&e.name.f()) {
            assert!(open.is_none(), "fault {:?} started while {open:?} active", e.name.f());
            if !matches!(e.outcome, FaultOutcome::Skipped(_)) {
                open = Some(e.name.f());
            }
        } else {
            assert!(open.take().is_some(), "end event {} without a start", e.name.f());
        }
        if e.name.f().starts_with("clock") || e.name.f().ends_with("loss") {
            assert!(matches!(e.outcome, FaultOutcome::Skipped(_)), "{e:?}");
        }
    }
    assert!(open.is_none());
    // Healed: every member runs, nothing is cut, and the cluster serves writes again.
    for n in cluster.node_names() {
        assert!(cluster.is_running(&n) && !cluster.is_paused(&n), "{n}");
    }
    assert!(!cluster.is_partitioned());
    cluster.wait_ready(Duration::from_secs(20)).await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let addr = cluster.client_addrs()[0].1;
    assert!(eventually(Duration::from_secs(15), || put(&http, addr, "after", "x")).await.is_some());
    drop(cluster); // the Drop guard alone must clean up
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_netns_cluster_partitioned_by_iptables_and_removed() {
    if !crate::util::is_root() {
        return;
    }
    let Some(mut spec) = spec(&tempfile::tempdir().unwrap().keep()) else { return };
    spec.backend = Backend::Netns;
    let dir = spec.dir.clone();
    let cluster = Cluster::start(spec).await.expect("etcd cluster in namespaces starts");
    let tag = cluster.tag().to_string();
    let ns = cluster.nodes()[0].netns.clone().expect("node runs in a namespace");
    assert!(ns.contains(&tag));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let addrs = cluster.client_addrs();
    assert!(addrs[0].1.ip().to_string().starts_with("10.77."), "{addrs:?}");
    put(&http, addrs[0].1, "k", "v").await.expect("put from the host over the bridge");

    let leader = eventually(Duration::from_secs(10), || cluster.leader()).await.expect("leader");
    let li = cluster.node_names().iter().position(|n| *n == leader).unwrap();
    cluster.set_cut(&Grudge::isolate(3, li)).unwrap();
    let other = (li + 1) % 3;
    let elected = eventually(Duration::from_secs(20), || async {
        put(&http, addrs[other].1, "k2", "v2").await?;
        cluster.leader().await.filter(|l| *l != leader)
    })
    .await;
    assert!(
        elected.is_some(),
        "majority elects a new leader while {leader} is dropped by iptables"
    );
    cluster.heal().unwrap();
    let healed = eventually(Duration::from_secs(15), || async {
        get(&http, addrs[li].1, "k2").await.filter(|v| !v.is_empty())
    })
    .await;
    assert_eq!(healed.as_deref(), Some(b64(b"v2").as_str()));
    assert_eq!(cluster.set_loss(0.1).unwrap(), FaultOutcome::Installed);
    assert_eq!(cluster.set_loss(0.0).unwrap(), FaultOutcome::Installed);

    cluster.shutdown().await.unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new());
    let out = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&tag), "namespaces removed");
    let out = std::process::Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&format!("fl{tag}")), "links removed");
}
