//! Any program that speaks Maelstrom's node protocol (jepsen-io/maelstrom, `doc/protocol.md`):
//! faultline starts N copies of the command (`n1`..`nN`) with their stdin and stdout piped
//! to it, sends each `init`, and from then on is their network. Clients reach a node
//! through its gateway, a 127.0.0.1 TCP port of JSON lines.
//!
//! ```text
//!   prepare ─▶ router for N nodes, one gateway per node (client_addr)
//!   spawn nK ─▶ attach(stdin, stdout) ─▶ init ─▶ init_ok ─▶ probe answers (ready)
//!   partition / loss / delay ─▶ network() = the router ─▶ messages dropped or held
//!   kill ─▶ stdout closes ─▶ restart ─▶ attach again ─▶ init again (the node starts empty
//!           unless it keeps files of its own)
//! ```
//!
//! A Maelstrom node has no leader faultline can see: readiness is every node having
//! answered `init_ok` since it last started, and no fault waits for a leader. Clock faults
//! do not apply (`faultline_api::fault::MAELSTROM_CLOCK`).
//!
//! # Layout
//! - `lines`: bounded JSON lines, message or misbehaviour.
//! - `router`: routing between nodes, clients and services, with the link faults.
//! - `services`: the `lin-kv`, `seq-kv` and `lww-kv` services.
//! - `stats`: what the router counts (the run's `NetworkStats`).
//! - `node_io`: one started node's pipes and its `init` handshake.
//! - `gateway`: the per-node client gateway.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use std::collections::BTreeSet;
use std::time::Duration;

use faultline_api::maelstrom::NetworkStats;

use super::{BoxFuture, NodeInfo, NodeStdio, Probe, Routing, System};
use crate::network::Network;
use crate::{Error, FaultOutcome};

mod gateway;
mod lines;
mod node_io;
mod router;
mod services;
mod stats;

use router::Router;

/// Runs a Maelstrom node command on every node.
#[derive(Debug)]
pub struct Maelstrom {
    /// The node's command line: program first.
    pub command: Vec<String>,
    /// Seeds the router's loss and delay.
    pub seed: u64,
    /// Made by `prepare`, once the node count is known.
    router: Arc<OnceLock<Arc<Router>>>,
    logs: OnceLock<Vec<PathBuf>>,
    gateways: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Maelstrom {
    /// A system running `command` on every node.
    pub fn new(command: Vec<String>, seed: u64) -> Maelstrom {
        Maelstrom {
            command,
            seed,
            router: Arc::default(),
            logs: OnceLock::new(),
            gateways: Mutex::default(),
        }
    }
}

/// Routes `messages` node-to-node messages (n1 to the others in turn, each parsed from and
/// written as the JSON line a node would) through a router of `nodes` nodes, in batches
/// the inboxes hold, while tasks drain the inboxes as node stdin writers would; returns how
/// long that took. `faultline bench maelstrom` prints the rate.
pub async fn route_benchmark(nodes: usize, messages: u64) -> std::time::Duration {
    #![allow(clippy::disallowed_methods)] // a benchmark reads the clock
    use std::sync::atomic::{AtomicU64, Ordering};
    let nodes = nodes.max(2);
    let router = Router::new(nodes, 1);
    let received = Arc::new(AtomicU64::new(0));
    for i in 0..nodes {
        let (generation, mut inbox) = router.connect_node(i);
        router.set_ready(i, generation);
        let received = received.clone();
        tokio::spawn(async move {
            while inbox.recv().await.is_some() {
                received.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let batch = (router::INBOX / 2) as u64;
    let start = std::time::Instant::now();
    let mut sent = 0u64;
    while sent < messages {
        let n = batch.min(messages - sent);
        for k in 0..n {
            let to = 1 + (sent + k) as usize % (nodes - 1);
            let line = format!(
                r#"{{"src":"n1","dest":"n{}","body":{{"type":"append_entries","msg_id":{},"term":3,"entries":[]}}}}"#,
                to + 1,
                sent + k
            );
            if let Ok(msg) = lines::parse(&lines::Line::Text(line)) {
                router.route_from_node(0, msg);
            }
        }
        sent += n;
        while received.load(Ordering::Relaxed) < sent {
            tokio::task::yield_now().await;
        }
    }
    let took = start.elapsed();
    router.shutdown();
    took
}

impl Drop for Maelstrom {
    fn drop(&mut self) {
        if let Some(r) = self.router.get() {
            r.shutdown();
        }
        for g in self.gateways.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
            g.abort();
        }
    }
}

/// The router as the cluster's network; before `prepare` made it there is nothing to hurt.
#[derive(Debug)]
struct RouterNetwork(Arc<OnceLock<Arc<Router>>>);

impl Network for RouterNetwork {
    fn set_cut(&self, cut: &BTreeSet<(usize, usize)>) -> Result<FaultOutcome, Error> {
        if let Some(r) = self.0.get() {
            r.set_cut(cut);
        }
        Ok(FaultOutcome::Installed)
    }

    fn set_loss(&self, p: f64) -> Result<FaultOutcome, Error> {
        if let Some(r) = self.0.get() {
            r.set_loss(p);
        }
        Ok(FaultOutcome::Installed)
    }

    fn set_delay(&self, delay: Duration) -> Result<FaultOutcome, Error> {
        if let Some(r) = self.0.get() {
            r.set_delay(delay);
        }
        Ok(FaultOutcome::Installed)
    }

    fn set_duplicate(&self, p: f64) -> Result<FaultOutcome, Error> {
        if let Some(r) = self.0.get() {
            r.set_duplicate(p);
        }
        Ok(FaultOutcome::Installed)
    }

    fn cut_traffic(&self) -> Option<u64> {
        Some(self.0.get().map_or(0, |r| r.cut_count()))
    }

    fn live_connections(&self) -> usize {
        self.0.get().map_or(0, |r| r.ready_count())
    }

    fn shutdown(&self) {
        if let Some(r) = self.0.get() {
            r.shutdown();
        }
    }
}

impl System for Maelstrom {
    fn stdio(&self) -> NodeStdio {
        NodeStdio::Piped
    }

    fn attach(&self, i: usize, stdin: std::process::ChildStdin, stdout: std::process::ChildStdout) {
        let Some(router) = self.router.get() else {
            tracing::error!(node = i + 1, "a node started before the cluster was prepared");
            return;
        };
        let log = self.logs.get().and_then(|l| l.get(i)).cloned();
        node_io::attach(router, i, stdin, stdout, log);
    }

    fn network(&self) -> Option<Arc<dyn Network>> {
        Some(Arc::new(RouterNetwork(self.router.clone())))
    }

    fn prepare<'a>(&'a self, nodes: &'a mut [NodeInfo]) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let router = self.router.get_or_init(|| Router::new(nodes.len(), self.seed)).clone();
            let _ = self.logs.set(nodes.iter().map(|n| n.log_file.clone()).collect());
            for (i, node) in nodes.iter_mut().enumerate() {
                let (addr, task) = gateway::bind(router.clone(), i).await.map_err(|e| {
                    Error::Spec(format!("{}: binding its client gateway: {e}", node.name))
                })?;
                node.client_addr = addr;
                self.gateways.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(task);
            }
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "maelstrom"
    }

    fn routing(&self) -> Routing {
        Routing::PerLink
    }

    fn netns_ports(&self) -> (u16, u16) {
        // The gateways and the router live in faultline's process; nodes listen on nothing.
        (0, 0)
    }

    fn raft_groups(&self, _n: usize) -> Vec<Vec<usize>> {
        Vec::new()
    }

    fn command(&self, _node: &NodeInfo, _all: &[NodeInfo], _tag: &str) -> Vec<OsString> {
        self.command.iter().map(OsString::from).collect()
    }

    fn probe<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, Option<Probe>> {
        let ready = self.router.get().is_some_and(|r| r.is_ready(node.id - 1));
        Box::pin(async move {
            ready.then_some(Probe {
                is_leader: false,
                term: 0,
                commit_index: None,
                last_index: None,
            })
        })
    }

    fn network_stats(&self) -> Option<NetworkStats> {
        self.router.get().map(|r| r.stats())
    }

    fn set_clock<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        _node: &'a NodeInfo,
        _offset_ms: i64,
        _rate: f64,
    ) -> BoxFuture<'a, FaultOutcome> {
        Box::pin(async { FaultOutcome::Skipped(faultline_api::fault::MAELSTROM_CLOCK.into()) })
    }
}

#[cfg(test)]
mod tests {
    //! The router, gateways and node pipes with real nodes: examples/maelstrom/raft_kv.py.
    #![allow(clippy::disallowed_methods)] // real processes, real waiting
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use faultline_api::maelstrom::{Body, GatewayReply, GatewayRequest};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    fn example() -> Option<PathBuf> {
        let has_python =
            Command::new("python3").arg("-V").output().is_ok_and(|o| o.status.success());
        if !has_python {
            eprintln!("skipped: python3 is not installed");
            return None;
        }
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/maelstrom/raft_kv.py"))
    }

    /// Asks node `i`'s gateway until an answer other than 11 (no leader yet) comes.
    async fn ask(addr: std::net::SocketAddr, body: Body) -> Body {
        let conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (r, mut w) = conn.into_split();
        let mut r = BufReader::new(r);
        for id in 1..200 {
            let req = GatewayRequest { id, body: body.clone() };
            w.write_all(format!("{}\n", serde_json::to_string(&req).unwrap()).as_bytes())
                .await
                .unwrap();
            let mut line = String::new();
            let got = tokio::time::timeout(Duration::from_secs(3), r.read_line(&mut line)).await;
            if let Ok(Ok(_)) = got {
                let reply: GatewayReply = serde_json::from_str(&line).unwrap();
                assert_eq!(reply.id, id);
                if reply.body.error_code() != Some(11) {
                    return reply.body;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no answer from {addr}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_raft_cluster_over_the_router_serves_and_survives_a_cut() {
        let Some(script) = example() else { return };
        let router = Router::new(3, 5);
        let mut children = Vec::new();
        for i in 0..3 {
            let mut c = Command::new("python3")
                .arg(&script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            node_io::attach(&router, i, c.stdin.take().unwrap(), c.stdout.take().unwrap(), None);
            children.push(c);
        }
        for _ in 0..100 {
            if router.ready_count() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(router.ready_count(), 3, "every node answered init_ok");
        let mut gates = Vec::new();
        for i in 0..3 {
            gates.push(gateway::bind(router.clone(), i).await.unwrap());
        }
        let write = Body::new("write").with("key", 1).with("value", 5);
        assert_eq!(ask(gates[0].0, write).await.kind, "write_ok");
        let read = Body::new("read").with("key", 1);
        assert_eq!(ask(gates[1].0, read.clone()).await.field("value"), Some(&5.into()));
        // Cut n3 off both ways: the other two still serve; n3 heals and catches up.
        let cut = [(0, 2), (2, 0), (1, 2), (2, 1)].into_iter().collect();
        router.set_cut(&cut);
        let cas = Body::new("cas").with("key", 1).with("from", 5).with("to", 6);
        assert_eq!(ask(gates[0].0, cas).await.kind, "cas_ok");
        router.set_cut(&Default::default());
        assert_eq!(ask(gates[2].0, read).await.field("value"), Some(&6.into()));
        let s = router.stats();
        assert!(s.links.iter().any(|l| l.dropped > 0), "{:?}", s.links);
        assert_eq!(s.misbehaviour.not_a_message + s.misbehaviour.unknown_dest, 0, "{s:?}");
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for (_, g) in gates {
            g.abort();
        }
    }
}
