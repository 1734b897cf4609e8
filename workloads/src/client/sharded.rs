//! The sharded KV's client: finds a key's replica group through the shard controller,
//! caches the configuration, and drives the same retry policy as the single-group client.
//!
//! ```text
//!  call(op): seq += 1 ─▶ no config? ─▶ POST /v1/ctrl query(latest) ─▶ cache
//!     gid = config.key_owner(key) (key_shard, faultline_api::shard) ─▶ Policy(servers of gid)
//!     Send ─▶ POST /v1/kv ─▶ ok / fail / not-leader / unknown ─▶ Policy::on_attempt
//!                          ─▶ not-arrived (certainly not applied) ─▶ Policy::on_attempt(NotSent)
//!                          ─▶ wrong-group, or a timed-out attempt ─▶ query the controller
//!                                       ─▶ Policy::regroup(servers of the key's new group)
//! ```
//!
//! Every attempt, in every group, carries the same `(client, seq)`: a request retried across
//! a shard move is applied at most once because the shard's session table moves with it.
//! The simulator's clients (`node/src/sim/shard_clients.rs`) follow the same rules.
// A client does network I/O and waits between retries (tokio's clock, real time).
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Duration;

use faultline_api::node::{Reply, Request, ResponseBody};
use faultline_api::shard::{CtrlRequest, CtrlResponseBody, Gid, ShardConfig};
use tokio::time::Instant;

use super::faultline::{classify, request};
use super::{transport_error, Attempt, ClientConfig, Served};
use crate::op::{Op, Outcome};
use crate::policy::{Decision, Policy};

/// Pause before asking the controller again after a wrong-group answer (the controller may
/// not know better than the group yet).
const REGROUP_PAUSE: Duration = Duration::from_millis(10);

/// A client of one process of the sharded KV.
#[derive(Debug)]
pub struct ShardedClient {
    http: reqwest::Client,
    cfg: Arc<ClientConfig>,
    client_id: u64,
    seq: u64,
    /// The latest configuration this client has seen.
    config: Option<ShardConfig>,
    /// The controller node asked first.
    ctrl: usize,
    /// Who answered the last operation.
    pub(crate) served: Served,
}

/// What one attempt at a group said.
enum GroupAttempt {
    Policy(Attempt),
    WrongGroup,
}

impl ShardedClient {
    pub(crate) fn new(http: reqwest::Client, cfg: Arc<ClientConfig>, process: u64) -> Self {
        let ctrl = (process as usize) % cfg.controllers.len().max(1);
        ShardedClient {
            http,
            cfg,
            client_id: process + 1,
            seq: 0,
            config: None,
            ctrl,
            served: Served::default(),
        }
    }

    /// Performs `op` through the group that owns its key.
    pub async fn call(&mut self, op: &Op) -> Outcome {
        self.seq += 1;
        let req = request(self.client_id, self.seq, op);
        let start = Instant::now();
        let op_timeout = self.cfg.op_timeout;
        self.served = Served::default();
        if self.config.is_none() {
            self.refresh(start + op_timeout).await;
        }
        let (mut policy, mut decision) = loop {
            let servers = self.servers(&op.key);
            if !servers.is_empty() {
                let mut p = Policy::new(
                    servers,
                    self.client_id as usize,
                    op.f.is_read(),
                    self.cfg.request_timeout,
                    op_timeout,
                );
                let d = p.start();
                break (p, d);
            }
            // No group owns the key (yet): nothing was sent, so this is a certain failure.
            if start.elapsed() >= op_timeout {
                return Outcome::Fail("no-group".into());
            }
            tokio::time::sleep(REGROUP_PAUSE * 5).await;
            self.refresh(start + op_timeout).await;
        };
        loop {
            decision = match decision {
                Decision::Finish(outcome) => return outcome,
                Decision::Send { to, timeout } => {
                    match self.attempt(&to, &req, op, timeout).await {
                        GroupAttempt::WrongGroup => {
                            // Certainly not applied there: find the key's group and go on.
                            tokio::time::sleep(REGROUP_PAUSE).await;
                            self.refresh(start + op_timeout).await;
                            policy.regroup(self.servers(&op.key), start.elapsed())
                        }
                        GroupAttempt::Policy(attempt) => {
                            if matches!(attempt, Attempt::Done(_)) {
                                self.served.node = Some(self.name_of(&to));
                            }
                            let timed_out = attempt == Attempt::Uncertain("timeout".into());
                            let d = policy.on_attempt(attempt, start.elapsed());
                            if timed_out && !matches!(d, Decision::Finish(_)) {
                                // The group may have moved the shard or be cut off: ask again.
                                self.refresh(start + op_timeout).await;
                                policy.regroup(self.servers(&op.key), start.elapsed())
                            } else {
                                d
                            }
                        }
                    }
                }
                Decision::Pause(d) => {
                    tokio::time::sleep(d).await;
                    policy.on_pause_over(start.elapsed())
                }
            };
        }
    }

    /// The client addresses of the group owning `key` in the cached config.
    fn servers(&self, key: &str) -> Vec<String> {
        let Some(cfg) = &self.config else { return Vec::new() };
        let gid = cfg.key_owner(key);
        if gid == Gid::NONE {
            return Vec::new();
        }
        cfg.groups.get(&gid).cloned().unwrap_or_default()
    }

    fn name_of(&self, addr: &str) -> String {
        let e = self.cfg.endpoints.iter().find(|e| e.addr == addr);
        e.map_or(addr.to_string(), |e| e.name.clone())
    }

    /// Asks the controller nodes in turn (following leader hints) for the latest config,
    /// until one answers or `deadline` passes; keeps the newest config seen.
    async fn refresh(&mut self, deadline: Instant) {
        let n = self.cfg.controllers.len();
        if n == 0 {
            return;
        }
        let req = CtrlRequest::query(None);
        let mut target = self.cfg.controllers[self.ctrl % n].addr.clone();
        let mut tries = 0u32;
        while Instant::now() < deadline && tries < 3 * n as u32 {
            tries += 1;
            let limit = self.cfg.request_timeout.min(deadline - Instant::now());
            let url = format!("http://{target}/v1/ctrl");
            let answer = match self.http.post(url).timeout(limit).json(&req).send().await {
                Ok(r) => r.json::<CtrlResponseBody>().await.ok(),
                Err(_) => None,
            };
            match answer {
                Some(CtrlResponseBody { status: Reply::Ok, config: Some(cfg), .. }) => {
                    if self.config.as_ref().is_none_or(|c| cfg.num >= c.num) {
                        self.config = Some(cfg);
                    }
                    return;
                }
                Some(CtrlResponseBody { leader: Some(l), .. })
                    if l.client_addr.as_ref().is_some_and(|a| *a != target) =>
                {
                    target = l.client_addr.unwrap_or_default();
                    continue;
                }
                _ => {}
            }
            self.ctrl = (self.ctrl + 1) % n;
            target = self.cfg.controllers[self.ctrl].addr.clone();
            tokio::time::sleep(crate::policy::backoff(tries)).await;
        }
    }

    async fn attempt(&self, to: &str, req: &Request, op: &Op, limit: Duration) -> GroupAttempt {
        let url = format!("http://{to}/v1/kv");
        let resp = match self.http.post(&url).timeout(limit).json(req).send().await {
            Ok(r) => r,
            Err(e) => return GroupAttempt::Policy(transport_error(&e)),
        };
        let status = resp.status().as_u16();
        match resp.bytes().await {
            Ok(body) => {
                let parsed: Option<ResponseBody> = serde_json::from_slice(&body).ok();
                if parsed.is_some_and(|r| r.status == Reply::WrongGroup) {
                    return GroupAttempt::WrongGroup;
                }
                GroupAttempt::Policy(classify(status, &body, op))
            }
            Err(e) => GroupAttempt::Policy(transport_error(&e)),
        }
    }
}
