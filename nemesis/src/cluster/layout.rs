//! Where every node lives: addresses, ports, proxies, directories.
//!
//! ```text
//! local, PerLink (faultline):    node i --peer j=proxy(i->j) ──> node j peer_listen
//! local, PerDestination (etcd):  node i dials j's advertised URL = proxy(->j) ──> node j
//! netns:                         node i --peer j=10.77.K.j:7000 (iptables does the cutting)
//! ```

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};

use crate::netns::Netns;
use crate::proxy::Proxies;
use crate::system::{NodeInfo, Routing};
use crate::Error;

/// Next candidate port; starts at a pid-dependent place in 20000..32000 (below Linux's
/// ephemeral range, so the kernel does not hand it to an outgoing connection meanwhile).
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// Set to `LO-HI` (e.g. `20000-23999`), it confines this process' ports to that range: a
/// campaign running several cells at once gives each a disjoint range, so that two runs can
/// never pick the same port between probing it and their node binding it.
pub const PORT_RANGE_ENV: &str = "FAULTLINE_PORT_RANGE";

/// The candidate range: [`PORT_RANGE_ENV`]'s, or 20000..32000.
fn port_range() -> (u16, u16) {
    let parsed = std::env::var(PORT_RANGE_ENV).ok().and_then(|r| {
        let (lo, hi) = r.split_once('-')?;
        let (lo, hi): (u16, u16) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
        (1024 <= lo && lo < hi).then_some((lo, hi - lo + 1))
    });
    if let Some((lo, span)) = parsed {
        warn_if_ephemeral(lo, lo.saturating_add(span - 1));
    }
    parsed.unwrap_or((20_000, 12_000))
}

/// Warns (once) when `lo..=hi` overlaps the kernel's ephemeral port range: outgoing
/// connections (clients, proxies) take ports there at any time, so a node may find its port
/// taken between the probe and its bind, and the run fails to start.
fn warn_if_ephemeral(lo: u16, hi: u16) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let Ok(text) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") else {
        return;
    };
    let mut it = text.split_whitespace().filter_map(|w| w.parse::<u16>().ok());
    if let (Some(elo), Some(ehi)) = (it.next(), it.next()) {
        if lo <= ehi && elo <= hi {
            WARNED.call_once(|| {
                tracing::warn!(
                    "{PORT_RANGE_ENV}={lo}-{hi} overlaps the kernel's ephemeral ports \
                     {elo}-{ehi}: a node may find its port taken by an outgoing connection; \
                     choose a range below {elo}"
                );
            });
        }
    }
}

/// A port on `ip` that nobody listens on right now. Candidates below the ephemeral range,
/// tried in turn, checked by binding; each process hands a port out once.
pub(crate) fn free_port(ip: Ipv4Addr) -> Result<u16, Error> {
    let (lo, span) = port_range();
    let _ = NEXT_PORT.compare_exchange(
        0,
        lo + (std::process::id() % u32::from(span)) as u16,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let p = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        let port = lo + p.wrapping_sub(lo) % span;
        if TcpListener::bind((ip, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(Error::NoPort(ip.to_string()))
}

fn base(i: usize, ip: Ipv4Addr, client: SocketAddr, peer: SocketAddr, dir: &Path) -> NodeInfo {
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

/// The local layout: 127.0.0.1 ports, and proxies for every peer link.
#[allow(clippy::needless_range_loop)] // i and j index two nodes at once
pub(crate) async fn local(
    n: usize,
    routing: Routing,
    proxies: &mut Proxies,
    dir: &Path,
) -> Result<Vec<NodeInfo>, Error> {
    let lo = Ipv4Addr::LOCALHOST;
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let client = SocketAddr::from((lo, free_port(lo)?));
        let peer = SocketAddr::from((lo, free_port(lo)?));
        nodes.push(base(i, lo, client, peer, dir));
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

/// The netns layout: fixed ports on each namespace's own IP.
#[allow(clippy::needless_range_loop)] // i and j index two nodes at once
pub(crate) fn netns(
    n: usize,
    (client_port, peer_port): (u16, u16),
    net: &Netns,
    dir: &Path,
) -> Vec<NodeInfo> {
    let mut nodes: Vec<NodeInfo> = (0..n)
        .map(|i| {
            let ip = net.ips[i];
            let mut node = base(i, ip, (ip, client_port).into(), (ip, peer_port).into(), dir);
            node.netns = Some(net.namespaces[i].clone());
            node
        })
        .collect();
    for i in 0..n {
        for j in (0..n).filter(|&j| j != i) {
            let addr = SocketAddr::from((net.ips[j], peer_port));
            nodes[i].peers.insert(j + 1, addr);
        }
    }
    nodes
}
