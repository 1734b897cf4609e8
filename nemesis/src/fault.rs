//! The fault vocabulary: the kinds a user picks (`--nemesis partition,kill`) and the concrete
//! actions a schedule plans (pure data; [`crate::Nemesis`] carries them out).

use serde_json::json;

use crate::partition::{Grudge, Shape};

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
            Action::Figure8 => Fault::Figure8,
            Action::Reconfigure { .. } => Fault::Reconfigure,
            Action::Membership { .. } => Fault::Membership,
            Action::PowerLoss { .. } => Fault::PowerLoss,
        }
    }

    /// The event name for the start of this fault.
    pub fn start_event(&self) -> &'static str {
        match self {
            Action::Partition { .. } => "start-partition",
            Action::Kill { .. } => "kill",
            Action::Pause { .. } => "pause",
            Action::ClockBump { .. } => "clock-bump",
            Action::ClockStrobe { .. } => "clock-strobe",
            Action::ClockRate { .. } => "clock-rate",
            Action::Loss { .. } => "start-loss",
            Action::Figure8 => "start-partition",
            Action::Reconfigure { .. } => "reconfigure",
            Action::Membership { .. } => "remove-member",
            Action::PowerLoss { .. } => "power-loss",
        }
    }

    /// The event name for the end of this fault.
    pub fn stop_event(&self) -> &'static str {
        match self {
            Action::Partition { .. } => "stop-partition",
            Action::Kill { .. } => "start",
            Action::Pause { .. } => "resume",
            Action::ClockBump { .. } | Action::ClockStrobe { .. } | Action::ClockRate { .. } => {
                "clock-reset"
            }
            Action::Loss { .. } => "stop-loss",
            Action::Figure8 => "stop-partition",
            Action::Reconfigure { .. } => "reconfigure",
            Action::Membership { .. } => "promote-member",
            Action::PowerLoss { .. } => "power-on",
        }
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
        assert_eq!((a.start_event(), a.stop_event()), ("kill", "start"));
        assert_eq!(a.to_json(), json!({"nodes":["n3"]}));
        let m = Action::Membership { nodes: vec![1] }.with_nodes(vec![4]);
        assert_eq!((m.start_event(), m.stop_event()), ("remove-member", "promote-member"));
        assert_eq!(m.to_json(), json!({"nodes":["n5"]}));
        for f in [m.start_event(), m.stop_event()] {
            assert_eq!(faultline_api::fault::event_fault(f, None).map(|e| e.0), Some(m.kind()));
        }
        let p = Action::PowerLoss { nodes: vec![1], seed: 4, dropped: None };
        assert_eq!((p.start_event(), p.stop_event()), ("power-loss", "power-on"));
        assert_eq!(
            faultline_api::fault::event_fault("power-on", None),
            Some((Fault::PowerLoss, false))
        );
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
