//! The sans-IO service that both drivers (the tokio runtime and the simulator) share: it
//! owns the [`RaftCore`], a [`StateMachine`] (the [`Kv`] store by default; the shard
//! controller and the replica groups in [`crate::shard`]) and the table of pending client
//! requests.
//!
//! ```text
//!  on_request(token, cmd) ─┐  on_message(msg) ─┐  tick() ─┐  on_persisted(i, t) ─┐
//!                          ▼                   ▼          ▼                      ▼
//!            ┌────────────────────────────────────────────────────────────────────┐
//!            │ Service: RaftCore ─ Apply ─▶ M ──▶ answer the request waiting at  │
//!            │          that index iff the entry carries the same (client, seq)  │
//!            │          ReadReady ─▶ serve once applied ≥ read index             │
//!            │          log bigger than the threshold ─▶ snapshot + compact      │
//!            └────────────────────────────────────────────────────────────────────┘
//!                          │ take_outputs(), in order (same rule as raft::Action):
//!                          ▼
//!   PersistHardState | PersistEntries | PersistSnapshot | Send | Respond(token, Response)
//! ```

mod output;
mod pending;

pub use crate::machine::{RestoreError, StateMachine};
pub use output::{Applied, Output, ServiceConfig, Status};

use crate::kv::Kv;
use crate::raft::action::Action;
use crate::raft::config::{ConfigError, RaftConfig};
use crate::raft::core::{ChangeError, DurableState, RaftCore};
use crate::raft::membership::MemberChange;
use crate::raft::message::Message;
use crate::raft::types::{Entry, EntryPayload, LogIndex, NodeId, ReadMode, Role, Term, UnsafeBug};
use pending::Pending;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Identifies one client request; chosen by the driver, unique among pending requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestToken(pub u64);

/// The service: Raft core + state machine + pending requests. Never does I/O.
#[derive(Debug)]
pub struct Service<M: StateMachine = Kv> {
    core: RaftCore,
    kv: M,
    cfg: ServiceConfig,
    /// Index of the last entry applied to `kv`.
    applied: LogIndex,
    pending: Pending<M::Command>,
    outputs: Vec<Output<M::Response>>,
    /// What was applied, when tracing is on (simulator invariants).
    trace: Option<Vec<Applied>>,
}

impl<M: StateMachine> Service<M> {
    /// A service starting from `durable` (the state machine is restored from its snapshot;
    /// committed entries after it are applied again once the commit index is learned).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the Raft configuration cannot work.
    ///
    /// # Panics
    ///
    /// If the durable snapshot cannot be decoded (corrupt storage that passed its checksum).
    pub fn new(
        raft: RaftConfig,
        cfg: ServiceConfig,
        durable: DurableState,
        rng: ChaCha8Rng,
    ) -> Result<Service<M>, ConfigError> {
        Service::with_options(raft, cfg, &M::Options::default(), durable, rng)
    }

    /// As [`Service::new`], with the state machine's options.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the Raft configuration cannot work.
    ///
    /// # Panics
    ///
    /// If the durable snapshot cannot be decoded (corrupt storage that passed its checksum).
    pub fn with_options(
        raft: RaftConfig,
        cfg: ServiceConfig,
        opts: &M::Options,
        durable: DurableState,
        rng: ChaCha8Rng,
    ) -> Result<Service<M>, ConfigError> {
        let mut kv = M::new(opts, raft.bug);
        let mut applied = LogIndex(0);
        if let Some(snap) = &durable.snapshot {
            kv.restore(&snap.data).expect("durable snapshot does not decode");
            applied = snap.meta.last_index;
        }
        let core = RaftCore::new(raft, durable, rng)?;
        Ok(Service {
            core,
            kv,
            cfg,
            applied,
            pending: Pending::default(),
            outputs: Vec::new(),
            trace: None,
        })
    }

    /// Records every applied entry and snapshot for [`Service::take_applied`] (tests and
    /// the simulator's safety checks).
    pub fn trace_applies(&mut self, on: bool) {
        self.trace = on.then(Vec::new);
    }

    /// Drains the applied entries recorded since the last call.
    pub fn take_applied(&mut self) -> Vec<Applied> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// A client request. The answer comes later as [`Output::Respond`] with `token`.
    pub fn on_request(&mut self, token: RequestToken, cmd: M::Command) {
        let deadline = self.core.ticks() + self.cfg.request_timeout_ticks;
        let bug = self.core.config().bug;
        let is_read = M::is_read(&cmd);
        if is_read && bug == Some(UnsafeBug::StaleReads) {
            // The bug: any node answers from whatever it has applied.
            let response = self.kv.read(&cmd);
            self.respond(token, response);
            return;
        }
        if self.core.role() != Role::Leader {
            self.respond(token, M::not_leader(self.core.leader()));
            return;
        }
        if is_read && self.cfg.read_mode != ReadMode::Log {
            if self.cfg.read_mode == ReadMode::Lease && self.core.has_lease() {
                // The lease proves no other leader exists; the commit index is current.
                self.pending.add_read(token, cmd, self.core.commit_index(), deadline);
                self.serve_reads();
                return;
            }
            match self.core.read_index(token.0) {
                Ok(()) => self.pending.add_read_index(token, cmd, deadline),
                Err(_) => self.respond(token, M::not_leader(self.core.leader())),
            }
            return;
        }
        // Commands are plain data: encoding them into a Vec cannot fail.
        let bytes = postcard::to_stdvec(&cmd).expect("encoding a command cannot fail");
        match self.core.propose(bytes) {
            Ok(index) => {
                let id = M::request_id(&cmd);
                if let Some(old) = self.pending.add_write(index, token, id, deadline) {
                    self.respond(old, M::unknown("leadership-lost"));
                }
            }
            Err(_) => self.respond(token, M::not_leader(self.core.leader())),
        }
    }

    /// Proposes a membership change (leader only); see [`RaftCore::propose_change`]. The
    /// driver drains the outputs as after any request.
    ///
    /// # Errors
    ///
    /// [`ChangeError`] when the change was refused (nothing was appended).
    pub fn propose_change(&mut self, change: MemberChange) -> Result<LogIndex, ChangeError> {
        self.core.propose_change(change)
    }

    /// A peer message.
    pub fn on_message(&mut self, msg: Message) {
        self.core.step(msg);
    }

    /// One logical tick (the driver's clock decides its length).
    pub fn tick(&mut self) {
        self.core.tick();
        for token in self.pending.expire(self.core.ticks()) {
            self.respond(token, M::unknown("timeout"));
        }
    }

    /// The entries up to (`index`, `term`) are durable.
    pub fn on_persisted(&mut self, index: LogIndex, term: Term) {
        self.core.on_persisted(index, term);
    }

    /// Answers every pending request with `unknown` / `shutting-down`.
    pub fn shutdown(&mut self) {
        for token in self.pending.drain() {
            self.respond(token, M::unknown("shutting-down"));
        }
    }

    /// Drains what the driver must do, in order.
    pub fn take_outputs(&mut self) -> Vec<Output<M::Response>> {
        loop {
            let actions = self.core.take_actions();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                self.run(action);
            }
            self.serve_reads();
            self.maybe_compact();
        }
        std::mem::take(&mut self.outputs)
    }

    fn run(&mut self, action: Action) {
        match action {
            Action::PersistHardState(hs) => self.outputs.push(Output::PersistHardState(hs)),
            Action::PersistEntries { truncate_from, entries } => {
                self.outputs.push(Output::PersistEntries { truncate_from, entries })
            }
            Action::PersistSnapshot { snapshot, retain_suffix } => {
                self.outputs.push(Output::PersistSnapshot { snapshot, retain_suffix })
            }
            Action::Send(msg) => self.outputs.push(Output::Send(msg)),
            Action::Apply(entries) => {
                for entry in entries {
                    self.apply(entry);
                }
            }
            Action::ApplySnapshot(snapshot) => {
                if let Err(err) = self.kv.restore(&snapshot.data) {
                    // The leader's snapshot passed through a checksummed transport.
                    panic!("snapshot from the leader does not decode: {err}");
                }
                self.applied = snapshot.meta.last_index;
                if let Some(trace) = self.trace.as_mut() {
                    let (index, term) = (snapshot.meta.last_index, snapshot.meta.last_term);
                    trace.push(Applied::Snapshot { index, term });
                }
                for token in self.pending.writes_up_to(self.applied) {
                    self.respond(token, M::unknown("leadership-lost"));
                }
            }
            Action::ReadReady { id, index } => self.pending.read_ready(RequestToken(id), index),
            Action::ReadFailed { id } => {
                if self.pending.remove_read(RequestToken(id)) {
                    let leader = self.core.leader();
                    self.respond(RequestToken(id), M::not_leader(leader));
                }
            }
        }
    }

    fn apply(&mut self, entry: Entry) {
        self.applied = entry.index;
        if let Some(trace) = self.trace.as_mut() {
            trace.push(Applied::Entry(entry.clone()));
        }
        let cmd = match &entry.payload {
            EntryPayload::Noop | EntryPayload::Config(_) => None,
            EntryPayload::Command(bytes) => match postcard::from_bytes::<M::Command>(bytes) {
                Ok(cmd) => Some(cmd),
                Err(err) => {
                    tracing::error!(index = %entry.index, %err, "undecodable command skipped");
                    None
                }
            },
        };
        let response = cmd.as_ref().map(|c| (c, self.kv.apply(c)));
        if let Some(waiting) = self.pending.take_write(entry.index) {
            match response {
                Some((cmd, response)) if waiting.matches(M::request_id(cmd)) => {
                    self.respond(waiting.token, response)
                }
                // Another request (or a no-op) took the slot: a new leader overwrote ours.
                _ => self.respond(waiting.token, M::unknown("leadership-lost")),
            }
        }
    }

    /// Serves the reads whose index is applied.
    fn serve_reads(&mut self) {
        for (token, cmd) in self.pending.reads_ready(self.applied) {
            let response = self.kv.read(&cmd);
            self.respond(token, response);
        }
    }

    /// Takes a snapshot and compacts the log once it exceeds the threshold.
    fn maybe_compact(&mut self) {
        let snap = self.core.snapshot_index();
        if self.core.log_bytes() < self.cfg.snapshot_threshold_bytes || self.applied <= snap {
            return;
        }
        // Compact only when the applied part of the log is worth it (about half the
        // threshold): a leader holding many uncommitted entries must not snapshot the
        // whole state machine after every single apply.
        let held = self.core.last_index().0.saturating_sub(snap.0).max(1);
        let applied_part = self.applied.0 - snap.0;
        let applied_bytes = self.core.log_bytes() as u128 * applied_part as u128 / held as u128;
        if applied_bytes < (self.cfg.snapshot_threshold_bytes / 2) as u128 {
            return;
        }
        let data = self.kv.snapshot();
        if let Err(err) = self.core.compact(self.applied, data) {
            tracing::warn!(%err, "compaction skipped");
        }
    }

    fn respond(&mut self, token: RequestToken, response: M::Response) {
        self.outputs.push(Output::Respond { token, response });
    }

    /// The Raft core (read-only).
    pub fn core(&self) -> &RaftCore {
        &self.core
    }

    /// The state machine (read-only).
    pub fn kv(&self) -> &M {
        &self.kv
    }

    /// Index of the last entry applied to the state machine.
    pub fn applied_index(&self) -> LogIndex {
        self.applied
    }

    /// Number of client requests waiting for an answer.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// The leader this node knows of.
    pub fn leader(&self) -> Option<NodeId> {
        self.core.leader()
    }

    /// Role, term, indexes and sizes for `GET /v1/status`.
    pub fn status(&self) -> Status {
        let c = &self.core;
        Status {
            id: c.id().0,
            role: c.role(),
            term: c.term().0,
            leader: c.leader().map(|l| l.0),
            commit_index: c.commit_index().0,
            applied_index: self.applied.0,
            last_log_index: c.last_index().0,
            log_entries: c.log_entries() as u64,
            snapshot_index: c.snapshot_index().0,
            snapshot_bytes: c.snapshot_bytes() as u64,
        }
    }

    /// True when `cmd` would be served without going through the log.
    pub fn is_local_read(&self, cmd: &M::Command) -> bool {
        M::is_read(cmd) && self.cfg.read_mode != ReadMode::Log
    }
}
