//! The HTTP/JSON API (axum): `POST /v1/kv`, `GET /v1/status`, `POST /v1/admin/clock`.
//!
//! ```text
//!   client ──POST /v1/kv──▶ kv() ──ApiCall::Kv{cmd, reply}──▶ runtime loop (owns the core)
//!          ◀──JSON + status code── api::Response ◀──oneshot── (or backstop timeout ─▶ 504)
//!   GET /v1/status ──ApiCall::Status──▶ runtime loop ──▶ NodeStatus JSON
//!   POST /v1/admin/clock ──▶ Clock::set (shared handle; the loop reads it every tick)
//!   GET|POST /v1/admin/members[/op] ──ApiCall::Members{change}──▶ runtime loop ──▶ Members
//!          (or MemberError: 421 not leader, 409 busy / not caught up, 400 invalid)
//! ```
//!
//! The wire format is fixed by `docs/node-api.md`; the JSON types live in [`crate::api`]. Status
//! codes: ok/fail 200, not-leader 421, unknown 503 (leadership lost, shutting down) or 504
//! (timeout), malformed request 400 (a `fail`: certainly not applied).

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
use crate::raft::types::NodeId;
use crate::raft::MemberChange;
pub use faultline_api::node::{
    ClockSettings, MemberError, MemberOp, MemberRefusal, MemberRequest, Members, NodeStatus,
};

/// What the HTTP layer asks the runtime loop.
#[derive(Debug)]
pub enum ApiCall {
    /// A client command; the loop answers on `reply` (dropping it means "shutting down").
    Kv {
        /// The command.
        cmd: Command,
        /// Where the answer goes.
        reply: oneshot::Sender<Response>,
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
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The runtime loop's API inbox.
    pub calls: mpsc::Sender<ApiCall>,
    /// The node's clock (set directly by the admin endpoint).
    pub clock: Clock,
    /// Real time after which a request is answered `unknown`/`timeout` even if the loop has
    /// not answered (a backstop: the service times requests out first, in ticks).
    pub request_timeout: Duration,
    /// Client addresses of the nodes, for not-leader answers.
    pub client_addrs: Arc<BTreeMap<NodeId, String>>,
}

/// The router (tested with `ServiceExt::oneshot`, served by `axum::serve`).
pub fn app(state: HttpState) -> Router {
    Router::new()
        .route("/v1/kv", post(kv))
        .route("/v1/status", get(status))
        .route("/v1/admin/clock", post(set_clock).get(get_clock))
        .route("/v1/admin/members", get(list_members))
        .route("/v1/admin/members/{op}", post(change_member))
        .with_state(state)
}

fn reply(state: &HttpState, response: &Response) -> HttpResponse {
    let code =
        StatusCode::from_u16(response.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.to_body(|id| state.client_addrs.get(&id).cloned());
    (code, Json(body)).into_response()
}

async fn kv(State(state): State<HttpState>, body: Bytes) -> HttpResponse {
    let cmd = serde_json::from_slice::<Request>(&body)
        .map_err(|e| format!("bad request body: {e}"))
        .and_then(|req| Command::from_request(req).map_err(|e| e.to_string()));
    let cmd = match cmd {
        Ok(cmd) => cmd,
        Err(error) => {
            let body =
                ResponseBody { status: Reply::Fail, value: None, error: Some(error), leader: None };
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let (tx, rx) = oneshot::channel();
    // If the loop is gone, nothing was proposed; still "unknown" as docs/node-api.md asks for
    // shutdown.
    if state.calls.send(ApiCall::Kv { cmd, reply: tx }).await.is_err() {
        return reply(&state, &Response::unknown("shutting-down"));
    }
    let response = match tokio::time::timeout(state.request_timeout, rx).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => Response::unknown("shutting-down"),
        Err(_) => Response::unknown("timeout"),
    };
    reply(&state, &response)
}

async fn status(State(state): State<HttpState>) -> HttpResponse {
    let (tx, rx) = oneshot::channel();
    if state.calls.send(ApiCall::Status { reply: tx }).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match tokio::time::timeout(state.request_timeout, rx).await {
        Ok(Ok(status)) => Json(status).into_response(),
        _ => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn list_members(State(state): State<HttpState>) -> HttpResponse {
    members_call(&state, None).await
}

async fn change_member(
    State(state): State<HttpState>,
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

async fn members_call(state: &HttpState, change: Option<MemberChange>) -> HttpResponse {
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

async fn get_clock(State(state): State<HttpState>) -> Json<ClockSettings> {
    Json(state.clock.settings())
}

async fn set_clock(State(state): State<HttpState>, body: Bytes) -> HttpResponse {
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
