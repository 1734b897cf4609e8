//! The `Network` seam: what carries node-to-node traffic and how the nemesis hurts it
//! (partitions, packet loss, delay).
//!
//! ```text
//! Cluster ──set_cut / set_loss / set_delay──> dyn Network
//!   local host:  the controller's TCP proxies (one per link or per destination)
//!   netns host:  iptables rules in each node's namespace
//!   a system with its own network (a message router in the controller): that router
//! ```
//!
//! Links are directed node-index pairs `(from, to)`, 0-based: cutting `(i, j)` stops what `i`
//! sends to `j`. An implementation that cannot do a fault answers `Skipped` with the reason.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::{Error, FaultOutcome};

/// Where the nemesis's network faults go.
pub trait Network: Send + Sync + std::fmt::Debug {
    /// Cuts exactly the links in `cut` (replacing any earlier cut; empty heals).
    ///
    /// # Errors
    /// The rules could not be installed (e.g. an iptables command failed).
    fn set_cut(&self, cut: &BTreeSet<(usize, usize)>) -> Result<FaultOutcome, Error>;

    /// Drops each node-to-node packet (or message) with probability `p`; 0 stops it.
    ///
    /// # Errors
    /// The rules could not be installed.
    fn set_loss(&self, p: f64) -> Result<FaultOutcome, Error>;

    /// Holds node-to-node traffic for `delay` (zero removes it).
    ///
    /// # Errors
    /// The rules could not be installed.
    fn set_delay(&self, delay: Duration) -> Result<FaultOutcome, Error>;

    /// Delivers each node-to-node message a second time with probability `p`; 0 stops it.
    /// Skipped by a network of streams (the default), which never duplicates.
    ///
    /// # Errors
    /// The rules could not be installed.
    fn set_duplicate(&self, _p: f64) -> Result<FaultOutcome, Error> {
        Ok(FaultOutcome::Skipped(faultline_api::fault::DUPLICATE_NEEDS_MESSAGES.into()))
    }

    /// Traffic stopped by cuts since the network was made (connections refused or closed,
    /// or packets dropped, as the network counts it); `None` where it does not count. A
    /// partition during which this did not grow cut no traffic.
    fn cut_traffic(&self) -> Option<u64> {
        None
    }

    /// Live node-to-node connections it carries now (0 where it does not count them).
    fn live_connections(&self) -> usize {
        0
    }

    /// Stops carrying traffic and removes what it made. Synchronous, idempotent, best effort
    /// (the panic guard calls it).
    fn shutdown(&self);
}
