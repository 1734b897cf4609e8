//! The `System` interface (Jepsen's DB): how to start one node of a system, and how to ask
//! it whether it is up, who leads, and to change its clock.
//!
//! ```text
//! Cluster ──command(node, all)──> argv ──process::Proc::spawn──> OS process
//!         ──probe(node)─────────> Some(Probe{is_leader, term}) | None (not answering)
//!         ──set_clock(node, ..)──> FaultOutcome
//! ```
//!
//! Process control (start, stop, kill, pause, resume, wipe) is the same for every system
//! and lives in [`crate::Cluster`], on whatever [`crate::host::Host`] the run uses; a
//! `System` only knows its own command line, its API, and (optionally) its own network.
//!
//! Adding a system is one module under `system/` plus a `SystemSpec` variant and its arm in
//! [`SystemSpec::build`], the one place systems are made.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;

use std::sync::Arc;

use crate::network::Network;
use crate::system::etcd::Etcd;
use crate::system::faultline::Faultline;
use crate::system::maelstrom::Maelstrom;
use crate::system::sharded::Sharded;
use crate::{Error, FaultOutcome, SystemSpec};

pub mod etcd;
pub mod faultline;
pub mod maelstrom;
pub mod sharded;

/// A boxed future, so that `System` can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where one node lives: its name, addresses, and files.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    /// 1-based id (`--id` for faultline).
    pub id: usize,
    /// `"n1"`..
    pub name: String,
    /// The node's IP (127.0.0.1 under local, 10.77.K.i under netns).
    pub ip: Ipv4Addr,
    /// Where clients connect.
    pub client_addr: SocketAddr,
    /// Where the node listens for peers.
    pub peer_listen: SocketAddr,
    /// The peer address other nodes are told (etcd's advertised peer URL); under the local
    /// backend with etcd, a proxy that forwards to `peer_listen`.
    pub peer_advertise: SocketAddr,
    /// For each other node id, the address THIS node dials to reach it (faultline's
    /// `--peer`); under the local backend, per-link proxies.
    pub peers: BTreeMap<usize, SocketAddr>,
    /// The network namespace the node runs in (netns backend).
    pub netns: Option<String>,
    /// `<dir>/nodes/nK/data`.
    pub data_dir: PathBuf,
    /// `<dir>/nodes/nK/node.log` (stdout and stderr, appended across restarts).
    pub log_file: PathBuf,
}

impl NodeInfo {
    /// Node `i` (0-based) at `ip`, clients on `client`, peers on `peer` (advertised as is),
    /// its files under `<dir>/nodes/n<i+1>/`; no peer map or namespace yet.
    pub fn new(i: usize, ip: Ipv4Addr, client: SocketAddr, peer: SocketAddr, dir: &Path) -> Self {
        let node_dir = dir.join("nodes").join(faultline_api::node_name(i));
        NodeInfo {
            id: i + 1,
            name: faultline_api::node_name(i),
            ip,
            client_addr: client,
            peer_listen: peer,
            peer_advertise: peer,
            peers: BTreeMap::new(),
            netns: None,
            data_dir: node_dir.join("data"),
            log_file: node_dir.join("node.log"),
        }
    }
}

/// How a node's stdin and stdout are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeStdio {
    /// stdin empty, stdout (with stderr) appended to the node's log.
    #[default]
    Log,
    /// stdin and stdout are pipes handed to [`System::attach`] (stderr still to the log).
    Piped,
}

/// What a node says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// It believes it is the leader.
    pub is_leader: bool,
    /// Its current term.
    pub term: u64,
    /// Its commit index, where the system reports it.
    pub commit_index: Option<u64>,
    /// The index of the last entry in its log, where the system reports it.
    pub last_index: Option<u64>,
}

/// How the local backend must proxy this system's peer traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// One proxy per directed link; each node is told a different address per peer.
    PerLink,
    /// One proxy per destination (the advertised peer address); dialers are identified by
    /// the process owning the connecting socket.
    PerDestination,
}

/// A single-server membership change, as the `membership` fault asks a leader for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Add the node as a learner (it gets the log; it neither votes nor counts).
    Add,
    /// Make a caught-up learner a voter.
    Promote,
    /// Remove a voter or a learner.
    Remove,
}

impl MemberChange {
    /// `"add"`, `"promote"`, `"remove"`.
    pub fn name(self) -> &'static str {
        match self {
            MemberChange::Add => "add",
            MemberChange::Promote => "promote",
            MemberChange::Remove => "remove",
        }
    }
}

/// The membership one node believes in force (node indices, 0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// The voters, in order.
    pub voters: Vec<usize>,
    /// The learners, in order.
    pub learners: Vec<usize>,
    /// Whether this configuration is known committed (the next change may start).
    pub committed: bool,
}

/// What a leader made of a [`MemberChange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeAnswer {
    /// Appended (not yet committed): the configuration it made.
    Accepted(MemberView),
    /// Certainly not done, but may be later: not the leader, a change in flight, a learner
    /// still catching up, the node not answering.
    Retry(String),
    /// Certainly not done, and retrying will not help (invalid change, no such API).
    Refused(String),
    /// Sent, and the answer was lost: it may have been appended.
    Unknown(String),
}

/// A system under test, as the cluster needs to know it.
pub trait System: Send + Sync + std::fmt::Debug {
    /// `"faultline"` or `"etcd"`.
    fn name(&self) -> &'static str;

    /// How to route peer traffic under the local backend.
    fn routing(&self) -> Routing;

    /// The client port under the netns backend (every node has its own IP there).
    fn netns_ports(&self) -> (u16, u16);

    /// The Raft groups among `n` nodes (node indices): every node in one group unless the
    /// system runs several (the sharded KV); each must elect its own leader.
    fn raft_groups(&self, n: usize) -> Vec<Vec<usize>> {
        vec![(0..n).collect()]
    }

    /// The command line (program first) that starts `node`, given every node's layout.
    /// Restarts use the same command; the data dir is kept.
    fn command(&self, node: &NodeInfo, all: &[NodeInfo], tag: &str) -> Vec<OsString>;

    /// The command line that starts `node` with an empty data dir as a newcomer to a running
    /// cluster, once a membership change added it; `members` are the node indices that are
    /// members then (itself included). `None`: the system cannot (the `membership` fault then
    /// skips).
    fn join_command(
        &self,
        _node: &NodeInfo,
        _all: &[NodeInfo],
        _members: &[usize],
        _tag: &str,
    ) -> Option<Vec<OsString>> {
        None
    }

    /// The membership `node` believes in force (node indices of `all`), `None` when it does
    /// not say.
    fn members<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        _node: &'a NodeInfo,
        _all: &'a [NodeInfo],
    ) -> BoxFuture<'a, Option<MemberView>> {
        Box::pin(async { None })
    }

    /// Asks `leader` for one membership change of `target` (one of `all`).
    fn change_member<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        _leader: &'a NodeInfo,
        _change: MemberChange,
        _target: &'a NodeInfo,
        _all: &'a [NodeInfo],
    ) -> BoxFuture<'a, ChangeAnswer> {
        let why = format!("{} has no membership changes in this harness", self.name());
        Box::pin(async move { ChangeAnswer::Refused(why) })
    }

    /// Asks the node about itself; `None` when it does not answer.
    fn probe<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, Option<Probe>>;

    /// Makes `node`, when it leads, append an entry of its current term: one write of the
    /// nemesis's own session to a key no workload uses, sent and not waited for (an isolated
    /// leader cannot commit it). Figure 8 needs it: a leader that appends nothing of its
    /// term when elected (the commit-old-term bug) must still hold an entry the others lack,
    /// whether or not a client found it in time. `Skipped` for a system that takes none.
    fn append_own_entry<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, FaultOutcome> {
        let why = format!("{}: {} takes no writes of the nemesis", node.name, self.name());
        Box::pin(async move { FaultOutcome::Skipped(why) })
    }

    /// What the system's own network counted (a Maelstrom cluster's router); `None` for a
    /// system whose nodes talk to each other directly.
    fn network_stats(&self) -> Option<faultline_api::maelstrom::NetworkStats> {
        None
    }

    /// Sets the node's clock offset and rate.
    fn set_clock<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
        offset_ms: i64,
        rate: f64,
    ) -> BoxFuture<'a, FaultOutcome>;

    /// How the node's stdin and stdout are connected (default: to its log).
    fn stdio(&self) -> NodeStdio {
        NodeStdio::Log
    }

    /// Takes node `i`'s stdin and stdout after each start (also every restart) when
    /// [`System::stdio`] is [`NodeStdio::Piped`]. Called inside the tokio runtime.
    fn attach(
        &self,
        _i: usize,
        _stdin: std::process::ChildStdin,
        _stdout: std::process::ChildStdout,
    ) {
    }

    /// A network of the system's own (e.g. a message router in the controller) that carries
    /// its peer traffic: partitions, loss and delay then go there, not to the host's.
    fn network(&self) -> Option<Arc<dyn Network>> {
        None
    }

    /// Called once after the host assigned every node its addresses and before any node
    /// starts (e.g. to bind per-node gateways and set `client_addr`).
    fn prepare<'a>(&'a self, _nodes: &'a mut [NodeInfo]) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

impl SystemSpec {
    /// The system this spec describes; `seed` goes to the nodes that take one. The one
    /// place systems are made.
    pub fn build(&self, seed: u64) -> Box<dyn System> {
        match self {
            SystemSpec::Faultline { binary, unsafe_bug, read_mode, extra_args } => {
                Box::new(Faultline {
                    binary: binary.clone(),
                    unsafe_bug: *unsafe_bug,
                    read_mode: *read_mode,
                    extra_args: extra_args.clone(),
                    seed,
                })
            }
            SystemSpec::Sharded { binary, unsafe_bug, extra_args, group_size } => {
                Box::new(Sharded {
                    binary: binary.clone(),
                    unsafe_bug: *unsafe_bug,
                    extra_args: extra_args.clone(),
                    group_size: *group_size,
                    seed,
                })
            }
            SystemSpec::Etcd { binary, .. } => Box::new(Etcd { binary: binary.clone() }),
            SystemSpec::Maelstrom { command } => Box::new(Maelstrom::new(command.clone(), seed)),
        }
    }
}
