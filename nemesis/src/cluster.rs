//! A running cluster: start it, reach it, hurt it, heal it, tear it down.
//!
//! ```text
//! ClusterSpec ──start──> sweep stale runs ─> registry entry ─> SystemSpec::build ─> host
//!                        ─> host.layout ─> system.prepare ─> disks
//!                        ─> spawn every node ─> wait: all answer + a leader ──> Cluster
//! Cluster: kill/start_node/stop/pause/resume/wipe   set_cut/heal   set_clock   set_loss
//!          members/change_member/start_joining (the membership fault)
//!          shutdown (or Drop, or CleanupHandle) ──> nothing left behind
//! ```
#![allow(clippy::disallowed_methods)] // real processes and real waiting: this is an I/O module

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::host;
use crate::partition::Grudge;
use crate::process::Proc;
use crate::state::Registry;
use crate::sync::lock;
use crate::system::{NodeInfo, NodeStdio, Probe, System};
use crate::{Backend, ClusterSpec, Error, FaultOutcome};

mod control;
mod guard;
mod members;

pub use guard::CleanupHandle;
use guard::Shared;

/// A running cluster of real processes.
///
/// Dropping it (also during a panic) kills every process and removes every proxy,
/// namespace and rule, synchronously; [`Cluster::shutdown`] does the same gracefully.
#[derive(Debug)]
pub struct Cluster {
    spec: ClusterSpec,
    system: Box<dyn System>,
    nodes: Vec<NodeInfo>,
    tag: String,
    http: reqwest::Client,
    shared: Arc<Shared>,
    /// Current clock settings per node (offset ms, rate).
    clocks: Mutex<Vec<(i64, f64)>>,
    /// Currently cut links.
    cut: Mutex<BTreeSet<(usize, usize)>>,
    /// The network's cut-traffic counter when the current partition began, and what the
    /// last healed partition stopped.
    cut_traffic: Mutex<(Option<u64>, Option<u64>)>,
    /// Current packet loss probability.
    loss: Mutex<f64>,
    /// The Raft groups (node indices); one unless the system runs several.
    raft_groups: Vec<Vec<usize>>,
    /// Which Raft group the next leader-targeted fault goes for.
    leader_turn: std::sync::atomic::AtomicUsize,
    /// Per node: started (and restarted) as a newcomer (`System::join_command`) since the
    /// membership fault wiped it.
    joining: Mutex<Vec<bool>>,
    /// Per node: removed by the membership fault and not yet a voter again.
    removed: Mutex<Vec<bool>>,
}

impl Cluster {
    /// Starts every node and waits until all answer and one is leader.
    ///
    /// First removes what crashed earlier runs left behind (processes, namespaces).
    ///
    /// # Errors
    /// A bad spec, a missing binary, no root for netns, a node that exits or does not
    /// answer within `spec.ready_timeout`. Whatever was started is removed again.
    pub async fn start(spec: ClusterSpec) -> Result<Cluster, Error> {
        spec.validate()?;
        let with_netns = spec.backend == Backend::Netns;
        host::check(spec.backend, spec.hosts.as_ref())?;
        let cleaned = host::sweep_stale(with_netns);
        if !cleaned.is_empty() {
            tracing::warn!(?cleaned, "removed stale state of crashed runs");
        }
        let system = spec.system.build(spec.seed);
        let taken = host::taken_tags(spec.backend);
        let registry = Registry::create(&spec.system.binary(), with_netns, &taken)?;
        let tag = registry.tag.clone();
        let n = spec.nodes;
        let host = match host::create(spec.backend, spec.hosts.as_ref(), &tag, n).await {
            Ok(h) => h,
            Err(e) => {
                registry.remove();
                return Err(e);
            }
        };
        let network = system.network().unwrap_or_else(|| host.network());
        // From here on the guard owns everything: an error return drops it and cleans up.
        let shared = Arc::new(Shared::new(n, registry, host, network));
        let guard = CleanupHandle(shared.clone());
        let result = async {
            let mut nodes = shared.host.layout(n, &*system, &spec.dir).await?;
            system.prepare(&mut nodes).await?;
            for (i, node) in nodes.iter().enumerate() {
                shared.host.make_dirs(node)?;
                if spec.power_loss {
                    let backing = node.data_dir.with_file_name("data.disk");
                    let disk = crate::powerfs::Disk::mount(&backing, &node.data_dir, &tag)?;
                    lock(&shared.disks)[i] = Some(disk);
                }
            }
            // No connection pooling: nodes are killed and restarted under us, and a request
            // on a stale pooled connection would fail after sending (an indeterminate clock
            // change) instead of failing to connect (a certain skip).
            let http = reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|e| Error::Spec(format!("http client: {e}")))?;
            let raft_groups = system.raft_groups(n);
            Ok::<_, Error>(Cluster {
                system,
                nodes,
                tag: tag.clone(),
                http,
                shared: shared.clone(),
                clocks: Mutex::new(vec![(0, 1.0); n]),
                cut: Mutex::new(BTreeSet::new()),
                cut_traffic: Mutex::new((None, None)),
                loss: Mutex::new(0.0),
                raft_groups,
                leader_turn: std::sync::atomic::AtomicUsize::new(0),
                joining: Mutex::new(vec![false; n]),
                removed: Mutex::new(vec![false; n]),
                spec: spec.clone(),
            })
        }
        .await;
        let cluster = match result {
            Ok(c) => c,
            Err(e) => {
                guard.cleanup_now();
                return Err(e);
            }
        };
        tracing::info!(
            tag,
            system = cluster.system.name(),
            backend = spec.backend.name(),
            n,
            "starting cluster"
        );
        for i in 0..n {
            cluster.spawn(i)?;
        }
        cluster.wait_ready(spec.ready_timeout).await?;
        Ok(cluster)
    }

    /// The spec this cluster was started from.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// The run tag carried by every name this cluster made (namespaces, state file).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// `["n1", .., "nN"]`.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// Every node's layout (addresses, dirs, namespace).
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// `(name, client address)` of every node, in node order.
    pub fn client_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.nodes.iter().map(|n| (n.name.clone(), n.client_addr)).collect()
    }

    /// A node's log file (`<dir>/nodes/nK/node.log`).
    ///
    /// # Errors
    /// [`Error::UnknownNode`].
    pub fn log_file(&self, node: &str) -> Result<PathBuf, Error> {
        Ok(self.nodes[self.index(node)?].log_file.clone())
    }

    /// A handle that can clean up from a signal handler or another thread.
    pub fn cleanup_handle(&self) -> CleanupHandle {
        CleanupHandle(self.shared.clone())
    }

    /// Spawns a task that, on Ctrl-C (SIGINT) or SIGTERM, removes everything this cluster
    /// made and exits the process with status 130. Opt-in: a caller that handles signals
    /// itself should use [`Cluster::cleanup_handle`] instead.
    pub fn spawn_signal_cleanup(&self) -> tokio::task::JoinHandle<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let handle = self.cleanup_handle();
        // Registered here, before returning, not in the task: a signal that arrives before
        // the task first runs must not take the default action (dying with nothing removed).
        let mut int = signal(SignalKind::interrupt()).ok();
        let mut term = signal(SignalKind::terminate()).ok();
        tokio::spawn(async move {
            tokio::select! {
                () = recv_or_never(int.as_mut()) => {}
                () = recv_or_never(term.as_mut()) => {}
            }
            eprintln!("interrupted: removing cluster processes, proxies and namespaces");
            handle.cleanup_now();
            std::process::exit(130);
        })
    }

    /// What every node says about itself, in node order (`None`: not answering).
    pub async fn statuses(&self) -> Vec<Option<Probe>> {
        let probes = self.nodes.iter().map(|n| self.system.probe(&self.http, n));
        futures::future::join_all(probes).await
    }

    /// Makes node `i`, when it leads, append an entry of its term (a write of the nemesis's
    /// own: [`crate::system::System::append_own_entry`]).
    pub async fn append_own_entry(&self, i: usize) -> FaultOutcome {
        self.system.append_own_entry(&self.http, &self.nodes[i]).await
    }

    /// The current leader's name, if some node claims leadership (highest term wins). With
    /// several Raft groups (the sharded KV), each call goes for the next group in turn
    /// (controller, group 1, group 2, ..), moving on past a group without a leader.
    pub async fn leader(&self) -> Option<String> {
        let statuses = self.statuses().await;
        let k = self.raft_groups.len();
        let first = self.leader_turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (0..k).find_map(|step| {
            let group = &self.raft_groups[(first + step) % k];
            group
                .iter()
                .filter_map(|&i| statuses[i].filter(|s| s.is_leader).map(|s| (s.term, i)))
                .max()
                .map(|(_, i)| self.nodes[i].name.clone())
        })
    }

    /// The Raft groups as node indices (one group of every node, but for the sharded KV:
    /// the controller's, then replica group 1, 2, ..).
    pub fn raft_groups(&self) -> &[Vec<usize>] {
        &self.raft_groups
    }

    /// Waits until every running node answers and every Raft group has a leader.
    ///
    /// # Errors
    /// [`Error::Exited`] when a node's process exits, [`Error::NotReady`] on timeout.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            for (i, node) in self.nodes.iter().enumerate() {
                if let Some(status) = lock(&self.shared.procs)[i].exit_status() {
                    self.shared.set_pid(i, None);
                    return Err(Error::Exited {
                        node: node.name.clone(),
                        status,
                        log: node.log_file.clone(),
                    });
                }
            }
            let running: Vec<&NodeInfo> = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| lock(&self.shared.procs)[*i].pid().is_some())
                .map(|(_, n)| n)
                .collect();
            let probes = running.iter().map(|n| self.system.probe(&self.http, n));
            let statuses = futures::future::join_all(probes).await;
            let silent = running.iter().zip(&statuses).find(|(_, s)| s.is_none()).map(|(n, _)| *n);
            let leads = |i: usize| {
                running
                    .iter()
                    .zip(&statuses)
                    .any(|(n, s)| n.id == i + 1 && s.is_some_and(|s| s.is_leader))
            };
            let has_leader = self.raft_groups.iter().all(|g| g.iter().any(|&i| leads(i)));
            if silent.is_none() && has_leader {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let node = silent.unwrap_or(&self.nodes[0]);
                return Err(Error::NotReady {
                    node: if silent.is_some() { node.name.clone() } else { "(no leader)".into() },
                    secs: timeout.as_secs(),
                    log: node.log_file.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every node gracefully (SIGTERM, then SIGKILL after 5s) and removes every
    /// proxy, namespace, rule and the registry entry.
    ///
    /// # Errors
    /// None today; kept fallible so that future teardown failures can be reported.
    pub async fn shutdown(self) -> Result<(), Error> {
        for i in 0..self.nodes.len() {
            let _ = self.stop_index(i, Duration::from_secs(5)).await;
        }
        self.shared.cleanup();
        Ok(())
    }

    fn index(&self, node: &str) -> Result<usize, Error> {
        self.nodes
            .iter()
            .position(|n| n.name == node)
            .ok_or_else(|| Error::UnknownNode(node.into()))
    }

    fn argv(&self, i: usize) -> Vec<OsString> {
        let node = &self.nodes[i];
        let joining = lock(&self.joining)[i];
        match joining {
            true => self.system.join_command(node, &self.nodes, &self.members_with(i), &self.tag),
            false => None,
        }
        .unwrap_or_else(|| self.system.command(node, &self.nodes, &self.tag))
    }

    fn spawn(&self, i: usize) -> Result<(), Error> {
        let node = &self.nodes[i];
        let spawned = self.shared.host.spawn(node, &self.argv(i), self.system.stdio())?;
        let pid = spawned.process.pid();
        lock(&self.shared.procs)[i] = Proc::running(spawned.process);
        self.shared.set_pid(i, Some(pid));
        if let (NodeStdio::Piped, Some((stdin, stdout))) = (self.system.stdio(), spawned.pipes) {
            self.system.attach(i, stdin, stdout);
        }
        Ok(())
    }

    fn apply_cut(&self, cut: BTreeSet<(usize, usize)>) -> Result<FaultOutcome, Error> {
        let was_cut = !lock(&self.cut).is_empty();
        let net = &self.shared.network;
        if !was_cut && !cut.is_empty() {
            lock(&self.cut_traffic).0 = net.cut_traffic();
        }
        let out = net.set_cut(&cut)?;
        if was_cut && cut.is_empty() {
            let mut t = lock(&self.cut_traffic);
            t.1 = t.0.zip(net.cut_traffic()).map(|(from, to)| to.saturating_sub(from));
        }
        *lock(&self.cut) = cut;
        Ok(out)
    }

    /// The traffic the last partition stopped, from its first cut to its heal (connections
    /// refused or closed by the local proxies, packets dropped by iptables); `None` where
    /// the network does not count it. 0: the partition cut no traffic.
    pub fn last_cut_traffic(&self) -> Option<u64> {
        lock(&self.cut_traffic).1
    }

    /// Cuts exactly the links `grudge` names (replacing any earlier cut).
    ///
    /// # Errors
    /// An iptables command failed (netns).
    pub fn set_cut(&self, grudge: &Grudge) -> Result<FaultOutcome, Error> {
        self.apply_cut(grudge.cut.clone())
    }

    /// Restores every link.
    ///
    /// # Errors
    /// An iptables command failed (netns).
    pub fn heal(&self) -> Result<FaultOutcome, Error> {
        self.apply_cut(BTreeSet::new())
    }

    /// Live node-to-node connections the network carries (the local backend's proxies; 0
    /// where it does not count them).
    pub fn proxied_connections(&self) -> usize {
        self.shared.network.live_connections()
    }

    /// What the system's own network counted so far (a Maelstrom cluster's router).
    pub fn network_stats(&self) -> Option<faultline_api::maelstrom::NetworkStats> {
        self.system.network_stats()
    }

    /// Whether any link is cut now.
    pub fn is_partitioned(&self) -> bool {
        !lock(&self.cut).is_empty()
    }
}

/// Waits for the signal, or forever when it could not be registered.
async fn recv_or_never(s: Option<&mut tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.shared.is_done() {
            tracing::debug!(tag = self.tag, "cluster dropped: cleaning up");
            self.shared.cleanup();
        }
    }
}
