//! What a leader knows about one follower's log (raft-rs `Progress`).
//!
//! ```text
//!  Probe ── success ──▶ Replicate (pipelined, at most max_inflight appends in flight)
//!    ▲  ◀── rejection / retransmit timeout ──┘
//!    └──── snapshot installed ◀── Snapshot (chunks) ◀── next entry compacted away
//! ```

use crate::raft::types::LogIndex;
use std::collections::VecDeque;

/// How the leader is currently replicating to a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// Searching for the last matching entry: one append at a time.
    Probe,
    /// Streaming: appends are pipelined without waiting for answers.
    Replicate,
    /// Sending a snapshot in chunks.
    Snapshot,
}

/// A leader's view of one follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The follower's log matches the leader's up to here (acknowledged durable).
    pub match_index: LogIndex,
    /// The next entry to send.
    pub next_index: LogIndex,
    /// Replication state.
    pub state: ProgressState,
    /// Appends in flight while replicating: (last index sent, tick sent).
    pub inflight: VecDeque<(LogIndex, u64)>,
    /// In `Probe`: the tick a probe was sent and not answered yet.
    pub probe_sent: Option<u64>,
    /// In `Snapshot`: the snapshot being sent (its last index), the next offset, and the
    /// tick of the last chunk sent.
    pub snapshot: Option<(LogIndex, u64, u64)>,
    /// Heard from the follower since the last check-quorum round.
    pub active: bool,
}

impl Progress {
    /// A follower about which nothing is known yet.
    pub fn new(next_index: LogIndex, _now: u64) -> Progress {
        Progress {
            match_index: LogIndex(0),
            next_index,
            state: ProgressState::Probe,
            inflight: VecDeque::new(),
            probe_sent: None,
            snapshot: None,
            active: true,
        }
    }

    /// Back to probing from `next_index`.
    pub fn become_probe(&mut self, next_index: LogIndex) {
        self.state = ProgressState::Probe;
        self.next_index = next_index.max(self.match_index.next());
        self.inflight.clear();
        self.probe_sent = None;
        self.snapshot = None;
    }

    /// Start streaming after the match index.
    pub fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next_index = self.next_index.max(self.match_index.next());
        self.inflight.clear();
        self.probe_sent = None;
        self.snapshot = None;
    }
}
