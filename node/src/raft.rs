//! The sans-IO Raft core (Raft paper; Raft thesis for pre-vote, ReadIndex and leases).
//!
//! ```text
//!            step(msg) ─┐   tick() ─┐   propose(cmd) ─┐   read_index(id) ─┐  propose_change ─┐
//!                       ▼           ▼                 ▼                   ▼                  ▼
//!                 ┌─────────────────────────────────────────────────────────────────────────┐
//!                 │ RaftCore: election.rs  replication.rs  read_index.rs  membership.rs      │
//!                 │           snapshot.rs  log.rs  progress.rs                               │
//!                 └─────────────────────────────────────────────────────────────────────────┘
//!                       │ take_actions(), in order:
//!                       ▼
//!   PersistHardState | PersistEntries | PersistSnapshot | Send | Apply | ApplySnapshot
//!   | ReadReady | ReadFailed            ── driver runs them; fsync done ─▶ on_persisted()
//! ```
//!
//! The core never reads a clock, never does I/O and never draws from an unseeded rng: the
//! same inputs give the same outputs, which is what lets the simulator replay a seed.

pub mod action;
pub mod config;
pub mod core;
mod election;
pub mod error;
pub mod log;
pub mod membership;
pub mod message;
pub mod progress;
pub mod read_index;
mod replication;
mod snapshot;
mod status;
pub mod types;

#[cfg(test)]
mod core_test;
#[cfg(test)]
mod membership_test;

pub use action::{Action, ReadId};
pub use config::{ConfigError, RaftConfig};
pub use core::{
    ChangeError, CompactError, DurableState, ProposeError, RaftCore, ReadIndexError, Stats,
};
pub use log::RaftLog;
pub use membership::MemberChange;
pub use message::{Body, Message};
pub use progress::{Progress, ProgressState};
pub use types::{
    ClientId, Entry, EntryPayload, HardState, LogIndex, Membership, NodeId, ReadMode, Role,
    Snapshot, SnapshotMeta, Term, UnsafeBug,
};
