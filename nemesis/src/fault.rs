//! The fault vocabulary: the kinds a user picks (`--nemesis partition,kill`) and the concrete
//! actions a schedule plans (pure data; [`crate::Nemesis`] carries them out).

use serde_json::json;

use crate::partition::{Grudge, Shape};

use faultline_api::EventName;
pub use faultline_api::Fault;

/// One planned fault: what to install at the start of a fault period. The end of the
/// period undoes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Install a grudge. `grudge` is `None` for [`Shape::IsolateLeader`], resolved when
    /// installed.
    Partition {
        /// The shape.
        shape: Shape,
        /// The links to cut, when known in advance.
        grudge: Option<Grudge>,
    },
    /// SIGKILL these nodes (0-based); restart them at the end of the period.
    Kill {
        /// Nodes to kill.
        nodes: Vec<usize>,
    },
    /// SIGSTOP these nodes; SIGCONT at the end of the period.
    Pause {
        /// Nodes to pause.
        nodes: Vec<usize>,
    },
    /// Add `delta_ms` to these nodes' clocks; reset at the end.
    ClockBump {
        /// Nodes.
        nodes: Vec<usize>,
        /// Offset added, milliseconds (may be negative).
        delta_ms: i64,
    },
    /// Flip these nodes' clocks between +0 and +`delta_ms` every `period_ms` during the
    /// period; reset at the end.
    ClockStrobe {
        /// Nodes.
        nodes: Vec<usize>,
        /// Offset amplitude, milliseconds.
        delta_ms: i64,
        /// Flip period, milliseconds.
        period_ms: u64,
    },
    /// Run these nodes' clocks at `rate` times real speed; reset at the end.
    ClockRate {
        /// Nodes.
        nodes: Vec<usize>,
        /// Speed factor.
        rate: f64,
    },
    /// Drop each node-to-node packet with this probability.
    Loss {
        /// Drop probability in (0, 1).
        probability: f64,
    },
    /// Deliver each node-to-node message twice with this probability.
    Duplicate {
        /// Probability in (0, 1).
        probability: f64,
    },
    /// Hold node-to-node traffic back about this long.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Run the Figure 8 partition sequence (resolved step by step against the cluster).
    Figure8,
    /// Sharded KV: bursts of joins, leaves and moves for the period, drawn from `seed`
    /// against the controller's current configuration (`crate::reconfigure`).
    Reconfigure {
        /// Seed of the changes.
        seed: u64,
    },
    /// Remove these nodes (0-based) through the leader — while a partition is active, the
    /// voters the leader cannot reach instead — one request right after the other; at the
    /// end of the period stop them, wipe their data, start them empty and add them back
    /// (learner, then voter). See `crate::membership`.
    Membership {
        /// The nodes to remove (as planned: one).
        nodes: Vec<usize>,
    },
    /// SIGKILL these nodes and drop what their disks did not fsync (all of it, a prefix, a
    /// torn last write: drawn from `seed`); restart them at the end of the period.
    PowerLoss {
        /// Nodes to cut.
        nodes: Vec<usize>,
        /// Seed of what survives.
        seed: u64,
        /// What was thrown away, once installed.
        dropped: Option<crate::powerfs::Dropped>,
    },
}

impl Action {
    /// The fault kind this action belongs to.
    pub fn kind(&self) -> Fault {
        match self {
            Action::Partition { .. } => Fault::Partition,
            Action::Kill { .. } => Fault::Kill,
            Action::Pause { .. } => Fault::Pause,
            Action::ClockBump { .. } | Action::ClockStrobe { .. } | Action::ClockRate { .. } => {
                Fault::Clock
            }
            Action::Loss { .. } => Fault::Loss,
            Action::Delay { .. } => Fault::Delay,
            Action::Duplicate { .. } => Fault::Duplicate,
            Action::Figure8 => Fault::Figure8,
            Action::Reconfigure { .. } => Fault::Reconfigure,
            Action::Membership { .. } => Fault::Membership,
            Action::PowerLoss { .. } => Fault::PowerLoss,
        }
    }

    /// The event that starts this fault.
    pub fn start_event(&self) -> EventName {
        match self {
            Action::Partition { .. } => EventName::StartPartition,
            Action::Kill { .. } => EventName::Kill,
            Action::Pause { .. } => EventName::Pause,
            Action::ClockBump { .. } => EventName::ClockBump,
            Action::ClockStrobe { .. } => EventName::ClockStrobe,
            Action::ClockRate { .. } => EventName::ClockRate,
            Action::Loss { .. } => EventName::StartLoss,
            Action::Delay { .. } => EventName::StartDelay,
            Action::Duplicate { .. } => EventName::StartDuplicate,
            Action::Figure8 => EventName::StartFigure8,
            Action::Reconfigure { .. } => EventName::Reconfigure,
            Action::Membership { .. } => EventName::RemoveMember,
            Action::PowerLoss { .. } => EventName::PowerLoss,
        }
    }

    /// The event that ends this fault. Reconfigure has none of its own (each change starts
    /// and ends at once, and a reconfigure outside a fault period is skipped, so never
    /// ended): its name again.
    pub fn stop_event(&self) -> EventName {
        match self {
            Action::Partition { .. } => EventName::StopPartition,
            Action::Kill { .. } => EventName::Start,
            Action::Pause { .. } => EventName::Resume,
            Action::ClockBump { .. } | Action::ClockStrobe { .. } | Action::ClockRate { .. } => {
                EventName::ClockReset
            }
            Action::Loss { .. } => EventName::StopLoss,
            Action::Delay { .. } => EventName::StopDelay,
            Action::Duplicate { .. } => EventName::StopDuplicate,
            Action::Figure8 => EventName::StopFigure8,
            Action::Reconfigure { .. } => EventName::Reconfigure,
            Action::Membership { .. } => EventName::PromoteMember,
            Action::PowerLoss { .. } => EventName::PowerOn,
        }
    }

    /// The event of this action's start with `outcome`, its details as planned.
    pub fn started(&self, outcome: crate::FaultOutcome) -> crate::FaultEvent {
        crate::FaultEvent::new(self.start_event(), self.to_json(), outcome)
    }

    /// The same fault on other nodes (kills, pauses, clocks, power losses and membership;
    /// others are unchanged).
    pub fn with_nodes(self, new: Vec<usize>) -> Action {
        match self {
            Action::Kill { .. } => Action::Kill { nodes: new },
            Action::Pause { .. } => Action::Pause { nodes: new },
            Action::ClockBump { delta_ms, .. } => Action::ClockBump { nodes: new, delta_ms },
            Action::ClockStrobe { delta_ms, period_ms, .. } => {
                Action::ClockStrobe { nodes: new, delta_ms, period_ms }
            }
            Action::ClockRate { rate, .. } => Action::ClockRate { nodes: new, rate },
            Action::Membership { nodes } if new.is_empty() => Action::Membership { nodes },
            Action::Membership { .. } => Action::Membership { nodes: new },
            Action::PowerLoss { seed, dropped, .. } => {
                Action::PowerLoss { nodes: new, seed, dropped }
            }
            other => other,
        }
    }

    /// Event details before run-time resolution (e.g. `{"nodes":["n3"]}`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Action::Partition { shape, grudge } => {
                let mut v = grudge.as_ref().map_or_else(|| json!({}), Grudge::to_json);
                v["shape"] = json!(shape.name());
                v
            }
            Action::ClockBump { nodes, delta_ms } => {
                json!({ "nodes": names(nodes), "delta_ms": delta_ms })
            }
            Action::ClockStrobe { nodes, delta_ms, period_ms } => {
                json!({ "nodes": names(nodes), "delta_ms": delta_ms, "period_ms": period_ms })
            }
            Action::ClockRate { nodes, rate } => json!({ "nodes": names(nodes), "rate": rate }),
            Action::Loss { probability } => json!({ "probability": probability }),
            Action::Delay { ms } => json!({ "delay_ms": ms }),
            Action::Duplicate { probability } => json!({ "probability": probability }),
            Action::Figure8 => json!({ "shape": "figure8" }),
            Action::Reconfigure { seed } => json!({ "seed": seed }),
            Action::Kill { nodes } | Action::Pause { nodes } | Action::Membership { nodes } => {
                json!({ "nodes": names(nodes) })
            }
            Action::PowerLoss { nodes, seed, dropped } => {
                let mut v = json!({ "nodes": names(nodes), "seed": seed });
                if let Some(d) = dropped {
                    v["dropped"] = d.to_json();
                }
                v
            }
        }
    }
}

/// `[0, 2]` -> `["n1", "n3"]`.
pub fn names(nodes: &[usize]) -> Vec<String> {
    nodes.iter().map(|&i| faultline_api::node_name(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        let a = Action::Kill { nodes: vec![2] };
        assert_eq!((a.start_event().f(), a.stop_event().f()), ("kill", "start"));
        assert_eq!(a.to_json(), json!({"nodes":["n3"]}));
        let m = Action::Membership { nodes: vec![1] }.with_nodes(vec![4]);
        assert_eq!((m.start_event().f(), m.stop_event().f()), ("remove-member", "promote-member"));
        assert_eq!(m.to_json(), json!({"nodes":["n5"]}));
        let p = Action::PowerLoss { nodes: vec![1], seed: 4, dropped: None };
        assert_eq!((p.start_event().f(), p.stop_event().f()), ("power-loss", "power-on"));
        let f8 = Action::Figure8.started(crate::FaultOutcome::Installed);
        assert_eq!((f8.name.f(), f8.value), ("start-partition", json!({"shape": "figure8"})));
        // Every action's events belong to its fault.
        let actions = [
            Action::Partition { shape: Shape::MajorityMinority, grudge: None },
            a,
            Action::Pause { nodes: vec![0] },
            Action::ClockBump { nodes: vec![0], delta_ms: 5 },
            Action::ClockStrobe { nodes: vec![0], delta_ms: 5, period_ms: 10 },
            Action::ClockRate { nodes: vec![0], rate: 0.5 },
            Action::Loss { probability: 0.1 },
            Action::Figure8,
            Action::Reconfigure { seed: 1 },
            m,
            p.clone(),
        ];
        for a in &actions {
            assert_eq!(a.start_event().fault(), a.kind(), "{a:?}");
            assert_eq!(a.stop_event().fault(), a.kind(), "{a:?}");
        }
        let d = crate::powerfs::Dropped { changes: 4, files: 3, bytes: 8192, torn: true };
        let p = p.with_nodes(vec![0, 2]);
        let p = match p {
            Action::PowerLoss { nodes, seed, .. } => {
                Action::PowerLoss { nodes, seed, dropped: Some(d) }
            }
            other => other,
        };
        assert_eq!(
            p.to_json(),
            json!({"nodes":["n1","n3"],"seed":4,
                   "dropped":{"changes":4,"files":3,"bytes":8192,"torn":true}})
        );
    }
}
