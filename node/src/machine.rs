//! [`StateMachine`]: what a replicated state machine gives the
//! [`Service`](crate::service::Service),
//! so that the KV store, the shard controller and the replica groups share one Raft core,
//! WAL, snapshot path and pending-request table.
//!
//! ```text
//!  client Command ─▶ is_read? ─ yes ─▶ ReadIndex / lease ─▶ read(&cmd)
//!                             └ no ──▶ log (postcard bytes) ─▶ apply(&cmd) ─▶ Response
//!  snapshot() ─▶ bytes ─▶ restore(bytes)        (compaction, InstallSnapshot, restart)
//! ```

use crate::raft::types::{ClientId, NodeId, UnsafeBug};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use thiserror::Error;

/// A snapshot that cannot be restored.
#[derive(Debug, Error)]
#[error("cannot decode the state machine's snapshot: {0}")]
pub struct RestoreError(#[from] pub postcard::Error);

/// A deterministic state machine replicated through the Raft log.
pub trait StateMachine: Debug + Sized + Send + 'static {
    /// A command (stored in the log as postcard bytes).
    type Command: Clone + Debug + Serialize + DeserializeOwned + Send + 'static;
    /// The answer to a command.
    type Response: Clone + Debug + PartialEq + Send + 'static;
    /// What every replica needs to know to start (e.g. a replica group's id).
    type Options: Clone + Debug + Default + Send + 'static;

    /// An empty state machine; `bug` is the node's planted bug, if any.
    fn new(opts: &Self::Options, bug: Option<UnsafeBug>) -> Self;

    /// The client session and sequence number of `cmd`: a proposal is answered only if the
    /// entry applied at its index carries the same pair.
    fn request_id(cmd: &Self::Command) -> (ClientId, u64);

    /// True when `cmd` changes nothing and may be served by ReadIndex or a lease.
    fn is_read(cmd: &Self::Command) -> bool;

    /// Applies a committed command.
    fn apply(&mut self, cmd: &Self::Command) -> Self::Response;

    /// Serves a read command from the local state.
    fn read(&self, cmd: &Self::Command) -> Self::Response;

    /// The answer of a node that does not lead (`leader`: the one it knows of).
    fn not_leader(leader: Option<NodeId>) -> Self::Response;

    /// An answer of unknown outcome (`timeout`, `leadership-lost`, `shutting-down`).
    fn unknown(reason: &str) -> Self::Response;

    /// Encodes the whole state.
    fn snapshot(&self) -> Vec<u8>;

    /// A replica group's status for `GET /v1/status` (other machines: `None`).
    fn group_status(&self) -> Option<faultline_api::shard::GroupStatus> {
        None
    }

    /// Replaces the state with a snapshot's (empty bytes: the empty state).
    ///
    /// # Errors
    ///
    /// [`RestoreError`] when the bytes do not decode (the state is unchanged).
    fn restore(&mut self, bytes: &[u8]) -> Result<(), RestoreError>;
}
