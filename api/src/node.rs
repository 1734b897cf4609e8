//! The faultline node's HTTP API (`docs/node-api.md`), as types: what the node serves and
//! what the clients, the nemesis and the runner send and read back. Defined here once; the
//! node, the workloads' client and the nemesis's probes all use these.
//!
//! ```text
//!   client ── POST /v1/kv  Request ──▶ node ──▶ ResponseBody { status: Reply, value, error, leader }
//!   nemesis ─ GET /v1/status ────────▶ node ──▶ NodeStatus { Status (role, term, indexes..), wal, clock }
//!   nemesis ─ POST /v1/admin/clock ClockSettings ──▶ node
//!   nemesis ─ GET /v1/admin/members ──▶ node ──▶ Members { voters, learners, config_index, .. }
//!   nemesis ─ POST /v1/admin/members/{add,promote,remove} MemberRequest ──▶ leader ──▶ Members
//!                                                          (refused: MemberError + status code)
//!   runner ── --unsafe-bug UnsafeBug, --read-mode ReadMode ──▶ node flags
//! ```

pub use crate::reply::{LeaderHint, Reply};
use serde::{Deserialize, Serialize};

crate::names! {
    /// Known bugs that can be planted in a node to prove that the tester catches them. Test
    /// only: never use in production.
    pub enum UnsafeBug ("unsafe bug") {
        /// Every node, leader or not, serves reads from its local state at once.
        StaleReads = "stale-reads",
        /// The state machine applies retried requests again.
        NoDedup = "no-dedup",
        /// A leader commits entries of previous terms by counting replicas (Figure 8).
        CommitOldTerm = "commit-old-term",
        /// The WAL acknowledges writes before they are durable.
        AckBeforeFsync = "ack-before-fsync",
        /// Lease reads trust the local clock with no safety margin.
        LeaseSkew = "lease-skew",
        /// Sharded KV: a group serves a shard as soon as its config assigns it, before the
        /// shard's data has arrived.
        ShardServeEarly = "shard-serve-early",
        /// Sharded KV: a group keeps serving a shard after its config moved it away.
        ShardServeLate = "shard-serve-late",
        /// Sharded KV: shard data moves without its client session table.
        ShardNoDedupTransfer = "shard-no-dedup-transfer",
        /// Sharded KV: a group jumps to the latest config instead of applying each in order.
        ConfigSkip = "config-skip",
        /// A leader starts a membership change before the previous one committed (and
        /// before it committed an entry of its term): the majorities of the old and the new
        /// configuration may not intersect.
        MembershipOverlap = "membership-overlap",
    }
}

impl UnsafeBug {
    /// True for the bugs of the sharded KV's replica groups (they mean nothing to a node of
    /// the single-group KV).
    pub fn is_sharded(self) -> bool {
        matches!(
            self,
            UnsafeBug::ShardServeEarly
                | UnsafeBug::ShardServeLate
                | UnsafeBug::ShardNoDedupTransfer
                | UnsafeBug::ConfigSkip
        )
    }

    /// The fault a run needs to exercise this bug, when it needs one (a run planting it
    /// without that fault would test nothing, so it is refused).
    pub fn needs_fault(self) -> Option<crate::Fault> {
        match self {
            UnsafeBug::MembershipOverlap => Some(crate::Fault::Membership),
            _ => None,
        }
    }
}

crate::names! {
    /// How a node makes `get` linearizable.
    pub enum ReadMode ("read mode") {
        /// Confirm leadership with a heartbeat round, then wait until the read index is
        /// applied (Raft thesis §6.4). The default.
        ReadIndex = "read-index",
        /// Send reads through the log like writes.
        Log = "log",
        /// Serve reads from a leader lease (thesis §6.4.1): fast, unsafe under clock skew.
        Lease = "lease",
    }
}

// `names!` enums cannot carry `#[default]`, so the default is written here.
#[allow(clippy::derivable_impls)]
impl Default for ReadMode {
    fn default() -> Self {
        ReadMode::ReadIndex
    }
}

crate::names! {
    /// A Raft role, as `GET /v1/status` reports it.
    pub enum Role ("role") {
        /// Follows a leader.
        Follower = "follower",
        /// Probing whether an election could be won (Raft thesis §9.6).
        PreCandidate = "pre-candidate",
        /// Standing for election.
        Candidate = "candidate",
        /// Leads its term.
        Leader = "leader",
    }
}

crate::names! {
    /// The operations of `POST /v1/kv`.
    pub enum KvOp ("op") {
        /// Read the key's value.
        Get = "get",
        /// Set the value.
        Put = "put",
        /// Append to the value (an absent key counts as empty).
        Append = "append",
        /// Set `value` if the current value is `expected`.
        Cas = "cas",
        /// Remove the key.
        Delete = "delete",
    }
}

/// The client session of the nemesis's own writes (the figure8 fault makes a leader take an
/// entry of its term with one); no workload client has it (theirs count up from 1).
pub const NEMESIS_CLIENT: u64 = u64::MAX;
/// The key of the nemesis's own writes: no workload generates it, so no history reads it.
pub const NEMESIS_KEY: &str = "faultline:nemesis";

/// The JSON body of `POST /v1/kv`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Client session id.
    pub client: u64,
    /// Sequence number within the session; a retry reuses it.
    pub seq: u64,
    /// The operation.
    pub op: KvOp,
    /// The key.
    pub key: String,
    /// put/append argument; cas new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// cas only: the expected value (`null`: the key is absent).
    #[serde(default)]
    pub expected: Option<String>,
}

/// The JSON response body of `POST /v1/kv`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseBody {
    /// What became of the request.
    pub status: Reply,
    /// get: the value read (`null`: absent); cas-mismatch: the current value.
    #[serde(default)]
    pub value: Option<String>,
    /// Machine-readable reason for fail / not-leader / unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The leader, when known (not-leader answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<LeaderHint>,
}

/// The Raft service's part of `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// This node.
    pub id: u64,
    /// Its role.
    pub role: Role,
    /// Current term.
    pub term: u64,
    /// The known leader.
    pub leader: Option<u64>,
    /// Commit index.
    pub commit_index: u64,
    /// Applied index.
    pub applied_index: u64,
    /// Last log index.
    pub last_log_index: u64,
    /// Entries held after the snapshot.
    pub log_entries: u64,
    /// Index covered by the latest snapshot.
    pub snapshot_index: u64,
    /// Size of the latest snapshot's data.
    pub snapshot_bytes: u64,
}

/// `GET /v1/status`: the service's status plus the driver's own figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Role, term, leader, indexes, log and snapshot sizes.
    #[serde(flatten)]
    pub service: Status,
    /// Size of the WAL file in bytes.
    pub wal_bytes: u64,
    /// The clock's offset.
    pub clock_offset_ms: i64,
    /// The clock's rate.
    pub clock_rate: f64,
    /// Sharded KV replica groups: the group's configuration and shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<crate::shard::GroupStatus>,
}

/// The body of `POST /v1/admin/clock` (and its answer): the adjustable part of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockSettings {
    /// Milliseconds added to the node's time (negative moves it back).
    pub offset_ms: i64,
    /// Speed of the node's time relative to real time (1.0 = normal). Must be in (0, 1000].
    pub rate: f64,
}

impl Default for ClockSettings {
    fn default() -> Self {
        ClockSettings { offset_ms: 0, rate: 1.0 }
    }
}

impl ClockSettings {
    /// Checks that the rate is finite and in (0, 1000] and the offset within ±10 days.
    ///
    /// # Errors
    /// A message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 1000.0) {
            return Err(format!("rate must be in (0, 1000], got {}", self.rate));
        }
        if self.offset_ms.unsigned_abs() > 10 * 24 * 3600 * 1000 {
            return Err(format!("offset_ms must be within ±10 days, got {}", self.offset_ms));
        }
        Ok(())
    }
}

crate::names! {
    /// A membership change, as the last path segment of `POST /v1/admin/members/{op}`.
    pub enum MemberOp ("member op") {
        /// Add a node as a learner (it gets the log; it neither votes nor counts).
        Add = "add",
        /// Make a caught-up learner a voter.
        Promote = "promote",
        /// Remove a voter or a learner.
        Remove = "remove",
    }
}

/// The body of `POST /v1/admin/members/{add,promote,remove}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRequest {
    /// The node to add, promote or remove.
    pub id: u64,
}

/// `GET /v1/admin/members`, and the answer to an accepted change: the configuration in
/// force on the node that answers (the latest in its log, committed or not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    /// The node that answers.
    pub id: u64,
    /// The leader it knows of.
    pub leader: Option<u64>,
    /// Voters, in id order.
    pub voters: Vec<u64>,
    /// Learners, in id order.
    pub learners: Vec<u64>,
    /// Index of the log entry that set this configuration (0: the bootstrap one).
    pub config_index: u64,
    /// True once that entry is committed (the next change may start).
    pub committed: bool,
}

crate::names! {
    /// Why a membership change was refused (`error` of [`MemberError`]).
    pub enum MemberRefusal ("member refusal") {
        /// Not the leader (HTTP 421; `leader` says who is).
        NotLeader = "not-leader",
        /// A change is in flight, or the leader has not committed an entry of its term yet
        /// (HTTP 409: retry later).
        Busy = "busy",
        /// The learner has not caught up with the commit index yet (HTTP 409: retry).
        NotCaughtUp = "not-caught-up",
        /// The change makes no sense for the configuration (HTTP 400).
        Invalid = "invalid",
    }
}

impl MemberRefusal {
    /// The HTTP status code of the refusal.
    pub fn http_status(self) -> u16 {
        match self {
            MemberRefusal::NotLeader => 421,
            MemberRefusal::Busy | MemberRefusal::NotCaughtUp => 409,
            MemberRefusal::Invalid => 400,
        }
    }
}

/// The body of a refused membership change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberError {
    /// Why, machine-readable.
    pub error: MemberRefusal,
    /// Why, for people.
    pub message: String,
    /// The leader, when known (not-leader answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<LeaderHint>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn wire_shapes() {
        let json = r#"{"client":17,"seq":3,"op":"cas","key":"k7","value":"5","expected":null}"#;
        let req: Request = serde_json::from_str(json).unwrap();
        assert_eq!(req.op, KvOp::Cas);
        assert_eq!(serde_json::to_string(&req).unwrap(), json);
        let bad = serde_json::from_str::<Request>(r#"{"client":1,"seq":1,"op":"frob","key":"k"}"#);
        assert!(bad.unwrap_err().to_string().contains("unknown op \"frob\""));
        let body: ResponseBody =
            serde_json::from_str(r#"{"status":"not-leader","value":null,"leader":{"id":2}}"#)
                .unwrap();
        assert_eq!(body.status, Reply::NotLeader);
        assert_eq!(body.leader, Some(LeaderHint { id: 2, client_addr: None }));
        assert_eq!("lease".parse::<ReadMode>().unwrap(), ReadMode::Lease);
        assert_eq!(UnsafeBug::NAMES.len(), UnsafeBug::ALL.len());
        let err: MemberError =
            serde_json::from_str(r#"{"error":"not-caught-up","message":"learner at 3, commit 9"}"#)
                .unwrap();
        assert_eq!((err.error, err.error.http_status()), (MemberRefusal::NotCaughtUp, 409));
        assert_eq!("promote".parse::<MemberOp>().unwrap(), MemberOp::Promote);
    }
}
