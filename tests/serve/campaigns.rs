//! Campaigns through the API of a real `faultline serve`: the token is needed, bad campaign
//! files are refused at POST naming the key (no server path, nothing queued), a tiny real
//! campaign (two 3-second cells) is followed through its server-sent events to the end, read
//! back with its summary, kept across a restart of the server, and a running one is
//! cancelled the way Ctrl-C cancels it, leaving no process behind.
// Waits for real processes in real time.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use serde_json::Value;

use super::http::Server;
use super::{specs, wait_until};
use crate::run::leftovers::processes_mentioning;
use crate::run::util;

/// Two cells of 3 s on three faultline nodes under partitions.
const TINY: &str = "name = \"tiny\"\n[defaults]\ntime-limit = 3\nnodes = 3\n\
                    nemesis = \"partition\"\nnemesis-interval = 1\n[matrix]\nseed = [1, 2]\n";

const AUTH: (&str, &str) = ("Authorization", "Bearer tok");
const TOML: (&str, &str) = ("Content-Type", "application/toml");

/// `(event, data)` of a server-sent event stream.
fn events(body: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut kind = String::new();
    for line in body.lines() {
        if let Some(k) = line.strip_prefix("event:") {
            kind = k.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data:") {
            out.push((kind.clone(), serde_json::from_str(d.trim()).unwrap_or(Value::Null)));
        }
    }
    out
}

#[test]
fn campaigns_are_checked_followed_kept_and_cancelled() {
    util::node_binary(); // the cells find it next to `faultline`
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    let srv = Server::start(store.path(), &["--token", "tok"]);
    // The token guards the API and the pages.
    let r = srv.request("POST", "/api/campaigns", &[TOML], TINY.as_bytes());
    assert_eq!(r.status, 401, "{r:?}");
    for path in ["/api/campaigns", "/api/campaigns/1", "/campaigns"] {
        assert_eq!(srv.request("GET", path, &[], b"").status, 401, "{path}");
    }
    // Bad campaign files: 400 naming the key, no server path, nothing written.
    #[rustfmt::skip]
    let bad = [
        ("name = \"x\"\n[defaults]\ncolour = \"red\"\n", "colour"),
        ("name = \"x\"\n[matrix]\nnodes = [3, 50]\n", "nodes"),
        ("name = \"x\"\n[defaults]\nnode-binary = \"/bin/sh\"\n", "node-binary"),
        ("name = \"x\"\n[[cell]]\nstore = \"/tmp\"\n", "store"),
        ("name = \"x\"\nfrequency = 2\n", "frequency"),
        ("[defaults]\nnodes = 3\n", "name"),
    ];
    for (text, key) in bad {
        let r = srv.request("POST", "/api/campaigns", &[AUTH, TOML], text.as_bytes());
        assert_eq!((r.status, r.json()["field"].as_str()), (400, Some(key)), "{text}: {r:?}");
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains(key), "{error}");
        assert!(!error.contains(".specs") && !error.contains(&*store.path().to_string_lossy()));
    }
    assert_eq!(specs(store.path()), Vec::<String>::new());

    // A tiny real campaign, followed to its end.
    let r = srv.request("POST", "/api/campaigns", &[AUTH, TOML], TINY.as_bytes());
    let v = r.json();
    assert_eq!((r.status, v["id"].as_u64(), v["cells"].as_u64()), (202, Some(1), Some(2)), "{r:?}");
    let r = srv.request("GET", "/api/campaigns/1/events", &[AUTH], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let evs = events(&r.body);
    let progress: Vec<&Value> =
        evs.iter().filter(|(k, _)| k == "progress").map(|(_, d)| d).collect();
    assert!(progress.iter().all(|p| p["total"] == 2), "{}", r.body);
    assert!(
        progress.iter().any(|p| p["done"] == 0 && p["running"][0].as_str().is_some()),
        "a progress event names the running cell: {}",
        r.body
    );
    let last = progress.last().unwrap_or_else(|| panic!("no progress in {}", r.body));
    assert_eq!(last["done"], 2, "{}", r.body);
    let counted: u64 = last["counts"].as_object().unwrap().values().filter_map(Value::as_u64).sum();
    assert_eq!(counted, 2, "outcomes so far: {last}");
    let (kind, done) = evs.last().unwrap();
    assert_eq!(kind, "done", "{}", r.body);
    assert_eq!(done["state"], "done", "{done}");
    let id = done["campaign"].as_str().unwrap().to_string();
    assert!(id.starts_with("tiny/"), "{id}");

    // Read back: the record with its summary, the list, the store's campaign, its page.
    let check_kept = |srv: &Server| {
        let r = srv.request("GET", "/api/campaigns/1", &[AUTH], b"");
        let v = r.json();
        assert_eq!((r.status, v["state"].as_str()), (200, Some("done")), "{r:?}");
        assert_eq!(v["summary"]["cells"].as_array().map(Vec::len), Some(2), "{v}");
        assert_eq!(v["page"], format!("/campaigns/{id}"));
        let r = srv.request("GET", "/api/campaigns", &[AUTH], b"");
        let v = r.json();
        assert_eq!(v["campaigns"][0]["id"], id.as_str(), "{v}");
        assert_eq!(v["submitted"][0]["state"], "done", "{v}");
        let r = srv.request("GET", &format!("/api/campaigns/{id}"), &[AUTH], b"");
        assert_eq!((r.status, r.json()["planned"].as_u64()), (200, Some(2)), "{r:?}");
        let r = srv.request("GET", &format!("/campaigns/{id}"), &[AUTH], b"");
        assert!(r.status == 200 && r.body.contains("<table class=\"grid\">"), "{r:?}");
    };
    check_kept(&srv);
    assert_eq!(specs(store.path()), Vec::<String>::new(), "no file outlives its campaign");
    drop(srv);
    let srv = Server::start(store.path(), &["--token", "tok"]);
    check_kept(&srv);

    // A running campaign cancelled as Ctrl-C would: its cells stop, nothing is left.
    let r = srv.request("POST", "/api/campaigns", &[AUTH, TOML], TINY.as_bytes());
    assert_eq!((r.status, r.json()["id"].as_u64()), (202, Some(2)), "{r:?}");
    wait_until(Duration::from_secs(60), "campaign 2's first cell", || {
        let v = srv.request("GET", "/api/campaigns/2", &[AUTH], b"").json();
        v["progress"]["running"].as_array().is_some_and(|r| !r.is_empty())
    });
    std::thread::sleep(Duration::from_secs(1));
    let r = srv.request("DELETE", "/api/campaigns/2", &[AUTH], b"");
    let v = r.json();
    assert_eq!(
        (r.status, v["state"].as_str(), v["exit_code"].as_i64()),
        (200, Some("cancelled"), Some(3)),
        "{r:?}"
    );
    // Nothing but the server itself names the store.
    wait_until(Duration::from_secs(30), "no process of the store left", || {
        processes_mentioning(store.path()).iter().all(|p| *p == srv.child.id())
    });
    assert_eq!(srv.request("DELETE", "/api/campaigns/2", &[AUTH], b"").status, 409);
    assert_eq!(specs(store.path()), Vec::<String>::new());
}
