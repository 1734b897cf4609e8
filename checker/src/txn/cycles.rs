//! Cycle search: strongly connected components (petgraph's Tarjan), then, inside each
//! component of more than one transaction, the shortest cycle of each anomaly class.
//!
//! ```text
//!  Graph ──Tarjan──▶ SCCs (> 1 node) ──for each search × variant──▶ anchor edges
//!                                        │  breadth-first from the anchor's target back
//!                                        │  to its source, over (node, flags) states
//!                                        ▼
//!                    cycle ──classify by its own edges──▶ shortest kept per anomaly
//! ```
//!
//! A search fixes the anchor's kind (ww for G0, wr for G1c, rw for the rest), which kinds
//! the rest of the cycle may use, and the flags it must end with (another rw edge; no two
//! rw edges adjacent; a process or real-time edge for the variants). The cycle found is then
//! named by its own edges, so a name never claims more than the cycle shows. Each search
//! has a budget of visited states per component; a component where no search found a cycle
//! within budget still gets one: the shortest cycle through one of its nodes, any kinds.

use petgraph::algo::TarjanScc;

use crate::txn::graph::{Dep, EdgeKind, Graph};
use crate::txn::names::{Anomaly, Shape, Variant};

/// States visited per search and component before the search gives up.
pub const SEARCH_BUDGET: u64 = 4_000_000;

/// A cycle: its edges in order, the last returning to the first edge's source.
pub type CycleEdges = Vec<(u32, u32, Dep)>;

/// The anomaly a cycle's edges show.
pub fn classify(cycle: &[(u32, u32, Dep)]) -> Anomaly {
    let kind = |i: usize| cycle[i % cycle.len()].2.kind;
    let rw = cycle.iter().filter(|e| e.2.kind == EdgeKind::Rw).count();
    let adjacent = (0..cycle.len()).any(|i| kind(i) == EdgeKind::Rw && kind(i + 1) == EdgeKind::Rw);
    let shape = match rw {
        0 if cycle.iter().any(|e| e.2.kind == EdgeKind::Wr) => Shape::G1c,
        0 => Shape::G0,
        1 => Shape::GSingle,
        _ if adjacent => Shape::G2Item,
        _ => Shape::GNonadjacent,
    };
    let variant = if cycle.iter().any(|e| e.2.kind == EdgeKind::Realtime) {
        Variant::Realtime
    } else if cycle.iter().any(|e| e.2.kind == EdgeKind::Process) {
        Variant::Process
    } else {
        Variant::Plain
    };
    Anomaly::cycle(shape, variant)
}

/// One search: the anchor's kind, the kinds the rest may use, and its conditions.
#[derive(Debug, Clone, Copy)]
struct Search {
    anchor: EdgeKind,
    mask: u8,
    /// The rest must hold another rw edge.
    more_rw: bool,
    /// No two rw edges adjacent (the anchor included, cyclically).
    nonadjacent: bool,
    /// An order edge of this kind is required (the variants).
    order: Option<EdgeKind>,
}

const LAST_RW: u8 = 1;
const HAS_RW: u8 = 2;
const HAS_ORDER: u8 = 4;
const STATES: usize = 8;

fn searches() -> Vec<Search> {
    use EdgeKind::*;
    let plain = [
        Search { anchor: Ww, mask: Ww.bit(), more_rw: false, nonadjacent: false, order: None },
        Search {
            anchor: Wr,
            mask: Ww.bit() | Wr.bit(),
            more_rw: false,
            nonadjacent: false,
            order: None,
        },
        Search {
            anchor: Rw,
            mask: Ww.bit() | Wr.bit(),
            more_rw: false,
            nonadjacent: false,
            order: None,
        },
        Search {
            anchor: Rw,
            mask: Ww.bit() | Wr.bit() | Rw.bit(),
            more_rw: true,
            nonadjacent: true,
            order: None,
        },
        Search {
            anchor: Rw,
            mask: Ww.bit() | Wr.bit() | Rw.bit(),
            more_rw: true,
            nonadjacent: false,
            order: None,
        },
    ];
    let mut out = plain.to_vec();
    for (order, extra) in [(Process, Process.bit()), (Realtime, Process.bit() | Realtime.bit())] {
        out.extend(plain.iter().map(|s| Search { mask: s.mask | extra, order: Some(order), ..*s }));
    }
    out
}

/// The cycles found: the shortest of each anomaly type, and the number of components of
/// more than one transaction.
pub fn find(graph: &Graph) -> (Vec<(Anomaly, CycleEdges)>, usize) {
    // petgraph's Tarjan recurses once per node of the deepest path (real-time chains make
    // that most of the history), so it runs on a thread whose stack fits that depth.
    let n = graph.csr.node_count();
    let stack = (8 << 20) + n.saturating_mul(STACK_PER_NODE);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("txn-scc".into())
            .stack_size(stack)
            .spawn_scoped(s, || find_here(graph))
            .map(|h| h.join())
    })
    .map_or_else(|_| find_here(graph), |r| r.unwrap_or_else(|p| std::panic::resume_unwind(p)))
}

/// Stack bytes for each level of Tarjan's recursion (a frame is about 100 bytes).
const STACK_PER_NODE: usize = 256;

fn find_here(graph: &Graph) -> (Vec<(Anomaly, CycleEdges)>, usize) {
    let n = graph.csr.node_count();
    let mut local = vec![u32::MAX; n];
    let mut best: Vec<(Anomaly, CycleEdges)> = Vec::new();
    let mut sccs = 0;
    let mut tarjan = TarjanScc::new();
    tarjan.run(&graph.csr, |scc: &[u32]| {
        if scc.len() < 2 {
            return;
        }
        sccs += 1;
        for (i, &v) in scc.iter().enumerate() {
            local[v as usize] = i as u32;
        }
        let mut bfs = Bfs::new(scc.len());
        let mut any = false;
        for s in searches() {
            if let Some(c) = bfs.search(graph, scc, &local, &s) {
                any = true;
                keep(&mut best, c);
            }
        }
        if !any {
            let all = Search {
                anchor: EdgeKind::Ww,
                mask: 0x1f,
                more_rw: false,
                nonadjacent: false,
                order: None,
            };
            if let Some(c) = bfs.any_cycle(graph, scc, &local, &all) {
                keep(&mut best, c);
            }
        }
        for &v in scc {
            local[v as usize] = u32::MAX;
        }
    });
    best.sort_by_key(|(a, _)| *a);
    (best, sccs)
}

fn keep(best: &mut Vec<(Anomaly, CycleEdges)>, cycle: CycleEdges) {
    let a = classify(&cycle);
    match best.iter_mut().find(|(b, _)| *b == a) {
        Some((_, c)) if c.len() <= cycle.len() => {}
        Some((_, c)) => *c = cycle,
        None => best.push((a, cycle)),
    }
}

/// Breadth-first search over (node, flags) states of one component.
struct Bfs {
    /// The search generation that last reached each state.
    seen: Vec<u32>,
    /// How each state was reached: the previous state, the edge, and its distance in
    /// edges from the anchor's source.
    parent: Vec<(u32, Dep, u32)>,
    queue: std::collections::VecDeque<u32>,
    generation: u32,
}

impl Bfs {
    fn new(m: usize) -> Self {
        let none = Dep { kind: EdgeKind::Ww, key: 0, value: 0 };
        Bfs {
            seen: vec![0; m * STATES],
            parent: vec![(0, none, 0); m * STATES],
            queue: Default::default(),
            generation: 0,
        }
    }

    /// The shortest cycle of search `s` in the component, within [`SEARCH_BUDGET`].
    fn search(&mut self, g: &Graph, scc: &[u32], local: &[u32], s: &Search) -> Option<CycleEdges> {
        let mut best: Option<CycleEdges> = None;
        let mut budget = SEARCH_BUDGET;
        for &a in scc {
            for (b, d) in g.out(a) {
                if d.kind != s.anchor || local[b as usize] == u32::MAX {
                    continue;
                }
                let limit = best.as_ref().map_or(usize::MAX, |c| c.len());
                if let Some(c) =
                    self.through_anchor(g, scc, local, s, (a, b, d), limit, &mut budget)
                {
                    best = Some(c);
                    if best.as_ref().is_some_and(|c| c.len() <= 2) {
                        return best;
                    }
                }
                if budget == 0 {
                    return best;
                }
            }
        }
        best
    }

    /// A cycle through the first node of the component, any kinds.
    fn any_cycle(
        &mut self,
        g: &Graph,
        scc: &[u32],
        local: &[u32],
        s: &Search,
    ) -> Option<CycleEdges> {
        let a = scc[0];
        let mut budget = u64::MAX;
        let (b, d) = g.out(a).find(|(b, _)| local[*b as usize] != u32::MAX)?;
        let s = Search { anchor: d.kind, ..*s };
        self.through_anchor(g, scc, local, &s, (a, b, d), usize::MAX, &mut budget)
    }

    /// The shortest path from the anchor's target back to its source meeting `s`, as a
    /// cycle, if it has fewer than `limit` edges.
    #[allow(clippy::too_many_arguments)]
    fn through_anchor(
        &mut self,
        g: &Graph,
        scc: &[u32],
        local: &[u32],
        s: &Search,
        anchor: (u32, u32, Dep),
        limit: usize,
        budget: &mut u64,
    ) -> Option<CycleEdges> {
        let (a, b, d) = anchor;
        self.generation += 1;
        let gen = self.generation;
        self.queue.clear();
        let start_flags = if d.kind == EdgeKind::Rw { LAST_RW } else { 0 };
        let start = local[b as usize] * STATES as u32 + u32::from(start_flags);
        self.seen[start as usize] = gen;
        self.parent[start as usize] = (u32::MAX, d, 1);
        self.queue.push_back(start);
        while let Some(st) = self.queue.pop_front() {
            let dist = self.parent[st as usize].2 as usize;
            if dist + 1 >= limit {
                return None;
            }
            *budget = budget.saturating_sub(1);
            if *budget == 0 {
                return None;
            }
            let flags = (st % STATES as u32) as u8;
            let node = scc[(st / STATES as u32) as usize];
            for (t, e) in g.out(node) {
                let tl = local[t as usize];
                if tl == u32::MAX || s.mask & e.kind.bit() == 0 {
                    continue;
                }
                let is_rw = e.kind == EdgeKind::Rw;
                if is_rw && s.nonadjacent && flags & LAST_RW != 0 {
                    continue;
                }
                let mut f = flags & !LAST_RW;
                if is_rw {
                    f |= LAST_RW | HAS_RW;
                }
                if s.order == Some(e.kind) {
                    f |= HAS_ORDER;
                }
                if t == a {
                    let done = (!s.more_rw || f & HAS_RW != 0)
                        && (!s.nonadjacent || f & LAST_RW == 0)
                        && (s.order.is_none() || f & HAS_ORDER != 0);
                    if done {
                        return Some(self.path(scc, st, (node, t, e), anchor));
                    }
                    continue;
                }
                let next = tl * STATES as u32 + u32::from(f);
                if self.seen[next as usize] != gen {
                    self.seen[next as usize] = gen;
                    self.parent[next as usize] = (st, e, dist as u32 + 1);
                    self.queue.push_back(next);
                }
            }
        }
        None
    }

    /// The cycle: the anchor, the path back from state `st`, and the closing edge.
    fn path(
        &self,
        scc: &[u32],
        mut st: u32,
        last: (u32, u32, Dep),
        anchor: (u32, u32, Dep),
    ) -> CycleEdges {
        let node = |st: u32| scc[(st / STATES as u32) as usize];
        let mut rev = vec![last];
        loop {
            let (prev, e, _) = self.parent[st as usize];
            if prev == u32::MAX {
                break;
            }
            rev.push((node(prev), node(st), e));
            st = prev;
        }
        let mut out = vec![anchor];
        out.extend(rev.into_iter().rev());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::graph::{Edges, NONE};

    #[test]
    fn finds_a_two_cycle() {
        let mut e = Edges::default();
        e.add(0, 1, EdgeKind::Ww, 0, 0);
        e.add(1, 0, EdgeKind::Ww, 0, 1);
        e.add(1, 2, EdgeKind::Wr, 0, 1);
        e.add(1, 0, EdgeKind::Realtime, NONE, NONE);
        let g = e.build(3);
        let out: Vec<_> = (0..3).map(|n| g.out(n).collect::<Vec<_>>()).collect();
        let (c, n) = find(&g);
        assert_eq!(n, 1, "{out:?}");
        let names: Vec<Anomaly> = c.iter().map(|x| x.0).collect();
        assert_eq!(names, vec![Anomaly::G0, Anomaly::G0Realtime]);
        assert_eq!(c[1].1.len(), 2);
    }
}
