//! What cluster to start: the system, the node count, the network backend, the run dir.

use std::path::PathBuf;
use std::time::Duration;

use faultline_api::{ReadMode, UnsafeBug};

use crate::Error;

/// Which system runs on the nodes, and how to start it.
#[derive(Debug, Clone, PartialEq)]
pub enum SystemSpec {
    /// faultline's own node (`faultline-node`, see `docs/node-api.md`).
    Faultline {
        /// Path of the `faultline-node` binary.
        binary: PathBuf,
        /// `--unsafe-bug NAME`, passed to every node (test-only bugs).
        unsafe_bug: Option<UnsafeBug>,
        /// `--read-mode`, passed to every node.
        read_mode: Option<ReadMode>,
        /// Further arguments passed verbatim to every node (e.g. `--election-timeout-ms 300`).
        extra_args: Vec<String>,
    },
    /// faultline's sharded KV: a shard controller group then replica groups, each of
    /// `group_size` nodes, cut in order from the cluster's nodes.
    Sharded {
        /// Path of the `faultline-node` binary.
        binary: PathBuf,
        /// `--unsafe-bug NAME`, passed to every replica group node (test-only bugs).
        unsafe_bug: Option<UnsafeBug>,
        /// Further arguments passed verbatim to every node.
        extra_args: Vec<String>,
        /// Nodes per Raft group.
        group_size: usize,
    },
    /// etcd 3.4 (Debian's `etcd-server`), driven through its HTTP/JSON gateway.
    Etcd {
        /// Path of the `etcd` binary (Debian: `/usr/bin/etcd`).
        binary: PathBuf,
        /// Whether clients should use serializable (possibly stale) reads. The cluster
        /// itself does not use this; it is here so clients find it next to the system.
        serializable_reads: bool,
    },
    /// Any program speaking Maelstrom's node protocol; faultline is its network
    /// ([`crate::system::maelstrom`]).
    Maelstrom {
        /// The node's command line, program first.
        command: Vec<String>,
    },
}

impl SystemSpec {
    /// `"faultline"` or `"etcd"`.
    pub fn name(&self) -> &'static str {
        match self {
            SystemSpec::Faultline { .. } => "faultline",
            SystemSpec::Sharded { .. } => "sharded",
            SystemSpec::Etcd { .. } => "etcd",
            SystemSpec::Maelstrom { .. } => "maelstrom",
        }
    }

    /// The binary this system runs (a Maelstrom command's program, found on `PATH` when it
    /// names no directory).
    pub fn binary(&self) -> PathBuf {
        match self {
            SystemSpec::Faultline { binary, .. }
            | SystemSpec::Sharded { binary, .. }
            | SystemSpec::Etcd { binary, .. } => binary.clone(),
            SystemSpec::Maelstrom { command } => {
                command.first().map_or_else(PathBuf::new, |p| find_program(p))
            }
        }
    }
}

/// `program` itself when it names a directory (`./node`, `/usr/bin/x`), else the first
/// `PATH` entry holding it (`program` unchanged when none does).
pub fn find_program(program: &str) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}

pub use faultline_api::Backend;

/// Everything needed to start a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    /// The system under test.
    pub system: SystemSpec,
    /// Number of nodes, 1..=9 (etcd: 1, 3 or 5 make sense; any count works).
    pub nodes: usize,
    /// The network backend.
    pub backend: Backend,
    /// The run dir: node `nK` keeps its log in `<dir>/nodes/nK/node.log` and its data in
    /// `<dir>/nodes/nK/data`.
    pub dir: PathBuf,
    /// Seed passed to nodes that take one (faultline's `--seed`).
    pub seed: u64,
    /// How long [`crate::Cluster::start`] waits for every node to answer (default 30s).
    pub ready_timeout: Duration,
    /// Whether each node's data dir is a power-loss disk ([`crate::powerfs`]): the
    /// `power-loss` fault needs it. The bytes live in `<dir>/nodes/nK/data.disk`.
    pub power_loss: bool,
    /// The machines of the ssh backend (node `nK` on the K-th host).
    pub hosts: Option<crate::hosts::HostsFile>,
}

impl ClusterSpec {
    /// A spec with the default ready timeout.
    pub fn new(
        system: SystemSpec,
        nodes: usize,
        backend: Backend,
        dir: PathBuf,
        seed: u64,
    ) -> Self {
        ClusterSpec {
            system,
            nodes,
            backend,
            dir,
            seed,
            ready_timeout: Duration::from_secs(30),
            power_loss: false,
            hosts: None,
        }
    }

    /// Checks the spec.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the field, [`Error::BinaryMissing`] when the binary is absent.
    pub fn validate(&self) -> Result<(), Error> {
        // The sharded KV runs a controller group and up to 9 replica groups of up to 9.
        let max = if matches!(self.system, SystemSpec::Sharded { .. }) { 90 } else { 9 };
        if self.nodes == 0 || self.nodes > max {
            return Err(Error::Spec(format!("nodes: {} is not in 1..={max}", self.nodes)));
        }
        if let SystemSpec::Sharded { group_size, .. } = self.system {
            if group_size == 0
                || !self.nodes.is_multiple_of(group_size)
                || self.nodes < 2 * group_size
            {
                return Err(Error::Spec(format!(
                    "sharded: {} nodes do not make a controller group and replica groups of {}",
                    self.nodes, group_size
                )));
            }
        }
        if let SystemSpec::Maelstrom { command } = &self.system {
            if command.is_empty() {
                return Err(Error::Spec("maelstrom: an empty node command".into()));
            }
        }
        let bin = self.system.binary();
        if !bin.is_file() {
            let hint = match self.system {
                SystemSpec::Maelstrom { .. } => {
                    "the node command's program is neither a file nor on PATH"
                }
                SystemSpec::Faultline { .. } | SystemSpec::Sharded { .. } => {
                    "build it with `cargo build --release -p faultline-node`"
                }
                SystemSpec::Etcd { .. } => "install it with `apt-get install -y etcd-server`",
            };
            return Err(Error::BinaryMissing { path: bin, hint: hint.into() });
        }
        Ok(())
    }

    /// Names of the nodes: `n1`..`nN`.
    pub fn node_names(&self) -> Vec<String> {
        (0..self.nodes).map(faultline_api::node_name).collect()
    }
}
