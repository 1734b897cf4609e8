//! faultline-node: the Raft/KV node that faultline tests by default.
//!
//! A sans-IO Raft core ([`raft::RaftCore`]), a KV state machine with client sessions
//! ([`kv::Kv`]), the service layer both drivers share ([`service::Service`]), storage
//! ([`storage`]: the trait, an in-memory store and the file WAL), and a seeded
//! deterministic simulator (`sim`, feature `sim`).
//!
//! # Layout
//!
//! - [`raft`]: the consensus core: election, replication, ReadIndex, snapshots.
//! - [`config`]: the node binary's flags and TOML file.
//! - [`api`]: client commands and responses (typed and JSON).
//! - [`kv`]: the pure state machine: `apply(&Command) -> Response`.
//! - [`service`]: core + state machine + pending client requests, without I/O; generic over
//!   the [`service::StateMachine`] (the KV store, the shard controller, a replica group).
//! - [`session`]: the client session (de-duplication) table every state machine shares.
//! - [`shard`]: the shard controller and the sharded KV replica groups (6.824 labs 4A/4B).
//! - [`storage`]: what survives a crash (the trait, `MemStorage`, and the file WAL with
//!   checksummed records and atomic snapshots in [`storage::wal`]).
//! - [`runtime`]: the tokio driver of real processes: the event loop, the WAL task, the peer
//!   transport (one-way TCP, binary frames), the HTTP client/admin API, and the node clock.
//! - `sim`: `SimCluster`, one thread, virtual time, one seeded rng.
//!
//! # Example
//!
//! ```
//! # use faultline_node::raft::{RaftConfig, RaftCore, DurableState, NodeId, Role, Action};
//! # use rand_chacha::ChaCha8Rng;
//! # use rand::SeedableRng;
//! let cfg = RaftConfig::new(NodeId(1), vec![NodeId(1)]);
//! let mut core = RaftCore::new(cfg, DurableState::default(), ChaCha8Rng::seed_from_u64(7))?;
//! while core.role() != Role::Leader {
//!     core.tick();
//! }
//! let index = core.propose(b"hello".to_vec())?;
//! for action in core.take_actions() {
//!     if let Action::PersistEntries { entries, .. } = &action {
//!         let last = entries.last().unwrap();
//!         core.on_persisted(last.index, last.term);
//!     }
//! }
//! assert_eq!(core.commit_index(), index);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod api;
pub mod config;
pub mod kv;
pub mod machine;
pub mod raft;
pub mod runtime;
pub mod service;
pub mod session;
pub mod shard;
#[cfg(test)]
pub mod sim;
pub mod storage;
