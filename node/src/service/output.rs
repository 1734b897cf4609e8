//! The service's configuration and what comes out of it: driver outputs, status, the
//! apply trace.

use crate::api::Response;
use crate::raft::message::Message;
use crate::raft::types::{Entry, HardState, LogIndex, ReadMode, Snapshot, Term};

use super::RequestToken;

/// Configuration of the service layer (the core has its own [`RaftConfig`](crate::raft::RaftConfig)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// How `get` is served.
    pub read_mode: ReadMode,
    /// Take a snapshot and compact the log once the log holds more bytes than this.
    pub snapshot_threshold_bytes: usize,
    /// A request not answered within this many ticks gets `unknown` / `timeout`.
    pub request_timeout_ticks: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            read_mode: ReadMode::ReadIndex,
            snapshot_threshold_bytes: 1 << 20,
            request_timeout_ticks: 200,
        }
    }
}

/// What the driver must do, in order. The ordering rule of [`Action`](crate::raft::Action) applies: a `Send`
/// after a `Persist*` waits until that persist is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output<R = Response> {
    /// See [`Action::PersistHardState`](crate::raft::Action::PersistHardState).
    PersistHardState(HardState),
    /// See [`Action::PersistEntries`](crate::raft::Action::PersistEntries); call [`Service::on_persisted`](super::Service::on_persisted) once durable.
    PersistEntries {
        /// Delete the log from this index on before appending.
        truncate_from: Option<LogIndex>,
        /// The entries to append.
        entries: Vec<Entry>,
    },
    /// See [`Action::PersistSnapshot`](crate::raft::Action::PersistSnapshot).
    PersistSnapshot {
        /// The snapshot.
        snapshot: Snapshot,
        /// Keep the entries above the snapshot.
        retain_suffix: bool,
    },
    /// Send a peer message (best effort).
    Send(Message),
    /// Answer the client request `token`.
    Respond {
        /// The request.
        token: RequestToken,
        /// The answer.
        response: R,
    },
}

pub use faultline_api::node::Status;

/// One thing applied to the state machine, as recorded by [`Service::trace_applies`](super::Service::trace_applies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A committed entry.
    Entry(Entry),
    /// A snapshot covering everything up to `index` (term `term`).
    Snapshot {
        /// The snapshot's last index.
        index: LogIndex,
        /// The term of that entry.
        term: Term,
    },
}
