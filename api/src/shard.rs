//! The sharded KV's shared vocabulary: the key → shard map, a shard configuration, and the
//! controller's HTTP API (`POST /v1/ctrl`). Defined here once; the node (controller and
//! replica groups), faultline's shard-aware client and the reconfiguration nemesis use them.
//!
//! ```text
//!  key ─FNV-1a 64 of the UTF-8 bytes─▶ h ─ h mod N ─▶ shard ─ config.shards[shard] ─▶ gid
//!                                                              config.groups[gid] ─▶ addrs
//!  client / nemesis / group ── POST /v1/ctrl CtrlRequest{client, seq, op, ..} ──▶ controller
//!                           ◀── CtrlResponseBody{status, config, error, leader} ──┘
//! ```
//!
//! [`key_shard`] is the only definition of the key-to-shard map.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::reply::{LeaderHint, Reply};

/// The number of shards when none is given (6.824's `NShards`).
pub const DEFAULT_SHARDS: usize = 10;

/// A replica group's id. [`Gid::NONE`] (0) owns the shards of a config with no group.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Gid(pub u64);

impl Gid {
    /// No group: shards assigned to it are served by nobody.
    pub const NONE: Gid = Gid(0);
}

impl fmt::Display for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}

/// The shard of `key` among `shards` shards: FNV-1a 64 of the key's UTF-8 bytes, modulo
/// `shards` (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`).
///
/// # Panics
///
/// If `shards` is 0.
pub fn key_shard(key: &str, shards: usize) -> usize {
    assert!(shards > 0, "a configuration has at least one shard");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards as u64) as usize
}

/// One configuration of the controller: `num` counts configurations from 0 (no group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardConfig {
    /// The configuration's number.
    pub num: u64,
    /// The owner of each shard.
    pub shards: Vec<Gid>,
    /// The servers of each group (addresses, in the group's own order).
    pub groups: BTreeMap<Gid, Vec<String>>,
}

impl ShardConfig {
    /// Configuration 0: `shards` shards, no group, every shard owned by [`Gid::NONE`].
    pub fn initial(shards: usize) -> ShardConfig {
        ShardConfig { num: 0, shards: vec![Gid::NONE; shards], groups: BTreeMap::new() }
    }

    /// The owner of `shard` ([`Gid::NONE`] when out of range).
    pub fn owner(&self, shard: usize) -> Gid {
        self.shards.get(shard).copied().unwrap_or(Gid::NONE)
    }

    /// The group that owns `key`.
    pub fn key_owner(&self, key: &str) -> Gid {
        self.owner(key_shard(key, self.shards.len().max(1)))
    }

    /// The shards `gid` owns, ascending.
    pub fn shards_of(&self, gid: Gid) -> Vec<usize> {
        (0..self.shards.len()).filter(|s| self.shards[*s] == gid).collect()
    }
}

/// A replica group's part of `GET /v1/status`: where this replica is in the
/// configurations, and the shards it holds by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group.
    pub gid: Gid,
    /// The configuration this replica has applied.
    pub config: u64,
    /// Shards owned and served.
    pub serving: Vec<usize>,
    /// Shards owned whose data has not arrived.
    pub pulling: Vec<usize>,
    /// Shards moved away, kept until the new owner has them.
    pub be_pulling: Vec<usize>,
    /// Shards arrived, served, not yet confirmed deleted by the old owner.
    pub gc_pending: Vec<usize>,
}

impl GroupStatus {
    /// True when no shard is in the middle of a move.
    pub fn is_settled(&self) -> bool {
        self.pulling.is_empty() && self.be_pulling.is_empty() && self.gc_pending.is_empty()
    }
}

crate::names! {
    /// What a `faultline-node` process runs (`--role`).
    pub enum NodeRole ("node role") {
        /// One Raft group serving the whole KV store (the default).
        Kv = "kv",
        /// The sharded KV's shard controller (`POST /v1/ctrl`).
        Controller = "controller",
        /// One replica group of the sharded KV (`--gid`, `--controller`).
        Group = "group",
    }
}

// `names!` enums cannot carry `#[default]`, so the default is written here.
#[allow(clippy::derivable_impls)]
impl Default for NodeRole {
    fn default() -> Self {
        NodeRole::Kv
    }
}

crate::names! {
    /// The operations of `POST /v1/ctrl`.
    pub enum CtrlWireOp ("controller op") {
        /// New groups (`groups`: gid → addresses); rebalances.
        Join = "join",
        /// Groups that go away (`gids`); rebalances.
        Leave = "leave",
        /// Gives `shard` to `gid`, without rebalancing.
        Move = "move",
        /// Configuration `num` (absent or -1: the latest).
        Query = "query",
    }
}

/// The JSON body of `POST /v1/ctrl`. `(client, seq)` de-duplicates join/leave/move as for
/// the KV store; a query needs neither.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtrlRequest {
    /// Client session id.
    #[serde(default)]
    pub client: u64,
    /// Sequence number within the session; a retry reuses it.
    #[serde(default)]
    pub seq: u64,
    /// The operation.
    pub op: CtrlWireOp,
    /// join: the new groups and their servers' client addresses.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<Gid, Vec<String>>,
    /// leave: the groups that go.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gids: Vec<Gid>,
    /// move: the shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<usize>,
    /// move: its new owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<Gid>,
    /// query: the configuration number (absent or negative: the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num: Option<i64>,
}

impl CtrlRequest {
    /// A query for configuration `num` (`None`: the latest).
    pub fn query(num: Option<u64>) -> CtrlRequest {
        CtrlRequest {
            client: 0,
            seq: 0,
            op: CtrlWireOp::Query,
            groups: BTreeMap::new(),
            gids: Vec::new(),
            shard: None,
            gid: None,
            num: num.and_then(|n| i64::try_from(n).ok()),
        }
    }
}

/// The JSON answer of `POST /v1/ctrl`: `ok` carries the configuration made (join, leave,
/// move) or asked for (query); `fail` is certainly not applied (`unknown-group`,
/// `bad-shard`); `not-leader` and `unknown` as for `POST /v1/kv`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtrlResponseBody {
    /// What became of the request.
    pub status: Reply,
    /// ok: the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ShardConfig>,
    /// Machine-readable reason for fail / not-leader / unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The leader, when known (not-leader answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<LeaderHint>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn fnv1a_reference_values() {
        // FNV-1a 64 test vectors: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c.
        assert_eq!(key_shard("", 1 << 20), (0xcbf2_9ce4_8422_2325u64 % (1 << 20)) as usize);
        assert_eq!(key_shard("a", 1 << 20), (0xaf63_dc4c_8601_ec8cu64 % (1 << 20)) as usize);
        assert_eq!(key_shard("foobar", 1 << 20), (0x8594_4171_f739_67e8u64 % (1 << 20)) as usize);
        let spread: std::collections::BTreeSet<usize> =
            (0..100).map(|i| key_shard(&format!("k{i}"), DEFAULT_SHARDS)).collect();
        assert_eq!(spread.len(), DEFAULT_SHARDS, "100 keys reach every shard");
    }

    #[test]
    fn owners() {
        let mut c = ShardConfig::initial(4);
        c.shards = vec![Gid(1), Gid(2), Gid(1), Gid::NONE];
        assert_eq!(c.shards_of(Gid(1)), vec![0, 2]);
        assert_eq!(c.owner(9), Gid::NONE);
        assert_eq!(c.key_owner("a"), c.owner(key_shard("a", 4)));
    }

    #[test]
    fn ctrl_wire_shapes() {
        let json = r#"{"client":1,"seq":2,"op":"join","groups":{"3":["127.0.0.1:1"]}}"#;
        let req: CtrlRequest = serde_json::from_str(json).unwrap();
        assert_eq!(req.groups[&Gid(3)], vec!["127.0.0.1:1".to_string()]);
        assert_eq!(serde_json::to_string(&req).unwrap(), json);
        let q = serde_json::to_string(&CtrlRequest::query(Some(4))).unwrap();
        assert_eq!(q, r#"{"client":0,"seq":0,"op":"query","num":4}"#);
        let mut c = ShardConfig::initial(2);
        c.shards[1] = Gid(3);
        let body =
            CtrlResponseBody { status: Reply::Ok, config: Some(c), error: None, leader: None };
        let s = serde_json::to_string(&body).unwrap();
        assert_eq!(s, r#"{"status":"ok","config":{"num":0,"shards":[0,3],"groups":{}}}"#);
        assert_eq!(serde_json::from_str::<CtrlResponseBody>(&s).unwrap(), body);
    }
}
