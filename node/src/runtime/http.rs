//! The HTTP/JSON API (axum): `POST /v1/kv`, `GET /v1/status`, `POST /v1/admin/clock`.
//!
//! ```text
//!   client ──POST /v1/kv──▶ kv() ──ApiCall::Kv{cmd, reply}──▶ runtime loop (owns the core)
//!          ◀──JSON + status code── api::Response ◀──oneshot── (or backstop timeout ─▶ 504)
//!   GET /v1/status ──ApiCall::Status──▶ runtime loop ──▶ NodeStatus JSON
//!   POST /v1/admin/clock ──▶ Clock::set (shared handle; the loop reads it every tick)
//! ```
//!
//! The wire format is fixed by `docs/node-api.md`; the JSON types live in [`crate::api`]. Status
//! codes: ok/fail 200, not-leader 421, unknown 503 (leadership lost, shutting down) or 504
//! (timeout), malformed request 400 (a `fail`: certainly not applied).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::clock::Clock;
use crate::api::{Command, Reply, Request, Response, ResponseBody};
use crate::raft::types::NodeId;
pub use faultline_api::node::{ClockSettings, NodeStatus};

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
