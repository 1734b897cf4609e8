//! The simulated nemesis: partitions, leader isolation, crashes, Figure 8 churn, clock skew,
//! membership changes. Every action is recorded as a `"process":"nemesis"` event, with the
//! real nemesis' names and values (`faultline_api::fault::event::TABLE`).

use super::{Faults, History, WorkloadConfig};
use crate::raft::membership::MemberChange;
use crate::raft::types::NodeId;
use crate::sim::SimCluster;
use faultline_api::EventName;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn nemesis_event(rec: &mut History, name: EventName, value: Value, time: u64) {
    rec.fault(name, value, time);
}

/// `{"nodes": ["n3"]}`.
fn nodes(ids: &[NodeId]) -> Value {
    json!({ "nodes": ids.iter().map(|n| n.to_string()).collect::<Vec<_>>() })
}

/// A partition's value: its sides (and its shape, when it has a name).
fn groups(groups: &[Vec<NodeId>], shape: Option<&str>) -> Value {
    let names: Vec<Vec<String>> =
        groups.iter().map(|g| g.iter().map(|n| n.to_string()).collect()).collect();
    let mut v = json!({ "groups": names });
    if let Some(shape) = shape {
        v["shape"] = json!(shape);
    }
    v
}

/// Cuts `victim` off from the others and records it (the real nemesis' isolate-leader).
fn isolate(sim: &mut SimCluster, ids: &[NodeId], victim: NodeId, rec: &mut History, now: u64) {
    sim.net.isolate(victim, ids);
    let rest: Vec<NodeId> = ids.iter().copied().filter(|n| *n != victim).collect();
    nemesis_event(
        rec,
        EventName::StartPartition,
        groups(&[vec![victim], rest], Some("isolate-leader")),
        now,
    );
}

pub(super) fn inject(sim: &mut SimCluster, ids: &[NodeId], wl: &WorkloadConfig, rec: &mut History) {
    let faults = wl.faults;
    let now = sim.now();
    if faults == Faults::ClockSkew {
        let victim = sim.leader().unwrap_or(ids[0]);
        sim.set_clock(victim, 0, wl.skew_rate);
        let mut rate = nodes(&[victim]);
        rate["rate"] = json!(wl.skew_rate);
        nemesis_event(rec, EventName::ClockRate, rate, now);
        isolate(sim, ids, victim, rec, now);
        return;
    }
    let both = matches!(faults, Faults::PartitionsAndCrashes | Faults::Membership);
    let partitions = both || faults == Faults::Partitions;
    let crashes = both || faults == Faults::Crashes;
    let choice = match (partitions, crashes) {
        (true, true) => sim.rng().random_range(0..4),
        (true, false) => sim.rng().random_range(0..2),
        _ => 2 + sim.rng().random_range(0..2),
    };
    match choice {
        0 => {
            let mut shuffled = ids.to_vec();
            shuffled.shuffle(sim.rng());
            let cut = sim.rng().random_range(1..ids.len());
            let groups = vec![shuffled[..cut].to_vec(), shuffled[cut..].to_vec()];
            sim.net.partition(&groups);
            nemesis_event(rec, EventName::StartPartition, self::groups(&groups, None), now);
        }
        1 => {
            let victim = sim.leader().unwrap_or(ids[0]);
            isolate(sim, ids, victim, rec, now);
        }
        2 => {
            let victim = ids[sim.rng().random_range(0..ids.len())];
            sim.crash(victim);
            nemesis_event(rec, EventName::Kill, nodes(&[victim]), now);
        }
        _ => {
            let victim = sim.leader().unwrap_or(ids[0]);
            sim.crash(victim);
            nemesis_event(rec, EventName::Kill, nodes(&[victim]), now);
        }
    }
}

/// One Figure 8 step: crash or isolate the leader; bring nodes back so a majority can
/// form again.
pub(super) fn churn(sim: &mut SimCluster, ids: &[NodeId], rec: &mut History) {
    let now = sim.now();
    if let Some(leader) = sim.leader() {
        if sim.rng().random_bool(0.5) {
            sim.crash(leader);
            nemesis_event(rec, EventName::Kill, nodes(&[leader]), now);
        } else {
            isolate(sim, ids, leader, rec, now);
        }
    }
    let reachable = |sim: &SimCluster, id: NodeId| {
        sim.is_up(id) && ids.iter().any(|o| *o != id && sim.net.is_connected(id, *o))
    };
    while ids.iter().filter(|id| reachable(sim, **id)).count() < ids.len() / 2 + 1 {
        let id = ids[sim.rng().random_range(0..ids.len())];
        sim.restart(id);
        sim.net.reconnect(id);
        nemesis_event(rec, EventName::Start, nodes(&[id]), now);
    }
}

pub(super) fn heal(sim: &mut SimCluster, ids: &[NodeId], rec: &mut History) {
    sim.net.heal();
    for id in ids {
        sim.restart(*id);
        sim.set_clock(*id, 0, 1.0);
    }
    // As the real nemesis' heal_all: links, clocks, then every node started.
    let now = sim.now();
    nemesis_event(rec, EventName::StopPartition, json!({}), now);
    nemesis_event(rec, EventName::ClockReset, nodes(ids), now);
    nemesis_event(rec, EventName::Start, nodes(ids), now);
}

/// The membership nemesis (Faults::Membership): removes a random voter (never below
/// `min_voters`), and once the removal has committed wipes the node's disk, adds it back as
/// a learner and promotes it once it has caught up. Each step tries up to `burst` changes
/// back to back (a correct leader refuses all but the first); after a change it sometimes
/// cuts the leader off with a minority of the old voters.
#[derive(Debug, Default)]
pub(super) struct Members {
    /// Removed and wiped, not yet a member again.
    wiped: BTreeSet<NodeId>,
}

impl Members {
    pub(super) fn step(
        &mut self,
        sim: &mut SimCluster,
        ids: &[NodeId],
        min_voters: usize,
        burst: usize,
        rec: &mut History,
    ) -> bool {
        let Some(leader) = sim.leader() else { return false };
        let old = match sim.service(leader) {
            Some(s) => s.core().membership().clone(),
            None => return false,
        };
        let mut changed = false;
        for _ in 0..burst {
            let Some(core) = sim.service(leader).map(|s| s.core()) else { return false };
            let m = core.membership().clone();
            let committed = core.membership_committed();
            self.wiped.retain(|n| !m.contains(*n));
            let caught_up =
                m.learners.iter().copied().find(|l| core.match_index(*l) >= core.commit_index());
            let out: Vec<NodeId> = ids.iter().copied().filter(|n| !m.contains(*n)).collect();
            let mut wiped = false;
            let (change, name) = if let Some(l) = caught_up {
                (MemberChange::Promote(l), EventName::PromoteMember)
            } else if let Some(&n) = out.iter().find(|n| self.wiped.contains(n)) {
                (MemberChange::AddLearner(n), EventName::AddMember)
            } else if let (Some(&n), true) = (out.first(), committed) {
                // Its removal committed: no quorum counts it any more, so losing its disk
                // is safe. It comes back empty, as a new member (as the real nemesis does).
                sim.wipe(n);
                self.wiped.insert(n);
                wiped = true;
                (MemberChange::AddLearner(n), EventName::AddMember)
            } else if m.voters.len() > min_voters {
                let voters: Vec<NodeId> = m.voters.iter().copied().collect();
                let n = voters[sim.rng().random_range(0..voters.len())];
                (MemberChange::Remove(n), EventName::RemoveMember)
            } else {
                break;
            };
            let node = match change {
                MemberChange::AddLearner(n)
                | MemberChange::Promote(n)
                | MemberChange::Remove(n) => n,
            };
            match sim.change_membership(leader, change) {
                Ok(index) => {
                    changed = true;
                    let mut value = nodes(&[node]);
                    value["leader"] = json!(leader.to_string());
                    value["index"] = json!(index.0);
                    if wiped {
                        value["wiped"] = json!(true);
                    }
                    nemesis_event(rec, name, value, sim.now());
                }
                Err(e) => {
                    tracing::debug!(%leader, ?change, %e, "membership change refused");
                    break;
                }
            }
        }
        if changed && sim.rng().random_bool(0.5) {
            // Cut the leader off with a majority of the new configuration that is a
            // minority of the old one. Between single-server changes that committed one at a
            // time no such side exists (their majorities intersect), so then it is the leader
            // and at most half of the old voters: a side that cannot commit on its own.
            let new =
                sim.service(leader).map(|s| s.core().membership().clone()).unwrap_or_default();
            let count = |side: &[NodeId], m: &crate::raft::Membership| {
                side.iter().filter(|n| m.is_voter(**n)).count()
            };
            let mut pool: Vec<NodeId> =
                new.voters.iter().copied().filter(|v| *v != leader).collect();
            pool.shuffle(sim.rng());
            let mut side = vec![leader];
            while count(&side, &new) < new.quorum() {
                let Some(n) = pool.pop() else { break };
                side.push(n);
            }
            if count(&side, &old) >= old.quorum() {
                let mut others: Vec<NodeId> =
                    old.voters.iter().copied().filter(|v| *v != leader).collect();
                others.shuffle(sim.rng());
                let keep = (old.voters.len() / 2).saturating_sub(1).min(others.len());
                side = others[..keep].to_vec();
                side.push(leader);
            }
            let rest: Vec<NodeId> = ids.iter().copied().filter(|n| !side.contains(n)).collect();
            let groups = vec![side, rest];
            sim.net.partition(&groups);
            nemesis_event(rec, EventName::StartPartition, self::groups(&groups, None), sim.now());
            return true;
        }
        false
    }
}
