//! Throughput and latency of a real 3-node faultline cluster on loopback, the node alone: no
//! proxies between nodes, a minimal client straight to the leader (a benchmark, not a test).
//! For faultline and etcd side by side under the harness's own clients and cluster control,
//! use `faultline bench cluster`.
//!
//! ```text
//!   cargo bench -p faultline-node --bench cluster
//!   cargo bench -p faultline-node --bench cluster -- --concurrency 128 --secs 20 --nodes 5
//!   BENCH_CONCURRENCY=16 BENCH_SECS=5 BENCH_READ_MODE=lease cargo bench -p faultline-node --bench cluster
//! ```
//!
//! Starts the processes (fresh data dirs), finds the leader, then runs a put phase and a get
//! phase of `secs` seconds each, with `concurrency` clients sending HTTP/JSON requests to the
//! leader back to back. Prints ops/s and p50/p99 latency of the successful requests, and the
//! count of other answers. Gets are linearizable (ReadIndex) by default.

// A benchmark measures real time and spawns real processes.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/util.rs"]
mod util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use util::{op, Cluster};

#[derive(Clone)]
struct Options {
    concurrency: u64,
    secs: u64,
    nodes: u64,
    read_mode: String,
}

fn options() -> Options {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let mut o = Options {
        concurrency: env("BENCH_CONCURRENCY", 64),
        secs: env("BENCH_SECS", 10),
        nodes: env("BENCH_NODES", 3),
        read_mode: std::env::var("BENCH_READ_MODE").unwrap_or_else(|_| "read-index".into()),
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let num = pair[1].parse().ok();
        match (pair[0].as_str(), num) {
            ("--concurrency", Some(n)) => o.concurrency = n,
            ("--secs", Some(n)) => o.secs = n,
            ("--nodes", Some(n)) => o.nodes = n,
            ("--read-mode", _) => o.read_mode = pair[1].clone(),
            _ => {}
        }
    }
    o
}

/// Where the load goes.
struct Target {
    http: reqwest::Client,
    /// Base URL of the leader.
    url: String,
}

impl Target {
    /// One request; true when it succeeded.
    async fn call(&self, put: bool, client: u64, seq: u64, key: &str, value: &str) -> bool {
        let body = if put {
            op(client, seq, "put", key, Some(value))
        } else {
            op(client, seq, "get", key, None)
        };
        let url = format!("{}/v1/kv", self.url);
        let Ok(resp) = self.http.post(url).json(&body).send().await else { return false };
        let ok = resp.status().as_u16() == 200;
        let Ok(reply) = resp.json::<Value>().await else { return false };
        ok && reply["status"] == "ok"
    }
}

struct Phase {
    ops: u64,
    other: u64,
    latencies_us: Vec<u64>,
    elapsed: Duration,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

impl Phase {
    fn print(&mut self, system: &str, name: &str, concurrency: u64) {
        self.latencies_us.sort_unstable();
        println!(
            "{system:9} {name:3} concurrency {concurrency:4}: {:8.0} ops/s  p50 {:7.2} ms  \
             p99 {:7.2} ms  ({} ok, {} other, {:.1} s)",
            self.ops as f64 / self.elapsed.as_secs_f64(),
            percentile(&self.latencies_us, 0.50),
            percentile(&self.latencies_us, 0.99),
            self.ops,
            self.other,
            self.elapsed.as_secs_f64(),
        );
    }
}

async fn phase(target: &Arc<Target>, put: bool, concurrency: u64, secs: u64, base: u64) -> Phase {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..concurrency)
        .map(|w| {
            let target = target.clone();
            tokio::spawn(async move {
                let (mut ops, mut other, mut lat) = (0u64, 0u64, Vec::new());
                let mut seq = 0;
                while Instant::now() < deadline {
                    seq += 1;
                    let key = format!("k{}", (w * 31 + seq) % 1000);
                    let value = format!("v{w}-{seq}");
                    let start = Instant::now();
                    if target.call(put, base + w, seq, &key, &value).await {
                        ops += 1;
                        lat.push(start.elapsed().as_micros() as u64);
                    } else {
                        other += 1;
                    }
                }
                (ops, other, lat)
            })
        })
        .collect();
    let start = Instant::now();
    let mut p = Phase { ops: 0, other: 0, latencies_us: Vec::new(), elapsed: Duration::ZERO };
    for t in tasks {
        if let Ok((ops, other, lat)) = t.await {
            p.ops += ops;
            p.other += other;
            p.latencies_us.extend(lat);
        }
    }
    p.elapsed = start.elapsed();
    p
}

fn http_client(o: &Options) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(o.concurrency as usize)
        .build()
        .expect("http client")
}

/// Warm-up, put phase, get phase.
async fn drive(system: &str, target: Target, o: &Options) {
    let target = Arc::new(target);
    phase(&target, true, o.concurrency, 1, 1_000_000).await;
    phase(&target, true, o.concurrency, o.secs, 2_000_000).await.print(
        system,
        "put",
        o.concurrency,
    );
    phase(&target, false, o.concurrency, o.secs, 3_000_000).await.print(
        system,
        "get",
        o.concurrency,
    );
}

async fn bench_faultline(o: &Options) {
    let cluster = Cluster::start(o.nodes, &["--read-mode", &o.read_mode]);
    let leader = cluster.wait_leader(Duration::from_secs(15)).await;
    let url = format!("http://{}", cluster.nodes[(leader - 1) as usize].client_addr);
    drive("faultline", Target { http: http_client(o), url }, o).await;
    for id in 1..=o.nodes {
        if let Some(s) = cluster.status(id).await {
            println!(
                "  n{id}: role {} term {} commit {} wal {} B snapshot {} B",
                s["role"], s["term"], s["commit_index"], s["wal_bytes"], s["snapshot_bytes"]
            );
        }
    }
}

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    println!(
        "cluster bench: {} nodes on loopback, {} clients, {} s per phase, faultline read mode {}",
        o.nodes, o.concurrency, o.secs, o.read_mode
    );
    rt.block_on(bench_faultline(&o));
}
