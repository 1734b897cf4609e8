//! faultline-nemesis: cluster lifecycle (real processes, TCP proxies, network namespaces)
//! and fault injection (partitions, kills, pauses, clocks, packet loss), Jepsen-style.
//!
//! # Layout
//! - [`spec`]: [`ClusterSpec`], [`SystemSpec`], [`Backend`]: what to start.
//! - [`system`]: the [`System`] seam (Jepsen's DB): what runs — faultline's node, the sharded
//!   KV, etcd; [`SystemSpec::build`] is the one place systems are made.
//! - [`host`]: the [`Host`] seam: where nodes run and how they are reached — `local`
//!   (proxies) and `netns` (namespaces); [`process`]: the [`Process`] a host spawns;
//!   [`network`]: the [`Network`] seam the nemesis cuts (a host's, or a system's own);
//!   [`hosts`]: the ssh backend's hosts file.
//! - [`cluster`]: [`Cluster`]: start, reach, kill/pause/partition/clock, heal, shut down.
//! - [`partition`]: pure partition shapes and their grudges (petgraph).
//! - [`fault`], [`schedule`]: the fault vocabulary and the seeded plan (one alternative of
//!   the `FaultList` per fault period: `clock+partition,kill` is clock and partition
//!   together, or kill).
//! - [`nemesis`]: [`Nemesis`]: runs the plan against a cluster, reporting [`FaultEvent`]s.
//! - [`figure8`]: the Raft paper's Figure 8 as a partition sequence that follows the leaders.
//! - [`membership`]: the membership fault: remove a member, wipe it, add it back.
//! - [`powerfs`]: the power-loss disk (a FUSE mount over each node's data that can lose
//!   what was not fsynced) for the `power-loss` fault.
//! - `proxy`, `procnet`, `netns`, `ports`, `state`, `sync`: the real backends' parts, the
//!   run registry and cleanup.
//!
//! # Backends
//! - `local` (no root): nodes on 127.0.0.1; every node-to-node connection goes through a
//!   TCP proxy the controller owns. A cut closes live connections on the cut links and
//!   refuses new ones; heal lets them through again. No packet loss (Skipped).
//!   - faultline: one proxy per directed link (each node gets its own `--peer` map), and a
//!     faultline connection carries messages one way, so link `i -> j` is cut exactly.
//!   - etcd: every member dials the *same* advertised peer URL of a member, so per-link
//!     addresses are impossible. We run one proxy per destination (the advertised URL) and
//!     identify the dialing member by the process that owns the connecting socket
//!     (`/proc/net/tcp` inode -> `/proc/<pid>/fd`). etcd's connections carry traffic both
//!     ways (streams are opened by the receiver), so a connection between `i` and `j` is
//!     cut when either direction is; every partition shape here is symmetric, so grudges
//!     are applied exactly. A dialer that cannot be identified is refused while any link
//!     into its destination is cut. Non-peer requests on the peer port (`/version`,
//!     probes) are cut the same way.
//! - `netns` (root): one namespace and IP (10.77.K.i/24) per node on a bridge; `i -> j` is
//!   cut by `iptables -A INPUT -s <ip i> -j DROP` in `j`'s namespace (real packet loss, one
//!   way, as Jepsen does), and loss by iptables' `statistic --mode random` match.
//!
//! Clock faults reach faultline nodes through `POST /v1/admin/clock`. They cannot reach
//! etcd: Go reads the clock through the vDSO, which `LD_PRELOAD`/libfaketime does not
//! intercept, so etcd clock actions are `Skipped` with that reason ([`CLOCK_SKIP_REASON`]).
//!
//! # Cleanup
//! Every process, proxy, namespace, veth, bridge and rule a run makes is removed by
//! [`Cluster::shutdown`], by `Drop` (so also while a panic unwinds), on Ctrl-C/SIGTERM
//! (opt-in [`Cluster::spawn_signal_cleanup`], or [`Cluster::cleanup_handle`] from the
//! caller's own handler), and by the next [`Cluster::start`] after a crash: each run
//! registers its pids and names in `<tmp>/faultline-nemesis-<uid>/<tag>.json`, and a start sweeps
//! the entries whose controller process is dead. A hard-killed controller's nodes keep
//! running until that next start (children cannot be tied to the parent's death without
//! `unsafe` `pre_exec`).
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), faultline_nemesis::Error> {
//! use std::time::Duration;
//! use faultline_nemesis::{Backend, Cluster, ClusterSpec, Fault, Nemesis, NemesisConfig, SystemSpec};
//!
//! let system = SystemSpec::Etcd { binary: "/usr/bin/etcd".into(), serializable_reads: false };
//! let spec = ClusterSpec::new(system, 3, Backend::Local, "/tmp/run1".into(), 42);
//! let cluster = Cluster::start(spec).await?;
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let config = NemesisConfig::new(vec![Fault::Partition, Fault::Kill], Duration::from_secs(5), 42);
//! let mut nemesis = Nemesis::new(config);
//! nemesis.run(&cluster, Duration::from_secs(30), &tx).await?;
//! nemesis.heal_all(&cluster, &tx).await?;
//! while let Ok(ev) = rx.try_recv() {
//!     println!("{} {}", ev.name.f(), ev.history_value());
//! }
//! cluster.shutdown().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod cluster;
mod error;
pub mod fault;
pub mod figure8;
pub mod host;
pub mod hosts;
pub mod membership;
pub mod nemesis;
mod netns;
pub mod network;
pub mod partition;
mod ports;
pub mod powerfs;
pub mod process;
mod procnet;
mod proxy;
pub mod reconfigure;
pub mod schedule;
pub mod shards;
pub mod spec;
mod state;
mod sync;
pub use state::state_dir;
pub mod system;

pub use cluster::{CleanupHandle, Cluster};
pub use error::Error;
pub use fault::{Action, Fault};
pub use faultline_api::fault::{EventName, FaultEvent, FaultOutcome};
pub use host::Host;
pub use nemesis::Nemesis;
pub use network::Network;
pub use partition::{Grudge, Shape};
pub use ports::PORT_RANGE_ENV;
pub use process::Process;
pub use schedule::{NemesisConfig, Planned, Schedule};
pub use spec::{Backend, ClusterSpec, SystemSpec};
pub use system::etcd::CLOCK_SKIP_REASON;
pub use system::{NodeInfo, NodeStdio, Probe, System};
