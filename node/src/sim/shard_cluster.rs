//! [`ShardSim`]: the sharded KV in the simulator: a controller group and replica groups,
//! each a [`SimCluster`] on one shared virtual clock, the requests between them, and each
//! group leader's [`Migrator`].
//!
//! ```text
//!  run_for(us), in 1 ms steps:
//!    every cluster runs to t ─▶ replies routed to who asked:
//!        a client        ─▶ take_client_replies()
//!        a group leader  ─▶ Migrator::on_config / on_reply ─▶ propose on that leader
//!    every tick: each group leader's Migrator::tick ─▶ Query / Pull / Delete sent
//!  between clusters: dropped if either group is cut off, or lost (unreliable network)
//! ```
//!
//! Servers are named `g<gid>/n<id>` in the controller's configurations.

use super::{SimCluster, SimConfig};
use crate::raft::types::{NodeId, Role, UnsafeBug};
use crate::service::RequestToken;
use crate::shard::{
    Controller, ControllerOptions, CtrlCommand, CtrlResponse, Gid, Group, GroupCommand,
    GroupOptions, GroupResponse, Migrator, Outbound,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Configuration of a sharded simulation. Times are virtual microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardSimConfig {
    /// Every cluster's settings (seed, nodes per group, network, snapshots, bug).
    pub cluster: SimConfig,
    /// The replica groups that exist (they serve once the controller lets them join).
    pub gids: Vec<Gid>,
    /// Shards per configuration.
    pub shards: usize,
    /// How often a group leader polls the controller.
    pub poll_us: u64,
    /// How often a group leader re-sends pulls and deletes.
    pub retry_us: u64,
    /// Probability that a request or answer between clusters is lost.
    pub loss: f64,
}

impl ShardSimConfig {
    /// Three groups (100, 101, 102) of three nodes, 10 shards, a reliable network.
    pub fn new(seed: u64) -> ShardSimConfig {
        ShardSimConfig {
            cluster: SimConfig::builder().seed(seed).nodes(3).build(),
            gids: vec![Gid(100), Gid(101), Gid(102)],
            shards: crate::shard::DEFAULT_SHARDS,
            poll_us: 100_000,
            retry_us: 50_000,
            loss: 0.0,
        }
    }

    /// 6.824's unreliable network inside every group and between them.
    pub fn unreliable(mut self) -> ShardSimConfig {
        self.cluster.net = super::NetConfig::unreliable();
        self.loss = 0.1;
        self
    }

    /// Snapshots once a log holds more than `bytes`.
    pub fn snapshots(mut self, bytes: usize) -> ShardSimConfig {
        self.cluster.snapshot_threshold_bytes = bytes;
        self.cluster.snapshot_chunk_bytes = bytes.max(64) / 2;
        self
    }

    /// Plants a bug in every node.
    pub fn bug(mut self, bug: Option<UnsafeBug>) -> ShardSimConfig {
        self.cluster.bug = bug;
        self
    }

    /// The server names of group `gid`.
    pub fn servers(&self, gid: Gid) -> Vec<String> {
        self.cluster.ids().iter().map(|n| format!("g{}/n{}", gid.0, n.0)).collect()
    }
}

/// Who is waiting for an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    /// A client's request, by the ticket [`ShardSim`] gave it.
    Client(u64),
    /// The administrator's controller request (join / leave / move), by ticket.
    Admin(u64),
    /// The migrator of a group node, with what it sent.
    Migrator(Gid, NodeId, Option<GroupCommand>),
}

/// An answer for a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientReply {
    /// From the controller.
    Ctrl(CtrlResponse),
    /// From a replica group.
    Group(GroupResponse),
}

/// A sharded KV on one virtual clock.
#[derive(Debug)]
pub struct ShardSim {
    cfg: ShardSimConfig,
    now: u64,
    rng: ChaCha8Rng,
    /// The controller's cluster.
    pub ctrl: SimCluster<Controller>,
    /// Each replica group's cluster.
    pub groups: BTreeMap<Gid, SimCluster<Group>>,
    migrators: BTreeMap<(Gid, NodeId), Migrator>,
    ctrl_waiting: BTreeMap<RequestToken, Origin>,
    group_waiting: BTreeMap<(Gid, RequestToken), Origin>,
    /// Where each migrator last found the leader of a cluster (`None`: the controller).
    hints: BTreeMap<(Gid, NodeId, Option<Gid>), NodeId>,
    cut: BTreeSet<Gid>,
    client_replies: Vec<(u64, ClientReply)>,
    admin_replies: Vec<(u64, CtrlResponse)>,
    next_ticket: u64,
    next_tick: u64,
}

impl ShardSim {
    /// Starts the controller and every group (no leader yet, no group joined).
    pub fn new(cfg: ShardSimConfig) -> ShardSim {
        let seed = cfg.cluster.seed;
        let mut ctrl_cfg = cfg.cluster.clone();
        ctrl_cfg.seed = seed.wrapping_mul(31).wrapping_add(7);
        ctrl_cfg.bug = None;
        let ctrl = SimCluster::create(ctrl_cfg, ControllerOptions { shards: cfg.shards });
        let mut groups = BTreeMap::new();
        let mut migrators = BTreeMap::new();
        let ticks = |us: u64| (us / cfg.cluster.tick_us).max(1);
        for gid in &cfg.gids {
            let mut c = cfg.cluster.clone();
            c.seed = seed.wrapping_mul(131).wrapping_add(gid.0);
            let opts = GroupOptions { gid: *gid, shards: cfg.shards };
            groups.insert(*gid, SimCluster::create(c, opts));
            for id in cfg.cluster.ids() {
                let m = Migrator::new(ticks(cfg.poll_us), ticks(cfg.retry_us), cfg.cluster.bug);
                migrators.insert((*gid, id), m);
            }
        }
        ShardSim {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5ba4d),
            now: 0,
            ctrl,
            groups,
            migrators,
            ctrl_waiting: BTreeMap::new(),
            group_waiting: BTreeMap::new(),
            hints: BTreeMap::new(),
            cut: BTreeSet::new(),
            client_replies: Vec::new(),
            admin_replies: Vec::new(),
            next_ticket: 0,
            next_tick: 0,
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ShardSimConfig {
        &self.cfg
    }

    /// Virtual time (µs).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The simulation's rng (workloads and nemeses draw from it).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Cuts group `gid` off from the controller, the other groups and the clients.
    pub fn cut_off(&mut self, gid: Gid) {
        self.cut.insert(gid);
    }

    /// Reconnects group `gid`.
    pub fn reconnect(&mut self, gid: Gid) {
        self.cut.remove(&gid);
    }

    /// Crashes node `id` of group `gid` (its unsynced writes are lost).
    pub fn crash(&mut self, gid: Gid, id: NodeId) {
        if let Some(c) = self.groups.get_mut(&gid) {
            c.crash(id);
        }
    }

    /// Restarts node `id` of group `gid` from its durable state.
    pub fn restart(&mut self, gid: Gid, id: NodeId) {
        if let Some(c) = self.groups.get_mut(&gid) {
            c.restart(id);
        }
    }

    /// Crashes every node of group `gid`.
    pub fn crash_group(&mut self, gid: Gid) {
        for id in self.cfg.cluster.ids() {
            self.crash(gid, id);
        }
    }

    /// Restarts every node of group `gid`.
    pub fn restart_group(&mut self, gid: Gid) {
        for id in self.cfg.cluster.ids() {
            self.restart(gid, id);
        }
    }

    /// The group of a server name `g<gid>/n<id>`.
    pub fn parse_server(name: &str) -> Option<(Gid, NodeId)> {
        let (g, n) = name.strip_prefix('g')?.split_once("/n")?;
        Some((Gid(g.parse().ok()?), NodeId(n.parse().ok()?)))
    }

    /// A client request to the controller's `node`; the answer comes with `ticket`.
    pub fn client_ctrl(&mut self, node: NodeId, cmd: CtrlCommand) -> u64 {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.send_ctrl(None, node, cmd, Origin::Client(ticket));
        ticket
    }

    /// An administrator's request to the controller's `node` (join / leave / move).
    pub fn admin_ctrl(&mut self, node: NodeId, cmd: CtrlCommand) -> u64 {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.send_ctrl(None, node, cmd, Origin::Admin(ticket));
        ticket
    }

    /// The administrator's answers so far.
    pub fn take_admin_replies(&mut self) -> Vec<(u64, CtrlResponse)> {
        std::mem::take(&mut self.admin_replies)
    }

    /// A client request to `node` of group `gid`; the answer comes with `ticket`.
    pub fn client_group(&mut self, gid: Gid, node: NodeId, cmd: GroupCommand) -> u64 {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.send_group(None, gid, node, cmd, Origin::Client(ticket));
        ticket
    }

    /// The clients' answers so far.
    pub fn take_client_replies(&mut self) -> Vec<(u64, ClientReply)> {
        std::mem::take(&mut self.client_replies)
    }

    fn lost(&mut self, from: Option<Gid>, to: Option<Gid>) -> bool {
        let cut = [from, to].iter().flatten().any(|g| self.cut.contains(g));
        cut || (self.cfg.loss > 0.0 && self.rng.random_bool(self.cfg.loss))
    }

    fn send_ctrl(&mut self, from: Option<Gid>, node: NodeId, cmd: CtrlCommand, origin: Origin) {
        if !self.lost(from, None) {
            let token = self.ctrl.submit(node, cmd);
            self.ctrl_waiting.insert(token, origin);
        }
    }

    fn send_group(
        &mut self,
        from: Option<Gid>,
        gid: Gid,
        node: NodeId,
        cmd: GroupCommand,
        origin: Origin,
    ) {
        if self.lost(from, Some(gid)) {
            return;
        }
        if let Some(c) = self.groups.get_mut(&gid) {
            let token = c.submit(node, cmd);
            self.group_waiting.insert((gid, token), origin);
        }
    }

    /// Runs every cluster and the migrators for `us` of virtual time.
    pub fn run_for(&mut self, us: u64) {
        let until = self.now + us;
        while self.now < until {
            self.now = (self.now + 1_000).min(until);
            let t = self.now;
            self.ctrl.run_until(t);
            for c in self.groups.values_mut() {
                c.run_until(t);
            }
            self.route_replies();
            if self.now >= self.next_tick {
                self.next_tick = self.now + self.cfg.cluster.tick_us;
                self.tick_migrators();
            }
        }
    }

    fn route_replies(&mut self) {
        for r in self.ctrl.take_replies() {
            let Some(origin) = self.ctrl_waiting.remove(&r.token) else { continue };
            let from = match &origin {
                Origin::Migrator(g, ..) => Some(*g),
                Origin::Client(_) | Origin::Admin(_) => None,
            };
            if self.lost(None, from) {
                continue;
            }
            match origin {
                Origin::Client(t) => self.client_replies.push((t, ClientReply::Ctrl(r.response))),
                Origin::Admin(t) => self.admin_replies.push((t, r.response)),
                Origin::Migrator(gid, node, _) => match r.response {
                    CtrlResponse::Ok(cfg) => {
                        let cmd = self.group_state(gid, node).and_then(|g| {
                            self.migrators.get(&(gid, node)).and_then(|m| m.on_config(g, cfg))
                        });
                        self.propose(gid, node, cmd);
                    }
                    CtrlResponse::NotLeader(hint) => self.retarget(gid, node, None, hint, r.node),
                    _ => {}
                },
            }
        }
        let gids: Vec<Gid> = self.groups.keys().copied().collect();
        for to in gids {
            let Some(c) = self.groups.get_mut(&to) else { continue };
            for r in c.take_replies() {
                let Some(origin) = self.group_waiting.remove(&(to, r.token)) else { continue };
                let from = match &origin {
                    Origin::Migrator(g, ..) => Some(*g),
                    Origin::Client(_) | Origin::Admin(_) => None,
                };
                if self.lost(Some(to), from) {
                    continue;
                }
                match origin {
                    Origin::Admin(_) => {}
                    Origin::Client(t) => {
                        self.client_replies.push((t, ClientReply::Group(r.response)))
                    }
                    Origin::Migrator(gid, node, sent) => {
                        if let GroupResponse::Kv(crate::api::Response::NotLeader { leader }) =
                            &r.response
                        {
                            self.retarget(gid, node, Some(to), *leader, r.node);
                            continue;
                        }
                        let Some(sent) = sent else { continue };
                        let cmd = self.group_state(gid, node).and_then(|g| {
                            self.migrators
                                .get(&(gid, node))
                                .and_then(|m| m.on_reply(g, &sent, r.response))
                        });
                        self.propose(gid, node, cmd);
                    }
                }
            }
        }
    }

    fn retarget(
        &mut self,
        gid: Gid,
        node: NodeId,
        to: Option<Gid>,
        hint: Option<NodeId>,
        at: NodeId,
    ) {
        let n = self.cfg.cluster.nodes as u64;
        let next = hint.filter(|h| *h != at).unwrap_or(NodeId(at.0 % n + 1));
        self.hints.insert((gid, node, to), next);
    }

    fn group_state(&self, gid: Gid, node: NodeId) -> Option<&Group> {
        self.groups.get(&gid)?.service(node).map(|s| s.kv())
    }

    fn propose(&mut self, gid: Gid, node: NodeId, cmd: Option<GroupCommand>) {
        if let (Some(cmd), Some(c)) = (cmd, self.groups.get_mut(&gid)) {
            // Not the leader any more: the next leader's migrator asks again.
            let _ = c.start(node, cmd);
        }
    }

    fn tick_migrators(&mut self) {
        let tick = self.now / self.cfg.cluster.tick_us;
        let mut sends = Vec::new();
        for (gid, c) in &self.groups {
            for id in c.ids() {
                let Some(s) = c.service(id) else { continue };
                if s.core().role() != Role::Leader {
                    continue;
                }
                if let Some(m) = self.migrators.get_mut(&(*gid, id)) {
                    for out in m.tick(tick, s.kv()) {
                        sends.push((*gid, id, out));
                    }
                }
            }
        }
        for (gid, id, out) in sends {
            match out {
                Outbound::Query(num) => {
                    let to = self.hints.get(&(gid, id, None)).copied().unwrap_or(NodeId(1));
                    let cmd = CtrlCommand {
                        client: crate::shard::group::INTERNAL_CLIENT,
                        seq: 0,
                        op: crate::shard::CtrlOp::Query(num),
                    };
                    self.send_ctrl(Some(gid), to, cmd, Origin::Migrator(gid, id, None));
                }
                Outbound::Group { gid: to_gid, servers, cmd } => {
                    let hinted = self.hints.get(&(gid, id, Some(to_gid))).copied();
                    let first = servers.first().and_then(|s| Self::parse_server(s)).map(|(_, n)| n);
                    let Some(to) = hinted.or(first) else { continue };
                    let origin = Origin::Migrator(gid, id, Some(cmd.clone()));
                    self.send_group(Some(gid), to_gid, to, cmd, origin);
                }
            }
        }
    }

    /// Safety violations of any cluster (Raft-level checks).
    pub fn violations(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.ctrl.violations().iter().map(|s| format!("controller: {s}")).collect();
        for (gid, c) in &self.groups {
            v.extend(c.violations().iter().map(|s| format!("{gid}: {s}")));
        }
        v
    }
}
