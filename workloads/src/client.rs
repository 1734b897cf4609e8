//! Clients: one per system, each turning an [`Op`] into requests and every response into an
//! [`Outcome`] (Jepsen's ok / fail / info).
//!
//! ```text
//!   Op ──▶ Client::call ──▶ attempt ──▶ Attempt ──retry policy──▶ Outcome
//!                            (HTTP)      Done(Outcome)            Ok / Fail / Unknown
//!                                        NotLeader(hint)   ─▶ retry on the leader
//!                                        NotSent(why)      ─▶ retry on another node
//!                                        Uncertain(why)    ─▶ faultline: retry, same (client, seq)
//!                                                             etcd: Unknown (no de-duplication)
//! ```
//!
//! The rule (openraft's error-handling semantics): `Fail` only when the operation
//! certainly did not take effect; anything that may have taken effect is `Unknown`, never
//! `Fail`. Reads change nothing, so a read that could not finish is recorded as `Fail`, as
//! Jepsen's etcd client does: it keeps the process alive and the checker loses nothing.
//!
//! # Layout
//! - [`faultline`](mod@faultline): the node's HTTP/JSON API (docs/node-api.md).
//! - [`etcd`](mod@etcd): etcd 3.4's HTTP/JSON gateway.
//! - [`sharded`](mod@sharded): the sharded KV (controller + replica groups).
//! - [`maelstrom`](mod@maelstrom): a Maelstrom lin-kv node, through faultline's gateway.

pub mod etcd;
pub mod faultline;
pub mod maelstrom;
pub mod sharded;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::op::{Op, Outcome};

pub use faultline_api::SystemKind;

/// Who answered an operation: the node, and its term where the system reports it. Recorded
/// on `ok` and `fail` completions (an `info` has no one answer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Served {
    /// The node's name (`n2`).
    pub node: Option<String>,
    /// Its term (etcd's `raft_term`).
    pub term: Option<u64>,
}

/// A node's client address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The node's name in histories (`n1`, ...).
    pub name: String,
    /// `host:port` of its client API.
    pub addr: String,
}

/// How clients talk to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The system.
    pub system: SystemKind,
    /// Every node's client address (at least one).
    pub endpoints: Vec<Endpoint>,
    /// Sharded KV: the shard controller's nodes (empty for the other systems).
    pub controllers: Vec<Endpoint>,
    /// Time limit of one HTTP request.
    pub request_timeout: Duration,
    /// Time limit of one operation, all retries included.
    pub op_timeout: Duration,
    /// etcd: `serializable: true` on reads (may be stale; a known-unsafe mode).
    pub serializable_reads: bool,
}

/// Clients could not be set up.
#[derive(Debug, Error)]
pub enum ClientError {
    /// No endpoints were given.
    #[error("no client endpoints")]
    NoEndpoints,
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Opens clients, one per process, sharing one HTTP connection pool.
#[derive(Debug, Clone)]
pub struct Clients {
    cfg: Arc<ClientConfig>,
    http: reqwest::Client,
}

impl Clients {
    /// Clients for `cfg`.
    ///
    /// # Errors
    /// No endpoints, or the HTTP client cannot be built.
    pub fn new(cfg: ClientConfig) -> Result<Self, ClientError> {
        if cfg.endpoints.is_empty() {
            return Err(ClientError::NoEndpoints);
        }
        // No proxy from the environment: the cluster is always reached directly.
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(1)))
            .pool_idle_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Clients { cfg: Arc::new(cfg), http })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// A client for `process` (a fresh client id; it starts on node `process % n`).
    pub fn open(&self, process: u64) -> Client {
        match self.cfg.system {
            SystemKind::Faultline => Client::Faultline(faultline::FaultlineClient::new(
                self.http.clone(),
                self.cfg.clone(),
                process,
            )),
            SystemKind::Etcd => {
                Client::Etcd(etcd::EtcdClient::new(self.http.clone(), self.cfg.clone(), process))
            }
            SystemKind::Sharded => Client::Sharded(sharded::ShardedClient::new(
                self.http.clone(),
                self.cfg.clone(),
                process,
            )),
            SystemKind::Maelstrom => {
                Client::Maelstrom(maelstrom::MaelstromClient::new(self.cfg.clone(), process))
            }
        }
    }
}

/// A client of one process.
#[derive(Debug)]
pub enum Client {
    /// A faultline node client.
    Faultline(faultline::FaultlineClient),
    /// An etcd gateway client.
    Etcd(etcd::EtcdClient),
    /// A sharded KV client.
    Sharded(sharded::ShardedClient),
    /// A Maelstrom lin-kv client.
    Maelstrom(maelstrom::MaelstromClient),
}

impl Client {
    /// Performs `op` and says how it ended. Never returns `Fail` for an operation that may
    /// have taken effect.
    pub async fn call(&mut self, op: &Op) -> Outcome {
        match self {
            Client::Faultline(c) => c.call(op).await,
            Client::Etcd(c) => c.call(op).await,
            Client::Sharded(c) => c.call(op).await,
            Client::Maelstrom(c) => c.call(op).await,
        }
    }

    /// Who answered the last [`Client::call`].
    pub fn served(&self) -> Served {
        match self {
            Client::Faultline(c) => c.served.clone(),
            Client::Etcd(c) => c.served.clone(),
            Client::Sharded(c) => c.served.clone(),
            Client::Maelstrom(c) => c.served.clone(),
        }
    }
}

/// What one request attempt says, before the retry policy decides (nodes named by address).
pub(crate) type Attempt = crate::policy::Attempt<String>;

/// Classifies a transport error: a failed connect never sent the request; anything after
/// that (a timeout, a reset, a truncated body) may have been applied.
pub(crate) fn transport_error(e: &reqwest::Error) -> Attempt {
    if e.is_connect() {
        Attempt::NotSent("connect".into())
    } else if e.is_timeout() {
        Attempt::Uncertain("timeout".into())
    } else {
        Attempt::Uncertain("connection-lost".into())
    }
}

pub(crate) use crate::policy::backoff;
