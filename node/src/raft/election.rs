//! Leader election (Raft paper §5.2) with pre-vote and leader stickiness (thesis §9.6).
//!
//! ```text
//!  timeout ─▶ PreCandidate ── majority pre-votes ─▶ Candidate ── majority votes ─▶ Leader
//!                 │  majority refuses                  │ majority refuses / higher term
//!                 └──────────────▶ Follower ◀──────────┘
//! ```
//!
//! A campaign decides as soon as a majority grants or a majority refuses. Term and vote are
//! persisted (`PersistHardState`) before the `Send` that depends on them.

use crate::raft::core::RaftCore;
use crate::raft::message::Body;
use crate::raft::progress::Progress;
use crate::raft::types::{EntryPayload, LogIndex, NodeId, Role, Term, UnsafeBug};

impl RaftCore {
    /// The election timer fired: start a pre-vote round, or a real election.
    pub(crate) fn campaign(&mut self) {
        self.reset_election_timeout();
        self.votes.clear();
        self.votes.insert(self.cfg.id, true);
        let voters = self.other_voters();
        if self.cfg.pre_vote && !voters.is_empty() {
            self.role = Role::PreCandidate;
            self.leader = None;
            tracing::debug!(id = %self.cfg.id, term = %self.term, "pre-vote campaign");
            let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
            for peer in voters {
                let msg = crate::raft::message::Message {
                    from: self.cfg.id,
                    to: peer,
                    term: self.term.next(),
                    body: Body::PreVote { last_log_index, last_log_term },
                };
                self.actions.push(crate::raft::action::Action::Send(msg));
            }
        } else {
            self.start_election();
        }
    }

    /// Raises the term, votes for itself and asks every peer for its vote.
    pub(crate) fn start_election(&mut self) {
        self.flush_unpersisted();
        self.term = self.term.next();
        self.vote = Some(self.cfg.id);
        self.role = Role::Candidate;
        self.leader = None;
        self.votes.clear();
        self.votes.insert(self.cfg.id, true);
        self.stats.elections += 1;
        self.reset_election_timeout();
        tracing::debug!(id = %self.cfg.id, term = %self.term, "election");
        self.persist_hard_state();
        let voters = self.other_voters();
        if voters.is_empty() {
            self.become_leader();
            return;
        }
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        for peer in voters {
            self.send(peer, Body::Vote { last_log_index, last_log_term });
        }
    }

    /// Steps down to follower in `term` (which may be the current one).
    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        self.flush_unpersisted();
        if self.role == Role::Leader {
            self.fail_reads();
            self.progress.clear();
        }
        if term > self.term {
            self.term = term;
            self.vote = None;
            self.persist_hard_state();
        }
        if self.role != Role::Follower {
            self.reset_election_timeout();
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
    }

    /// Won the election: set up replication and append a no-op so that entries of earlier
    /// terms get committed (Raft paper §5.4.2, §8).
    pub(crate) fn become_leader(&mut self) {
        tracing::debug!(id = %self.cfg.id, term = %self.term, "became leader");
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        self.heartbeat_elapsed = 0;
        self.election_elapsed = 0;
        self.reads.reset();
        let next = self.log.last_index().next();
        self.progress = self.peers.iter().map(|p| (*p, Progress::new(next, self.ticks))).collect();
        // With the commit-old-term bug, the leader skips its no-op: previous-term entries
        // are then committed by counting replicas alone (the Figure 8 hazard).
        if !self.cfg.has_bug(UnsafeBug::CommitOldTerm) {
            self.append_local(EntryPayload::Noop);
        }
        for peer in self.peers.clone() {
            self.send_append(peer);
        }
        self.maybe_commit();
    }

    pub(crate) fn on_pre_vote(&mut self, from: NodeId, term: Term, index: LogIndex, last: Term) {
        let granted = term > self.term
            && self.is_voter(self.cfg.id)
            && !self.in_leader_lease()
            && self.log.is_up_to_date(index, last);
        let response_term = if granted { term } else { self.term };
        tracing::debug!(id = %self.cfg.id, %from, granted, "pre-vote");
        let msg = crate::raft::message::Message {
            from: self.cfg.id,
            to: from,
            term: response_term,
            body: Body::PreVoteResponse { granted },
        };
        self.actions.push(crate::raft::action::Action::Send(msg));
    }

    pub(crate) fn on_pre_vote_response(&mut self, from: NodeId, term: Term, granted: bool) {
        if self.role != Role::PreCandidate || term != self.term.next() && granted {
            self.stats.dropped_stale += 1;
            return;
        }
        if !granted && term == self.term.next() {
            // Refused by a node already at the term we would campaign in.
            self.become_follower(term, None);
            return;
        }
        self.votes.insert(from, granted);
        match self.tally() {
            Some(true) => self.start_election(),
            Some(false) => self.become_follower(self.term, None),
            None => {}
        }
    }

    pub(crate) fn on_vote(&mut self, from: NodeId, index: LogIndex, last: Term) {
        let can_vote = self.vote.is_none() || self.vote == Some(from);
        // A node that does not vote in its own configuration (a learner, a removed node,
        // a node that joined with an empty data dir) grants nothing.
        let granted = can_vote
            && self.is_voter(self.cfg.id)
            && self.leader.is_none()
            && self.role != Role::Leader
            && self.log.is_up_to_date(index, last);
        if granted {
            self.vote = Some(from);
            self.reset_election_timeout();
            self.persist_hard_state();
        }
        tracing::debug!(id = %self.cfg.id, %from, term = %self.term, granted, "vote");
        self.send(from, Body::VoteResponse { granted });
    }

    pub(crate) fn on_vote_response(&mut self, from: NodeId, granted: bool) {
        if self.role != Role::Candidate {
            self.stats.dropped_stale += 1;
            return;
        }
        self.votes.insert(from, granted);
        match self.tally() {
            Some(true) => self.become_leader(),
            Some(false) => self.become_follower(self.term, None),
            None => {}
        }
    }

    /// `Some(true)` once a majority granted, `Some(false)` once a majority refused.
    fn tally(&self) -> Option<bool> {
        let m = self.membership();
        let counted = self.votes.iter().filter(|(id, _)| m.is_voter(**id));
        let (yes, no) =
            counted.fold((0, 0), |(y, n), (_, g)| if *g { (y + 1, n) } else { (y, n + 1) });
        if yes >= self.quorum() {
            Some(true)
        } else if no >= self.quorum() {
            Some(false)
        } else {
            None
        }
    }
}
