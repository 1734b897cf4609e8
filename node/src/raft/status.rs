//! Read-only views of a [`RaftCore`]'s state (status endpoint, tests, the service layer).

use crate::raft::config::RaftConfig;
use crate::raft::core::{RaftCore, Stats};
use crate::raft::types::{Entry, HardState, LogIndex, NodeId, Role, Term};

impl RaftCore {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.cfg.id
    }
    /// The configuration.
    pub fn config(&self) -> &RaftConfig {
        &self.cfg
    }
    /// Current role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Current term.
    pub fn term(&self) -> Term {
        self.term
    }
    /// The vote cast in the current term.
    pub fn vote(&self) -> Option<NodeId> {
        self.vote
    }
    /// The leader of the current term, when known.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// The commit index.
    pub fn commit_index(&self) -> LogIndex {
        self.commit
    }
    /// Entries up to here were handed out for applying.
    pub fn applied_index(&self) -> LogIndex {
        self.applied
    }
    /// Index of the last log entry.
    pub fn last_index(&self) -> LogIndex {
        self.log.last_index()
    }
    /// Term of the last log entry.
    pub fn last_term(&self) -> Term {
        self.log.last_term()
    }
    /// Number of entries held in memory (after the snapshot).
    pub fn log_entries(&self) -> usize {
        self.log.len()
    }
    /// Approximate bytes of the entries held.
    pub fn log_bytes(&self) -> usize {
        self.log.bytes()
    }
    /// The index covered by the latest snapshot (0 when none).
    pub fn snapshot_index(&self) -> LogIndex {
        self.log.snapshot_index()
    }
    /// The size of the latest snapshot's data.
    pub fn snapshot_bytes(&self) -> usize {
        self.snapshot.as_ref().map_or(0, |s| s.data.len())
    }
    /// The entry at `index`, if held in memory.
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        self.log.entry(index)
    }
    /// The term of the entry at `index`, if known.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        self.log.term_at(index)
    }
    /// Leader only: how far `peer`'s log is known to match this one (0 when unknown).
    pub fn match_index(&self, peer: NodeId) -> LogIndex {
        self.progress.get(&peer).map_or(LogIndex(0), |p| p.match_index)
    }
    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// Logical time in ticks since start.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }
    /// The current hard state.
    pub fn hard_state(&self) -> HardState {
        HardState { term: self.term, vote: self.vote }
    }
    /// True when this leader has committed an entry of its own term, so that its commit
    /// index is up to date (Raft thesis §6.4 step 1).
    pub fn committed_in_term(&self) -> bool {
        self.log.term_at(self.commit) == Some(self.term)
    }
}
