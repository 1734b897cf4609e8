//! The axum router without a socket (`oneshot`), and end to end over real HTTP (with the
//! index loaded in headless Chromium).
// Polls real child processes and a real server: waits on the wall clock.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use faultline_server::{app, AppState, ServerConfig};
use serde_json::Value;
use tower::ServiceExt;

use faultline_checker::Verdict;

use crate::fixtures::STALE_READ_JSONL;
use crate::store_fixtures as fixtures;

/// A store with three runs of two tests (one illegal), a report, and a file outside it.
fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for (test, time, verdict) in [
        ("register", "20261120T010000.000Z", Verdict::Linearizable),
        ("register", "20261121T010000.000Z", Verdict::Illegal),
        ("kv-etcd", "20261121T020000.000Z", Verdict::Linearizable),
    ] {
        let d = store.join(test).join(time);
        std::fs::create_dir_all(d.join("nodes/n1")).unwrap();
        std::fs::write(d.join("test.json"), fixtures::test_json(test)).unwrap();
        std::fs::write(d.join("results.json"), fixtures::results_json(test, &d, verdict)).unwrap();
        std::fs::write(d.join("report.html"), format!("<html>report {test} {time}</html>"))
            .unwrap();
        std::fs::write(d.join("nodes/n1/node.log"), "log line\n").unwrap();
    }
    std::os::unix::fs::symlink("20261121T010000.000Z", store.join("register/latest")).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "do not serve").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), store.join("register/escape.txt"))
        .unwrap();
    (dir, store)
}

/// A server configuration for `store` whose runs cannot start (no `faultline` binary).
pub(crate) fn config(store: &Path) -> ServerConfig {
    let mut c = ServerConfig::new(store);
    c.faultline_exe = PathBuf::from("/nonexistent/faultline");
    c
}

async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn index_lists_runs_newest_first_and_filters() {
    let (_d, store) = store();
    let router = app(AppState::new(config(&store)));
    let (status, html) = send(&router, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    let a = html.find("20261121T020000.000Z").unwrap();
    let b = html.find("20261121T010000.000Z").unwrap();
    let c = html.find("20261120T010000.000Z").unwrap();
    assert!(a < b && b < c, "newest first");
    assert!(
        html.contains(r#"<a href="/runs/register/20261121T010000.000Z/report.html">report</a>"#)
    );
    assert!(html.contains("<td>21.5 s</td>"));
    assert!(html.contains("id=\"status\">index 3 runs"));
    let (_, html) = send(&router, get("/?verdict=illegal")).await;
    assert_eq!(html.matches("<tr class=\"run\">").count(), 1);
    let (_, json) = send(&router, get("/api/index?verdict=linearizable")).await;
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    assert_eq!(v["runs"][0]["report"], "/runs/kv-etcd/20261121T020000.000Z/report.html");
}

#[tokio::test]
async fn test_page_shows_when_failures_began() {
    let (_d, store) = store();
    let router = app(AppState::new(config(&store)));
    let (status, html) = send(&router, get("/tests/register")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("began with the run of <b>20261121T010000.000Z</b>"));
    assert!(html.contains("the run before it passed (20261120T010000.000Z)"), "{html}");
    assert_eq!(send(&router, get("/tests/nope")).await.0, StatusCode::NOT_FOUND);
    // A streak that began with the first run says so, not that a run before it passed.
    let d = store.join("solo/20261122T010000.000Z");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("test.json"), fixtures::test_json("solo")).unwrap();
    std::fs::write(d.join("results.json"), fixtures::results_json("solo", &d, Verdict::Illegal))
        .unwrap();
    let (_, html) = send(&router, get("/tests/solo")).await;
    assert!(html.contains("the first run of this test"), "{html}");
    assert!(!html.contains("passed"), "{html}");
}

#[tokio::test]
async fn files_are_served_and_paths_cannot_escape() {
    let (_d, store) = store();
    let router = app(AppState::new(config(&store)));
    let resp = router.clone().oneshot(get("/runs/register/latest/report.html")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let (status, log) =
        send(&router, get("/runs/kv-etcd/20261121T020000.000Z/nodes/n1/node.log")).await;
    assert_eq!((status, log.as_str()), (StatusCode::OK, "log line\n"));
    let (status, listing) = send(&router, get("/runs/register/20261121T010000.000Z/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(listing.contains("<a href=\"results.json\">results.json</a>"), "{listing}");
    let resp = router.clone().oneshot(get("/runs/register/20261121T010000.000Z")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
    for bad in [
        "/runs/../secret.txt",
        "/runs/%2e%2e/secret.txt",
        "/runs/register/..%2F..%2Fsecret.txt",
        "/runs/register/escape.txt",
        "/runs/%2Fetc%2Fpasswd",
        "/runs/register/.hidden",
    ] {
        let (status, body) = send(&router, get(bad)).await;
        assert!(!body.contains("do not serve"), "{bad} leaked");
        assert_ne!(status, StatusCode::OK, "{bad}");
    }
}

#[tokio::test]
async fn api_needs_the_token_when_set() {
    let (_d, store) = store();
    let mut c = config(&store);
    c.token = Some("s3cret".into());
    let router = app(AppState::new(c));
    assert_eq!(send(&router, get("/api/index")).await.0, StatusCode::UNAUTHORIZED);
    let wrong = Request::get("/api/runs")
        .header("authorization", "Bearer nope")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, wrong).await.0, StatusCode::UNAUTHORIZED);
    let right = Request::get("/api/index")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&router, right).await.0, StatusCode::OK);
    // Pages and raw files are guarded too (histories and node logs are as sensitive).
    assert_eq!(send(&router, get("/")).await.0, StatusCode::UNAUTHORIZED);
    let log = "/runs/kv-etcd/20261121T020000.000Z/nodes/n1/node.log";
    assert_eq!(send(&router, get(log)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&router, get("/?token=wrong")).await.0, StatusCode::UNAUTHORIZED);
    // A browser opens a page once with ?token=: a cookie, and a redirect without the token.
    let resp = router.clone().oneshot(get("/tests/register?token=s3cret")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[header::LOCATION], "/tests/register");
    let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let with = Request::get(log).header("cookie", pair).body(Body::empty()).unwrap();
    assert_eq!(send(&router, with).await.0, StatusCode::OK);
}

fn post(uri: &str, ct: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).header("content-type", ct).body(body.into()).unwrap()
}

#[tokio::test]
async fn check_stores_the_history_results_and_report() {
    let (_d, store) = store();
    let router = app(AppState::new(config(&store)));
    let (status, body) =
        send(&router, post("/api/check?model=register", "application/x-ndjson", STALE_READ_JSONL))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["verdict"].as_str(), v["exit_code"].as_u64()), (Some("illegal"), Some(1)));
    let report = v["report"].as_str().unwrap();
    assert!(report.starts_with("/runs/checks/") && report.ends_with("/report.html"), "{report}");
    let (status, html) = send(&router, get(report)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Not linearizable"));
    let id = v["id"].as_str().unwrap();
    assert!(store.join("checks").join(id).join("history.jsonl").is_file());
    // The check shows up in the index.
    let (_, index) = send(&router, get("/?verdict=illegal")).await;
    assert!(index.contains(&format!("/runs/checks/{id}/report.html")));
}

#[tokio::test]
async fn check_rejects_bad_requests() {
    let (_d, store) = store();
    let mut c = config(&store);
    c.max_history_bytes = 4096;
    let router = app(AppState::new(c));
    // A form post (what a foreign web page could make a browser send) is refused.
    let (status, body) = send(&router, post("/api/check", "text/plain", STALE_READ_JSONL)).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) =
        send(&router, post("/api/check?model=nope", "application/x-ndjson", STALE_READ_JSONL))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unknown model"), "{body}");
    let bad = "{\"index\":0,\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":1,\"time\":1}\n";
    let (status, body) = send(&router, post("/api/check", "application/x-ndjson", bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("line 1"), "{body}");
    let big = STALE_READ_JSONL.repeat(20);
    let (status, _) = send(&router, post("/api/check", "application/x-ndjson", big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// A stand-in for the `faultline` binary: prints progress on stderr and a result on stdout,
/// after `delay` seconds. Only the queue's handling of a child process is under test here.
fn fake_faultline(dir: &Path, store: &Path, delay: &str) -> PathBuf {
    let run = store.join("register/20261121T010000.000Z");
    let path = dir.join("fake-faultline");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"args: $*\" >&2\necho \"spec: $(tr -d '\\n ' < \"$4\")\" >&2\n\
             echo 'progress: 10 ops' >&2\n\
             echo '{{\"progress\":{{\"elapsed_secs\":1.5,\"counts\":{{\"invoked\":10,\"ok\":9,\"fail\":1,\"info\":0,\"nemesis\":2}},\"fault\":\"kill n2\"}}}}' >&2\n\
             sleep {delay}\n\
             echo 'progress: done' >&2\n\
             echo '{}'\nexit 1\n",
            fixtures::results_json("register", &run, Verdict::Illegal)
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn wait_done(router: &axum::Router, id: u64) -> Value {
    for _ in 0..200 {
        let (_, body) = send(router, get(&format!("/api/runs/{id}"))).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        if v["state"] == "done" || v["state"] == "failed" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not finish");
}

#[tokio::test]
async fn runs_are_queued_one_at_a_time() {
    let (d, store) = store();
    let mut c = config(&store);
    c.faultline_exe = fake_faultline(d.path(), &store, "0.4");
    let router = app(AppState::new(c));
    let spec = "name = \"register\"\nworkload = \"register\"\nnemesis = \"partition\"\n";
    let (status, body) = send(&router, post("/api/runs", "application/toml", spec)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    let (_, body) =
        send(&router, post("/api/runs", "application/json", r#"{"name":"register"}"#)).await;
    let second: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((first["id"].as_u64(), second["id"].as_u64()), (Some(1), Some(2)));
    assert_eq!(second["queue_position"], 1, "one run ahead of it");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (_, body) = send(&router, get("/api/runs/2")).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["state"], "queued", "waits for run 1");
    let done = wait_done(&router, 1).await;
    assert_eq!(done["state"], "done");
    assert_eq!(done["verdict"], "illegal");
    assert_eq!(done["exit_code"], 1);
    assert_eq!(done["report"], "/runs/register/20261121T010000.000Z/report.html");
    let args = done["progress"][0].as_str().unwrap();
    assert!(
        args.starts_with("args: -v run --test ") && args.contains("/.specs/run-1.json --store "),
        "{args}"
    );
    let spec = done["progress"][1].as_str().unwrap();
    let spec: Value = serde_json::from_str(spec.strip_prefix("spec: ").unwrap()).unwrap();
    assert_eq!(spec["store"], store.display().to_string(), "the server's store is forced");
    assert_eq!(spec["nemesis"], "partition");
    assert!(!store.join(".specs/run-1.json").exists(), "the spec file is removed after the run");
    wait_done(&router, 2).await;
    let (_, list) = send(&router, get("/api/runs")).await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["runs"][0]["id"], 2, "newest first");
    // Records survive a restart of the server; one that was running then is failed now.
    let mut rec: Value =
        serde_json::from_str(&std::fs::read_to_string(store.join(".runs/2.json")).unwrap())
            .unwrap();
    rec["id"] = 7.into();
    rec["state"] = "running".into();
    std::fs::write(store.join(".runs/7.json"), rec.to_string()).unwrap();
    let again = app(AppState::new(config(&store)));
    let (status, body) = send(&again, get("/api/runs/1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["state"].as_str(), v["verdict"].as_str()), (Some("done"), Some("illegal")));
    let (_, body) = send(&again, get("/api/runs/7")).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["state"], "failed", "{v}");
    assert!(v["error"].as_str().unwrap().contains("server stopped"), "{v}");
    // New runs take ids after the kept ones.
    let (_, body) =
        send(&again, post("/api/runs", "application/json", r#"{"name":"register"}"#)).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["id"], 8, "{body}");
}

#[tokio::test]
async fn run_specs_cannot_name_binaries_or_paths() {
    let (_d, store) = store();
    let router = app(AppState::new(config(&store)));
    for spec in ["node-binary = \"/bin/sh\"\n", "store = \"/tmp\"\n", "name = \"../x\"\n"] {
        let (status, body) = send(&router, post("/api/runs", "application/toml", spec)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{spec}: {body}");
    }
    let (status, body) = send(&router, post("/api/runs", "application/toml", "nodes = [")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("TOML parse error"), "{body}");
    assert_eq!(send(&router, get("/api/runs/9")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn end_to_end_over_http() {
    let (d, store) = store();
    let mut c = config(&store);
    c.faultline_exe = fake_faultline(d.path(), &store, "0.2");
    c.token = Some("tok".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(faultline_server::serve(listener, AppState::new(c), async {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    // Check a history.
    let v: Value = http
        .post(format!("{base}/api/check?model=register"))
        .bearer_auth("tok")
        .header("content-type", "application/x-ndjson")
        .body(STALE_READ_JSONL)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["verdict"], "illegal");
    let url = format!("{base}{}", v["report"].as_str().unwrap());
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401, "reports need the token");
    let report = http.get(&url).bearer_auth("tok").send().await.unwrap();
    assert_eq!(report.status(), 200);
    assert!(report.text().await.unwrap().contains("overwritten by the write of 2"));
    // Start a run and follow its events to the end.
    let run: Value = http
        .post(format!("{base}/api/runs"))
        .bearer_auth("tok")
        .header("content-type", "application/toml")
        .body("name = \"register\"\n")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = http
        .get(format!("{base}/api/runs/{}/events", run["id"]))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(20), events.text()).await.unwrap().unwrap();
    assert!(text.contains("event: progress\ndata: {\"line\":\"progress: 10 ops\"}"), "{text}");
    // The run's JSON progress arrives as a structured event.
    assert!(text.contains("\"fault\":\"kill n2\""), "{text}");
    assert!(text.contains("\"elapsed_secs\":1.5"), "{text}");
    assert!(text.contains("event: done\ndata: {"), "{text}");
    assert!(text.contains("\"verdict\":\"illegal\""), "{text}");
    // The index in a real browser.
    let url = format!("{base}/?token=tok");
    let dom = tokio::task::spawn_blocking(move || crate::chromium::dump_dom(&url)).await.unwrap();
    if let Some(dom) = dom {
        assert!(dom.contains("id=\"status\">index 4 runs"), "{dom}");
        assert!(dom.contains("<td class=\"verdict-illegal\">illegal</td>"));
    }
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
