//! faultline's own node (`faultline-node`; contract in `docs/node-api.md`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use faultline_api::node::{
    ClockSettings, KvOp, MemberError, MemberRefusal, MemberRequest, Members, NodeStatus, Request,
    Role, NEMESIS_CLIENT, NEMESIS_KEY,
};
use faultline_api::{ReadMode, UnsafeBug};

use super::{BoxFuture, ChangeAnswer, MemberChange, MemberView, NodeInfo, Probe, Routing, System};
use crate::FaultOutcome;

/// The nemesis's own writes so far: the next one's sequence number (a run's nodes are new,
/// so the session starts at 1 in every process).
static OWN_WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// How long [`System::append_own_entry`] waits for an answer it does not need.
const OWN_ENTRY_WAIT: Duration = Duration::from_millis(40);

/// Starts `faultline-node` processes; status and clock through its admin API.
#[derive(Debug, Clone)]
pub struct Faultline {
    /// The `faultline-node` binary.
    pub binary: PathBuf,
    /// `--unsafe-bug`.
    pub unsafe_bug: Option<UnsafeBug>,
    /// `--read-mode`.
    pub read_mode: Option<ReadMode>,
    /// Extra arguments for every node.
    pub extra_args: Vec<String>,
    /// `--seed`.
    pub seed: u64,
}

impl System for Faultline {
    fn name(&self) -> &'static str {
        "faultline"
    }

    fn routing(&self) -> Routing {
        Routing::PerLink
    }

    fn netns_ports(&self) -> (u16, u16) {
        (8000, 7000)
    }

    fn command(&self, node: &NodeInfo, all: &[NodeInfo], _tag: &str) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![self.binary.clone().into()];
        let mut arg = |s: String| v.push(s.into());
        arg("--id".into());
        arg(node.id.to_string());
        arg("--peer-listen".into());
        arg(node.peer_listen.to_string());
        arg("--client-listen".into());
        arg(node.client_addr.to_string());
        for (id, addr) in &node.peers {
            arg("--peer".into());
            arg(format!("{id}={addr}"));
        }
        // Peers' client addresses, so a follower's not-leader answer names where to go.
        for other in all.iter().filter(|o| o.id != node.id) {
            arg("--peer-client".into());
            arg(format!("{}={}", other.id, other.client_addr));
        }
        arg("--data-dir".into());
        arg(node.data_dir.display().to_string());
        arg("--seed".into());
        arg(self.seed.to_string());
        if let Some(m) = &self.read_mode {
            arg("--read-mode".into());
            arg(m.to_string());
        }
        if let Some(b) = &self.unsafe_bug {
            arg("--unsafe-bug".into());
            arg(b.to_string());
        }
        for a in &self.extra_args {
            arg(a.clone());
        }
        v
    }

    fn join_command(
        &self,
        node: &NodeInfo,
        all: &[NodeInfo],
        _members: &[usize],
        tag: &str,
    ) -> Option<Vec<OsString>> {
        let mut v = self.command(node, all, tag);
        v.push("--join".into());
        Some(v)
    }

    fn members<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
        _all: &'a [NodeInfo],
    ) -> BoxFuture<'a, Option<MemberView>> {
        Box::pin(async move {
            let url = format!("http://{}/v1/admin/members", node.client_addr);
            let resp = http.get(url).timeout(Duration::from_secs(1)).send().await.ok()?;
            let body: Members = resp.json().await.ok()?;
            Some(view(&body))
        })
    }

    fn change_member<'a>(
        &'a self,
        http: &'a reqwest::Client,
        leader: &'a NodeInfo,
        change: MemberChange,
        target: &'a NodeInfo,
        _all: &'a [NodeInfo],
    ) -> BoxFuture<'a, ChangeAnswer> {
        Box::pin(async move {
            let url = format!("http://{}/v1/admin/members/{}", leader.client_addr, change.name());
            let body = MemberRequest { id: target.id as u64 };
            let resp = match http.post(url).json(&body).timeout(Duration::from_secs(3)).send().await
            {
                Ok(r) => r,
                Err(e) if e.is_connect() => {
                    return ChangeAnswer::Retry(format!("{}: not reachable", leader.name))
                }
                Err(e) => return ChangeAnswer::Unknown(format!("{}: {e}", leader.name)),
            };
            let ok = resp.status().is_success();
            let Ok(text) = resp.text().await else {
                return ChangeAnswer::Unknown(format!("{}: answer lost", leader.name));
            };
            if ok {
                return match serde_json::from_str::<Members>(&text) {
                    Ok(m) => ChangeAnswer::Accepted(view(&m)),
                    Err(e) => ChangeAnswer::Unknown(format!("{}: bad answer: {e}", leader.name)),
                };
            }
            match serde_json::from_str::<MemberError>(&text) {
                Ok(e) if e.error == MemberRefusal::Invalid => ChangeAnswer::Refused(e.message),
                Ok(e) => ChangeAnswer::Retry(format!("{}: {}", e.error, e.message)),
                Err(_) => ChangeAnswer::Unknown(format!("{}: unexpected answer", leader.name)),
            }
        })
    }

    fn probe<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, Option<Probe>> {
        Box::pin(async move {
            let url = format!("http://{}/v1/status", node.client_addr);
            let resp = http.get(url).timeout(Duration::from_secs(1)).send().await.ok()?;
            let body: NodeStatus = resp.json().await.ok()?;
            let s = body.service;
            Some(Probe {
                is_leader: s.role == Role::Leader,
                term: s.term,
                commit_index: Some(s.commit_index),
                last_index: Some(s.last_log_index),
            })
        })
    }

    fn append_own_entry<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, FaultOutcome> {
        Box::pin(async move {
            // A fresh sequence number every time (the session never repeats one), so the
            // node's de-duplication never mistakes it for a retry.
            let seq = OWN_WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let body = Request {
                client: NEMESIS_CLIENT,
                seq,
                op: KvOp::Put,
                key: NEMESIS_KEY.into(),
                value: Some(seq.to_string()),
                expected: None,
            };
            let url = format!("http://{}/v1/kv", node.client_addr);
            match http.post(url).json(&body).timeout(OWN_ENTRY_WAIT).send().await {
                // Proposed and committed (the node was not cut off after all), or refused.
                Ok(r) if r.status().is_success() => FaultOutcome::Installed,
                Ok(r) => FaultOutcome::Skipped(format!(
                    "{}: write refused: HTTP {}",
                    node.name,
                    r.status()
                )),
                // Proposed and waiting for a majority it cannot reach: what it was for.
                Err(e) if e.is_timeout() => FaultOutcome::Installed,
                Err(e) => FaultOutcome::Skipped(format!("{}: not reachable: {e}", node.name)),
            }
        })
    }

    fn set_clock<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
        offset_ms: i64,
        rate: f64,
    ) -> BoxFuture<'a, FaultOutcome> {
        Box::pin(async move {
            let url = format!("http://{}/v1/admin/clock", node.client_addr);
            let body = ClockSettings { offset_ms, rate };
            match http.post(url).json(&body).timeout(Duration::from_secs(2)).send().await {
                Ok(r) if r.status().is_success() => FaultOutcome::Installed,
                Ok(r) => FaultOutcome::Skipped(format!(
                    "{}: clock refused: HTTP {}",
                    node.name,
                    r.status()
                )),
                Err(e) if e.is_connect() => {
                    FaultOutcome::Skipped(format!("{}: not reachable: {e}", node.name))
                }
                Err(e) => FaultOutcome::Indeterminate(format!("{}: {e}", node.name)),
            }
        })
    }
}

/// Node ids (1-based) to node indices.
fn view(m: &Members) -> MemberView {
    let idx = |ids: &[u64]| ids.iter().map(|&id| (id as usize).saturating_sub(1)).collect();
    MemberView { voters: idx(&m.voters), learners: idx(&m.learners), committed: m.committed }
}
