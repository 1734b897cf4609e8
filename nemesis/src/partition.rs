//! Partition shapes and the grudges they imply, computed as graphs (pure, no I/O).
//!
//! ```text
//! Shape + node order (seeded) ──> connectivity graph (petgraph, edge = may talk)
//!                             ──> Grudge (directed pairs (from, to) whose messages are dropped)
//! ```
//!
//! A grudge is the complement of the connectivity graph: every ordered pair of distinct
//! nodes without an edge is cut. All shapes here are symmetric; `Grudge` itself is directed
//! so that a backend can apply one-way cuts (iptables drops by source at the receiver).
//! Nodes are 0-based indices here; they are named `n1`.. in events.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{NodeIndex, UnGraph};
use serde_json::json;

faultline_api::names! {
    /// The partition topologies the nemesis knows (Jepsen's `partition-*` nemeses).
    pub enum Shape ("partition shape") {
        /// Two halves of a random node order (sizes ⌊n/2⌋ and ⌈n/2⌉).
        RandomHalves = "random-halves",
        /// A random minority (1..=⌊(n-1)/2⌋ nodes) against the majority.
        MajorityMinority = "majority-minority",
        /// One random node alone.
        IsolateOne = "isolate-one",
        /// The current leader alone (resolved when installed).
        IsolateLeader = "isolate-leader",
        /// Two halves joined by one node that sees both sides (non-transitive).
        Bridge = "bridge",
        /// Nodes on a ring; each sees exactly its two neighbours (non-transitive; n >= 4).
        Ring = "ring",
    }
}

impl Shape {
    /// Whether the shape cuts anything on `n` nodes.
    pub fn fits(self, n: usize) -> bool {
        match self {
            Shape::Ring => n >= 4,
            Shape::Bridge => n >= 3,
            _ => n >= 2,
        }
    }
}

/// Who cannot hear from whom: a set of directed links `(from, to)` that are cut.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grudge {
    /// Number of nodes.
    pub n: usize,
    /// Cut links: messages sent by `.0` do not reach `.1`.
    pub cut: BTreeSet<(usize, usize)>,
    /// The groups, when the shape is a set of disjoint groups (not for bridge and ring).
    pub groups: Option<Vec<Vec<usize>>>,
}

impl Grudge {
    /// No cut at all.
    pub fn none(n: usize) -> Self {
        Grudge { n, cut: BTreeSet::new(), groups: None }
    }

    /// Cuts every pair of nodes without an edge in the connectivity graph `g` (node weights
    /// are node indices).
    pub fn from_connectivity(g: &UnGraph<usize, ()>) -> Self {
        let n = g.node_count();
        let mut cut = BTreeSet::new();
        for a in g.node_indices() {
            for b in g.node_indices() {
                if a != b && g.find_edge(a, b).is_none() {
                    cut.insert((g[a], g[b]));
                }
            }
        }
        Grudge { n, cut, groups: None }
    }

    /// Disjoint groups: nodes talk only within their group.
    pub fn groups(n: usize, groups: &[Vec<usize>]) -> Self {
        let mut g = graph(n);
        for grp in groups {
            for (k, &a) in grp.iter().enumerate() {
                for &b in &grp[k + 1..] {
                    g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
                }
            }
        }
        let mut grudge = Grudge::from_connectivity(&g);
        let mut sorted: Vec<Vec<usize>> = groups
            .iter()
            .map(|grp| {
                let mut v = grp.clone();
                v.sort_unstable();
                v
            })
            .collect();
        sorted.sort();
        grudge.groups = Some(sorted);
        grudge
    }

    /// `node` alone, the rest together.
    pub fn isolate(n: usize, node: usize) -> Self {
        let rest: Vec<usize> = (0..n).filter(|&i| i != node).collect();
        Grudge::groups(n, &[vec![node], rest])
    }

    /// Splits `order` after its first `k` nodes.
    pub fn split(n: usize, order: &[usize], k: usize) -> Self {
        Grudge::groups(n, &[order[..k].to_vec(), order[k..].to_vec()])
    }

    /// Bridge: `order[..m]` and `order[m+1..]` with `m = n/2`, joined by `order[m]`, which
    /// sees everyone.
    pub fn bridge(n: usize, order: &[usize]) -> Self {
        let m = n / 2;
        let (left, right) = (&order[..m], &order[m + 1..]);
        let mut g = graph(n);
        for side in [left, right] {
            for (k, &a) in side.iter().enumerate() {
                for &b in &side[k + 1..] {
                    g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
                }
            }
        }
        for &other in left.iter().chain(right) {
            g.add_edge(NodeIndex::new(order[m]), NodeIndex::new(other), ());
        }
        Grudge::from_connectivity(&g)
    }

    /// Ring: each node talks only to its neighbours in `order` (cyclically).
    pub fn ring(n: usize, order: &[usize]) -> Self {
        let mut g = graph(n);
        for k in 0..n {
            let (a, b) = (order[k], order[(k + 1) % n]);
            if a != b && g.find_edge(NodeIndex::new(a), NodeIndex::new(b)).is_none() {
                g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
            }
        }
        Grudge::from_connectivity(&g)
    }

    /// Whether messages from `from` reach `to`.
    pub fn allows(&self, from: usize, to: usize) -> bool {
        !self.cut.contains(&(from, to))
    }

    /// For each node, the nodes it does not hear from (Jepsen's grudge map).
    pub fn deaf_to(&self) -> BTreeMap<usize, BTreeSet<usize>> {
        let mut m: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for &(from, to) in &self.cut {
            m.entry(to).or_default().insert(from);
        }
        m
    }

    /// Event details: `{"grudge":{"n1":["n3"],..}}` plus `"groups"` where the shape has them.
    pub fn to_json(&self) -> serde_json::Value {
        let name = |i: &usize| faultline_api::node_name(*i);
        let grudge: serde_json::Map<String, serde_json::Value> = self
            .deaf_to()
            .iter()
            .map(|(to, froms)| (name(to), json!(froms.iter().map(name).collect::<Vec<_>>())))
            .collect();
        let mut v = json!({ "grudge": grudge });
        if let Some(groups) = &self.groups {
            let g: Vec<Vec<String>> =
                groups.iter().map(|grp| grp.iter().map(name).collect()).collect();
            v["groups"] = json!(g);
        }
        v
    }
}

fn graph(n: usize) -> UnGraph<usize, ()> {
    let mut g = UnGraph::with_capacity(n, n * n);
    for i in 0..n {
        g.add_node(i);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn neighbours(g: &Grudge, node: usize) -> BTreeSet<usize> {
        (0..g.n).filter(|&o| o != node && g.allows(o, node) && g.allows(node, o)).collect()
    }

    #[test]
    fn halves_cut_exactly_across() {
        let g = Grudge::split(5, &[4, 1, 0, 2, 3], 2);
        assert_eq!(g.groups, Some(vec![vec![0, 2, 3], vec![1, 4]]));
        for a in 0..5 {
            for b in 0..5 {
                let same = [1, 4].contains(&a) == [1, 4].contains(&b);
                assert_eq!(g.allows(a, b), same || a == b, "{a}->{b}");
            }
        }
        assert_eq!(g.cut.len(), 2 * 2 * 3);
    }

    #[test]
    fn isolate_cuts_one_node_both_ways() {
        let g = Grudge::isolate(3, 1);
        let cut: Vec<(usize, usize)> = g.cut.iter().copied().collect();
        assert_eq!(cut, vec![(0, 1), (1, 0), (1, 2), (2, 1)]);
        assert_eq!(
            g.to_json(),
            json!({"grudge":{"n1":["n2"],"n2":["n1","n3"],"n3":["n2"]},
            "groups":[["n1","n3"],["n2"]]})
        );
    }

    #[test]
    fn bridge_node_sees_both_sides() {
        // order: left [3,0], bridge 4, right [1,2]
        let g = Grudge::bridge(5, &[3, 0, 4, 1, 2]);
        assert_eq!(neighbours(&g, 4), BTreeSet::from([0, 1, 2, 3]));
        assert_eq!(neighbours(&g, 3), BTreeSet::from([0, 4]));
        assert_eq!(neighbours(&g, 1), BTreeSet::from([2, 4]));
        assert!(g.groups.is_none());
        // non-transitive: 0 talks to 4, 4 talks to 1, but 0 does not talk to 1
        assert!(g.allows(0, 4) && g.allows(4, 1) && !g.allows(0, 1));
    }

    #[test]
    fn ring_nodes_see_exactly_their_neighbours() {
        let order = [2, 0, 4, 1, 3];
        let g = Grudge::ring(5, &order);
        for k in 0..5 {
            let me = order[k];
            let expect = BTreeSet::from([order[(k + 4) % 5], order[(k + 1) % 5]]);
            assert_eq!(neighbours(&g, me), expect, "node {me}");
        }
        // each node is cut from n-3 = 2 others, both ways
        assert_eq!(g.cut.len(), 5 * 2);
    }

    #[test]
    fn grudges_are_symmetric_and_irreflexive() {
        let order = [0, 1, 2, 3, 4];
        for g in [
            Grudge::split(5, &order, 2),
            Grudge::isolate(5, 3),
            Grudge::bridge(5, &order),
            Grudge::ring(5, &order),
        ] {
            for &(a, b) in &g.cut {
                assert_ne!(a, b);
                assert!(g.cut.contains(&(b, a)));
            }
        }
    }

    #[test]
    fn shape_fits() {
        assert!(!Shape::Ring.fits(3));
        assert!(Shape::Ring.fits(4));
        assert!(!Shape::IsolateOne.fits(1));
    }
}
