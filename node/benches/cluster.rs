//! Throughput and latency of a real 3-node cluster on loopback (a benchmark, not a test).
//!
//! ```text
//!   cargo bench -p faultline-node --bench cluster
//!   cargo bench -p faultline-node --bench cluster -- --concurrency 128 --secs 20 --nodes 5
//!   BENCH_CONCURRENCY=16 BENCH_SECS=5 cargo bench -p faultline-node --bench cluster
//! ```
//!
//! Starts the node processes, waits for a leader, then runs a put phase and a get phase of
//! `secs` seconds each, with `concurrency` clients sending to the leader back to back. Prints
//! ops/s and p50/p99 latency of the successful requests, and the count of other answers.

// A benchmark measures real time and spawns real processes.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/util.rs"]
mod util;

use std::time::{Duration, Instant};

use util::{op, Cluster};

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
    fn print(&mut self, name: &str, concurrency: u64) {
        self.latencies_us.sort_unstable();
        println!(
            "{name:4} concurrency {concurrency:4}: {:9.0} ops/s  p50 {:7.2} ms  p99 {:7.2} ms  \
             ({} ok, {} other answers, {:.1} s)",
            self.ops as f64 / self.elapsed.as_secs_f64(),
            percentile(&self.latencies_us, 0.50),
            percentile(&self.latencies_us, 0.99),
            self.ops,
            self.other,
            self.elapsed.as_secs_f64(),
        );
    }
}

async fn phase(cluster: &Cluster, leader: u64, kind: &str, o: &Options, base: u64) -> Phase {
    let client = cluster.client();
    let deadline = Instant::now() + Duration::from_secs(o.secs);
    let tasks: Vec<_> = (0..o.concurrency)
        .map(|w| {
            let client = client.clone();
            let kind = kind.to_string();
            tokio::spawn(async move {
                let (mut ops, mut other, mut lat) = (0u64, 0u64, Vec::new());
                let mut seq = 0;
                while Instant::now() < deadline {
                    seq += 1;
                    let key = format!("k{}", (w * 31 + seq) % 1000);
                    let value = format!("v{w}-{seq}");
                    let body = match kind.as_str() {
                        "put" => op(base + w, seq, "put", &key, Some(&value)),
                        _ => op(base + w, seq, "get", &key, None),
                    };
                    let start = Instant::now();
                    match client.send(leader, &body).await {
                        Ok((200, reply)) if reply["status"] == "ok" => {
                            ops += 1;
                            lat.push(start.elapsed().as_micros() as u64);
                        }
                        _ => other += 1,
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

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    rt.block_on(async {
        let cluster = Cluster::start(o.nodes, &["--read-mode", &o.read_mode]);
        let leader = cluster.wait_leader(Duration::from_secs(15)).await;
        println!(
            "faultline-node cluster bench: {} nodes on loopback, leader n{leader}, read mode {}, \
             {} s per phase",
            o.nodes, o.read_mode, o.secs
        );
        // Warm up connections and the leader's first term.
        let warm = Options { secs: 1, read_mode: o.read_mode.clone(), ..o };
        phase(&cluster, leader, "put", &warm, 1_000_000).await;
        phase(&cluster, leader, "put", &o, 2_000_000).await.print("put", o.concurrency);
        phase(&cluster, leader, "get", &o, 3_000_000).await.print("get", o.concurrency);
        for id in 1..=o.nodes {
            if let Some(s) = cluster.status(id).await {
                println!(
                    "n{id}: role {} term {} commit {} wal {} B snapshot {} B",
                    s["role"], s["term"], s["commit_index"], s["wal_bytes"], s["snapshot_bytes"]
                );
            }
        }
    });
}
