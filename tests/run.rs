//! `faultline run` end to end: real clusters (faultline nodes, etcd, Maelstrom nodes), real
//! faults (the membership fault included), the store layout, exit codes, replay, spec-file
//! errors, and planted bugs being caught.
//!
//! Cluster tests run one at a time (a lock in `util`), each sized to ~10-20 s. The long
//! soak and catch-rate matrix are `#[ignore]`d; see `matrix.rs` for the commands, and
//! `interrupt.rs` for the interrupted-runs soak.

mod config;
mod etcd;
mod faultline;
mod interrupt;
pub(crate) mod leftovers;
mod maelstrom;
mod matrix;
mod membership;
mod netns;
mod nonroot;
mod powerloss;
mod sharded;
mod ssh;
pub(crate) mod util;
