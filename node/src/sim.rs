//! The seeded deterministic simulator: every node's [`Service`](crate::service::Service) on one thread, a simulated
//! network, one simulated disk per node, virtual time and one seeded `ChaCha8Rng`.
//!
//! ```text
//!  EventQueue (virtual time, seq) ─pop─▶ Tick | Deliver | DiskDone | Request
//!        ▲                                   │ feed the node's Service
//!        │                                   ▼
//!        └── Deliver (SimNet: cut? lost? delay) ◀─ Send ◀┐ take_outputs(), in order:
//!        └── DiskDone (SimDisk: fsync latency)  ◀─ Persist ┤ a Send waits as the runtime's
//!                                         replies ◀─ Respond ┘ SendGate says (runtime/gate.rs)
//! ```
//!
//! The same seed replays the same run. A crash drops the node's `Service` and its unsynced
//! writes; a restart rebuilds it from the disk's durable state. A pause stashes the node's
//! events; clock rate and offset change how virtual time turns into the node's ticks.
//!
//! ```
//! use faultline_node::sim::{SimCluster, SimConfig};
//! let mut sim = SimCluster::new(SimConfig::builder().seed(7).nodes(3).build());
//! sim.run_for(2_000_000); // two virtual seconds
//! assert!(sim.leader().is_some());
//! ```

mod cluster;
pub mod disk;
pub mod event;
pub mod net;
pub mod shard_admin;
pub mod shard_clients;
pub mod shard_cluster;
pub mod workload;

#[cfg(test)]
mod harness;
#[cfg(test)]
mod kv_test;
#[cfg(test)]
mod raft_test;
#[cfg(test)]
mod shard_test;

pub use cluster::{Reply, SimCluster, SimStats};
pub use net::{NetConfig, SimNet};

use crate::raft::config::RaftConfig;
use crate::raft::types::{NodeId, ReadMode, UnsafeBug};
use crate::service::ServiceConfig;

/// Configuration of a simulated cluster. Times are virtual microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// The run's seed: the network, the nodes' rngs and the workload all derive from it.
    pub seed: u64,
    /// Number of nodes (ids 1..=nodes).
    pub nodes: usize,
    /// Network behaviour.
    pub net: NetConfig,
    /// Length of one tick.
    pub tick_us: u64,
    /// Minimum election timeout in ticks.
    pub election_ticks: u64,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u64,
    /// Lease length in ticks (lease reads).
    pub lease_ticks: u64,
    /// Time one fsync takes.
    pub fsync_us: u64,
    /// One-way delay between a client and a node.
    pub client_delay_us: u64,
    /// How reads are served.
    pub read_mode: ReadMode,
    /// Log size that triggers a snapshot.
    pub snapshot_threshold_bytes: usize,
    /// Chunk size of InstallSnapshot.
    pub snapshot_chunk_bytes: usize,
    /// Request timeout in ticks.
    pub request_timeout_ticks: u64,
    /// A known bug to switch on.
    pub bug: Option<UnsafeBug>,
}

impl SimConfig {
    /// A builder with defaults: 3 nodes, reliable network, 10 ms ticks, 300 ms elections.
    pub fn builder() -> SimConfigBuilder {
        SimConfigBuilder {
            cfg: SimConfig {
                seed: 0,
                nodes: 3,
                net: NetConfig::reliable(),
                tick_us: 10_000,
                election_ticks: 30,
                heartbeat_ticks: 5,
                lease_ticks: 15,
                fsync_us: 500,
                client_delay_us: 300,
                read_mode: ReadMode::ReadIndex,
                snapshot_threshold_bytes: 1 << 20,
                snapshot_chunk_bytes: 64 * 1024,
                request_timeout_ticks: 100,
                bug: None,
            },
        }
    }

    /// The ids of the nodes.
    pub fn ids(&self) -> Vec<NodeId> {
        (1..=self.nodes as u64).map(NodeId).collect()
    }

    /// The Raft configuration of node `id`.
    pub fn raft_config(&self, id: NodeId) -> RaftConfig {
        let mut c = RaftConfig::new(id, self.ids());
        c.election_ticks = self.election_ticks;
        c.heartbeat_ticks = self.heartbeat_ticks;
        c.lease_ticks = self.lease_ticks;
        c.snapshot_chunk_bytes = self.snapshot_chunk_bytes;
        c.bug = self.bug;
        c
    }

    /// The service configuration of every node.
    pub fn service_config(&self) -> ServiceConfig {
        ServiceConfig {
            read_mode: self.read_mode,
            snapshot_threshold_bytes: self.snapshot_threshold_bytes,
            request_timeout_ticks: self.request_timeout_ticks,
        }
    }
}

/// Builds a [`SimConfig`] (turmoil-style).
#[derive(Clone, Debug)]
pub struct SimConfigBuilder {
    cfg: SimConfig,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, v: $ty) -> Self {
            self.cfg.$name = v;
            self
        }
    };
}

impl SimConfigBuilder {
    setter!(/// The seed.
        seed: u64);
    setter!(/// Number of nodes.
        nodes: usize);
    setter!(/// Network behaviour.
        net: NetConfig);
    setter!(/// Tick length (µs).
        tick_us: u64);
    setter!(/// Minimum election timeout (ticks).
        election_ticks: u64);
    setter!(/// Heartbeat interval (ticks).
        heartbeat_ticks: u64);
    setter!(/// Lease length (ticks).
        lease_ticks: u64);
    setter!(/// fsync latency (µs).
        fsync_us: u64);
    setter!(/// Client one-way delay (µs).
        client_delay_us: u64);
    setter!(/// Read mode.
        read_mode: ReadMode);
    setter!(/// Snapshot threshold (bytes of log).
        snapshot_threshold_bytes: usize);
    setter!(/// InstallSnapshot chunk size.
        snapshot_chunk_bytes: usize);
    setter!(/// Request timeout (ticks).
        request_timeout_ticks: u64);

    /// Switches a known bug on (or off with `None`).
    pub fn bug(mut self, bug: Option<UnsafeBug>) -> Self {
        self.cfg.bug = bug;
        self
    }

    /// Uses 6.824's unreliable network.
    pub fn unreliable(mut self) -> Self {
        self.cfg.net = NetConfig::unreliable();
        self
    }

    /// The configuration.
    pub fn build(self) -> SimConfig {
        self.cfg
    }
}

/// The seed for a test: `FAULTLINE_SEED` when set, else `default`.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("FAULTLINE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The seeds for a test: `FAULTLINE_SEED` alone when set; else `FAULTLINE_SEEDS=N` seeds
/// from `first`, or `default_count` seeds.
pub fn seeds_from_env(first: u64, default_count: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("FAULTLINE_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let n =
        std::env::var("FAULTLINE_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default_count);
    (first..first + n).collect()
}

/// The message that tells how to replay a failing seed.
pub fn repro(test: &str, seed: u64) -> String {
    format!(
        "seed {seed} failed; reproduce with: FAULTLINE_SEED={seed} cargo test -p faultline-node --release {test}"
    )
}
