//! `faultline serve` as a real process, over real HTTP: foreign hosts and origins refused,
//! oversize bodies refused without being buffered, a hostile EDN body survived, posted specs
//! checked with the field named, the run queue bounded, and a running run cancelled (and the
//! server stopped) the way Ctrl-C stops it — its node processes gone; a run whose server is
//! killed stops itself the same way. Campaigns through the API: see `campaigns`.
// Waits for real processes in real time.
#![allow(clippy::disallowed_methods)]

mod campaigns;
mod http;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

use http::Server;

use crate::run::leftovers::{self, processes_mentioning, Leftovers};
use crate::run::util;

const STALE_READ: &str = include_str!("../examples/stale-read.jsonl");

#[test]
fn foreign_hosts_and_origins_are_refused() {
    let store = tempfile::tempdir().unwrap();
    let srv = Server::start(store.path(), &["--allow-host", "fl.test"]);
    for name in ["localhost", "127.0.0.1", "[::1]", "fl.test"] {
        let host = srv.host(name);
        assert_eq!(srv.request("GET", "/", &[("Host", &host)], b"").status, 200, "{host}");
    }
    // DNS rebinding: the attacker's name, our address.
    let r = srv.request("GET", "/api/index", &[("Host", &srv.host("rebound.evil.example"))], b"");
    assert_eq!(r.status, 421, "{r:?}");
    assert!(r.json()["error"].as_str().unwrap().contains("--allow-host"), "{r:?}");
    let other_port = format!("localhost:{}", srv.addr.port() + 1);
    assert_eq!(srv.request("GET", "/", &[("Host", &other_port)], b"").status, 421);
    // Posts from a browser must come from this server's own origin.
    let ours = format!("http://{}", srv.host("localhost"));
    let post = |origin: Option<&str>| {
        let mut h = vec![("Content-Type", "application/x-ndjson")];
        if let Some(o) = origin {
            h.push(("Origin", o));
        }
        srv.request("POST", "/api/check?model=cas-register", &h, STALE_READ.as_bytes())
    };
    for bad in ["https://evil.example", "http://localhost:3000", "null"] {
        let r = post(Some(bad));
        assert_eq!(r.status, 403, "Origin {bad}: {r:?}");
    }
    for good in [None, Some(ours.as_str())] {
        let r = post(good);
        assert_eq!((r.status, r.json()["verdict"].as_str()), (200, Some("illegal")), "{r:?}");
    }
    let r = srv.request("DELETE", "/api/runs/1", &[("Origin", "https://evil.example")], b"");
    assert_eq!(r.status, 403);
}

/// Sends a chunked body of `total` bytes of lines, as fast as the server takes it; returns
/// the answer.
fn post_chunked(srv: &Server, total: usize) -> http::Response {
    let mut s = srv.connect();
    let head = format!(
        "POST /api/check HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n",
        srv.host("localhost")
    );
    s.write_all(head.as_bytes()).unwrap();
    let line = "{\"not\":\"an op\"}\n".repeat(4096);
    let mut chunk = format!("{:x}\r\n", line.len()).into_bytes();
    chunk.extend_from_slice(line.as_bytes());
    chunk.extend_from_slice(b"\r\n");
    let mut sent = 0;
    while sent < total {
        if s.write_all(&chunk).is_err() {
            break; // the server answered and closed: read its answer
        }
        sent += line.len();
    }
    let _ = s.write_all(b"0\r\n\r\n");
    http::Response::read(&mut s)
}

#[test]
fn bodies_are_limited_before_and_while_they_are_read() {
    let store = tempfile::tempdir().unwrap();
    let srv = Server::start(store.path(), &["--max-history-mib", "64"]);
    // An honest Content-Length over the limit is answered before any body is sent.
    let mut s = srv.connect();
    let head = format!(
        "POST /api/check HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: 300000000\r\n\r\n",
        srv.host("localhost")
    );
    s.write_all(head.as_bytes()).unwrap();
    let r = http::Response::read(&mut s);
    assert_eq!(r.status, 413, "{r:?}");
    assert!(r.body.contains("larger than the limit of 64 MiB"), "{r:?}");
    // A chunked body is cut at the limit.
    let r = post_chunked(&srv, 200 << 20);
    assert_eq!(r.status, 413, "{r:?}");
    // Four parallel 60 MiB posts (under the limit) are streamed to disk, not held in memory:
    // the server's peak memory grows by far less than one of them.
    assert_eq!(post_chunked(&srv, 1 << 20).status, 400, "warm-up");
    let before = srv.peak_rss_kib();
    std::thread::scope(|sc| {
        let posts: Vec<_> = (0..4).map(|_| sc.spawn(|| post_chunked(&srv, 60 << 20))).collect();
        for p in posts {
            let r = p.join().unwrap();
            assert_eq!(r.status, 400, "junk lines are a bad history: {r:?}");
            assert!(r.body.contains("line 1"), "{r:?}");
        }
    });
    let grew = srv.peak_rss_kib().saturating_sub(before);
    println!("peak RSS {before} KiB before 4 x 60 MiB posts, +{grew} KiB after");
    assert!(grew < 48 << 10, "the server's peak memory grew by {grew} KiB");
    let uploads = std::fs::read_dir(store.path().join(".uploads")).unwrap().count();
    assert_eq!(uploads, 0, "refused and failed uploads are removed");
}

#[test]
fn a_deeply_nested_edn_body_does_not_take_the_server_down() {
    let store = tempfile::tempdir().unwrap();
    let mut srv = Server::start(store.path(), &[]);
    for depth in [3_000, 20_000] {
        let body = "[".repeat(depth);
        let h = [("Content-Type", "application/edn")];
        let r = srv.request("POST", "/api/check", &h, body.as_bytes());
        assert_eq!(r.status, 400, "{depth} x '[': {r:?}");
        assert!(srv.is_alive(), "the server died on {depth} x '[':\n{}", srv.stderr());
    }
    assert_eq!(srv.get("/").status, 200, "still serving");
}

/// Polls until `f` holds, at most `patience`.
fn wait_until(patience: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + patience;
    while !f() {
        assert!(Instant::now() < until, "{what}: not after {patience:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn specs(store: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.join(".specs"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A long run of three faultline nodes, named so that its node processes can be found.
const LONG_RUN: &str = "name = \"cancel-me\"\ntime-limit = 60\nnemesis = \"partition,kill\"\n\
                        nemesis-interval = 1\nnodes = 3\n";

#[test]
fn specs_are_checked_the_queue_is_bounded_and_runs_cancel_like_ctrl_c() {
    util::node_binary(); // the runs find it next to `faultline`
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let mut srv = Server::start(store.path(), &["--max-queued-runs", "2"]);
    let toml = [("Content-Type", "application/toml")];
    // Bad specs: 400 naming the field, no server path, nothing written.
    #[rustfmt::skip]
    let bad = [
        ("nodes = 50\n", "nodes"), ("colour = \"red\"\n", "colour"),
        ("time-limit = -1\n", "time-limit"), ("time-limit = 1e300\n", "time-limit"),
        ("{\"keys\": 18446744073709551615}", "keys"), ("nemesis = \"chaos\"\n", "nemesis"),
        ("system = \"etcd\"\nunsafe-bug = \"no-dedup\"\n", "unsafe-bug"),
    ];
    for (spec, field) in bad {
        let r = srv.request("POST", "/api/runs", &toml, spec.as_bytes());
        assert_eq!((r.status, r.json()["field"].as_str()), (400, Some(field)), "{spec}: {r:?}");
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains(&format!("field `{field}`")), "{error}");
        assert!(!error.contains(".specs") && !error.contains(&*store.path().to_string_lossy()));
    }
    assert_eq!(specs(store.path()), Vec::<String>::new());

    // Two runs fit (one running, one queued); the third is refused, and leaves no file.
    for expected in ["queued", "queued"] {
        let r = srv.request("POST", "/api/runs", &toml, LONG_RUN.as_bytes());
        assert_eq!((r.status, r.json()["state"].as_str()), (202, Some(expected)), "{r:?}");
    }
    let r = srv.request("POST", "/api/runs", &toml, LONG_RUN.as_bytes());
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.header("retry-after").is_some());
    assert_eq!(specs(store.path()), ["run-1.json", "run-2.json"]);

    // Run 1 gets under way: its three nodes run.
    let nodes = store.path().join("cancel-me");
    wait_until(Duration::from_secs(60), "run 1's nodes", || {
        processes_mentioning(&nodes).len() >= 3
    });
    let r = srv.request("DELETE", "/api/runs/2", &[], b"");
    assert_eq!((r.status, r.json()["state"].as_str()), (200, Some("cancelled")), "{r:?}");
    let r = srv.request("DELETE", "/api/runs/1", &[], b"");
    let v = r.json();
    assert_eq!(
        (r.status, v["state"].as_str(), v["exit_code"].as_i64()),
        (200, Some("cancelled"), Some(3)),
        "{r:?}"
    );
    assert!(v["progress"].to_string().contains("interrupted (SIGINT)"), "{v}");
    let tags: BTreeSet<String> = leftovers::tags_in_logs(store.path()).into_iter().collect();
    assert!(!tags.is_empty());
    let left = Leftovers::find(&nodes, &tags);
    assert!(left.is_empty(), "a cancelled run left {left:?}");
    assert_eq!(specs(store.path()), Vec::<String>::new(), "no spec outlives its run");
    assert_eq!(srv.request("DELETE", "/api/runs/1", &[], b"").status, 409);

    // Stopping the server (SIGTERM) stops its running run the same way.
    let r = srv.request("POST", "/api/runs", &toml, LONG_RUN.as_bytes());
    assert_eq!(r.status, 202, "{r:?}");
    wait_until(Duration::from_secs(60), "run 3's nodes", || {
        processes_mentioning(&nodes).len() >= 3
    });
    let pid = nix::unistd::Pid::from_raw(srv.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    wait_until(Duration::from_secs(60), "the server's exit", || !srv.is_alive());
    assert_eq!(srv.child.wait().unwrap().code(), Some(0), "{}", srv.stderr());
    let tags: BTreeSet<String> = leftovers::tags_in_logs(store.path()).into_iter().collect();
    let left = Leftovers::find(&nodes, &tags);
    assert!(left.is_empty(), "stopping the server left {left:?}\n{}", srv.stderr());
}

#[test]
fn a_run_stops_itself_when_its_server_is_killed() {
    util::node_binary();
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let mut srv = Server::start(store.path(), &[]);
    let spec = LONG_RUN.replace("cancel-me", "orphaned");
    let r =
        srv.request("POST", "/api/runs", &[("Content-Type", "application/toml")], spec.as_bytes());
    assert_eq!(r.status, 202, "{r:?}");
    let nodes = store.path().join("orphaned");
    wait_until(Duration::from_secs(60), "the run's nodes", || {
        processes_mentioning(&nodes).len() >= 3
    });
    // SIGKILL: the server can do nothing; its run notices it is orphaned and cleans up.
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    wait_until(Duration::from_secs(30), "the orphaned run's exit", || {
        processes_mentioning(&nodes).is_empty()
            && processes_mentioning(&store.path().join(".specs")).is_empty()
    });
    let tags: BTreeSet<String> = leftovers::tags_in_logs(store.path()).into_iter().collect();
    let left = Leftovers::settle(&nodes, &tags, Duration::from_secs(5));
    assert!(left.is_empty(), "the orphaned run left {left:?}");
    let log = std::fs::read_to_string(leftovers::files_named(&nodes, "faultline.log")[0].clone())
        .unwrap();
    assert!(log.contains("its parent faultline serve is gone"), "{log}");
}
