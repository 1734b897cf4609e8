//! faultline-nemesis: cluster lifecycle (real processes, TCP proxies, network namespaces)
//! and fault injection (partitions, kills, pauses, clocks, packet loss), Jepsen-style.
//!
//! # Layout
//! - [`spec`]: [`ClusterSpec`], [`SystemKind`], [`Backend`]: what to start.
//! - [`system`]: the [`System`] interface (Jepsen's DB) for `faultline-node` and etcd.
//! - [`cluster`]: [`Cluster`]: start, reach, kill/pause/partition/clock, heal, shut down.
//! - [`partition`]: pure partition shapes and their grudges (petgraph).
//! - [`fault`], [`schedule`]: the fault vocabulary and the seeded plan.
//! - [`nemesis`]: [`Nemesis`]: runs the plan against a cluster, reporting [`NemesisEvent`]s.
//! - `proxy`, `procnet`, `netns`, `process`, `state`: the real backends and cleanup.
//!
//! Backends: `local` cuts links with per-link TCP proxies (etcd's single advertised peer
//! URL is handled with one proxy per destination that identifies the dialing member by the
//! process owning the connecting socket); `netns` uses namespaces and iptables (root).
//! Everything a run makes is removed on shutdown, on drop (panics), on Ctrl-C (opt-in
//! [`Cluster::spawn_signal_cleanup`]), and by the next run after a crash.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), faultline_nemesis::Error> {
//! use std::time::Duration;
//! use faultline_nemesis::{Backend, Cluster, ClusterSpec, Fault, Nemesis, NemesisConfig, SystemKind};
//!
//! let system = SystemKind::Etcd { binary: "/usr/bin/etcd".into(), serializable_reads: false };
//! let spec = ClusterSpec::new(system, 3, Backend::Local, "/tmp/run1".into(), 42);
//! let cluster = Cluster::start(spec).await?;
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let config = NemesisConfig::new(vec![Fault::Partition, Fault::Kill], Duration::from_secs(5), 42);
//! let mut nemesis = Nemesis::new(config);
//! nemesis.run(&cluster, Duration::from_secs(30), &tx).await?;
//! nemesis.heal_all(&cluster, &tx).await?;
//! while let Ok(ev) = rx.try_recv() {
//!     println!("{} {}", ev.f, ev.history_value());
//! }
//! cluster.shutdown().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod cluster;
mod error;
pub mod fault;
pub mod nemesis;
mod netns;
mod outcome;
pub mod partition;
mod process;
mod procnet;
mod proxy;
pub mod schedule;
pub mod spec;
mod state;
pub mod system;

pub use cluster::{CleanupHandle, Cluster};
pub use error::Error;
pub use fault::{Action, Fault};
pub use nemesis::Nemesis;
pub use outcome::{NemesisEvent, Outcome};
pub use partition::{Grudge, Shape};
pub use schedule::{NemesisConfig, Schedule};
pub use spec::{Backend, ClusterSpec, SystemKind};
pub use system::etcd::CLOCK_SKIP_REASON;
pub use system::{NodeInfo, System};
