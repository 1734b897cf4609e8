//! What the router counts: messages per directed link, node-to-node traffic per second
//! (delivered, cut, lost, delayed), requests to services, and misbehaviour with the first
//! offending lines; [`Stats::snapshot`] turns them into the run's `NetworkStats`.

use std::time::Instant;

use faultline_api::maelstrom::{LinkCount, Misbehaviour, NetworkStats, SecondCount};

/// Seconds of per-second counts kept; later seconds add to the last one.
const MAX_SECONDS: usize = 100_000;
/// Offending lines kept.
const MAX_SAMPLES: usize = 20;

/// Why a node-to-node message was not delivered at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drop {
    /// The link is cut.
    Cut,
    /// Lost at random.
    Lost,
    /// Held back (delivered later).
    Delayed,
}

/// A kind of misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrong {
    /// A stdout line that is not a message.
    NotAMessage,
    /// A message to a destination that does not exist.
    UnknownDest,
    /// A reply no client is waiting for.
    ReplyToNoRequest,
    /// A message dropped at a full inbox.
    Flood,
    /// A node's stdout closed.
    Exit,
}

/// The router's counters.
#[derive(Debug)]
pub(crate) struct Stats {
    start: Instant,
    n: usize,
    routed: u64,
    duplicated: u64,
    /// Node-to-node messages dropped by cuts, in all.
    cut: u64,
    service_requests: u64,
    /// `n * n` (delivered, dropped), row = sender.
    links: Vec<(u64, u64)>,
    seconds: Vec<SecondCount>,
    wrong: Misbehaviour,
}

impl Stats {
    /// Counters for `n` nodes, seconds counted from `start`.
    pub(crate) fn new(n: usize, start: Instant) -> Stats {
        Stats {
            start,
            n,
            routed: 0,
            duplicated: 0,
            cut: 0,
            service_requests: 0,
            links: vec![(0, 0); n * n],
            seconds: Vec::new(),
            wrong: Misbehaviour::default(),
        }
    }

    /// One message routed.
    pub(crate) fn routed(&mut self) {
        self.routed += 1;
    }

    /// One message the duplicate fault repeated.
    pub(crate) fn duplicated(&mut self) {
        self.duplicated += 1;
    }

    /// One request answered by a service.
    pub(crate) fn service(&mut self) {
        self.service_requests += 1;
    }

    /// One message from node `i` to node `j`: delivered (`None`) or not at once.
    pub(crate) fn link(&mut self, i: usize, j: usize, drop: Option<Drop>) {
        #[allow(clippy::disallowed_methods)] // the per-second bucket is wall time by design
        let second = Instant::now().duration_since(self.start).as_secs();
        let at = (second as usize).min(MAX_SECONDS - 1);
        if self.seconds.len() <= at {
            let from = self.seconds.len();
            self.seconds.extend(
                (from..=at).map(|s| SecondCount { second: s as u64, ..SecondCount::default() }),
            );
        }
        let sec = &mut self.seconds[at];
        let link = &mut self.links[i * self.n + j];
        match drop {
            None => {
                sec.delivered += 1;
                link.0 += 1;
            }
            Some(Drop::Delayed) => {
                sec.delayed += 1;
                link.0 += 1;
            }
            Some(Drop::Cut) => {
                self.cut += 1;
                sec.cut += 1;
                link.1 += 1;
            }
            Some(Drop::Lost) => {
                sec.lost += 1;
                link.1 += 1;
            }
        }
    }

    /// Node-to-node messages dropped by cuts so far.
    pub(crate) fn cut(&self) -> u64 {
        self.cut
    }

    /// One misbehaviour; `line` names the node and what it wrote.
    pub(crate) fn misbehaved(&mut self, what: Wrong, line: &str) {
        let w = &mut self.wrong;
        *match what {
            Wrong::NotAMessage => &mut w.not_a_message,
            Wrong::UnknownDest => &mut w.unknown_dest,
            Wrong::ReplyToNoRequest => &mut w.reply_to_no_request,
            Wrong::Flood => &mut w.flood,
            Wrong::Exit => &mut w.exits,
        } += 1;
        if w.samples.len() < MAX_SAMPLES {
            w.samples.push(faultline_api::cut(line, 200));
        }
    }

    /// The counts, links named by `names`.
    pub(crate) fn snapshot(&self, names: &[String]) -> NetworkStats {
        let links = self
            .links
            .iter()
            .enumerate()
            .filter(|(_, (d, x))| d + x > 0)
            .map(|(k, &(delivered, dropped))| LinkCount {
                from: names[k / self.n].clone(),
                to: names[k % self.n].clone(),
                delivered,
                dropped,
            })
            .collect();
        NetworkStats {
            routed: self.routed,
            duplicated: self.duplicated,
            service_requests: self.service_requests,
            links,
            seconds: self.seconds.clone(),
            misbehaviour: self.wrong.clone(),
        }
    }
}
