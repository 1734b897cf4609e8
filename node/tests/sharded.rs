//! The sharded KV as real processes: a controller group (3 nodes) and two replica groups
//! (3 nodes each) on loopback; groups join, keys are written, shards move between the
//! groups (one group leader killed meanwhile), and every key reads back its last value from
//! its new owner, which the old owner then refuses (`wrong-group`).

// Test code: real sleeps and clocks are what is being exercised.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use faultline_api::shard::{
    key_shard, CtrlRequest, CtrlResponseBody, CtrlWireOp, Gid, ShardConfig,
};
use serde_json::{json, Value};

use crate::util::{op, Cluster};

const WAIT: Duration = Duration::from_secs(30);

struct Sharded {
    ctrl: Cluster,
    groups: BTreeMap<Gid, Cluster>,
    http: reqwest::Client,
    seq: u64,
}

impl Sharded {
    fn start(groups: u64) -> Sharded {
        let ctrl = Cluster::start(3, &["--role", "controller"]);
        let mut args: Vec<String> = vec![];
        for (i, n) in ctrl.nodes.iter().enumerate() {
            args.extend(["--controller".into(), format!("{}={}", i + 1, n.client_addr)]);
        }
        let groups = (1..=groups)
            .map(|g| {
                let mut a: Vec<String> = vec!["--role".into(), "group".into()];
                a.extend(["--gid".into(), g.to_string()]);
                a.extend(args.iter().cloned());
                let a: Vec<&str> = a.iter().map(String::as_str).collect();
                (Gid(g), Cluster::start(3, &a))
            })
            .collect();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
        Sharded { ctrl, groups, http, seq: 0 }
    }

    fn addrs(&self, gid: Gid) -> Vec<String> {
        self.groups[&gid].nodes.iter().map(|n| n.client_addr.clone()).collect()
    }

    /// Sends a controller request until some node answers ok (or fail); returns the config.
    async fn ctrl(&mut self, mut req: CtrlRequest) -> ShardConfig {
        if req.op != CtrlWireOp::Query {
            self.seq += 1;
            (req.client, req.seq) = (77, self.seq);
        }
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed() < WAIT {
            let addr = &self.ctrl.nodes[i % 3].client_addr;
            let resp = self.http.post(format!("http://{addr}/v1/ctrl")).json(&req).send().await;
            if let Ok(r) = resp {
                if let Ok(body) = r.json::<CtrlResponseBody>().await {
                    if let Some(cfg) = body.config {
                        return cfg;
                    }
                    assert_ne!(body.error.as_deref(), Some("unknown-group"), "{req:?}");
                }
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("controller did not answer {req:?}; logs:\n{}", self.ctrl.all_logs());
    }

    /// One KV request routed by the latest config, retried (same client, seq) until ok.
    async fn kv(
        &mut self,
        client: u64,
        seq: u64,
        f: &str,
        key: &str,
        value: Option<&str>,
    ) -> Value {
        let body = op(client, seq, f, key, value);
        let start = Instant::now();
        let mut last = Value::Null;
        while start.elapsed() < WAIT {
            let cfg = self.ctrl(CtrlRequest::query(None)).await;
            let gid = cfg.key_owner(key);
            for addr in self.addrs(gid) {
                let resp = self.http.post(format!("http://{addr}/v1/kv")).json(&body).send().await;
                let Ok(r) = resp else { continue };
                let Ok(json) = r.json::<Value>().await else { continue };
                if json["status"] == "ok" {
                    return json;
                }
                last = json;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{body} got no ok in {WAIT:?} (last {last}); logs:\n{}", self.logs());
    }

    fn logs(&self) -> String {
        self.groups.iter().map(|(g, c)| format!("=== {g}\n{}", c.all_logs())).collect()
    }

    fn join(gid: Gid, addrs: Vec<String>) -> CtrlRequest {
        let mut req = CtrlRequest::query(None);
        req.op = CtrlWireOp::Join;
        req.num = None;
        req.groups = BTreeMap::from([(gid, addrs)]);
        req
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_join_serve_and_hand_shards_over() {
    let mut s = Sharded::start(2);
    let c1 = s.ctrl(Sharded::join(Gid(1), s.addrs(Gid(1)))).await;
    assert!(c1.shards.iter().all(|g| *g == Gid(1)), "{c1:?}");
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let mut seq = 0;
    for k in &keys {
        seq += 1;
        s.kv(1, seq, "put", k, Some(&format!("{k}-a"))).await;
    }
    let c2 = s.ctrl(Sharded::join(Gid(2), s.addrs(Gid(2)))).await;
    assert_eq!(c2.shards_of(Gid(2)).len(), 5, "rebalanced: {c2:?}");
    // Kill group 1's leader while it hands shards over; the rest must finish the move.
    let leader = s.groups[&Gid(1)].wait_leader(WAIT).await;
    s.groups.get_mut(&Gid(1)).unwrap().node(leader).kill();
    for k in &keys {
        seq += 1;
        s.kv(1, seq, "append", k, Some("b")).await;
    }
    s.groups.get_mut(&Gid(1)).unwrap().node(leader).restart();
    // Move a shard of group 2 back to group 1, and one of group 1 to group 2.
    let back = c2.shards_of(Gid(2))[0];
    let there = c2.shards_of(Gid(1))[0];
    let mut mv = CtrlRequest::query(None);
    (mv.op, mv.num, mv.shard, mv.gid) = (CtrlWireOp::Move, None, Some(back), Some(Gid(1)));
    s.ctrl(mv.clone()).await;
    (mv.shard, mv.gid) = (Some(there), Some(Gid(2)));
    let last = s.ctrl(mv).await;
    for (i, k) in keys.iter().enumerate() {
        let got = s.kv(2, i as u64 + 1, "get", k, None).await;
        assert_eq!(got["value"], json!(format!("{k}-ab")), "{k}");
    }
    // The old owner of a moved shard refuses its keys once it applied the last config.
    let key = keys.iter().find(|k| key_shard(k, 10) == there).expect("a key of the shard");
    assert_eq!(last.key_owner(key), Gid(2));
    let start = Instant::now();
    let mut refused = false;
    while !refused && start.elapsed() < WAIT {
        for addr in s.addrs(Gid(1)) {
            let body = op(3, start.elapsed().as_micros() as u64, "get", key, None);
            let r = s.http.post(format!("http://{addr}/v1/kv")).json(&body).send().await;
            if let Ok(r) = r {
                let json: Value = r.json().await.unwrap_or_default();
                refused |= json["status"] == "wrong-group";
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "group 1 still serves {key} of shard {there}; logs:\n{}", s.logs());
}
