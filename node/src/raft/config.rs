//! Configuration of one Raft core. Times are in ticks; the driver sets a tick's length.

use crate::raft::types::{NodeId, UnsafeBug};
use thiserror::Error;

/// Configuration of a [`crate::raft::RaftCore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// This node.
    pub id: NodeId,
    /// The bootstrap voters, this node included; empty for a node that joins an existing
    /// cluster (it learns its configuration from the leader's log). A snapshot or a config
    /// entry in the log overrides it.
    pub voters: Vec<NodeId>,
    /// Minimum election timeout in ticks; each timeout is drawn from
    /// `[election_ticks, 2 * election_ticks)` by the injected rng.
    pub election_ticks: u64,
    /// Heartbeat interval in ticks; must be below `election_ticks`.
    pub heartbeat_ticks: u64,
    /// Campaign with a pre-vote round first (Raft thesis §9.6).
    pub pre_vote: bool,
    /// Most entries in one `Append`.
    pub max_batch_entries: usize,
    /// Most bytes of entries in one `Append` (at least one entry is always sent).
    pub max_batch_bytes: usize,
    /// Most `Append` messages in flight to one follower (pipelining bound).
    pub max_inflight: usize,
    /// Size of one `InstallSnapshot` chunk.
    pub snapshot_chunk_bytes: usize,
    /// Lease length in ticks for lease reads; must be below `election_ticks` (the margin
    /// covers clock drift between nodes). Ignored unless the driver uses lease reads.
    pub lease_ticks: u64,
    /// A known bug to switch on (test only).
    pub bug: Option<UnsafeBug>,
}

/// A configuration that cannot work.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `voters` is not empty and does not contain `id`.
    #[error("voters {voters:?} do not include this node {id}")]
    NotAVoter {
        /// This node.
        id: u64,
        /// The voters.
        voters: Vec<u64>,
    },
    /// A timing parameter is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl RaftConfig {
    /// Defaults for a node in a cluster of `voters`: 10-tick heartbeat interval is set by
    /// the driver's tick length; here election 30 ticks, heartbeat 5, lease 15.
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> RaftConfig {
        RaftConfig {
            id,
            voters,
            election_ticks: 30,
            heartbeat_ticks: 5,
            pre_vote: true,
            max_batch_entries: 256,
            max_batch_bytes: 1 << 20,
            max_inflight: 8,
            snapshot_chunk_bytes: 64 * 1024,
            lease_ticks: 15,
            bug: None,
        }
    }

    /// Checks that the configuration can work.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.voters.is_empty() && !self.voters.contains(&self.id) {
            return Err(ConfigError::NotAVoter {
                id: self.id.0,
                voters: self.voters.iter().map(|v| v.0).collect(),
            });
        }
        let bad =
            |field, reason: &str| Err(ConfigError::Invalid { field, reason: reason.to_string() });
        if self.heartbeat_ticks == 0 {
            return bad("heartbeat_ticks", "must be at least 1");
        }
        if self.election_ticks <= self.heartbeat_ticks {
            return bad("election_ticks", "must be greater than heartbeat_ticks");
        }
        if self.lease_ticks >= self.election_ticks {
            return bad("lease_ticks", "must be less than election_ticks");
        }
        if self.max_inflight == 0 || self.max_batch_entries == 0 || self.snapshot_chunk_bytes == 0 {
            return bad("max_inflight", "batch, inflight and chunk sizes must be at least 1");
        }
        Ok(())
    }

    /// True when `bug` is switched on.
    pub fn has_bug(&self, bug: UnsafeBug) -> bool {
        self.bug == Some(bug)
    }
}
