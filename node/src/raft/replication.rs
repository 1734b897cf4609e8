//! Log replication (Raft paper §5.3) with pipelining, batching and fast back-up, and the
//! commit rule of Figure 8 (§5.4.2).
//!
//! ```text
//!  propose ─▶ log + unpersisted ─ take_actions ─▶ Send(Append) to each follower, then
//!                                                 PersistEntries (leader writes in parallel)
//!  Append ─▶ follower: check prev, truncate conflicts, PersistEntries, then Send(response)
//!  AppendResponse ─▶ leader: match/next, refill pipeline, commit by counting (own term only)
//! ```

use crate::raft::action::Action;
use crate::raft::core::RaftCore;
use crate::raft::message::Body;
use crate::raft::progress::ProgressState;
use crate::raft::types::{Entry, LogIndex, NodeId, Role, Term, UnsafeBug};

impl RaftCore {
    /// Leader tick: heartbeats, retransmissions, check-quorum.
    pub(crate) fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.cfg.election_ticks {
            self.election_elapsed = 0;
            // Check quorum: step down if a majority was not heard from in a whole election
            // timeout, so that clients of a partitioned leader learn about it.
            let me = self.cfg.id;
            let m = self.membership();
            let active = (m.voters.iter())
                .filter(|v| **v == me || self.progress.get(v).is_some_and(|p| p.active))
                .count();
            for p in self.progress.values_mut() {
                p.active = false;
            }
            if active < self.quorum() {
                tracing::debug!(id = %self.cfg.id, term = %self.term, "lost quorum, stepping down");
                self.become_follower(self.term, None);
                return;
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
            self.retransmit();
        }
    }

    /// Resends what seems lost: unanswered probes, stalled pipelines, snapshot chunks.
    fn retransmit(&mut self) {
        let timeout = 2 * self.cfg.heartbeat_ticks;
        let now = self.ticks;
        for peer in self.peers.clone() {
            let Some(pr) = self.progress.get_mut(&peer) else { continue };
            match pr.state {
                ProgressState::Probe => {
                    if pr.probe_sent.is_some_and(|t| now >= t + timeout) {
                        pr.probe_sent = None;
                    }
                }
                ProgressState::Replicate => {
                    if pr.inflight.front().is_some_and(|(_, t)| now >= t + timeout) {
                        let next = pr.match_index.next();
                        pr.become_probe(next);
                    }
                }
                ProgressState::Snapshot => {
                    if pr.snapshot.is_some_and(|(_, _, t)| now >= t + timeout) {
                        self.send_snapshot_chunk(peer);
                        continue;
                    }
                }
            }
            self.send_append(peer);
        }
    }

    /// Sends batched new entries to every follower, then hands them out for persisting.
    pub(crate) fn flush_leader(&mut self) {
        if !self.unpersisted.is_empty() {
            for peer in self.peers.clone() {
                self.send_append(peer);
            }
            self.flush_unpersisted();
            if self.other_voters().is_empty() {
                self.maybe_commit();
            }
        }
        self.flush_reads();
    }

    /// Sends as many appends to `peer` as its state allows.
    pub(crate) fn send_append(&mut self, peer: NodeId) {
        loop {
            let last = self.log.last_index();
            let Some(pr) = self.progress.get(&peer) else { return };
            let probing = match pr.state {
                ProgressState::Snapshot => return,
                ProgressState::Probe if pr.probe_sent.is_some() => return,
                ProgressState::Probe => true,
                ProgressState::Replicate if pr.inflight.len() >= self.cfg.max_inflight => return,
                ProgressState::Replicate if pr.next_index > last => return,
                ProgressState::Replicate => false,
            };
            let prev_index = pr.next_index.prev();
            let Some(prev_term) = self.log.term_at(prev_index) else {
                // The entries this follower needs were compacted away.
                self.start_snapshot(peer);
                return;
            };
            let entries = self.log.slice(
                pr.next_index,
                last,
                self.cfg.max_batch_entries,
                self.cfg.max_batch_bytes,
            );
            let sent_last = entries.last().map(|e| e.index);
            let commit = self.commit;
            let now = self.ticks;
            let Some(pr) = self.progress.get_mut(&peer) else { return };
            if probing {
                pr.probe_sent = Some(now);
            } else if let Some(sent_last) = sent_last {
                pr.next_index = sent_last.next();
                pr.inflight.push_back((sent_last, now));
            }
            self.send(peer, Body::Append { prev_index, prev_term, entries, commit });
            if probing {
                return;
            }
        }
    }

    /// Follower side of AppendEntries (Raft paper Figure 2, receiver implementation).
    pub(crate) fn on_append(
        &mut self,
        from: NodeId,
        prev_index: LogIndex,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: LogIndex,
    ) {
        self.accept_leader(from);
        let reject =
            |core: &mut RaftCore, conflict_term: Option<Term>, conflict_index: LogIndex| {
                let body = Body::AppendResponse {
                    success: false,
                    prev_index,
                    match_index: LogIndex(0),
                    conflict_term,
                    conflict_index,
                };
                core.send(from, body);
            };
        let snap_index = self.log.snapshot_index();
        // Entries at or below our snapshot are committed, so they match the leader's.
        let (prev_index_eff, entries) = if prev_index < snap_index {
            let skip = (snap_index.0 - prev_index.0) as usize;
            if skip > entries.len() {
                // Everything in this message is already in our snapshot.
                let body = Body::AppendResponse {
                    success: true,
                    prev_index,
                    match_index: snap_index,
                    conflict_term: None,
                    conflict_index: LogIndex(0),
                };
                self.send(from, body);
                return;
            }
            (snap_index, entries[skip..].to_vec())
        } else {
            (prev_index, entries)
        };
        if prev_index_eff > self.log.last_index() {
            return reject(self, None, self.log.last_index().next());
        }
        match self.log.term_at(prev_index_eff) {
            Some(t) if prev_index_eff == prev_index && t != prev_term => {
                let first = self.log.first_index_of_term_at(prev_index_eff);
                return reject(self, Some(t), first);
            }
            None => return reject(self, None, self.log.last_index().next()),
            _ => {}
        }
        let match_index = LogIndex(prev_index_eff.0 + entries.len() as u64);
        // Skip entries we already hold; truncate from the first conflict.
        let mut truncate_from = None;
        let mut new = Vec::new();
        for e in entries {
            if new.is_empty() && truncate_from.is_none() {
                match self.log.term_at(e.index) {
                    Some(t) if t == e.term => continue,
                    Some(_) => {
                        assert!(
                            e.index > self.commit || self.cfg.bug.is_some(),
                            "leader overwrote committed entry {} (commit {})",
                            e.index,
                            self.commit
                        );
                        if e.index <= self.commit {
                            // Only a planted bug gets here: say so in the node's log.
                            tracing::warn!(id = %self.cfg.id, index = %e.index, commit = %self.commit,
                                "leader overwrote a committed entry");
                        }
                        self.log.truncate_from(e.index);
                        self.note_truncated(e.index);
                        self.persisted = self.persisted.min(e.index.prev());
                        truncate_from = Some(e.index);
                    }
                    None => {}
                }
            }
            new.push(e);
        }
        if !new.is_empty() || truncate_from.is_some() {
            for e in &new {
                self.log.push(e.clone());
            }
            self.note_appended(&new);
            self.actions.push(Action::PersistEntries { truncate_from, entries: new });
        }
        self.commit_to(commit.min(match_index));
        let body = Body::AppendResponse {
            success: true,
            prev_index,
            match_index,
            conflict_term: None,
            conflict_index: LogIndex(0),
        };
        self.send(from, body);
    }

    /// Leader side of an AppendEntries answer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_append_response(
        &mut self,
        from: NodeId,
        success: bool,
        prev_index: LogIndex,
        match_index: LogIndex,
        conflict_term: Option<Term>,
        conflict_index: LogIndex,
    ) {
        if self.role != Role::Leader {
            self.stats.dropped_stale += 1;
            return;
        }
        let last = self.log.last_index();
        let next_for_term = conflict_term.and_then(|t| self.log.last_index_of_term(t));
        let Some(pr) = self.progress.get_mut(&from) else { return };
        pr.active = true;
        if success {
            if match_index > pr.match_index {
                pr.match_index = match_index.min(last);
            }
            pr.inflight.retain(|(i, _)| *i > match_index);
            match pr.state {
                ProgressState::Probe => pr.become_replicate(),
                ProgressState::Replicate => {
                    pr.next_index = pr.next_index.max(pr.match_index.next())
                }
                ProgressState::Snapshot => {}
            }
            self.maybe_commit();
        } else {
            let stale = match pr.state {
                ProgressState::Probe => prev_index.next() != pr.next_index,
                ProgressState::Replicate => prev_index < pr.match_index,
                ProgressState::Snapshot => true,
            };
            if stale {
                self.stats.dropped_stale += 1;
                return;
            }
            // Fast back-up: skip the follower's whole conflicting term at once.
            let next = match (conflict_term, next_for_term) {
                (Some(_), Some(i)) => i.next(),
                _ => conflict_index,
            };
            let next = next.min(prev_index).max(LogIndex(1));
            pr.become_probe(next);
        }
        self.send_append(from);
    }

    /// Commits the highest index that a majority holds, if it is of the current term
    /// (Raft paper §5.4.2, Figure 8). With [`UnsafeBug::CommitOldTerm`] any term counts.
    pub(crate) fn maybe_commit(&mut self) {
        // Only voters count; the leader counts itself only while it is one (a leader that
        // is removing itself manages the cluster without being part of it, thesis §4.2.2).
        let me = self.cfg.id;
        let m = self.membership();
        let mut matches: Vec<LogIndex> = (m.voters.iter())
            .map(|v| {
                if *v == me {
                    self.persisted
                } else {
                    self.progress.get(v).map_or(LogIndex(0), |p| p.match_index)
                }
            })
            .collect();
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&candidate) = matches.get(self.quorum() - 1) else { return };
        if candidate <= self.commit {
            return;
        }
        let term_ok = self.log.term_at(candidate) == Some(self.term)
            || self.cfg.has_bug(UnsafeBug::CommitOldTerm);
        if term_ok {
            let was_in_term = self.committed_in_term();
            self.commit_to(candidate);
            if !was_in_term && self.committed_in_term() {
                self.on_first_commit_in_term();
            }
            self.step_down_if_removed();
        }
    }

    /// Records contact from the current leader `from`.
    pub(crate) fn accept_leader(&mut self, from: NodeId) {
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(self.term, Some(from));
        }
        self.leader_contact = Some(self.ticks);
        self.election_elapsed = 0;
    }

    /// Follower side of a heartbeat.
    pub(crate) fn on_heartbeat(&mut self, from: NodeId, commit: LogIndex, round: u64) {
        self.accept_leader(from);
        // The leader sends min(commit, our match), so our log matches up to there.
        self.commit_to(commit.min(self.log.last_index()));
        let last_index = self.log.last_index();
        self.send(from, Body::HeartbeatResponse { round, last_index });
    }

    /// Leader side of a heartbeat answer: liveness, read rounds, lagging followers.
    pub(crate) fn on_heartbeat_response(&mut self, from: NodeId, round: u64, last_index: LogIndex) {
        if self.role != Role::Leader {
            self.stats.dropped_stale += 1;
            return;
        }
        let behind = self.log.last_index();
        let Some(pr) = self.progress.get_mut(&from) else { return };
        pr.active = true;
        let idle = pr.state == ProgressState::Replicate && pr.inflight.is_empty();
        if idle && last_index < pr.match_index {
            // The follower lost acknowledged entries (a torn WAL tail, or a disk that lied
            // about fsync): probe again from what it has. A lower match index only makes
            // future commits more conservative.
            pr.match_index = last_index;
            pr.become_probe(last_index.next());
            self.send_append(from);
        } else if idle && (last_index < behind || pr.match_index < behind) {
            self.send_append(from);
        }
        self.on_round_ack(from, round);
    }

    /// Sends a heartbeat to every follower, starting a new read round.
    pub(crate) fn broadcast_heartbeat(&mut self) {
        let round = self.reads.next_round(self.ticks);
        for peer in self.peers.clone() {
            let matched = self.progress.get(&peer).map_or(LogIndex(0), |p| p.match_index);
            self.send(peer, Body::Heartbeat { commit: self.commit.min(matched), round });
        }
        if self.other_voters().is_empty() {
            self.on_round_ack(self.cfg.id, round);
        }
    }
}
