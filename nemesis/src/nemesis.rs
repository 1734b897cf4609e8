//! The nemesis: carries out a seeded [`Schedule`] against a [`Cluster`], reporting every
//! start and end of a fault as a [`FaultEvent`].
//!
//! ```text
//! run(cluster, duration, events):
//!   calm(interval) ─> start the period's faults one after the other (`a+b`: a, then b;
//!                     membership last, so that under a partition it removes the members
//!                     the leader cannot reach; Planned -> its nodes become the leader's
//!                     when it goes for the leader -> resolve IsolateLeader -> install)
//!                     ─> an event each
//!   fault(interval; strobe flips clocks meanwhile) ─> end them, last first, but removed
//!                     members are added back last (one at a time) ─> an event each
//!   ─> calm ─> ..
//! heal_all(cluster, events):
//!   end the active faults; heal links; stop loss; resume paused; reset clocks;
//!   add back every member the membership fault left out (a voter again);
//!   restart every node that is down (killed, powered off or crashed) ─> one event each
//! ```
//!
//! `run` may be cancelled (its future dropped) at any await: the active faults stay
//! recorded and `heal_all` ends them.
#![allow(clippy::disallowed_methods)] // the nemesis waits in real time: it is an I/O driver

use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use faultline_api::{EventName, Fault};

use crate::fault::{names, Action};
use crate::partition::{Grudge, Shape};
use crate::schedule::{NemesisConfig, Schedule};
use crate::{Cluster, Error, FaultEvent, FaultOutcome};

/// Runs faults against a cluster on a seeded schedule.
#[derive(Debug)]
pub struct Nemesis {
    config: NemesisConfig,
    schedule: Option<Schedule>,
    /// The faults installed and not yet ended, in the order installed, with their
    /// (resolved) actions.
    active: Vec<Action>,
}

impl Nemesis {
    /// A nemesis with this configuration; the schedule is made on the first `run`, for the
    /// cluster's node count.
    pub fn new(config: NemesisConfig) -> Self {
        Nemesis { config, schedule: None, active: Vec::new() }
    }

    /// The first active fault's start event, if any.
    pub fn active(&self) -> Option<EventName> {
        self.active.first().map(Action::start_event)
    }

    /// Alternates calm and fault periods of `config.interval` for `duration`, then ends
    /// the active faults. Every start and end of a fault is sent on `events`.
    ///
    /// # Errors
    /// Harness failures only (a process could not be spawned, iptables failed).
    pub async fn run(
        &mut self,
        cluster: &Cluster,
        duration: Duration,
        events: &UnboundedSender<FaultEvent>,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + duration;
        let n = cluster.node_names().len();
        let config = self.config.clone();
        let interval = config.interval.max(Duration::from_millis(10));
        loop {
            tokio::time::sleep_until((Instant::now() + interval).min(deadline)).await;
            if Instant::now() >= deadline {
                break;
            }
            let schedule = self.schedule.get_or_insert_with(|| Schedule::new(&config, n));
            let Some(period) = schedule.next_period() else {
                tokio::time::sleep_until(deadline).await;
                break;
            };
            let mut leader = None;
            let mut reconfigure = None;
            for planned in period {
                let action = if planned.on_leader {
                    if leader.is_none() {
                        let names = cluster.node_names();
                        leader =
                            cluster.leader().await.and_then(|l| names.iter().position(|x| *x == l));
                    }
                    match leader {
                        Some(i) => planned.action.with_nodes(vec![i]),
                        None => {
                            let why = FaultOutcome::Skipped("no leader known".into());
                            let _ = events.send(planned.action.started(why));
                            continue;
                        }
                    }
                } else {
                    planned.action
                };
                if let Action::Reconfigure { seed } = action {
                    // Changes through the controller for the whole period, beside the
                    // period's other faults; nothing to undo at the end.
                    reconfigure = Some(seed);
                    continue;
                }
                self.start_also(cluster, action, events).await?;
            }
            let end = (Instant::now() + interval).min(deadline);
            let reconfiguring = async {
                if let Some(seed) = reconfigure {
                    crate::reconfigure::bursts(cluster, seed, end, events).await;
                }
            };
            let strobed = self.active.iter().find_map(|a| match a {
                Action::ClockStrobe { nodes, delta_ms, period_ms } => {
                    Some((nodes.clone(), *delta_ms, *period_ms))
                }
                _ => None,
            });
            let faults = async {
                match strobed {
                    Some((nodes, delta_ms, period_ms)) => {
                        strobe(cluster, &nodes, delta_ms, period_ms, end).await
                    }
                    None => {
                        tokio::time::sleep_until(end).await;
                        Ok(())
                    }
                }
            };
            let (held, ()) = tokio::join!(faults, reconfiguring);
            held?;
            self.end(cluster, events).await?;
        }
        self.end(cluster, events).await
    }

    /// Installs one action now (the start of a fault period) and records it as active,
    /// ending the previously active ones first. A start whose outcome is `Skipped` changed
    /// nothing and gets no end event.
    ///
    /// # Errors
    /// Harness failures only.
    pub async fn start(
        &mut self,
        cluster: &Cluster,
        action: Action,
        events: &UnboundedSender<FaultEvent>,
    ) -> Result<FaultOutcome, Error> {
        self.end(cluster, events).await?;
        self.start_also(cluster, action, events).await
    }

    /// Installs one action now, keeping the active ones: `a+b` overlap in time.
    ///
    /// # Errors
    /// Harness failures only.
    pub async fn start_also(
        &mut self,
        cluster: &Cluster,
        action: Action,
        events: &UnboundedSender<FaultEvent>,
    ) -> Result<FaultOutcome, Error> {
        if action == Action::Figure8 {
            // A sequence of grudges: it reports each step itself and leaves the last one
            // installed for `end` to heal.
            self.active.push(Action::Figure8);
            let outcome = crate::figure8::run(cluster, events).await?;
            if matches!(outcome, FaultOutcome::Skipped(_)) {
                self.active.retain(|a| *a != Action::Figure8);
                let _ = events.send(action.started(outcome.clone()));
            }
            return Ok(outcome);
        }
        let (action, value, outcome) = if let Action::Membership { nodes } = action {
            // Under a partition, the members the leader cannot reach, as an operator
            // replaces members that look dead. Its event names the voters the removal left.
            let cut = self.active.iter().rev().find_map(|a| match a {
                Action::Partition { grudge: Some(g), .. } => Some(g.clone()),
                _ => None,
            });
            let (nodes, value, outcome) =
                crate::membership::remove(cluster, nodes, cut.as_ref()).await?;
            (Action::Membership { nodes }, value, outcome)
        } else {
            let (action, outcome) = install(cluster, action).await?;
            let value = action.to_json();
            (action, value, outcome)
        };
        emit(events, action.start_event(), value, outcome.clone());
        if !matches!(outcome, FaultOutcome::Skipped(_)) {
            self.active.push(action);
        }
        Ok(outcome)
    }

    /// Ends the active faults, the last installed first — but removed members come back
    /// last, once the cluster they rejoin is whole again.
    ///
    /// # Errors
    /// Harness failures only.
    pub async fn end(
        &mut self,
        cluster: &Cluster,
        events: &UnboundedSender<FaultEvent>,
    ) -> Result<(), Error> {
        self.active.sort_by_key(|a| a.kind() != Fault::Membership);
        // Popped one at a time, so that a cancelled end leaves the rest recorded.
        while let Some(action) = self.active.pop() {
            let (value, outcome) = undo(cluster, &action, events).await?;
            emit(events, action.stop_event(), value, outcome);
        }
        Ok(())
    }

    /// Heals everything: ends the active faults, restores every link, stops packet loss,
    /// resumes paused nodes, resets changed clocks, restarts every node that is down.
    ///
    /// # Errors
    /// Harness failures only.
    pub async fn heal_all(
        &mut self,
        cluster: &Cluster,
        events: &UnboundedSender<FaultEvent>,
    ) -> Result<(), Error> {
        self.end(cluster, events).await?;
        let send = |name: EventName, value: serde_json::Value, outcome: FaultOutcome| {
            let _ = events.send(FaultEvent::new(name, value, outcome));
        };
        if cluster.is_partitioned() {
            send(EventName::StopPartition, json!({}), cluster.heal()?);
        }
        if cluster.loss() > 0.0 {
            send(EventName::StopLoss, json!({}), cluster.set_loss(0.0)?);
        }
        let all = cluster.node_names();
        let paused: Vec<String> = all.iter().filter(|n| cluster.is_paused(n)).cloned().collect();
        if !paused.is_empty() {
            let outs: Result<Vec<FaultOutcome>, Error> =
                paused.iter().map(|n| cluster.resume(n)).collect();
            send(EventName::Resume, json!({ "nodes": paused }), FaultOutcome::combine(outs?));
        }
        let skewed: Vec<String> = all
            .iter()
            .filter(|n| cluster.clock(n).is_some_and(|c| c != (0, 1.0)))
            .cloned()
            .collect();
        if !skewed.is_empty() {
            let mut outs = Vec::new();
            for n in &skewed {
                outs.push(cluster.set_clock(n, 0, 1.0).await?);
            }
            send(EventName::ClockReset, json!({ "nodes": skewed }), FaultOutcome::combine(outs));
        }
        // Members the membership fault left out (a re-add that did not finish) come back as
        // voters, so that the final reads see the whole cluster.
        for (i, n) in all.iter().enumerate().filter(|(_, n)| cluster.is_removed(n)) {
            let (value, outcome) = crate::membership::add_back(cluster, i, events).await?;
            let f = EventName::PromoteMember.f();
            tracing::info!(f, node = n, outcome = outcome.as_str(), "heal");
            send(EventName::PromoteMember, value, outcome);
        }
        let down: Vec<String> = all
            .iter()
            .filter(|n| !cluster.is_running(n) && !cluster.is_removed(n))
            .cloned()
            .collect();
        if !down.is_empty() {
            let outs: Result<Vec<FaultOutcome>, Error> =
                down.iter().map(|n| cluster.start_node(n)).collect();
            send(EventName::Start, json!({ "nodes": down }), FaultOutcome::combine(outs?));
        }
        Ok(())
    }
}

/// Logs one start or end of a fault and sends it to the history.
fn emit(
    events: &UnboundedSender<FaultEvent>,
    name: EventName,
    value: serde_json::Value,
    outcome: FaultOutcome,
) {
    tracing::info!(f = name.f(), outcome = outcome.as_str(), "nemesis");
    let _ = events.send(FaultEvent::new(name, value, outcome));
}

/// Resolves run-time targets (the leader) and installs the action.
async fn install(cluster: &Cluster, action: Action) -> Result<(Action, FaultOutcome), Error> {
    Ok(match action {
        Action::Partition { shape: Shape::IsolateLeader, grudge: None } => {
            let n = cluster.node_names().len();
            match cluster.leader().await {
                Some(l) => {
                    let idx = cluster.node_names().iter().position(|x| *x == l).unwrap_or(0);
                    let grudge = Grudge::isolate(n, idx);
                    let out = cluster.set_cut(&grudge)?;
                    (Action::Partition { shape: Shape::IsolateLeader, grudge: Some(grudge) }, out)
                }
                None => (
                    Action::Partition { shape: Shape::IsolateLeader, grudge: None },
                    FaultOutcome::Skipped("no leader known".into()),
                ),
            }
        }
        Action::Partition { shape, grudge } => {
            let out = match &grudge {
                Some(g) => cluster.set_cut(g)?,
                None => FaultOutcome::Skipped("no grudge".into()),
            };
            (Action::Partition { shape, grudge }, out)
        }
        Action::Kill { ref nodes } => {
            let outs: Result<Vec<_>, _> = names(nodes).iter().map(|n| cluster.kill(n)).collect();
            (action.clone(), FaultOutcome::combine(outs?))
        }
        Action::Pause { ref nodes } => {
            let outs: Result<Vec<_>, _> = names(nodes).iter().map(|n| cluster.pause(n)).collect();
            (action.clone(), FaultOutcome::combine(outs?))
        }
        Action::ClockBump { ref nodes, delta_ms } => {
            let mut outs = Vec::new();
            for n in names(nodes) {
                let (off, rate) = cluster.clock(&n).unwrap_or((0, 1.0));
                outs.push(cluster.set_clock(&n, off + delta_ms, rate).await?);
            }
            (action.clone(), FaultOutcome::combine(outs))
        }
        Action::ClockStrobe { ref nodes, delta_ms, .. } => {
            let mut outs = Vec::new();
            for n in names(nodes) {
                outs.push(cluster.set_clock(&n, delta_ms, 1.0).await?);
            }
            (action.clone(), FaultOutcome::combine(outs))
        }
        Action::ClockRate { ref nodes, rate } => {
            let mut outs = Vec::new();
            for n in names(nodes) {
                let (off, _) = cluster.clock(&n).unwrap_or((0, 1.0));
                outs.push(cluster.set_clock(&n, off, rate).await?);
            }
            (action.clone(), FaultOutcome::combine(outs))
        }
        Action::Loss { probability } => (action.clone(), cluster.set_loss(probability)?),
        Action::Delay { ms } => (action.clone(), cluster.set_delay(Duration::from_millis(ms))?),
        Action::Duplicate { probability } => (action.clone(), cluster.set_duplicate(probability)?),
        Action::PowerLoss { nodes, seed, .. } => {
            // Aim: cut while a target holds un-fsynced writes, if one does within a second.
            let waited = cluster.await_unsynced(&names(&nodes), Duration::from_secs(1)).await;
            tracing::debug!(?waited, "power loss aimed at un-fsynced writes");
            let (out, dropped) = cluster.power_loss(&names(&nodes), seed)?;
            (Action::PowerLoss { nodes, seed, dropped: Some(dropped) }, out)
        }
        Action::Figure8 => unreachable!("Nemesis::start runs the figure8 sequence itself"),
        Action::Membership { .. } => unreachable!("Nemesis::start_also removes members itself"),
        Action::Reconfigure { .. } => (
            action,
            FaultOutcome::Skipped(
                "reconfigure runs only within Nemesis::run's fault periods".into(),
            ),
        ),
    })
}

/// Undoes an installed action; returns the end event's value and outcome (steps on the way
/// are reported on `events`).
async fn undo(
    cluster: &Cluster,
    action: &Action,
    events: &UnboundedSender<FaultEvent>,
) -> Result<(serde_json::Value, FaultOutcome), Error> {
    Ok(match action {
        Action::Partition { shape, .. } => {
            let out = cluster.heal()?;
            let mut value = json!({ "shape": shape.name() });
            if let Some(n) = cluster.last_cut_traffic() {
                value["cut_traffic"] = json!(n);
            }
            (value, out)
        }
        Action::Kill { nodes } | Action::PowerLoss { nodes, .. } => {
            let outs: Result<Vec<_>, _> =
                names(nodes).iter().map(|n| cluster.start_node(n)).collect();
            (json!({ "nodes": names(nodes) }), FaultOutcome::combine(outs?))
        }
        Action::Pause { nodes } => {
            let outs: Result<Vec<_>, _> = names(nodes).iter().map(|n| cluster.resume(n)).collect();
            (json!({ "nodes": names(nodes) }), FaultOutcome::combine(outs?))
        }
        Action::ClockBump { nodes, .. }
        | Action::ClockStrobe { nodes, .. }
        | Action::ClockRate { nodes, .. } => {
            let mut outs = Vec::new();
            for n in names(nodes) {
                outs.push(cluster.set_clock(&n, 0, 1.0).await?);
            }
            (json!({ "nodes": names(nodes) }), FaultOutcome::combine(outs))
        }
        Action::Loss { .. } => (json!({}), cluster.set_loss(0.0)?),
        Action::Delay { .. } => (json!({}), cluster.set_delay(Duration::ZERO)?),
        Action::Duplicate { .. } => (json!({}), cluster.set_duplicate(0.0)?),
        Action::Figure8 => {
            cluster.set_delay(Duration::ZERO)?;
            (json!({ "shape": "figure8" }), cluster.heal()?)
        }
        Action::Reconfigure { .. } => (json!({}), FaultOutcome::Installed),
        Action::Membership { nodes } => {
            // One at a time: each but the last gets its end event here, the last one's is
            // the caller's.
            let Some((&last, rest)) = nodes.split_last() else {
                return Ok((json!({ "nodes": [] }), FaultOutcome::Skipped("no member".into())));
            };
            for &node in rest {
                let (value, outcome) = crate::membership::add_back(cluster, node, events).await?;
                emit(events, action.stop_event(), value, outcome);
            }
            crate::membership::add_back(cluster, last, events).await?
        }
    })
}

/// Flips the nodes' clocks between +`delta_ms` and +0 every `period_ms` until `end`.
async fn strobe(
    cluster: &Cluster,
    nodes: &[usize],
    delta_ms: i64,
    period_ms: u64,
    end: Instant,
) -> Result<(), Error> {
    let period = Duration::from_millis(period_ms.max(1));
    let mut high = true;
    while Instant::now() + period < end {
        tokio::time::sleep(period).await;
        high = !high;
        for n in names(nodes) {
            cluster.set_clock(&n, if high { delta_ms } else { 0 }, 1.0).await?;
        }
    }
    tokio::time::sleep_until(end).await;
    Ok(())
}
