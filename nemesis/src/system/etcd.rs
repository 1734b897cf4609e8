//! etcd 3.4 (Debian's `etcd-server`): a static cluster, status through the HTTP/JSON
//! gateway (`POST /v3/maintenance/status`), membership changes through its member API
//! (`members`); a re-added member starts with the members of the day and
//! `--initial-cluster-state existing`.
//!
//! Clock faults cannot reach etcd: it is a Go program, and Go reads the clock through the
//! vDSO (`clock_gettime` without a libc call), which `LD_PRELOAD` tricks such as libfaketime
//! do not intercept. Clock actions on etcd are therefore `Skipped` with that reason.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{BoxFuture, ChangeAnswer, MemberChange, MemberView, NodeInfo, Probe, Routing, System};
use crate::FaultOutcome;

mod members;

/// Why etcd clock faults are skipped.
pub const CLOCK_SKIP_REASON: &str = faultline_api::fault::ETCD_CLOCK;

/// Starts `etcd` members of one static cluster.
#[derive(Debug, Clone)]
pub struct Etcd {
    /// The `etcd` binary.
    pub binary: PathBuf,
}

#[derive(Deserialize)]
struct Header {
    member_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody {
    header: Header,
    #[serde(default)]
    leader: Option<String>,
    #[serde(default)]
    raft_term: Option<String>,
}

impl Etcd {
    /// The command line that starts `node` among `members` (the initial cluster), with
    /// `--initial-cluster-state` `state` (`new`, or `existing` for a member added later).
    fn start<'a>(
        &self,
        node: &NodeInfo,
        members: impl Iterator<Item = &'a NodeInfo>,
        state: &str,
        tag: &str,
    ) -> Vec<OsString> {
        let initial: Vec<String> =
            members.map(|n| format!("{}={}", n.name, members::peer_url(n))).collect();
        let args = [
            "--name".to_string(),
            node.name.clone(),
            "--data-dir".into(),
            node.data_dir.display().to_string(),
            "--listen-peer-urls".into(),
            format!("http://{}", node.peer_listen),
            "--initial-advertise-peer-urls".into(),
            members::peer_url(node),
            "--listen-client-urls".into(),
            format!("http://{}", node.client_addr),
            "--advertise-client-urls".into(),
            format!("http://{}", node.client_addr),
            "--initial-cluster".into(),
            initial.join(","),
            "--initial-cluster-state".into(),
            state.into(),
            "--initial-cluster-token".into(),
            format!("faultline-{tag}"),
            "--logger".into(),
            "zap".into(),
            "--log-outputs".into(),
            "stderr".into(),
        ];
        std::iter::once(self.binary.clone().into_os_string())
            .chain(args.into_iter().map(OsString::from))
            .collect()
    }
}

impl System for Etcd {
    fn name(&self) -> &'static str {
        "etcd"
    }

    fn routing(&self) -> Routing {
        Routing::PerDestination
    }

    fn netns_ports(&self) -> (u16, u16) {
        (2379, 2380)
    }

    fn command(&self, node: &NodeInfo, all: &[NodeInfo], tag: &str) -> Vec<OsString> {
        self.start(node, all.iter(), "new", tag)
    }

    fn join_command(
        &self,
        node: &NodeInfo,
        all: &[NodeInfo],
        members: &[usize],
        tag: &str,
    ) -> Option<Vec<OsString>> {
        let members = members.iter().filter_map(|&i| all.get(i));
        Some(self.start(node, members, "existing", tag))
    }

    fn members<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
        all: &'a [NodeInfo],
    ) -> BoxFuture<'a, Option<MemberView>> {
        Box::pin(members::list(http, node, all))
    }

    fn change_member<'a>(
        &'a self,
        http: &'a reqwest::Client,
        leader: &'a NodeInfo,
        change: MemberChange,
        target: &'a NodeInfo,
        all: &'a [NodeInfo],
    ) -> BoxFuture<'a, ChangeAnswer> {
        Box::pin(members::change(http, leader, change, target, all))
    }

    fn probe<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, Option<Probe>> {
        Box::pin(async move {
            let url = format!("http://{}/v3/maintenance/status", node.client_addr);
            let resp =
                http.post(url).body("{}").timeout(Duration::from_secs(1)).send().await.ok()?;
            let body: StatusBody = resp.json().await.ok()?;
            let term = body.raft_term.and_then(|t| t.parse().ok()).unwrap_or(0);
            let is_leader = body.leader.as_deref() == Some(body.header.member_id.as_str());
            Some(Probe { is_leader, term, commit_index: None, last_index: None })
        })
    }

    fn set_clock<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        _node: &'a NodeInfo,
        _offset_ms: i64,
        _rate: f64,
    ) -> BoxFuture<'a, FaultOutcome> {
        Box::pin(async { FaultOutcome::Skipped(CLOCK_SKIP_REASON.into()) })
    }
}
