//! `faultline bench cluster`: throughput and latency of real clusters, faultline and etcd side
//! by side, under the same load from the same clients `faultline run` uses.
//!
//! ```text
//!  for each system: Cluster::start (local backend, fresh dirs) ─▶ wait for a leader
//!      ─▶ put phase: N clients, back to back, for S seconds   ─▶ ops/s, p50/p99/max
//!      ─▶ get phase: the same                                 ─▶ ops/s, p50/p99/max
//!      ─▶ shutdown (every process and proxy removed)
//! ```
//! `sharded` measures faultline's sharded KV once per `--groups` count (a controller group
//! and G replica groups of `--nodes` each, joined before the phases): the aggregate figure
//! beside the single group's shows what splitting the keys buys on this machine.
//! Node-to-node traffic goes through the local backend's proxies, as in a run. Gets are
//! linearizable on every system (faultline: ReadIndex; etcd: its default range; sharded:
//! through each group's log). Each phase's clients are new sessions. A system named
//! `<system>+powerfs` keeps its data on power-loss disks (the FUSE layer of the `power-loss`
//! fault, `faultline_nemesis::powerfs`): the row that prices that layer.
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use faultline_nemesis::{Backend, Cluster, ClusterSpec, SystemSpec};
use faultline_workloads::{ClientConfig, Clients, Func, Op, Outcome};
use serde_json::json;

use crate::Exit;
use faultline_api::run::next_to_exe;

/// Arguments of `faultline bench cluster`.
#[derive(Debug, Args)]
pub struct ClusterBench {
    /// Systems to measure, comma-separated: faultline, etcd, sharded; `<system>+powerfs`:
    /// with its data on the power-loss fault's FUSE disks.
    #[arg(long, alias = "system", default_value = "faultline,faultline+powerfs,etcd")]
    pub systems: String,
    /// Nodes per cluster (sharded: per Raft group).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// sharded: the replica group counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub groups: Vec<usize>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u64,
    /// Seconds of each phase (puts, then gets).
    #[arg(long, default_value_t = 10)]
    pub secs: u64,
    /// Distinct keys.
    #[arg(long, default_value_t = 1000)]
    pub keys: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// The faultline-node binary (default: next to this executable).
    #[arg(long)]
    pub node_binary: Option<PathBuf>,
    /// The etcd binary.
    #[arg(long, default_value = "/usr/bin/etcd")]
    pub etcd_binary: PathBuf,
}

/// Client sessions a phase may open (each client retires its session after an unknown
/// outcome and opens the next one, `concurrency` further on).
const SESSIONS_PER_PHASE: u64 = 1 << 32;

/// One phase's figures.
struct Phase {
    ok: u64,
    other: u64,
    secs: f64,
    lat: Vec<Duration>,
}

impl Phase {
    fn print(&self, system: &str, what: &str) {
        let q = |p: f64| {
            if self.lat.is_empty() {
                "-".to_string()
            } else {
                let i = ((self.lat.len() as f64 - 1.0) * p).round() as usize;
                format!("{:.2}", self.lat[i].as_secs_f64() * 1e3)
            }
        };
        println!(
            "  {system:<17} {what:<4} {:>10.0} ops/s   p50 {:>7} ms   p99 {:>7} ms   max {:>8} ms   ({} ok, {} not ok)",
            self.ok as f64 / self.secs,
            q(0.5),
            q(0.99),
            q(1.0),
            self.ok,
            self.other
        );
    }
}

/// Runs `faultline bench cluster`.
///
/// # Errors
/// A binary is missing, or a cluster cannot start.
pub fn run(args: ClusterBench) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    rt.block_on(async move {
        println!(
            "faultline bench cluster: {} nodes, {} clients, {} s of puts then {} s of gets, {} keys, {}-byte values",
            args.nodes, args.concurrency, args.secs, args.secs, args.keys, args.value_size
        );
        for system in args.systems.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if system.split('+').next() == Some("sharded") {
                for &g in &args.groups {
                    bench_system(&args, system, g).await?;
                }
            } else {
                bench_system(&args, system, 0).await?;
            }
        }
        Ok(Exit::Pass)
    })
}

/// Measures one system; `groups`: the sharded KV's replica groups (0 for the others).
async fn bench_system(args: &ClusterBench, name: &str, groups: usize) -> anyhow::Result<()> {
    let (system, powerfs) = match name.strip_suffix("+powerfs") {
        Some(s) => (s, true),
        None => (name, false),
    };
    if let Some(why) = faultline_api::fuse::unavailable().filter(|_| powerfs) {
        println!("  {name:<17} skipped: {why}");
        return Ok(());
    }
    let node_binary = || args.node_binary.clone().unwrap_or_else(|| next_to_exe("faultline-node"));
    let (kind, client_system) = match system {
        "faultline" => (
            SystemSpec::Faultline {
                binary: node_binary(),
                unsafe_bug: None,
                read_mode: None,
                extra_args: Vec::new(),
            },
            faultline_workloads::SystemKind::Faultline,
        ),
        "etcd" => (
            SystemSpec::Etcd { binary: args.etcd_binary.clone(), serializable_reads: false },
            faultline_workloads::SystemKind::Etcd,
        ),
        "sharded" => (
            SystemSpec::Sharded {
                binary: node_binary(),
                unsafe_bug: None,
                extra_args: Vec::new(),
                group_size: args.nodes,
            },
            faultline_workloads::SystemKind::Sharded,
        ),
        other => anyhow::bail!("unknown system {other:?}: expected faultline, etcd or sharded"),
    };
    // The sharded KV: the controller group and `groups` replica groups.
    let (nodes, label) = match system {
        "sharded" => (args.nodes * (1 + groups), format!("{name} {groups}g")),
        _ => (args.nodes, name.to_string()),
    };
    let dir = std::env::temp_dir().join(format!(
        "faultline-bench-{}-{}",
        std::process::id(),
        label.replace(' ', "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut spec = ClusterSpec::new(kind, nodes, Backend::Local, dir.clone(), 1);
    spec.power_loss = powerfs;
    let cluster = Cluster::start(spec).await.with_context(|| format!("starting {label}"))?;
    let joined = match system {
        "sharded" => faultline_nemesis::shards::join_all(&cluster).await.map(|_| ()),
        _ => Ok(()),
    };
    let result = match joined {
        Ok(()) => measure(args, &cluster, client_system, &label).await,
        Err(e) => Err(anyhow::anyhow!(e)),
    };
    cluster.shutdown().await.with_context(|| format!("stopping {label}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(
    args: &ClusterBench,
    cluster: &Cluster,
    system: faultline_workloads::SystemKind,
    name: &str,
) -> anyhow::Result<()> {
    let (endpoints, controllers) = crate::runner::exec::endpoints(cluster);
    let clients = Clients::new(ClientConfig {
        system,
        endpoints,
        controllers,
        request_timeout: Duration::from_secs(2),
        op_timeout: Duration::from_secs(5),
        serializable_reads: false,
    })?;
    // Wait until the cluster serves (a leader is elected), so the phases measure steady state.
    let mut probe = clients.open(1_000_000);
    let until = Instant::now() + Duration::from_secs(30);
    let warm = Op { f: Func::Put, key: "warmup".into(), value: json!("x") };
    while !matches!(probe.call(&warm).await, Outcome::Ok(_)) {
        anyhow::ensure!(Instant::now() < until, "{name} did not serve a put within 30 s");
    }
    let value = "v".repeat(args.value_size);
    for (n, f) in [Func::Put, Func::Get].into_iter().enumerate() {
        let phase = phase(args, &clients, f, &value, n as u64 + 1).await;
        phase.print(name, if f == Func::Put { "put" } else { "get" });
    }
    Ok(())
}

/// One phase of `f` by `args.concurrency` clients. Phase `n`'s clients are sessions of their
/// own (ids from `n * SESSIONS_PER_PHASE`): a session starts its sequence numbers over, which
/// a store that de-duplicates every request (the sharded KV) would refuse as stale.
async fn phase(args: &ClusterBench, clients: &Clients, f: Func, value: &str, n: u64) -> Phase {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.secs);
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|i| {
            let clients = clients.clone();
            let mut process = n * SESSIONS_PER_PHASE + i;
            let mut client = clients.open(process);
            let (keys, value, concurrency) = (args.keys, value.to_string(), args.concurrency);
            tokio::spawn(async move {
                let (mut ok, mut other, mut lat) = (0u64, 0u64, Vec::new());
                let mut seq = i;
                while Instant::now() < deadline {
                    seq = seq.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let key = format!("k{}", (seq >> 33) % keys);
                    let v = if f == Func::Put { json!(value) } else { serde_json::Value::Null };
                    let op = Op { f, key, value: v };
                    let t = Instant::now();
                    match client.call(&op).await {
                        Outcome::Ok(_) => {
                            ok += 1;
                            lat.push(t.elapsed());
                        }
                        Outcome::Unknown(_) => {
                            other += 1;
                            // An unknown outcome retires a process: continue as a new one.
                            process += concurrency;
                            client = clients.open(process);
                        }
                        Outcome::Fail(_) => other += 1,
                    }
                }
                (ok, other, lat)
            })
        })
        .collect();
    let mut p = Phase { ok: 0, other: 0, secs: 0.0, lat: Vec::new() };
    for t in tasks {
        if let Ok((ok, other, lat)) = t.await {
            p.ok += ok;
            p.other += other;
            p.lat.extend(lat);
        }
    }
    p.secs = start.elapsed().as_secs_f64();
    p.lat.sort_unstable();
    p
}
