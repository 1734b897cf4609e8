//! Membership of a running cluster, for the `membership` fault: what a node believes the
//! configuration is, changes through a leader, and the bookkeeping of removed members
//! (stopped and wiped, then started again as newcomers with `System::join_command`).

use super::Cluster;
use crate::sync::lock;
use crate::system::{ChangeAnswer, MemberChange, MemberView};
use crate::{Error, FaultOutcome};

impl Cluster {
    /// The membership `node` believes in force; `None` when it does not answer (or the
    /// system does not say).
    ///
    /// # Errors
    /// [`Error::UnknownNode`].
    pub async fn members(&self, node: &str) -> Result<Option<MemberView>, Error> {
        let i = self.index(node)?;
        if !self.is_running(node) || self.is_paused(node) {
            return Ok(None);
        }
        Ok(self.system.members(&self.http, &self.nodes[i], &self.nodes).await)
    }

    /// Asks `leader` for one membership change of `target`.
    ///
    /// # Errors
    /// [`Error::UnknownNode`].
    pub async fn change_member(
        &self,
        leader: &str,
        change: MemberChange,
        target: &str,
    ) -> Result<ChangeAnswer, Error> {
        let (l, t) = (self.index(leader)?, self.index(target)?);
        let (leader, target) = (&self.nodes[l], &self.nodes[t]);
        Ok(self.system.change_member(&self.http, leader, change, target, &self.nodes).await)
    }

    /// Marks `node` removed (no restart brings it back but [`Cluster::start_joining`]) or a
    /// voter again.
    ///
    /// # Errors
    /// [`Error::UnknownNode`].
    pub fn set_removed(&self, node: &str, removed: bool) -> Result<(), Error> {
        let i = self.index(node)?;
        lock(&self.removed)[i] = removed;
        Ok(())
    }

    /// Whether the membership fault removed `node` and it is not a voter again yet.
    pub fn is_removed(&self, node: &str) -> bool {
        self.index(node).is_ok_and(|i| lock(&self.removed)[i])
    }

    /// The nodes not removed, and `i`: the members once `i` has been added.
    pub(super) fn members_with(&self, i: usize) -> Vec<usize> {
        let removed = lock(&self.removed);
        (0..self.nodes.len()).filter(|&j| j == i || !removed[j]).collect()
    }

    /// Starts a removed (and wiped) node as a newcomer that waits to be added; it keeps
    /// starting so on later restarts (the system's `join_command`). Skipped when it runs already or the system cannot.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or the process could not be spawned.
    pub fn start_joining(&self, node: &str) -> Result<FaultOutcome, Error> {
        let i = self.index(node)?;
        if lock(&self.shared.procs)[i].is_running() {
            return Ok(FaultOutcome::Skipped(format!("{node} is already running")));
        }
        let members = self.members_with(i);
        if self.system.join_command(&self.nodes[i], &self.nodes, &members, &self.tag).is_none() {
            let why = format!("{} cannot start a node as a newcomer", self.system.name());
            return Ok(FaultOutcome::Skipped(why));
        }
        lock(&self.joining)[i] = true;
        self.spawn(i)?;
        Ok(FaultOutcome::Installed)
    }
}
