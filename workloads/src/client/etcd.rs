//! The etcd 3.4 client, through its HTTP/JSON gateway (grpc-gateway over the KV service).
//!
//! ```text
//!  read/get  ─▶ POST /v3/kv/range  {key, serializable?}     ─▶ kvs[0].value | absent
//!  write/put ─▶ POST /v3/kv/put    {key, value}
//!  cas       ─▶ POST /v3/kv/txn    compare VALUE == expected (CREATE == 0 for absent),
//!                                  success: put new          ─▶ succeeded ? Ok : Fail(cas-mismatch)
//!  append    ─▶ range, then txn compare MOD == seen revision, put seen + suffix; a lost race
//!               is certainly not applied, so it retries until the deadline
//!  delete    ─▶ POST /v3/kv/deleterange {key}
//! ```
//! Keys and values are base64 in JSON; 64-bit integers are JSON strings. etcd has no
//! request de-duplication, so a write whose outcome is uncertain is never retried: it is
//! `Unknown` at once. Only a refused connection (never sent) moves to the next member.
//! gRPC codes come back in the error body: InvalidArgument, FailedPrecondition,
//! ResourceExhausted, PermissionDenied and Unauthenticated are rejected before anything is
//! proposed (`Fail`); Unavailable, DeadlineExceeded and the rest may have been applied.
// A client does network I/O and waits between retries (tokio's clock, real time).
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{backoff, transport_error, Attempt, ClientConfig, Served};
use crate::mapping;
use crate::op::{Func, Op, Outcome};

/// A client of one process (etcd needs no per-client state beyond the member it talks to).
#[derive(Debug)]
pub struct EtcdClient {
    http: reqwest::Client,
    cfg: Arc<ClientConfig>,
    /// The member every operation starts on (`process % n`, as Jepsen binds clients).
    home: usize,
    /// Index of the member the current request goes to.
    target: usize,
    /// Who answered the last operation (member and `raft_term`).
    pub(crate) served: Served,
}

/// What a range found: the value and its `mod_revision`, or nothing.
type Found = Option<(String, String)>;

impl EtcdClient {
    pub(crate) fn new(http: reqwest::Client, cfg: Arc<ClientConfig>, process: u64) -> Self {
        // Clients::new refuses empty endpoint lists.
        let home = (process % cfg.endpoints.len() as u64) as usize;
        EtcdClient { http, cfg, home, target: home, served: Served::default() }
    }

    /// Performs `op` (see the module docs).
    pub async fn call(&mut self, op: &Op) -> Outcome {
        self.target = self.home;
        self.served = Served::default();
        let deadline = Instant::now() + self.cfg.op_timeout;
        let key = B64.encode(&op.key);
        let args = mapping::args(op);
        let b64 = |s: &Option<String>| B64.encode(s.as_deref().unwrap_or(""));
        match op.f {
            Func::Read | Func::Get => match self.range(&key, deadline).await {
                Ok(found) => {
                    Outcome::Ok(mapping::read_value(op.f, found.as_ref().map(|(v, _)| v.as_str())))
                }
                // A read changes nothing: whatever happened, it had no effect.
                Err(Attempt::Uncertain(e) | Attempt::NotSent(e)) => Outcome::Fail(e),
                Err(other) => settle(other),
            },
            Func::Write | Func::Put => {
                let body = json!({"key": key, "value": b64(&args.value)});
                match self.request("/v3/kv/put", &body, deadline).await {
                    Ok(_) => Outcome::Ok(op.value.clone()),
                    Err(a) => settle(a),
                }
            }
            Func::Delete => {
                match self.request("/v3/kv/deleterange", &json!({"key": key}), deadline).await {
                    Ok(_) => Outcome::Ok(Value::Null),
                    Err(a) => settle(a),
                }
            }
            Func::Cas => {
                let compare = match &args.expected {
                    Some(Some(v)) => value_equals(&key, &B64.encode(v)),
                    _ => absent(&key),
                };
                let body = txn(compare, &key, &b64(&args.value));
                match self.request("/v3/kv/txn", &body, deadline).await {
                    Ok(r) if succeeded(&r) => Outcome::Ok(op.value.clone()),
                    Ok(_) => Outcome::Fail("cas-mismatch".into()),
                    Err(a) => settle(a),
                }
            }
            Func::Append => self.append(op, &key, args.value.unwrap_or_default(), deadline).await,
        }
    }

    /// Read-modify-write with a revision check; a lost race applied nothing and is retried.
    async fn append(&mut self, op: &Op, key: &str, suffix: String, deadline: Instant) -> Outcome {
        let mut races = 0u32;
        loop {
            let found = match self.range(key, deadline).await {
                Ok(found) => found,
                // Nothing was written yet: a failed read leaves the append not applied.
                Err(Attempt::Uncertain(e) | Attempt::NotSent(e)) => return Outcome::Fail(e),
                Err(other) => return settle(other),
            };
            let (compare, current) = match found {
                Some((v, rev)) => (
                    json!({"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": rev}),
                    v,
                ),
                None => (absent(key), String::new()),
            };
            let body = txn(compare, key, &B64.encode(format!("{current}{suffix}")));
            match self.request("/v3/kv/txn", &body, deadline).await {
                Ok(r) if succeeded(&r) => return Outcome::Ok(op.value.clone()),
                Ok(_) => {
                    races += 1;
                    if Instant::now() + backoff(races) >= deadline {
                        return Outcome::Fail("contention".into());
                    }
                    tokio::time::sleep(backoff(races)).await;
                }
                Err(a) => return settle(a),
            }
        }
    }

    /// A range read of `key` (linearizable unless configured serializable).
    async fn range(&mut self, key: &str, deadline: Instant) -> Result<Found, Attempt> {
        let body = json!({"key": key, "serializable": self.cfg.serializable_reads});
        let r = self.request("/v3/kv/range", &body, deadline).await?;
        let Some(kv) = r.get("kvs").and_then(|k| k.get(0)) else { return Ok(None) };
        let value = kv.get("value").and_then(Value::as_str).unwrap_or("");
        let value = B64
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Attempt::Uncertain("bad-response".into()))?;
        let rev = match kv.get("mod_revision") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => "0".into(),
        };
        Ok(Some((value, rev)))
    }

    /// POSTs `body` to `path`; moves to the next member while connections are refused.
    /// `Err` holds the last attempt that did not succeed.
    async fn request(
        &mut self,
        path: &str,
        body: &Value,
        deadline: Instant,
    ) -> Result<Value, Attempt> {
        let mut tries = 0u32;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Attempt::NotSent("timeout".into()));
            }
            tries += 1;
            let addr = &self.cfg.endpoints[self.target].addr;
            let limit = self.cfg.request_timeout.min(deadline - now);
            let url = format!("http://{addr}{path}");
            let attempt = match self.http.post(&url).timeout(limit).json(body).send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.bytes().await {
                        Ok(bytes) => classify(status, &bytes),
                        Err(e) => Err(transport_error(&e)),
                    }
                }
                Err(e) => Err(transport_error(&e)),
            };
            match &attempt {
                Ok(v) => {
                    let term = v.pointer("/header/raft_term").and_then(|t| match t {
                        Value::String(s) => s.parse().ok(),
                        other => other.as_u64(),
                    });
                    let node = Some(self.cfg.endpoints[self.target].name.clone());
                    self.served = Served { node, term };
                }
                Err(Attempt::Done(_)) => {
                    let node = Some(self.cfg.endpoints[self.target].name.clone());
                    self.served = Served { node, term: None };
                }
                _ => {}
            }
            match attempt {
                Err(Attempt::NotSent(e)) => {
                    tracing::trace!(%addr, %e, "member unreachable; trying the next");
                    self.target = (self.target + 1) % self.cfg.endpoints.len();
                    let until = (Instant::now() + backoff(tries)).min(deadline);
                    tokio::time::sleep_until(until).await;
                }
                Err(Attempt::Uncertain(e)) => return Err(Attempt::Uncertain(e)),
                other => return other,
            }
        }
    }
}

/// The outcome of an attempt that did not succeed: uncertain → `Unknown`; never sent or
/// rejected → `Fail`.
fn settle(a: Attempt) -> Outcome {
    match a {
        Attempt::Done(o) => o,
        Attempt::Uncertain(e) => Outcome::Unknown(e),
        Attempt::NotSent(e) => Outcome::Fail(e),
        Attempt::NotLeader(_) => Outcome::Fail("not-leader".into()),
    }
}

fn txn(compare: Value, key: &str, value: &str) -> Value {
    json!({"compare": [compare], "success": [{"request_put": {"key": key, "value": value}}]})
}

fn value_equals(key: &str, value: &str) -> Value {
    json!({"key": key, "target": "VALUE", "result": "EQUAL", "value": value})
}

/// "The key does not exist": its create revision is 0.
fn absent(key: &str) -> Value {
    json!({"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
}

fn succeeded(r: &Value) -> bool {
    r.get("succeeded").and_then(Value::as_bool).unwrap_or(false)
}

/// gRPC codes that mean "rejected before anything was proposed".
const CERTAIN_CODES: [i64; 5] = [3, 7, 8, 9, 16];

/// Classifies a gateway response: 200 → its JSON body; an error → certain or not.
pub(crate) fn classify(http: u16, body: &[u8]) -> Result<Value, Attempt> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match (http, parsed) {
        (200, Some(v)) => Ok(v),
        (200, None) => Err(Attempt::Uncertain("bad-response".into())),
        (_, Some(v)) => {
            let code = v.get("code").and_then(Value::as_i64).unwrap_or(-1);
            let msg = v.get("error").or(v.get("message")).and_then(Value::as_str).unwrap_or("");
            let short = short_error(msg, http);
            if CERTAIN_CODES.contains(&code) {
                Err(Attempt::Done(Outcome::Fail(short)))
            } else {
                Err(Attempt::Uncertain(short))
            }
        }
        (_, None) => Err(Attempt::Uncertain(format!("http-{http}"))),
    }
}

/// A short machine-readable reason from etcd's message.
fn short_error(msg: &str, http: u16) -> String {
    let m = msg.trim_start_matches("etcdserver: ");
    if m.is_empty() {
        return format!("http-{http}");
    }
    m.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    #[test]
    fn classifies_gateway_errors() {
        assert_eq!(classify(200, br#"{"succeeded":true}"#).unwrap(), json!({"succeeded": true}));
        assert_eq!(classify(200, b"nope"), Err(Attempt::Uncertain("bad-response".into())));
        assert_eq!(classify(503, br#"{"error":"etcdserver: request timed out","code":14}"#),
                   Err(Attempt::Uncertain("request-timed-out".into())));
        assert_eq!(classify(504, br#"{"error":"context deadline exceeded","code":4}"#),
                   Err(Attempt::Uncertain("context-deadline-exceeded".into())));
        assert_eq!(classify(429, br#"{"error":"etcdserver: too many requests","code":8}"#),
                   Err(Attempt::Done(Outcome::Fail("too-many-requests".into()))));
        assert_eq!(classify(400, br#"{"error":"etcdserver: key is not provided","code":3}"#),
                   Err(Attempt::Done(Outcome::Fail("key-is-not-provided".into()))));
        assert_eq!(classify(502, b""), Err(Attempt::Uncertain("http-502".into())));
    }

    #[test]
    fn txn_bodies() {
        let k = B64.encode("k1");
        let t = txn(absent(&k), &k, &B64.encode("5"));
        assert_eq!(t["compare"][0]["target"], "CREATE");
        assert_eq!(t["success"][0]["request_put"]["value"], B64.encode("5"));
        assert!(!succeeded(&json!({"header": {}})));
    }
}
