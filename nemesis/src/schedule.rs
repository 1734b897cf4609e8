//! The seeded fault schedule (pure): which fault comes next, on which nodes.
//!
//! ```text
//! (NemesisConfig, node count, ChaCha8Rng(seed)) ──next_action()──> Action, Action, ..
//! ```
//!
//! The timeline is `calm, fault, calm, fault, ..`: each period lasts `interval`. A fault
//! period takes one alternative of the [`FaultList`] (`clock+partition,kill`: clock and
//! partition together, or kill) and draws one target for all of its faults. Alternatives come
//! in rounds: every one once per round, in a seeded order, so a run of k fault periods
//! exercises min(k, alternatives) of them (a random draw each period left faults out of
//! short runs). The same seed and node
//! count give the same sequence of actions; only what depends on the running cluster (the
//! current leader) is resolved later, by [`crate::Nemesis`].

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::fault::{Action, Fault};
use crate::partition::{Grudge, Shape};
use faultline_api::{FaultList, Target};

/// What the nemesis does and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct NemesisConfig {
    /// The alternatives to mix, each one or more faults active together (empty: the
    /// nemesis stays calm).
    pub faults: FaultList,
    /// Length of each calm period and of each fault period.
    pub interval: Duration,
    /// Seed of the schedule.
    pub seed: u64,
    /// Partition shapes to choose from (default: all).
    pub shapes: Vec<Shape>,
    /// Whom faults go for (default: random); with `Leader` among them the first fault goes
    /// for the leader.
    pub targets: Vec<Target>,
    /// Clock faults only set this rate (a bounded drift); `None`: bumps, strobes and rates.
    pub clock_rate: Option<f64>,
}

impl NemesisConfig {
    /// All shapes, the given faults (a `Vec<Fault>` is each fault alone), interval and seed.
    pub fn new(faults: impl Into<FaultList>, interval: Duration, seed: u64) -> Self {
        NemesisConfig {
            faults: faults.into(),
            interval,
            seed,
            shapes: Shape::ALL.to_vec(),
            targets: vec![Target::Random],
            clock_rate: None,
        }
    }
}

/// A seeded stream of planned fault actions for a cluster of `n` nodes.
#[derive(Debug, Clone)]
pub struct Schedule {
    faults: Vec<Vec<Fault>>,
    shapes: Vec<Shape>,
    targets: Vec<Target>,
    clock_rate: Option<f64>,
    planned: u64,
    /// What is left of this round of alternatives (indices into `faults`), next last.
    round: Vec<usize>,
    n: usize,
    rng: ChaCha8Rng,
}

/// A planned action, and whether its nodes are to be replaced by the leader's when it is
/// installed (the leader is known only then).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The action, with nodes drawn by the schedule.
    pub action: Action,
    /// Go for the leader instead (kills, pauses, clocks; partitions plan `IsolateLeader`).
    pub on_leader: bool,
}

impl Schedule {
    /// A schedule for `n` nodes. Faults that cannot apply (e.g. partitions on 1 node) are
    /// left out of their alternatives.
    pub fn new(config: &NemesisConfig, n: usize) -> Self {
        let shapes: Vec<Shape> = config.shapes.iter().copied().filter(|s| s.fits(n)).collect();
        let applies = |f: &Fault| {
            (*f != Fault::Partition || !shapes.is_empty())
                && (*f != Fault::Figure8 || n >= 3)
                && f.too_few_nodes(n).is_none()
        };
        let mut faults: Vec<Vec<Fault>> = Vec::new();
        for alt in config.faults.alternatives() {
            let alt: Vec<Fault> = alt.iter().copied().filter(applies).collect();
            if !alt.is_empty() && !faults.contains(&alt) {
                faults.push(alt);
            }
        }
        let targets =
            if config.targets.is_empty() { vec![Target::Random] } else { config.targets.clone() };
        Schedule {
            faults,
            shapes,
            targets,
            clock_rate: config.clock_rate,
            planned: 0,
            round: Vec::new(),
            n,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
        }
    }

    /// Whether there is any fault to plan.
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// The next planned action, or `None` when no fault kind applies.
    pub fn next_action(&mut self) -> Option<Action> {
        self.next_planned().map(|p| p.action)
    }

    /// The first action of the next fault period (see [`Schedule::next_period`]).
    pub fn next_planned(&mut self) -> Option<Planned> {
        self.next_period().map(|mut p| p.swap_remove(0))
    }

    /// The actions of the next fault period, to be installed in this order and active
    /// together: one alternative, one target for all of them. The first period goes for the
    /// leader when the leader is among the targets; later ones draw a target.
    pub fn next_period(&mut self) -> Option<Vec<Planned>> {
        if self.round.is_empty() {
            self.round = (0..self.faults.len()).collect();
            self.round.shuffle(&mut self.rng);
        }
        let alt = self.faults.get(self.round.pop()?)?.clone();
        let target = if self.planned == 0 && self.targets.contains(&Target::Leader) {
            Target::Leader
        } else if self.targets.len() == 1 {
            self.targets[0]
        } else {
            self.targets[self.rng.random_range(0..self.targets.len())]
        };
        self.planned += 1;
        let mut period: Vec<Planned> =
            alt.into_iter().map(|kind| self.plan(kind, target)).collect();
        // Membership acts on what the period's other faults did (it removes the members a
        // partition cut off from the leader): installed last.
        period.sort_by_key(|p| p.action.kind() == Fault::Membership);
        Some(period)
    }

    fn plan(&mut self, kind: Fault, target: Target) -> Planned {
        let mut on_leader = target == Target::Leader;
        let action = match kind {
            Fault::Partition => self.partition(target),
            Fault::Kill => Action::Kill { nodes: self.nodes_for(target, true) },
            Fault::Pause => Action::Pause { nodes: self.nodes_for(target, false) },
            Fault::Clock => {
                let nodes = self.nodes_for(target, false);
                self.clock(nodes)
            }
            Fault::Loss => {
                on_leader = false;
                let p = [0.05, 0.1, 0.2, 0.3][self.rng.random_range(0..4)];
                Action::Loss { probability: p }
            }
            Fault::Duplicate => {
                on_leader = false;
                Action::Duplicate {
                    probability: [0.05, 0.1, 0.2, 0.3][self.rng.random_range(0..4)],
                }
            }
            Fault::Delay => {
                on_leader = false;
                Action::Delay { ms: [50, 100, 200, 400][self.rng.random_range(0..4)] }
            }
            Fault::Figure8 => {
                on_leader = false;
                Action::Figure8
            }
            Fault::Reconfigure => {
                on_leader = false;
                Action::Reconfigure { seed: self.rng.random() }
            }
            // One member, whatever the target: the leader's own when it goes for the leader;
            // a minority or majority target still removes one (under a partition, the
            // nemesis removes the members the leader cannot reach instead).
            Fault::Membership => Action::Membership { nodes: self.pick(1) },
            Fault::PowerLoss => {
                let nodes = self.nodes_for(target, true);
                Action::PowerLoss { nodes, seed: self.rng.random(), dropped: None }
            }
        };
        // Partitions resolve the leader themselves (IsolateLeader).
        let on_leader = on_leader && !matches!(action, Action::Partition { .. });
        Planned { action, on_leader }
    }

    /// The nodes a kill, pause or clock fault goes for (the leader's are filled in later).
    fn nodes_for(&mut self, target: Target, may_be_all: bool) -> Vec<usize> {
        match target {
            Target::Leader => self.pick(1),
            Target::Minority => self.minority(),
            Target::Majority => self.pick(self.n / 2 + 1),
            Target::Random if may_be_all => match self.rng.random_range(0..100) {
                0..50 => self.pick(1),
                50..85 => self.minority(),
                _ => (0..self.n).collect(),
            },
            Target::Random => {
                if self.rng.random_bool(0.5) {
                    self.pick(1)
                } else {
                    self.minority()
                }
            }
        }
    }

    fn partition(&mut self, target: Target) -> Action {
        let wanted = match target {
            Target::Leader => Some(Shape::IsolateLeader),
            Target::Minority => Some(Shape::MajorityMinority),
            Target::Majority => Some(Shape::RandomHalves),
            Target::Random => None,
        };
        let shape = match wanted.filter(|s| self.shapes.contains(s)) {
            Some(s) => s,
            None => self.shapes[self.rng.random_range(0..self.shapes.len())],
        };
        let n = self.n;
        let order = self.order();
        let grudge = match shape {
            Shape::RandomHalves => Some(Grudge::split(n, &order, n / 2)),
            Shape::MajorityMinority => {
                let k = self.rng.random_range(1..=((n - 1) / 2).max(1));
                Some(Grudge::split(n, &order, k))
            }
            Shape::IsolateOne => Some(Grudge::isolate(n, order[0])),
            Shape::IsolateLeader => None,
            Shape::Bridge => Some(Grudge::bridge(n, &order)),
            Shape::Ring => Some(Grudge::ring(n, &order)),
        };
        Action::Partition { shape, grudge }
    }

    fn clock(&mut self, nodes: Vec<usize>) -> Action {
        if let Some(rate) = self.clock_rate {
            return Action::ClockRate { nodes, rate };
        }
        let sign = if self.rng.random_bool(0.5) { 1 } else { -1 };
        match self.rng.random_range(0..3) {
            0 => Action::ClockBump { nodes, delta_ms: sign * self.rng.random_range(200..=10_000) },
            1 => Action::ClockStrobe {
                nodes,
                delta_ms: sign * self.rng.random_range(200..=5_000),
                period_ms: self.rng.random_range(10..=500),
            },
            _ => {
                let rate = [0.25, 0.5, 2.0, 4.0][self.rng.random_range(0..4)];
                Action::ClockRate { nodes, rate }
            }
        }
    }

    fn order(&mut self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.n).collect();
        v.shuffle(&mut self.rng);
        v
    }

    fn pick(&mut self, k: usize) -> Vec<usize> {
        let mut v = self.order();
        v.truncate(k);
        v.sort_unstable();
        v
    }

    /// A random minority of 1..=⌊(n-1)/2⌋ nodes (at least one).
    fn minority(&mut self) -> Vec<usize> {
        let k = self.rng.random_range(1..=((self.n - 1) / 2).max(1));
        self.pick(k)
    }
}

#[cfg(test)]
mod target_tests {
    use super::*;

    #[test]
    fn the_first_fault_goes_for_the_leader_then_targets_are_drawn() {
        let mut cfg =
            NemesisConfig::new(vec![Fault::Kill, Fault::Partition], Duration::from_secs(1), 9);
        cfg.targets = vec![Target::Leader, Target::Minority];
        let mut s = Schedule::new(&cfg, 5);
        let first = s.next_planned().unwrap();
        match &first.action {
            Action::Kill { .. } => assert!(first.on_leader),
            Action::Partition { shape, .. } => assert_eq!(*shape, Shape::IsolateLeader),
            other => panic!("{other:?}"),
        }
        let mut leader = 0;
        for _ in 0..200 {
            let p = s.next_planned().unwrap();
            match p.action {
                Action::Kill { nodes } if !p.on_leader => assert!(nodes.len() <= 2, "a minority"),
                Action::Partition { shape, .. } => {
                    assert!(matches!(shape, Shape::IsolateLeader | Shape::MajorityMinority))
                }
                _ => {}
            }
            leader += u32::from(p.on_leader);
        }
        assert!((50..150).contains(&leader), "{leader} of 200 kills/partitions on the leader");
        // Random alone keeps the old draws.
        let cfg = NemesisConfig::new(vec![Fault::Kill], Duration::from_secs(1), 9);
        assert!(!Schedule::new(&cfg, 3).next_planned().unwrap().on_leader);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, n: usize) -> Vec<Action> {
        let cfg = NemesisConfig::new(Fault::ALL.to_vec(), Duration::from_secs(1), seed);
        let mut s = Schedule::new(&cfg, n);
        (0..200).map(|_| s.next_action().unwrap()).collect()
    }

    #[test]
    fn same_seed_same_sequence() {
        assert_eq!(run(42, 5), run(42, 5));
        assert_ne!(run(42, 5), run(43, 5));
    }

    #[test]
    fn mixes_every_fault_kind_and_shape() {
        let actions = run(7, 5);
        for f in Fault::ALL {
            assert!(actions.iter().any(|a| a.kind() == *f), "{f} never planned");
        }
        for shape in Shape::ALL {
            assert!(
                actions
                    .iter()
                    .any(|a| matches!(a, Action::Partition { shape: s, .. } if *s == *shape)),
                "{shape:?} never planned"
            );
        }
    }

    #[test]
    fn targets_are_valid_minorities() {
        for a in run(9, 5) {
            match a {
                Action::Pause { nodes } | Action::ClockRate { nodes, .. } => {
                    assert!(!nodes.is_empty() && nodes.len() <= 2 && nodes.iter().all(|&i| i < 5));
                }
                Action::Kill { nodes } => assert!(!nodes.is_empty() && nodes.len() <= 5),
                Action::Partition { shape, grudge } => {
                    assert_eq!(grudge.is_none(), shape == Shape::IsolateLeader);
                    if let Some(g) = grudge {
                        assert!(!g.cut.is_empty());
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn every_alternative_once_per_round() {
        let faults: FaultList = "partition,kill,figure8".parse().unwrap();
        for seed in 0..20 {
            let cfg = NemesisConfig::new(faults.clone(), Duration::from_secs(1), seed);
            let mut s = Schedule::new(&cfg, 3);
            let kinds: Vec<Fault> = (0..9).map(|_| s.next_action().unwrap().kind()).collect();
            for round in kinds.chunks(3) {
                for f in [Fault::Partition, Fault::Kill, Fault::Figure8] {
                    assert!(round.contains(&f), "seed {seed}: {kinds:?}");
                }
            }
        }
    }

    #[test]
    fn three_nodes_never_ring_and_empty_faults_plan_nothing() {
        assert!(run(1, 3)
            .iter()
            .all(|a| !matches!(a, Action::Partition { shape: Shape::Ring, .. })));
        let cfg = NemesisConfig::new(vec![], Duration::from_secs(1), 1);
        assert_eq!(Schedule::new(&cfg, 3).next_action(), None);
        let cfg = NemesisConfig::new(vec![Fault::Partition], Duration::from_secs(1), 1);
        assert!(Schedule::new(&cfg, 1).is_empty());
    }

    #[test]
    fn membership_removes_one_node_and_needs_more_than_the_minimum_of_voters() {
        let faults: FaultList = "membership+partition,kill".parse().unwrap();
        let mut cfg = NemesisConfig::new(faults, Duration::from_secs(1), 4);
        // Three nodes cannot lose a voter: membership drops out of its alternative.
        let mut s = Schedule::new(&cfg, 3);
        for _ in 0..50 {
            assert!(s.next_period().unwrap().iter().all(|p| p.action.kind() != Fault::Membership));
        }
        cfg.targets = vec![Target::Leader, Target::Majority];
        let mut s = Schedule::new(&cfg, 5);
        let mut seen = 0;
        for i in 0..100 {
            let period = s.next_period().unwrap();
            if let [first, last] = period.as_slice() {
                if let Action::Membership { nodes } = &last.action {
                    seen += 1;
                    assert!(nodes.len() == 1 && nodes[0] < 5, "{nodes:?}");
                    assert_eq!(last.on_leader, i == 0 || last.on_leader);
                    // Installed after the partition, so that it sees who is cut off.
                    assert!(matches!(first.action, Action::Partition { .. }));
                }
            }
        }
        assert!(seen > 25, "{seen}");
    }

    #[test]
    fn combinations_share_one_target_and_keep_their_order() {
        let faults: FaultList = "clock+partition,kill".parse().unwrap();
        let mut cfg = NemesisConfig::new(faults, Duration::from_secs(1), 3);
        cfg.targets = vec![Target::Leader];
        cfg.clock_rate = Some(0.6);
        let mut s = Schedule::new(&cfg, 5);
        let (mut together, mut alone) = (0, 0);
        for _ in 0..100 {
            let period = s.next_period().unwrap();
            match period.as_slice() {
                [clock, partition] => {
                    together += 1;
                    assert!(clock.on_leader);
                    assert!(matches!(clock.action, Action::ClockRate { rate, .. } if rate == 0.6));
                    assert!(matches!(
                        partition.action,
                        Action::Partition { shape: Shape::IsolateLeader, .. }
                    ));
                }
                [kill] => {
                    alone += 1;
                    assert!(matches!(kill.action, Action::Kill { .. }) && kill.on_leader);
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(together > 25 && alone > 25, "{together} together, {alone} alone");
        // Faults that cannot apply drop out of their alternative, not the whole alternative.
        let faults: FaultList = "clock+partition".parse().unwrap();
        let mut s = Schedule::new(&NemesisConfig::new(faults, Duration::from_secs(1), 3), 1);
        assert_eq!(s.next_period().unwrap().len(), 1);
    }
}
