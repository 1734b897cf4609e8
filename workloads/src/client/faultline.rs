//! The faultline node's client (docs/node-api.md): `POST /v1/kv`, de-duplicated by
//! `(client, seq)`.
//!
//! ```text
//!  call(op): seq += 1 ─▶ POST to target ─▶ 200 ok ─────────────▶ Ok(value)
//!                 ▲                       200 fail ───────────▶ Fail(error)
//!                 │                       421 not-leader ─────▶ target = leader, retry
//!                 │                       connect refused ────▶ target = next, retry
//!                 └── same (client, seq) ─ 503/504/timeout/reset ▶ maybe applied: retry
//!  deadline: maybe applied ? Unknown : Fail        (reads: Fail, they change nothing)
//! ```
//! Each process is bound to one home node (`process % n`), as Jepsen binds clients to nodes:
//! every operation starts there, so followers' behaviour (reads included) is exercised, and
//! leader hints are followed only within the operation.
//! Retrying an attempt that may have been applied is safe only because the node applies a
//! `(client, seq)` at most once; it is also what exposes a node that does not (`no-dedup`).
//! An answer after such an attempt is trusted only when it is `ok`: a later `fail` could
//! hide the first attempt's effect, so it becomes `Unknown`. These rules live in
//! [`crate::policy`], which the node's simulator drives too; this file only does the HTTP.
// A client does network I/O and waits between retries (tokio's clock, real time).
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Duration;

use faultline_api::node::{LeaderHint, Reply, Request, ResponseBody};
use tokio::time::Instant;

use super::{transport_error, Attempt, ClientConfig, Served};
use crate::mapping;
use crate::op::{Op, Outcome};
use crate::policy::{self, Decision, Policy};

/// A client of one process: its own client id and request sequence.
#[derive(Debug)]
pub struct FaultlineClient {
    http: reqwest::Client,
    cfg: Arc<ClientConfig>,
    client_id: u64,
    seq: u64,
    /// The node every operation starts on.
    home: usize,
    /// Who answered the last operation.
    pub(crate) served: Served,
}

impl FaultlineClient {
    pub(crate) fn new(http: reqwest::Client, cfg: Arc<ClientConfig>, process: u64) -> Self {
        let n = cfg.endpoints.len();
        // Clients::new refuses empty endpoint lists, so n > 0.
        let home = (process % n as u64) as usize;
        // Process numbers are unique within a run and never reused, so are these ids.
        FaultlineClient {
            http,
            cfg,
            client_id: process + 1,
            seq: 0,
            home,
            served: Served::default(),
        }
    }

    /// Performs `op`: the retry policy ([`crate::policy`]) decides, this drives it over HTTP.
    pub async fn call(&mut self, op: &Op) -> Outcome {
        self.seq += 1;
        let req = request(self.client_id, self.seq, op);
        let nodes = self.cfg.endpoints.iter().map(|e| e.addr.clone()).collect();
        let mut policy = Policy::new(
            nodes,
            self.home,
            op.f.is_read(),
            self.cfg.request_timeout,
            self.cfg.op_timeout,
        );
        let start = Instant::now();
        let mut decision = policy.start();
        self.served = Served::default();
        loop {
            decision = match decision {
                Decision::Finish(outcome) => return outcome,
                Decision::Send { to, timeout } => {
                    let attempt = self.attempt(&to, &req, op, timeout).await;
                    if matches!(attempt, Attempt::Done(_)) {
                        let name = self.cfg.endpoints.iter().find(|e| e.addr == to);
                        self.served.node = Some(name.map_or(to.clone(), |e| e.name.clone()));
                    }
                    tracing::trace!(client = self.client_id, seq = self.seq, target = %to, ?attempt);
                    policy.on_attempt(attempt, start.elapsed())
                }
                Decision::Pause(d) => {
                    tokio::time::sleep(d).await;
                    policy.on_pause_over(start.elapsed())
                }
            };
        }
    }

    async fn attempt(&self, to: &str, req: &Request, op: &Op, limit: Duration) -> Attempt {
        let url = format!("http://{to}/v1/kv");
        let resp = match self.http.post(&url).timeout(limit).json(req).send().await {
            Ok(r) => r,
            Err(e) => return transport_error(&e),
        };
        let status = resp.status().as_u16();
        match resp.bytes().await {
            Ok(body) => classify(status, &body, op),
            Err(e) => transport_error(&e),
        }
    }
}

/// The `POST /v1/kv` body of `op` as request `seq` of session `client`.
pub(crate) fn request(client: u64, seq: u64, op: &Op) -> Request {
    let args = mapping::args(op);
    Request {
        client,
        seq,
        op: mapping::wire_op(op.f),
        key: op.key.clone(),
        value: args.value,
        expected: args.expected.flatten(),
    }
}

/// Classifies one HTTP response of `POST /v1/kv` (docs/node-api.md's table).
pub(crate) fn classify(http: u16, body: &[u8], op: &Op) -> Attempt {
    let parsed: Option<ResponseBody> = serde_json::from_slice(body).ok();
    let answer =
        |r| policy::attempt(r, |l: LeaderHint| l.client_addr, |v| mapping::ok_value(op, v));
    match (http, parsed) {
        (200, Some(r)) => answer(r),
        (_, Some(r)) if r.status == Reply::NotLeader => answer(r),
        (421, _) => Attempt::NotLeader(None),
        (_, Some(r)) if r.status == Reply::Unknown => answer(r),
        (503, _) => Attempt::Uncertain("unavailable".into()),
        (504, _) => Attempt::Uncertain("timeout".into()),
        // A request the node rejected as malformed was never applied; it is a harness bug,
        // so say so loudly.
        (400..=499, _) => {
            tracing::error!(http, body = %String::from_utf8_lossy(body), "request rejected");
            Attempt::Done(Outcome::Fail(format!("http-{http}")))
        }
        (_, _) => Attempt::Uncertain(format!("http-{http}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Func;
    use serde_json::json;

    fn op(f: Func, value: serde_json::Value) -> Op {
        Op { f, key: "k1".into(), value }
    }

    #[rustfmt::skip]
    #[test]
    fn classifies_every_response() {
        let read = op(Func::Read, json!(null));
        let get = op(Func::Get, json!(null));
        let cas = op(Func::Cas, json!([1, 2]));
        let cases: Vec<(u16, &str, &Op, Attempt)> = vec![
            (200, r#"{"status":"ok","value":"7"}"#, &read, Attempt::Done(Outcome::Ok(json!(7)))),
            (200, r#"{"status":"ok","value":null}"#, &read, Attempt::Done(Outcome::Ok(json!(null)))),
            (200, r#"{"status":"ok","value":null}"#, &get, Attempt::Done(Outcome::Ok(json!("")))),
            (200, r#"{"status":"ok"}"#, &cas, Attempt::Done(Outcome::Ok(json!([1, 2])))),
            (200, r#"{"status":"fail","error":"cas-mismatch","value":"5"}"#, &cas,
                Attempt::Done(Outcome::Fail("cas-mismatch".into()))),
            (421, r#"{"status":"not-leader","leader":{"id":2,"client_addr":"127.0.0.1:8002"}}"#, &cas,
                Attempt::NotLeader(Some("127.0.0.1:8002".into()))),
            (421, r#"{"status":"not-leader","leader":null}"#, &cas, Attempt::NotLeader(None)),
            (421, "garbage", &cas, Attempt::NotLeader(None)),
            (503, r#"{"status":"unknown","error":"leadership-lost"}"#, &cas,
                Attempt::Uncertain("leadership-lost".into())),
            (504, r#"{"status":"unknown","error":"timeout"}"#, &cas, Attempt::Uncertain("timeout".into())),
            (504, "", &cas, Attempt::Uncertain("timeout".into())),
            (200, "{truncated", &cas, Attempt::Uncertain("http-200".into())),
            (500, "", &cas, Attempt::Uncertain("http-500".into())),
            (400, "bad", &cas, Attempt::Done(Outcome::Fail("http-400".into()))),
            (200, r#"{"status":"not-arrived"}"#, &cas, Attempt::NotSent("not-arrived".into())),
            (200, r#"{"status":"wrong-group"}"#, &cas, Attempt::NotSent("wrong-group".into())),
        ];
        for (http, body, op, want) in cases {
            assert_eq!(classify(http, body.as_bytes(), op), want, "{http} {body}");
        }
    }

    #[test]
    fn request_encodes_cas_against_absent_as_null() {
        let cas = op(Func::Cas, json!([null, 3]));
        let a = mapping::args(&cas);
        let req = Request {
            client: 1,
            seq: 2,
            op: mapping::wire_op(cas.f),
            key: "k".into(),
            value: a.value,
            expected: a.expected.flatten(),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"client":1,"seq":2,"op":"cas","key":"k","value":"3","expected":null})
        );
    }
}
