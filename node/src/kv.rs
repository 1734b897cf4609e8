//! The KV state machine: a pure `apply(&Command) -> Response` with client sessions.
//!
//! ```text
//!  committed Command ─▶ session table: (client, seq) seen? ─ yes ─▶ cached Response
//!                                                          └ no ──▶ apply op, cache, answer
//! ```
//!
//! Each client session remembers its last sequence number and the response it got
//! ([`Sessions`]), so a retried request is applied at most once, across leader changes,
//! snapshots (the table is part of the snapshot) and restarts (the log is replayed through
//! the same table). A shard of a replica group is one `Kv`: its sessions move with it.

use crate::api::{Command, Op, Response};
pub use crate::machine::RestoreError;
use crate::machine::StateMachine;
use crate::raft::types::{ClientId, NodeId, UnsafeBug};
use crate::session::{Seen, Sessions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The replicated key-value store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    data: BTreeMap<String, String>,
    sessions: Sessions<Response>,
    /// `--unsafe-bug no-dedup`: retries are applied again (not part of the snapshot).
    #[serde(skip)]
    no_dedup: bool,
}

impl Kv {
    /// An empty store; `no_dedup` switches on the `no-dedup` bug.
    pub fn new(no_dedup: bool) -> Kv {
        Kv { no_dedup, ..Kv::default() }
    }

    /// Applies a committed command, at most once per (client, seq).
    pub fn apply(&mut self, cmd: &Command) -> Response {
        if !self.no_dedup {
            match self.sessions.seen(cmd.client, cmd.seq) {
                Seen::New => {}
                Seen::Retry(response) => return response,
                // An old retry overtaken by a newer request of the same client: its outcome
                // is no longer kept.
                Seen::Stale => return Response::unknown("stale-request"),
            }
        }
        let response = self.execute(cmd);
        self.sessions.record(cmd.client, cmd.seq, response.clone());
        response
    }

    /// Serves a read from the local state (ReadIndex, lease and stale reads).
    pub fn read(&self, key: &str) -> Response {
        Response::Ok { value: self.data.get(key).cloned() }
    }

    fn execute(&mut self, cmd: &Command) -> Response {
        let ok = Response::Ok { value: None };
        match &cmd.op {
            Op::Get => self.read(&cmd.key),
            Op::Put(v) => {
                self.data.insert(cmd.key.clone(), v.clone());
                ok
            }
            Op::Append(v) => {
                self.data.entry(cmd.key.clone()).or_default().push_str(v);
                ok
            }
            Op::Cas { expected, new } => {
                let current = self.data.get(&cmd.key);
                if current == expected.as_ref() {
                    self.data.insert(cmd.key.clone(), new.clone());
                    ok
                } else {
                    Response::Fail { error: "cas-mismatch".into(), value: current.cloned() }
                }
            }
            Op::Delete => {
                self.data.remove(&cmd.key);
                ok
            }
        }
    }

    /// Encodes the whole state, session table included.
    pub fn snapshot(&self) -> Vec<u8> {
        // Maps of strings and integers always serialize.
        postcard::to_stdvec(self).expect("encoding the kv state cannot fail")
    }

    /// Replaces the state with a snapshot's.
    ///
    /// # Errors
    ///
    /// [`RestoreError`] when the bytes are not a kv snapshot (the state is unchanged).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        let restored: Kv =
            if bytes.is_empty() { Kv::default() } else { postcard::from_bytes(bytes)? };
        self.data = restored.data;
        self.sessions = restored.sessions;
        Ok(())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Forgets the session table (`--unsafe-bug shard-no-dedup-transfer` sends shards
    /// without it).
    pub fn forget_sessions(&mut self) {
        self.sessions.clear();
    }

    /// Approximate size of the state in bytes.
    pub fn size_bytes(&self) -> usize {
        self.data.iter().map(|(k, v)| k.len() + v.len() + 16).sum::<usize>()
            + self.sessions.len() * 48
    }
}

impl StateMachine for Kv {
    type Command = Command;
    type Response = Response;
    type Options = ();

    fn new(_: &(), bug: Option<UnsafeBug>) -> Kv {
        Kv::new(bug == Some(UnsafeBug::NoDedup))
    }

    fn request_id(cmd: &Command) -> (ClientId, u64) {
        (cmd.client, cmd.seq)
    }

    fn is_read(cmd: &Command) -> bool {
        cmd.op.is_read()
    }

    fn apply(&mut self, cmd: &Command) -> Response {
        Kv::apply(self, cmd)
    }

    fn read(&self, cmd: &Command) -> Response {
        Kv::read(self, &cmd.key)
    }

    fn not_leader(leader: Option<NodeId>) -> Response {
        Response::NotLeader { leader }
    }

    fn unknown(reason: &str) -> Response {
        Response::unknown(reason)
    }

    fn snapshot(&self) -> Vec<u8> {
        Kv::snapshot(self)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        Kv::restore(self, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn cmd(client: u64, seq: u64, key: &str, op: Op) -> Command {
        Command { client: ClientId(client), seq, key: key.into(), op }
    }

    #[test]
    fn ops_dedup_and_snapshot() {
        let mut kv = Kv::new(false);
        let ok = Response::Ok { value: None };
        assert_eq!(kv.apply(&cmd(1, 1, "k", Op::Append("a".into()))), ok);
        assert_eq!(kv.apply(&cmd(1, 1, "k", Op::Append("a".into()))), ok, "retry is cached");
        assert_eq!(kv.apply(&cmd(2, 1, "k", Op::Get)), Response::Ok { value: Some("a".into()) });
        let mismatch = kv.apply(&cmd(2, 2, "k", Op::Cas { expected: None, new: "x".into() }));
        assert_eq!(
            mismatch,
            Response::Fail { error: "cas-mismatch".into(), value: Some("a".into()) }
        );
        assert_eq!(
            kv.apply(&cmd(2, 3, "k", Op::Cas { expected: Some("a".into()), new: "b".into() })),
            ok
        );
        assert_eq!(kv.apply(&cmd(1, 0, "k", Op::Delete)), Response::unknown("stale-request"));
        let snap = kv.snapshot();
        let mut other = Kv::new(false);
        other.restore(&snap).unwrap();
        assert_eq!(other, kv);
        assert_eq!(other.apply(&cmd(1, 1, "k", Op::Append("a".into()))), ok);
        assert_eq!(other.read("k"), Response::Ok { value: Some("b".into()) }, "session survived");
        assert!(other.restore(b"\xff\xff\xff").is_err());
    }

    #[test]
    fn no_dedup_bug_applies_retries_again() {
        let mut kv = Kv::new(true);
        kv.apply(&cmd(1, 1, "k", Op::Append("a".into())));
        kv.apply(&cmd(1, 1, "k", Op::Append("a".into())));
        assert_eq!(kv.read("k"), Response::Ok { value: Some("aa".into()) });
    }
}
