//! Simulated Jepsen-style KV clients and a nemesis, recording a history in the DESIGN.md
//! JSON Lines format (virtual time).
//!
//! ```text
//!  client: invoke ─▶ submit(node) ─ reply ─▶ ok / fail ─▶ complete
//!                        │   not-leader / unknown / attempt timeout
//!                        └──▶ retry elsewhere with the same (client, seq) until the op's
//!                             deadline, then `info` (fresh process and client id)
//!  nemesis: every few hundred ms: partition / isolate leader / crash / clock, then heal
//! ```

use super::SimCluster;
use crate::api::{Command, Op, Response};
use crate::raft::types::{ClientId, NodeId};
use crate::service::RequestToken;
use rand::Rng;
use serde_json::{json, Value};

mod nemesis;
use nemesis::{churn, heal, inject};

/// Which faults the nemesis injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    /// None.
    None,
    /// Random partitions and leader isolation.
    Partitions,
    /// Crashes and restarts.
    Crashes,
    /// Both.
    PartitionsAndCrashes,
    /// Figure 8 churn: crash or isolate the leader soon after it is elected, restart
    /// nodes at random (6.824's Figure 8 test, with clients).
    LeaderChurn,
    /// Slow the leader's clock down (rate `skew_rate`), then isolate it: leases held on a
    /// slow clock outlive the followers' election timeouts.
    ClockSkew,
}

/// The workload's shape. Times are virtual microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// Keys (`k0`..).
    pub keys: usize,
    /// How long clients invoke new operations.
    pub duration_us: u64,
    /// Time to let outstanding operations finish after the faults are healed.
    pub settle_us: u64,
    /// One attempt's timeout before retrying on another node.
    pub attempt_timeout_us: u64,
    /// The whole operation's deadline (then `info`).
    pub op_timeout_us: u64,
    /// Pause between a client's operations.
    pub think_us: u64,
    /// Faults injected.
    pub faults: Faults,
    /// Mean time between nemesis actions.
    pub nemesis_interval_us: u64,
    /// Clock rate given to the leader by [`Faults::ClockSkew`].
    pub skew_rate: f64,
    /// Send each operation first to the client's own node (Jepsen binds each client to a
    /// node); otherwise to the last node that answered.
    pub bind_clients: bool,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: 5,
            keys: 3,
            duration_us: 5_000_000,
            settle_us: 3_000_000,
            attempt_timeout_us: 400_000,
            op_timeout_us: 2_000_000,
            think_us: 5_000,
            faults: Faults::None,
            nemesis_interval_us: 400_000,
            skew_rate: 0.6,
            bind_clients: true,
        }
    }
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct WorkloadRun {
    /// The history, one JSON object a line.
    pub history: String,
    /// Completed operations by outcome.
    pub ok: usize,
    /// Failed operations.
    pub fail: usize,
    /// Operations of unknown outcome.
    pub info: usize,
}

/// An operation in flight.
#[derive(Debug)]
struct InFlight {
    cmd: Command,
    invoked: u64,
    /// Tokens of every attempt, the latest last.
    attempts: Vec<RequestToken>,
    attempt_sent: u64,
    target: NodeId,
    /// Some attempt may have been applied (unknown answer or timeout).
    maybe_applied: bool,
    /// The latest attempt has not been answered yet.
    latest_open: bool,
}

#[derive(Debug)]
struct Client {
    process: u64,
    client: u64,
    seq: u64,
    op: Option<InFlight>,
    next_at: u64,
    leader_hint: Option<NodeId>,
}

/// Records events in DESIGN.md's history format.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) lines: Vec<String>,
    last: u64,
}

impl Recorder {
    /// Appends `event` at virtual time `time_us` (never earlier than the last event).
    pub(crate) fn push(&mut self, mut event: Value, time_us: u64) {
        self.last = self.last.max(time_us);
        event["index"] = json!(self.lines.len());
        event["time"] = json!(self.last * 1000);
        self.lines.push(event.to_string());
    }
}

/// Runs KV clients (get / put / append) and the nemesis against `sim`; returns the history.
pub fn run_kv(sim: &mut SimCluster, wl: &WorkloadConfig) -> WorkloadRun {
    let ids = sim.ids();
    let mut rec = Recorder::default();
    let mut run = WorkloadRun::default();
    let mut clients: Vec<Client> = (0..wl.clients as u64)
        .map(|p| Client {
            process: p,
            client: 1000 + p,
            seq: 0,
            op: None,
            next_at: 0,
            leader_hint: None,
        })
        .collect();
    let mut next_process = wl.clients as u64;
    let mut next_client = 1000 + wl.clients as u64;
    let start = sim.now();
    let end = start + wl.duration_us;
    let mut nemesis_at = start + wl.nemesis_interval_us;
    let mut faulty = false;
    let step_us = 1_000;
    loop {
        let now = sim.now();
        if now >= end + wl.settle_us && clients.iter().all(|c| c.op.is_none()) {
            break;
        }
        if now >= end + wl.settle_us + wl.op_timeout_us {
            break;
        }
        // Nemesis.
        if wl.faults == Faults::LeaderChurn && now >= nemesis_at && now < end {
            churn(sim, &ids, &mut rec);
            nemesis_at = now + sim.rng().random_range(1_000..=wl.nemesis_interval_us);
        } else if wl.faults != Faults::None && now >= nemesis_at && now < end {
            if faulty {
                heal(sim, &ids, &mut rec);
            } else {
                inject(sim, &ids, wl, &mut rec);
            }
            faulty = !faulty;
            let jitter = sim.rng().random_range(0..=wl.nemesis_interval_us);
            nemesis_at = now + wl.nemesis_interval_us / 2 + jitter;
        }
        if now >= end && faulty {
            heal(sim, &ids, &mut rec);
            faulty = false;
        }
        // Replies.
        // Replies are seen at the client's current time (at most one step after the node
        // answered): completions only move later, which keeps the check sound.
        for mut reply in sim.take_replies() {
            reply.time = now;
            let Some(c) = clients
                .iter_mut()
                .find(|c| c.op.as_ref().is_some_and(|op| op.attempts.contains(&reply.token)))
            else {
                continue;
            };
            let Some(op) = c.op.as_mut() else { continue };
            let latest = op.attempts.last() == Some(&reply.token);
            match reply.response {
                Response::Ok { value } => {
                    let v = match (&op.cmd.op, value) {
                        (Op::Get, v) => json!(v.unwrap_or_default()),
                        (Op::Put(v) | Op::Append(v), _) => json!(v),
                        _ => Value::Null,
                    };
                    complete(&mut rec, c.process, &op.cmd, "ok", v, reply.time, None);
                    run.ok += 1;
                    c.leader_hint = Some(reply.node);
                    c.op = None;
                    c.next_at = reply.time + wl.think_us;
                }
                Response::Fail { error, .. } => {
                    complete(
                        &mut rec,
                        c.process,
                        &op.cmd,
                        "fail",
                        Value::Null,
                        reply.time,
                        Some(&error),
                    );
                    run.fail += 1;
                    c.op = None;
                    c.next_at = reply.time + wl.think_us;
                }
                Response::NotLeader { leader } if latest => {
                    op.latest_open = false;
                    c.leader_hint = leader.filter(|l| *l != reply.node);
                    let target = c.leader_hint.unwrap_or_else(|| next_node(&ids, op.target));
                    retry(sim, op, target);
                }
                Response::Unknown { .. } if latest => {
                    op.maybe_applied = true;
                    c.leader_hint = None;
                    retry(sim, op, next_node(&ids, op.target));
                }
                _ => {}
            }
        }
        // Timeouts and new operations.
        for c in clients.iter_mut() {
            if let Some(op) = c.op.as_mut() {
                if now >= op.invoked + wl.op_timeout_us {
                    let unsure = op.maybe_applied || op.latest_open || op.cmd.op.is_read();
                    let kind = if unsure { "info" } else { "fail" };
                    let err = if kind == "info" { "timeout" } else { "not-leader" };
                    complete(&mut rec, c.process, &op.cmd, kind, Value::Null, now, Some(err));
                    if kind == "info" {
                        run.info += 1;
                        // A process that got `info` never issues again (Jepsen).
                        c.process = next_process;
                        next_process += 1;
                        c.client = next_client;
                        next_client += 1;
                        c.seq = 0;
                    } else {
                        run.fail += 1;
                    }
                    c.op = None;
                    c.next_at = now + wl.think_us;
                } else if now >= op.attempt_sent + wl.attempt_timeout_us {
                    op.maybe_applied = true;
                    retry(sim, op, next_node(&ids, op.target));
                }
            } else if now < end && now >= c.next_at {
                c.seq += 1;
                let cmd = random_command(sim, c, wl.keys);
                let home = ids[(c.process as usize) % ids.len()];
                let target = match c.leader_hint {
                    Some(hint) if !wl.bind_clients => hint,
                    _ if wl.bind_clients => home,
                    _ => ids[sim.rng().random_range(0..ids.len())],
                };
                let mut invoke = json!({"type": "invoke", "process": c.process, "f": cmd.op.name(), "key": cmd.key});
                invoke["value"] = match &cmd.op {
                    Op::Put(v) | Op::Append(v) => json!(v),
                    _ => Value::Null,
                };
                rec.push(invoke, now);
                let token = sim.submit(target, cmd.clone());
                c.op = Some(InFlight {
                    cmd,
                    invoked: now,
                    attempts: vec![token],
                    attempt_sent: now,
                    target,
                    maybe_applied: false,
                    latest_open: true,
                });
            }
        }
        sim.run_for(step_us);
    }
    heal(sim, &ids, &mut rec);
    run.history = rec.lines.join("\n") + "\n";
    run
}

fn random_command(sim: &mut SimCluster, c: &Client, keys: usize) -> Command {
    let key = format!("k{}", sim.rng().random_range(0..keys));
    let roll = sim.rng().random_range(0..10);
    let op = match roll {
        0..=3 => Op::Get,
        4..=5 => Op::Put(format!("p{}.{} ", c.client, c.seq)),
        _ => Op::Append(format!("a{}.{} ", c.client, c.seq)),
    };
    Command { client: ClientId(c.client), seq: c.seq, key, op }
}

fn retry(sim: &mut SimCluster, op: &mut InFlight, target: NodeId) {
    op.target = target;
    op.attempt_sent = sim.now();
    let token = sim.submit(target, op.cmd.clone());
    op.attempts.push(token);
    op.latest_open = true;
}

fn next_node(ids: &[NodeId], current: NodeId) -> NodeId {
    let i = ids.iter().position(|n| *n == current).unwrap_or(0);
    ids[(i + 1) % ids.len()]
}

pub(crate) fn complete(
    rec: &mut Recorder,
    process: u64,
    cmd: &Command,
    kind: &str,
    value: Value,
    time: u64,
    error: Option<&str>,
) {
    let mut e = json!({"type": kind, "process": process, "f": cmd.op.name(), "key": cmd.key, "value": value});
    if let Some(err) = error {
        e["error"] = json!(err);
    }
    rec.push(e, time);
}
