//! The client session (de-duplication) table that every replicated state machine shares:
//! the KV store, the shard controller and each shard of a replica group.
//!
//! ```text
//!  (client, seq) ─▶ seen this seq?      ─ yes ─▶ the cached response (a retry)
//!                   older than the last? ─ yes ─▶ stale (the outcome is no longer kept)
//!                   else ─▶ apply, then record(client, seq, response)
//! ```
//!
//! A client has one request outstanding at a time and numbers its requests 1, 2, …, so
//! keeping the last request of each session is enough to apply every request at most once.

use crate::raft::types::ClientId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The last request of one client session and its response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Session<R> {
    seq: u64,
    response: R,
}

/// What the table says about a request before it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen<R> {
    /// Not seen: apply it.
    New,
    /// A retry of the last request: answer with its response.
    Retry(R),
    /// Older than the session's last request: its outcome is no longer known.
    Stale,
}

/// Last request and response of every client session, ordered by client id (so that the
/// table encodes the same on every replica).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(serialize = "R: Serialize", deserialize = "R: Deserialize<'de>"))]
pub struct Sessions<R> {
    table: BTreeMap<ClientId, Session<R>>,
}

impl<R> Default for Sessions<R> {
    fn default() -> Self {
        Sessions { table: BTreeMap::new() }
    }
}

impl<R: Clone> Sessions<R> {
    /// Looks `(client, seq)` up.
    pub fn seen(&self, client: ClientId, seq: u64) -> Seen<R> {
        match self.table.get(&client) {
            Some(s) if s.seq == seq => Seen::Retry(s.response.clone()),
            Some(s) if seq < s.seq => Seen::Stale,
            _ => Seen::New,
        }
    }

    /// Records the response of `(client, seq)`.
    pub fn record(&mut self, client: ClientId, seq: u64, response: R) {
        self.table.insert(client, Session { seq, response });
    }

    /// Merges `other` in, keeping the later request of each client (shards arriving from
    /// another group bring their sessions).
    pub fn merge(&mut self, other: &Sessions<R>) {
        for (client, s) in &other.table {
            if self.table.get(client).is_none_or(|mine| mine.seq < s.seq) {
                self.table.insert(*client, s.clone());
            }
        }
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no session is kept.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Forgets every session.
    pub fn clear(&mut self) {
        self.table.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stale_and_merge() {
        let mut s = Sessions::default();
        assert_eq!(s.seen(ClientId(1), 1), Seen::New);
        s.record(ClientId(1), 1, "a");
        assert_eq!(s.seen(ClientId(1), 1), Seen::Retry("a"));
        s.record(ClientId(1), 3, "c");
        assert_eq!(s.seen(ClientId(1), 2), Seen::Stale);
        assert_eq!(s.seen(ClientId(1), 4), Seen::New);
        let mut other = Sessions::default();
        other.record(ClientId(1), 2, "b");
        other.record(ClientId(2), 5, "x");
        s.merge(&other);
        assert_eq!(s.seen(ClientId(1), 3), Seen::Retry("c"), "the later request stays");
        assert_eq!(s.seen(ClientId(2), 5), Seen::Retry("x"));
        assert_eq!(s.len(), 2);
        s.clear();
        assert!(s.is_empty());
    }
}
