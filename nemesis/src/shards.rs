//! The sharded KV's administrator: joins, leaves and moves through the shard controller
//! (`POST /v1/ctrl`), for the runner (join every group at the start) and the `reconfigure`
//! fault. One client session; a change keeps its `(client, seq)` across retries, so a retry
//! after a lost answer is applied once.
//!
//! ```text
//!  Admin::change(op) ── seq += 1 ─▶ POST /v1/ctrl to the controller nodes in turn
//!     ok ─▶ new config     fail ─▶ refused (unknown-group, bad-shard)
//!     not-leader / unknown / unreachable ─▶ next node, same (client, seq), until the deadline
//! ```
#![allow(clippy::disallowed_methods)] // real HTTP and real waiting: an I/O module

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use faultline_api::node::Reply;
use faultline_api::shard::{CtrlRequest, CtrlResponseBody, CtrlWireOp, Gid, ShardConfig};
use tokio::time::Instant;

use crate::Cluster;

/// The sharded KV's layout in `cluster`: the controller's client addresses, and each
/// replica group's (as joined: gid → its nodes' client addresses). Empty for a cluster of
/// one Raft group.
pub fn layout(cluster: &Cluster) -> (Vec<SocketAddr>, BTreeMap<Gid, Vec<String>>) {
    let nodes = cluster.nodes();
    let groups = cluster.raft_groups();
    if groups.len() < 2 {
        return (Vec::new(), BTreeMap::new());
    }
    let controllers = groups[0].iter().map(|&i| nodes[i].client_addr).collect();
    let replica = groups[1..]
        .iter()
        .enumerate()
        .map(|(g, members)| {
            let addrs = members.iter().map(|&i| nodes[i].client_addr.to_string()).collect();
            (Gid(g as u64 + 1), addrs)
        })
        .collect();
    (controllers, replica)
}

/// Joins every replica group of `cluster` through its controller, at once (the first
/// configuration), as runs and benchmarks start the sharded KV.
///
/// # Errors
/// The controller did not take the join within 30 s (the reason, with the gids).
pub async fn join_all(cluster: &Cluster) -> Result<ShardConfig, String> {
    let (controllers, groups) = layout(cluster);
    let mut admin = Admin::new(controllers);
    let gids: Vec<u64> = groups.keys().map(|g| g.0).collect();
    match admin.change(&Change::Join(groups), Duration::from_secs(30)).await {
        Outcome::Done(cfg) => Ok(cfg),
        other => {
            Err(format!("the shard controller did not take the join of groups {gids:?}: {other:?}"))
        }
    }
}

/// The first session id of the administrators (clients use ids from 1 up).
pub const ADMIN_CLIENT: u64 = 1 << 40;

/// Sessions handed out so far: every [`Admin`] has its own, so that two administrators'
/// sequence numbers never collide in the controller's de-duplication table.
static ADMINS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A change to the shard configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Groups (and their servers' client addresses) join.
    Join(BTreeMap<Gid, Vec<String>>),
    /// Groups leave.
    Leave(Vec<Gid>),
    /// `shard` goes to `gid`.
    Move {
        /// The shard.
        shard: usize,
        /// Its new owner.
        gid: Gid,
    },
}

impl Change {
    /// Its event: `join`, `leave` or `move`.
    pub fn event(&self) -> crate::EventName {
        match self {
            Change::Join(_) => crate::EventName::Join,
            Change::Leave(_) => crate::EventName::Leave,
            Change::Move { .. } => crate::EventName::Move,
        }
    }

    /// The change as event details (`{"gids":[2]}`, `{"shard":3,"gid":1}`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Change::Join(g) => serde_json::json!({ "gids": g.keys().collect::<Vec<_>>() }),
            Change::Leave(g) => serde_json::json!({ "gids": g }),
            Change::Move { shard, gid } => serde_json::json!({ "shard": shard, "gid": gid }),
        }
    }

    fn request(&self) -> CtrlRequest {
        let mut r = CtrlRequest::query(None);
        match self {
            Change::Join(groups) => (r.op, r.groups) = (CtrlWireOp::Join, groups.clone()),
            Change::Leave(gids) => (r.op, r.gids) = (CtrlWireOp::Leave, gids.clone()),
            Change::Move { shard, gid } => {
                (r.op, r.shard, r.gid) = (CtrlWireOp::Move, Some(*shard), Some(*gid))
            }
        }
        r
    }
}

/// What became of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied: the configuration it made.
    Done(ShardConfig),
    /// Certainly not applied: the controller refused it.
    Refused(String),
    /// No definite answer before the deadline: may or may not have been applied.
    Unknown(String),
}

/// The controller's administrator.
#[derive(Debug)]
pub struct Admin {
    http: reqwest::Client,
    controllers: Vec<SocketAddr>,
    client: u64,
    seq: u64,
    next: usize,
}

impl Admin {
    /// An administrator of the controller whose nodes serve at `controllers`.
    pub fn new(controllers: Vec<SocketAddr>) -> Admin {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default();
        let client = ADMIN_CLIENT + ADMINS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Admin { http, controllers, client, seq: 0, next: 0 }
    }

    /// Applies `change` (retrying with the same `(client, seq)`) within `timeout`.
    pub async fn change(&mut self, change: &Change, timeout: Duration) -> Outcome {
        self.seq += 1;
        let mut req = change.request();
        (req.client, req.seq) = (self.client, self.seq);
        match self.send(&req, timeout).await {
            Ok(cfg) => Outcome::Done(cfg),
            Err((true, why)) => Outcome::Refused(why),
            Err((false, why)) => Outcome::Unknown(why),
        }
    }

    /// The latest configuration, if the controller answers within `timeout`.
    pub async fn query(&mut self, timeout: Duration) -> Option<ShardConfig> {
        self.send(&CtrlRequest::query(None), timeout).await.ok()
    }

    /// Sends until ok, fail (`Err((true, why))`) or the deadline (`Err((false, why))`).
    async fn send(
        &mut self,
        req: &CtrlRequest,
        timeout: Duration,
    ) -> Result<ShardConfig, (bool, String)> {
        let deadline = Instant::now() + timeout;
        let mut last = "no controller node".to_string();
        let n = self.controllers.len();
        while n > 0 && Instant::now() < deadline {
            let addr = self.controllers[self.next % n];
            let limit = Duration::from_secs(1).min(deadline - Instant::now());
            let url = format!("http://{addr}/v1/ctrl");
            match self.http.post(url).timeout(limit).json(req).send().await {
                Ok(r) => match r.json::<CtrlResponseBody>().await {
                    Ok(CtrlResponseBody { status: Reply::Ok, config: Some(cfg), .. }) => {
                        return Ok(cfg)
                    }
                    Ok(CtrlResponseBody { status: Reply::Fail, error, .. }) => {
                        return Err((true, error.unwrap_or_else(|| "fail".into())))
                    }
                    Ok(body) => {
                        last = format!("{addr}: {}", body.error.unwrap_or(body.status.to_string()))
                    }
                    Err(e) => last = format!("{addr}: {e}"),
                },
                Err(e) => last = format!("{addr}: {e}"),
            }
            self.next += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err((false, last))
    }
}

/// Where the replica groups are, once the cluster is healed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settle {
    /// The controller's latest configuration.
    pub latest: u64,
    /// Every group's leader applied it, holds exactly its shards, and none is moving.
    pub settled: bool,
    /// Each group as last seen.
    pub groups: Vec<String>,
}

/// Waits up to `timeout` until every replica group's leader has applied the controller's
/// latest configuration, serves exactly the shards it assigns to the group, and has no
/// shard in the middle of a move. A group that never gets there is stuck (e.g. it skipped a
/// configuration and cannot hand over what it skipped): unavailable, not non-linearizable,
/// so the history's check alone would not see it.
pub async fn wait_settled(cluster: &Cluster, timeout: Duration) -> Settle {
    let deadline = Instant::now() + timeout;
    let (controllers, all) = layout(cluster);
    let mut admin = Admin::new(controllers);
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap_or_default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        let Some(latest) = admin.query(left.min(Duration::from_secs(3))).await else {
            if Instant::now() >= deadline {
                let groups = vec!["the shard controller did not answer".to_string()];
                return Settle { latest: 0, settled: false, groups };
            }
            continue;
        };
        let mut settled = true;
        let mut groups = Vec::new();
        for (gid, addrs) in &all {
            let want = latest.shards_of(*gid);
            let mut leader = None;
            for addr in addrs {
                let url = format!("http://{addr}/v1/status");
                let Ok(r) = http.get(url).send().await else { continue };
                let Ok(st) = r.json::<faultline_api::node::NodeStatus>().await else { continue };
                if st.service.role == faultline_api::node::Role::Leader {
                    leader = st.group;
                }
            }
            let line =
                match leader {
                    None => {
                        settled = false;
                        format!("{gid}: no leader reported a group status")
                    }
                    Some(g) => {
                        let ok = g.config == latest.num && g.is_settled() && g.serving == want;
                        settled &= ok;
                        format!(
                        "{gid}: config {} of {}, serving {:?} (owns {:?}), pulling {:?}, handing \
                         over {:?}, awaiting deletion {:?}",
                        g.config, latest.num, g.serving, want, g.pulling, g.be_pulling, g.gc_pending
                    )
                    }
                };
            groups.push(line);
        }
        if settled || Instant::now() >= deadline {
            return Settle { latest: latest.num, settled, groups };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
