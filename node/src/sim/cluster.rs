//! [`SimCluster`]: runs the nodes' services against the simulated network, disks and clocks.

use super::disk::SimDisk;
use super::event::{Event, EventQueue};
use super::net::SimNet;
use super::SimConfig;
use crate::api::Response;
use crate::kv::Kv;
use crate::raft::message::Message;
use crate::raft::types::{EntryPayload, LogIndex, NodeId, Role, Term, UnsafeBug};
use crate::runtime::gate::SendGate;
use crate::service::{Output, RequestToken, Service, StateMachine};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, VecDeque};

mod faults;
mod invariants;

/// A client reply, as it leaves the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply<R = Response> {
    /// The request.
    pub token: RequestToken,
    /// The node that answered.
    pub node: NodeId,
    /// The answer.
    pub response: R,
    /// Virtual time of the answer (µs).
    pub time: u64,
}

/// Counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Peer messages sent.
    pub messages: u64,
    /// Approximate bytes of peer messages sent.
    pub bytes: u64,
    /// Messages lost by the network (loss or cut links).
    pub dropped: u64,
    /// Events processed.
    pub events: u64,
    /// Snapshots installed by followers from a leader.
    pub snapshots_installed: u64,
}

/// One simulated node.
#[derive(Debug)]
struct SimNode<M: StateMachine> {
    service: Option<Service<M>>,
    disk: SimDisk<M::Response>,
    /// Incarnation: events of an earlier incarnation are ignored.
    epoch: u64,
    paused: bool,
    stashed: Vec<Event<M::Command>>,
    /// When a message may leave: the real runtime's rule (`runtime::gate`), so that the
    /// relaxation it allows a leader (thesis §10.2.1) is simulated too.
    gate: SendGate,
    /// Gate jobs not yet durable: (job number, the last disk write of its output list).
    jobs: VecDeque<(u64, u64)>,
    /// Clock rate (1.0 = real time) and pending offset jumps (µs).
    rate: f64,
    /// Entries applied, by index (payload), for agreement checks.
    applied: BTreeMap<LogIndex, EntryPayload>,
    /// The last index applied in this incarnation.
    applied_last: LogIndex,
    /// Wiped and restarted as a joining node (empty bootstrap configuration).
    joined: bool,
}

/// A simulated cluster of nodes running state machine `M`: one thread, virtual time, one
/// seeded rng.
#[derive(Debug)]
pub struct SimCluster<M: StateMachine = Kv> {
    cfg: SimConfig,
    now: u64,
    queue: EventQueue<M::Command>,
    rng: ChaCha8Rng,
    nodes: BTreeMap<NodeId, SimNode<M>>,
    /// The network (public so tests can cut links).
    pub net: SimNet,
    replies: Vec<Reply<M::Response>>,
    next_token: u64,
    stats: SimStats,
    /// Every applied entry by index: (term, payload) of the first node that applied it.
    committed: BTreeMap<LogIndex, (Term, EntryPayload)>,
    /// The first node seen leading each term (Election Safety: never two in one term).
    leaders_by_term: BTreeMap<Term, NodeId>,
    violations: Vec<String>,
    /// The state machine's options (every node gets the same).
    opts: M::Options,
}

impl SimCluster {
    /// Starts every node of a KV cluster (no leader yet).
    ///
    /// # Panics
    ///
    /// If the configuration cannot make a Raft node (a test bug).
    pub fn new(cfg: SimConfig) -> SimCluster {
        SimCluster::create(cfg, ())
    }
}

impl<M: StateMachine> SimCluster<M> {
    /// Starts every node of a cluster running `M` (no leader yet).
    ///
    /// # Panics
    ///
    /// If the configuration cannot make a Raft node (a test bug).
    pub fn create(cfg: SimConfig, opts: M::Options) -> SimCluster<M> {
        let mut sim = SimCluster {
            now: 0,
            queue: EventQueue::default(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            nodes: BTreeMap::new(),
            net: SimNet::new(cfg.net.clone()),
            replies: Vec::new(),
            next_token: 0,
            stats: SimStats::default(),
            committed: BTreeMap::new(),
            leaders_by_term: BTreeMap::new(),
            violations: Vec::new(),
            opts,
            cfg,
        };
        for id in sim.cfg.ids() {
            let node = SimNode {
                service: None,
                disk: SimDisk::default(),
                epoch: 0,
                paused: false,
                stashed: Vec::new(),
                gate: SendGate::default(),
                jobs: VecDeque::new(),
                rate: 1.0,
                applied: BTreeMap::new(),
                applied_last: LogIndex(0),
                joined: false,
            };
            sim.nodes.insert(id, node);
            sim.boot(id);
        }
        sim
    }

    /// (Re)creates node `id`'s service from its durable state and schedules its ticks.
    fn boot(&mut self, id: NodeId) {
        let seed = self.cfg.seed;
        let mut raft = self.cfg.raft_config(id);
        if self.nodes.get(&id).is_some_and(|n| n.joined) {
            raft.voters.clear();
        }
        let svc = self.cfg.service_config();
        let tick_us = self.cfg.tick_us;
        let first_tick = self.now + self.rng.random_range(1..=tick_us);
        let Some(node) = self.nodes.get_mut(&id) else { return };
        node.epoch += 1;
        let rng = ChaCha8Rng::seed_from_u64(seed ^ (id.0 << 32) ^ node.epoch.wrapping_mul(0x9e37));
        let durable = crate::storage::Storage::recover(&node.disk.durable)
            .unwrap_or_else(|never| match never {});
        let mut service =
            Service::with_options(raft, svc, &self.opts, durable, rng).expect("valid sim config");
        service.trace_applies(true);
        node.applied_last = service.applied_index();
        node.service = Some(service);
        let epoch = node.epoch;
        self.queue.push(first_tick, Event::Tick { node: id, epoch });
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Virtual time (µs).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Counters.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// The cluster's rng, for workloads and nemeses (keeps one stream per seed).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Node ids.
    pub fn ids(&self) -> Vec<NodeId> {
        self.cfg.ids()
    }

    /// Safety violations seen so far (entries applied differently at the same index,
    /// out-of-order applies).
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// Processes every event up to `now + us`.
    pub fn run_for(&mut self, us: u64) {
        let until = self.now + us;
        self.run_until(until);
    }

    /// Processes every event up to virtual time `until`.
    pub fn run_until(&mut self, until: u64) {
        while self.queue.peek_time().is_some_and(|t| t <= until) {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Processes the next event; false when none is queued.
    pub fn step(&mut self) -> bool {
        let Some((time, event)) = self.queue.pop() else { return false };
        self.now = self.now.max(time);
        self.stats.events += 1;
        let id = event.node();
        let Some(node) = self.nodes.get_mut(&id) else { return true };
        if node.paused {
            node.stashed.push(event);
            return true;
        }
        match event {
            Event::Tick { epoch, .. } => {
                if epoch != node.epoch || node.service.is_none() {
                    return true;
                }
                if let Some(s) = node.service.as_mut() {
                    s.tick();
                }
                let interval = (self.cfg.tick_us as f64 / node.rate).max(1.0) as u64;
                self.queue.push(self.now + interval, Event::Tick { node: id, epoch });
            }
            Event::Deliver(msg) => {
                if !self.net.is_connected(msg.from, msg.to) {
                    self.stats.dropped += 1;
                    return true;
                }
                match node.service.as_mut() {
                    Some(s) => s.on_message(msg),
                    None => return true,
                }
            }
            Event::DiskDone { epoch, seq, .. } => {
                if epoch != node.epoch {
                    return true;
                }
                let done = node.disk.complete(seq);
                if let Some(s) = node.service.as_mut() {
                    for out in done {
                        if let Output::PersistEntries { entries, .. } = out {
                            if let Some(last) = entries.last() {
                                s.on_persisted(last.index, last.term);
                            }
                        }
                    }
                }
                let mut released = Vec::new();
                while let Some(&(job, last)) = node.jobs.front() {
                    if !node.disk.is_synced(last) {
                        break;
                    }
                    node.jobs.pop_front();
                    released.extend(node.gate.synced(job));
                }
                for msg in released {
                    self.send_now(msg);
                }
            }
            Event::Request { token, cmd, .. } => match node.service.as_mut() {
                Some(s) => s.on_request(token, cmd),
                None => return true,
            },
        }
        self.drain(id);
        true
    }

    /// Runs a node's outputs against the simulated effects.
    fn drain(&mut self, id: NodeId) {
        let ack_before_fsync = self.cfg.bug == Some(UnsafeBug::AckBeforeFsync);
        let Some(node) = self.nodes.get_mut(&id) else { return };
        let Some(service) = node.service.as_mut() else { return };
        let outputs = service.take_outputs();
        let applied = service.take_applied();
        let mut sends = Vec::new();
        // The last disk write of this output list: one gate job, as the runtime's WAL job.
        let mut last_write = None;
        for out in outputs {
            match out {
                Output::Send(msg) => {
                    if ack_before_fsync {
                        sends.push(msg);
                    } else if let Some(msg) = node.gate.route(msg, last_write.is_some()) {
                        sends.push(msg);
                    }
                }
                Output::Respond { token, response } => {
                    self.replies.push(Reply { token, node: id, response, time: self.now });
                }
                persist => {
                    let entries_done = match &persist {
                        Output::PersistEntries { entries, .. } => {
                            entries.last().map(|e| (e.index, e.term))
                        }
                        _ => None,
                    };
                    let (seq, at) = node.disk.submit(persist, self.now, self.cfg.fsync_us);
                    last_write = Some(seq);
                    let epoch = node.epoch;
                    self.queue.push(at, Event::DiskDone { node: id, epoch, seq });
                    if ack_before_fsync {
                        // The bug: acknowledge before the write is durable.
                        if let (Some((i, t)), Some(s)) = (entries_done, node.service.as_mut()) {
                            s.on_persisted(i, t);
                        }
                    }
                }
            }
        }
        if let Some(last) = last_write {
            let job = node.gate.next_job();
            node.gate.submitted();
            node.jobs.push_back((job, last));
        }
        self.record_applied(id, applied);
        self.check_leader(id);
        for msg in sends {
            self.send_now(msg);
        }
        // on_persisted under ack-before-fsync may have produced more outputs.
        if ack_before_fsync && self.nodes.get(&id).is_some_and(|n| n.service.is_some()) {
            let more =
                self.nodes.get_mut(&id).and_then(|n| n.service.as_mut()).map(|s| s.take_outputs());
            if let Some(more) = more.filter(|m| !m.is_empty()) {
                // Feed them through the same path (rare: commits after self-ack).
                self.replay_outputs(id, more);
            }
        }
    }

    fn replay_outputs(&mut self, id: NodeId, outputs: Vec<Output<M::Response>>) {
        for out in outputs {
            match out {
                Output::Send(msg) => self.send_now(msg),
                Output::Respond { token, response } => {
                    self.replies.push(Reply { token, node: id, response, time: self.now })
                }
                persist => {
                    let Some(node) = self.nodes.get_mut(&id) else { return };
                    let (seq, at) = node.disk.submit(persist, self.now, self.cfg.fsync_us);
                    let epoch = node.epoch;
                    self.queue.push(at, Event::DiskDone { node: id, epoch, seq });
                }
            }
        }
        let applied = self
            .nodes
            .get_mut(&id)
            .and_then(|n| n.service.as_mut())
            .map(|s| s.take_applied())
            .unwrap_or_default();
        self.record_applied(id, applied);
    }

    /// Puts a message on the network (loss and delay drawn now).
    fn send_now(&mut self, msg: Message) {
        self.stats.messages += 1;
        self.stats.bytes += msg.size_bytes() as u64;
        match self.net.draw_delay(&mut self.rng) {
            Some(delay) => self.queue.push(self.now + delay, Event::Deliver(msg)),
            None => self.stats.dropped += 1,
        }
    }

    /// Sends a client request to `node`; the answer shows up in
    /// [`take_replies`](Self::take_replies) (never, if the node crashes first).
    pub fn submit(&mut self, node: NodeId, cmd: M::Command) -> RequestToken {
        self.next_token += 1;
        let token = RequestToken(self.next_token);
        let at = self.now + self.cfg.client_delay_us;
        self.queue.push(at, Event::Request { node, token, cmd });
        token
    }

    /// Proposes `cmd` directly at `node` if it believes it leads (6.824's `Start`); returns
    /// the index and term it was given. Its reply goes to [`take_replies`](Self::take_replies).
    pub fn start(&mut self, node: NodeId, cmd: M::Command) -> Option<(LogIndex, Term)> {
        self.next_token += 1;
        let token = RequestToken(self.next_token);
        let n = self.nodes.get_mut(&node)?;
        if n.paused {
            return None;
        }
        let s = n.service.as_mut()?;
        if s.core().role() != Role::Leader {
            return None;
        }
        s.on_request(token, cmd);
        let at = (s.core().last_index(), s.core().term());
        self.drain(node);
        Some(at)
    }

    /// Drains the client replies so far (the client delay is added to their time).
    pub fn take_replies(&mut self) -> Vec<Reply<M::Response>> {
        let delay = self.cfg.client_delay_us;
        let mut replies = std::mem::take(&mut self.replies);
        for r in &mut replies {
            r.time += delay;
        }
        replies
    }

    /// The node's service, when it is up.
    pub fn service(&self, id: NodeId) -> Option<&Service<M>> {
        self.nodes.get(&id).and_then(|n| n.service.as_ref())
    }

    /// The node's durable storage.
    pub fn durable(&self, id: NodeId) -> Option<&crate::storage::MemStorage> {
        self.nodes.get(&id).map(|n| &n.disk.durable)
    }

    /// Nodes that are up and believe they lead, with their terms.
    pub fn leaders(&self) -> Vec<(NodeId, Term)> {
        self.nodes
            .iter()
            .filter_map(|(id, n)| n.service.as_ref().map(|s| (*id, s.core())))
            .filter(|(_, c)| c.role() == Role::Leader)
            .map(|(id, c)| (id, c.term()))
            .collect()
    }

    /// The leader of the highest term among running nodes, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.leaders().into_iter().max_by_key(|(_, t)| *t).map(|(id, _)| id)
    }
}
