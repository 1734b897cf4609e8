//! Safety checks over what the nodes applied (Raft paper §5.4.3, State Machine Safety), and
//! the agreement queries of the 6.824 tests (`n_committed`).

use super::SimCluster;
use crate::raft::types::{EntryPayload, LogIndex, NodeId};
use crate::service::Applied;

impl<M: crate::service::StateMachine> SimCluster<M> {
    /// Checks applied entries against every other node's (State Machine Safety, §5.4.3).
    pub(super) fn record_applied(&mut self, id: NodeId, applied: Vec<Applied>) {
        let Some(node) = self.nodes.get_mut(&id) else { return };
        for a in applied {
            match a {
                Applied::Snapshot { index, .. } => {
                    node.applied_last = index;
                    self.stats.snapshots_installed += 1;
                }
                Applied::Entry(e) => {
                    if e.index != node.applied_last.next() {
                        self.violations.push(format!(
                            "{id} applied {} after {} (out of order)",
                            e.index, node.applied_last
                        ));
                    }
                    node.applied_last = e.index;
                    match self.committed.get(&e.index) {
                        Some((t, p)) if (*t, p) != (e.term, &e.payload) => {
                            self.violations.push(format!(
                                "{id} applied index {} term {} but another node applied term {} there",
                                e.index, e.term, t
                            ));
                        }
                        Some(_) => {}
                        None => {
                            self.committed.insert(e.index, (e.term, e.payload.clone()));
                        }
                    }
                    node.applied.insert(e.index, e.payload);
                }
            }
        }
    }

    /// Election Safety (Raft paper Figure 3): at most one leader per term, over the whole
    /// run (a leader that lost its role still counts for its term).
    pub(super) fn check_leader(&mut self, id: NodeId) {
        let Some(core) = self.nodes.get(&id).and_then(|n| n.service.as_ref()).map(|s| s.core())
        else {
            return;
        };
        if core.role() != crate::raft::types::Role::Leader {
            return;
        }
        let term = core.term();
        let first = *self.leaders_by_term.entry(term).or_insert(id);
        if first != id {
            self.violations.push(format!("two leaders in term {term}: {first} and {id}"));
        }
    }

    /// How many nodes applied `index`, and the payload they agree on.
    pub fn n_committed(&self, index: LogIndex) -> (usize, Option<EntryPayload>) {
        let mut count = 0;
        let mut value = None;
        for n in self.nodes.values() {
            if let Some(p) = n.applied.get(&index) {
                count += 1;
                value = Some(p.clone());
            }
        }
        (count, value)
    }

    /// The payload applied at `index` by any node.
    pub fn committed_at(&self, index: LogIndex) -> Option<&EntryPayload> {
        self.committed.get(&index).map(|(_, p)| p)
    }

    /// The highest index any node applied.
    pub fn max_committed(&self) -> LogIndex {
        self.committed.keys().next_back().copied().unwrap_or_default()
    }
}
