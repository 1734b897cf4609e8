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
//! The rule (STYLE.md, openraft's error-handling semantics): `Fail` only when the operation
//! certainly did not take effect; anything that may have taken effect is `Unknown`, never
//! `Fail`. Reads change nothing, so a read that could not finish is recorded as `Fail`, as
//! Jepsen's etcd client does: it keeps the process alive and the checker loses nothing.
//!
//! # Layout
//! - [`faultline`](mod@faultline): the node's HTTP/JSON API (NODE_API.md).
//! - [`etcd`](mod@etcd): etcd 3.4's HTTP/JSON gateway.

pub mod etcd;
pub mod faultline;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::op::{Op, Outcome};

/// The system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemKind {
    /// faultline's own Raft/KV node.
    Faultline,
    /// etcd 3.4, through its HTTP/JSON gateway.
    Etcd,
}

impl SystemKind {
    /// The name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SystemKind::Faultline => "faultline",
            SystemKind::Etcd => "etcd",
        }
    }
}

impl fmt::Display for SystemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SystemKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "faultline" => Ok(SystemKind::Faultline),
            "etcd" => Ok(SystemKind::Etcd),
            other => Err(format!("unknown system {other:?}: expected faultline or etcd")),
        }
    }
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
}

impl Client {
    /// Performs `op` and says how it ended. Never returns `Fail` for an operation that may
    /// have taken effect.
    pub async fn call(&mut self, op: &Op) -> Outcome {
        match self {
            Client::Faultline(c) => c.call(op).await,
            Client::Etcd(c) => c.call(op).await,
        }
    }
}

/// What one request attempt says, before the retry policy decides.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attempt {
    /// A definite answer.
    Done(Outcome),
    /// Rejected before proposing (certainly not applied); the leader's address if known.
    NotLeader(Option<String>),
    /// Never reached the node (connection refused): certainly not applied.
    NotSent(String),
    /// May have been applied: a timeout, a reset after sending, 503/504, unknown status.
    Uncertain(String),
}

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

/// The backoff before retry number `n` (from 1): 20 ms, 40 ms, ..., at most 200 ms.
pub(crate) fn backoff(n: u32) -> Duration {
    Duration::from_millis(20 * u64::from(n.clamp(1, 10)))
}
