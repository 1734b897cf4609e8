//! Single-server membership changes (Raft thesis §4.1, §4.3): add a learner, promote it,
//! remove a node. One change at a time, and only once the leader has committed an entry of
//! its own term (the fix to the single-server-change bug, Ongaro, raft-dev 2015).
//!
//! ```text
//!  propose_change(AddLearner | Promote | Remove)
//!     ─▶ checks: leader; committed in term; previous change committed; change valid
//!     ─▶ append Config(new membership) ─▶ takes effect now (not at commit)
//!  follower: append Config ─▶ takes effect; truncated away ─▶ previous config again
//!  snapshot: carries the latest config at its index
//!  leader not in the new voters ─▶ steps down once the change commits
//! ```
//!
//! The history of configurations is kept as `(index, membership)` pairs: the one in force
//! at the snapshot (or the bootstrap one, at index 0) and one per config entry in the log
//! above it. The latest pair is the configuration in force; every quorum (election,
//! commit, check-quorum, ReadIndex rounds, leases) counts its voters.

use crate::raft::core::RaftCore;
use crate::raft::error::ChangeError;
use crate::raft::progress::Progress;
use crate::raft::types::{Entry, EntryPayload, LogIndex, Membership, NodeId, Role, UnsafeBug};
use serde::{Deserialize, Serialize};

/// One membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberChange {
    /// Add a node as a learner: it receives the log but neither votes nor counts.
    AddLearner(NodeId),
    /// Make a learner a voter (refused until it has caught up with the commit index).
    Promote(NodeId),
    /// Remove a voter or a learner.
    Remove(NodeId),
}

/// The configurations a core knows of: the one at the snapshot (or bootstrap), then one per
/// config entry of the log, in index order. Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configs {
    history: Vec<(LogIndex, Membership)>,
}

impl Configs {
    /// Starts from `base`, in force at `index` (the snapshot's index, or 0), then every
    /// config entry of `entries` above it.
    pub fn new(index: LogIndex, base: Membership, entries: &[Entry]) -> Configs {
        let mut c = Configs { history: vec![(index, base)] };
        for e in entries {
            c.on_append(e);
        }
        c
    }

    /// The configuration in force (the latest appended).
    pub fn current(&self) -> &Membership {
        &self.history[self.history.len() - 1].1
    }

    /// The index of the entry that set the configuration in force.
    pub fn current_index(&self) -> LogIndex {
        self.history[self.history.len() - 1].0
    }

    /// The configuration in force at `index` (the latest at or below it).
    pub fn at(&self, index: LogIndex) -> &Membership {
        let pos = self.history.iter().rposition(|(i, _)| *i <= index).unwrap_or(0);
        &self.history[pos].1
    }

    /// An entry was appended; true when it changed the configuration.
    pub fn on_append(&mut self, entry: &Entry) -> bool {
        let EntryPayload::Config(m) = &entry.payload else { return false };
        if entry.index <= self.current_index() {
            return false;
        }
        self.history.push((entry.index, m.clone()));
        true
    }

    /// Entries from `index` on were deleted; true when the configuration changed.
    pub fn truncate_from(&mut self, index: LogIndex) -> bool {
        let before = self.history.len();
        while self.history.len() > 1 && self.history[self.history.len() - 1].0 >= index {
            self.history.pop();
        }
        self.history.len() != before
    }

    /// The log up to `index` became a snapshot: drop configurations it supersedes.
    pub fn compact_to(&mut self, index: LogIndex) {
        let keep = self.history.iter().rposition(|(i, _)| *i <= index).unwrap_or(0);
        self.history.drain(..keep);
    }

    /// The whole log was replaced by a snapshot at `index` carrying `membership`.
    pub fn reset(&mut self, index: LogIndex, membership: Membership) {
        self.history = vec![(index, membership)];
    }
}

impl RaftCore {
    /// Proposes one membership change (leader only) and returns the index of its config
    /// entry. The new configuration is in force at once; it is safe once committed
    /// ([`RaftCore::membership_committed`]).
    ///
    /// With [`UnsafeBug::MembershipOverlap`] the leader neither waits for the previous change
    /// to commit nor for an entry of its own term: two changes may then overlap, and the
    /// majorities of the oldest and the newest configuration need not intersect.
    ///
    /// # Errors
    ///
    /// [`ChangeError`]: not the leader, a change already in flight, or an invalid change.
    pub fn propose_change(&mut self, change: MemberChange) -> Result<LogIndex, ChangeError> {
        if self.role != Role::Leader {
            return Err(ChangeError::NotLeader { leader: self.leader });
        }
        if !self.cfg.has_bug(UnsafeBug::MembershipOverlap) {
            if !self.committed_in_term() {
                return Err(ChangeError::Busy {
                    reason: "the leader has not committed an entry of its term yet".into(),
                });
            }
            let pending = self.configs.current_index();
            if pending > self.commit {
                return Err(ChangeError::Busy {
                    reason: format!("the change at index {pending} is not committed yet"),
                });
            }
        }
        let mut next = self.membership().clone();
        match change {
            MemberChange::AddLearner(id) => {
                if next.contains(id) {
                    return Err(ChangeError::Invalid {
                        reason: format!("{id} is already a member"),
                    });
                }
                next.learners.insert(id);
            }
            MemberChange::Promote(id) => {
                if !next.learners.contains(&id) {
                    return Err(ChangeError::Invalid { reason: format!("{id} is not a learner") });
                }
                let matched = self.progress.get(&id).map_or(LogIndex(0), |p| p.match_index);
                if matched < self.commit {
                    return Err(ChangeError::NotCaughtUp { matched, commit: self.commit });
                }
                next.learners.remove(&id);
                next.voters.insert(id);
            }
            MemberChange::Remove(id) => {
                if !next.contains(id) {
                    return Err(ChangeError::Invalid { reason: format!("{id} is not a member") });
                }
                next.voters.remove(&id);
                next.learners.remove(&id);
                if next.voters.is_empty() {
                    return Err(ChangeError::Invalid { reason: format!("{id} is the last voter") });
                }
            }
        }
        tracing::info!(id = %self.cfg.id, term = %self.term, ?change, "membership change");
        let index = self.append_local(EntryPayload::Config(next));
        Ok(index)
    }

    /// The configuration in force (the latest in the log, committed or not).
    pub fn membership(&self) -> &Membership {
        self.configs.current()
    }

    /// The index of the entry that set the configuration in force (0: the bootstrap one).
    pub fn membership_index(&self) -> LogIndex {
        self.configs.current_index()
    }

    /// True when the configuration in force is committed (a new change may start).
    pub fn membership_committed(&self) -> bool {
        self.configs.current_index() <= self.commit
    }

    /// True when `id` votes in the configuration in force.
    pub(crate) fn is_voter(&self, id: NodeId) -> bool {
        self.membership().is_voter(id)
    }

    /// The voters other than this node.
    pub(crate) fn other_voters(&self) -> Vec<NodeId> {
        self.membership().voters.iter().copied().filter(|v| *v != self.cfg.id).collect()
    }

    /// The configuration in force changed: recompute the peers, and (leader) track the new
    /// ones and forget the removed ones.
    pub(crate) fn on_membership_changed(&mut self) {
        let m = self.membership().clone();
        self.peers =
            m.voters.iter().chain(&m.learners).copied().filter(|p| *p != self.cfg.id).collect();
        self.peers.sort();
        tracing::debug!(id = %self.cfg.id, voters = ?m.voters, learners = ?m.learners, "configuration");
        if self.role == Role::Leader {
            let next = self.log.last_index().next();
            let now = self.ticks;
            self.progress.retain(|p, _| m.contains(*p));
            for p in self.peers.clone() {
                self.progress.entry(p).or_insert_with(|| Progress::new(next, now));
            }
        }
    }

    /// Entries were appended to the log: config entries take effect now.
    pub(crate) fn note_appended(&mut self, entries: &[Entry]) {
        let mut changed = false;
        for e in entries {
            changed |= self.configs.on_append(e);
        }
        if changed {
            self.on_membership_changed();
        }
    }

    /// The log lost its entries from `index` on: their configs no longer hold.
    pub(crate) fn note_truncated(&mut self, index: LogIndex) {
        if self.configs.truncate_from(index) {
            self.on_membership_changed();
        }
    }

    /// The commit index moved: a leader that the committed configuration removed from the
    /// voters steps down (thesis §4.2.2).
    pub(crate) fn step_down_if_removed(&mut self) {
        if self.role == Role::Leader && !self.is_voter(self.cfg.id) && self.membership_committed() {
            tracing::info!(id = %self.cfg.id, term = %self.term, "removed from the cluster: stepping down");
            self.become_follower(self.term, None);
        }
    }
}
