//! The simulated nemesis: partitions, leader isolation, crashes, Figure 8 churn, clock skew.
//! Every action is recorded as a `"process":"nemesis"` event.

use super::{Faults, HistoryLines, WorkloadConfig};
use crate::raft::types::NodeId;
use crate::sim::SimCluster;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};

fn nemesis_event(rec: &mut HistoryLines, f: &str, value: Value, time: u64) {
    rec.push(json!({"type": "info", "process": "nemesis", "f": f, "value": value}), time);
}

pub(super) fn inject(
    sim: &mut SimCluster,
    ids: &[NodeId],
    wl: &WorkloadConfig,
    rec: &mut HistoryLines,
) {
    let faults = wl.faults;
    let now = sim.now();
    if faults == Faults::ClockSkew {
        let victim = sim.leader().unwrap_or(ids[0]);
        sim.set_clock(victim, 0, wl.skew_rate);
        sim.net.isolate(victim, ids);
        nemesis_event(
            rec,
            "clock-rate",
            json!({"node": victim.to_string(), "rate": wl.skew_rate}),
            now,
        );
        nemesis_event(rec, "isolate", json!(victim.to_string()), now);
        return;
    }
    let partitions = matches!(faults, Faults::Partitions | Faults::PartitionsAndCrashes);
    let crashes = matches!(faults, Faults::Crashes | Faults::PartitionsAndCrashes);
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
            let names: Vec<Vec<String>> =
                groups.iter().map(|g| g.iter().map(|n| n.to_string()).collect()).collect();
            nemesis_event(rec, "start-partition", json!({"groups": names}), now);
        }
        1 => {
            let victim = sim.leader().unwrap_or(ids[0]);
            sim.net.isolate(victim, ids);
            nemesis_event(rec, "isolate", json!(victim.to_string()), now);
        }
        2 => {
            let victim = ids[sim.rng().random_range(0..ids.len())];
            sim.crash(victim);
            nemesis_event(rec, "kill", json!(victim.to_string()), now);
        }
        _ => {
            let victim = sim.leader().unwrap_or(ids[0]);
            sim.crash(victim);
            nemesis_event(rec, "kill-leader", json!(victim.to_string()), now);
        }
    }
}

/// One Figure 8 step: crash or isolate the leader; bring nodes back so a majority can
/// form again.
pub(super) fn churn(sim: &mut SimCluster, ids: &[NodeId], rec: &mut HistoryLines) {
    let now = sim.now();
    if let Some(leader) = sim.leader() {
        if sim.rng().random_bool(0.5) {
            sim.crash(leader);
            nemesis_event(rec, "kill-leader", json!(leader.to_string()), now);
        } else {
            sim.net.isolate(leader, ids);
            nemesis_event(rec, "isolate", json!(leader.to_string()), now);
        }
    }
    let reachable = |sim: &SimCluster, id: NodeId| {
        sim.is_up(id) && ids.iter().any(|o| *o != id && sim.net.is_connected(id, *o))
    };
    while ids.iter().filter(|id| reachable(sim, **id)).count() < ids.len() / 2 + 1 {
        let id = ids[sim.rng().random_range(0..ids.len())];
        sim.restart(id);
        sim.net.reconnect(id);
        nemesis_event(rec, "restart", json!(id.to_string()), now);
    }
}

pub(super) fn heal(sim: &mut SimCluster, ids: &[NodeId], rec: &mut HistoryLines) {
    sim.net.heal();
    for id in ids {
        sim.restart(*id);
        sim.set_clock(*id, 0, 1.0);
    }
    nemesis_event(rec, "heal", Value::Null, sim.now());
}
