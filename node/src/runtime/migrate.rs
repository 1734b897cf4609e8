//! The loop's per-role helper ([`Sidecar`]) and the replica group's: the leader's
//! [`Migrator`] driven by the runtime's ticks, its requests carried over HTTP by spawned
//! tasks, their answers fed back on the next loop turn.
//!
//! ```text
//!  loop turn ─▶ Sidecar::turn(&service) ── not leader: drop answers, send nothing
//!     leader: answers ─▶ Migrator::on_config / on_reply ─▶ commands the loop proposes
//!             Migrator::tick(ticks) ─▶ Query ──spawn──▶ POST /v1/ctrl (controllers in turn)
//!                                   ─▶ Pull/Delete ─spawn─▶ POST /v1/shard/{pull,delete}
//!                                                           (the group's servers in turn)
//!     spawned tasks ──Answer──▶ unbounded channel ──▶ next turn
//! ```
//!
//! Every request is idempotent; a lost one is sent again by the migrator's own timers.
// The sidecar spawns tasks doing network I/O.
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faultline_api::node::Reply;
use faultline_api::shard::{CtrlRequest, CtrlResponseBody};
use tokio::sync::mpsc;

use super::shard_http::{decode, encode};
use crate::raft::types::{Role, UnsafeBug};
use crate::service::{Service, StateMachine};
use crate::shard::{Group, GroupCommand, GroupResponse, Migrator, Outbound, ShardConfig};

/// Runs beside the service in the loop: may send requests of its own and propose commands.
pub trait Sidecar<M: StateMachine>: Send {
    /// Called once per loop turn, after the ticks; returns the commands to propose.
    fn turn(&mut self, service: &Service<M>) -> Vec<M::Command>;
}

/// The KV store and the controller need no helper.
#[derive(Debug, Default)]
pub struct NoSidecar;

impl<M: StateMachine> Sidecar<M> for NoSidecar {
    fn turn(&mut self, _: &Service<M>) -> Vec<M::Command> {
        Vec::new()
    }
}

/// An answer a spawned request brought back.
#[derive(Debug)]
enum Answer {
    Config(ShardConfig),
    Group { sent: GroupCommand, reply: GroupResponse },
}

/// Time limit of one request to the controller or another group.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// A replica group leader's migration driver.
#[derive(Debug)]
pub struct Migration {
    migrator: Migrator,
    http: reqwest::Client,
    controllers: Arc<Vec<String>>,
    /// A controller query is in flight (one at a time).
    querying: Arc<AtomicBool>,
    tx: mpsc::UnboundedSender<Answer>,
    rx: mpsc::UnboundedReceiver<Answer>,
}

impl Migration {
    /// Polls `controllers` (client addresses) every `poll_ticks` and re-sends pulls and
    /// deletes every `retry_ticks` (Raft ticks of the node).
    ///
    /// # Errors
    ///
    /// The HTTP client cannot be built.
    pub fn new(
        controllers: Vec<String>,
        poll_ticks: u64,
        retry_ticks: u64,
        bug: Option<UnsafeBug>,
    ) -> Result<Migration, reqwest::Error> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(REQUEST_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Migration {
            migrator: Migrator::new(poll_ticks, retry_ticks, bug),
            http,
            controllers: Arc::new(controllers),
            querying: Arc::default(),
            tx,
            rx,
        })
    }

    fn send(&self, out: Outbound) {
        let (http, tx) = (self.http.clone(), self.tx.clone());
        match out {
            Outbound::Query(num) => {
                if self.querying.swap(true, Ordering::SeqCst) {
                    return;
                }
                let (controllers, querying) = (self.controllers.clone(), self.querying.clone());
                tokio::spawn(async move {
                    if let Some(cfg) = query(&http, &controllers, num).await {
                        let _ = tx.send(Answer::Config(cfg));
                    }
                    querying.store(false, Ordering::SeqCst);
                });
            }
            Outbound::Group { servers, cmd, .. } => {
                tokio::spawn(async move {
                    if let Some(reply) = ask_group(&http, &servers, &cmd).await {
                        let _ = tx.send(Answer::Group { sent: cmd, reply });
                    }
                });
            }
        }
    }
}

impl Sidecar<Group> for Migration {
    fn turn(&mut self, service: &Service<Group>) -> Vec<GroupCommand> {
        let leader = service.core().role() == Role::Leader;
        let group = service.kv();
        let mut propose = Vec::new();
        while let Ok(answer) = self.rx.try_recv() {
            if !leader {
                continue;
            }
            let cmd = match answer {
                Answer::Config(cfg) => self.migrator.on_config(group, cfg),
                Answer::Group { sent, reply } => self.migrator.on_reply(group, &sent, reply),
            };
            propose.extend(cmd);
        }
        if leader {
            for out in self.migrator.tick(service.core().ticks(), group) {
                self.send(out);
            }
        }
        propose
    }
}

/// Asks the controllers in turn (following a leader hint once) for configuration `num`.
async fn query(
    http: &reqwest::Client,
    controllers: &[String],
    num: Option<u64>,
) -> Option<ShardConfig> {
    let req = CtrlRequest::query(num);
    let mut targets: Vec<String> = controllers.to_vec();
    let mut i = 0;
    while i < targets.len() && i < controllers.len() + 2 {
        let url = format!("http://{}/v1/ctrl", targets[i]);
        i += 1;
        let Ok(resp) = http.post(url).json(&req).send().await else { continue };
        let Ok(body) = resp.json::<CtrlResponseBody>().await else { continue };
        match body.status {
            Reply::Ok => return body.config,
            Reply::NotLeader => {
                if let Some(addr) = body.leader.and_then(|l| l.client_addr) {
                    targets.insert(i, addr);
                }
            }
            _ => {}
        }
    }
    None
}

/// Sends a pull or delete to the group's servers in turn until one leads and answers.
async fn ask_group(
    http: &reqwest::Client,
    servers: &[String],
    cmd: &GroupCommand,
) -> Option<GroupResponse> {
    let path = match cmd {
        GroupCommand::Pull { .. } => "pull",
        GroupCommand::Delete { .. } => "delete",
        _ => return None,
    };
    let body = encode(cmd);
    for server in servers {
        let url = format!("http://{server}/v1/shard/{path}");
        let Ok(resp) = http.post(url).body(body.clone()).send().await else { continue };
        let Ok(bytes) = resp.bytes().await else { continue };
        match decode::<GroupResponse>(&bytes) {
            Some(GroupResponse::Kv(_)) | None => continue,
            Some(reply) => return Some(reply),
        }
    }
    None
}
