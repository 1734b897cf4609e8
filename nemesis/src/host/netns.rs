//! The netns host: one network namespace and IP per node on a bridge (root); nodes are
//! started with `ip netns exec`, partitions and loss are iptables rules inside the
//! namespaces (`crate::netns`).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::netns::Netns;
use crate::network::Network;
use crate::process::{LocalProcess, Spawned};
use crate::system::{BoxFuture, NodeInfo, NodeStdio, System};
use crate::{Error, FaultOutcome};

use super::Host;

/// Nodes in namespaces of their own.
#[derive(Debug)]
pub(crate) struct NetnsHost {
    net: Arc<NetnsNetwork>,
}

impl NetnsHost {
    /// Makes the run's namespaces, veths and bridge.
    pub fn create(tag: &str, n: usize) -> Result<Self, Error> {
        Ok(NetnsHost { net: Arc::new(NetnsNetwork(Netns::create(tag, n)?, AtomicU64::new(0))) })
    }
}

impl Host for NetnsHost {
    fn name(&self) -> &'static str {
        "netns"
    }

    fn layout<'a>(
        &'a self,
        n: usize,
        system: &'a dyn System,
        dir: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<NodeInfo>, Error>> {
        let net = &self.net.0;
        let mut nodes = super::one_address_per_node(&net.ips[..n], system.netns_ports(), dir);
        for (node, ns) in nodes.iter_mut().zip(&net.namespaces) {
            node.netns = Some(ns.clone());
        }
        Box::pin(async move { Ok(nodes) })
    }

    fn spawn(
        &self,
        node: &NodeInfo,
        argv: &[OsString],
        stdio: NodeStdio,
    ) -> Result<Spawned, Error> {
        let ns = node.netns.as_deref().unwrap_or_default();
        let wrapped: Vec<OsString> = ["ip", "netns", "exec", ns]
            .into_iter()
            .map(OsString::from)
            .chain(argv.iter().cloned())
            .collect();
        LocalProcess::spawn(&node.name, &wrapped, &node.log_file, stdio == NodeStdio::Piped)
    }

    fn network(&self) -> Arc<dyn Network> {
        self.net.clone()
    }

    fn cleanup(&self) {
        self.net.shutdown();
    }
}

/// The namespaces' iptables rules as the nemesis's network, and the packets its
/// partition rules dropped so far.
#[derive(Debug)]
struct NetnsNetwork(Netns, AtomicU64);

impl Network for NetnsNetwork {
    fn set_cut(&self, cut: &BTreeSet<(usize, usize)>) -> Result<FaultOutcome, Error> {
        let dropped = self.0.set_cut(cut)?;
        self.1.fetch_add(dropped, Ordering::Relaxed);
        Ok(FaultOutcome::Installed)
    }

    fn cut_traffic(&self) -> Option<u64> {
        Some(self.1.load(Ordering::Relaxed))
    }

    fn set_loss(&self, p: f64) -> Result<FaultOutcome, Error> {
        self.0.set_loss(p)?;
        Ok(FaultOutcome::Installed)
    }

    fn set_delay(&self, _delay: Duration) -> Result<FaultOutcome, Error> {
        Ok(FaultOutcome::Skipped(
            "link delay needs the local backend (its proxies hold the bytes)".into(),
        ))
    }

    fn shutdown(&self) {
        self.0.destroy();
    }
}
