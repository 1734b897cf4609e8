//! Prints timing figures of cluster control, for each available system and backend:
//! start (all nodes answer and a leader exists), installing a leader-isolating cut, time
//! until the majority reports a new leader, heal, restart of a killed node, shutdown.
//!
//! ```text
//! cargo build --release -p faultline-node
//! cargo run --release -p faultline-nemesis --example figures
//! ```
//! etcd needs `etcd-server`; netns rows need root. Env: `FAULTLINE_NODE_BIN`, `NODES` (3).
#![allow(clippy::disallowed_methods)] // a benchmark measures real time

use std::path::PathBuf;
use std::time::Duration;

use faultline_nemesis::{Backend, Cluster, ClusterSpec, Grudge, SystemSpec};
use tokio::time::Instant;

fn ms(d: Duration) -> String {
    format!("{:>7.1}", d.as_secs_f64() * 1e3)
}

async fn measure(system: SystemSpec, backend: Backend, n: usize) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?.keep();
    let spec = ClusterSpec::new(system, n, backend, dir, 1);
    let t = Instant::now();
    let cluster = Cluster::start(spec).await.map_err(|e| e.to_string())?;
    let start = t.elapsed();
    let leader = cluster.leader().await.ok_or("no leader")?;
    let li = cluster.node_names().iter().position(|x| *x == leader).ok_or("leader?")?;
    let t = Instant::now();
    cluster.set_cut(&Grudge::isolate(n, li)).map_err(|e| e.to_string())?;
    let cut = t.elapsed();
    let mut failover = None;
    while t.elapsed() < Duration::from_secs(30) {
        if cluster.leader().await.is_some_and(|l| l != leader) {
            failover = Some(t.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = Instant::now();
    cluster.heal().map_err(|e| e.to_string())?;
    let heal = t.elapsed();
    cluster.wait_ready(Duration::from_secs(30)).await.map_err(|e| e.to_string())?;
    let victim = cluster.node_names()[(li + 1) % n].clone();
    let t = Instant::now();
    cluster.kill(&victim).map_err(|e| e.to_string())?;
    cluster.start_node(&victim).map_err(|e| e.to_string())?;
    cluster.wait_ready(Duration::from_secs(30)).await.map_err(|e| e.to_string())?;
    let restart = t.elapsed();
    let t = Instant::now();
    cluster.shutdown().await.map_err(|e| e.to_string())?;
    let shutdown = t.elapsed();
    let failover = failover.map_or_else(|| "   none".to_string(), ms);
    Ok(format!(
        "{}   {}      {failover}  {}          {}      {}",
        ms(start),
        ms(cut),
        ms(heal),
        ms(restart),
        ms(shutdown)
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("NODES").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let node_bin = std::env::var_os("FAULTLINE_NODE_BIN").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        exe.parent().and_then(|p| p.parent()).map(|p| p.join("faultline-node")).unwrap_or_default()
    });
    let mut systems = Vec::new();
    if node_bin.is_file() {
        let sys = SystemSpec::Faultline {
            binary: node_bin,
            unsafe_bug: None,
            read_mode: None,
            extra_args: vec![],
        };
        systems.push(("faultline", sys));
    } else {
        eprintln!("skipping faultline: {} not built", node_bin.display());
    }
    if std::path::Path::new("/usr/bin/etcd").is_file() {
        systems.push((
            "etcd",
            SystemSpec::Etcd { binary: "/usr/bin/etcd".into(), serializable_reads: false },
        ));
    }
    let mut backends = vec![Backend::Local];
    if nix::unistd::geteuid().is_root() {
        backends.push(Backend::Netns);
    }
    println!("{n} nodes; milliseconds");
    println!("system    backend   start(ms)  cut(ms) failover(ms) heal(ms) kill+restart(ms) shutdown(ms)");
    for (name, sys) in &systems {
        for &b in &backends {
            match measure(sys.clone(), b, n).await {
                Ok(row) => println!("{name:<9} {:<9} {row}", b.name()),
                Err(e) => println!("{name:<9} {:<9} error: {e}", b.name()),
            }
        }
    }
}
