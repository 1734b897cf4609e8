//! Kill, restart, redirect and de-duplication tests against real node processes.

// Test code: real sleeps and clocks are what is being exercised.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::util::{op, Client, Cluster};

const LEADER_WAIT: Duration = Duration::from_secs(15);
const REQUEST_WAIT: Duration = Duration::from_secs(20);

/// Writers that put unique values until stopped; each returns what was acknowledged.
fn spawn_writers(
    client: &Client,
    writers: u64,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<BTreeMap<String, String>>> {
    (0..writers)
        .map(|w| {
            let client = client.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut acked = BTreeMap::new();
                let mut leader = 1;
                let session = 1000 + w;
                let mut seq = 0;
                while !stop.load(Ordering::Relaxed) {
                    seq += 1;
                    let key = format!("w{w}-k{}", seq % 7);
                    let value = format!("w{w}-s{seq}");
                    let body = op(session, seq, "put", &key, Some(&value));
                    let (at, reply) = client.request(leader, &body, REQUEST_WAIT).await;
                    leader = at;
                    assert_eq!(reply["status"], "ok", "put {body} answered {reply}");
                    acked.insert(key, value);
                }
                acked
            })
        })
        .collect()
}

/// Reads every key through the leader and checks it holds the last acknowledged value.
async fn check_acked(cluster: &Cluster, acked: &BTreeMap<String, String>) {
    let client = cluster.client();
    let leader = cluster.wait_leader(LEADER_WAIT).await;
    for (i, (key, value)) in acked.iter().enumerate() {
        let body = op(9_000, i as u64 + 1, "get", key, None);
        let (_, reply) = client.request(leader, &body, REQUEST_WAIT).await;
        assert_eq!(reply["value"].as_str(), Some(value.as_str()), "key {key}: {reply}");
    }
}

/// Waits until every running node has applied at least `index`.
async fn wait_applied(cluster: &Cluster, index: u64) {
    let start = std::time::Instant::now();
    while start.elapsed() < LEADER_WAIT {
        let mut all = true;
        for node in cluster.nodes.iter().filter(|n| n.is_up()) {
            let applied = cluster.status(node.id).await.and_then(|s| s["applied_index"].as_u64());
            all &= applied.is_some_and(|a| a >= index);
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nodes did not apply index {index}; logs:\n{}", cluster.all_logs());
}

async fn kill_restart_cycle(n: u64, kills_per_round: usize) {
    let mut cluster = Cluster::start(n, &[]);
    let client = cluster.client();
    cluster.wait_leader(LEADER_WAIT).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writers = spawn_writers(&client, 6, &stop);
    // `NODE_SOAK_ROUNDS=50 cargo test -p faultline-node --release --test tests sigkill` soaks.
    let rounds = std::env::var("NODE_SOAK_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    for round in 0..rounds {
        tokio::time::sleep(Duration::from_millis(400)).await;
        // SIGKILL the leader (and more nodes, keeping a majority) mid-traffic.
        let leader = cluster.wait_leader(LEADER_WAIT).await;
        let mut victims = vec![leader];
        victims.extend((1..=n).filter(|&i| i != leader).take(kills_per_round - 1));
        for &v in &victims {
            cluster.node(v).kill();
        }
        let new_leader = cluster.wait_leader(LEADER_WAIT).await;
        assert!(!victims.contains(&new_leader), "round {round}: a killed node leads");
        tokio::time::sleep(Duration::from_millis(300)).await;
        for &v in &victims {
            cluster.node(v).restart();
        }
    }
    // Finally every node at once: only the disk remains.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in 1..=n {
        cluster.node(id).kill();
    }
    stop.store(true, Ordering::Relaxed);
    for id in 1..=n {
        cluster.node(id).restart();
    }
    let mut acked = BTreeMap::new();
    for w in writers {
        acked.extend(w.await.expect("writer panicked"));
    }
    assert!(acked.len() >= 6, "too few acknowledged writes to mean anything: {acked:?}");
    eprintln!("{n} nodes: checking {} keys after kills", acked.len());
    check_acked(&cluster, &acked).await;
    // The restarted nodes caught up too.
    let leader = cluster.wait_leader(LEADER_WAIT).await;
    let commit = cluster.status(leader).await.and_then(|s| s["commit_index"].as_u64()).unwrap_or(0);
    wait_applied(&cluster, commit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_3_nodes() {
    kill_restart_cycle(3, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_5_nodes() {
    kill_restart_cycle(5, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_redirects_to_the_leader() {
    let cluster = Cluster::start(3, &[]);
    let client = cluster.client();
    let leader = cluster.wait_leader(LEADER_WAIT).await;
    // Let the followers learn the leader (first heartbeat).
    let (_, reply) = client.request(leader, &op(1, 1, "put", "k", Some("v")), REQUEST_WAIT).await;
    assert_eq!(reply["status"], "ok");
    let follower = (1..=3).find(|&i| i != leader).unwrap_or(1);
    let (code, reply) = client.send(follower, &op(2, 1, "put", "k", Some("w"))).await.unwrap();
    assert_eq!(code, 421, "{reply}");
    assert_eq!(reply["status"], "not-leader");
    assert_eq!(reply["leader"]["id"].as_u64(), Some(leader));
    let leader_addr = &cluster.nodes[(leader - 1) as usize].client_addr;
    assert_eq!(reply["leader"]["client_addr"].as_str(), Some(leader_addr.as_str()));
    // Certainly not applied: the value is still "v".
    let (_, reply) = client.request(leader, &op(3, 1, "get", "k", None), REQUEST_WAIT).await;
    assert_eq!(reply["value"], "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_is_applied_once_across_a_leader_crash() {
    let mut cluster = Cluster::start(3, &[]);
    let client = cluster.client();
    let leader = cluster.wait_leader(LEADER_WAIT).await;
    let append = op(77, 1, "append", "log", Some("x"));
    let (at, reply) = client.request(leader, &append, REQUEST_WAIT).await;
    assert_eq!(reply["status"], "ok");
    // The same (client, seq) again, at the same leader: not applied again.
    let (_, reply) = client.request(at, &append, REQUEST_WAIT).await;
    assert_eq!(reply["status"], "ok", "{reply}");
    // And again after the leader dies and another one takes over.
    cluster.node(at).kill();
    let next = cluster.wait_leader(LEADER_WAIT).await;
    let (_, reply) = client.request(next, &append, REQUEST_WAIT).await;
    assert_eq!(reply["status"], "ok", "{reply}");
    cluster.node(at).restart();
    let (_, reply) = client.request(next, &op(78, 1, "get", "log", None), REQUEST_WAIT).await;
    assert_eq!(reply["value"], "x", "the append was applied more than once");
    // A new seq is applied.
    let (_, _) = client.request(next, &op(77, 2, "append", "log", Some("y")), REQUEST_WAIT).await;
    let (_, reply) = client.request(next, &op(78, 2, "get", "log", None), REQUEST_WAIT).await;
    assert_eq!(reply["value"], "xy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_bound_the_wal_and_a_lagging_node_catches_up() {
    let mut cluster = Cluster::start(3, &["--snapshot-threshold-bytes", "4096"]);
    let client = cluster.client();
    let mut leader = cluster.wait_leader(LEADER_WAIT).await;
    let lagging = (1..=3).find(|&i| i != leader).unwrap_or(1);
    cluster.node(lagging).kill();
    let mut acked = BTreeMap::new();
    for seq in 1..=300u64 {
        let key = format!("k{}", seq % 10);
        let value = format!("v{seq}-{}", "p".repeat(40));
        let (at, reply) =
            client.request(leader, &op(5, seq, "put", &key, Some(&value)), REQUEST_WAIT).await;
        assert_eq!(reply["status"], "ok");
        leader = at;
        acked.insert(key, value);
    }
    let status = cluster.status(leader).await.expect("leader status");
    assert!(status["snapshot_index"].as_u64().unwrap_or(0) > 0, "no snapshot: {status}");
    let wal = status["wal_bytes"].as_u64().unwrap_or(u64::MAX);
    assert!(wal < 64 * 1024, "wal not compacted: {status}");
    // The node that missed everything gets the snapshot, then the rest of the log.
    cluster.node(lagging).restart();
    let commit = status["commit_index"].as_u64().unwrap_or(0);
    wait_applied(&cluster, commit).await;
    let s = cluster.status(lagging).await.expect("lagging status");
    assert!(s["snapshot_index"].as_u64().unwrap_or(0) > 0, "lagging node has no snapshot: {s}");
    // Everyone restarts from snapshot + WAL.
    for id in 1..=3 {
        cluster.node(id).kill();
    }
    for id in 1..=3 {
        cluster.node(id).restart();
    }
    check_acked(&cluster, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly_and_bad_flags_exit_3() {
    let mut cluster = Cluster::start(1, &[]);
    let client = cluster.client();
    let leader = cluster.wait_leader(LEADER_WAIT).await;
    let (_, reply) = client.request(leader, &op(1, 1, "put", "k", Some("v")), REQUEST_WAIT).await;
    assert_eq!(reply["status"], "ok");
    assert_eq!(cluster.node(1).terminate(Duration::from_secs(5)), Some(0));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline-node"))
        .args(["--id", "1", "--peer", "1=127.0.0.1:1"])
        .output()
        .expect("run faultline-node");
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--peer-listen"), "{stderr}");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_faultline-node"))
        .arg("--help")
        .output()
        .expect("run faultline-node --help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("TEST ONLY") && help.contains("ack-before-fsync"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_planted_ack_before_fsync_bug_loses_acknowledged_writes_on_sigkill() {
    let mut cluster = Cluster::start(3, &["--unsafe-bug", "ack-before-fsync"]);
    let client = cluster.client();
    let mut leader = cluster.wait_leader(LEADER_WAIT).await;
    let mut last = String::new();
    for seq in 1..=40u64 {
        last = format!("v{seq}");
        let (at, reply) =
            client.request(leader, &op(3, seq, "put", "k", Some(&last)), REQUEST_WAIT).await;
        assert_eq!(reply["status"], "ok");
        leader = at;
    }
    // Every node dies right after the last acknowledgement; the buggy WAL had not written it.
    for id in 1..=3 {
        cluster.node(id).kill();
    }
    for id in 1..=3 {
        cluster.node(id).restart();
    }
    let leader = cluster.wait_leader(LEADER_WAIT).await;
    let (_, reply) = client.request(leader, &op(4, 1, "get", "k", None), REQUEST_WAIT).await;
    assert_ne!(reply["value"].as_str(), Some(last.as_str()), "the bug lost nothing: {reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowed_leader_clock_stops_its_heartbeats_and_another_node_takes_over() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_leader(LEADER_WAIT).await;
    let term = cluster.status(leader).await.and_then(|s| s["term"].as_u64()).unwrap_or(0);
    let url = format!("http://{}/v1/admin/clock", cluster.nodes[(leader - 1) as usize].client_addr);
    let http = reqwest::Client::new();
    let set = |offset: i64, rate: f64| {
        http.post(&url).json(&serde_json::json!({"offset_ms": offset, "rate": rate})).send()
    };
    let reply: serde_json::Value = set(0, 0.01).await.unwrap().json().await.unwrap();
    assert_eq!(reply, serde_json::json!({"offset_ms": 0, "rate": 0.01}));
    // At 1% speed the leader's heartbeat interval lasts seconds: the others elect a new one.
    let start = std::time::Instant::now();
    let mut took_over = None;
    while start.elapsed() < LEADER_WAIT && took_over.is_none() {
        for id in (1..=3).filter(|&i| i != leader) {
            if let Some(s) = cluster.status(id).await {
                if s["role"] == "leader" && s["term"].as_u64().unwrap_or(0) > term {
                    took_over = Some(id);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(took_over.is_some(), "no node took over from the slowed leader n{leader}");
    let status = cluster.status(leader).await.expect("status of the slowed node");
    assert_eq!(status["clock_rate"].as_f64(), Some(0.01), "{status}");
    set(0, 1.0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_wal_tail_is_cut_and_the_node_rejoins_and_a_corrupt_snapshot_stops_it() {
    let mut cluster = Cluster::start(3, &[]);
    let client = cluster.client();
    let mut leader = cluster.wait_leader(LEADER_WAIT).await;
    for seq in 1..=30u64 {
        let (at, reply) = client
            .request(leader, &op(6, seq, "put", "k", Some(&seq.to_string())), REQUEST_WAIT)
            .await;
        assert_eq!(reply["status"], "ok");
        leader = at;
    }
    let follower = (1..=3).find(|&i| i != leader).unwrap_or(1);
    cluster.node(follower).kill();
    // A torn write: the follower died inside `write` of a record it never acknowledged, so
    // the WAL ends with a header promising more bytes than follow.
    let wal = cluster.dir.path().join(format!("n{follower}")).join("wal");
    let mut file = std::fs::OpenOptions::new().append(true).open(&wal).expect("open wal");
    std::io::Write::write_all(&mut file, &[100, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9]).expect("tear");
    drop(file);
    cluster.node(follower).restart();
    let commit = cluster.status(leader).await.and_then(|s| s["commit_index"].as_u64()).unwrap_or(0);
    wait_applied(&cluster, commit).await;
    assert!(
        cluster.log(follower).contains("cutting torn or corrupt tail"),
        "{}",
        cluster.log(follower)
    );
    // A snapshot file that fails its checksum is an error naming the file, never used.
    let other = (1..=3).find(|&i| i != leader && i != follower).unwrap_or(1);
    cluster.node(other).kill();
    let snap = cluster.dir.path().join(format!("n{other}")).join("snapshot");
    std::fs::write(&snap, b"FLSNP002 not a snapshot at all").expect("write snapshot");
    cluster.node(other).restart();
    assert_eq!(cluster.node(other).wait_exit(LEADER_WAIT), Some(3), "{}", cluster.log(other));
    let log = cluster.log(other);
    let named = format!("{}: length does not match the header", snap.display());
    assert!(log.contains(&named), "{log}");
}

/// Retries an admin change on the leader until it is accepted (409: busy / not caught up),
/// then waits until the leader reports the new configuration committed.
async fn change_member(cluster: &Cluster, op_name: &str, id: u64) -> serde_json::Value {
    let start = std::time::Instant::now();
    let body = serde_json::json!({ "id": id });
    let path = format!("/v1/admin/members/{op_name}");
    let mut last = None;
    while start.elapsed() < LEADER_WAIT {
        let leader = cluster.wait_leader(LEADER_WAIT).await;
        match cluster.admin(leader, &path, Some(&body)).await {
            Some((200, _)) => loop {
                let members = cluster.admin(leader, "/v1/admin/members", None).await;
                match members {
                    Some((200, m)) if m["committed"] == true => return m,
                    _ if start.elapsed() > LEADER_WAIT => break,
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            },
            other => last = other,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{op_name} {id} not done (last answer {last:?}); logs:\n{}", cluster.all_logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_node_rejoins_empty_as_a_learner_and_is_promoted() {
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_leader(LEADER_WAIT).await;
    let client = cluster.client();
    client.request(leader, &op(1, 1, "put", "k", Some("before")), REQUEST_WAIT).await;
    let victim = (1..=3).find(|&i| i != leader).unwrap_or(1);
    let m = change_member(&cluster, "remove", victim).await;
    assert_eq!(m["voters"].as_array().map(Vec::len), Some(2), "{m}");
    // Lose its disk: it comes back empty and told to join.
    cluster.node(victim).kill();
    std::fs::remove_dir_all(cluster.dir.path().join(format!("n{victim}"))).expect("wipe");
    cluster.node(victim).add_args(&["--join"]);
    cluster.node(victim).restart();
    let start = std::time::Instant::now();
    while cluster.status(victim).await.is_none() && start.elapsed() < LEADER_WAIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, m) = cluster.admin(victim, "/v1/admin/members", None).await.unwrap_or_default();
    let (code, refused) = cluster
        .admin(victim, "/v1/admin/members/remove", Some(&serde_json::json!({"id": leader})))
        .await
        .unwrap_or_default();
    assert_eq!((code, refused["error"].as_str()), (421, Some("not-leader")), "{refused}");
    assert!(m["voters"].as_array().is_some_and(Vec::is_empty), "a joining node has no config: {m}");
    let m = change_member(&cluster, "add", victim).await;
    assert_eq!(m["learners"], serde_json::json!([victim]), "{m}");
    let m = change_member(&cluster, "promote", victim).await;
    assert_eq!(m["voters"].as_array().map(Vec::len), Some(3), "{m}");
    let (_, after) =
        client.request(leader, &op(1, 2, "append", "k", Some("+after")), REQUEST_WAIT).await;
    assert_eq!(after["status"], "ok");
    let commit = cluster.status(leader).await.and_then(|s| s["commit_index"].as_u64()).unwrap_or(0);
    wait_applied(&cluster, commit).await;
    let (_, m) = cluster.admin(victim, "/v1/admin/members", None).await.unwrap_or_default();
    assert_eq!(m["voters"].as_array().map(Vec::len), Some(3), "the rejoined node knows: {m}");
}
