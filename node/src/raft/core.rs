//! [`RaftCore`]: the sans-IO Raft state machine. Its behaviour is split by concern into
//! `election.rs`, `replication.rs`, `read_index.rs` and `snapshot.rs`; this file holds the
//! state, the public API and message dispatch.

use crate::raft::action::{Action, ReadId};
use crate::raft::config::{ConfigError, RaftConfig};
pub use crate::raft::error::{ChangeError, CompactError, ProposeError, ReadIndexError};
use crate::raft::log::RaftLog;
use crate::raft::membership::Configs;
use crate::raft::message::{Body, Message};
use crate::raft::progress::Progress;
use crate::raft::read_index::ReadState;
use crate::raft::types::{
    Entry, EntryPayload, HardState, LogIndex, Membership, NodeId, Role, Snapshot, SnapshotMeta,
    Term, UnsafeBug,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// What a node recovered from its storage at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurableState {
    /// Term and vote.
    pub hard_state: HardState,
    /// The latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The log entries after the snapshot (entries at or below its index are ignored).
    pub entries: Vec<Entry>,
}

/// Counters for status and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages dropped as stale (old term, out-of-date response, ...).
    pub dropped_stale: u64,
    /// Elections this node started (real votes, after pre-vote).
    pub elections: u64,
}

/// The sans-IO Raft core. It never reads a clock, never does I/O and never calls
/// `thread_rng`: events go in through [`step`](Self::step), [`tick`](Self::tick),
/// [`propose`](Self::propose), [`read_index`](Self::read_index) and
/// [`on_persisted`](Self::on_persisted); what to do comes out of
/// [`take_actions`](Self::take_actions) (see [`Action`] for the ordering rule).
#[derive(Debug)]
pub struct RaftCore {
    pub(crate) cfg: RaftConfig,
    /// Members (voters and learners) other than this node, sorted: who gets the log.
    pub(crate) peers: Vec<NodeId>,
    /// The configurations in the log (the latest is in force).
    pub(crate) configs: Configs,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) term: Term,
    pub(crate) vote: Option<NodeId>,
    /// The hard state last handed out for persisting.
    pub(crate) persisted_hard: HardState,
    pub(crate) role: Role,
    pub(crate) leader: Option<NodeId>,
    pub(crate) log: RaftLog,
    /// Last log index known durable locally (a leader counts itself only up to here).
    pub(crate) persisted: LogIndex,
    pub(crate) commit: LogIndex,
    /// Entries up to here were handed out in `Apply` (or covered by `ApplySnapshot`).
    pub(crate) applied: LogIndex,
    /// The latest snapshot (kept to send to lagging followers).
    pub(crate) snapshot: Option<Snapshot>,
    /// A snapshot being received in chunks.
    pub(crate) incoming: Option<Snapshot>,
    /// Logical time: ticks since start.
    pub(crate) ticks: u64,
    pub(crate) election_elapsed: u64,
    pub(crate) election_timeout: u64,
    pub(crate) heartbeat_elapsed: u64,
    /// The tick at which this node last heard from a current leader.
    pub(crate) leader_contact: Option<u64>,
    /// Votes (or pre-votes) received in the current campaign.
    pub(crate) votes: BTreeMap<NodeId, bool>,
    /// Per-follower replication state (leader only).
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    pub(crate) reads: ReadState,
    /// New leader entries not yet handed out for persisting (batched until `take_actions`).
    pub(crate) unpersisted: Vec<Entry>,
    pub(crate) actions: Vec<Action>,
    pub(crate) stats: Stats,
}

impl RaftCore {
    /// A core starting from `durable` (what storage recovered), with its randomness from
    /// `rng` (seed it from the run seed and the node id).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the configuration cannot work.
    pub fn new(
        cfg: RaftConfig,
        durable: DurableState,
        rng: ChaCha8Rng,
    ) -> Result<RaftCore, ConfigError> {
        cfg.validate()?;
        let (snap_index, snap_term) = durable
            .snapshot
            .as_ref()
            .map_or((LogIndex(0), Term(0)), |s| (s.meta.last_index, s.meta.last_term));
        // The bootstrap configuration holds until a snapshot or a config entry replaces it.
        let base = durable.snapshot.as_ref().map_or_else(
            || Membership::with_voters(cfg.voters.iter().copied()),
            |s| s.meta.membership.clone(),
        );
        let log = RaftLog::new(snap_index, snap_term, durable.entries);
        let configs = Configs::new(
            snap_index,
            base,
            log.slice(snap_index.next(), log.last_index(), usize::MAX, usize::MAX).as_slice(),
        );
        let mut core = RaftCore {
            peers: Vec::new(),
            configs,
            rng,
            term: durable.hard_state.term,
            vote: durable.hard_state.vote,
            persisted_hard: durable.hard_state,
            role: Role::Follower,
            leader: None,
            persisted: log.last_index(),
            commit: snap_index,
            applied: snap_index,
            log,
            snapshot: durable.snapshot,
            incoming: None,
            ticks: 0,
            election_elapsed: 0,
            election_timeout: 0,
            heartbeat_elapsed: 0,
            leader_contact: None,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            reads: ReadState::default(),
            unpersisted: Vec::new(),
            actions: Vec::new(),
            stats: Stats::default(),
            cfg,
        };
        core.on_membership_changed();
        core.reset_election_timeout();
        Ok(core)
    }

    /// Handles one peer message. Stale or invalid messages are counted and dropped.
    pub fn step(&mut self, msg: Message) {
        // Messages from outside the configuration are accepted (a new member hears from a
        // leader it does not know yet), but a non-voter's campaign is ignored outright, so a
        // removed node cannot disrupt the cluster by raising terms.
        let campaign = matches!(msg.body, Body::Vote { .. } | Body::PreVote { .. });
        if msg.to != self.cfg.id || msg.from == self.cfg.id || campaign && !self.is_voter(msg.from)
        {
            tracing::debug!(from = %msg.from, to = %msg.to, "dropping misaddressed message");
            self.stats.dropped_stale += 1;
            return;
        }
        if msg.term > self.term {
            match &msg.body {
                // A pre-vote never changes the receiver's term (Raft thesis §9.6).
                Body::PreVote { .. } => {}
                Body::PreVoteResponse { granted: true } => {}
                Body::Vote { .. } if self.in_leader_lease() => {
                    // Leader stickiness: a follower that heard from a live leader within
                    // the minimum election timeout ignores the request (thesis §4.2.3).
                    tracing::debug!(from = %msg.from, term = %msg.term, "vote ignored: leader alive");
                    self.stats.dropped_stale += 1;
                    return;
                }
                body => {
                    let leader = match body {
                        Body::Append { .. }
                        | Body::Heartbeat { .. }
                        | Body::InstallSnapshot { .. } => Some(msg.from),
                        _ => None,
                    };
                    self.become_follower(msg.term, leader);
                }
            }
        } else if msg.term < self.term {
            self.on_stale_term(msg);
            return;
        }
        match msg.body {
            Body::PreVote { last_log_index, last_log_term } => {
                self.on_pre_vote(msg.from, msg.term, last_log_index, last_log_term)
            }
            Body::PreVoteResponse { granted } => {
                self.on_pre_vote_response(msg.from, msg.term, granted)
            }
            Body::Vote { last_log_index, last_log_term } => {
                self.on_vote(msg.from, last_log_index, last_log_term)
            }
            Body::VoteResponse { granted } => self.on_vote_response(msg.from, granted),
            Body::Append { prev_index, prev_term, entries, commit } => {
                self.on_append(msg.from, prev_index, prev_term, entries, commit)
            }
            Body::AppendResponse {
                success,
                prev_index,
                match_index,
                conflict_term,
                conflict_index,
            } => self.on_append_response(
                msg.from,
                success,
                prev_index,
                match_index,
                conflict_term,
                conflict_index,
            ),
            Body::Heartbeat { commit, round } => self.on_heartbeat(msg.from, commit, round),
            Body::HeartbeatResponse { round, last_index } => {
                self.on_heartbeat_response(msg.from, round, last_index)
            }
            Body::InstallSnapshot { meta, offset, data, done } => {
                self.on_install_snapshot(msg.from, meta, offset, data, done)
            }
            Body::InstallSnapshotResponse { last_index, next_offset, done } => {
                self.on_install_snapshot_response(msg.from, last_index, next_offset, done)
            }
        }
    }

    /// Advances logical time by one tick: election timeouts, heartbeats, retransmissions.
    pub fn tick(&mut self) {
        self.ticks += 1;
        if self.role == Role::Leader {
            self.tick_leader();
        } else if !self.is_voter(self.cfg.id) {
            // A learner (or a removed node) never campaigns.
            self.election_elapsed = 0;
        } else {
            self.election_elapsed += 1;
            if self.election_elapsed >= self.election_timeout {
                self.campaign();
            }
        }
    }

    /// Appends a client command to the log (leader only) and returns its index. Proposals
    /// are batched: they go out to followers at the next [`take_actions`](Self::take_actions).
    ///
    /// # Errors
    ///
    /// [`ProposeError::NotLeader`] when this node is not the leader.
    pub fn propose(&mut self, command: Vec<u8>) -> Result<LogIndex, ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader { leader: self.leader });
        }
        Ok(self.append_local(EntryPayload::Command(command)))
    }

    /// Starts a linearizable read (Raft thesis §6.4): once leadership is confirmed by a
    /// heartbeat round that started after this call, [`Action::ReadReady`] gives the index
    /// that the state machine must have applied before serving the read.
    ///
    /// # Errors
    ///
    /// [`ReadIndexError::NotLeader`] when this node is not the leader.
    pub fn read_index(&mut self, id: ReadId) -> Result<(), ReadIndexError> {
        if self.role != Role::Leader {
            return Err(ReadIndexError::NotLeader { leader: self.leader });
        }
        self.start_read(id);
        Ok(())
    }

    /// True when this leader holds a lease: a quorum acknowledged a heartbeat round sent
    /// less than `lease_ticks` ago (the margin to the election timeout absorbs clock
    /// drift), and it has committed an entry of its term, so its commit index is current.
    /// With [`UnsafeBug::LeaseSkew`] the lease lasts a whole minimum election timeout: no
    /// margin for a local clock that runs slower than the followers'.
    pub fn has_lease(&self) -> bool {
        if self.role != Role::Leader || !self.committed_in_term() {
            return false;
        }
        let lease = if self.cfg.has_bug(UnsafeBug::LeaseSkew) {
            self.cfg.election_ticks
        } else {
            self.cfg.lease_ticks
        };
        self.other_voters().is_empty()
            || self.reads.lease_start.is_some_and(|start| self.ticks < start + lease)
    }

    /// Reports that every entry up to (`index`, `term`) is durable. Acks for entries that
    /// were since overwritten are ignored.
    pub fn on_persisted(&mut self, index: LogIndex, term: Term) {
        if index <= self.persisted || self.log.term_at(index) != Some(term) {
            return;
        }
        self.persisted = index;
        if self.role == Role::Leader {
            self.maybe_commit();
        }
    }

    /// Replaces the log prefix up to `index` (applied) with a snapshot of the state machine
    /// taken at that index; emits [`Action::PersistSnapshot`].
    ///
    /// # Errors
    ///
    /// [`CompactError::OutOfRange`] when `index` is not applied or is already compacted.
    pub fn compact(&mut self, index: LogIndex, data: Vec<u8>) -> Result<(), CompactError> {
        let snap_index = self.log.snapshot_index();
        let term = self.log.term_at(index);
        let (Some(last_term), true) = (term, index > snap_index && index <= self.applied) else {
            return Err(CompactError::OutOfRange {
                index,
                applied: self.applied,
                snapshot: snap_index,
            });
        };
        self.flush_unpersisted();
        let membership = self.configs.at(index).clone();
        let snapshot =
            Snapshot { meta: SnapshotMeta { last_index: index, last_term, membership }, data };
        self.log.compact_to(index, last_term);
        self.configs.compact_to(index);
        self.snapshot = Some(snapshot.clone());
        self.actions.push(Action::PersistSnapshot { snapshot, retain_suffix: true });
        Ok(())
    }

    /// Drains the actions to run, in order (see [`Action`]). Batched proposals and pending
    /// read rounds are sent out first.
    pub fn take_actions(&mut self) -> Vec<Action> {
        if self.role == Role::Leader {
            self.flush_leader();
        }
        std::mem::take(&mut self.actions)
    }

    /// The size of a majority of the voters in force.
    pub(crate) fn quorum(&self) -> usize {
        self.membership().quorum()
    }

    pub(crate) fn reset_election_timeout(&mut self) {
        self.election_elapsed = 0;
        let min = self.cfg.election_ticks;
        self.election_timeout = self.rng.random_range(min..2 * min);
    }

    /// True when this node believes a live leader exists: it leads itself (check-quorum
    /// steps it down once a majority goes silent), or it heard from its leader less than a
    /// minimum election timeout ago. Such a node refuses pre-votes and ignores votes
    /// (Raft thesis §4.2.3), so a node whose clock jumped cannot depose a healthy leader.
    pub(crate) fn in_leader_lease(&self) -> bool {
        if self.role == Role::Leader {
            return true;
        }
        self.leader.is_some()
            && self.leader_contact.is_some_and(|t| self.ticks < t + self.cfg.election_ticks)
    }

    /// Emits `PersistHardState` if term or vote changed since the last one.
    pub(crate) fn persist_hard_state(&mut self) {
        let hs = self.hard_state();
        if hs != self.persisted_hard {
            self.persisted_hard = hs;
            // Coalesce with a hard state queued just before (term, then vote): one fsync.
            if let Some(Action::PersistHardState(prev)) = self.actions.last_mut() {
                *prev = hs;
            } else {
                self.actions.push(Action::PersistHardState(hs));
            }
        }
    }

    /// Hands out the leader's batched new entries for persisting.
    pub(crate) fn flush_unpersisted(&mut self) {
        if !self.unpersisted.is_empty() {
            let entries = std::mem::take(&mut self.unpersisted);
            self.actions.push(Action::PersistEntries { truncate_from: None, entries });
        }
    }

    /// Appends an entry of the current term to the local log (leader only).
    pub(crate) fn append_local(&mut self, payload: EntryPayload) -> LogIndex {
        let index = self.log.last_index().next();
        let entry = Entry { term: self.term, index, payload };
        self.log.push(entry.clone());
        if matches!(entry.payload, EntryPayload::Config(_)) {
            self.note_appended(std::slice::from_ref(&entry));
        }
        self.unpersisted.push(entry);
        index
    }

    /// Raises the commit index to `index` and hands out the newly committed entries.
    pub(crate) fn commit_to(&mut self, index: LogIndex) {
        if index <= self.commit {
            return;
        }
        self.commit = index;
        if self.applied < self.commit {
            let entries = self.log.slice(self.applied.next(), self.commit, usize::MAX, usize::MAX);
            if let Some(last) = entries.last() {
                self.applied = last.index;
                self.actions.push(Action::Apply(entries));
            }
        }
    }

    /// Answers a message from an older term: requests get our term so that a stale leader
    /// or candidate steps down; everything else is dropped.
    fn on_stale_term(&mut self, msg: Message) {
        self.stats.dropped_stale += 1;
        tracing::debug!(from = %msg.from, kind = msg.body.kind(), term = %msg.term, "stale term");
        let body = match msg.body {
            Body::PreVote { .. } => Body::PreVoteResponse { granted: false },
            Body::Vote { .. } => Body::VoteResponse { granted: false },
            Body::Append { prev_index, .. } => Body::AppendResponse {
                success: false,
                prev_index,
                match_index: LogIndex(0),
                conflict_term: None,
                conflict_index: LogIndex(0),
            },
            Body::Heartbeat { round, .. } => {
                Body::HeartbeatResponse { round, last_index: self.log.last_index() }
            }
            _ => return,
        };
        self.send(msg.from, body);
    }

    /// Queues a message to `to` in the current term.
    pub(crate) fn send(&mut self, to: NodeId, body: Body) {
        let msg = Message { from: self.cfg.id, to, term: self.term, body };
        self.actions.push(Action::Send(msg));
    }
}
