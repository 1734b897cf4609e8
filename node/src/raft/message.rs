//! Peer messages. Every message carries `from`, `to` and the sender's `term`.
//!
//! ```text
//!  candidate ── PreVote / Vote ──────────────▶ voter
//!            ◀─ PreVoteResponse / VoteResponse
//!  leader ───── Append (pipelined batches) ──▶ follower
//!         ◀──── AppendResponse (match, or conflict term + first index of that term)
//!  leader ───── Heartbeat (commit, read round) ▶ follower
//!         ◀──── HeartbeatResponse (read round)
//!  leader ───── InstallSnapshot (chunk) ─────▶ follower behind the compacted prefix
//!         ◀──── InstallSnapshotResponse (next offset)
//! ```

use crate::raft::types::{Entry, LogIndex, NodeId, SnapshotMeta, Term};
use serde::{Deserialize, Serialize};

/// One peer message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// The sender's current term; for `PreVote`, the term the sender would campaign in.
    pub term: Term,
    /// What it says.
    pub body: Body,
}

/// The kinds of peer message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Would you vote for me in `term` (not yet raised)? Raft thesis §9.6.
    PreVote {
        /// The index of the candidate's last entry.
        last_log_index: LogIndex,
        /// The term of the candidate's last entry.
        last_log_term: Term,
    },
    /// Answer to `PreVote`.
    PreVoteResponse {
        /// True when the voter would grant its vote.
        granted: bool,
    },
    /// RequestVote (Raft paper Figure 2).
    Vote {
        /// The index of the candidate's last entry.
        last_log_index: LogIndex,
        /// The term of the candidate's last entry.
        last_log_term: Term,
    },
    /// Answer to `Vote`; sent only once the vote is durable.
    VoteResponse {
        /// True when the vote is granted.
        granted: bool,
    },
    /// AppendEntries (Raft paper Figure 2). A leader pipelines these: it sends the next
    /// batch without waiting for the answer to the previous one.
    Append {
        /// The index of the entry just before `entries`.
        prev_index: LogIndex,
        /// The term of that entry.
        prev_term: Term,
        /// The new entries, in order (may be empty: a probe).
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: LogIndex,
    },
    /// Answer to `Append`; sent only once the appended entries are durable.
    AppendResponse {
        /// True when the follower's log matched at `prev_index`.
        success: bool,
        /// The `prev_index` of the request this answers (to ignore stale rejections).
        prev_index: LogIndex,
        /// On success: the follower's log is known to match the leader's up to here.
        match_index: LogIndex,
        /// On rejection: the term of the follower's entry at `prev_index`, if it has one.
        conflict_term: Option<Term>,
        /// On rejection: the first index of `conflict_term` in the follower's log, or the
        /// follower's last index + 1 when its log is too short (fast back-up, 6.824 lab 2C).
        conflict_index: LogIndex,
    },
    /// Leader liveness, commit index, and a read-index round (Raft thesis §6.4).
    Heartbeat {
        /// `min(leader commit, follower's match index)`.
        commit: LogIndex,
        /// The leader's heartbeat round; echoed back to confirm leadership for reads.
        round: u64,
    },
    /// Answer to `Heartbeat`.
    HeartbeatResponse {
        /// The round being acknowledged.
        round: u64,
        /// The follower's last log index (lets the leader notice a lagging follower).
        last_index: LogIndex,
    },
    /// One chunk of a snapshot, for a follower behind the leader's compacted prefix.
    InstallSnapshot {
        /// What the whole snapshot covers.
        meta: SnapshotMeta,
        /// Byte offset of `data` within the snapshot's data.
        offset: u64,
        /// The chunk.
        data: Vec<u8>,
        /// True for the last chunk.
        done: bool,
    },
    /// Answer to `InstallSnapshot`.
    InstallSnapshotResponse {
        /// The snapshot this answers (its last index).
        last_index: LogIndex,
        /// The offset the follower expects next (equals the snapshot size when done).
        next_offset: u64,
        /// True once the follower has installed (persisted) the whole snapshot.
        done: bool,
    },
}

impl Body {
    /// A short name for logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::PreVote { .. } => "pre-vote",
            Body::PreVoteResponse { .. } => "pre-vote-response",
            Body::Vote { .. } => "vote",
            Body::VoteResponse { .. } => "vote-response",
            Body::Append { .. } => "append",
            Body::AppendResponse { .. } => "append-response",
            Body::Heartbeat { .. } => "heartbeat",
            Body::HeartbeatResponse { .. } => "heartbeat-response",
            Body::InstallSnapshot { .. } => "install-snapshot",
            Body::InstallSnapshotResponse { .. } => "install-snapshot-response",
        }
    }
}

impl Message {
    /// Approximate encoded size in bytes (for the simulator's byte counts).
    pub fn size_bytes(&self) -> usize {
        32 + match &self.body {
            Body::Append { entries, .. } => entries.iter().map(|e| e.size_bytes()).sum(),
            Body::InstallSnapshot { data, .. } => data.len(),
            _ => 0,
        }
    }
}
