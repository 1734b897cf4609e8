//! Node-to-node TCP: one one-way connection per (sender, receiver) pair.
//!
//! ```text
//!   runtime ──send(to, msg)──▶ per-peer bounded queue ──▶ writer task ──TCP──▶ peer's listener
//!                               (full: message dropped)    (hello, then batched frames;
//!                                                            reconnect with backoff,
//!                                                            drop what queues meanwhile)
//!   peer's writer ──TCP──▶ our listener ──▶ reader task ──▶ inbound queue ──▶ runtime
//! ```
//!
//! Raft tolerates lost, duplicated-by-retry and reordered-across-reconnect messages, so the
//! transport never retries a message: when a connection fails, what was queued is dropped.
//! Writes batch every message queued at the moment into one `write_all` (with
//! `TCP_NODELAY`), which is what keeps a pipelining leader's syscall count low.
//!
//! Sockets get `TCP_USER_TIMEOUT` and keepalives so that a connection whose packets are
//! silently dropped (an iptables partition) fails within seconds and is redialed, instead
//! of waiting out the kernel's retransmission backoff after the partition heals.

// Backoff between dial attempts needs real sleeps; this module is the node's network I/O.
#![allow(clippy::disallowed_methods)]

pub mod codec;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use self::codec::FrameReader;
use super::shutdown::Shutdown;
use crate::raft::types::NodeId;

/// Messages waiting per peer before new ones are dropped.
pub const PEER_QUEUE: usize = 4096;
/// First and largest delay between dial attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(20);
const BACKOFF_MAX: Duration = Duration::from_millis(500);
/// How long a dial may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Unacknowledged data older than this kills a connection (TCP_USER_TIMEOUT).
const USER_TIMEOUT: Duration = Duration::from_millis(3000);
/// Bytes batched into one write.
const WRITE_BATCH: usize = 256 * 1024;

/// Counters of one transport, for logs and status.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Messages dropped because a peer's queue was full or its connection was down.
    pub dropped: AtomicU64,
    /// Connections dialed successfully.
    pub connects: AtomicU64,
}

/// The sending half, owned by the runtime; the receiving half feeds `inbound`.
#[derive(Debug)]
pub struct Transport<M> {
    peers: BTreeMap<NodeId, mpsc::Sender<M>>,
    stats: Arc<TransportStats>,
    _msg: PhantomData<fn(M)>,
}

fn tune(stream: &TcpStream) {
    // Socket options are an optimisation and a liveness aid: failing to set one is logged
    // and the connection is used anyway.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY");
    }
    let sock = socket2::SockRef::from(stream);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(2))
        .with_interval(Duration::from_secs(1))
        .with_retries(3);
    if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "keepalive");
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = sock.set_tcp_user_timeout(Some(USER_TIMEOUT)) {
        tracing::debug!(error = %e, "TCP_USER_TIMEOUT");
    }
}

impl<M> Transport<M>
where
    M: Serialize + DeserializeOwned + Send + 'static,
{
    /// Starts the listener on `listener` and one writer task per entry of `peers`
    /// (`id -> "host:port"`). Inbound messages go to `inbound` with the sender's id from
    /// its hello frame. Every task ends on `shutdown`.
    pub fn start(
        me: NodeId,
        listener: TcpListener,
        peers: &BTreeMap<NodeId, String>,
        inbound: mpsc::Sender<(NodeId, M)>,
        shutdown: Shutdown,
    ) -> Transport<M> {
        let stats = Arc::new(TransportStats::default());
        tokio::spawn(accept_loop::<M>(listener, inbound, shutdown.clone()));
        let mut senders = BTreeMap::new();
        for (&id, addr) in peers {
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            senders.insert(id, tx);
            tokio::spawn(writer::<M>(me, id, addr.clone(), rx, stats.clone(), shutdown.clone()));
        }
        Transport { peers: senders, stats, _msg: PhantomData }
    }

    /// Queues `msg` for `to`; returns false (and counts a drop) if the queue is full or `to`
    /// is unknown.
    pub fn send(&self, to: NodeId, msg: M) -> bool {
        let sent = self.peers.get(&to).is_some_and(|q| q.try_send(msg).is_ok());
        if !sent {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// The counters.
    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }
}

async fn accept_loop<M>(
    listener: TcpListener,
    inbound: mpsc::Sender<(NodeId, M)>,
    mut shutdown: Shutdown,
) where
    M: DeserializeOwned + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            _ = shutdown.recv() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, addr)) => {
                tune(&stream);
                let inbound = inbound.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    if let Err(e) = reader::<M>(stream, inbound, shutdown).await {
                        tracing::debug!(%addr, error = %e, "peer connection closed");
                    }
                });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(BACKOFF_MAX).await;
            }
        }
    }
}

async fn reader<M: DeserializeOwned>(
    stream: TcpStream,
    inbound: mpsc::Sender<(NodeId, M)>,
    mut shutdown: Shutdown,
) -> Result<(), codec::CodecError> {
    let mut frames = FrameReader::new(stream);
    let hello = tokio::select! {
        _ = shutdown.recv() => return Ok(()),
        h = frames.read_hello() => h?,
    };
    let Some(from) = hello else { return Ok(()) };
    tracing::debug!(%from, "peer connected");
    loop {
        let msg = tokio::select! {
            _ = shutdown.recv() => return Ok(()),
            m = frames.read_msg::<M>() => m?,
        };
        let Some(msg) = msg else { return Ok(()) };
        // Backpressure: a busy runtime slows the socket down rather than buffering forever.
        if inbound.send((from, msg)).await.is_err() {
            return Ok(());
        }
    }
}

/// Drops everything queued for a peer that cannot be reached.
fn discard<M>(rx: &mut mpsc::Receiver<M>, stats: &TransportStats) {
    while rx.try_recv().is_ok() {
        stats.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

async fn writer<M: Serialize>(
    me: NodeId,
    to: NodeId,
    addr: String,
    mut rx: mpsc::Receiver<M>,
    stats: Arc<TransportStats>,
    mut shutdown: Shutdown,
) {
    let mut backoff = BACKOFF_MIN;
    let mut buf = Vec::with_capacity(WRITE_BATCH);
    loop {
        let dialed = tokio::select! {
            _ = shutdown.recv() => return,
            d = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)) => d,
        };
        let mut stream = match dialed {
            Ok(Ok(stream)) => stream,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timeout".to_string(),
                };
                tracing::trace!(%to, %addr, %why, "dial failed");
                discard(&mut rx, &stats);
                tokio::select! {
                    _ = shutdown.recv() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                discard(&mut rx, &stats);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        tune(&stream);
        stats.connects.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%to, %addr, "connected to peer");
        backoff = BACKOFF_MIN;
        buf.clear();
        codec::encode_hello(&mut buf, me);
        if let Err(e) = stream.write_all(&buf).await {
            tracing::debug!(%to, error = %e, "hello failed");
            continue;
        }
        loop {
            let first = tokio::select! {
                biased;
                _ = shutdown.recv() => return,
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => return, // the runtime is gone
                },
            };
            buf.clear();
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                if let Err(e) = codec::encode(&mut buf, &msg) {
                    tracing::error!(%to, error = %e, "cannot encode a message; dropped");
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                if buf.len() < WRITE_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if let Err(e) = stream.write_all(&buf).await {
                tracing::debug!(%to, error = %e, "peer write failed; reconnecting");
                discard(&mut rx, &stats);
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::shutdown;

    #[tokio::test]
    async fn messages_flow_one_way_and_survive_a_listener_restart() {
        let (trigger, down) = shutdown::channel();
        let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr2 = l2.local_addr().unwrap();
        let l1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (in1, _rx1) = mpsc::channel::<(NodeId, String)>(16);
        let peers = BTreeMap::from([(NodeId(2), addr2.to_string())]);
        let t1 = Transport::<String>::start(NodeId(1), l1, &peers, in1, down.clone());
        let (in2, mut rx2) = mpsc::channel(16);
        let (trigger2, down2) = shutdown::channel();
        let _t2 = Transport::<String>::start(NodeId(2), l2, &BTreeMap::new(), in2, down2);
        // Messages sent before the connection is up may be dropped: resend until one lands.
        let got = loop {
            t1.send(NodeId(2), "hello".to_string());
            match tokio::time::timeout(Duration::from_millis(50), rx2.recv()).await {
                Ok(Some(got)) => break got,
                _ => continue,
            }
        };
        assert_eq!(got, (NodeId(1), "hello".to_string()));
        for i in 0..100 {
            assert!(t1.send(NodeId(2), format!("m{i}")));
        }
        let mut seen = Vec::new();
        while seen.len() < 100 {
            let (from, m) = rx2.recv().await.unwrap();
            assert_eq!(from, NodeId(1));
            if m != "hello" {
                seen.push(m);
            }
        }
        assert_eq!(seen, (0..100).map(|i| format!("m{i}")).collect::<Vec<_>>());
        assert!(!t1.send(NodeId(9), "nobody".into()), "unknown peer");
        // Node 2 restarts on the same port: node 1 redials and delivery resumes.
        trigger2.trigger();
        drop(rx2);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let l2 = TcpListener::bind(addr2).await.unwrap();
        let (in2, mut rx2) = mpsc::channel(16);
        let (_trigger2, down2) = shutdown::channel();
        let _t2 = Transport::<String>::start(NodeId(2), l2, &BTreeMap::new(), in2, down2);
        let got = loop {
            t1.send(NodeId(2), "again".to_string());
            match tokio::time::timeout(Duration::from_millis(50), rx2.recv()).await {
                Ok(Some(got)) => break got,
                _ => continue,
            }
        };
        assert_eq!(got, (NodeId(1), "again".to_string()));
        trigger.trigger();
    }
}
