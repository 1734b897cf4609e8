//! What every node answers a client with, whatever it runs: the request's fate
//! ([`Reply`]) and where the leader is ([`LeaderHint`]). A leaf: the node's and the sharded
//! KV's wire types both build on it.

use serde::{Deserialize, Serialize};

crate::names! {
    /// What became of a request (the `status` of a response body).
    pub enum Reply ("status") {
        /// Applied; for get, `value` is the value read.
        Ok = "ok",
        /// Certainly not applied (`error` says why; `cas-mismatch` carries the current value).
        Fail = "fail",
        /// Rejected before proposing: this node is not the leader (`leader` says who is).
        NotLeader = "not-leader",
        /// May or may not have been applied (`timeout`, `leadership-lost`, `shutting-down`).
        Unknown = "unknown",
        /// Sharded KV: the key's shard is not this group's in its current config; certainly
        /// not applied (ask the controller for the latest config).
        WrongGroup = "wrong-group",
        /// Sharded KV: the shard is this group's but its data has not arrived yet; certainly
        /// not applied (retry).
        NotArrived = "not-arrived",
    }
}

/// Where the leader is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderHint {
    /// The leader's node id.
    pub id: u64,
    /// The leader's client address, when this node knows it.
    #[serde(default)]
    pub client_addr: Option<String>,
}
