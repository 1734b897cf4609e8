//! Linearizable reads without writing to the log (Raft thesis §6.4) and the leader lease
//! (§6.4.1).
//!
//! ```text
//!  read_index(id) ─▶ wait until the leader committed an entry of its term
//!                 ─▶ record (id, commit index, next heartbeat round)
//!  take_actions   ─▶ Heartbeat{round} to every follower (one round serves many reads)
//!  HeartbeatResponse{round} from a majority ─▶ ReadReady{id, index}; lease renewed
//! ```
//!
//! A read may only be confirmed by a round *sent after* the read arrived: an answer to an
//! older heartbeat does not prove that no newer leader was elected in between.

use crate::raft::action::{Action, ReadId};
use crate::raft::core::RaftCore;
use crate::raft::types::{LogIndex, NodeId};
use std::collections::{BTreeMap, VecDeque};

/// A read waiting for its heartbeat round.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingRead {
    id: ReadId,
    index: LogIndex,
    round: u64,
}

/// A leader's read-index and lease bookkeeping.
#[derive(Clone, Debug, Default)]
pub struct ReadState {
    /// The last heartbeat round sent.
    round: u64,
    /// Rounds sent and the tick each was sent at, oldest first (pruned once acknowledged).
    sent: VecDeque<(u64, u64)>,
    /// The highest round each follower acknowledged.
    acked: BTreeMap<NodeId, u64>,
    /// Reads waiting for the leader's first commit in its term.
    waiting_commit: Vec<ReadId>,
    /// Reads that need a round that has not been sent yet.
    unsent: Vec<ReadId>,
    /// Reads waiting for a majority to acknowledge their round.
    pending: Vec<PendingRead>,
    /// The tick at which the latest round acknowledged by a majority was sent.
    pub(crate) lease_start: Option<u64>,
}

impl ReadState {
    /// Forget everything (new leadership).
    pub(crate) fn reset(&mut self) {
        *self = ReadState { round: self.round, ..ReadState::default() };
    }

    /// Starts the next round at tick `now`; returns its number.
    pub(crate) fn next_round(&mut self, now: u64) -> u64 {
        self.round += 1;
        self.sent.push_back((self.round, now));
        self.round
    }
}

impl RaftCore {
    /// Queues a read: it needs a fresh heartbeat round (sent at `take_actions`).
    pub(crate) fn start_read(&mut self, id: ReadId) {
        if self.committed_in_term() {
            self.reads.unsent.push(id);
        } else {
            self.reads.waiting_commit.push(id);
        }
    }

    /// The leader committed its first entry of the term: reads waiting for it can go on.
    pub(crate) fn on_first_commit_in_term(&mut self) {
        let waiting = std::mem::take(&mut self.reads.waiting_commit);
        self.reads.unsent.extend(waiting);
    }

    /// Sends one heartbeat round for every read queued since the last one.
    pub(crate) fn flush_reads(&mut self) {
        if self.reads.unsent.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.reads.unsent);
        let round = self.reads.round + 1;
        let index = self.commit;
        self.reads.pending.extend(ids.into_iter().map(|id| PendingRead { id, index, round }));
        self.broadcast_heartbeat();
    }

    /// `from` acknowledged heartbeat `round` (this node acknowledges its own rounds).
    pub(crate) fn on_round_ack(&mut self, from: NodeId, round: u64) {
        if from != self.cfg.id {
            let acked = self.reads.acked.entry(from).or_insert(0);
            *acked = (*acked).max(round);
        }
        // The highest round that a majority (this node included) acknowledged.
        let me = self.cfg.id;
        let mut rounds: Vec<u64> = (self.membership().voters.iter())
            .map(|v| {
                if *v == me {
                    self.reads.round
                } else {
                    self.reads.acked.get(v).copied().unwrap_or(0)
                }
            })
            .collect();
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&quorum_round) = rounds.get(self.quorum() - 1) else { return };
        while let Some(&(r, t)) = self.reads.sent.front() {
            if r > quorum_round {
                break;
            }
            self.reads.lease_start = Some(t);
            self.reads.sent.pop_front();
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reads.pending)
            .into_iter()
            .partition(|r| r.round <= quorum_round);
        self.reads.pending = waiting;
        for r in ready {
            self.actions.push(Action::ReadReady { id: r.id, index: r.index });
        }
    }

    /// Leadership lost: every queued read fails.
    pub(crate) fn fail_reads(&mut self) {
        let reads = std::mem::take(&mut self.reads);
        self.reads.round = reads.round;
        let ids = reads
            .waiting_commit
            .into_iter()
            .chain(reads.unsent)
            .chain(reads.pending.into_iter().map(|r| r.id));
        for id in ids {
            self.actions.push(Action::ReadFailed { id });
        }
    }
}
