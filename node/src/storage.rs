//! Durable state: what a node recovers at start-up and how the driver applies the core's
//! `Persist*` actions. [`MemStorage`] is the in-memory version used by the simulator (where
//! `SimDisk` decides what survives a crash); `wal` is the real file WAL.
//!
//! ```text
//!  Action::PersistHardState / PersistEntries / PersistSnapshot ─▶ Storage::persist
//!  start-up ─▶ Storage::recover ─▶ DurableState ─▶ RaftCore::new
//! ```

pub mod wal;

use crate::raft::action::Action;
use crate::raft::core::DurableState;
use crate::raft::types::{Entry, HardState, LogIndex, Snapshot};

/// What the core needs from storage: recovery at start-up and applying persist actions.
pub trait Storage {
    /// The error of the backing store.
    type Error: std::error::Error;

    /// Everything durable: hard state, snapshot, log entries after it.
    ///
    /// # Errors
    ///
    /// When the backing store cannot be read.
    fn recover(&self) -> Result<DurableState, Self::Error>;

    /// Applies one `Persist*` action (others are ignored). Durable once [`Storage::sync`]
    /// returns.
    ///
    /// # Errors
    ///
    /// When the backing store cannot be written.
    fn persist(&mut self, action: &Action) -> Result<(), Self::Error>;

    /// Makes everything persisted so far durable.
    ///
    /// # Errors
    ///
    /// When the backing store cannot be synced.
    fn sync(&mut self) -> Result<(), Self::Error>;
}

/// An in-memory store: exact, and never fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStorage {
    /// Term and vote.
    pub hard_state: HardState,
    /// The latest snapshot.
    pub snapshot: Option<Snapshot>,
    /// The entries after the snapshot, contiguous.
    pub entries: Vec<Entry>,
}

impl MemStorage {
    /// Applies one persist action (others are ignored).
    pub fn apply(&mut self, action: &Action) {
        match action {
            Action::PersistHardState(hs) => self.hard_state = *hs,
            Action::PersistEntries { truncate_from, entries } => {
                let from = truncate_from.or_else(|| entries.first().map(|e| e.index));
                if let Some(from) = from {
                    self.entries.retain(|e| e.index < from);
                }
                self.entries.extend(entries.iter().cloned());
            }
            Action::PersistSnapshot { snapshot, retain_suffix } => {
                let last = snapshot.meta.last_index;
                if *retain_suffix {
                    self.entries.retain(|e| e.index > last);
                } else {
                    self.entries.clear();
                }
                self.snapshot = Some(snapshot.clone());
            }
            _ => {}
        }
    }

    /// The last entry index held (the snapshot's when there are no entries).
    pub fn last_index(&self) -> LogIndex {
        self.entries
            .last()
            .map(|e| e.index)
            .or_else(|| self.snapshot.as_ref().map(|s| s.meta.last_index))
            .unwrap_or_default()
    }
}

impl Storage for MemStorage {
    type Error = std::convert::Infallible;

    fn recover(&self) -> Result<DurableState, Self::Error> {
        Ok(DurableState {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries: self.entries.clone(),
        })
    }

    fn persist(&mut self, action: &Action) -> Result<(), Self::Error> {
        self.apply(action);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
