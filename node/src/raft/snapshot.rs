//! InstallSnapshot in chunks (Raft paper §7) for followers behind the compacted prefix.
//!
//! ```text
//!  leader: next entry compacted ─▶ Snapshot state ─▶ InstallSnapshot{offset, chunk}
//!  follower: append chunk at offset ─▶ (done) PersistSnapshot, ApplySnapshot, then answer
//!  leader: next_offset ─▶ next chunk ... done ─▶ match = snapshot index, back to Probe
//! ```

use crate::raft::action::Action;
use crate::raft::core::RaftCore;
use crate::raft::message::Body;
use crate::raft::progress::ProgressState;
use crate::raft::types::{LogIndex, NodeId, Role, Snapshot, SnapshotMeta};

impl RaftCore {
    /// Starts sending the latest snapshot to `peer`.
    pub(crate) fn start_snapshot(&mut self, peer: NodeId) {
        let Some(last) = self.snapshot.as_ref().map(|s| s.meta.last_index) else {
            // Cannot happen: entries are only compacted into a snapshot.
            tracing::error!(%peer, "entries compacted but no snapshot held");
            return;
        };
        let Some(pr) = self.progress.get_mut(&peer) else { return };
        pr.state = ProgressState::Snapshot;
        pr.inflight.clear();
        pr.probe_sent = None;
        pr.snapshot = Some((last, 0, self.ticks));
        tracing::debug!(%peer, %last, "sending snapshot");
        self.send_snapshot_chunk(peer);
    }

    /// Sends the chunk `peer` expects next (restarting when the snapshot changed).
    pub(crate) fn send_snapshot_chunk(&mut self, peer: NodeId) {
        let Some(snap) = self.snapshot.as_ref() else { return };
        let Some(pr) = self.progress.get_mut(&peer) else { return };
        let Some((last, mut offset, _)) = pr.snapshot else { return };
        if last != snap.meta.last_index {
            offset = 0;
        }
        let len = snap.data.len() as u64;
        let end = (offset + self.cfg.snapshot_chunk_bytes as u64).min(len);
        let start = offset.min(end);
        let data = snap.data[start as usize..end as usize].to_vec();
        let meta = snap.meta.clone();
        pr.snapshot = Some((meta.last_index, offset, self.ticks));
        let done = end == len;
        self.send(peer, Body::InstallSnapshot { meta, offset: start, data, done });
    }

    /// Leader side of an InstallSnapshot answer.
    pub(crate) fn on_install_snapshot_response(
        &mut self,
        from: NodeId,
        last_index: LogIndex,
        next_offset: u64,
        done: bool,
    ) {
        if self.role != Role::Leader {
            self.stats.dropped_stale += 1;
            return;
        }
        let Some(pr) = self.progress.get_mut(&from) else { return };
        pr.active = true;
        match pr.snapshot {
            Some((last, _, t)) if pr.state == ProgressState::Snapshot && last == last_index => {
                if done {
                    pr.match_index = pr.match_index.max(last_index);
                    pr.become_probe(last_index.next());
                    self.maybe_commit();
                    self.send_append(from);
                } else {
                    pr.snapshot = Some((last, next_offset, t));
                    self.send_snapshot_chunk(from);
                }
            }
            _ => self.stats.dropped_stale += 1,
        }
    }

    /// Follower side: collects chunks; installs the snapshot when the last one arrives.
    pub(crate) fn on_install_snapshot(
        &mut self,
        from: NodeId,
        meta: SnapshotMeta,
        offset: u64,
        data: Vec<u8>,
        done: bool,
    ) {
        self.accept_leader(from);
        let last_index = meta.last_index;
        if last_index <= self.commit {
            // We already hold everything it covers (committed entries match the leader's).
            self.incoming = None;
            self.send(
                from,
                Body::InstallSnapshotResponse { last_index, next_offset: 0, done: true },
            );
            return;
        }
        if offset == 0 {
            self.incoming = Some(Snapshot { meta: meta.clone(), data: Vec::new() });
        }
        let expected = match &self.incoming {
            Some(s) if s.meta == meta => s.data.len() as u64,
            _ => 0,
        };
        if offset != expected {
            let body =
                Body::InstallSnapshotResponse { last_index, next_offset: expected, done: false };
            self.send(from, body);
            return;
        }
        let Some(incoming) = self.incoming.as_mut() else { return };
        incoming.data.extend_from_slice(&data);
        let next_offset = incoming.data.len() as u64;
        if !done {
            self.send(from, Body::InstallSnapshotResponse { last_index, next_offset, done: false });
            return;
        }
        let Some(snapshot) = self.incoming.take() else { return };
        self.install_snapshot(snapshot);
        self.send(from, Body::InstallSnapshotResponse { last_index, next_offset, done: true });
    }

    /// Replaces the log prefix (or the whole log) with `snapshot` and applies it.
    fn install_snapshot(&mut self, snapshot: Snapshot) {
        let (index, term) = (snapshot.meta.last_index, snapshot.meta.last_term);
        let retain_suffix = self.log.term_at(index) == Some(term);
        tracing::debug!(id = %self.cfg.id, %index, retain_suffix, "installing snapshot");
        self.log.compact_to(index, term);
        if retain_suffix {
            self.configs.compact_to(index);
        } else {
            self.configs.reset(index, snapshot.meta.membership.clone());
            self.on_membership_changed();
        }
        self.persisted = if retain_suffix { self.persisted.max(index) } else { index };
        self.snapshot = Some(snapshot.clone());
        self.actions.push(Action::PersistSnapshot { snapshot: snapshot.clone(), retain_suffix });
        self.commit = self.commit.max(index);
        if self.applied < index {
            self.applied = index;
            self.actions.push(Action::ApplySnapshot(snapshot));
        }
        // Committed entries after the snapshot (when the suffix was kept) are applied
        // when the leader's commit index reaches us.
    }
}
