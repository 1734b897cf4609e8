//! The simulated disk of one node: writes become durable only when their fsync completes;
//! a crash loses every write not yet synced.
//!
//! ```text
//!  submit(Persist*) ─▶ queued (seq n, done at t) ─ DiskDone(n) ─▶ durable (MemStorage)
//!  crash ─▶ queued writes are lost; durable state is what the node restarts from
//! ```

use crate::api::Response;
use crate::service::Output;
use crate::storage::MemStorage;
use std::collections::VecDeque;

/// One node's disk.
#[derive(Clone, Debug)]
pub struct SimDisk<R = Response> {
    /// What survives a crash.
    pub durable: MemStorage,
    /// Writes submitted and not yet synced, oldest first.
    queued: VecDeque<(u64, Output<R>)>,
    /// Sequence number of the last write submitted.
    submitted: u64,
    /// Sequence number of the last write synced.
    synced: u64,
    /// Virtual time until which the disk is busy.
    busy_until: u64,
    /// Bytes written (for status).
    pub bytes_written: u64,
}

impl<R> Default for SimDisk<R> {
    fn default() -> Self {
        SimDisk {
            durable: MemStorage::default(),
            queued: VecDeque::new(),
            submitted: 0,
            synced: 0,
            busy_until: 0,
            bytes_written: 0,
        }
    }
}

impl<R> SimDisk<R> {
    /// Queues a persist output; returns its sequence number and the time its fsync ends.
    pub fn submit(&mut self, out: Output<R>, now: u64, fsync_us: u64) -> (u64, u64) {
        self.submitted += 1;
        self.queued.push_back((self.submitted, out));
        self.busy_until = self.busy_until.max(now) + fsync_us;
        (self.submitted, self.busy_until)
    }

    /// Makes every write up to `seq` durable; returns them in order.
    pub fn complete(&mut self, seq: u64) -> Vec<Output<R>> {
        let mut done = Vec::new();
        while self.queued.front().is_some_and(|(s, _)| *s <= seq) {
            let Some((s, out)) = self.queued.pop_front() else { break };
            let action = match &out {
                Output::PersistHardState(hs) => crate::raft::action::Action::PersistHardState(*hs),
                Output::PersistEntries { truncate_from, entries } => {
                    self.bytes_written +=
                        entries.iter().map(|e| e.size_bytes() as u64).sum::<u64>();
                    crate::raft::action::Action::PersistEntries {
                        truncate_from: *truncate_from,
                        entries: entries.clone(),
                    }
                }
                Output::PersistSnapshot { snapshot, retain_suffix } => {
                    crate::raft::action::Action::PersistSnapshot {
                        snapshot: snapshot.clone(),
                        retain_suffix: *retain_suffix,
                    }
                }
                _ => continue,
            };
            self.durable.apply(&action);
            self.synced = s;
            done.push(out);
        }
        done
    }

    /// The last write submitted (a send after it must wait until it is synced).
    pub fn submitted(&self) -> u64 {
        self.submitted
    }

    /// True when every write up to `seq` is durable.
    pub fn is_synced(&self, seq: u64) -> bool {
        self.synced >= seq
    }

    /// A crash: unsynced writes are lost.
    pub fn crash(&mut self) {
        self.queued.clear();
        self.synced = self.submitted;
        self.busy_until = 0;
    }
}
