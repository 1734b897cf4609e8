//! Identifiers and the data that Raft persists or sends: entries, hard state, snapshots.
//!
//! Everything here derives `serde` so that the WAL and the peer transport can encode it
//! with a compact binary format (postcard).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

macro_rules! newtype {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

newtype!(
    /// A node's id, 1..=N. Histories and nemesis events name node 3 `"n3"`.
    NodeId,
    "n"
);
newtype!(
    /// A Raft term (Raft paper §5.1). Term 0 is "before any election".
    Term,
    "t"
);
newtype!(
    /// The index of a log entry, starting at 1; index 0 is the empty prefix.
    LogIndex,
    ""
);
newtype!(
    /// A client session id: each client process picks a fresh one.
    ClientId,
    "c"
);

impl LogIndex {
    /// The next index.
    pub fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }

    /// The previous index (saturating at 0).
    pub fn prev(self) -> LogIndex {
        LogIndex(self.0.saturating_sub(1))
    }
}

impl Term {
    /// The next term.
    pub fn next(self) -> Term {
        Term(self.0 + 1)
    }
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryPayload {
    /// Appended by every new leader so that it can commit entries of earlier terms
    /// (Raft paper §5.4.2, §8).
    Noop,
    /// A client command: the bytes are an encoded [`crate::api::Command`]
    /// (see [`crate::api::Command::encode`]).
    Command(Vec<u8>),
    /// The cluster's new configuration (Raft thesis §4.1): it takes effect on each node as
    /// soon as the node appends it, committed or not.
    Config(Membership),
}

/// A cluster configuration: who votes, and who only receives the log (learners). The two
/// sets are disjoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Nodes whose votes and acknowledgements count towards quorums.
    pub voters: BTreeSet<NodeId>,
    /// Nodes that replicate the log but never vote nor count (non-voting members).
    pub learners: BTreeSet<NodeId>,
}

impl Membership {
    /// A configuration of `voters` and no learners.
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> Membership {
        Membership { voters: voters.into_iter().collect(), learners: BTreeSet::new() }
    }

    /// True when `id` votes.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    /// True when `id` is a voter or a learner.
    pub fn contains(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }

    /// The size of a majority of the voters.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }
}

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: Term,
    /// Its position in the log.
    pub index: LogIndex,
    /// What it carries.
    pub payload: EntryPayload,
}

impl Entry {
    /// Approximate size in bytes, used for batching and for the snapshot threshold.
    pub fn size_bytes(&self) -> usize {
        24 + match &self.payload {
            EntryPayload::Noop => 0,
            EntryPayload::Command(b) => b.len(),
            EntryPayload::Config(m) => 8 * (m.voters.len() + m.learners.len()),
        }
    }
}

/// The state that must be durable before a node answers a vote or a message of a new term
/// (Raft paper Figure 2, "Persistent state on all servers").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// The candidate this node voted for in `term`, if any.
    pub vote: Option<NodeId>,
}

/// Describes what a snapshot covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The last log index included in the snapshot.
    pub last_index: LogIndex,
    /// The term of that entry.
    pub last_term: Term,
    /// The cluster's configuration at that point (the latest one at or below
    /// `last_index`).
    pub membership: Membership,
}

/// A state-machine snapshot: its metadata and the state machine's encoded state
/// ([`crate::kv::Kv::snapshot`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// What it covers.
    pub meta: SnapshotMeta,
    /// The encoded state machine, session table included.
    pub data: Vec<u8>,
}

pub use faultline_api::node::{ReadMode, Role, UnsafeBug};
