//! The dependency graph: one node per transaction that may have committed (`ok` or
//! `info`), and edges of five kinds, held in a compressed sparse row graph (petgraph's
//! `Csr`, sorted once, no per-node allocation).
//!
//! ```text
//!  inferred ww / wr / rw ─┐
//!  process order ─────────┼─▶ edges (from, to, Dep) ──sort, dedup──▶ Csr ──▶ SCCs, cycles
//!  real-time order ───────┘      (frontier construction, not all pairs)
//! ```
//!
//! Real-time edges follow Elle: walking invokes and completions in time order, a
//! *frontier* holds the completed transactions no completed transaction follows yet. An
//! invoke gets an edge from each member; a completion removes its own predecessors from the
//! frontier and joins it. Every pair `a` completed before `b` began is then linked by a
//! path, with about (concurrency × transactions) edges instead of all pairs.

use petgraph::csr::Csr;
use serde::Serialize;

use crate::history::History;
use crate::txn::ops::{Id, Status, Txns};

/// The kind of a dependency edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// Write-write: the source installed a version the target's write follows.
    Ww,
    /// Write-read: the target read a version the source installed.
    Wr,
    /// Read-write (anti-dependency): the source read a version before the target's.
    Rw,
    /// The same process ran the source, then the target.
    Process,
    /// The source completed before the target was invoked.
    Realtime,
}

impl EdgeKind {
    /// A bit for masks of kinds.
    pub fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Whether it is a process or real-time edge.
    pub fn is_order(self) -> bool {
        matches!(self, EdgeKind::Process | EdgeKind::Realtime)
    }
}

/// No key or value (order edges).
pub const NONE: Id = Id::MAX;

/// An edge's label: its kind and, for dependencies, the key and value that justify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dep {
    /// The kind.
    pub kind: EdgeKind,
    /// The key, or [`NONE`].
    pub key: Id,
    /// The value (the element appended, read or written), or [`NONE`].
    pub value: Id,
}

/// Edges collected before the graph is built; nodes are indexes into [`Txns::txns`].
#[derive(Debug, Default)]
pub struct Edges {
    /// `(from, to, label)`.
    pub list: Vec<(u32, u32, Dep)>,
}

impl Edges {
    /// Adds an edge unless it is a self-loop.
    pub fn add(&mut self, from: u32, to: u32, kind: EdgeKind, key: Id, value: Id) {
        if from != to {
            self.list.push((from, to, Dep { kind, key, value }));
        }
    }

    /// Adds process-order edges: each process's transactions that may have committed, in
    /// invoke order (a failed one is skipped; its predecessor still precedes the next).
    pub fn add_process(&mut self, history: &History, txns: &Txns) {
        let mut last: rustc_hash::FxHashMap<u64, u32> = Default::default();
        for (t, x) in txns.txns.iter().enumerate() {
            if x.status == Status::Fail {
                continue;
            }
            let p = history.ops[x.op as usize].process;
            if let Some(prev) = last.insert(p, t as u32) {
                self.add(prev, t as u32, EdgeKind::Process, NONE, NONE);
            }
        }
    }

    /// Adds real-time edges through a frontier (module docs). `a` precedes `b` when `a` is
    /// `ok` and its completion time is strictly before `b`'s invoke time.
    pub fn add_realtime(&mut self, history: &History, txns: &Txns) {
        // (time, 0 = invoke / 1 = completion, txn): invokes first at equal times, so equal
        // times are concurrent.
        let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * txns.txns.len());
        for (t, x) in txns.txns.iter().enumerate() {
            let op = &history.ops[x.op as usize];
            match x.status {
                Status::Fail => continue,
                Status::Ok => {
                    events.push((op.call, 0, t as u32));
                    events.push((op.ret.unwrap_or(u64::MAX), 1, t as u32));
                }
                Status::Info => events.push((op.call, 0, t as u32)),
            }
        }
        events.sort_unstable();
        let mut frontier: Vec<u32> = Vec::new();
        // preds[t] = the frontier when t was invoked: (start, len) into `store`.
        let mut preds: Vec<(u32, u32)> = vec![(0, 0); txns.txns.len()];
        let mut store: Vec<u32> = Vec::new();
        for (_, kind, t) in events {
            if kind == 0 {
                preds[t as usize] = (store.len() as u32, frontier.len() as u32);
                store.extend_from_slice(&frontier);
                for &f in &frontier {
                    self.add(f, t, EdgeKind::Realtime, NONE, NONE);
                }
            } else {
                let (s, n) = preds[t as usize];
                let before = &store[s as usize..(s + n) as usize];
                frontier.retain(|f| !before.contains(f));
                frontier.push(t);
            }
        }
    }

    /// Sorts, drops repeated (from, to, kind) edges, and builds the graph.
    pub fn build(mut self, nodes: usize) -> Graph {
        // Counting sort by source (linear, cache-friendly), then each source's few edges.
        let mut start = vec![0u32; nodes + 1];
        for (a, _, _) in &self.list {
            start[*a as usize + 1] += 1;
        }
        for i in 0..nodes {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let none = (0, 0, Dep { kind: EdgeKind::Ww, key: NONE, value: NONE });
        let mut sorted = vec![none; self.list.len()];
        for e in self.list.drain(..) {
            let slot = &mut next[e.0 as usize];
            sorted[*slot as usize] = e;
            *slot += 1;
        }
        for w in start.windows(2) {
            sorted[w[0] as usize..w[1] as usize].sort_unstable_by_key(|(_, b, d)| (*b, d.kind));
        }
        self.list = sorted;
        self.list.dedup_by_key(|(a, b, d)| (*a, *b, d.kind));
        // `Csr` takes one edge per (from, to): its weight is the run of labels in `labels`.
        let mut pairs: Vec<(u32, u32, (u32, u32))> = Vec::new();
        for (i, (a, b, _)) in self.list.iter().enumerate() {
            match pairs.last_mut() {
                Some((x, y, (_, n))) if x == a && y == b => *n += 1,
                _ => pairs.push((*a, *b, (i as u32, 1))),
            }
        }
        let labels = self.list.into_iter().map(|(_, _, d)| d).collect();
        // Sorted by (from, to) with no repeats, as `from_sorted_edges` requires.
        let mut csr: Csr<(), (u32, u32), petgraph::Directed, u32> =
            Csr::from_sorted_edges(&pairs).unwrap_or_else(|_| Csr::new());
        while csr.node_count() < nodes {
            csr.add_node(());
        }
        Graph { csr, labels }
    }
}

/// The built graph.
#[derive(Debug)]
pub struct Graph {
    /// Adjacency, sorted by source; each edge's weight is its run of labels.
    pub csr: Csr<(), (u32, u32), petgraph::Directed, u32>,
    /// The labels of all edges, grouped by (from, to).
    pub labels: Vec<Dep>,
}

impl Graph {
    /// The edges out of `n`: `(target, label)`, one for each kind linking them.
    pub fn out(&self, n: u32) -> impl Iterator<Item = (u32, Dep)> + '_ {
        use petgraph::visit::EdgeRef;
        self.csr.edges(n).flat_map(move |e| {
            let (start, len) = *e.weight();
            self.labels[start as usize..(start + len) as usize]
                .iter()
                .map(move |d| (e.target(), *d))
        })
    }

    /// The number of edges (one for each kind linking two transactions).
    pub fn edge_count(&self) -> usize {
        self.labels.len()
    }
}
