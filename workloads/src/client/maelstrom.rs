//! The client of a Maelstrom lin-kv node (jepsen-io/maelstrom, `doc/workloads.md`), through
//! the node's gateway (one TCP connection per node, `GatewayRequest`/`GatewayReply` lines).
//!
//! ```text
//!  read k  ─▶ {type: read, key: K}            ─▶ read_ok {value}  → Ok(value)
//!                                                error 20        → Ok(null): no such key
//!  write k ─▶ {type: write, key: K, value: V}  ─▶ write_ok        → Ok
//!  cas k   ─▶ {type: cas, key: K, from, to}    ─▶ cas_ok          → Ok
//!                                                error 20 / 22   → Fail(cas-mismatch)
//!  any     ─▶ error 11 (temporarily unavailable) → the next node, until the deadline
//!             another definite error (Maelstrom's table) → Fail(its name)
//!             error 0, 13, an unknown code, no reply in time → Unknown (reads: Fail)
//! ```
//! Keys are the history's `k<N>` sent as the integer `N`; register values are integers both
//! sides. A read of a key the node does not have is the register's initial `null`; a cas on
//! one saw a value other than its `from`, which the checker reads as a mismatch.
//! Each operation starts on the process's home node (`process % n`), as Jepsen binds
//! clients to nodes; only a definite refusal (11) moves it on, so nothing that may have
//! been applied is ever sent twice.
// A client does network I/O and waits for replies (tokio's clock, real time).
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use faultline_api::maelstrom::{
    error_name, is_definite, Body, GatewayReply, GatewayRequest, KEY_DOES_NOT_EXIST, MAX_LINE,
    PRECONDITION_FAILED, TEMPORARILY_UNAVAILABLE,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{backoff, ClientConfig, Served};
use crate::op::{Func, Op, Outcome};

/// One open gateway connection.
#[derive(Debug)]
struct Conn {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

/// A client of one process: a connection per node, opened when first needed.
#[derive(Debug)]
pub struct MaelstromClient {
    cfg: Arc<ClientConfig>,
    home: usize,
    conns: Vec<Option<Conn>>,
    next_id: u64,
    /// Who answered the last operation.
    pub(crate) served: Served,
}

/// What one attempt on one node came to.
enum Try {
    Reply(Body),
    /// Certainly not delivered (no connection).
    NotSent(String),
    /// Sent; no usable answer.
    Lost(String),
}

/// The integer a history key `k<N>` stands for.
pub fn key_number(key: &str) -> Option<i64> {
    key.strip_prefix('k').unwrap_or(key).parse().ok()
}

impl MaelstromClient {
    pub(crate) fn new(cfg: Arc<ClientConfig>, process: u64) -> Self {
        let n = cfg.endpoints.len();
        // Clients::new refuses empty endpoint lists, so n > 0.
        let home = (process % n as u64) as usize;
        MaelstromClient {
            cfg,
            home,
            conns: (0..n).map(|_| None).collect(),
            next_id: 0,
            served: Served::default(),
        }
    }

    /// The request body of `op`, or why lin-kv cannot carry it.
    fn body(op: &Op) -> Result<Body, String> {
        let key = key_number(&op.key).ok_or_else(|| format!("key {} is not k<integer>", op.key))?;
        let int = |v: &Value| v.as_i64().ok_or_else(|| format!("value {v} is not an integer"));
        Ok(match op.f {
            Func::Read => Body::new("read").with("key", key),
            Func::Write => Body::new("write").with("key", key).with("value", int(&op.value)?),
            Func::Cas => Body::new("cas")
                .with("key", key)
                .with("from", int(&op.value[0])?)
                .with("to", int(&op.value[1])?),
            other => return Err(format!("lin-kv has no {other}")),
        })
    }

    /// Performs `op` (see the module docs).
    pub async fn call(&mut self, op: &Op) -> Outcome {
        self.served = Served::default();
        let body = match Self::body(op) {
            Ok(b) => b,
            Err(why) => return Outcome::Fail(why),
        };
        let deadline = Instant::now() + self.cfg.op_timeout;
        let n = self.conns.len();
        let mut target = self.home;
        let mut refusals = 0u32;
        loop {
            let last = match self.attempt(target, body.clone(), deadline).await {
                Try::Reply(reply) => {
                    self.served.node = Some(self.cfg.endpoints[target].name.clone());
                    match outcome(op, &reply) {
                        Some(o) => return o,
                        None => "temporarily-unavailable".to_string(),
                    }
                }
                Try::NotSent(why) => why,
                Try::Lost(why) if op.f.is_read() => return Outcome::Fail(why),
                Try::Lost(why) => return Outcome::Unknown(why),
            };
            refusals += 1;
            target = (target + 1) % n;
            let pause = backoff(refusals);
            if Instant::now() + pause >= deadline {
                return Outcome::Fail(last);
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Sends `body` to node `i` and waits for its reply until the request or op deadline.
    async fn attempt(&mut self, i: usize, mut body: Body, deadline: Instant) -> Try {
        let until = deadline.min(Instant::now() + self.cfg.request_timeout);
        if self.conns[i].is_none() {
            let addr = self.cfg.endpoints[i].addr.clone();
            match tokio::time::timeout_at(until, TcpStream::connect(&addr)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    let (r, w) = s.into_split();
                    self.conns[i] = Some(Conn { read: BufReader::new(r), write: w });
                }
                Ok(Err(e)) => return Try::NotSent(format!("connect: {}", e.kind())),
                Err(_) => return Try::NotSent("connect-timeout".into()),
            }
        }
        self.next_id += 1;
        let id = self.next_id;
        body.msg_id = None;
        let Ok(mut line) = serde_json::to_string(&GatewayRequest { id, body }) else {
            return Try::NotSent("unserialisable".into());
        };
        line.push('\n');
        let Some(conn) = self.conns[i].as_mut() else {
            return Try::NotSent("no connection".into());
        };
        if let Err(e) = conn.write.write_all(line.as_bytes()).await {
            // The gateway is in faultline's own process: a failed write never reached a node.
            self.conns[i] = None;
            return Try::NotSent(format!("send: {}", e.kind()));
        }
        loop {
            let mut buf = String::new();
            let mut bounded = (&mut conn.read).take(MAX_LINE as u64 + 1);
            match tokio::time::timeout_at(until, bounded.read_line(&mut buf)).await {
                Err(_) => return Try::Lost("timeout".into()),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.conns[i] = None;
                    return Try::Lost("connection-lost".into());
                }
                Ok(Ok(_)) => match serde_json::from_str::<GatewayReply>(&buf) {
                    Ok(r) if r.id == id => return Try::Reply(r.body),
                    // A late answer to an earlier request that timed out.
                    Ok(_) => {}
                    Err(_) => {
                        self.conns[i] = None;
                        return Try::Lost("bad-response".into());
                    }
                },
            }
        }
    }
}

/// The outcome `reply` gives `op`; `None` for a refusal to try elsewhere (error 11).
fn outcome(op: &Op, reply: &Body) -> Option<Outcome> {
    let read = || match reply.field("value") {
        Some(Value::Null) | None => Value::Null,
        Some(v) => v.clone(),
    };
    Some(match (op.f, reply.kind.as_str(), reply.error_code()) {
        (Func::Read, "read_ok", _) => Outcome::Ok(read()),
        (Func::Write, "write_ok", _) | (Func::Cas, "cas_ok", _) => Outcome::Ok(op.value.clone()),
        (_, _, Some(TEMPORARILY_UNAVAILABLE)) => return None,
        (Func::Read, _, Some(KEY_DOES_NOT_EXIST)) => Outcome::Ok(Value::Null),
        (Func::Cas, _, Some(KEY_DOES_NOT_EXIST | PRECONDITION_FAILED)) => {
            Outcome::Fail("cas-mismatch".into())
        }
        (_, _, Some(code)) if is_definite(code) => Outcome::Fail(error_name(code)),
        (f, _, Some(code)) if f.is_read() => Outcome::Fail(error_name(code)),
        (_, _, Some(code)) => Outcome::Unknown(error_name(code)),
        // An answer of the wrong type: the node did something, we cannot tell what.
        (f, kind, None) if f.is_read() => Outcome::Fail(format!("unexpected-{}", short(kind))),
        (_, kind, None) => Outcome::Unknown(format!("unexpected-{}", short(kind))),
    })
}

fn short(kind: &str) -> String {
    kind.chars().take(40).map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(f: Func, value: Value) -> Op {
        Op { f, key: "k12".into(), value }
    }

    #[test]
    fn bodies_carry_integer_keys_and_values() {
        let b = MaelstromClient::body(&op(Func::Cas, json!([3, 4]))).unwrap();
        assert_eq!(
            (b.kind.as_str(), b.field("key"), b.field("from"), b.field("to")),
            ("cas", Some(&json!(12)), Some(&json!(3)), Some(&json!(4)))
        );
        assert!(MaelstromClient::body(&op(Func::Write, json!("x"))).is_err());
        assert!(MaelstromClient::body(&Op { f: Func::Read, key: "a".into(), value: Value::Null })
            .is_err());
        assert!(MaelstromClient::body(&op(Func::Append, json!("1,"))).is_err());
    }

    #[test]
    fn error_codes_map_as_maelstrom_defines_them() {
        let err = |code| Body::error(Some(1), code, "x");
        let (r, w, c) =
            (op(Func::Read, Value::Null), op(Func::Write, json!(5)), op(Func::Cas, json!([1, 2])));
        assert_eq!(
            outcome(&r, &Body::new("read_ok").with("value", 7)),
            Some(Outcome::Ok(json!(7)))
        );
        assert_eq!(outcome(&r, &err(20)), Some(Outcome::Ok(Value::Null)));
        assert_eq!(outcome(&c, &err(22)), Some(Outcome::Fail("cas-mismatch".into())));
        assert_eq!(outcome(&c, &err(20)), Some(Outcome::Fail("cas-mismatch".into())));
        assert_eq!(outcome(&w, &err(11)), None);
        assert_eq!(outcome(&w, &err(14)), Some(Outcome::Fail("abort".into())));
        assert_eq!(outcome(&w, &err(0)), Some(Outcome::Unknown("timeout".into())));
        assert_eq!(outcome(&w, &err(13)), Some(Outcome::Unknown("crash".into())));
        assert_eq!(outcome(&r, &err(13)), Some(Outcome::Fail("crash".into())));
        assert_eq!(outcome(&w, &err(99)), Some(Outcome::Unknown("error-99".into())));
        assert_eq!(outcome(&w, &Body::new("write_ok")), Some(Outcome::Ok(json!(5))));
        assert_eq!(
            outcome(&w, &Body::new("read_ok")),
            Some(Outcome::Unknown("unexpected-read-ok".into()))
        );
    }
}
