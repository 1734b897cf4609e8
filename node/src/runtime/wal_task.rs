//! The WAL worker: a dedicated thread that owns the [`Wal`] and does group commit.
//!
//! ```text
//!   runtime loop ──WalJob{seq, ops}──▶ (std mpsc) ──▶ thread: take every queued job,
//!                                                      append all, ONE fsync,
//!   runtime loop ◀──WalDone::Synced{seq, last_entry}── (tokio mpsc)
//! ```
//!
//! File I/O blocks, so it runs on its own OS thread rather than on the async workers. While
//! one fsync runs, new jobs queue up; the next round writes all of them and syncs once,
//! which is where write throughput comes from (many proposals per fsync).

use std::sync::mpsc as std_mpsc;
use std::thread;

use tokio::sync::mpsc;

use crate::raft::types::{Entry, HardState, LogIndex, Snapshot, Term};
use crate::storage::wal::{Wal, WalError};

/// One thing to make durable.
#[derive(Debug)]
pub enum WalOp {
    /// `Output::PersistHardState`.
    HardState(HardState),
    /// `Output::PersistEntries`.
    Entries {
        /// Delete from here on first.
        truncate_from: Option<LogIndex>,
        /// Then append these.
        entries: Vec<Entry>,
    },
    /// `Output::PersistSnapshot`.
    Snapshot {
        /// The snapshot.
        snapshot: Snapshot,
        /// Keep the log after it.
        retain_suffix: bool,
    },
}

/// The persists of one batch of outputs, numbered in submission order.
#[derive(Debug)]
pub struct WalJob {
    /// Increasing job number.
    pub seq: u64,
    /// The operations, in order.
    pub ops: Vec<WalOp>,
}

/// What the worker reports.
#[derive(Debug)]
pub enum WalDone {
    /// Every job up to `seq` is durable.
    Synced {
        /// The last job covered.
        seq: u64,
        /// Index and term of the last entry written by these jobs, if any.
        last_entry: Option<(LogIndex, Term)>,
        /// WAL file size now.
        wal_bytes: u64,
    },
    /// Storage failed; the node must stop (its durable state is unknown).
    Failed(WalError),
}

/// Handle to the worker thread.
#[derive(Debug)]
pub struct WalWorker {
    jobs: Option<std_mpsc::Sender<WalJob>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl WalWorker {
    /// Starts the worker; completions go to `done`.
    ///
    /// # Errors
    ///
    /// If the OS refuses to start a thread.
    pub fn start(wal: Wal, done: mpsc::UnboundedSender<WalDone>) -> std::io::Result<WalWorker> {
        let (tx, rx) = std_mpsc::channel();
        let thread =
            thread::Builder::new().name("wal".into()).spawn(move || worker(wal, rx, done))?;
        Ok(WalWorker { jobs: Some(tx), thread: Some(thread) })
    }

    /// Queues a job. Returns false if the worker has stopped (after a failure).
    pub fn submit(&self, job: WalJob) -> bool {
        self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok())
    }

    /// Lets queued jobs finish, then joins the thread.
    pub fn stop(mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("wal thread panicked");
            }
        }
    }
}

fn worker(mut wal: Wal, rx: std_mpsc::Receiver<WalJob>, done: mpsc::UnboundedSender<WalDone>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        let seq = jobs.last().map_or(0, |j| j.seq);
        match write(&mut wal, jobs) {
            Ok(last_entry) => {
                let synced = WalDone::Synced { seq, last_entry, wal_bytes: wal.wal_bytes() };
                if done.send(synced).is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storage failed");
                let _ = done.send(WalDone::Failed(e));
                return;
            }
        }
    }
}

fn write(wal: &mut Wal, jobs: Vec<WalJob>) -> Result<Option<(LogIndex, Term)>, WalError> {
    let mut last_entry = None;
    for op in jobs.into_iter().flat_map(|j| j.ops) {
        match op {
            WalOp::HardState(hs) => wal.set_hard_state(&hs),
            WalOp::Entries { truncate_from, entries } => {
                wal.persist_entries(truncate_from, &entries)?;
                if let Some(e) = entries.last() {
                    last_entry = Some((e.index, e.term));
                }
            }
            WalOp::Snapshot { snapshot, retain_suffix } => {
                wal.install_snapshot(&snapshot, retain_suffix)?;
            }
        }
    }
    wal.sync()?;
    Ok(last_entry)
}
