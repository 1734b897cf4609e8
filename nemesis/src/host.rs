//! The `Host` seam: where a cluster's node processes live and how the nemesis reaches them —
//! addresses, spawning, the network between them, and cleanup.
//!
//! ```text
//! Cluster::start ──create(backend)──> Box<dyn Host>
//!     host.layout(n, system, dir) ──> Vec<NodeInfo>   (addresses, proxies or namespaces)
//!     host.spawn(node, argv, stdio) ──> Spawned { Box<dyn Process>, pipes }
//!     host.network() ──> Arc<dyn Network>              (cuts, loss, delay)
//!     host.note_pid(i, pid)                            (who owns which socket)
//!     host.cleanup()                                   (proxies, namespaces, rules)
//! ```
//!
//! Three hosts: [`local`](LocalHost) (127.0.0.1, the controller's TCP proxies, no root),
//! `netns` (a namespace per node, iptables, root) and [`ssh`](SshHost) (a machine per node,
//! reached over SSH, iptables chains of its own). A system never learns which one it
//! runs on: it states its ports and routing needs ([`crate::System::routing`],
//! [`crate::System::netns_ports`]) and gets [`NodeInfo`]s back. A new host (e.g. remote
//! machines of a cloud API) is one module here plus one arm in `create`.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use crate::network::Network;
use crate::process::Spawned;
use crate::system::{BoxFuture, NodeInfo, NodeStdio, System};
use crate::Error;
use faultline_api::Backend;

mod local;
mod netns;
pub mod ssh;
mod sweep;

pub use local::LocalHost;
pub(crate) use netns::NetnsHost;
pub use ssh::{HostsFile, SshHost};
pub(crate) use sweep::sweep_stale;

/// Where a cluster's nodes run.
pub trait Host: Send + Sync + std::fmt::Debug {
    /// The backend's name (`"local"`, `"netns"`).
    fn name(&self) -> &'static str;

    /// Assigns `n` nodes their addresses, peer maps and dirs under `dir`, setting up what
    /// carries their peer traffic as `system` needs it.
    fn layout<'a>(
        &'a self,
        n: usize,
        system: &'a dyn System,
        dir: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<NodeInfo>, Error>>;

    /// Starts `argv` as `node`'s process, stderr (and stdout unless piped) appended to its
    /// log.
    ///
    /// # Errors
    /// The process could not be started.
    fn spawn(&self, node: &NodeInfo, argv: &[OsString], stdio: NodeStdio)
        -> Result<Spawned, Error>;

    /// What carries node-to-node traffic on this host.
    fn network(&self) -> Arc<dyn Network>;

    /// Makes `node`'s data dir (and what its files need) where the node runs.
    ///
    /// # Errors
    /// The directory could not be made.
    fn make_dirs(&self, node: &NodeInfo) -> Result<(), Error> {
        let dir = &node.data_dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating data dir", dir, e))
    }

    /// Empties `node`'s data dir (the node is down).
    ///
    /// # Errors
    /// The directory could not be removed or made again.
    fn wipe(&self, node: &NodeInfo) -> Result<(), Error> {
        let dir = &node.data_dir;
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| Error::io("wiping", dir, e))?;
        }
        self.make_dirs(node)
    }

    /// Node `i`'s process is now `pid` (`None`: it is down).
    fn note_pid(&self, _i: usize, _pid: Option<u32>) {}

    /// Whether node pids are pids on this machine (so the run registry may record them for
    /// a later run to kill after a crash); a remote host keeps its own markers instead.
    fn local_pids(&self) -> bool {
        true
    }

    /// Removes what the host made (proxies, namespaces, rules). Synchronous, idempotent.
    fn cleanup(&self);
}

/// The layout of hosts that give each node an address of its own (netns, ssh): node `i` at
/// `ips[i]` on the system's fixed `(client, peer)` ports, dialing each peer at its address.
pub(crate) fn one_address_per_node(
    ips: &[std::net::Ipv4Addr],
    (client_port, peer_port): (u16, u16),
    dir: &Path,
) -> Vec<NodeInfo> {
    let peer = |ip| std::net::SocketAddr::from((ip, peer_port));
    (0..ips.len())
        .map(|i| {
            let ip = ips[i];
            let mut node = NodeInfo::new(i, ip, (ip, client_port).into(), peer(ip), dir);
            for j in (0..ips.len()).filter(|&j| j != i) {
                node.peers.insert(j + 1, peer(ips[j]));
            }
            node
        })
        .collect()
}

/// Checks what `backend` needs on this machine (root, tools, a hosts file) before anything
/// is made.
///
/// # Errors
/// [`Error::NotRoot`] or [`Error::BinaryMissing`] for the netns backend; no hosts file for
/// the ssh backend.
pub(crate) fn check(backend: Backend, hosts: Option<&HostsFile>) -> Result<(), Error> {
    match (backend, hosts) {
        (Backend::Local, _) => Ok(()),
        (Backend::Netns, _) => crate::netns::check_prerequisites(),
        (Backend::Ssh, Some(_)) => Ok(()),
        (Backend::Ssh, None) => {
            Err(Error::Spec("the ssh backend needs a hosts file (--hosts FILE.toml)".into()))
        }
    }
}

/// The run tags that names on this machine already carry (namespaces and links of other
/// runs), which a new run must not take.
pub(crate) fn taken_tags(backend: Backend) -> std::collections::BTreeSet<String> {
    match backend {
        Backend::Local | Backend::Ssh => Default::default(),
        Backend::Netns => crate::netns::existing_tags(),
    }
}

/// The host for `backend`, its names carrying the run's `tag`.
///
/// # Errors
/// The namespaces could not be made (netns); a host could not be reached (ssh).
pub(crate) async fn create(
    backend: Backend,
    hosts: Option<&HostsFile>,
    tag: &str,
    n: usize,
) -> Result<Box<dyn Host>, Error> {
    Ok(match (backend, hosts) {
        (Backend::Local, _) => Box::new(LocalHost::new()),
        (Backend::Netns, _) => Box::new(NetnsHost::create(tag, n)?),
        (Backend::Ssh, Some(file)) => Box::new(SshHost::create(file, tag, n).await?),
        (Backend::Ssh, None) => {
            return Err(Error::Spec("the ssh backend needs a hosts file".into()))
        }
    })
}
