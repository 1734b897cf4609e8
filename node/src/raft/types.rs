//! Identifiers and the data that Raft persists or sends: entries, hard state, snapshots.
//!
//! Everything here derives `serde` so that the WAL and the peer transport can encode it
//! with a compact binary format (postcard).

use serde::{Deserialize, Serialize};
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
    /// The cluster's voters at that point (the configuration is static).
    pub voters: Vec<NodeId>,
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

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asks for pre-votes without raising its term (Raft thesis §9.6).
    PreCandidate,
    /// Asks for votes in a new term.
    Candidate,
    /// Leads its term.
    Leader,
}

impl Role {
    /// The name used by `GET /v1/status`: `leader`, `follower`, `candidate`, `pre-candidate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// Known bugs that can be switched on to prove that the tester catches them. Test only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnsafeBug {
    /// Every node, leader or not, serves reads from its local state at once.
    StaleReads,
    /// The state machine applies retried requests again.
    NoDedup,
    /// A leader commits entries of previous terms by counting replicas (Figure 8).
    CommitOldTerm,
    /// The WAL acknowledges writes before they are durable (implemented by the WAL).
    AckBeforeFsync,
    /// Lease reads trust the local clock with no safety margin.
    LeaseSkew,
    /// Sharded KV: a group serves a shard as soon as its config assigns it, before the
    /// shard's data has arrived.
    ShardServeEarly,
    /// Sharded KV: a group keeps serving a shard after its config moved it away.
    ShardServeLate,
    /// Sharded KV: shard data moves without its client session table.
    ShardNoDedupTransfer,
    /// Sharded KV: a group jumps to the latest config instead of applying each in order.
    ConfigSkip,
}

impl UnsafeBug {
    /// All bugs, in the order of `--help`.
    pub const ALL: [UnsafeBug; 9] = [
        UnsafeBug::StaleReads,
        UnsafeBug::NoDedup,
        UnsafeBug::CommitOldTerm,
        UnsafeBug::AckBeforeFsync,
        UnsafeBug::LeaseSkew,
        UnsafeBug::ShardServeEarly,
        UnsafeBug::ShardServeLate,
        UnsafeBug::ShardNoDedupTransfer,
        UnsafeBug::ConfigSkip,
    ];

    /// The command-line name, e.g. `stale-reads`.
    pub fn as_str(self) -> &'static str {
        match self {
            UnsafeBug::StaleReads => "stale-reads",
            UnsafeBug::NoDedup => "no-dedup",
            UnsafeBug::CommitOldTerm => "commit-old-term",
            UnsafeBug::AckBeforeFsync => "ack-before-fsync",
            UnsafeBug::LeaseSkew => "lease-skew",
            UnsafeBug::ShardServeEarly => "shard-serve-early",
            UnsafeBug::ShardServeLate => "shard-serve-late",
            UnsafeBug::ShardNoDedupTransfer => "shard-no-dedup-transfer",
            UnsafeBug::ConfigSkip => "config-skip",
        }
    }
}

impl std::str::FromStr for UnsafeBug {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnsafeBug::ALL.into_iter().find(|b| b.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = UnsafeBug::ALL.iter().map(|b| b.as_str()).collect();
            format!("unknown unsafe bug {s:?} (expected one of {})", names.join(", "))
        })
    }
}

/// How `get` is made linearizable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Confirm leadership with a heartbeat round, then wait until the read index is applied
    /// (Raft thesis §6.4). The default.
    #[default]
    ReadIndex,
    /// Send reads through the log like writes.
    Log,
    /// Serve reads from a leader lease (thesis §6.4.1): fast, unsafe under clock skew.
    Lease,
}

impl ReadMode {
    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadMode::ReadIndex => "read-index",
            ReadMode::Log => "log",
            ReadMode::Lease => "lease",
        }
    }
}

impl std::str::FromStr for ReadMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read-index" => Ok(ReadMode::ReadIndex),
            "log" => Ok(ReadMode::Log),
            "lease" => Ok(ReadMode::Lease),
            _ => Err(format!("unknown read mode {s:?} (expected read-index, log or lease)")),
        }
    }
}
