//! Errors of the core's API. Protocol events never fail: only misuse is an error.

use crate::raft::types::{LogIndex, NodeId};
use thiserror::Error;

/// A proposal was refused; nothing was appended.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ProposeError {
    /// This node is not the leader; `leader` is the one it knows of.
    #[error("not leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
}

/// A ReadIndex request was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ReadIndexError {
    /// This node is not the leader; `leader` is the one it knows of.
    #[error("not leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
}

/// A compaction request was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CompactError {
    /// The index is not applied yet or is already compacted.
    #[error("cannot compact to {index}: applied {applied}, snapshot {snapshot}")]
    OutOfRange {
        /// The requested index.
        index: LogIndex,
        /// The applied index.
        applied: LogIndex,
        /// The current snapshot index.
        snapshot: LogIndex,
    },
}

/// A membership change was refused; nothing was appended.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ChangeError {
    /// This node is not the leader; `leader` is the one it knows of.
    #[error("not leader (leader: {leader:?})")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
    /// Another change is in flight, or the leader is too new: retry later.
    #[error("busy: {reason}")]
    Busy {
        /// Why.
        reason: String,
    },
    /// The learner has not caught up yet: retry later.
    #[error("not caught up: the learner holds up to {matched}, the commit index is {commit}")]
    NotCaughtUp {
        /// What the learner holds.
        matched: LogIndex,
        /// The leader's commit index.
        commit: LogIndex,
    },
    /// The change makes no sense for the current configuration.
    #[error("invalid change: {reason}")]
    Invalid {
        /// Why.
        reason: String,
    },
}
