//! The simulated administrator of the sharded KV: joins, leaves and moves through the
//! controller (retried under one session until answered), recorded as nemesis events with
//! the old and new configuration numbers, and the random reconfiguration nemesis.
//!
//! ```text
//!  start(op) ─▶ admin_ctrl(node, op) ─┬─ Ok(config) ─▶ event {op, from, to}; idle
//!                                     ├─ not-leader / unknown ─▶ next node, same seq
//!                                     └─ no answer in 300 ms ──▶ next node, same seq
//! ```

use super::shard_clients::Clients;
use super::shard_cluster::ShardSim;
use crate::raft::types::{ClientId, NodeId};
use crate::shard::{CtrlCommand, CtrlOp, CtrlResponse, Gid, ShardConfig};
use faultline_api::EventName;
use rand::Rng;
use serde_json::json;
use std::collections::BTreeSet;

/// One administrator session.
#[derive(Debug)]
pub struct Admin {
    seq: u64,
    node: NodeId,
    /// The request in flight: (ticket, command, sent at).
    pending: Option<(u64, CtrlCommand, u64)>,
    /// The latest configuration the controller answered with.
    pub latest: ShardConfig,
}

impl Default for Admin {
    fn default() -> Self {
        Admin { seq: 0, node: NodeId(1), pending: None, latest: ShardConfig::initial(0) }
    }
}

impl Admin {
    /// True when no request is in flight.
    pub fn is_idle(&self) -> bool {
        self.pending.is_none()
    }

    /// Sends `op` (call only when idle).
    pub fn start(&mut self, sim: &mut ShardSim, op: CtrlOp) {
        self.seq += 1;
        let cmd = CtrlCommand { client: ClientId(1), seq: self.seq, op };
        let ticket = sim.admin_ctrl(self.node, cmd.clone());
        self.pending = Some((ticket, cmd, sim.now()));
    }

    /// Handles answers and timeouts; records a finished change in `clients`' history.
    pub fn poll(&mut self, sim: &mut ShardSim, clients: &mut Clients) {
        let now = sim.now();
        let n = sim.config().cluster.nodes as u64;
        for (ticket, r) in sim.take_admin_replies() {
            let Some((t, cmd, _)) = self.pending.as_ref() else { continue };
            if *t != ticket {
                continue;
            }
            match r {
                CtrlResponse::Ok(cfg) => {
                    let from = cfg.num - 1;
                    if let Some((name, value)) = describe(&cmd.op) {
                        let value = json!({"change": value, "from": from, "to": cfg.num});
                        clients.nemesis(name, value, now);
                    }
                    self.latest = cfg;
                    self.pending = None;
                }
                CtrlResponse::Fail(_) => self.pending = None,
                CtrlResponse::NotLeader(Some(l)) if l != self.node => {
                    self.node = l;
                    self.resend(sim);
                }
                _ => {
                    self.node = NodeId(self.node.0 % n + 1);
                    self.resend(sim);
                }
            }
        }
        if self.pending.as_ref().is_some_and(|(_, _, at)| now >= at + 300_000) {
            self.node = NodeId(self.node.0 % n + 1);
            self.resend(sim);
        }
    }

    fn resend(&mut self, sim: &mut ShardSim) {
        if let Some((_, cmd, _)) = self.pending.take() {
            let ticket = sim.admin_ctrl(self.node, cmd.clone());
            self.pending = Some((ticket, cmd, sim.now()));
        }
    }

    /// Sends `op` and runs the clients (invoking while `invoke`) until it is answered or
    /// `max_us` passed; true when answered.
    pub fn run(
        &mut self,
        sim: &mut ShardSim,
        clients: &mut Clients,
        op: CtrlOp,
        invoke: bool,
        max_us: u64,
    ) -> bool {
        self.start(sim, op);
        let until = sim.now() + max_us;
        while !self.is_idle() && sim.now() < until {
            clients.run(sim, 1_000, invoke, None);
            self.poll(sim, clients);
        }
        self.is_idle()
    }

    /// A random join, leave or move among `gids`, never removing the last group.
    pub fn random_change(&self, sim: &mut ShardSim, gids: &[Gid]) -> CtrlOp {
        let joined: BTreeSet<Gid> = self.latest.groups.keys().copied().collect();
        let out: Vec<Gid> = gids.iter().copied().filter(|g| !joined.contains(g)).collect();
        let inside: Vec<Gid> = joined.iter().copied().collect();
        let roll = sim.rng().random_range(0..3);
        let shards = sim.config().shards;
        if inside.is_empty() || (roll == 0 && !out.is_empty()) {
            let g =
                if out.is_empty() { gids[0] } else { out[sim.rng().random_range(0..out.len())] };
            return CtrlOp::Join([(g, sim.config().servers(g))].into());
        }
        if roll == 1 && inside.len() > 1 {
            return CtrlOp::Leave(vec![inside[sim.rng().random_range(0..inside.len())]]);
        }
        let shard = sim.rng().random_range(0..shards);
        CtrlOp::Move { shard, gid: inside[sim.rng().random_range(0..inside.len())] }
    }
}

/// The nemesis event name and value of a change.
fn describe(op: &CtrlOp) -> Option<(EventName, serde_json::Value)> {
    Some(match op {
        CtrlOp::Join(g) => (EventName::Join, json!(g.keys().map(|g| g.0).collect::<Vec<_>>())),
        CtrlOp::Leave(g) => (EventName::Leave, json!(g.iter().map(|g| g.0).collect::<Vec<_>>())),
        CtrlOp::Move { shard, gid } => (EventName::Move, json!({"shard": shard, "gid": gid.0})),
        CtrlOp::Query(_) => return None,
    })
}
