//! The client requests a [`super::Service`] has not answered yet.
//!
//! ```text
//!  write: proposed at index i ──────────────────────────▶ answered when i is applied
//!  read:  read_index ─ReadReady(index)─▶ waiting apply ──▶ answered when index applied
//!  any:   deadline (ticks) passed ───────────────────────▶ unknown / timeout
//! ```

use super::RequestToken;
use crate::raft::types::{ClientId, LogIndex};
use std::collections::BTreeMap;

/// A write waiting for its log slot to be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WaitingWrite {
    pub(crate) token: RequestToken,
    client: ClientId,
    seq: u64,
    deadline: u64,
}

impl WaitingWrite {
    /// True when `id` (client, sequence number) is the request that was proposed.
    pub(crate) fn matches(&self, id: (ClientId, u64)) -> bool {
        id == (self.client, self.seq)
    }
}

/// A read waiting for leadership confirmation (`index` unset) or for the apply index.
#[derive(Clone, Debug, PartialEq, Eq)]
struct WaitingRead<C> {
    cmd: C,
    index: Option<LogIndex>,
    deadline: u64,
}

/// All pending requests, ordered so that answers come out deterministically.
#[derive(Clone, Debug)]
pub(crate) struct Pending<C> {
    writes: BTreeMap<LogIndex, WaitingWrite>,
    reads: BTreeMap<RequestToken, WaitingRead<C>>,
}

impl<C> Default for Pending<C> {
    fn default() -> Self {
        Pending { writes: BTreeMap::new(), reads: BTreeMap::new() }
    }
}

impl<C> Pending<C> {
    /// A write proposed at `index`; returns the token of a request that waited on the
    /// same index before (its entry was overwritten).
    pub(crate) fn add_write(
        &mut self,
        index: LogIndex,
        token: RequestToken,
        (client, seq): (ClientId, u64),
        deadline: u64,
    ) -> Option<RequestToken> {
        let w = WaitingWrite { token, client, seq, deadline };
        self.writes.insert(index, w).map(|old| old.token)
    }

    /// A read waiting for [`crate::raft::Action::ReadReady`].
    pub(crate) fn add_read_index(&mut self, token: RequestToken, cmd: C, deadline: u64) {
        self.reads.insert(token, WaitingRead { cmd, index: None, deadline });
    }

    /// A read to serve once `index` is applied.
    pub(crate) fn add_read(&mut self, token: RequestToken, cmd: C, index: LogIndex, deadline: u64) {
        self.reads.insert(token, WaitingRead { cmd, index: Some(index), deadline });
    }

    /// Leadership confirmed for read `token`: serve it once `index` is applied.
    pub(crate) fn read_ready(&mut self, token: RequestToken, index: LogIndex) {
        if let Some(r) = self.reads.get_mut(&token) {
            r.index = Some(index);
        }
    }

    /// Drops read `token`; true when it was pending.
    pub(crate) fn remove_read(&mut self, token: RequestToken) -> bool {
        self.reads.remove(&token).is_some()
    }

    /// The write waiting on `index`, if any.
    pub(crate) fn take_write(&mut self, index: LogIndex) -> Option<WaitingWrite> {
        self.writes.remove(&index)
    }

    /// Removes the writes at or below `index` (covered by an installed snapshot).
    pub(crate) fn writes_up_to(&mut self, index: LogIndex) -> Vec<RequestToken> {
        let rest = self.writes.split_off(&index.next());
        std::mem::replace(&mut self.writes, rest).into_values().map(|w| w.token).collect()
    }

    /// Removes and returns the reads whose index is applied.
    pub(crate) fn reads_ready(&mut self, applied: LogIndex) -> Vec<(RequestToken, C)> {
        let ready: Vec<RequestToken> = self
            .reads
            .iter()
            .filter(|(_, r)| r.index.is_some_and(|i| i <= applied))
            .map(|(t, _)| *t)
            .collect();
        ready.into_iter().filter_map(|t| self.reads.remove(&t).map(|r| (t, r.cmd))).collect()
    }

    /// Removes and returns the requests whose deadline passed.
    pub(crate) fn expire(&mut self, now: u64) -> Vec<RequestToken> {
        let mut out = Vec::new();
        self.writes.retain(|_, w| {
            let keep = w.deadline > now;
            if !keep {
                out.push(w.token);
            }
            keep
        });
        self.reads.retain(|t, r| {
            let keep = r.deadline > now;
            if !keep {
                out.push(*t);
            }
            keep
        });
        out
    }

    /// Removes and returns every pending request.
    pub(crate) fn drain(&mut self) -> Vec<RequestToken> {
        let writes = std::mem::take(&mut self.writes).into_values().map(|w| w.token);
        let reads = std::mem::take(&mut self.reads).into_keys();
        writes.chain(reads).collect()
    }

    /// Number of pending requests.
    pub(crate) fn len(&self) -> usize {
        self.writes.len() + self.reads.len()
    }
}
