//! The server's defences: Host and Origin allow-lists, bodies refused or cut at their limit
//! without being buffered, requests in flight limited, the bounded run queue and
//! cancellation, panics contained. Through `oneshot` where the router alone is under test,
//! over a real socket where the connection matters.
// Polls child processes and waits on the wall clock.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use faultline_server::{app, harden, routes, AppState, HostPolicy, RECEIVING_PER_SLOT};
use futures_util::stream;
use serde_json::Value;
use tower::ServiceExt;

use crate::fixtures::STALE_READ_JSONL;
use crate::server::config;

async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 16 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: Body) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(body).unwrap()
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let store = tempfile::tempdir().unwrap();
    let mut c = config(store.path());
    c.allowed_hosts = vec!["fl.example".into()];
    let router = app(AppState::new(c));
    let get = |host: &str| req("GET", "/api/index", &[("host", host)], Body::empty());
    let (status, body) = send(&router, get("rebound.evil.example:8080")).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("--allow-host"), "{body}");
    for ok in ["localhost:8080", "127.0.0.1:1", "[::1]:8080", "fl.example", "fl.example:8080"] {
        assert_eq!(send(&router, get(ok)).await.0, StatusCode::OK, "Host {ok}");
    }
    let check = |origin: Option<&str>| {
        let mut h = vec![("content-type", "application/x-ndjson"), ("host", "localhost:8080")];
        if let Some(o) = origin {
            h.push(("origin", o));
        }
        req("POST", "/api/check?model=register", &h, Body::from(STALE_READ_JSONL))
    };
    for bad in ["https://evil.example", "null", "http://evil.example:8080"] {
        let (status, body) = send(&router, check(Some(bad))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "Origin {bad}: {body}");
        assert!(body["error"].as_str().unwrap().contains("origin"), "{body}");
    }
    for good in [None, Some("http://localhost:8080"), Some("http://fl.example:8080")] {
        let (status, body) = send(&router, check(good)).await;
        assert_eq!(status, StatusCode::OK, "Origin {good:?}: {body}");
        assert_eq!(body["verdict"], "illegal");
        // The check's report shows the smallest failing history first, as the CLI's does.
        let id = body["id"].as_str().unwrap();
        let report = store.path().join("checks").join(id).join("report.html");
        let html = std::fs::read_to_string(&report).unwrap();
        assert!(html.contains("id=\"shrunk\""), "no smallest failing history in {report:?}");
    }
    // A DELETE is state-changing too.
    let del = req(
        "DELETE",
        "/api/runs/1",
        &[("host", "localhost:8080"), ("origin", "https://evil.example")],
        Body::empty(),
    );
    assert_eq!(send(&router, del).await.0, StatusCode::FORBIDDEN);
}

/// A body that records whether it was read, and how many bytes it gave.
fn watched_body(chunks: usize, polled: Arc<AtomicBool>, given: Arc<AtomicUsize>) -> Body {
    Body::from_stream(stream::iter((0..chunks).map(move |_| {
        polled.store(true, Ordering::SeqCst);
        given.fetch_add(1024, Ordering::SeqCst);
        Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1024]))
    })))
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_without_buffering() {
    let store = tempfile::tempdir().unwrap();
    let mut c = config(store.path());
    c.max_history_bytes = 64 << 10;
    c.max_spec_bytes = 8 << 10;
    let router = app(AppState::new(c));
    let (polled, given) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    // An honest Content-Length over the limit: refused before a byte is read.
    for uri in ["/api/check", "/api/runs"] {
        let headers = [("content-type", "application/json"), ("content-length", "300000000")];
        let body = watched_body(300_000, polled.clone(), given.clone());
        let (status, body) = send(&router, req("POST", uri, &headers, body)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{uri}: {body}");
        assert!(body["error"].as_str().unwrap().contains("larger than the limit"), "{body}");
        assert!(!polled.load(Ordering::SeqCst), "{uri}: the body was read");
    }
    // No length (chunked): read up to the limit, then cut; nothing is left on disk.
    let body = watched_body(1_000_000, polled.clone(), given.clone());
    let headers = [("content-type", "application/x-ndjson")];
    let (status, _) = send(&router, req("POST", "/api/check", &headers, body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let read = given.load(Ordering::SeqCst);
    assert!(read <= (64 << 10) + 1024, "read {read} bytes of a 1 GB body with a 64 KiB limit");
    let uploads = std::fs::read_dir(store.path().join(".uploads")).unwrap().count();
    assert_eq!(uploads, 0, "the cut upload is removed");
}

/// A body that sends one byte and then nothing, forever (a client trickling or stalled).
fn stalled_body() -> Body {
    Body::from_stream(
        stream::iter([Ok::<_, std::io::Error>(Bytes::from("{"))]).chain(stream::pending()),
    )
}

#[tokio::test]
async fn stalled_bodies_hold_no_slot_and_are_cut_off() {
    let store = tempfile::tempdir().unwrap();
    let mut c = config(store.path());
    c.max_in_flight = 1;
    c.body_timeout = Duration::from_secs(2);
    let router = app(AppState::new(c));
    let headers = [("content-type", "application/x-ndjson")];
    // As many stalled uploads as may be received at once.
    let stalled: Vec<_> = (0..RECEIVING_PER_SLOT)
        .map(|_| {
            let r = req("POST", "/api/check", &headers, stalled_body());
            let router = router.clone();
            tokio::spawn(async move { send(&router, r).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // One more upload is refused at once with Retry-After; GETs are not counted.
    let r = req("POST", "/api/runs", &[("content-type", "application/toml")], Body::from(""));
    let resp = router.clone().oneshot(r).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(send(&router, req("GET", "/api/runs", &[], Body::empty())).await.0, StatusCode::OK);
    // Each stalled upload is cut off with 408 (its chunks stopped for longer than the idle
    // limit), and nothing of it is left on disk.
    for s in stalled {
        let (status, body) = tokio::time::timeout(Duration::from_secs(30), s)
            .await
            .expect("a stalled body is cut off")
            .unwrap();
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
        assert!(body["error"].as_str().unwrap().contains("did not arrive in time"), "{body}");
    }
    assert_eq!(std::fs::read_dir(store.path().join(".uploads")).unwrap().count(), 0);
    // A stalled body never held the one handling slot: with one stalling now, a whole
    // request is handled.
    let r = req("POST", "/api/check", &headers, stalled_body());
    let hold = tokio::spawn({
        let router = router.clone();
        async move { send(&router, r).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = req("POST", "/api/check", &headers, Body::from(STALE_READ_JSONL));
    let (status, body) = send(&router, r).await;
    assert_eq!((status, body["verdict"].as_str()), (StatusCode::OK, Some("illegal")), "{body}");
    hold.abort();
}

/// The `api-check` threads of this process (each check runs on one).
fn check_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "api-check")
        .count()
}

/// A kv history no order explains, and which the search must explore widely to know it: a
/// put (so the polynomial append checker does not apply), 22 concurrent appends of distinct
/// values (so no two are interchangeable), then a read that misses one of them. Every order
/// of the appends is a different state, so the search meets each before it gives up.
fn hard_kv_history() -> String {
    let mut lines = Vec::new();
    let mut index = 0;
    let mut ev = |ty: &str, p: usize, f: &str, v: &str, t: u64| {
        lines.push(format!(
            r#"{{"index":{index},"type":"{ty}","process":{p},"f":"{f}","key":"k","value":"{v}","time":{t}}}"#
        ));
        index += 1;
    };
    ev("invoke", 0, "put", "", 0);
    ev("ok", 0, "put", "", 10);
    let n = 22;
    for p in 1..=n {
        ev("invoke", p, "append", &format!("a{p},"), 20);
    }
    for p in 1..=n {
        ev("ok", p, "append", &format!("a{p},"), 30);
    }
    let seen: String = (1..n).map(|p| format!("a{p},")).collect();
    ev("invoke", n + 1, "get", "", 40);
    ev("ok", n + 1, "get", &seen, 50);
    lines.join("\n") + "\n"
}

#[tokio::test]
async fn an_abandoned_check_is_cancelled_and_frees_its_slot() {
    let store = tempfile::tempdir().unwrap();
    let router = app(AppState::new(config(store.path())));
    let headers = [("content-type", "application/x-ndjson")];
    let r = req("POST", "/api/check?model=kv&time_limit=120", &headers, hard_kv_history().into());
    let abandoned = tokio::spawn({
        let router = router.clone();
        async move { send(&router, r).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // (Other tests' checks run in this process too, so at least one.)
    assert!(check_threads() >= 1, "the check is still searching (else this history is too easy)");
    // The client goes away: its check stops long before its 120 s time limit, and the one
    // check slot (which its thread holds until the search stopped) is free again.
    abandoned.abort();
    let _ = abandoned.await;
    let r = req("POST", "/api/check", &headers, Body::from(STALE_READ_JSONL));
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), send(&router, r))
        .await
        .expect("the abandoned check still holds the check slot");
    assert_eq!((status, body["verdict"].as_str()), (StatusCode::OK, Some("illegal")), "{body}");
}

#[tokio::test]
async fn an_empty_history_is_unknown_not_green() {
    let store = tempfile::tempdir().unwrap();
    let router = app(AppState::new(config(store.path())));
    let headers = [("content-type", "application/x-ndjson")];
    let (status, body) = send(&router, req("POST", "/api/check", &headers, Body::empty())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["verdict"].as_str(), body["exit_code"].as_u64()), (Some("unknown"), Some(2)));
    assert!(body["reason"].as_str().unwrap().contains("nothing was checked"), "{body}");
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store = tempfile::tempdir().unwrap();
    let mut c = config(store.path());
    c.header_timeout = Duration::from_secs(1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server =
        tokio::spawn(faultline_server::serve(listener, AppState::new(c), std::future::pending()));
    // Half a request line, then silence; and a connection that sends nothing at all.
    let mut partial = tokio::net::TcpStream::connect(addr).await.unwrap();
    partial.write_all(b"GET /api/index HTTP/1.1\r\nHo").await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    for conn in [&mut partial, &mut silent] {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the server still holds a connection that sent no headers");
    }
    // A prompt client is served.
    let mut ok = tokio::net::TcpStream::connect(addr).await.unwrap();
    ok.write_all(b"GET /api/index HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    ok.read_to_end(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"), "{buf:?}");
    server.abort();
}

use futures_util::StreamExt as _;

/// A stand-in for `faultline`: runs until SIGINT, then says so and exits 3, as a run
/// interrupted by Ctrl-C does. Prints its pid and its sleeper's.
fn interruptible_faultline(dir: &Path) -> PathBuf {
    let path = dir.join("fake-faultline");
    std::fs::write(
        &path,
        "#!/bin/sh\nsleep 60 &\np=$!\necho \"pids: $$ $p\" >&2\n\
         trap 'kill $p; echo \"stopped by SIGINT\" >&2; exit 3' INT\nwait $p\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether a process is gone (or a zombie waiting for its reaper).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

async fn record(router: &axum::Router, id: u64) -> Value {
    send(router, req("GET", &format!("/api/runs/{id}"), &[], Body::empty())).await.1
}

#[tokio::test]
async fn the_queue_is_bounded_and_runs_can_be_cancelled() {
    let store = tempfile::tempdir().unwrap();
    let mut c = config(store.path());
    c.faultline_exe = interruptible_faultline(store.path());
    c.max_queued_runs = 2;
    let router = app(AppState::new(c));
    let post = || {
        let h = [("content-type", "application/toml")];
        req("POST", "/api/runs", &h, Body::from("name = \"register\"\n"))
    };
    assert_eq!(send(&router, post()).await.0, StatusCode::ACCEPTED);
    assert_eq!(send(&router, post()).await.0, StatusCode::ACCEPTED);
    let resp = router.clone().oneshot(post()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let specs = || {
        let mut v: Vec<String> = std::fs::read_dir(store.path().join(".specs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(specs(), ["run-1.json", "run-2.json"], "no spec for the refused post");

    // Cancel the queued one: at once, spec removed.
    let (status, r2) = send(&router, req("DELETE", "/api/runs/2", &[], Body::empty())).await;
    assert_eq!((status, r2["state"].as_str()), (StatusCode::OK, Some("cancelled")), "{r2}");
    assert_eq!(specs(), ["run-1.json"]);

    // Cancel the running one, once it has started: SIGINT, it stops, the record says so.
    let mut pids = None;
    for _ in 0..100 {
        let r1 = record(&router, 1).await;
        pids = r1["progress"]
            .as_array()
            .and_then(|p| p.iter().find_map(|l| l.as_str()?.strip_prefix("pids: ")))
            .map(|s| s.split(' ').map(|p| p.parse::<u32>().unwrap()).collect::<Vec<_>>());
        if pids.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pids = pids.expect("run 1 started");
    let (status, r1) = send(&router, req("DELETE", "/api/runs/1", &[], Body::empty())).await;
    assert_eq!(status, StatusCode::OK, "{r1}");
    assert_eq!(r1["state"], "cancelled", "{r1}");
    assert_eq!(r1["exit_code"], 3, "{r1}");
    assert!(r1["progress"].to_string().contains("stopped by SIGINT"), "{r1}");
    assert!(r1["error"].as_str().unwrap().contains("cancelled"), "{r1}");
    for _ in 0..100 {
        if pids.iter().all(|&p| is_gone(p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pids.iter().all(|&p| is_gone(p)), "{pids:?} still running");
    assert_eq!(specs(), Vec::<String>::new(), "no spec file outlives its run");

    let (status, _) = send(&router, req("DELETE", "/api/runs/1", &[], Body::empty())).await;
    assert_eq!(status, StatusCode::CONFLICT, "already over");
    let (status, _) = send(&router, req("DELETE", "/api/runs/9", &[], Body::empty())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The queue has room again.
    assert_eq!(send(&router, post()).await.0, StatusCode::ACCEPTED);
    let (status, r3) = send(&router, req("DELETE", "/api/runs/3", &[], Body::empty())).await;
    assert_eq!((status, r3["state"].as_str()), (StatusCode::OK, Some("cancelled")), "{r3}");
}

async fn boom() -> &'static str {
    panic!("boom in a handler")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_lives_on() {
    let store = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The real routes and defences, plus one handler that panics.
    let router =
        routes(AppState::new(config(store.path()))).route("/boom", axum::routing::get(boom));
    let router = harden(router, HostPolicy::new(Some(addr), &[]).unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    for _ in 0..3 {
        let resp = http.get(format!("{base}/boom")).send().await.unwrap();
        assert_eq!(resp.status(), 500);
        let v: Value = resp.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains("boom in a handler"), "{v}");
    }
    let resp = http.get(format!("{base}/api/index")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "still serving");
    // Over the socket, the Host check knows the bound port.
    let other_port = format!("localhost:{}", addr.port().wrapping_add(1));
    let resp =
        http.get(format!("{base}/api/index")).header("host", other_port).send().await.unwrap();
    assert_eq!(resp.status(), 421);
    server.abort();
}

#[tokio::test]
async fn malformed_ids_and_queries_get_json_errors() {
    let store = tempfile::tempdir().unwrap();
    let router = app(AppState::new(config(store.path())));
    for (method, uri) in [
        ("GET", "/api/runs/abc"),
        ("DELETE", "/api/runs/-1"),
        ("GET", "/api/runs/99999999999999999999999/events"),
        ("GET", "/api/campaigns/x1"),
    ] {
        let (status, body) = send(&router, req(method, uri, &[], Body::empty())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("path")), "{uri}: {body}");
    }
    let headers = [("content-type", "application/x-ndjson")];
    let r = req("POST", "/api/check?time_limit=soon", &headers, Body::from(STALE_READ_JSONL));
    let (status, body) = send(&router, r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "query", "{body}");
}
