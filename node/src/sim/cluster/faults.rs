//! Faults a test injects into a [`SimCluster`]: crash, restart, pause, clock changes.

use super::SimCluster;
use crate::raft::types::NodeId;
use crate::runtime::gate::SendGate;

impl<M: crate::service::StateMachine> SimCluster<M> {
    /// Crashes a node: its service and unsynced writes are gone.
    pub fn crash(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(&id) {
            tracing::debug!(%id, "crash");
            node.service = None;
            node.disk.crash();
            node.gate = SendGate::default();
            node.jobs.clear();
            node.stashed.clear();
            node.paused = false;
            node.epoch += 1;
        }
    }

    /// Restarts a crashed node from its durable state (no-op when it is up).
    pub fn restart(&mut self, id: NodeId) {
        if self.nodes.get(&id).is_some_and(|n| n.service.is_none()) {
            tracing::debug!(%id, "restart");
            self.boot(id);
        }
    }

    /// Loses a node's disk and restarts it empty as a node that joins an existing cluster
    /// (empty bootstrap configuration: it learns its configuration from the leader's log).
    /// Only safe for a node whose removal from the configuration has committed.
    pub fn wipe(&mut self, id: NodeId) {
        self.crash(id);
        if let Some(node) = self.nodes.get_mut(&id) {
            tracing::debug!(%id, "wipe");
            node.disk = super::SimDisk::default();
            node.joined = true;
        }
        self.boot(id);
    }

    /// Proposes a membership change at `leader` (which must believe it leads).
    ///
    /// # Errors
    ///
    /// [`ChangeError`](crate::raft::ChangeError) when the node is down, paused, or refuses.
    pub fn change_membership(
        &mut self,
        leader: NodeId,
        change: crate::raft::MemberChange,
    ) -> Result<crate::raft::LogIndex, crate::raft::ChangeError> {
        let not_leader = crate::raft::ChangeError::NotLeader { leader: None };
        let node = self.nodes.get_mut(&leader).filter(|n| !n.paused).ok_or(not_leader.clone())?;
        let index = node.service.as_mut().ok_or(not_leader)?.propose_change(change)?;
        self.drain(leader);
        Ok(index)
    }

    /// True when the node is running (not crashed).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes.get(&id).is_some_and(|n| n.service.is_some())
    }

    /// Pauses a node (SIGSTOP): its events wait until [`resume`](Self::resume).
    pub fn pause(&mut self, id: NodeId) {
        if let Some(n) = self.nodes.get_mut(&id) {
            n.paused = true;
        }
    }

    /// Resumes a paused node: its stashed events run now.
    pub fn resume(&mut self, id: NodeId) {
        let now = self.now;
        if let Some(n) = self.nodes.get_mut(&id) {
            n.paused = false;
            for e in std::mem::take(&mut n.stashed) {
                self.queue.push(now, e);
            }
        }
    }

    /// Sets a node's clock: `rate` scales its tick speed; a positive `jump_us` fires the
    /// ticks that the jump skips at once (a negative one is not modelled beyond the rate).
    pub fn set_clock(&mut self, id: NodeId, jump_us: i64, rate: f64) {
        let ticks = if jump_us > 0 { jump_us as u64 / self.cfg.tick_us } else { 0 };
        if let Some(n) = self.nodes.get_mut(&id) {
            n.rate = rate.max(0.01);
            if let Some(s) = n.service.as_mut() {
                for _ in 0..ticks {
                    s.tick();
                }
            }
        }
        if ticks > 0 {
            self.drain(id);
        }
    }
}
