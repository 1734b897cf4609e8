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

use faultline_api::maelstrom::NetworkStats;

use super::{BoxFuture, NodeInfo, Probe, Routing, System};
use crate::FaultOutcome;

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
    router: OnceLock<Arc<Router>>,
    logs: OnceLock<Vec<PathBuf>>,
    gateways: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Maelstrom {
    /// A system running `command` on every node.
    pub fn new(command: Vec<String>, seed: u64) -> Maelstrom {
        Maelstrom {
            command,
            seed,
            router: OnceLock::new(),
            logs: OnceLock::new(),
            gateways: Mutex::default(),
        }
    }

    /// What the router counted so far (`None` before the cluster was prepared).
    pub fn network_stats(&self) -> Option<NetworkStats> {
        self.router.get().map(|r| r.stats())
    }
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

impl System for Maelstrom {
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
