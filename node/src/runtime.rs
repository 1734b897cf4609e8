//! The tokio driver of a real node: one task owns the [`Service`] (so the Raft core needs no
//! lock) and executes its outputs against real sockets, files and clocks.
//!
//! ```text
//!   HTTP handlers ──ApiCall──┐                       ┌──▶ Transport (per-peer queues) ──▶ TCP
//!   Transport ──(from, Message)──┐                   │
//!   WAL thread ──WalDone──────┐  │                   │
//!   Clock ──ticks─────────┐   │  │                   │
//!                         ▼   ▼  ▼    ┌─────────┐    │
//!         select!{biased; shutdown, wal, api, peer, tick}  ──▶ drain every queued event
//!                                     │ Service │ ──take_outputs──▶ Persist* ──▶ WalJob ──▶ WAL thread
//!                                     └─────────┘                   Send ──(after its fsync)──┘
//!                                                                   Respond ──▶ oneshot ──▶ HTTP
//! ```
//!
//! The loop is generic over the state machine (`--role`: the KV store, the shard controller,
//! a replica group); after each turn's ticks it lets the role's [`migrate::Sidecar`] look at
//! the state (a replica group leader's migrations) and proposes what it asks for.
//!
//! # Group commit
//!
//! Each loop turn handles one event, then drains every event already queued (client
//! requests, peer messages, WAL completions, due ticks) into the service before taking its
//! outputs once. All `Persist*` outputs of that turn become one `WalJob`; the WAL thread
//! in turn merges every job queued while it was syncing. So one fsync covers many
//! proposals, and throughput grows with load instead of being bounded by fsync latency.
//!
//! # When a message may leave
//!
//! A `Send` after a `Persist*` waits for that fsync, and responses wait for every earlier
//! fsync; `gate::SendGate` (runtime/gate.rs) holds the rule and its reasons.

// The driver is the I/O boundary: it reads the node's clock for ticks and spawns the tasks
// and threads that do network and disk I/O.
#![allow(clippy::disallowed_methods)]

pub mod clock;
pub(crate) mod gate;
pub mod http;
pub mod migrate;
pub mod shard_http;
pub mod shutdown;
pub mod transport;
mod wal_task;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use self::clock::Clock;
use self::gate::SendGate;
use self::http::{ApiCall, HttpState, MemberError, MemberRefusal, Members, NodeStatus, Served};
use self::migrate::Sidecar;
use self::shutdown::Shutdown;
use self::transport::Transport;
use self::wal_task::{WalDone, WalJob, WalOp, WalWorker};
use crate::config::Config;
use crate::raft::config::RaftConfig;
use crate::raft::core::{ChangeError, DurableState};
use crate::raft::message::Message;
use crate::raft::types::{NodeId, Role, Term, UnsafeBug};
use crate::service::{Output, RequestToken, Service, ServiceConfig, StateMachine};
use crate::storage::wal::{Recovered, Wal, WalError};

/// Capacity of the inbound peer-message queue.
const PEER_INBOX: usize = 8192;
/// Capacity of the HTTP-call queue.
const API_INBOX: usize = 8192;
/// Most events of one kind folded into one loop turn (bounds a turn's latency).
const DRAIN_BUDGET: usize = 4096;
/// Most ticks run at once after a clock jump; the rest are skipped.
const MAX_TICK_BURST: u64 = 1000;

/// Why a node could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        error: std::io::Error,
    },
    /// Storage could not be opened, or failed while running.
    #[error(transparent)]
    Storage(#[from] WalError),
    /// The Raft configuration derived from the flags cannot work.
    #[error(transparent)]
    Raft(#[from] crate::raft::config::ConfigError),
    /// A thread could not be started.
    #[error("cannot start the wal thread: {0}")]
    Thread(std::io::Error),
}

/// A node whose listeners are bound and whose storage is recovered, ready to [`Runtime::run`].
#[derive(Debug)]
pub struct Runtime {
    cfg: Config,
    peer_listener: TcpListener,
    client_listener: TcpListener,
    wal: Wal,
    recovered: Recovered,
    clock: Clock,
}

impl Runtime {
    /// Opens the data dir (recovering the WAL and snapshot) and binds both listeners.
    ///
    /// # Errors
    ///
    /// [`RuntimeError::Storage`] or [`RuntimeError::Bind`].
    pub async fn bind(cfg: Config) -> Result<Runtime, RuntimeError> {
        let fsync = !cfg.has_bug(UnsafeBug::AckBeforeFsync);
        if !fsync {
            tracing::warn!("UNSAFE BUG ack-before-fsync: the WAL never fsyncs");
        }
        let (wal, recovered) = Wal::open(&cfg.data_dir, fsync)?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|error| RuntimeError::Bind { addr, error })
        };
        let peer_listener = bind(cfg.peer_listen).await?;
        let client_listener = bind(cfg.client_listen).await?;
        Ok(Runtime { cfg, peer_listener, client_listener, wal, recovered, clock: Clock::new() })
    }

    /// The bound client (HTTP) address.
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.client_listener.local_addr().ok()
    }

    /// The bound peer address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_listener.local_addr().ok()
    }

    /// Runs the node as state machine `M` (the KV store, the shard controller or a replica
    /// group, with its `opts` and `sidecar`) until `shutdown` fires (then answers every
    /// pending request `unknown`, lets queued WAL writes finish, and returns `Ok`).
    ///
    /// # Errors
    ///
    /// A storage failure while running (the node must stop: its durable state is unknown),
    /// or a configuration the Raft core refuses.
    pub async fn run<M: Served, S: Sidecar<M>>(
        self,
        shutdown: Shutdown,
        opts: &M::Options,
        sidecar: S,
    ) -> Result<(), RuntimeError> {
        let Runtime { cfg, peer_listener, client_listener, wal, recovered, clock } = self;
        let service = build_service::<M>(&cfg, opts, recovered)?;
        let (peer_tx, mut peer_rx) = mpsc::channel(PEER_INBOX);
        let transport =
            Transport::start(cfg.id, peer_listener, &cfg.peers, peer_tx, shutdown.clone());
        let (api_tx, mut api_rx) = mpsc::channel(API_INBOX);
        let backstop = Duration::from_millis(cfg.request_timeout_ms * 3 / 2 + 500);
        let state = HttpState::<M> {
            calls: api_tx,
            clock: clock.clone(),
            request_timeout: backstop,
            client_addrs: Arc::new(cfg.peer_clients.clone()),
        };
        let mut http_down = shutdown.clone();
        let server = axum::serve(client_listener, http::app(state))
            .with_graceful_shutdown(async move { http_down.recv().await });
        let http_task = tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "http server failed");
            }
        });
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let wal_bytes = wal.wal_bytes();
        let lazy = cfg.has_bug(UnsafeBug::AckBeforeFsync);
        let worker = WalWorker::start(wal, done_tx, lazy).map_err(RuntimeError::Thread)?;
        let mut driver = Driver {
            service,
            sidecar,
            transport,
            worker,
            clients: FxHashMap::default(),
            next_token: 0,
            gate: SendGate::default(),
            wal_bytes,
            clock: clock.clone(),
            tick_ms: cfg.tick_ms as f64,
            tick_origin_ms: clock.now_ms(),
            ticks_done: 0,
            seen: (Role::Follower, Term(0), None),
        };
        tracing::info!(id = %cfg.id, peer = %cfg.peer_listen, client = %cfg.client_listen, "node started");
        let mut interval = tokio::time::interval(Duration::from_millis((cfg.tick_ms / 2).max(1)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut down = shutdown.clone();
        let result = loop {
            let event = tokio::select! {
                biased;
                _ = down.recv() => break Ok(()),
                Some(done) = done_rx.recv() => driver.on_wal(done),
                Some(call) = api_rx.recv() => {
                    driver.on_api(call);
                    Ok(())
                }
                Some((from, msg)) = peer_rx.recv() => {
                    driver.on_peer(from, msg);
                    Ok(())
                }
                _ = interval.tick() => Ok(()),
            };
            if let Err(e) =
                event.and_then(|()| driver.drain(&mut done_rx, &mut api_rx, &mut peer_rx))
            {
                break Err(e);
            }
            driver.catch_up_ticks();
            driver.run_sidecar();
            driver.flush();
        };
        driver.service.shutdown();
        driver.flush();
        let Driver { worker, transport, .. } = driver;
        drop(transport);
        // Joining waits for queued writes; it blocks, so not on an async worker.
        let _ = tokio::task::spawn_blocking(move || worker.stop()).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), http_task).await;
        tracing::info!(id = %cfg.id, ok = result.is_ok(), "node stopped");
        result
    }
}

/// A refused membership change, as the admin API reports it.
fn member_error(e: ChangeError) -> MemberError {
    let (error, leader) = match &e {
        ChangeError::NotLeader { leader } => (MemberRefusal::NotLeader, *leader),
        ChangeError::Busy { .. } => (MemberRefusal::Busy, None),
        ChangeError::NotCaughtUp { .. } => (MemberRefusal::NotCaughtUp, None),
        ChangeError::Invalid { .. } => (MemberRefusal::Invalid, None),
    };
    let leader = leader.map(|l| faultline_api::node::LeaderHint { id: l.0, client_addr: None });
    MemberError { error, message: e.to_string(), leader }
}

/// The Raft and service configuration derived from the node's flags.
fn build_service<M: StateMachine>(
    cfg: &Config,
    opts: &M::Options,
    recovered: Recovered,
) -> Result<Service<M>, RuntimeError> {
    let mut raft = RaftConfig::new(cfg.id, cfg.voters());
    raft.election_ticks = (cfg.election_timeout_ms / cfg.tick_ms).max(2);
    raft.heartbeat_ticks = (cfg.heartbeat_ms / cfg.tick_ms).clamp(1, raft.election_ticks - 1);
    raft.lease_ticks = (raft.election_ticks / 2).max(1);
    raft.bug = cfg.unsafe_bug;
    let svc = ServiceConfig {
        read_mode: cfg.read_mode,
        snapshot_threshold_bytes: usize::try_from(cfg.snapshot_threshold_bytes)
            .unwrap_or(usize::MAX),
        request_timeout_ticks: (cfg.request_timeout_ms / cfg.tick_ms).max(1),
    };
    // One seed per (run seed, node id), so nodes of one run draw different timeouts.
    let rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ cfg.id.0);
    let durable = DurableState {
        hard_state: recovered.hard_state,
        snapshot: recovered.snapshot,
        entries: recovered.entries,
    };
    Ok(Service::with_options(raft, svc, opts, durable, rng)?)
}

/// The state of the loop; owned by the one task that runs [`Runtime::run`].
struct Driver<M: StateMachine, S> {
    service: Service<M>,
    /// The role's helper (a replica group leader's migrations).
    sidecar: S,
    transport: Transport<Message>,
    worker: WalWorker,
    /// Clients waiting for an answer, by the token given to the service.
    clients: FxHashMap<u64, oneshot::Sender<M::Response>>,
    next_token: u64,
    /// WAL job numbers and the messages waiting for them.
    gate: SendGate,
    wal_bytes: u64,
    clock: Clock,
    tick_ms: f64,
    /// Clock reading that tick 0 counts from, and ticks run so far.
    tick_origin_ms: f64,
    ticks_done: u64,
    /// (role, term, leader) last logged, to log changes once.
    seen: (Role, Term, Option<NodeId>),
}

impl<M: StateMachine, S: Sidecar<M>> Driver<M, S> {
    fn on_api(&mut self, call: ApiCall<M>) {
        match call {
            ApiCall::Call { cmd, reply } => {
                self.next_token += 1;
                self.clients.insert(self.next_token, reply);
                self.service.on_request(RequestToken(self.next_token), cmd);
            }
            ApiCall::Status { reply } => {
                let settings = self.clock.settings();
                let _ = reply.send(NodeStatus {
                    service: self.service.status(),
                    wal_bytes: self.wal_bytes,
                    clock_offset_ms: settings.offset_ms,
                    clock_rate: settings.rate,
                    group: self.service.kv().group_status(),
                });
            }
            ApiCall::Members { change, reply } => {
                let result = match change.map(|c| self.service.propose_change(c)) {
                    Some(Err(e)) => Err(member_error(e)),
                    _ => Ok(self.members()),
                };
                let _ = reply.send(result);
            }
        }
    }

    /// The configuration in force, as `GET /v1/admin/members` reports it.
    fn members(&self) -> Members {
        let core = self.service.core();
        let m = core.membership();
        Members {
            id: core.id().0,
            leader: core.leader().map(|l| l.0),
            voters: m.voters.iter().map(|v| v.0).collect(),
            learners: m.learners.iter().map(|l| l.0).collect(),
            config_index: core.membership_index().0,
            committed: core.membership_committed(),
        }
    }

    fn on_peer(&mut self, from: NodeId, msg: Message) {
        if msg.from != from {
            tracing::debug!(%from, claimed = %msg.from, "message from a connection of another node; dropped");
            return;
        }
        self.service.on_message(msg);
    }

    fn on_wal(&mut self, done: WalDone) -> Result<(), RuntimeError> {
        match done {
            WalDone::Synced { seq, last_entry, wal_bytes } => {
                self.wal_bytes = wal_bytes;
                if let Some((index, term)) = last_entry {
                    self.service.on_persisted(index, term);
                }
                for msg in self.gate.synced(seq) {
                    self.transport.send(msg.to, msg);
                }
                Ok(())
            }
            WalDone::Failed(e) => Err(RuntimeError::Storage(e)),
        }
    }

    /// Folds every event already queued into the service (group commit).
    fn drain(
        &mut self,
        done_rx: &mut mpsc::UnboundedReceiver<WalDone>,
        api_rx: &mut mpsc::Receiver<ApiCall<M>>,
        peer_rx: &mut mpsc::Receiver<(NodeId, Message)>,
    ) -> Result<(), RuntimeError> {
        for _ in 0..DRAIN_BUDGET {
            let mut any = false;
            if let Ok(done) = done_rx.try_recv() {
                self.on_wal(done)?;
                any = true;
            }
            if let Ok(call) = api_rx.try_recv() {
                self.on_api(call);
                any = true;
            }
            if let Ok((from, msg)) = peer_rx.try_recv() {
                self.on_peer(from, msg);
                any = true;
            }
            if !any {
                break;
            }
        }
        Ok(())
    }

    /// Runs the ticks the node's clock says are due (none while it is set back).
    fn catch_up_ticks(&mut self) {
        let due = ((self.clock.now_ms() - self.tick_origin_ms) / self.tick_ms).floor();
        if due <= self.ticks_done as f64 {
            return;
        }
        // `due` is positive and finite here (the clock's offset is bounded by validation).
        let due = due as u64;
        let run = (due - self.ticks_done).min(MAX_TICK_BURST);
        for _ in 0..run {
            self.service.tick();
        }
        if due - self.ticks_done > MAX_TICK_BURST {
            tracing::warn!(skipped = due - self.ticks_done - run, "clock jumped; ticks skipped");
        }
        self.ticks_done = due;
    }

    /// Lets the role's helper look at the state; proposes what it asks for (answers to
    /// these tokens go nowhere: the helper watches the state instead).
    fn run_sidecar(&mut self) {
        for cmd in self.sidecar.turn(&self.service) {
            self.next_token += 1;
            self.service.on_request(RequestToken(self.next_token), cmd);
        }
    }

    /// Takes the service's outputs and executes them in order.
    fn flush(&mut self) {
        let outputs = self.service.take_outputs();
        if outputs.is_empty() {
            return;
        }
        let core = self.service.core();
        let now = (core.role(), core.term(), core.leader());
        if now != self.seen {
            self.seen = now;
            let leader = now.2.map(|l| l.to_string()).unwrap_or_else(|| "none".into());
            tracing::info!(role = now.0.name(), term = now.1 .0, %leader, "raft state");
        }
        let mut ops = Vec::new();
        for out in outputs {
            match out {
                Output::PersistHardState(hs) => ops.push(WalOp::HardState(hs)),
                Output::PersistEntries { truncate_from, entries } => {
                    ops.push(WalOp::Entries { truncate_from, entries })
                }
                Output::PersistSnapshot { snapshot, retain_suffix } => {
                    ops.push(WalOp::Snapshot { snapshot, retain_suffix })
                }
                Output::Send(msg) => {
                    if let Some(msg) = self.gate.route(msg, !ops.is_empty()) {
                        self.transport.send(msg.to, msg);
                    }
                }
                Output::Respond { token, response } => {
                    if let Some(client) = self.clients.remove(&token.0) {
                        // The client may have given up (HTTP backstop); nothing to do then.
                        let _ = client.send(response);
                    }
                }
            }
        }
        if !ops.is_empty() {
            let seq = self.gate.next_job();
            self.gate.submitted();
            if !self.worker.submit(WalJob { seq, ops }) {
                tracing::error!(
                    "wal worker stopped; persists are lost and nothing is acknowledged"
                );
            }
        }
    }
}
