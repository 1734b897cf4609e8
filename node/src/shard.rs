//! The sharded KV (6.824 labs 4A and 4B): a shard controller and replica groups that move
//! shards between each other while clients keep reading and writing.
//!
//! ```text
//!   clients ── key_shard(key) → gid (cached config; WrongGroup → query again) ──┐
//!      │ Query                                                                   ▼
//!  ┌───▼──────────────────┐  Query(n+1)   ┌──────────────────────────┐  Pull / Delete  ┌──────────┐
//!  │ controller (Raft grp)│◀──────────────│ group g (Raft grp):      │────────────────▶│ group h  │
//!  │ Controller: configs  │  every poll   │ Group: shards + sessions │◀── Shards/Done ─│          │
//!  └──────────────────────┘               │ Migrator (leader only)   │                 └──────────┘
//!                                         └──────────────────────────┘
//! ```
//!
//! Both state machines are pure and implement [`StateMachine`](crate::service::StateMachine),
//! so they run on the same Raft core, WAL, snapshots and session table as the KV store, in
//! the simulator (`sim::shard_cluster`; the tokio runtime still runs only the KV store). The [`Migrator`] is the
//! I/O-free part of a group leader that decides what to ask the controller and other
//! groups; its driver carries the requests.
//!
//! - [`config`]: [`ShardConfig`], [`Gid`] and [`key_shard`] (the one key → shard hash).
//! - [`rebalance`]: the deterministic, minimal-move rebalance.
//! - [`controller`]: the controller's state machine.
//! - [`group`]: a replica group's state machine.
//! - [`migration`]: the [`Migrator`].

pub mod config;
pub mod controller;
pub mod group;
pub mod migration;
pub mod rebalance;

pub use config::{key_shard, Gid, ShardConfig, DEFAULT_SHARDS};
pub use controller::{Controller, ControllerOptions, CtrlCommand, CtrlOp, CtrlResponse};
pub use group::{Group, GroupCommand, GroupOptions, GroupResponse, Shard, ShardState};
pub use migration::{Migrator, Outbound};
