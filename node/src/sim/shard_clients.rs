//! Simulated clients of the sharded KV, recording a DESIGN.md history (virtual time).
//!
//! ```text
//!  invoke ─▶ no config yet? ─▶ Query(latest) at the controller ─▶ cache it
//!         ─▶ key_shard(key) → gid → a server of gid ─┬─ ok / fail ─────────▶ complete
//!                  ▲                                  ├─ WrongGroup ───────▶ query again
//!                  └── retry, same (client, seq) ─────┼─ NotArrived ───────▶ wait, retry
//!                                                     ├─ not-leader ───────▶ next server
//!                                                     └─ unknown / timeout ▶ next server
//!  op deadline passed ─▶ info; the process is replaced (fresh process and client id)
//! ```

use super::shard_cluster::{ClientReply, ShardSim};
use super::workload::{complete, HistoryLines, WorkloadRun};
use crate::api::{Command, Op, Response};
use crate::raft::types::{ClientId, NodeId};
use crate::shard::{
    CtrlCommand, CtrlOp, CtrlResponse, Gid, GroupCommand, GroupResponse, ShardConfig,
};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;

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
    /// Tickets of the attempts not answered yet.
    tickets: Vec<u64>,
    /// The latest attempt's ticket and when it was sent (`None`: waiting to send).
    sent: Option<(u64, u64)>,
    /// Do not send before this time (NotArrived backoff).
    not_before: u64,
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
    leaders: BTreeMap<Gid, NodeId>,
    ctrl_node: NodeId,
}

/// The clients, their history and per-key successes.
#[derive(Debug)]
pub struct Clients {
    cfg: ClientConfig,
    clients: Vec<Client>,
    rec: HistoryLines,
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
            rec: HistoryLines::default(),
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
    pub fn nemesis(&mut self, f: &str, value: Value, time: u64) {
        self.rec.push(json!({"type": "info", "process": "nemesis", "f": f, "value": value}), time);
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

    /// The history and the counts.
    pub fn finish(mut self, sim: &mut ShardSim) -> WorkloadRun {
        let now = sim.now();
        for c in &mut self.clients {
            if let Some(op) = c.op.take() {
                complete(&mut self.rec, c.process, &op.cmd, "info", Value::Null, now, Some("end"));
                self.run.info += 1;
            }
        }
        self.run.history = self.rec.lines.join("\n") + "\n";
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
                || c.op.as_ref().is_some_and(|op| op.tickets.contains(&ticket))
        }) else {
            return;
        };
        let c = &mut self.clients[i];
        match reply {
            ClientReply::Ctrl(CtrlResponse::Ok(cfg)) => {
                c.query = None;
                if cfg.num > c.config.num {
                    c.config = cfg;
                }
            }
            ClientReply::Ctrl(r) => {
                c.query = None;
                c.ctrl_node = match r {
                    CtrlResponse::NotLeader(Some(l)) if l != c.ctrl_node => l,
                    _ => next(sim, c.ctrl_node),
                };
            }
            ClientReply::Group(r) => {
                let Some(op) = c.op.as_mut() else { return };
                op.tickets.retain(|t| *t != ticket);
                let latest = op.sent.is_some_and(|(t, _)| t == ticket);
                let gid = c.config.key_owner(&op.cmd.key);
                match r {
                    GroupResponse::Kv(Response::Ok { value }) => {
                        let v = match &op.cmd.op {
                            Op::Get => json!(value.unwrap_or_default()),
                            Op::Put(v) | Op::Append(v) => json!(v),
                            _ => Value::Null,
                        };
                        complete(&mut self.rec, c.process, &op.cmd, "ok", v, now, None);
                        self.ok_times.entry(op.cmd.key.clone()).or_default().push(now);
                        self.run.ok += 1;
                        c.op = None;
                        c.next_at = now + self.cfg.think_us;
                    }
                    GroupResponse::Kv(Response::Fail { error, .. }) => {
                        let e = Some(error.as_str());
                        complete(&mut self.rec, c.process, &op.cmd, "fail", Value::Null, now, e);
                        self.run.fail += 1;
                        c.op = None;
                        c.next_at = now + self.cfg.think_us;
                    }
                    _ if !latest => {}
                    GroupResponse::Kv(Response::NotLeader { leader }) => {
                        let at = c.leaders.get(&gid).copied().unwrap_or(NodeId(1));
                        let to = leader.filter(|l| *l != at).unwrap_or_else(|| next(sim, at));
                        c.leaders.insert(gid, to);
                        op.sent = None;
                    }
                    GroupResponse::WrongGroup => {
                        op.sent = None;
                        op.not_before = now + 10_000;
                        c.query.get_or_insert((0, 0));
                    }
                    GroupResponse::NotArrived => {
                        op.sent = None;
                        op.not_before = now + 20_000;
                    }
                    _ => {
                        // Unknown outcome: try another server.
                        let at = c.leaders.get(&gid).copied().unwrap_or(NodeId(1));
                        c.leaders.insert(gid, next(sim, at));
                        op.sent = None;
                    }
                }
            }
        }
    }

    fn advance(&mut self, sim: &mut ShardSim, i: usize, now: u64, invoke: bool, keys: &[String]) {
        let cfg = self.cfg.clone();
        let c = &mut self.clients[i];
        if let Some(op) = c.op.as_ref() {
            if now >= op.invoked + cfg.op_timeout_us {
                let op = c.op.take().expect("checked above");
                complete(
                    &mut self.rec,
                    c.process,
                    &op.cmd,
                    "info",
                    Value::Null,
                    now,
                    Some("timeout"),
                );
                self.run.info += 1;
                // A process that got `info` never issues again (Jepsen).
                *c = Client {
                    config: c.config.clone(),
                    ..fresh(self.next_process, self.next_client)
                };
                self.next_process += 1;
                self.next_client += 1;
                c.next_at = now + cfg.think_us;
                return;
            }
        } else if invoke && now >= c.next_at && !keys.is_empty() {
            c.seq += 1;
            let key = keys[sim.rng().random_range(0..keys.len())].clone();
            let op = match sim.rng().random_range(0..10) {
                0..=3 => Op::Get,
                4..=5 => Op::Put(format!("p{}.{} ", c.client, c.seq)),
                _ => Op::Append(format!("a{}.{} ", c.client, c.seq)),
            };
            let cmd = Command { client: ClientId(c.client), seq: c.seq, key, op };
            let mut inv =
                json!({"type": "invoke", "process": c.process, "f": cmd.op.name(), "key": cmd.key});
            inv["value"] = match &cmd.op {
                Op::Put(v) | Op::Append(v) => json!(v),
                _ => Value::Null,
            };
            self.rec.push(inv, now);
            c.op = Some(InFlight { cmd, invoked: now, tickets: vec![], sent: None, not_before: 0 });
        }
        // The configuration: ask when told (WrongGroup), when there is none, or again after
        // a timeout.
        let stale = c.query.is_some_and(|(t, at)| t == 0 || now >= at + cfg.attempt_timeout_us);
        if c.op.is_some() && (c.config.num == 0 && c.query.is_none() || stale) {
            if c.query.is_some_and(|(t, _)| t != 0) {
                c.ctrl_node = next(sim, c.ctrl_node);
            }
            let q = CtrlCommand { client: ClientId(c.client), seq: 0, op: CtrlOp::Query(None) };
            let ticket = sim.client_ctrl(c.ctrl_node, q);
            c.query = Some((ticket, now));
        }
        let Some(op) = c.op.as_mut() else { return };
        if let Some((_, at)) = op.sent {
            if now < at + cfg.attempt_timeout_us {
                return;
            }
            // The attempt timed out: another server, and maybe a newer config.
            let gid = c.config.key_owner(&op.cmd.key);
            let at = c.leaders.get(&gid).copied().unwrap_or(NodeId(1));
            c.leaders.insert(gid, next(sim, at));
            op.sent = None;
            if c.query.is_none() {
                c.query = Some((0, 0));
            }
            return;
        }
        let gid = c.config.key_owner(&op.cmd.key);
        if c.query.is_some() || gid == Gid::NONE || now < op.not_before {
            return;
        }
        let node = *c.leaders.entry(gid).or_insert(NodeId(1));
        let ticket = sim.client_group(gid, node, GroupCommand::Client(op.cmd.clone()));
        op.tickets.push(ticket);
        op.sent = Some((ticket, now));
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
        leaders: BTreeMap::new(),
        ctrl_node: NodeId(1),
    }
}

fn next(sim: &ShardSim, at: NodeId) -> NodeId {
    NodeId(at.0 % sim.config().cluster.nodes as u64 + 1)
}
