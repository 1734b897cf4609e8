//! faultline-node clusters through the nemesis API: local proxies cut and heal real Raft
//! traffic, kill/restart, pause, the clock admin endpoint, and a short nemesis run.
//! Skips (with the reason) when the `faultline-node` binary has not been built.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faultline_nemesis::{
    Backend, Cluster, ClusterSpec, Fault, FaultOutcome, Grudge, Nemesis, NemesisConfig, SystemSpec,
};
use serde_json::{json, Value};

use crate::util::{eventually, processes_mentioning};

/// The node binary next to this test binary (`target/<profile>/faultline-node`), or
/// `$FAULTLINE_NODE_BIN`.
fn node_binary() -> Option<PathBuf> {
    let from_env = std::env::var_os("FAULTLINE_NODE_BIN").map(PathBuf::from);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("faultline-node")));
    let found = from_env.or(beside).filter(|p| p.is_file());
    if found.is_none() {
        eprintln!("skipping: faultline-node not built (cargo build -p faultline-node, or set FAULTLINE_NODE_BIN)");
    }
    found
}

fn spec(nodes: usize) -> Option<ClusterSpec> {
    let system = SystemSpec::Faultline {
        binary: node_binary()?,
        unsafe_bug: None,
        read_mode: None,
        extra_args: vec![],
    };
    let dir = tempfile::tempdir().unwrap().keep();
    Some(ClusterSpec::new(system, nodes, Backend::Local, dir, 7))
}

static SEQ: AtomicU64 = AtomicU64::new(1);

/// One KV request to `addr`; `Some(body)` when the node answered `ok`.
async fn kv(
    http: &reqwest::Client,
    addr: SocketAddr,
    op: &str,
    key: &str,
    value: Option<&str>,
) -> Option<Value> {
    let body = json!({"client": 4242, "seq": SEQ.fetch_add(1, Ordering::SeqCst), "op": op,
                      "key": key, "value": value});
    let r = http
        .post(format!("http://{addr}/v1/kv"))
        .json(&body)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    let v: Value = r.json().await.ok()?;
    (v["status"] == "ok").then_some(v)
}

async fn status(http: &reqwest::Client, addr: SocketAddr) -> Option<Value> {
    let r =
        http.get(format!("http://{addr}/v1/status")).timeout(Duration::from_secs(1)).send().await;
    r.ok()?.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faultline_cluster_partition_kill_pause_clock() {
    let Some(spec) = spec(3) else { return };
    let dir = spec.dir.clone();
    let cluster = Cluster::start(spec).await.expect("3 faultline nodes start");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let addr = |name: &str| cluster.client_addrs().into_iter().find(|(n, _)| n == name).unwrap().1;

    let leader = cluster.leader().await.expect("a leader after start");
    kv(&http, addr(&leader), "put", "k", Some("1")).await.expect("put on the leader");
    assert!(cluster.proxied_connections() > 0, "peer traffic goes through the proxies");

    // Isolate the leader: the two others elect a new one and accept writes.
    let li = cluster.node_names().iter().position(|n| *n == leader).unwrap();
    cluster.set_cut(&Grudge::isolate(3, li)).unwrap();
    let new_leader = eventually(Duration::from_secs(15), || async {
        let l = cluster.leader().await.filter(|l| *l != leader)?;
        kv(&http, addr(&l), "put", "k", Some("2")).await.map(|_| l)
    })
    .await
    .expect("majority elects a new leader and commits");
    cluster.heal().unwrap();
    let read = eventually(Duration::from_secs(15), || async {
        let l = cluster.leader().await?;
        kv(&http, addr(&l), "get", "k", None).await
    })
    .await
    .expect("read after heal");
    assert_eq!(read["value"], "2");

    // Kill a follower and restart it with its data.
    let follower = cluster.node_names().into_iter().find(|n| *n != new_leader).unwrap();
    assert_eq!(cluster.kill(&follower).unwrap(), FaultOutcome::Installed);
    assert!(status(&http, addr(&follower)).await.is_none());
    assert_eq!(cluster.start_node(&follower).unwrap(), FaultOutcome::Installed);
    let back = eventually(Duration::from_secs(15), || status(&http, addr(&follower))).await;
    assert!(back.is_some(), "restarted node answers");

    // Pause: the node stops answering until resumed.
    assert_eq!(cluster.pause(&follower).unwrap(), FaultOutcome::Installed);
    assert!(status(&http, addr(&follower)).await.is_none(), "paused node is silent");
    assert_eq!(cluster.resume(&follower).unwrap(), FaultOutcome::Installed);
    assert!(eventually(Duration::from_secs(5), || status(&http, addr(&follower))).await.is_some());

    // Clock: the admin endpoint takes the offset and rate.
    assert_eq!(cluster.set_clock(&follower, 5_000, 2.0).await.unwrap(), FaultOutcome::Installed);
    let s = status(&http, addr(&follower)).await.unwrap();
    assert_eq!(s["clock_offset_ms"].as_i64(), Some(5_000), "{s}");
    assert_eq!(cluster.set_clock(&follower, 0, 1.0).await.unwrap(), FaultOutcome::Installed);

    cluster.shutdown().await.unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new(), "no node left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_run_on_faultline_heals_to_a_working_cluster() {
    let Some(spec) = spec(5) else { return };
    let dir = spec.dir.clone();
    let cluster = Cluster::start(spec).await.expect("5 faultline nodes start");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let faults = vec![Fault::Partition, Fault::Kill, Fault::Pause, Fault::Clock];
    let mut nemesis = Nemesis::new(NemesisConfig::new(faults, Duration::from_millis(500), 11));
    nemesis.run(&cluster, Duration::from_secs(8), &tx).await.unwrap();
    nemesis.heal_all(&cluster, &tx).await.unwrap();
    drop(tx);
    let mut fs = Vec::new();
    let mut open = 0i32;
    while let Some(e) = rx.recv().await {
        eprintln!("{} {}", e.name.f(), e.history_value());
        // Only clock calls can be indeterminate (an HTTP timeout); process and link actions
        // on faultline nodes always know their outcome.
        assert!(
            e.name.f().starts_with("clock") || !matches!(e.outcome, FaultOutcome::Indeterminate(_)),
            "{e:?}"
        );
        let is_start =
            ["start-partition", "kill", "pause", "clock-bump", "clock-strobe", "clock-rate"]
                .contains(&e.name.f());
        if is_start && !matches!(e.outcome, FaultOutcome::Skipped(_)) {
            open += 1;
        } else if !is_start {
            open -= 1;
        }
        assert!((0..=1).contains(&open), "at most one fault at a time, ends follow starts: {fs:?}");
        fs.push(e.name.f());
    }
    assert_eq!(open, 0, "every fault ended: {fs:?}");
    assert!(fs.len() >= 4, "{fs:?}");
    cluster.wait_ready(Duration::from_secs(20)).await.expect("healed cluster has a leader");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let ok = eventually(Duration::from_secs(15), || async {
        let l = cluster.leader().await?;
        let a = cluster.client_addrs().into_iter().find(|(n, _)| *n == l)?.1;
        kv(&http, a, "put", "after", Some("x")).await
    })
    .await;
    assert!(ok.is_some(), "writes succeed after heal_all; events: {fs:?}");
    cluster.shutdown().await.unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composed_faults_overlap_and_end_last_first() {
    let Some(spec) = spec(3) else { return };
    let dir = spec.dir.clone();
    let cluster = Cluster::start(spec).await.expect("3 faultline nodes start");
    cluster.wait_ready(Duration::from_secs(20)).await.expect("a leader");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let faults: faultline_api::FaultList = "clock+partition".parse().unwrap();
    let mut config = NemesisConfig::new(faults, Duration::from_millis(700), 4);
    config.targets = vec![faultline_api::Target::Leader];
    config.clock_rate = Some(0.6);
    let mut nemesis = Nemesis::new(config);
    nemesis.run(&cluster, Duration::from_secs(3), &tx).await.unwrap();
    nemesis.heal_all(&cluster, &tx).await.unwrap();
    drop(tx);
    let mut fs = Vec::new();
    while let Some(e) = rx.recv().await {
        eprintln!("{} {}", e.name.f(), e.history_value());
        fs.push((e.name.f().to_string(), e.nodes(), e.history_value()));
    }
    let names: Vec<&str> = fs.iter().map(|(f, ..)| f.as_str()).collect();
    // Each period: the clock slows on the leader, the leader is isolated, then the
    // partition heals before the clock is reset.
    assert_eq!(
        &names[..4],
        ["clock-rate", "start-partition", "stop-partition", "clock-reset"],
        "{fs:?}"
    );
    let slowed = &fs[0].1;
    assert_eq!(slowed.len(), 1, "the clock fault went for one node, the leader: {fs:?}");
    let groups = &fs[1].2["groups"];
    assert!(
        groups.as_array().unwrap().iter().any(|g| *g == json!(slowed)),
        "the partition isolates the slowed leader: {fs:?}"
    );
    cluster.wait_ready(Duration::from_secs(20)).await.expect("healed cluster has a leader");
    cluster.shutdown().await.unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faultline_netns_partition_and_cleanup() {
    if !crate::util::is_root() {
        return;
    }
    let Some(mut spec) = spec(3) else { return };
    spec.backend = Backend::Netns;
    let dir = spec.dir.clone();
    let cluster = Cluster::start(spec).await.expect("3 faultline nodes in namespaces start");
    let tag = cluster.tag().to_string();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let addr = |name: &str| cluster.client_addrs().into_iter().find(|(n, _)| n == name).unwrap().1;
    let leader = cluster.leader().await.expect("leader");
    kv(&http, addr(&leader), "put", "k", Some("1")).await.expect("put over the bridge");
    let li = cluster.node_names().iter().position(|n| *n == leader).unwrap();
    cluster.set_cut(&Grudge::isolate(3, li)).unwrap();
    let elected = eventually(Duration::from_secs(15), || async {
        let l = cluster.leader().await.filter(|l| *l != leader)?;
        kv(&http, addr(&l), "put", "k", Some("2")).await.map(|_| l)
    })
    .await;
    assert!(elected.is_some(), "majority elects a new leader while iptables drops {leader}");
    assert_eq!(cluster.set_loss(0.2).unwrap(), FaultOutcome::Installed);
    cluster.set_loss(0.0).unwrap();
    cluster.heal().unwrap();
    cluster.wait_ready(Duration::from_secs(15)).await.unwrap();
    cluster.shutdown().await.unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new());
    let out = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&tag), "namespaces removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_actions_resolve_the_leader_and_pair_their_events() {
    use faultline_nemesis::{Action, Shape};
    let Some(spec) = spec(3) else { return };
    let cluster = Cluster::start(spec).await.expect("3 faultline nodes start");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut nemesis = Nemesis::new(NemesisConfig::new(vec![], Duration::from_secs(1), 0));
    let leader = cluster.leader().await.expect("leader");

    let isolate = Action::Partition { shape: Shape::IsolateLeader, grudge: None };
    assert_eq!(nemesis.start(&cluster, isolate, &tx).await.unwrap(), FaultOutcome::Installed);
    let kill_all = Action::Kill { nodes: vec![0, 1, 2] };
    assert_eq!(nemesis.start(&cluster, kill_all, &tx).await.unwrap(), FaultOutcome::Installed);
    assert!(cluster.node_names().iter().all(|n| !cluster.is_running(n)));
    // Ending the kill restarts every node.
    nemesis.end(&cluster, &tx).await.unwrap();
    assert!(cluster.node_names().iter().all(|n| cluster.is_running(n)));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let n1 = cluster.client_addrs()[0].1;
    assert!(eventually(Duration::from_secs(10), || status(&http, n1)).await.is_some());
    let bump = Action::ClockBump { nodes: vec![0], delta_ms: 3_000 };
    assert_eq!(nemesis.start(&cluster, bump, &tx).await.unwrap(), FaultOutcome::Installed);
    assert_eq!(status(&http, n1).await.unwrap()["clock_offset_ms"].as_i64(), Some(3_000));
    nemesis.heal_all(&cluster, &tx).await.unwrap();
    drop(tx);

    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    let fs: Vec<&str> = events.iter().map(|e| e.name.f()).collect();
    let expected =
        ["start-partition", "stop-partition", "kill", "start", "clock-bump", "clock-reset"];
    assert_eq!(fs, expected, "{events:?}");
    assert!(events.iter().all(|e| e.outcome == FaultOutcome::Installed), "{events:?}");
    // The partition isolated exactly the leader of the moment.
    let groups = &events[0].value["groups"];
    assert!(groups.as_array().unwrap().iter().any(|g| *g == json!([leader])), "{groups}");
    assert_eq!(status(&http, n1).await.unwrap()["clock_offset_ms"].as_i64(), Some(0), "reset");
    cluster.shutdown().await.unwrap();
}
