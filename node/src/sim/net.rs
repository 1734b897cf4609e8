//! The simulated network: per-link cuts (partitions), loss, delay and reordering.
//!
//! ```text
//!  send ─▶ loss? (rng) ─▶ delay drawn (rng; a few long delays reorder) ─▶ Deliver event
//!  Deliver ─▶ link cut at delivery time? drop : hand to the node
//! ```

use crate::raft::types::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

/// Network behaviour, times in microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    /// Smallest one-way delay.
    pub min_delay_us: u64,
    /// Largest ordinary one-way delay.
    pub max_delay_us: u64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message takes a long delay (up to `long_delay_us`): reordering.
    pub long_delay: f64,
    /// Largest long delay.
    pub long_delay_us: u64,
}

impl NetConfig {
    /// A LAN: 0.2-1 ms, no loss, no long delays.
    pub fn reliable() -> NetConfig {
        NetConfig {
            min_delay_us: 200,
            max_delay_us: 1_000,
            loss: 0.0,
            long_delay: 0.0,
            long_delay_us: 0,
        }
    }

    /// 6.824's unreliable network: 10% loss, up to 27 ms delays, some long delays.
    pub fn unreliable() -> NetConfig {
        NetConfig {
            min_delay_us: 200,
            max_delay_us: 27_000,
            loss: 0.1,
            long_delay: 0.05,
            long_delay_us: 200_000,
        }
    }
}

/// The network state.
#[derive(Clone, Debug)]
pub struct SimNet {
    /// Behaviour.
    pub cfg: NetConfig,
    /// Cut links (from, to): messages on them are dropped at delivery.
    cut: BTreeSet<(NodeId, NodeId)>,
}

impl SimNet {
    /// A fully connected network.
    pub fn new(cfg: NetConfig) -> SimNet {
        SimNet { cfg, cut: BTreeSet::new() }
    }

    /// The delay for one message, or `None` when it is lost.
    pub fn draw_delay(&self, rng: &mut ChaCha8Rng) -> Option<u64> {
        let c = &self.cfg;
        if c.loss > 0.0 && rng.random_bool(c.loss) {
            return None;
        }
        if c.long_delay > 0.0 && rng.random_bool(c.long_delay) {
            return Some(rng.random_range(c.max_delay_us..=c.long_delay_us.max(c.max_delay_us)));
        }
        Some(rng.random_range(c.min_delay_us..=c.max_delay_us.max(c.min_delay_us)))
    }

    /// True when messages from `from` to `to` get through.
    pub fn is_connected(&self, from: NodeId, to: NodeId) -> bool {
        !self.cut.contains(&(from, to))
    }

    /// Cuts one direction of a link.
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        self.cut.insert((from, to));
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut_both(&mut self, a: NodeId, b: NodeId) {
        self.cut(a, b);
        self.cut(b, a);
    }

    /// Splits the nodes into groups that cannot talk to each other.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.heal();
        for (i, g) in groups.iter().enumerate() {
            for h in groups.iter().skip(i + 1) {
                for a in g {
                    for b in h {
                        self.cut_both(*a, *b);
                    }
                }
            }
        }
    }

    /// Cuts `node` off from `all` other nodes.
    pub fn isolate(&mut self, node: NodeId, all: &[NodeId]) {
        for other in all.iter().filter(|o| **o != node) {
            self.cut_both(node, *other);
        }
    }

    /// Reconnects `node` with every node it is cut from.
    pub fn reconnect(&mut self, node: NodeId) {
        self.cut.retain(|(a, b)| *a != node && *b != node);
    }

    /// Reconnects everything.
    pub fn heal(&mut self) {
        self.cut.clear();
    }
}
