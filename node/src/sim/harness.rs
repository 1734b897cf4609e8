//! Test harness in the style of 6.824's `config.go`: a cluster, which nodes are connected,
//! and the checks (`check_one_leader`, `one`, `n_committed`, ...). Every failure names the
//! seed and the command that replays it.

use super::{SimCluster, SimConfig};
use crate::api::{Command, Op};
use crate::raft::types::{ClientId, EntryPayload, LogIndex, NodeId, Role, Term};
use rand::Rng;
use std::collections::BTreeSet;

/// One scenario run.
pub(crate) struct H {
    name: String,
    seed: u64,
    sim: Option<SimCluster>,
    disconnected: BTreeSet<NodeId>,
}

impl H {
    pub(crate) fn new(name: &str, seed: u64) -> H {
        H { name: name.into(), seed, sim: None, disconnected: BTreeSet::new() }
    }

    pub(crate) fn start_cluster(&mut self, n: usize, unreliable: bool) {
        self.start_cluster_with(n, unreliable, 1 << 20);
    }

    pub(crate) fn start_cluster_bug(
        &mut self,
        n: usize,
        bug: Option<crate::raft::types::UnsafeBug>,
    ) {
        let cfg = SimConfig::builder().seed(self.seed).nodes(n).bug(bug).build();
        self.sim = Some(SimCluster::new(cfg));
    }

    pub(crate) fn start_cluster_with(&mut self, n: usize, unreliable: bool, snapshot_bytes: usize) {
        let mut b = SimConfig::builder()
            .seed(self.seed)
            .nodes(n)
            .snapshot_threshold_bytes(snapshot_bytes)
            .snapshot_chunk_bytes(512);
        if unreliable {
            b = b.unreliable();
        }
        self.sim = Some(SimCluster::new(b.build()));
    }

    pub(crate) fn sim(&mut self) -> &mut SimCluster {
        match self.sim.as_mut() {
            Some(s) => s,
            None => panic!("start_cluster first"),
        }
    }

    fn sim_ref(&self) -> &SimCluster {
        match self.sim.as_ref() {
            Some(s) => s,
            None => panic!("start_cluster first"),
        }
    }

    /// Panics with the seed and the command that replays it.
    pub(crate) fn fail(&self, msg: &str) -> ! {
        let t = self.sim.as_ref().map_or(0, |s| s.now() / 1000);
        panic!("{}: {msg} (at {t} ms)\n{}", self.name, super::repro(&self.name, self.seed))
    }

    pub(crate) fn assert(&self, cond: bool, msg: String) {
        if !cond {
            self.fail(&msg);
        }
    }

    pub(crate) fn ids(&self) -> Vec<NodeId> {
        self.sim_ref().ids()
    }

    /// The node `k` places after `id` (6.824's `(leader + k) % n`).
    pub(crate) fn other(&self, id: NodeId, k: usize) -> NodeId {
        let ids = self.ids();
        let i = ids.iter().position(|n| *n == id).unwrap_or(0);
        ids[(i + k) % ids.len()]
    }

    pub(crate) fn run_ms(&mut self, ms: u64) {
        self.sim().run_for(ms * 1000);
    }

    pub(crate) fn rand_value(&mut self) -> u64 {
        self.sim().rng().random_range(1..1_000_000_000)
    }

    pub(crate) fn is_connected(&self, id: NodeId) -> bool {
        !self.disconnected.contains(&id)
    }

    fn apply_links(&mut self) {
        let ids = self.ids();
        let down: Vec<NodeId> = self.disconnected.iter().copied().collect();
        let net = &mut self.sim().net;
        net.heal();
        for d in down {
            net.isolate(d, &ids);
        }
    }

    pub(crate) fn disconnect(&mut self, id: NodeId) {
        self.disconnected.insert(id);
        self.apply_links();
    }

    pub(crate) fn connect(&mut self, id: NodeId) {
        self.disconnected.remove(&id);
        self.apply_links();
    }

    pub(crate) fn crash(&mut self, id: NodeId) {
        self.sim().crash(id);
    }

    pub(crate) fn restart(&mut self, id: NodeId) {
        self.sim().restart(id);
    }

    fn cmd(value: u64) -> Command {
        Command { client: ClientId(value), seq: 1, key: "k".into(), op: Op::Put(value.to_string()) }
    }

    pub(crate) fn big_cmd(&self, value: u64, filler: &str) -> Command {
        Command { client: ClientId(value), seq: 1, key: "k".into(), op: Op::Put(filler.into()) }
    }

    fn value_of(p: &EntryPayload) -> Option<u64> {
        match p {
            EntryPayload::Command(b) => Command::decode(b).ok().map(|c| c.client.0),
            EntryPayload::Noop | EntryPayload::Config(_) => None,
        }
    }

    /// 6.824 `Start`: propose at `id` if it thinks it leads.
    pub(crate) fn start_at(&mut self, id: NodeId, value: u64) -> Option<(LogIndex, Term)> {
        self.sim().start(id, Self::cmd(value))
    }

    /// Connected, running leaders by term; fails if a term has two.
    fn leaders(&self) -> Vec<(NodeId, Term)> {
        let sim = self.sim_ref();
        let mut out: Vec<(NodeId, Term)> =
            sim.leaders().into_iter().filter(|(id, _)| self.is_connected(*id)).collect();
        out.sort_by_key(|(id, t)| (*t, *id));
        for w in out.windows(2) {
            if w[0].1 == w[1].1 {
                self.fail(&format!("term {} has two leaders: {} and {}", w[0].1, w[0].0, w[1].0));
            }
        }
        out
    }

    pub(crate) fn check_one_leader(&mut self) -> NodeId {
        for _ in 0..10 {
            let ms = 450 + self.sim().rng().random_range(0..100);
            self.run_ms(ms);
            if let Some((id, _)) = self.leaders().last() {
                return *id;
            }
        }
        self.fail("expected one leader, got none")
    }

    pub(crate) fn check_no_leader(&mut self) {
        let leaders = self.leaders();
        if let Some((id, t)) = leaders.first() {
            self.fail(&format!(
                "expected no leader among connected nodes, but {id} leads term {t}"
            ));
        }
    }

    pub(crate) fn check_terms(&mut self) -> u64 {
        let mut term = None;
        for id in self.ids() {
            if !self.is_connected(id) {
                continue;
            }
            if let Some(s) = self.sim_ref().service(id) {
                let t = s.core().term().0;
                match term {
                    None => term = Some(t),
                    Some(x) if x != t => {
                        self.fail(&format!("servers disagree on term: {x} vs {t}"))
                    }
                    _ => {}
                }
            }
        }
        term.unwrap_or(0)
    }

    /// How many nodes applied `index`, and its value.
    pub(crate) fn n_committed(&self, index: LogIndex) -> (usize, Option<u64>) {
        let (n, p) = self.sim_ref().n_committed(index);
        (n, p.as_ref().and_then(Self::value_of))
    }

    /// Waits until `n` nodes applied `index`; `None` if the term moved past `term`.
    pub(crate) fn wait(&mut self, index: LogIndex, n: usize, term: Term) -> Option<u64> {
        let mut to = 10;
        for _ in 0..30 {
            let (got, v) = self.n_committed(index);
            if got >= n {
                return v;
            }
            self.run_ms(to);
            to = (to * 2).min(1000);
            let moved = self
                .ids()
                .iter()
                .any(|id| self.sim_ref().service(*id).is_some_and(|s| s.core().term() > term));
            if moved {
                return None;
            }
        }
        let (got, v) = self.n_committed(index);
        (got >= n).then_some(v).flatten()
    }

    /// 6.824 `one`: gets `value` committed on at least `expected` nodes; returns its index.
    pub(crate) fn one(&mut self, value: u64, expected: usize, retry: bool) -> LogIndex {
        self.one_cmd(Self::cmd(value), expected, retry)
    }

    /// `one` with a random value (retrying).
    pub(crate) fn one_rand(&mut self, expected: usize) -> LogIndex {
        let v = self.rand_value();
        self.one(v, expected, true)
    }

    pub(crate) fn one_cmd(&mut self, cmd: Command, expected: usize, retry: bool) -> LogIndex {
        let value = cmd.client.0;
        let start = self.sim().now();
        let ids = self.ids();
        let mut next = 0;
        while self.sim().now() < start + 10_000_000 {
            let mut index = None;
            for _ in 0..ids.len() {
                let id = ids[next % ids.len()];
                next += 1;
                if self.is_connected(id) {
                    if let Some((i, _)) = self.sim().start(id, cmd.clone()) {
                        index = Some(i);
                        break;
                    }
                }
            }
            if let Some(index) = index {
                let t0 = self.sim().now();
                while self.sim().now() < t0 + 2_000_000 {
                    let (n, v) = self.n_committed(index);
                    if n >= expected && v == Some(value) {
                        return index;
                    }
                    self.run_ms(20);
                }
                if !retry {
                    self.fail(&format!("one({value}) failed to reach agreement"));
                }
            } else {
                self.run_ms(50);
            }
        }
        self.fail(&format!("one({value}) failed to reach agreement in 10 s"))
    }

    /// Snapshots installed from a leader so far.
    pub(crate) fn snapshots_installed(&self) -> u64 {
        self.sim_ref().stats().snapshots_installed
    }

    /// Fails on any safety violation the simulator saw; also checks Leader Completeness
    /// loosely: no two leaders share a term.
    pub(crate) fn check_safety(&mut self) {
        if let Some(sim) = self.sim.as_ref() {
            if let Some(v) = sim.violations().first() {
                self.fail(&format!("safety violation: {v}"));
            }
            let leaders = sim.leaders();
            for (id, t) in &leaders {
                let dup = leaders.iter().any(|(o, u)| o != id && u == t);
                self.assert(!dup, format!("two leaders in term {t}"));
            }
            let _ = Role::Leader;
        }
    }
}
