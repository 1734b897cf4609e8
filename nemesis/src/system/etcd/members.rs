//! etcd's member API through its HTTP/JSON gateway, for the `membership` fault.
//!
//! ```text
//! members:        POST /v3/cluster/member/list            ─▶ MemberView (by peer URL)
//! change Add:     POST /v3/cluster/member/add  {peerURLs, isLearner: true}
//! change Promote: POST /v3/cluster/member/list ─▶ ID ─▶ POST /v3/cluster/member/promote {ID}
//! change Remove:  POST /v3/cluster/member/list ─▶ ID ─▶ POST /v3/cluster/member/remove  {ID}
//! ```
//!
//! Members are matched to nodes by their advertised peer URL: a member added but not yet
//! started has no name. etcd applies a membership change before it answers, and its member
//! list is the configuration it applied, so every view is `committed`. A refusal is sorted
//! by etcd's message ([`classify`]): the ones that say "not now" (a learner not in sync,
//! strict reconfiguration's health checks, no leader) are retried; the ones that say "never"
//! (no such member, not a learner, the URL taken) are not; anything else — a timeout, a
//! leader change — may have been applied.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::super::{ChangeAnswer, MemberChange, MemberView, NodeInfo};

/// How long one member API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// One member, as the gateway shows it (64-bit ids are JSON strings).
#[derive(Debug, Deserialize)]
struct Member {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default, rename = "peerURLs")]
    peer_urls: Vec<String>,
    #[serde(default, rename = "isLearner")]
    is_learner: bool,
}

/// The answer of list, add, remove and promote.
#[derive(Debug, Deserialize)]
struct MemberList {
    #[serde(default)]
    members: Vec<Member>,
}

/// An error answer of the gateway.
#[derive(Debug, Deserialize)]
struct GatewayError {
    error: String,
}

/// The peer URL a node is known by among the members.
pub(super) fn peer_url(node: &NodeInfo) -> String {
    format!("http://{}", node.peer_advertise)
}

/// The view `list` gives of `all`'s nodes; members that are none of them are left out.
fn view(list: &MemberList, all: &[NodeInfo]) -> MemberView {
    let index = |m: &Member| all.iter().position(|n| m.peer_urls.contains(&peer_url(n)));
    let mut v = MemberView { voters: vec![], learners: vec![], committed: true };
    for m in &list.members {
        if let Some(i) = index(m) {
            if m.is_learner {
                v.learners.push(i)
            } else {
                v.voters.push(i)
            }
        }
    }
    v.voters.sort_unstable();
    v.learners.sort_unstable();
    v
}

/// What an error answer of etcd means for the change (see the module doc).
fn classify(message: &str) -> ChangeAnswer {
    const RETRY: [&str; 5] = [
        "in sync with leader",
        "too many learner members",
        "unhealthy cluster",
        "not enough started members",
        "no leader",
    ];
    const REFUSED: [&str; 4] =
        ["member not found", "can only promote a learner member", "already exists", "ID removed"];
    let m = faultline_api::cut(message, 200);
    if RETRY.iter().any(|s| message.contains(s)) {
        ChangeAnswer::Retry(m)
    } else if REFUSED.iter().any(|s| message.contains(s)) {
        ChangeAnswer::Refused(m)
    } else {
        ChangeAnswer::Unknown(m)
    }
}

/// POSTs `body` to `path` on `node`: the parsed answer, or what the failure means.
async fn post(
    http: &reqwest::Client,
    node: &NodeInfo,
    path: &str,
    body: Value,
) -> Result<MemberList, ChangeAnswer> {
    let url = format!("http://{}/v3/cluster/member/{path}", node.client_addr);
    let resp = match http.post(url).json(&body).timeout(REQUEST_TIMEOUT).send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => {
            return Err(ChangeAnswer::Retry(format!("{}: not reachable", node.name)))
        }
        Err(e) => return Err(ChangeAnswer::Unknown(format!("{}: {e}", node.name))),
    };
    let ok = resp.status().is_success();
    let Ok(text) = resp.text().await else {
        return Err(ChangeAnswer::Unknown(format!("{}: answer lost", node.name)));
    };
    if ok {
        return serde_json::from_str(&text)
            .map_err(|e| ChangeAnswer::Unknown(format!("{}: bad answer: {e}", node.name)));
    }
    Err(match serde_json::from_str::<GatewayError>(&text) {
        Ok(e) => classify(&e.error),
        Err(_) => ChangeAnswer::Unknown(format!(
            "{}: unexpected answer: {}",
            node.name,
            faultline_api::cut(&text, 200)
        )),
    })
}

/// The membership `node` has applied.
pub(super) async fn list(
    http: &reqwest::Client,
    node: &NodeInfo,
    all: &[NodeInfo],
) -> Option<MemberView> {
    post(http, node, "list", json!({})).await.ok().map(|l| view(&l, all))
}

/// Asks `leader` for `change` of `target`.
pub(super) async fn change(
    http: &reqwest::Client,
    leader: &NodeInfo,
    change: MemberChange,
    target: &NodeInfo,
    all: &[NodeInfo],
) -> ChangeAnswer {
    let url = peer_url(target);
    let request = match change {
        MemberChange::Add => {
            post(http, leader, "add", json!({"peerURLs": [url], "isLearner": true}))
        }
        MemberChange::Promote | MemberChange::Remove => {
            let members = match post(http, leader, "list", json!({})).await {
                Ok(l) => l,
                Err(ChangeAnswer::Unknown(why)) => return ChangeAnswer::Retry(why),
                Err(other) => return other,
            };
            let Some(m) = members.members.iter().find(|m| m.peer_urls.contains(&url)) else {
                return ChangeAnswer::Refused(format!("{} is not a member", target.name));
            };
            let path = if change == MemberChange::Promote { "promote" } else { "remove" };
            post(http, leader, path, json!({ "ID": m.id }))
        }
    };
    match request.await {
        Ok(l) => ChangeAnswer::Accepted(view(&l, all)),
        Err(answer) => answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(i: usize) -> NodeInfo {
        let addr = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
        NodeInfo {
            id: i + 1,
            name: faultline_api::node_name(i),
            ip: std::net::Ipv4Addr::LOCALHOST,
            client_addr: addr(2000 + i as u16),
            peer_listen: addr(3000 + i as u16),
            peer_advertise: addr(4000 + i as u16),
            peers: Default::default(),
            netns: None,
            data_dir: Default::default(),
            log_file: Default::default(),
        }
    }

    #[test]
    fn members_are_matched_by_peer_url_learners_apart() {
        let all: Vec<_> = (0..4).map(node).collect();
        // As etcd 3.4's gateway answers: n3 added but not started (no name), a stranger.
        let body = r#"{"header":{"member_id":"1"},"members":[
            {"ID":"11","name":"n2","peerURLs":["http://127.0.0.1:4001"]},
            {"ID":"12","peerURLs":["http://127.0.0.1:4002"],"isLearner":true},
            {"ID":"10","name":"n1","peerURLs":["http://127.0.0.1:4000"]},
            {"ID":"13","name":"x","peerURLs":["http://10.0.0.9:2380"]}]}"#;
        let v = view(&serde_json::from_str(body).unwrap(), &all);
        assert_eq!(v, MemberView { voters: vec![0, 1], learners: vec![2], committed: true });
    }

    #[test]
    fn refusals_are_sorted_by_what_a_retry_can_do() {
        let retry = |m: &str| matches!(classify(m), ChangeAnswer::Retry(_));
        let refused = |m: &str| matches!(classify(m), ChangeAnswer::Refused(_));
        assert!(retry(
            "etcdserver: can only promote a learner member which is in sync with leader"
        ));
        assert!(retry("etcdserver: unhealthy cluster"));
        assert!(retry("etcdserver: re-configuration failed due to not enough started members"));
        assert!(retry("etcdserver: too many learner members in cluster"));
        assert!(refused("etcdserver: can only promote a learner member"));
        assert!(refused("etcdserver: member not found"));
        assert!(refused("etcdserver: Peer URLs already exists"));
        assert_eq!(
            classify("etcdserver: request timed out"),
            ChangeAnswer::Unknown("etcdserver: request timed out".into())
        );
    }
}
