//! The HTTP/JSON API (axum), generic over the node's role: the routes every node serves
//! (`GET /v1/status`, `POST /v1/admin/clock`) plus the role's own ([`Served::routes`]):
//! `POST /v1/kv` (KV store, replica group), `POST /v1/ctrl` (shard controller),
//! `POST /v1/shard/pull` and `/v1/shard/delete` (replica group, from other groups).
//!
//! ```text
//!   client ──POST──▶ role handler ──ApiCall::Call{cmd, reply}──▶ runtime loop (owns the core)
//!          ◀──JSON + status code── M::Response ◀──oneshot── (or backstop timeout ─▶ unknown)
//!   GET /v1/status ──ApiCall::Status──▶ runtime loop ──▶ NodeStatus JSON
//!   POST /v1/admin/clock ──▶ Clock::set (shared handle; the loop reads it every tick)
//!   GET|POST /v1/admin/members[/op] ──ApiCall::Members{change}──▶ runtime loop ──▶ Members
//!          (or MemberError: 421 not leader, 409 busy / not caught up, 400 invalid)
//! ```
//!
//! The wire format is fixed by `docs/node-api.md`; the JSON types live in `faultline_api`.
//! Status codes: ok/fail 200, not-leader 421, unknown 503 (leadership lost, shutting down)
//! or 504 (timeout), malformed request 400 (a `fail`: certainly not applied).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::clock::Clock;
use crate::api::{Command, Reply, Request, Response, ResponseBody};
use crate::kv::Kv;
use crate::raft::types::NodeId;
use crate::raft::MemberChange;
use crate::service::StateMachine;
pub use faultline_api::node::{
    ClockSettings, MemberError, MemberOp, MemberRefusal, MemberRequest, Members, NodeStatus,
};

/// What the HTTP layer asks the runtime loop.
#[derive(Debug)]
pub enum ApiCall<M: StateMachine> {
    /// A command for the state machine; the loop answers on `reply` (dropping it means
    /// "shutting down").
    Call {
        /// The command.
        cmd: M::Command,
        /// Where the answer goes.
        reply: oneshot::Sender<M::Response>,
    },
    /// A status query.
    Status {
        /// Where the answer goes.
        reply: oneshot::Sender<NodeStatus>,
    },
    /// The configuration in force, after proposing `change` if one is given.
    Members {
        /// The change to propose (leader only), if any.
        change: Option<MemberChange>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Members, MemberError>>,
    },
}

/// Shared state of the handlers.
#[derive(Debug)]
pub struct HttpState<M: StateMachine> {
    /// The runtime loop's API inbox.
    pub calls: mpsc::Sender<ApiCall<M>>,
    /// The node's clock (set directly by the admin endpoint).
    pub clock: Clock,
    /// Real time after which a request is answered `unknown`/`timeout` even if the loop has
    /// not answered (a backstop: the service times requests out first, in ticks).
    pub request_timeout: Duration,
    /// Client addresses of the nodes, for not-leader answers.
    pub client_addrs: Arc<BTreeMap<NodeId, String>>,
}

impl<M: StateMachine> Clone for HttpState<M> {
    fn clone(&self) -> Self {
        HttpState {
            calls: self.calls.clone(),
            clock: self.clock.clone(),
            request_timeout: self.request_timeout,
            client_addrs: self.client_addrs.clone(),
        }
    }
}

impl<M: StateMachine> HttpState<M> {
    /// Hands `cmd` to the runtime loop and waits for its answer (`unknown` when the loop is
    /// gone or the backstop expires).
    pub async fn call(&self, cmd: M::Command) -> M::Response {
        let (tx, rx) = oneshot::channel();
        // If the loop is gone, nothing was proposed; still "unknown" as docs/node-api.md
        // asks for shutdown.
        if self.calls.send(ApiCall::Call { cmd, reply: tx }).await.is_err() {
            return M::unknown("shutting-down");
        }
        match tokio::time::timeout(self.request_timeout, rx).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => M::unknown("shutting-down"),
            Err(_) => M::unknown("timeout"),
        }
    }

    /// The client address of node `id`, if known.
    pub fn addr_of(&self, id: NodeId) -> Option<String> {
        self.client_addrs.get(&id).cloned()
    }
}

/// A state machine the node can serve over HTTP: its role's routes.
pub trait Served: StateMachine {
    /// The role's own routes (the common ones are added by [`app`]).
    fn routes() -> Router<HttpState<Self>>;
}

impl Served for Kv {
    fn routes() -> Router<HttpState<Kv>> {
        Router::new().route("/v1/kv", post(kv))
    }
}

/// The router (tested with `ServiceExt::oneshot`, served by `axum::serve`).
pub fn app<M: Served>(state: HttpState<M>) -> Router {
    M::routes()
        .route("/v1/status", get(status::<M>))
        .route("/v1/admin/clock", post(set_clock::<M>).get(get_clock::<M>))
        .route("/v1/admin/members", get(list_members::<M>))
        .route("/v1/admin/members/{op}", post(change_member::<M>))
        .with_state(state)
}

/// The HTTP status for a reply of `status` with `error`: 200, 421, 504 (timeout) or 503.
pub fn http_status(status: Reply, error: Option<&str>) -> StatusCode {
    match status {
        Reply::NotLeader => StatusCode::MISDIRECTED_REQUEST,
        Reply::Unknown if error == Some("timeout") => StatusCode::GATEWAY_TIMEOUT,
        Reply::Unknown => StatusCode::SERVICE_UNAVAILABLE,
        Reply::Ok | Reply::Fail | Reply::WrongGroup | Reply::NotArrived => StatusCode::OK,
    }
}

/// A `POST /v1/kv` answer.
pub fn kv_reply<M: StateMachine>(state: &HttpState<M>, response: &Response) -> HttpResponse {
    let body = response.to_body(|id| state.addr_of(id));
    (http_status(body.status, body.error.as_deref()), Json(body)).into_response()
}

/// A malformed request: certainly not applied.
pub fn bad_request(error: String) -> HttpResponse {
    let body = ResponseBody { status: Reply::Fail, value: None, error: Some(error), leader: None };
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Parses a `POST /v1/kv` body.
///
/// # Errors
///
/// A message naming what is wrong (answered 400).
pub fn parse_kv(body: &[u8]) -> Result<Command, String> {
    serde_json::from_slice::<Request>(body)
        .map_err(|e| format!("bad request body: {e}"))
        .and_then(|req| Command::from_request(req).map_err(|e| e.to_string()))
}

async fn kv(State(state): State<HttpState<Kv>>, body: Bytes) -> HttpResponse {
    match parse_kv(&body) {
        Ok(cmd) => {
            let response = state.call(cmd).await;
            kv_reply(&state, &response)
        }
        Err(error) => bad_request(error),
    }
}

async fn status<M: StateMachine>(State(state): State<HttpState<M>>) -> HttpResponse {
    let (tx, rx) = oneshot::channel();
    if state.calls.send(ApiCall::Status { reply: tx }).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match tokio::time::timeout(state.request_timeout, rx).await {
        Ok(Ok(status)) => Json(status).into_response(),
        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn list_members<M: StateMachine>(State(state): State<HttpState<M>>) -> HttpResponse {
    members_call(&state, None).await
}

async fn change_member<M: StateMachine>(
    State(state): State<HttpState<M>>,
    Path(op): Path<String>,
    body: Bytes,
) -> HttpResponse {
    let op = match op.parse::<MemberOp>() {
        Ok(op) => op,
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    let req: MemberRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad member request body: {e}"))
                .into_response()
        }
    };
    let id = NodeId(req.id);
    let change = match op {
        MemberOp::Add => MemberChange::AddLearner(id),
        MemberOp::Promote => MemberChange::Promote(id),
        MemberOp::Remove => MemberChange::Remove(id),
    };
    members_call(&state, Some(change)).await
}

async fn members_call<M: StateMachine>(
    state: &HttpState<M>,
    change: Option<MemberChange>,
) -> HttpResponse {
    let (tx, rx) = oneshot::channel();
    if state.calls.send(ApiCall::Members { change, reply: tx }).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match tokio::time::timeout(state.request_timeout, rx).await {
        Ok(Ok(Ok(members))) => Json(members).into_response(),
        Ok(Ok(Err(mut refused))) => {
            if let Some(hint) = refused.leader.as_mut() {
                hint.client_addr = state.client_addrs.get(&NodeId(hint.id)).cloned();
            }
            let code = StatusCode::from_u16(refused.error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (code, Json(refused)).into_response()
        }
        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn get_clock<M: StateMachine>(State(state): State<HttpState<M>>) -> Json<ClockSettings> {
    Json(state.clock.settings())
}

async fn set_clock<M: StateMachine>(
    State(state): State<HttpState<M>>,
    body: Bytes,
) -> HttpResponse {
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
