//! Fault coverage, measured while the run goes: what each fault did, whom it hit, and what
//! the cluster's leadership did meanwhile (Jepsen leaves this to the reader of the history;
//! a release gate needs it counted).
//!
//! ```text
//!  FaultEvent ───on_event──▶ per fault: installed / skipped / indeterminate, active time,
//!                              operations completed meanwhile (Recorder counts at start/stop),
//!                              leader hit (killed, paused, skewed, cut off from a majority)
//!  Cluster::statuses every 100 ms ──observe──▶ leader changes, terms, time without a leader
//!  finish ──▶ results::Coverage (results.json, the summary line)
//! ```
//! Leadership is followed per Raft group (one for a single cluster; the controller and each
//! replica group of the sharded KV): a fault hits "the leader" when it hits any group's
//! leader, leader changes and terms are summed over the groups, and the time without a leader
//! is the time during which some group had none.

// Polls the cluster and timestamps intervals in real time.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faultline_api::{Edge, Fault, FaultEvent, FaultOutcome, LiveCounts};
use faultline_nemesis::Cluster;
use faultline_store::results::{Coverage, FaultCoverage};
use faultline_workloads::Recorder;

/// How often the leader is looked for.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct State {
    coverage: Coverage,
    /// Active faults: since when, and the counts then.
    open: BTreeMap<Fault, (Instant, LiveCounts)>,
    /// The counts when the cluster last became calm (no fault active).
    calm_since: Option<LiveCounts>,
    /// Per Raft group: its nodes' names, its leader, its first and last term seen.
    groups: Vec<Group>,
}

#[derive(Debug)]
struct Group {
    nodes: Vec<String>,
    leader: Option<String>,
    first_term: Option<u64>,
    last_term: u64,
}

impl Group {
    /// Whether `ev` hits this group's leader: names it, or cuts it off from a majority of
    /// its group.
    fn hit_by(&self, fault: Fault, ev: &FaultEvent) -> bool {
        let Some(l) = &self.leader else { return false };
        if ev.nodes().contains(l) {
            return true;
        }
        let partition = matches!(fault, Fault::Partition | Fault::Figure8);
        partition && ev.cuts_off(l, &self.nodes)
    }
}

/// Tracks coverage; cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Tracker {
    state: Arc<Mutex<State>>,
    recorder: Recorder,
}

fn sub(a: LiveCounts, b: LiveCounts) -> LiveCounts {
    LiveCounts {
        invoked: a.invoked.saturating_sub(b.invoked),
        ok: a.ok.saturating_sub(b.ok),
        fail: a.fail.saturating_sub(b.fail),
        info: a.info.saturating_sub(b.info),
        nemesis: a.nemesis.saturating_sub(b.nemesis),
    }
}

fn add(a: &mut LiveCounts, b: LiveCounts) {
    a.invoked += b.invoked;
    a.ok += b.ok;
    a.fail += b.fail;
    a.info += b.info;
    a.nemesis += b.nemesis;
}

impl Tracker {
    /// A tracker for the faults asked for, on a cluster whose Raft groups are `groups` (node
    /// names).
    pub fn new(faults: &[Fault], groups: Vec<Vec<String>>, recorder: Recorder) -> Self {
        let faults = faults
            .iter()
            .map(|&fault| FaultCoverage {
                fault,
                installed: 0,
                skipped: 0,
                indeterminate: 0,
                no_effect: 0,
                skip_reasons: Vec::new(),
                active_secs: 0.0,
                ops: LiveCounts::default(),
            })
            .collect();
        let state = State {
            coverage: Coverage { faults, ..Coverage::default() },
            open: BTreeMap::new(),
            calm_since: Some(recorder.counts()),
            groups: groups
                .into_iter()
                .map(|nodes| Group { nodes, leader: None, first_term: None, last_term: 0 })
                .collect(),
        };
        Tracker { state: Arc::new(Mutex::new(state)), recorder }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Counters stay meaningful after a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one nemesis event.
    pub fn on_event(&self, ev: &FaultEvent) {
        let (fault, edge) = ev.fault();
        if edge == Edge::Step {
            // A step within the fault (a member back as a learner): nothing starts or ends.
            return;
        }
        let starts = edge == Edge::Start;
        let now = Instant::now();
        let counts = self.recorder.counts();
        let mut st = self.lock();
        let Some(i) = st.coverage.faults.iter().position(|f| f.fault == fault) else {
            // Heal-all events for faults not asked for (none are made): ignore.
            return;
        };
        // A figure8 sequence is one fault: its later steps are new grudges of the same one.
        let next_step = fault == Fault::Figure8
            && ev.value.get("step").and_then(serde_json::Value::as_u64).is_some_and(|s| s > 1);
        if starts && next_step {
            // The step before ended a moment ago: that moment was not calm.
            st.calm_since = None;
            st.open.entry(fault).or_insert((now, counts));
        } else if starts {
            let fc = &mut st.coverage.faults[i];
            if ev.no_effect() {
                fc.no_effect += 1;
            }
            match &ev.outcome {
                FaultOutcome::Installed => fc.installed += 1,
                FaultOutcome::Indeterminate(_) => fc.indeterminate += 1,
                FaultOutcome::Skipped(why) => {
                    fc.skipped += 1;
                    if fc.skip_reasons.len() < 5 && !fc.skip_reasons.contains(why) {
                        fc.skip_reasons.push(why.clone());
                    }
                    return;
                }
            }
            if ev.outcome == FaultOutcome::Installed {
                st.coverage.installed += 1;
            }
            if st.groups.iter().any(|g| g.hit_by(fault, ev)) {
                st.coverage.leader_disturbed += 1;
            }
            if let Some(at) = st.calm_since.take() {
                add(&mut st.coverage.calm, sub(counts, at));
            }
            st.open.entry(fault).or_insert((now, counts));
        } else if let Some((since, at)) = st.open.remove(&fault) {
            let fc = &mut st.coverage.faults[i];
            // What a fault stopped is known at its end for some (a partition's cut traffic).
            if ev.no_effect() {
                fc.no_effect += 1;
            }
            fc.active_secs += now.duration_since(since).as_secs_f64();
            add(&mut fc.ops, sub(counts, at));
            if st.open.is_empty() {
                st.calm_since = Some(counts);
            }
        }
    }

    /// Looks at the nodes' status every [`POLL`] until dropped (it never ends by itself).
    pub async fn observe(self, cluster: &Cluster) -> Infallible {
        let mut every = tokio::time::interval(POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Instant::now();
        loop {
            every.tick().await;
            let statuses = cluster.statuses().await;
            let names = cluster.node_names();
            let now = Instant::now();
            let mut st = self.lock();
            let mut leaderless = false;
            let mut changes = 0;
            for g in &mut st.groups {
                let in_group = statuses
                    .iter()
                    .zip(&names)
                    .filter(|(_, name)| g.nodes.contains(name))
                    .filter_map(|(s, name)| s.map(|s| (s, name)));
                let mut leader: Option<(u64, &String)> = None;
                for (s, name) in in_group {
                    g.first_term.get_or_insert(s.term);
                    g.last_term = g.last_term.max(s.term);
                    if s.is_leader && leader.is_none_or(|(t, _)| s.term > t) {
                        leader = Some((s.term, name));
                    }
                }
                match leader {
                    Some((_, name)) => {
                        if g.leader.as_ref().is_some_and(|l| l != name) {
                            changes += 1;
                        }
                        g.leader = Some(name.clone());
                    }
                    None => leaderless = true,
                }
            }
            st.coverage.leader_changes += changes;
            if leaderless {
                st.coverage.no_leader_secs += now.duration_since(last).as_secs_f64();
            }
            last = now;
        }
    }

    /// The coverage so far (faults still active are counted up to now).
    pub fn finish(&self) -> Coverage {
        let now = Instant::now();
        let counts = self.recorder.counts();
        let mut st = self.lock();
        let open: Vec<(Fault, (Instant, LiveCounts))> =
            std::mem::take(&mut st.open).into_iter().collect();
        for (fault, (since, at)) in open {
            if let Some(fc) = st.coverage.faults.iter_mut().find(|f| f.fault == fault) {
                fc.active_secs += now.duration_since(since).as_secs_f64();
                add(&mut fc.ops, sub(counts, at));
            }
        }
        if let Some(at) = st.calm_since.take() {
            add(&mut st.coverage.calm, sub(counts, at));
        }
        st.coverage.terms = st
            .groups
            .iter()
            .map(|g| g.last_term.saturating_sub(g.first_term.unwrap_or(g.last_term)))
            .sum();
        st.coverage.clone()
    }
}
