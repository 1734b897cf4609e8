//! When a peer message may leave the node: the ordering rule of `raft::Action`, kept apart
//! from the I/O so that it can be tested on its own.
//!
//! ```text
//!   Output::Send(msg) ──route(msg, after_persist)──▶ Some(msg): send now
//!                                                 └─▶ None: deferred until job N is durable
//!   WAL thread: "jobs ≤ N durable" ──synced(N)──▶ the deferred messages now free, in order
//! ```
//!
//! - A message that follows a `Persist*` in its output list waits for that list's WAL job.
//! - A response (vote, pre-vote, append, heartbeat, snapshot responses) waits for every job
//!   submitted before it, whichever list it came from: a response is a promise about this
//!   node's durable state (e.g. a duplicate `Append` answered from entries whose fsync is
//!   still running) and must not overtake that fsync.
//! - A leader's requests (`Append`, `Heartbeat`, `InstallSnapshot`) and vote requests with
//!   no persist before them leave at once: a leader replicates entries while it writes them
//!   itself (Raft thesis §10.2.1).
//!
//! Deferred messages wait in a FIFO whose required job numbers never decrease, so they leave
//! in the order the core produced them.

use std::collections::VecDeque;

use crate::raft::message::{Body, Message};

/// Tracks WAL jobs and holds back the messages that must wait for them.
#[derive(Debug, Default)]
pub struct SendGate {
    /// Number of the last WAL job submitted.
    issued: u64,
    /// Every job up to this number is durable.
    done: u64,
    /// (job that must be durable, message); job numbers non-decreasing.
    deferred: VecDeque<(u64, Message)>,
}

/// Whether a message is a response (a promise about this node's durable state).
pub fn is_response(msg: &Message) -> bool {
    matches!(
        msg.body,
        Body::PreVoteResponse { .. }
            | Body::VoteResponse { .. }
            | Body::AppendResponse { .. }
            | Body::HeartbeatResponse { .. }
            | Body::InstallSnapshotResponse { .. }
    )
}

impl SendGate {
    /// The number the next WAL job gets (the job of the output list being routed).
    pub fn next_job(&self) -> u64 {
        self.issued + 1
    }

    /// Records that job [`SendGate::next_job`] was submitted.
    pub fn submitted(&mut self) {
        self.issued += 1;
    }

    /// Routes `msg`; `after_persist` says whether a persist precedes it in its output list
    /// (that persist goes into job [`SendGate::next_job`]). Returns the message if it may
    /// leave now; otherwise keeps it until [`SendGate::synced`] frees it.
    pub fn route(&mut self, msg: Message, after_persist: bool) -> Option<Message> {
        let need = if after_persist {
            self.next_job()
        } else if is_response(&msg) {
            self.issued
        } else {
            0
        };
        // Behind a deferred message, a message that must wait at all waits too (order).
        if need > self.done || (need > 0 && !self.deferred.is_empty()) {
            self.deferred.push_back((need.max(self.deferred.back().map_or(0, |d| d.0)), msg));
            None
        } else {
            Some(msg)
        }
    }

    /// Jobs up to `seq` are durable: returns the messages that may now leave, in order.
    pub fn synced(&mut self, seq: u64) -> Vec<Message> {
        self.done = self.done.max(seq);
        let mut free = Vec::new();
        while self.deferred.front().is_some_and(|(need, _)| *need <= self.done) {
            if let Some((_, msg)) = self.deferred.pop_front() {
                free.push(msg);
            }
        }
        free
    }

    /// Messages waiting for a WAL job.
    #[cfg(test)]
    pub fn deferred(&self) -> usize {
        self.deferred.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{LogIndex, NodeId, Term};
    use pretty_assertions::assert_eq;

    fn heartbeat(to: u64) -> Message {
        let body = Body::Heartbeat { commit: LogIndex(0), round: 0 };
        Message { from: NodeId(1), to: NodeId(to), term: Term(1), body }
    }

    fn vote_response(to: u64) -> Message {
        let body = Body::VoteResponse { granted: true };
        Message { from: NodeId(1), to: NodeId(to), term: Term(1), body }
    }

    fn to(msgs: &[Message]) -> Vec<u64> {
        msgs.iter().map(|m| m.to.0).collect()
    }

    #[test]
    fn nothing_outstanding_means_everything_leaves() {
        let mut gate = SendGate::default();
        assert!(gate.route(heartbeat(2), false).is_some());
        assert!(gate.route(vote_response(2), false).is_some());
    }

    #[test]
    fn a_message_after_a_persist_waits_for_that_job() {
        let mut gate = SendGate::default();
        // List: [PersistHardState, Send(VoteResponse)] -> job 1.
        assert!(gate.route(vote_response(2), true).is_none());
        gate.submitted();
        assert!(gate.synced(0).is_empty());
        assert_eq!(to(&gate.synced(1)), vec![2]);
        assert_eq!(gate.deferred(), 0);
    }

    #[test]
    fn a_response_waits_for_earlier_jobs_but_a_leader_request_does_not() {
        let mut gate = SendGate::default();
        gate.submitted(); // job 1 outstanding (from an earlier list)
        assert!(gate.route(vote_response(2), false).is_none(), "response must wait for job 1");
        assert!(gate.route(heartbeat(3), false).is_some(), "leader request leaves at once");
        gate.submitted(); // job 2
        assert!(gate.route(vote_response(4), false).is_none());
        assert_eq!(to(&gate.synced(1)), vec![2]);
        assert_eq!(to(&gate.synced(2)), vec![4]);
    }

    #[test]
    fn deferred_messages_leave_in_order_even_when_merged_syncs_free_them_together() {
        let mut gate = SendGate::default();
        assert!(gate.route(vote_response(2), true).is_none()); // needs job 1
        gate.submitted();
        gate.submitted(); // job 2, e.g. from a later list
        assert!(gate.route(vote_response(3), false).is_none()); // needs job 2
        assert_eq!(to(&gate.synced(2)), vec![2, 3]);
    }
}
