//! Simulated Jepsen-style KV clients and a nemesis, recording a history in the
//! JSON Lines format through real runs' `Recorder`, on virtual time; the nemesis reports the
//! same typed fault events as the real one (`faultline_api::FaultEvent`).
//!
//! ```text
//!  client: invoke ─▶ Policy (faultline_workloads::policy, the real client's) ─▶ Send ─▶ submit
//!            reply / attempt timeout ─▶ Attempt ─▶ Policy ─▶ Send again / Pause / Finish
//!            Finish(ok | fail | unknown) ─▶ complete (unknown: fresh process and client id)
//!  nemesis: every few hundred ms: partition / isolate leader / crash / clock, then heal
//! ```
//!
//! The retry policy is the one real runs use, driven here in virtual time: only the latest
//! attempt's answer counts (the real client abandons a timed-out request), and a `fail`
//! after an attempt that may have applied is unknown.

use std::time::Duration;

use faultline_api::{EventName, FaultEvent, Func};
use faultline_workloads::policy::{self, Attempt, Decision, Policy};
use faultline_workloads::{Outcome, Recorder, Served};
use rand::Rng;
use serde_json::{json, Value};

use super::SimCluster;
use crate::api::{Command, Op, Response, ResponseBody};
use crate::raft::types::{ClientId, NodeId};
use crate::service::RequestToken;

mod nemesis;
use nemesis::{churn, heal, inject, Members};

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
    /// Membership changes (remove a voter, wipe it, add it back as a learner, promote it)
    /// composed with partitions and crashes.
    Membership,
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
    /// [`Faults::Membership`]: never remove a voter below this many.
    pub min_voters: usize,
    /// [`Faults::Membership`]: changes tried back to back in one step (a correct leader
    /// accepts one at a time).
    pub change_burst: usize,
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
            min_voters: 3,
            change_burst: 2,
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
    policy: Policy<NodeId>,
    /// The open attempt: its token, target, and when it times out.
    attempt: Option<(RequestToken, NodeId, u64)>,
    /// The end of a pause the policy asked for.
    wake_at: Option<u64>,
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

/// The simulator's history: real runs' [`Recorder`] on virtual time (each event at the
/// virtual microsecond given, never earlier than the last).
#[derive(Debug)]
pub(crate) struct History(Recorder);

impl Default for History {
    fn default() -> Self {
        History(Recorder::simulated())
    }
}

impl History {
    fn at(&self, time_us: u64) -> &Recorder {
        self.0.set_time(Duration::from_micros(time_us));
        &self.0
    }

    /// Records the invocation of `cmd` by `process`.
    pub(crate) fn invoke(&self, process: u64, cmd: &Command, time_us: u64) {
        self.at(time_us).invoke(process, &history_op(cmd));
    }

    /// Records the completion of `cmd` by `process`.
    pub(crate) fn complete(&self, process: u64, cmd: &Command, outcome: &Outcome, time_us: u64) {
        self.at(time_us).complete(process, &history_op(cmd), outcome, &Served::default());
    }

    /// Records a fault event of the simulated nemesis (installed: the simulator's faults
    /// always take effect).
    pub(crate) fn fault(&self, name: EventName, value: Value, time_us: u64) {
        self.at(time_us).nemesis(&FaultEvent::installed(name, value));
    }

    /// The history, one JSON object a line.
    pub(crate) fn finish(&self) -> String {
        self.0.take_jsonl()
    }
}

/// The history's operation for a command: what real runs' generator would have made.
fn history_op(cmd: &Command) -> faultline_workloads::Op {
    let (f, value) = match &cmd.op {
        Op::Get => (Func::Get, Value::Null),
        Op::Put(v) => (Func::Put, json!(v)),
        Op::Append(v) => (Func::Append, json!(v)),
        Op::Cas { expected, new } => (Func::Cas, json!([expected, new])),
        Op::Delete => (Func::Delete, Value::Null),
    };
    faultline_workloads::Op { f, key: cmd.key.clone(), value }
}

/// Runs KV clients (get / put / append) and the nemesis against `sim`; returns the history.
pub fn run_kv(sim: &mut SimCluster, wl: &WorkloadConfig) -> WorkloadRun {
    let ids = sim.ids();
    let mut rec = History::default();
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
    let mut ids_next = Fresh { process: wl.clients as u64, client: 1000 + wl.clients as u64 };
    let start = sim.now();
    let end = start + wl.duration_us;
    let mut nemesis_at = start + wl.nemesis_interval_us;
    let mut faulty = false;
    let mut members = Members::default();
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
            let mut continue_nemesis = true;
            if faulty {
                heal(sim, &ids, &mut rec);
                faulty = false;
            } else if wl.faults == Faults::Membership && sim.rng().random_bool(0.6) {
                faulty = members.step(sim, &ids, wl.min_voters, wl.change_burst, &mut rec);
                if faulty {
                    // A partition right after a change: hold it long enough for the other
                    // side to elect a leader.
                    nemesis_at = now + 3 * wl.nemesis_interval_us;
                    continue_nemesis = false;
                }
            } else {
                inject(sim, &ids, wl, &mut rec);
                faulty = true;
            }
            if continue_nemesis {
                let jitter = sim.rng().random_range(0..=wl.nemesis_interval_us);
                nemesis_at = now + wl.nemesis_interval_us / 2 + jitter;
            }
        }
        if now >= end && faulty {
            heal(sim, &ids, &mut rec);
            faulty = false;
        }
        // Replies: only the open attempt's answer counts. They are seen at the client's
        // current time (at most one step after the node answered): completions only move
        // later, which keeps the check sound.
        for reply in sim.take_replies() {
            let Some(c) = clients.iter_mut().find(|c| {
                c.op.as_ref().and_then(|op| op.attempt).is_some_and(|(t, ..)| t == reply.token)
            }) else {
                continue;
            };
            let Some(op) = c.op.as_mut() else { continue };
            op.attempt = None;
            c.leader_hint = match &reply.response {
                Response::Ok { .. } => Some(reply.node),
                Response::NotLeader { leader } => leader.filter(|l| *l != reply.node),
                Response::Unknown { .. } => None,
                Response::Fail { .. } => c.leader_hint,
            };
            let attempt = answer(&reply.response.to_body(|_| None), &op.cmd.op);
            let d = op.policy.on_attempt(attempt, elapsed(op, now));
            follow(sim, c, d, now, wl, &mut rec, &mut run, &mut ids_next);
        }
        // Attempt timeouts, pauses over, and new operations.
        for c in clients.iter_mut() {
            if let Some(op) = c.op.as_mut() {
                let d = match (op.attempt, op.wake_at) {
                    (Some((_, _, until)), _) if now >= until => {
                        op.attempt = None;
                        op.policy.on_attempt(Attempt::Uncertain("timeout".into()), elapsed(op, now))
                    }
                    (None, Some(until)) if now >= until => {
                        op.wake_at = None;
                        op.policy.on_pause_over(elapsed(op, now))
                    }
                    _ => continue,
                };
                follow(sim, c, d, now, wl, &mut rec, &mut run, &mut ids_next);
            } else if now < end && now >= c.next_at {
                c.seq += 1;
                let cmd = random_command(sim, c, wl.keys);
                let bound = (c.process as usize) % ids.len();
                let home = match c.leader_hint {
                    Some(hint) if !wl.bind_clients => {
                        ids.iter().position(|n| *n == hint).unwrap_or(bound)
                    }
                    _ if wl.bind_clients => bound,
                    _ => sim.rng().random_range(0..ids.len()),
                };
                rec.invoke(c.process, &cmd, now);
                let mut policy = Policy::new(
                    ids.clone(),
                    home,
                    cmd.op.is_read(),
                    Duration::from_micros(wl.attempt_timeout_us),
                    Duration::from_micros(wl.op_timeout_us),
                );
                let d = policy.start();
                c.op = Some(InFlight { cmd, invoked: now, policy, attempt: None, wake_at: None });
                follow(sim, c, d, now, wl, &mut rec, &mut run, &mut ids_next);
            }
        }
        sim.run_for(step_us);
    }
    heal(sim, &ids, &mut rec);
    run.history = rec.finish();
    run
}

/// The policy's view of a node's answer to `op`: the real clients' mapping
/// ([`faultline_workloads::policy::attempt`]), with node ids for leader hints.
pub(crate) fn answer(body: &ResponseBody, op: &Op) -> Attempt<NodeId> {
    let ok = |read: Option<&str>| match op {
        Op::Get => json!(read.unwrap_or_default()),
        Op::Put(v) | Op::Append(v) => json!(v),
        _ => Value::Null,
    };
    policy::attempt(body.clone(), |l| Some(NodeId(l.id)), ok)
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

/// The next fresh process and client id (a process that got `info` never issues again).
#[derive(Debug)]
struct Fresh {
    process: u64,
    client: u64,
}

fn elapsed(op: &InFlight, now: u64) -> Duration {
    Duration::from_micros(now - op.invoked)
}

/// Carries out the policy's decision for client `c`'s operation.
#[allow(clippy::too_many_arguments)]
fn follow(
    sim: &mut SimCluster,
    c: &mut Client,
    d: Decision<NodeId>,
    now: u64,
    wl: &WorkloadConfig,
    rec: &mut History,
    run: &mut WorkloadRun,
    fresh: &mut Fresh,
) {
    let Some(op) = c.op.as_mut() else { return };
    match d {
        Decision::Send { to, timeout } => {
            let token = sim.submit(to, op.cmd.clone());
            op.attempt = Some((token, to, now + timeout.as_micros() as u64));
        }
        Decision::Pause(p) => op.wake_at = Some(now + p.as_micros() as u64),
        Decision::Finish(outcome) => {
            rec.complete(c.process, &op.cmd, &outcome, now);
            match outcome {
                Outcome::Ok(_) => run.ok += 1,
                Outcome::Fail(_) => run.fail += 1,
                Outcome::Unknown(_) => {
                    run.info += 1;
                    // A process that got `info` never issues again (Jepsen).
                    c.process = fresh.process;
                    fresh.process += 1;
                    c.client = fresh.client;
                    fresh.client += 1;
                    c.seq = 0;
                }
            }
            c.op = None;
            c.next_at = now + wl.think_us;
        }
    }
}
