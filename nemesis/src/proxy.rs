//! The local backend's TCP proxies: every node-to-node connection passes through one, so a
//! partition can cut exactly the links a grudge names.
//!
//! ```text
//!  node i ──dial──> proxy (i->j or ->j) ──dial──> node j's peer listener
//!                      │
//!   set_cut(links) ────┘ closes live connections on cut links, refuses new ones
//!   set_delay(d) ──────┘ holds every byte for `d` before passing it on
//! ```
//!
//! A delayed byte lives in the proxy until it is due, so a cut drops what is still in
//! flight, as a real network drops packets in flight.
//!
//! Two kinds of listener:
//! - per link (`listen_link(i, j)`): the dialer is known from the address dialed. Used for
//!   faultline, whose nodes take one `--peer` address per peer and whose connections carry
//!   messages one way only, so cutting link `(i, j)` cuts exactly `i -> j`.
//! - per destination (`listen_dest(j)`): the dialer is found from the connecting socket's
//!   owner process (see [`crate::procnet`]). Used for etcd, whose members all dial the same
//!   advertised peer URL. etcd's connections carry traffic both ways (a member streams
//!   messages back over a connection its peer opened), so a connection between `i` and `j`
//!   is cut when either direction is cut. All partition shapes are symmetric, so this is
//!   exact for them. A connection whose dialer cannot be identified is refused while any
//!   link into its destination is cut.
//!
//! Connection bookkeeping and the cut set share one lock, so a connection is either
//! registered before a cut (and closed by it) or checked after it (and refused).
#![allow(clippy::disallowed_methods)] // real sockets and real timeouts: this is an I/O module

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use crate::procnet;
use crate::Error;

/// Node pids, by node index, for identifying dialers (shared with the cluster).
pub(crate) type Pids = Arc<Mutex<BTreeMap<usize, u32>>>;

#[derive(Debug)]
struct Conn {
    /// The dialer, once identified (`None`: unknown or not yet checked).
    src: Option<usize>,
    dst: usize,
    /// Whether the connection carries traffic both ways (per-destination proxies).
    both_ways: bool,
    /// Set once the connection passed its cut check; only checked ones are closed by cuts
    /// (unchecked ones check themselves under the same lock).
    checked: bool,
    abort: Option<AbortHandle>,
}

#[derive(Debug, Default)]
struct Table {
    cut: BTreeSet<(usize, usize)>,
    conns: BTreeMap<u64, Conn>,
    next: u64,
    /// Connections refused or closed because their link was cut, ever.
    cut_conns: u64,
}

impl Table {
    fn is_cut(&self, src: Option<usize>, dst: usize, both_ways: bool) -> bool {
        match src {
            Some(s) if s == dst => false,
            Some(s) => self.cut.contains(&(s, dst)) || (both_ways && self.cut.contains(&(dst, s))),
            None => self.cut.iter().any(|&(a, b)| b == dst || (both_ways && a == dst)),
        }
    }
}

/// All proxies of one cluster.
#[derive(Debug)]
pub(crate) struct Proxies {
    table: Arc<Mutex<Table>>,
    /// Latency added to every byte, microseconds.
    delay_us: Arc<AtomicU64>,
    pids: Pids,
    listeners: Vec<JoinHandle<()>>,
}

impl Proxies {
    pub fn new(pids: Pids) -> Self {
        Proxies { table: Arc::default(), delay_us: Arc::default(), pids, listeners: Vec::new() }
    }

    /// A proxy for link `src -> dst` forwarding to `target`; returns its address.
    pub async fn listen_link(
        &mut self,
        src: usize,
        dst: usize,
        target: SocketAddr,
    ) -> Result<SocketAddr, Error> {
        self.listen(Some(src), dst, target).await
    }

    /// A proxy for every dialer of `dst`, forwarding to `target`; returns its address.
    pub async fn listen_dest(
        &mut self,
        dst: usize,
        target: SocketAddr,
    ) -> Result<SocketAddr, Error> {
        self.listen(None, dst, target).await
    }

    async fn listen(
        &mut self,
        src: Option<usize>,
        dst: usize,
        target: SocketAddr,
    ) -> Result<SocketAddr, Error> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::NoPort(format!("127.0.0.1 (proxy): {e}")))?;
        let addr = listener.local_addr().map_err(|e| Error::NoPort(e.to_string()))?;
        let link = Link { me: addr, fixed_src: src, dst, target, delay_us: self.delay_us.clone() };
        let table = self.table.clone();
        let pids = self.pids.clone();
        self.listeners.push(tokio::spawn(accept_loop(listener, link, table, pids)));
        Ok(addr)
    }

    /// Replaces the set of cut links, closing live connections on links now cut.
    pub fn set_cut(&self, cut: BTreeSet<(usize, usize)>) {
        let mut t = lock(&self.table);
        t.cut = cut;
        let doomed: Vec<u64> = t
            .conns
            .iter()
            .filter(|(_, c)| c.checked && t.is_cut(c.src, c.dst, c.both_ways))
            .map(|(id, _)| *id)
            .collect();
        for id in doomed {
            if let Some(c) = t.conns.remove(&id) {
                t.cut_conns += 1;
                if let Some(a) = c.abort {
                    a.abort();
                }
            }
        }
    }

    /// Holds every byte on every link for `delay` before passing it on (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delay_us.store(us, Ordering::Relaxed);
    }

    /// Connections refused or closed because their link was cut, since the proxies started.
    pub fn cut_connections(&self) -> u64 {
        lock(&self.table).cut_conns
    }

    /// Number of live proxied connections (for tests and logs).
    pub fn live_connections(&self) -> usize {
        lock(&self.table).conns.len()
    }

    /// Stops every listener and closes every connection.
    pub fn shutdown(&mut self) {
        for l in self.listeners.drain(..) {
            l.abort();
        }
        let mut t = lock(&self.table);
        for (_, c) in std::mem::take(&mut t.conns) {
            if let Some(a) = c.abort {
                a.abort();
            }
        }
    }
}

impl Drop for Proxies {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock(t: &Arc<Mutex<Table>>) -> MutexGuard<'_, Table> {
    // A poisoned table only means a panic elsewhere; the data is still consistent.
    t.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one proxy listener serves.
#[derive(Debug, Clone)]
struct Link {
    me: SocketAddr,
    fixed_src: Option<usize>,
    dst: usize,
    target: SocketAddr,
    delay_us: Arc<AtomicU64>,
}

async fn accept_loop(listener: TcpListener, link: Link, table: Arc<Mutex<Table>>, pids: Pids) {
    let Link { me, fixed_src, dst, target, .. } = link.clone();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(%me, "proxy accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = {
            let mut t = lock(&table);
            t.next += 1;
            let id = t.next;
            let both_ways = fixed_src.is_none();
            t.conns.insert(id, Conn { src: None, dst, both_ways, checked: false, abort: None });
            id
        };
        let table2 = table.clone();
        let pids2 = pids.clone();
        let delay_us = link.delay_us.clone();
        let task = tokio::spawn(async move {
            let _unregister = Unregister { table: table2.clone(), id };
            let both_ways = fixed_src.is_none();
            let src = match fixed_src {
                Some(s) => Some(s),
                None => {
                    let pids: Vec<(u32, usize)> = {
                        let p = pids2.lock().unwrap_or_else(|p| p.into_inner());
                        p.iter().map(|(&n, &pid)| (pid, n)).collect()
                    };
                    tokio::task::spawn_blocking(move || procnet::dialer_node(peer, me, &pids))
                        .await
                        .ok()
                        .flatten()
                }
            };
            {
                let mut t = lock(&table2);
                if t.is_cut(src, dst, both_ways) {
                    t.cut_conns += 1;
                    tracing::debug!(?src, dst, "proxy refused a connection on a cut link");
                    return;
                }
                match t.conns.get_mut(&id) {
                    // Checked under the lock: from now on a cut finds and closes it.
                    Some(c) => {
                        c.src = src;
                        c.checked = true;
                    }
                    None => return,
                }
            }
            forward(stream, target, delay_us).await;
        });
        let mut t = lock(&table);
        match t.conns.get_mut(&id) {
            Some(c) => c.abort = Some(task.abort_handle()),
            // Closed by a cut before we could hand it its abort handle (or already done).
            None => task.abort(),
        }
    }
}

async fn forward(inbound: TcpStream, target: SocketAddr, delay_us: Arc<AtomicU64>) {
    let connect = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(target)).await;
    let Ok(Ok(outbound)) = connect else { return };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_r, in_w) = inbound.into_split();
    let (out_r, out_w) = outbound.into_split();
    tokio::join!(pump(in_r, out_w, delay_us.clone()), pump(out_r, in_w, delay_us));
}

/// Copies one direction, each chunk held until it is due (read time + the delay then in
/// force); closes the write side after the read side's end has been passed on. The queue
/// is bounded, so a destination that does not read (a paused node) pushes back on the
/// sender as a real TCP path does.
async fn pump(mut r: OwnedReadHalf, mut w: OwnedWriteHalf, delay_us: Arc<AtomicU64>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Instant, Vec<u8>)>(64);
    let read = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = r.read(&mut buf).await {
            let due = Instant::now() + Duration::from_micros(delay_us.load(Ordering::Relaxed));
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                break;
            }
        }
    };
    let write = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if w.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = w.shutdown().await;
    };
    tokio::join!(read, write);
}

/// Removes a connection's entry when its task ends (also when aborted).
struct Unregister {
    table: Arc<Mutex<Table>>,
    id: u64,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        lock(&self.table).conns.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn ping(s: &mut TcpStream) -> bool {
        let t = Duration::from_millis(500);
        if s.write_all(b"ping").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 4];
        matches!(tokio::time::timeout(t, s.read_exact(&mut buf)).await, Ok(Ok(_)))
            && &buf == b"ping"
    }

    async fn roundtrip(addr: SocketAddr) -> bool {
        match TcpStream::connect(addr).await {
            Ok(mut s) => ping(&mut s).await,
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn per_link_cut_closes_live_connections_refuses_new_ones_and_heals() {
        let echo = echo_server().await;
        let mut p = Proxies::new(Pids::default());
        let a01 = p.listen_link(0, 1, echo).await.unwrap();
        let a21 = p.listen_link(2, 1, echo).await.unwrap();
        let mut live = TcpStream::connect(a01).await.unwrap();
        assert!(ping(&mut live).await);
        assert_eq!(p.live_connections(), 1);

        assert_eq!(p.cut_connections(), 0);
        p.set_cut(BTreeSet::from([(0, 1)]));
        assert_eq!(p.cut_connections(), 1, "the live connection on the cut link counts");
        // The live connection is closed: reading gives EOF or an error, never data.
        let mut buf = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_secs(2), live.read(&mut buf)).await;
        assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "live connection closed: {r:?}");
        assert!(!roundtrip(a01).await, "new connection on the cut link refused");
        assert!(roundtrip(a21).await, "link 2->1 is not named in the grudge");
        assert_eq!(p.cut_connections(), 2, "and so does the refused one; 2->1 does not");

        p.set_cut(BTreeSet::new());
        assert!(roundtrip(a01).await, "healed");
        assert_eq!(p.cut_connections(), 2, "healed links stop nothing");
        p.shutdown();
        assert_eq!(p.live_connections(), 0);
        assert!(!roundtrip(a01).await, "shut down proxies refuse");
    }

    #[tokio::test]
    async fn delayed_bytes_arrive_late_and_a_cut_drops_them_in_flight() {
        let echo = echo_server().await;
        let mut p = Proxies::new(Pids::default());
        let a01 = p.listen_link(0, 1, echo).await.unwrap();
        let mut live = TcpStream::connect(a01).await.unwrap();
        assert!(ping(&mut live).await);
        p.set_delay(Duration::from_millis(150));
        let start = Instant::now();
        assert!(ping(&mut live).await, "delayed, not lost");
        // There and back through the proxy: at least twice the delay (a lower bound only).
        assert!(start.elapsed() >= Duration::from_millis(300), "{:?}", start.elapsed());

        live.write_all(b"ping").await.unwrap();
        p.set_cut(BTreeSet::from([(0, 1)]));
        let mut buf = [0u8; 4];
        let r = tokio::time::timeout(Duration::from_secs(2), live.read(&mut buf)).await;
        assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "in-flight bytes dropped by the cut: {r:?}");

        p.set_cut(BTreeSet::new());
        p.set_delay(Duration::ZERO);
        assert!(roundtrip(a01).await, "healed");
    }

    #[tokio::test]
    async fn per_destination_identifies_the_dialer_by_its_process() {
        let echo = echo_server().await;
        let pids = Pids::default();
        pids.lock().unwrap().insert(0, std::process::id());
        let mut p = Proxies::new(pids.clone());
        let a = p.listen_dest(1, echo).await.unwrap();
        assert!(roundtrip(a).await);
        p.set_cut(BTreeSet::from([(2, 1), (1, 2)]));
        assert!(roundtrip(a).await, "we are node 0, whose links are not cut");
        p.set_cut(BTreeSet::from([(0, 1)]));
        assert!(!roundtrip(a).await, "0 -> 1 cut");
        p.set_cut(BTreeSet::from([(1, 0)]));
        assert!(!roundtrip(a).await, "1 -> 0 cut: the connection carries both ways");
        p.set_cut(BTreeSet::new());
        assert!(roundtrip(a).await, "healed");
        // An unidentifiable dialer is refused while anything into its destination is cut.
        pids.lock().unwrap().clear();
        p.set_cut(BTreeSet::from([(2, 1)]));
        assert!(!roundtrip(a).await);
        p.set_cut(BTreeSet::from([(2, 0)]));
        assert!(roundtrip(a).await);
    }
}
