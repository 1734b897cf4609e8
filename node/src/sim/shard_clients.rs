//! Simulated clients of the sharded KV, recording a history (`docs/history-format.md`) on
//! virtual time.
//!
//! ```text
//!  invoke ─▶ no config yet? ─▶ Query(latest) at the controller ─▶ cache it
//!         ─▶ key_shard(key) → gid ─▶ Policy (faultline_workloads::policy, the real client's)
//!              ▲                         │ Send(server of gid) / Pause / Finish
//!              │                         ▼
//!              │   ok / fail / not-leader / unknown / timeout ─▶ Policy::on_attempt
//!              │   NotArrived (certainly not applied) ─────────▶ Policy::on_attempt(NotSent)
//!              └── Policy::regroup ◀─ fresh config ◀─ query ◀─ WrongGroup, attempt timeout
//!  Finish(unknown) ─▶ info; the process is replaced (fresh process and client id)
//! ```
//!
//! The retry policy is the one real runs use; the same `(client, seq)` goes to every group
//! the operation is sent to, so de-duplication across a shard move is what keeps it at most
//! once.

use super::shard_cluster::{ClientReply, ShardSim};
use super::workload::{answer, History, WorkloadRun};
use crate::api::{Command, Op, Reply};
use crate::raft::types::{ClientId, NodeId};
use crate::shard::{CtrlCommand, CtrlOp, CtrlResponse, Gid, GroupCommand, ShardConfig};
use faultline_api::EventName;
use faultline_workloads::policy::{Attempt, Decision, Policy};
use faultline_workloads::Outcome;
use rand::Rng;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The clients' shape. Times are virtual microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// Keys (`k0`..), spread over the shards by [`crate::shard::key_shard`].
    pub keys: usize,
    /// One attempt's timeout before retrying on another server.
    pub attempt_timeout_us: u64,
    /// The whole operation's deadline (then `info`).
    pub op_timeout_us: u64,
    /// Pause between a client's operations.
    pub think_us: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            clients: 6,
            keys: 12,
            attempt_timeout_us: 300_000,
            op_timeout_us: 3_000_000,
            think_us: 5_000,
        }
    }
}

#[derive(Debug)]
struct InFlight {
    cmd: Command,
    invoked: u64,
    /// The retry policy, once a config named the key's group.
    policy: Option<Policy<NodeId>>,
    /// The open attempt: (ticket, group, give up at).
    attempt: Option<(u64, Gid, u64)>,
    /// A pause of the policy ends at this time.
    wake_at: Option<u64>,
    /// Waiting for a fresh config before the next attempt.
    needs_config: bool,
    /// The controller was asked for it.
    asked: bool,
}

#[derive(Debug)]
struct Client {
    process: u64,
    client: u64,
    seq: u64,
    config: ShardConfig,
    /// The controller query in flight: (ticket, sent at).
    query: Option<(u64, u64)>,
    op: Option<InFlight>,
    next_at: u64,
    ctrl_node: NodeId,
}

/// The clients, their history and per-key successes.
#[derive(Debug)]
pub struct Clients {
    cfg: ClientConfig,
    clients: Vec<Client>,
    rec: History,
    run: WorkloadRun,
    next_process: u64,
    next_client: u64,
    /// Completion time of every successful operation, by key.
    ok_times: BTreeMap<String, Vec<u64>>,
}

impl Clients {
    /// `cfg.clients` idle clients with no configuration yet.
    pub fn new(cfg: ClientConfig) -> Clients {
        let n = cfg.clients as u64;
        let clients = (0..n).map(|p| fresh(p, 1000 + p)).collect();
        Clients {
            cfg,
            clients,
            rec: History::default(),
            run: WorkloadRun::default(),
            next_process: n,
            next_client: 1000 + n,
            ok_times: BTreeMap::new(),
        }
    }

    /// The key names.
    pub fn keys(&self) -> Vec<String> {
        (0..self.cfg.keys).map(|k| format!("k{k}")).collect()
    }

    /// Records a nemesis / reconfiguration event.
    pub fn nemesis(&mut self, name: EventName, value: Value, time: u64) {
        self.rec.fault(name, value, time);
    }

    /// Runs the simulation for `us`, invoking new operations on `keys` (all keys when
    /// `None`) while `invoke` is true.
    pub fn run(&mut self, sim: &mut ShardSim, us: u64, invoke: bool, keys: Option<&[String]>) {
        let until = sim.now() + us;
        while sim.now() < until {
            self.step(sim, invoke, keys);
            sim.run_for(1_000);
        }
    }

    /// Lets the outstanding operations finish (no new ones), at most `max_us`.
    pub fn drain(&mut self, sim: &mut ShardSim, max_us: u64) {
        let until = sim.now() + max_us;
        while sim.now() < until && self.clients.iter().any(|c| c.op.is_some()) {
            self.step(sim, false, None);
            sim.run_for(1_000);
        }
    }

    /// Successful operations on `key` completed in `[from, to)`.
    pub fn ok_between(&self, key: &str, from: u64, to: u64) -> usize {
        self.ok_times.get(key).map_or(0, |t| t.iter().filter(|x| (from..to).contains(*x)).count())
    }

    /// The history and the counts (operations still open end as `info`).
    pub fn finish(mut self, sim: &mut ShardSim) -> WorkloadRun {
        let now = sim.now();
        for c in &mut self.clients {
            if let Some(op) = c.op.take() {
                self.rec.complete(c.process, &op.cmd, &Outcome::Unknown("end".into()), now);
                self.run.info += 1;
            }
        }
        self.run.history = self.rec.finish();
        self.run
    }

    fn step(&mut self, sim: &mut ShardSim, invoke: bool, keys: Option<&[String]>) {
        let now = sim.now();
        for (ticket, reply) in sim.take_client_replies() {
            self.on_reply(sim, ticket, reply, now);
        }
        let all = self.keys();
        let keys = keys.unwrap_or(&all);
        for i in 0..self.clients.len() {
            self.advance(sim, i, now, invoke, keys);
        }
    }

    fn on_reply(&mut self, sim: &mut ShardSim, ticket: u64, reply: ClientReply, now: u64) {
        let Some(i) = self.clients.iter().position(|c| {
            c.query.is_some_and(|(t, _)| t == ticket)
                || c.op.as_ref().and_then(|op| op.attempt).is_some_and(|(t, ..)| t == ticket)
        }) else {
            return;
        };
        let c = &mut self.clients[i];
        let group_reply = match reply {
            ClientReply::Ctrl(r) => {
                c.query = None;
                match r {
                    CtrlResponse::Ok(cfg) if cfg.num >= c.config.num => c.config = cfg,
                    CtrlResponse::Ok(_) => {}
                    CtrlResponse::NotLeader(Some(l)) if l != c.ctrl_node => c.ctrl_node = l,
                    _ => c.ctrl_node = next(sim, c.ctrl_node),
                }
                return;
            }
            ClientReply::Group(r) => r,
        };
        let Some(op) = c.op.as_mut() else { return };
        op.attempt = None;
        let attempt = match group_reply.to_body(|_| None) {
            Some(body) if body.status == Reply::WrongGroup => {
                // Certainly not applied there: find the owner (shortly: the controller may
                // not know better yet), then carry on.
                op.needs_config = true;
                op.wake_at = Some(now + 10_000);
                return;
            }
            Some(body) => answer(&body, &op.cmd.op),
            None => Attempt::Uncertain(format!("unexpected answer {group_reply:?}")),
        };
        let elapsed = Duration::from_micros(now - op.invoked);
        let Some(policy) = op.policy.as_mut() else { return };
        let d = policy.on_attempt(attempt, elapsed);
        self.follow(sim, i, d, now);
    }

    fn advance(&mut self, sim: &mut ShardSim, i: usize, now: u64, invoke: bool, keys: &[String]) {
        let cfg = self.cfg.clone();
        let c = &mut self.clients[i];
        let Some(op) = c.op.as_mut() else {
            if invoke && now >= c.next_at && !keys.is_empty() {
                self.invoke(sim, i, now, keys);
            }
            return;
        };
        let elapsed = Duration::from_micros(now - op.invoked);
        if let Some((_, _, until)) = op.attempt {
            if now < until {
                return;
            }
            // No answer in time: maybe applied; the group may have moved or be cut off.
            op.attempt = None;
            let Some(policy) = op.policy.as_mut() else { return };
            match policy.on_attempt(Attempt::Uncertain("timeout".into()), elapsed) {
                d @ Decision::Finish(_) => return self.follow(sim, i, d, now),
                _ => op.needs_config = true,
            }
        }
        if op.wake_at.is_some_and(|t| now < t) {
            return;
        }
        op.wake_at = None;
        if op.needs_config {
            // Ask the controller for the latest config; go on once it answered.
            let stale = c.query.is_some_and(|(_, at)| now >= at + cfg.attempt_timeout_us);
            if stale {
                c.ctrl_node = next(sim, c.ctrl_node);
            }
            if !op.asked || stale {
                let q = CtrlCommand { client: ClientId(c.client), seq: 0, op: CtrlOp::Query(None) };
                c.query = Some((sim.client_ctrl(c.ctrl_node, q), now));
                op.asked = true;
                return;
            }
            if c.query.is_some() {
                return;
            }
            if elapsed >= Duration::from_micros(cfg.op_timeout_us) && op.policy.is_none() {
                return self.follow(
                    sim,
                    i,
                    Decision::Finish(Outcome::Fail("no-config".into())),
                    now,
                );
            }
        }
        let d = match op.policy.as_mut() {
            Some(p) if !op.needs_config => {
                if op.wake_at.is_some() || op.attempt.is_some() {
                    return;
                }
                p.on_pause_over(elapsed)
            }
            _ => {
                let gid = c.config.key_owner(&op.cmd.key);
                let nodes = servers(sim, gid);
                if nodes.is_empty() {
                    // No owner yet: ask again shortly, unless the deadline passed.
                    if elapsed >= Duration::from_micros(cfg.op_timeout_us) {
                        Decision::Finish(Outcome::Fail("no-group".into()))
                    } else {
                        op.wake_at = Some(now + 20_000);
                        op.asked = false;
                        return;
                    }
                } else {
                    op.needs_config = false;
                    op.asked = false;
                    match op.policy.as_mut() {
                        Some(p) => p.regroup(nodes, elapsed),
                        None => {
                            let read = op.cmd.op.is_read();
                            let (attempt, total) = (cfg.attempt_timeout_us, cfg.op_timeout_us);
                            let mut p = Policy::new(
                                nodes,
                                0,
                                read,
                                Duration::from_micros(attempt),
                                Duration::from_micros(total),
                            );
                            let d = p.start();
                            op.policy = Some(p);
                            d
                        }
                    }
                }
            }
        };
        self.follow(sim, i, d, now);
    }

    fn invoke(&mut self, sim: &mut ShardSim, i: usize, now: u64, keys: &[String]) {
        let c = &mut self.clients[i];
        c.seq += 1;
        let key = keys[sim.rng().random_range(0..keys.len())].clone();
        let op = match sim.rng().random_range(0..10) {
            0..=3 => Op::Get,
            4..=5 => Op::Put(format!("p{}.{} ", c.client, c.seq)),
            _ => Op::Append(format!("a{}.{} ", c.client, c.seq)),
        };
        let cmd = Command { client: ClientId(c.client), seq: c.seq, key, op };
        self.rec.invoke(c.process, &cmd, now);
        c.op = Some(InFlight {
            cmd,
            invoked: now,
            policy: None,
            attempt: None,
            wake_at: None,
            needs_config: c.config.num == 0,
            asked: false,
        });
    }

    /// Carries out the policy's decision for client `i`'s operation.
    fn follow(&mut self, sim: &mut ShardSim, i: usize, d: Decision<NodeId>, now: u64) {
        let think = self.cfg.think_us;
        let c = &mut self.clients[i];
        let Some(op) = c.op.as_mut() else { return };
        match d {
            Decision::Send { to, timeout } => {
                let gid = c.config.key_owner(&op.cmd.key);
                let ticket = sim.client_group(gid, to, GroupCommand::Client(op.cmd.clone()));
                op.attempt = Some((ticket, gid, now + timeout.as_micros() as u64));
            }
            Decision::Pause(p) => op.wake_at = Some(now + p.as_micros() as u64),
            Decision::Finish(outcome) => {
                let op = c.op.take().expect("checked above");
                self.rec.complete(c.process, &op.cmd, &outcome, now);
                c.next_at = now + think;
                match outcome {
                    Outcome::Ok(_) => {
                        self.run.ok += 1;
                        self.ok_times.entry(op.cmd.key.clone()).or_default().push(now);
                    }
                    Outcome::Fail(_) => self.run.fail += 1,
                    Outcome::Unknown(_) => {
                        self.run.info += 1;
                        // A process that got `info` never issues again (Jepsen).
                        let config = std::mem::replace(&mut c.config, ShardConfig::initial(0));
                        *c = Client { config, ..fresh(self.next_process, self.next_client) };
                        c.next_at = now + think;
                        self.next_process += 1;
                        self.next_client += 1;
                    }
                }
            }
        }
    }
}

fn fresh(process: u64, client: u64) -> Client {
    Client {
        process,
        client,
        seq: 0,
        config: ShardConfig::initial(0),
        query: None,
        op: None,
        next_at: 0,
        ctrl_node: NodeId(1),
    }
}

/// The servers of group `gid` (none for [`Gid::NONE`]).
fn servers(sim: &ShardSim, gid: Gid) -> Vec<NodeId> {
    if gid == Gid::NONE {
        return Vec::new();
    }
    sim.config().cluster.ids()
}

fn next(sim: &ShardSim, at: NodeId) -> NodeId {
    NodeId(at.0 % sim.config().cluster.nodes as u64 + 1)
}
