//! The local host: every node on 127.0.0.1, every peer connection through a TCP proxy the
//! controller owns (per link, or per destination with the dialer found from its socket's
//! process), so partitions and delays need no root. No packet loss: the proxies carry TCP
//! streams, not packets.
#![allow(clippy::disallowed_methods)] // spawns real processes: an I/O module

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::network::Network;
use crate::process::{LocalProcess, Spawned};
use crate::proxy::{Pids, Proxies};
use crate::sync::lock;
use crate::system::{BoxFuture, NodeInfo, NodeStdio, Routing, System};
use crate::{Error, FaultOutcome};

use super::Host;

/// Nodes on 127.0.0.1 behind the controller's proxies.
#[derive(Debug)]
pub struct LocalHost {
    net: Arc<ProxyNetwork>,
    pids: Pids,
}

impl LocalHost {
    /// A local host with no proxies yet (the layout makes them).
    pub fn new() -> Self {
        let pids: Pids = Arc::default();
        LocalHost {
            net: Arc::new(ProxyNetwork(Mutex::new(Some(Proxies::new(pids.clone()))))),
            pids,
        }
    }
}

impl Default for LocalHost {
    fn default() -> Self {
        Self::new()
    }
}

impl Host for LocalHost {
    fn name(&self) -> &'static str {
        "local"
    }

    fn layout<'a>(
        &'a self,
        n: usize,
        system: &'a dyn System,
        dir: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<NodeInfo>, Error>> {
        Box::pin(async move {
            let mut p = lock(&self.net.0).take().ok_or(Error::Spec("no proxies".into()))?;
            let r = layout(n, system.routing(), &mut p, dir).await;
            *lock(&self.net.0) = Some(p);
            r
        })
    }

    fn spawn(
        &self,
        node: &NodeInfo,
        argv: &[OsString],
        stdio: NodeStdio,
    ) -> Result<Spawned, Error> {
        LocalProcess::spawn(&node.name, argv, &node.log_file, stdio == NodeStdio::Piped)
    }

    fn network(&self) -> Arc<dyn Network> {
        self.net.clone()
    }

    fn note_pid(&self, i: usize, pid: Option<u32>) {
        match pid {
            Some(p) => lock(&self.pids).insert(i, p),
            None => lock(&self.pids).remove(&i),
        };
    }

    fn cleanup(&self) {
        self.net.shutdown();
    }
}

/// The proxies as the nemesis's network.
#[derive(Debug)]
struct ProxyNetwork(Mutex<Option<Proxies>>);

impl Network for ProxyNetwork {
    fn set_cut(&self, cut: &BTreeSet<(usize, usize)>) -> Result<FaultOutcome, Error> {
        if let Some(p) = lock(&self.0).as_ref() {
            p.set_cut(cut.clone());
        }
        Ok(FaultOutcome::Installed)
    }

    fn set_loss(&self, _p: f64) -> Result<FaultOutcome, Error> {
        Ok(FaultOutcome::Skipped(faultline_api::fault::LOSS_NEEDS_NETNS.into()))
    }

    fn set_delay(&self, delay: Duration) -> Result<FaultOutcome, Error> {
        if let Some(p) = lock(&self.0).as_ref() {
            p.set_delay(delay);
        }
        Ok(FaultOutcome::Installed)
    }

    fn cut_traffic(&self) -> Option<u64> {
        lock(&self.0).as_ref().map(Proxies::cut_connections)
    }

    fn live_connections(&self) -> usize {
        lock(&self.0).as_ref().map_or(0, Proxies::live_connections)
    }

    fn shutdown(&self) {
        if let Some(mut proxies) = lock(&self.0).take() {
            proxies.shutdown();
        }
    }
}

/// The local layout: 127.0.0.1 ports, and proxies for every peer link.
#[allow(clippy::needless_range_loop)] // i and j index two nodes at once
async fn layout(
    n: usize,
    routing: Routing,
    proxies: &mut Proxies,
    dir: &Path,
) -> Result<Vec<NodeInfo>, Error> {
    let lo = Ipv4Addr::LOCALHOST;
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let client = SocketAddr::from((lo, crate::ports::free_port(lo)?));
        let peer = SocketAddr::from((lo, crate::ports::free_port(lo)?));
        nodes.push(NodeInfo::new(i, lo, client, peer, dir));
    }
    match routing {
        Routing::PerLink => {
            for i in 0..n {
                for j in (0..n).filter(|&j| j != i) {
                    let addr = proxies.listen_link(i, j, nodes[j].peer_listen).await?;
                    nodes[i].peers.insert(j + 1, addr);
                }
            }
        }
        Routing::PerDestination => {
            for j in 0..n {
                nodes[j].peer_advertise = proxies.listen_dest(j, nodes[j].peer_listen).await?;
            }
            for i in 0..n {
                for j in (0..n).filter(|&j| j != i) {
                    let adv = nodes[j].peer_advertise;
                    nodes[i].peers.insert(j + 1, adv);
                }
            }
        }
    }
    Ok(nodes)
}
