//! `faultline bench maelstrom`: what faultline costs a Maelstrom node as its network.
//!
//! ```text
//!  router   in-process: node-to-node messages parsed, routed, queued   ─▶ messages/s
//!  direct   one echo node on its own pipes, one request at a time      ─▶ p50/p99 µs
//!  routed   the same node in a cluster, through gateway and router     ─▶ p50/p99 µs
//!  paced    10 clients at each workload rate, through faultline        ─▶ achieved / asked
//! ```
//! The echo node answers every lin-kv request at once from a map of its own (no
//! replication), so what the rows show is faultline's share: the difference between the
//! direct and routed latencies, and whether a paced load is held back.
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use faultline_api::maelstrom::{Body, Message};
use faultline_nemesis::{Backend, Cluster, ClusterSpec, SystemSpec};
use faultline_workloads::{ClientConfig, Clients, Func, Op, Outcome, SystemKind};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::Exit;

/// A Maelstrom node that answers every request at once (Python, standard library).
pub const ECHO_NODE: &str = r#"
import json, sys
kv = {}
while True:
    line = sys.stdin.readline()
    if not line:
        break
    m = json.loads(line)
    b = m["body"]
    r = {"in_reply_to": b.get("msg_id")}
    t = b.get("type")
    if t == "init":
        r["type"] = "init_ok"
    elif t == "write":
        kv[str(b["key"])] = b["value"]
        r["type"] = "write_ok"
    elif t == "read":
        r.update(type="read_ok", value=kv.get(str(b["key"])))
    else:
        r.update(type="error", code=10, text="not supported")
    sys.stdout.write(json.dumps({"src": m["dest"], "dest": m["src"], "body": r}) + "\n")
    sys.stdout.flush()
"#;

/// Arguments of `faultline bench maelstrom`.
#[derive(Debug, Args)]
pub struct MaelstromBench {
    /// Messages the router row routes.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Requests of the direct and routed latency rows.
    #[arg(long, default_value_t = 2000)]
    pub requests: u64,
    /// Rates (ops/s, all clients together) of the paced rows, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "200,1000")]
    pub rates: Vec<f64>,
    /// Seconds of each paced row.
    #[arg(long, default_value_t = 5)]
    pub secs: u64,
    /// The node command (default: the built-in echo node, `python3 -c …`).
    #[arg(long)]
    pub node_cmd: Option<String>,
}

fn command(args: &MaelstromBench) -> anyhow::Result<Vec<String>> {
    match &args.node_cmd {
        Some(c) => faultline_api::maelstrom::split_command(c).map_err(|e| anyhow::anyhow!(e)),
        None => Ok(vec!["python3".into(), "-c".into(), ECHO_NODE.into()]),
    }
}

/// Runs `faultline bench maelstrom`.
///
/// # Errors
/// The node cannot be started, or does not answer.
pub fn run(args: MaelstromBench) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    rt.block_on(async move {
        println!("faultline bench maelstrom");
        let took = faultline_nemesis::system::maelstrom::route_benchmark(3, args.messages).await;
        println!(
            "  router   {:>10.0} messages/s   ({} node-to-node messages among 3 nodes in {:.2} s)",
            args.messages as f64 / took.as_secs_f64(),
            args.messages,
            took.as_secs_f64()
        );
        let cmd = command(&args)?;
        let direct = direct(&cmd, args.requests).await.context("the node on its own pipes")?;
        print_lat("direct", &direct);
        let dir =
            std::env::temp_dir().join(format!("faultline-bench-maelstrom-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spec = ClusterSpec::new(
            SystemSpec::Maelstrom { command: cmd },
            3,
            Backend::Local,
            dir.clone(),
            1,
        );
        let cluster = Cluster::start(spec).await.context("starting the echo cluster")?;
        let result = routed(&args, &cluster, &direct).await;
        cluster.shutdown().await.context("stopping the echo cluster")?;
        let _ = std::fs::remove_dir_all(&dir);
        result?;
        Ok(Exit::Pass)
    })
}

fn quantile(lat: &[Duration], p: f64) -> Duration {
    lat.get(((lat.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or_default()
}

fn print_lat(what: &str, lat: &[Duration]) {
    println!(
        "  {what:<8} p50 {:>7.0} µs   p99 {:>7.0} µs   ({} requests, one at a time)",
        quantile(lat, 0.5).as_secs_f64() * 1e6,
        quantile(lat, 0.99).as_secs_f64() * 1e6,
        lat.len()
    );
}

/// The node on its own pipes: `init`, then `requests` writes one at a time.
async fn direct(cmd: &[String], requests: u64) -> anyhow::Result<Vec<Duration>> {
    let (prog, rest) = cmd.split_first().context("an empty command")?;
    let mut child = tokio::process::Command::new(prog)
        .args(rest)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {prog}"))?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
    let mut lat = Vec::new();
    let mut line = String::new();
    for id in 0..=requests {
        let mut body = match id {
            0 => Body::new("init").with("node_id", "n1").with("node_ids", vec!["n1"]),
            _ => Body::new("write").with("key", 1).with("value", id),
        };
        body.msg_id = Some(id);
        let msg = Message { src: "c1".into(), dest: "n1".into(), body };
        let t = Instant::now();
        stdin.write_all(format!("{}\n", serde_json::to_string(&msg)?).as_bytes()).await?;
        line.clear();
        let read = stdout.read_line(&mut line);
        anyhow::ensure!(
            tokio::time::timeout(Duration::from_secs(10), read).await.is_ok_and(|r| r.is_ok()),
            "no answer to request {id}"
        );
        if id > 0 {
            lat.push(t.elapsed());
        }
    }
    let _ = child.kill().await;
    lat.sort_unstable();
    Ok(lat)
}

/// The same node through faultline: one client one request at a time, then paced rows.
async fn routed(
    args: &MaelstromBench,
    cluster: &Cluster,
    direct: &[Duration],
) -> anyhow::Result<()> {
    let (endpoints, controllers) = crate::runner::exec::endpoints(cluster);
    let clients = Clients::new(ClientConfig {
        system: SystemKind::Maelstrom,
        endpoints,
        controllers,
        request_timeout: Duration::from_secs(2),
        op_timeout: Duration::from_secs(5),
        serializable_reads: false,
    })?;
    let mut client = clients.open(0);
    let mut lat = Vec::new();
    for v in 1..=args.requests {
        let op = Op { f: Func::Write, key: "k1".into(), value: json!(v) };
        let t = Instant::now();
        if let Outcome::Ok(_) = client.call(&op).await {
            lat.push(t.elapsed());
        }
    }
    lat.sort_unstable();
    print_lat("routed", &lat);
    let over = quantile(&lat, 0.5).saturating_sub(quantile(direct, 0.5));
    println!("  faultline's share of a request: {:.0} µs at the median", over.as_secs_f64() * 1e6);
    for &rate in &args.rates {
        paced(&clients, rate, args.secs).await;
    }
    Ok(())
}

/// 10 clients at `rate` ops/s for `secs`: what share of the asked rate was achieved.
async fn paced(clients: &Clients, rate: f64, secs: u64) {
    const CLIENTS: u64 = 10;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let gap = Duration::from_secs_f64(CLIENTS as f64 / rate.max(1e-3));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let mut client = clients.open(100 + i);
            tokio::spawn(async move {
                let (mut ok, mut lat) = (0u64, Vec::new());
                let mut next = start + gap.mul_f64(i as f64 / CLIENTS as f64);
                let mut v = 0i64;
                while next < deadline {
                    tokio::time::sleep_until(next.into()).await;
                    v += 1;
                    let op = Op { f: Func::Write, key: format!("k{i}"), value: json!(v) };
                    let t = Instant::now();
                    if let Outcome::Ok(_) = client.call(&op).await {
                        ok += 1;
                        lat.push(t.elapsed());
                    }
                    next += gap;
                }
                (ok, lat)
            })
        })
        .collect();
    let (mut ok, mut lat) = (0u64, Vec::new());
    for t in tasks {
        if let Ok((o, l)) = t.await {
            ok += o;
            lat.extend(l);
        }
    }
    lat.sort_unstable();
    let achieved = ok as f64 / start.elapsed().as_secs_f64();
    println!(
        "  paced    {rate:>6.0} ops/s asked, {achieved:>6.0} achieved ({:.1}% held back)   p50 {:>6.0} µs   p99 {:>6.0} µs",
        (1.0 - achieved / rate).max(0.0) * 100.0,
        quantile(&lat, 0.5).as_secs_f64() * 1e6,
        quantile(&lat, 0.99).as_secs_f64() * 1e6
    );
}
