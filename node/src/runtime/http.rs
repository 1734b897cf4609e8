//! The HTTP/JSON API (axum): `POST /v1/kv`, `GET /v1/status`, `POST /v1/admin/clock`.
//!
//! ```text
//!   client ──POST /v1/kv──▶ kv() ──ApiCall::Kv{req, reply}──▶ runtime loop (owns the core)
//!          ◀──JSON + status code── KvReply ◀──oneshot── (or timeout ─▶ unknown / 504)
//!   GET /v1/status ──ApiCall::Status──▶ runtime loop ──▶ Status JSON
//!   POST /v1/admin/clock ──▶ Clock::set (shared handle; the loop reads it every tick)
//! ```
//!
//! The wire format is fixed by `NODE_API.md`. Status codes: ok/fail 200, not-leader 421,
//! unknown 503 (not known to be applied: leadership lost, shutting down) or 504 (timeout),
//! malformed request 400 (a `fail`: certainly not applied).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::clock::{Clock, ClockSettings};

/// The operation of a `POST /v1/kv` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Read a key.
    Get,
    /// Set a key.
    Put,
    /// Append to a key's value (absent = empty).
    Append,
    /// Set a key to `value` if its value is `expected` (null: absent).
    Cas,
    /// Remove a key.
    Delete,
}

/// A `POST /v1/kv` body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvRequest {
    /// The client's session id.
    pub client: u64,
    /// The request's number within the session; a retry reuses it.
    pub seq: u64,
    /// What to do.
    pub op: Op,
    /// The key.
    pub key: String,
    /// put/append argument, cas new value.
    #[serde(default)]
    pub value: Option<String>,
    /// cas only: `Some(None)` is JSON null ("key absent"); `None` means the field is missing.
    #[serde(default, deserialize_with = "present")]
    pub expected: Option<Option<String>>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The outcome class of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Applied.
    Ok,
    /// Certainly not applied.
    Fail,
    /// Certainly not applied: this node is not the leader.
    NotLeader,
    /// May or may not have been applied.
    Unknown,
}

/// Who the leader is, as far as this node knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderHint {
    /// The leader's node id.
    pub id: u64,
    /// Its client address, when configured (`--peer-client`).
    pub client_addr: Option<String>,
}

/// A `POST /v1/kv` reply body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvReply {
    /// Outcome class.
    pub status: Status,
    /// get: the value (null when absent); cas-mismatch: the current value.
    pub value: Option<String>,
    /// Machine-readable reason on fail/unknown (`cas-mismatch`, `timeout`, ..).
    pub error: Option<String>,
    /// The leader, on not-leader (when known).
    pub leader: Option<LeaderHint>,
}

impl KvReply {
    /// An `ok` reply.
    pub fn ok(value: Option<String>) -> KvReply {
        KvReply { status: Status::Ok, value, error: None, leader: None }
    }

    /// A `fail` reply.
    pub fn fail(error: &str, value: Option<String>) -> KvReply {
        KvReply { status: Status::Fail, value, error: Some(error.to_string()), leader: None }
    }

    /// An `unknown` reply.
    pub fn unknown(error: &str) -> KvReply {
        KvReply { status: Status::Unknown, value: None, error: Some(error.to_string()), leader: None }
    }

    /// A `not-leader` reply.
    pub fn not_leader(leader: Option<LeaderHint>) -> KvReply {
        KvReply { status: Status::NotLeader, value: None, error: Some("not-leader".into()), leader }
    }

    fn code(&self) -> StatusCode {
        match self.status {
            Status::Ok | Status::Fail => StatusCode::OK,
            Status::NotLeader => StatusCode::MISDIRECTED_REQUEST,
            Status::Unknown if self.error.as_deref() == Some("timeout") => StatusCode::GATEWAY_TIMEOUT,
            Status::Unknown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for KvReply {
    fn into_response(self) -> Response {
        (self.code(), Json(self)).into_response()
    }
}

/// `GET /v1/status` body (NODE_API.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// This node.
    pub id: u64,
    /// `leader`, `follower`, `candidate` or `pre-candidate`.
    pub role: String,
    /// Current term.
    pub term: u64,
    /// The leader this node knows of.
    pub leader: Option<u64>,
    /// Highest index known committed.
    pub commit_index: u64,
    /// Highest index applied to the state machine.
    pub applied_index: u64,
    /// Index of the last log entry.
    pub last_log_index: u64,
    /// Entries held in the log (after the snapshot).
    pub log_entries: u64,
    /// Last index covered by the snapshot.
    pub snapshot_index: u64,
    /// Size of the snapshot file.
    pub snapshot_bytes: u64,
    /// Size of the WAL file.
    pub wal_bytes: u64,
    /// The clock's offset.
    pub clock_offset_ms: i64,
    /// The clock's rate.
    pub clock_rate: f64,
}

/// What the HTTP layer asks the runtime loop.
#[derive(Debug)]
pub enum ApiCall {
    /// A client request; the loop answers on `reply` (dropping it means "shutting down").
    Kv {
        /// The request.
        req: KvRequest,
        /// Where the answer goes.
        reply: oneshot::Sender<KvReply>,
    },
    /// A status query.
    Status {
        /// Where the answer goes.
        reply: oneshot::Sender<NodeStatus>,
    },
}

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The runtime loop's API inbox.
    pub calls: mpsc::Sender<ApiCall>,
    /// The node's clock (set directly by the admin endpoint).
    pub clock: Clock,
    /// How long a client request may wait for its answer before it is `unknown`.
    pub request_timeout: Duration,
}

/// The router (tested with `ServiceExt::oneshot`, served by `axum::serve`).
pub fn app(state: HttpState) -> Router {
    Router::new()
        .route("/v1/kv", post(kv))
        .route("/v1/status", get(status))
        .route("/v1/admin/clock", post(set_clock).get(get_clock))
        .with_state(state)
}

/// Checks the fields that each op needs, so a bad request fails before it is proposed.
fn check(req: &KvRequest) -> Result<(), String> {
    match req.op {
        Op::Put | Op::Append if req.value.is_none() => Err(format!("{:?} needs \"value\"", req.op)),
        Op::Cas if req.value.is_none() => Err("cas needs \"value\" (the new value)".into()),
        Op::Cas if req.expected.is_none() => Err("cas needs \"expected\" (null: absent)".into()),
        _ => Ok(()),
    }
}

async fn kv(State(state): State<HttpState>, body: Bytes) -> Response {
    let req: KvRequest = match serde_json::from_slice(&body) {
        Ok(req) => req,
        Err(e) => return bad_request(format!("bad request body: {e}")),
    };
    if let Err(e) = check(&req) {
        return bad_request(e);
    }
    let (tx, rx) = oneshot::channel();
    let call = ApiCall::Kv { req, reply: tx };
    // Not yet handed over: if the loop is gone, nothing was proposed.
    if state.calls.send(call).await.is_err() {
        return KvReply::unknown("shutting-down").into_response();
    }
    match tokio::time::timeout(state.request_timeout, rx).await {
        Ok(Ok(reply)) => reply.into_response(),
        Ok(Err(_)) => KvReply::unknown("shutting-down").into_response(),
        Err(_) => KvReply::unknown("timeout").into_response(),
    }
}

fn bad_request(error: String) -> Response {
    let reply = KvReply { status: Status::Fail, value: None, error: Some(error), leader: None };
    (StatusCode::BAD_REQUEST, Json(reply)).into_response()
}

async fn status(State(state): State<HttpState>) -> Response {
    let (tx, rx) = oneshot::channel();
    if state.calls.send(ApiCall::Status { reply: tx }).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match tokio::time::timeout(state.request_timeout, rx).await {
        Ok(Ok(status)) => Json(status).into_response(),
        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn get_clock(State(state): State<HttpState>) -> Json<ClockSettings> {
    Json(state.clock.settings())
}

async fn set_clock(State(state): State<HttpState>, body: Bytes) -> Response {
    let settings: ClockSettings = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad clock body: {e}")).into_response(),
    };
    match state.clock.set(settings) {
        Ok(s) => Json(s).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

#[cfg(test)]
#[path = "http_test.rs"]
mod http_test;
