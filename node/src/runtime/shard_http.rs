//! The sharded KV's HTTP routes: the controller's `POST /v1/ctrl` (JSON, typed in
//! `faultline_api::shard`), a replica group's `POST /v1/kv` (the KV API plus the answers
//! `wrong-group` and `not-arrived`) and the group-to-group `POST /v1/shard/pull` and
//! `/v1/shard/delete` (postcard bodies with a CRC-32 trailer, like peer frames).
//!
//! ```text
//!  CtrlRequest ─ctrl_command─▶ CtrlCommand ─▶ loop ─▶ CtrlResponse ─ctrl_body─▶ CtrlResponseBody
//!  Request ─▶ GroupCommand::Client ─▶ loop ─▶ GroupResponse::{Kv, WrongGroup, NotArrived} ─▶ JSON
//!  frame(postcard(Pull|Delete)) ─▶ loop ─▶ GroupResponse ─▶ frame(postcard(..))
//! ```

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use faultline_api::node::{LeaderHint, Reply};
use faultline_api::shard::{CtrlRequest, CtrlResponseBody, CtrlWireOp};

use super::http::{bad_request, http_status, parse_kv, HttpState, Served};
use crate::raft::types::{ClientId, NodeId};
use crate::shard::{Controller, CtrlCommand, CtrlOp, CtrlResponse, Group, GroupCommand};

/// Largest framed shard body accepted or decoded (bounds a hostile or corrupt answer).
pub const MAX_SHARD_BODY: usize = 64 << 20;

impl Served for Controller {
    fn routes() -> Router<HttpState<Controller>> {
        Router::new().route("/v1/ctrl", post(ctrl))
    }
}

impl Served for Group {
    fn routes() -> Router<HttpState<Group>> {
        Router::new()
            .route("/v1/kv", post(group_kv))
            .route("/v1/shard/pull", post(shard_pull))
            .route("/v1/shard/delete", post(shard_delete))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_SHARD_BODY))
    }
}

/// The controller command a JSON request asks for.
///
/// # Errors
///
/// A message naming the missing or bad field.
pub fn ctrl_command(req: CtrlRequest) -> Result<CtrlCommand, String> {
    let op = match req.op {
        CtrlWireOp::Join if req.groups.is_empty() => return Err("join needs \"groups\"".into()),
        CtrlWireOp::Join => CtrlOp::Join(req.groups),
        CtrlWireOp::Leave if req.gids.is_empty() => return Err("leave needs \"gids\"".into()),
        CtrlWireOp::Leave => CtrlOp::Leave(req.gids),
        CtrlWireOp::Move => match (req.shard, req.gid) {
            (Some(shard), Some(gid)) => CtrlOp::Move { shard, gid },
            _ => return Err("move needs \"shard\" and \"gid\"".into()),
        },
        CtrlWireOp::Query => CtrlOp::Query(req.num.and_then(|n| u64::try_from(n).ok())),
    };
    Ok(CtrlCommand { client: ClientId(req.client), seq: req.seq, op })
}

/// The JSON answer for a controller response.
pub fn ctrl_body(
    response: CtrlResponse,
    addr_of: impl Fn(NodeId) -> Option<String>,
) -> CtrlResponseBody {
    let body = |status, config, error: Option<String>, leader| CtrlResponseBody {
        status,
        config,
        error,
        leader,
    };
    match response {
        CtrlResponse::Ok(cfg) => body(Reply::Ok, Some(cfg), None, None),
        CtrlResponse::Fail(e) => body(Reply::Fail, None, Some(e), None),
        CtrlResponse::NotLeader(l) => body(
            Reply::NotLeader,
            None,
            Some("not-leader".into()),
            l.map(|id| LeaderHint { id: id.0, client_addr: addr_of(id) }),
        ),
        CtrlResponse::Unknown(e) => body(Reply::Unknown, None, Some(e), None),
    }
}

async fn ctrl(State(state): State<HttpState<Controller>>, body: Bytes) -> HttpResponse {
    let cmd = serde_json::from_slice::<CtrlRequest>(&body)
        .map_err(|e| format!("bad request body: {e}"))
        .and_then(ctrl_command);
    match cmd {
        Ok(cmd) => {
            let body = ctrl_body(state.call(cmd).await, |id| state.addr_of(id));
            (http_status(body.status, body.error.as_deref()), Json(body)).into_response()
        }
        Err(error) => bad_request(error),
    }
}

async fn group_kv(State(state): State<HttpState<Group>>, body: Bytes) -> HttpResponse {
    let cmd = match parse_kv(&body) {
        Ok(cmd) => cmd,
        Err(error) => return bad_request(error),
    };
    let answer = state.call(GroupCommand::Client(cmd)).await;
    match answer.to_body(|id| state.addr_of(id)) {
        Some(body) => (http_status(body.status, body.error.as_deref()), Json(body)).into_response(),
        None => {
            tracing::error!(?answer, "a client command got an internal answer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `bytes` followed by their CRC-32 (little endian).
pub fn frame(bytes: Vec<u8>) -> Vec<u8> {
    let mut out = bytes;
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The payload of a [`frame`], if its checksum holds and it is within [`MAX_SHARD_BODY`].
pub fn unframe(framed: &[u8]) -> Option<&[u8]> {
    if framed.len() < 4 || framed.len() > MAX_SHARD_BODY + 4 {
        return None;
    }
    let (payload, crc) = framed.split_at(framed.len() - 4);
    let crc = u32::from_le_bytes(crc.try_into().ok()?);
    (crc32fast::hash(payload) == crc).then_some(payload)
}

/// Encodes a group command or answer as a frame.
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    frame(postcard::to_stdvec(value).expect("encoding plain data cannot fail"))
}

/// Decodes a frame made by [`encode`].
pub fn decode<T: serde::de::DeserializeOwned>(framed: &[u8]) -> Option<T> {
    postcard::from_bytes(unframe(framed)?).ok()
}

async fn shard_call(state: HttpState<Group>, body: Bytes, want_pull: bool) -> HttpResponse {
    let cmd: Option<GroupCommand> = decode(&body);
    let ok = match &cmd {
        Some(GroupCommand::Pull { .. }) => want_pull,
        Some(GroupCommand::Delete { .. }) => !want_pull,
        _ => false,
    };
    let Some(cmd) = cmd.filter(|_| ok) else {
        return (StatusCode::BAD_REQUEST, "not a framed pull/delete command").into_response();
    };
    let response = state.call(cmd).await;
    (StatusCode::OK, encode(&response)).into_response()
}

async fn shard_pull(State(state): State<HttpState<Group>>, body: Bytes) -> HttpResponse {
    shard_call(state, body, true).await
}

async fn shard_delete(State(state): State<HttpState<Group>>, body: Bytes) -> HttpResponse {
    shard_call(state, body, false).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Gid;
    use std::collections::BTreeMap;

    #[test]
    fn ctrl_requests_and_frames() {
        let mut req = CtrlRequest::query(None);
        assert_eq!(ctrl_command(req.clone()).unwrap().op, CtrlOp::Query(None));
        req.num = Some(-1);
        assert_eq!(ctrl_command(req.clone()).unwrap().op, CtrlOp::Query(None));
        req.op = CtrlWireOp::Move;
        assert!(ctrl_command(req.clone()).unwrap_err().contains("shard"));
        req.op = CtrlWireOp::Join;
        assert!(ctrl_command(req.clone()).unwrap_err().contains("groups"));
        req.groups = BTreeMap::from([(Gid(1), vec!["a".to_string()])]);
        assert!(matches!(ctrl_command(req).unwrap().op, CtrlOp::Join(_)));
        let nl = ctrl_body(CtrlResponse::NotLeader(Some(NodeId(2))), |_| Some("x:1".into()));
        assert_eq!(nl.leader.unwrap().client_addr.as_deref(), Some("x:1"));
        let cmd = GroupCommand::Pull { num: 3, shards: vec![1, 2] };
        let mut framed = encode(&cmd);
        assert_eq!(decode::<GroupCommand>(&framed), Some(cmd));
        framed[0] ^= 1;
        assert_eq!(decode::<GroupCommand>(&framed), None, "a flipped bit fails the checksum");
        assert_eq!(unframe(&[1, 2]), None);
    }
}
