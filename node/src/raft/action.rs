//! The core's output: what the driver must do next, in order.

use crate::raft::message::Message;
use crate::raft::types::{Entry, HardState, LogIndex, Snapshot};

/// Identifies one ReadIndex request; chosen by the caller of
/// [`crate::raft::RaftCore::read_index`] and handed back in [`Action::ReadReady`].
pub type ReadId = u64;

/// One thing the driver must do. [`crate::raft::RaftCore::take_actions`] returns them in
/// the order they must happen.
///
/// # Ordering rule
///
/// The driver runs actions in order, with one relaxation: it may start a `Persist*` and
/// go on, but **a [`Action::Send`] that follows a `Persist*` action in the list must not
/// leave the node until every earlier persist is durable (fsynced)**. This is what makes
/// "votes, terms and entries are durable before they are acknowledged" true (Raft paper
/// Figure 2). A `Send` placed *before* a persist may leave at once: a leader sends new
/// entries to followers while it writes them itself (Raft thesis §10.2.1).
///
/// When a `PersistEntries` is durable, the driver calls
/// [`crate::raft::RaftCore::on_persisted`] with the index and term of the last entry
/// written, so that a leader may count itself towards a commit quorum.
///
/// `Apply`, `ApplySnapshot` and `ReadReady` concern the local state machine and need no
/// wait (they only ever cover committed entries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make the term and vote durable.
    PersistHardState(HardState),
    /// Make entries durable. When `truncate_from` is set, first delete every entry at that
    /// index and above (a new leader overwrote them), then append `entries`.
    /// `entries` are contiguous and, when non-empty, start at `truncate_from` if set,
    /// else right after the last entry previously persisted.
    PersistEntries {
        /// Delete the log from this index on before appending.
        truncate_from: Option<LogIndex>,
        /// The entries to append.
        entries: Vec<Entry>,
    },
    /// Make the snapshot durable (atomically: temp file, fsync, rename) and drop every log
    /// entry up to `snapshot.meta.last_index`. When `retain_suffix` is false (a follower
    /// installed a snapshot that its log contradicts), also drop every entry above it; the
    /// two must be atomic with respect to a crash (e.g. a WAL marker record written after
    /// the snapshot file is in place; recovery drops entries before the latest marker).
    PersistSnapshot {
        /// The snapshot.
        snapshot: Snapshot,
        /// Keep the entries above the snapshot (false: the log restarts after it).
        retain_suffix: bool,
    },
    /// Send a message to `msg.to` (best effort: it may be dropped).
    Send(Message),
    /// Apply these committed entries to the state machine, in order.
    Apply(Vec<Entry>),
    /// Replace the state machine with this snapshot (received from the leader).
    ApplySnapshot(Snapshot),
    /// The ReadIndex request `id` may be served once the state machine has applied `index`.
    ReadReady {
        /// The caller's id for the read.
        id: ReadId,
        /// The read index: serve the read once `applied >= index`.
        index: LogIndex,
    },
    /// The ReadIndex request `id` cannot be served here (leadership lost): answer the
    /// client "not leader" / "unknown".
    ReadFailed {
        /// The caller's id for the read.
        id: ReadId,
    },
}
