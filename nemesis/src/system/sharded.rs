//! faultline's sharded KV (`faultline-node --role controller|group`; docs/sharded.md): one
//! flat list of nodes cut into Raft groups of `group_size` nodes each, the shard
//! controller first, then replica groups 1..=G.
//!
//! ```text
//!  nodes:  n1 .. nS | nS+1 .. n2S | n2S+1 .. n3S | ...      (S = group_size)
//!  role:   controller | group 1    | group 2      | ...
//!  each node: --id = its place in its group, --peer/--peer-client = the rest of its group,
//!             groups: --controller = every controller node's client address
//! ```
//!
//! Status, clock and probes are the single-group node's (the same admin API on every role).

use std::ffi::OsString;
use std::path::PathBuf;

use faultline_api::shard::NodeRole;
use faultline_api::UnsafeBug;

use super::faultline::Faultline;
use super::{BoxFuture, NodeInfo, Probe, Routing, System};
use crate::FaultOutcome;

/// Starts a controller group and replica groups of `faultline-node` processes.
#[derive(Debug, Clone)]
pub struct Sharded {
    /// The `faultline-node` binary.
    pub binary: PathBuf,
    /// `--unsafe-bug`, for the replica groups' nodes only (the controller plants none).
    pub unsafe_bug: Option<UnsafeBug>,
    /// Extra arguments for every node.
    pub extra_args: Vec<String>,
    /// Nodes per Raft group (the controller's and each replica group's).
    pub group_size: usize,
    /// `--seed`.
    pub seed: u64,
}

/// The Raft groups of `n` nodes cut into groups of `size`: index 0 is the controller,
/// index g is replica group g.
pub fn raft_groups(n: usize, size: usize) -> Vec<Vec<usize>> {
    let size = size.max(1);
    (0..n).step_by(size).map(|start| (start..(start + size).min(n)).collect()).collect()
}

impl Sharded {
    fn node_system(&self) -> Faultline {
        Faultline {
            binary: self.binary.clone(),
            unsafe_bug: None,
            read_mode: None,
            extra_args: Vec::new(),
            seed: self.seed,
        }
    }
}

impl System for Sharded {
    fn name(&self) -> &'static str {
        "sharded"
    }

    fn routing(&self) -> Routing {
        Routing::PerLink
    }

    fn netns_ports(&self) -> (u16, u16) {
        (8000, 7000)
    }

    fn raft_groups(&self, n: usize) -> Vec<Vec<usize>> {
        raft_groups(n, self.group_size)
    }

    fn command(&self, node: &NodeInfo, all: &[NodeInfo], _tag: &str) -> Vec<OsString> {
        let size = self.group_size.max(1);
        let me = node.id - 1;
        let group = me / size;
        let members: Vec<usize> = raft_groups(all.len(), size).swap_remove(group);
        // The node as its group sees it: ids from 1 within the group, links to the group only.
        let local = |i: usize| i - group * size + 1;
        let mut view = node.clone();
        view.id = local(me);
        view.peers = members
            .iter()
            .filter(|&&j| j != me)
            .filter_map(|&j| node.peers.get(&(j + 1)).map(|a| (local(j), *a)))
            .collect();
        let peers: Vec<NodeInfo> = members
            .iter()
            .map(|&j| {
                let mut p = all[j].clone();
                p.id = local(j);
                p
            })
            .collect();
        let mut v = self.node_system().command(&view, &peers, _tag);
        let mut arg = |s: String| v.push(s.into());
        arg("--role".into());
        if group == 0 {
            arg(NodeRole::Controller.to_string());
        } else {
            arg(NodeRole::Group.to_string());
            arg("--gid".into());
            arg(group.to_string());
            for (k, c) in all.iter().take(size).enumerate() {
                arg("--controller".into());
                arg(format!("{}={}", k + 1, c.client_addr));
            }
            if let Some(b) = &self.unsafe_bug {
                arg("--unsafe-bug".into());
                arg(b.to_string());
            }
        }
        for a in &self.extra_args {
            arg(a.clone());
        }
        v
    }

    fn probe<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
    ) -> BoxFuture<'a, Option<Probe>> {
        Box::pin(async move { self.node_system().probe(http, node).await })
    }

    fn set_clock<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeInfo,
        offset_ms: i64,
        rate: f64,
    ) -> BoxFuture<'a, FaultOutcome> {
        Box::pin(async move { self.node_system().set_clock(http, node, offset_ms, rate).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    fn node(i: usize, n: usize) -> NodeInfo {
        let addr = |p: usize| SocketAddr::from((Ipv4Addr::LOCALHOST, p as u16));
        NodeInfo {
            id: i + 1,
            name: faultline_api::node_name(i),
            ip: Ipv4Addr::LOCALHOST,
            client_addr: addr(8000 + i),
            peer_listen: addr(7000 + i),
            peer_advertise: addr(7000 + i),
            // The proxy node i dials for node j.
            peers: (0..n).filter(|&j| j != i).map(|j| (j + 1, addr(9000 + 100 * i + j))).collect(),
            netns: None,
            data_dir: PathBuf::from(format!("/d/{i}")),
            log_file: PathBuf::from(format!("/l/{i}")),
        }
    }

    #[test]
    fn each_node_sees_only_its_group() {
        assert_eq!(raft_groups(9, 3), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8]]);
        let all: Vec<NodeInfo> = (0..9).map(|i| node(i, 9)).collect();
        let s = Sharded {
            binary: "/bin/node".into(),
            unsafe_bug: Some(UnsafeBug::ConfigSkip),
            extra_args: vec!["--tick-ms=5".into()],
            group_size: 3,
            seed: 7,
        };
        let argv = |i: usize| -> String {
            let v = s.command(&all[i], &all, "t");
            v.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
        };
        let ctrl = argv(1);
        assert!(ctrl.contains("--id 2 ") && ctrl.contains("--role controller"), "{ctrl}");
        assert!(ctrl.contains("--peer 1=127.0.0.1:9100 --peer 3=127.0.0.1:9102"), "{ctrl}");
        assert!(!ctrl.contains("unsafe-bug") && ctrl.ends_with("--tick-ms=5"), "{ctrl}");
        let g2 = argv(8);
        assert!(g2.contains("--id 3 ") && g2.contains("--role group --gid 2"), "{g2}");
        assert!(g2.contains("--peer 1=127.0.0.1:9806 --peer 2=127.0.0.1:9807"), "{g2}");
        assert!(g2.contains("--peer-client 1=127.0.0.1:8006"), "{g2}");
        assert!(g2.contains("--controller 1=127.0.0.1:8000 --controller 2=127.0.0.1:8001"), "{g2}");
        assert!(g2.contains("--unsafe-bug config-skip"), "{g2}");
    }
}
