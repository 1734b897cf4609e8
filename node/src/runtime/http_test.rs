//! Router tests without a socket (axum `examples/testing`): a fake runtime loop answers.

use axum::body::Body;
use axum::http::Request as HttpRequest;
use tower::ServiceExt;

use super::*;
use crate::service::Status;
use faultline_api::node::{LeaderHint, Role};

/// A router whose "runtime" answers each command with `answer` (`None`: never answers).
fn router(answer: fn(Command) -> Option<Response>) -> (Router, Clock) {
    let (tx, mut rx) = mpsc::channel::<ApiCall<Kv>>(8);
    let clock = Clock::new();
    tokio::spawn(async move {
        let mut unanswered = Vec::new();
        while let Some(call) = rx.recv().await {
            match call {
                ApiCall::Call { cmd, reply } => match answer(cmd) {
                    Some(a) => drop(reply.send(a)),
                    None => unanswered.push(reply),
                },
                ApiCall::Status { reply } => drop(reply.send(NodeStatus {
                    service: Status {
                        id: 1,
                        role: Role::Leader,
                        term: 2,
                        leader: Some(1),
                        commit_index: 3,
                        applied_index: 3,
                        last_log_index: 3,
                        log_entries: 3,
                        snapshot_index: 0,
                        snapshot_bytes: 0,
                    },
                    wal_bytes: 100,
                    clock_offset_ms: 0,
                    clock_rate: 1.0,
                    group: None,
                })),
                ApiCall::Members { change, reply } => {
                    let refused = |error, leader: Option<u64>| MemberError {
                        error,
                        message: "refused".into(),
                        leader: leader.map(|id| LeaderHint { id, client_addr: None }),
                    };
                    drop(reply.send(match change {
                        None | Some(MemberChange::AddLearner(_)) => Ok(Members {
                            id: 1,
                            leader: Some(1),
                            voters: vec![1, 2, 3],
                            learners: vec![4],
                            config_index: 7,
                            committed: false,
                        }),
                        Some(MemberChange::Promote(_)) => {
                            Err(refused(MemberRefusal::NotCaughtUp, None))
                        }
                        Some(MemberChange::Remove(_)) => {
                            Err(refused(MemberRefusal::NotLeader, Some(2)))
                        }
                    }))
                }
            }
        }
    });
    let state = HttpState {
        calls: tx,
        clock: clock.clone(),
        request_timeout: Duration::from_millis(100),
        client_addrs: Arc::new(BTreeMap::from([(NodeId(2), "127.0.0.1:8002".to_string())])),
    };
    (app(state), clock)
}

async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (u16, serde_json::Value) {
    let req = HttpRequest::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let code = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (code, json)
}

#[tokio::test]
async fn kv_responses_map_to_status_codes_and_bodies() {
    let (app, _) = router(|cmd| match cmd.key.as_str() {
        "ok" => Some(Response::Ok { value: Some("v".into()) }),
        "cas" => Some(Response::Fail { error: "cas-mismatch".into(), value: Some("4".into()) }),
        "nl" => Some(Response::NotLeader { leader: Some(NodeId(2)) }),
        "lost" => Some(Response::unknown("leadership-lost")),
        _ => None,
    });
    let body = |key: &str| format!(r#"{{"client":1,"seq":1,"op":"get","key":"{key}"}}"#);
    let (code, json) = call(&app, "POST", "/v1/kv", &body("ok")).await;
    assert_eq!(
        (code, json["status"].as_str(), json["value"].as_str()),
        (200, Some("ok"), Some("v"))
    );
    let (code, json) = call(&app, "POST", "/v1/kv", &body("cas")).await;
    assert_eq!((code, json["error"].as_str()), (200, Some("cas-mismatch")));
    let (code, json) = call(&app, "POST", "/v1/kv", &body("nl")).await;
    assert_eq!(code, 421);
    assert_eq!(json["leader"], serde_json::json!({"id": 2, "client_addr": "127.0.0.1:8002"}));
    let (code, json) = call(&app, "POST", "/v1/kv", &body("lost")).await;
    assert_eq!((code, json["status"].as_str()), (503, Some("unknown")));
    let (code, json) = call(&app, "POST", "/v1/kv", &body("silent")).await;
    assert_eq!(
        (code, json["status"].as_str(), json["error"].as_str()),
        (504, Some("unknown"), Some("timeout"))
    );
}

#[tokio::test]
async fn malformed_requests_fail_with_400() {
    let (app, _) = router(|_| Some(Response::Ok { value: None }));
    for body in [
        "not json",
        r#"{"client":1,"seq":1,"op":"frob","key":"k"}"#,
        r#"{"client":1,"seq":1,"op":"put","key":"k"}"#,
        r#"{"client":1,"seq":1,"op":"cas","key":"k"}"#,
        r#"{"seq":1,"op":"get","key":"k"}"#,
    ] {
        let (code, json) = call(&app, "POST", "/v1/kv", body).await;
        assert_eq!((code, json["status"].as_str()), (400, Some("fail")), "{body}");
        assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}: {json}");
    }
}

#[tokio::test]
async fn status_and_clock_endpoints() {
    let (app, clock) = router(|_| None);
    let (code, json) = call(&app, "GET", "/v1/status", "").await;
    assert_eq!(
        (code, json["role"].as_str(), json["wal_bytes"].as_u64()),
        (200, Some("leader"), Some(100))
    );
    assert_eq!(json["commit_index"].as_u64(), Some(3), "flattened service status: {json}");
    let (code, json) =
        call(&app, "POST", "/v1/admin/clock", r#"{"offset_ms":-5000,"rate":2.0}"#).await;
    assert_eq!(code, 200);
    assert_eq!(json, serde_json::json!({"offset_ms": -5000, "rate": 2.0}));
    assert_eq!(clock.settings(), ClockSettings { offset_ms: -5000, rate: 2.0 });
    let (code, _) = call(&app, "POST", "/v1/admin/clock", r#"{"offset_ms":0,"rate":0}"#).await;
    assert_eq!(code, 400);
    assert_eq!(clock.settings().rate, 2.0, "a refused setting changes nothing");
}

#[tokio::test]
async fn member_endpoints_list_change_and_map_refusals_to_status_codes() {
    let (app, _) = router(|_| None);
    let (code, json) = call(&app, "GET", "/v1/admin/members", "").await;
    assert_eq!(
        (code, json["voters"].clone(), json["learners"].clone()),
        (200, serde_json::json!([1, 2, 3]), serde_json::json!([4]))
    );
    let (code, json) = call(&app, "POST", "/v1/admin/members/add", r#"{"id":4}"#).await;
    assert_eq!(
        (code, json["config_index"].as_u64(), json["committed"].as_bool()),
        (200, Some(7), Some(false))
    );
    let (code, json) = call(&app, "POST", "/v1/admin/members/promote", r#"{"id":4}"#).await;
    assert_eq!((code, json["error"].as_str()), (409, Some("not-caught-up")));
    let (code, json) = call(&app, "POST", "/v1/admin/members/remove", r#"{"id":3}"#).await;
    assert_eq!(code, 421);
    assert_eq!(json["leader"], serde_json::json!({"id": 2, "client_addr": "127.0.0.1:8002"}));
    let (code, _) = call(&app, "POST", "/v1/admin/members/frob", r#"{"id":3}"#).await;
    assert_eq!(code, 404);
    let (code, _) = call(&app, "POST", "/v1/admin/members/add", r#"{"node":3}"#).await;
    assert_eq!(code, 400);
}
