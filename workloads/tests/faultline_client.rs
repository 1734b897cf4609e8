//! The faultline client against small axum stubs of the node API: leader redirects, retries
//! with the same (client, seq), refused connections, and what is recorded when nothing works.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use faultline_workloads::{ClientConfig, Clients, Endpoint, Func, Op, Outcome, SystemKind};
use serde_json::{json, Value};

/// How a stub node answers.
#[derive(Clone, Copy)]
enum Mode {
    /// Always not-leader, pointing at the given address index (or none).
    Redirect(Option<usize>),
    /// The first attempt of each (client, seq) "times out" (504) after applying; retries
    /// answer ok, as a de-duplicating node does.
    FlakyLeader,
    /// Always 504.
    Timeout,
}

#[derive(Clone)]
struct Stub {
    mode: Mode,
    addrs: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Vec<(u64, u64)>>>,
}

async fn kv(State(s): State<Stub>, Json(req): Json<Value>) -> (StatusCode, Json<Value>) {
    let id = (req["client"].as_u64().unwrap(), req["seq"].as_u64().unwrap());
    let first = {
        let mut seen = s.seen.lock().unwrap();
        let first = !seen.contains(&id);
        seen.push(id);
        first
    };
    match s.mode {
        Mode::Redirect(to) => {
            let leader =
                to.map(|i| json!({"id": i + 1, "client_addr": s.addrs.lock().unwrap()[i]}));
            (
                StatusCode::MISDIRECTED_REQUEST,
                Json(json!({"status": "not-leader", "leader": leader})),
            )
        }
        Mode::FlakyLeader if first => {
            (StatusCode::GATEWAY_TIMEOUT, Json(json!({"status": "unknown", "error": "timeout"})))
        }
        Mode::FlakyLeader => (StatusCode::OK, Json(json!({"status": "ok", "value": "41"}))),
        Mode::Timeout => {
            (StatusCode::GATEWAY_TIMEOUT, Json(json!({"status": "unknown", "error": "timeout"})))
        }
    }
}

/// Starts one stub per mode; returns their stubs (for the `seen` logs) and endpoints.
async fn cluster(modes: &[Mode]) -> (Vec<Stub>, Vec<Endpoint>) {
    let addrs = Arc::new(Mutex::new(Vec::new()));
    let mut stubs = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.lock().unwrap().push(listener.local_addr().unwrap().to_string());
        let stub = Stub { mode: *mode, addrs: addrs.clone(), seen: Arc::default() };
        let app = Router::new().route("/v1/kv", post(kv)).with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        stubs.push(stub);
        let _ = i;
    }
    let eps = addrs
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, a)| Endpoint { name: format!("n{}", i + 1), addr: a.clone() })
        .collect();
    (stubs, eps)
}

fn clients(endpoints: Vec<Endpoint>, op_ms: u64) -> Clients {
    Clients::new(ClientConfig {
        system: SystemKind::Faultline,
        endpoints,
        controllers: Vec::new(),
        request_timeout: Duration::from_millis(300),
        op_timeout: Duration::from_millis(op_ms),
        serializable_reads: false,
    })
    .unwrap()
}

fn write(v: i64) -> Op {
    Op { f: Func::Write, key: "k1".into(), value: json!(v) }
}

#[tokio::test]
async fn follows_the_leader_and_retries_with_the_same_seq() {
    let (stubs, eps) = cluster(&[Mode::Redirect(Some(1)), Mode::FlakyLeader]).await;
    let clients = clients(eps, 3000);
    let mut c = clients.open(0); // starts on n1, which redirects to n2
    assert_eq!(c.call(&write(41)).await, Outcome::Ok(json!(41)));
    // The history records who answered: n2, after n1 redirected.
    assert_eq!(c.served().node.as_deref(), Some("n2"));
    let read = Op { f: Func::Read, key: "k1".into(), value: Value::Null };
    // The read starts on its home node again (redirected), times out once, then succeeds.
    assert_eq!(c.call(&read).await, Outcome::Ok(json!(41)));
    // Every attempt of the write, on either node, reused (client 1, seq 1); the read is seq 2.
    let n1 = stubs[0].seen.lock().unwrap().clone();
    let n2 = stubs[1].seen.lock().unwrap().clone();
    assert!(n1.iter().chain(&n2).all(|s| s.0 == 1 && s.1 <= 2), "{n1:?} {n2:?}");
    assert_eq!(n2.iter().filter(|s| **s == (1, 1)).count(), 2, "{n2:?}");
    assert_eq!(n2.iter().filter(|s| **s == (1, 2)).count(), 2, "{n2:?}");
}

#[tokio::test]
async fn not_leader_everywhere_is_a_fail() {
    let (_stubs, eps) = cluster(&[Mode::Redirect(None), Mode::Redirect(None)]).await;
    let mut c = clients(eps, 400).open(1);
    assert_eq!(c.call(&write(1)).await, Outcome::Fail("not-leader".into()));
}

#[tokio::test]
async fn timeouts_are_unknown_for_writes_and_fail_for_reads() {
    let (_stubs, eps) = cluster(&[Mode::Timeout]).await;
    let clients = clients(eps, 500);
    let mut c = clients.open(0);
    assert_eq!(c.call(&write(1)).await, Outcome::Unknown("timeout".into()));
    let get = Op { f: Func::Get, key: "k1".into(), value: Value::Null };
    assert_eq!(c.call(&get).await, Outcome::Fail("timeout".into()));
}

#[tokio::test]
async fn a_refused_connection_moves_on_and_is_never_unknown() {
    // A port nothing listens on: bind, note, drop.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (_stubs, mut eps) = cluster(&[Mode::FlakyLeader]).await;
    eps.insert(0, Endpoint { name: "n0".into(), addr: dead.to_string() });
    let clients = clients(eps.clone(), 3000);
    assert!(matches!(clients.open(0).call(&write(5)).await, Outcome::Ok(_)));
    let only_dead = self::clients(vec![eps[0].clone()], 300);
    assert!(matches!(only_dead.open(0).call(&write(6)).await, Outcome::Fail(_)));
}
