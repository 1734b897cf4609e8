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
//!
//! Under `--unsafe-bug ack-before-fsync` the worker is *lazy*: it reports every job durable
//! as soon as it is buffered, writes the buffer to the file only every [`LAZY_FLUSH`], and
//! never fsyncs. A SIGKILL of a majority then loses acknowledged writes (not only a power
//! cut), which is what lets a kill nemesis catch the bug.

// The lazy mode's periodic flush reads the real clock; this is a storage I/O thread.
#![allow(clippy::disallowed_methods)]

use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::raft::types::{Entry, HardState, LogIndex, Snapshot, Term};
use crate::storage::wal::{Wal, WalError};

/// How long the lazy (buggy) worker keeps acknowledged records in memory.
pub const LAZY_FLUSH: Duration = Duration::from_millis(1000);

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
    /// Starts the worker; completions go to `done`. `lazy` is the `ack-before-fsync` bug.
    ///
    /// # Errors
    ///
    /// If the OS refuses to start a thread.
    pub fn start(
        wal: Wal,
        done: mpsc::UnboundedSender<WalDone>,
        lazy: bool,
    ) -> std::io::Result<WalWorker> {
        let (tx, rx) = std_mpsc::channel();
        let thread = thread::Builder::new().name("wal".into()).spawn(move || {
            if lazy {
                lazy_worker(wal, rx, done)
            } else {
                worker(wal, rx, done)
            }
        })?;
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
        let result = apply(&mut wal, jobs).and_then(|last| wal.sync().map(|()| last));
        if !report(&wal, seq, result, &done) {
            return;
        }
    }
}

/// The `ack-before-fsync` bug: acknowledge at once, write late, never fsync.
fn lazy_worker(mut wal: Wal, rx: std_mpsc::Receiver<WalJob>, done: mpsc::UnboundedSender<WalDone>) {
    let mut last_flush = Instant::now();
    loop {
        match rx.recv_timeout(LAZY_FLUSH) {
            Ok(first) => {
                let mut jobs = vec![first];
                jobs.extend(rx.try_iter());
                let seq = jobs.last().map_or(0, |j| j.seq);
                let result = apply(&mut wal, jobs);
                if !report(&wal, seq, result, &done) {
                    return;
                }
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                let _ = wal.sync();
                return;
            }
        }
        if last_flush.elapsed() >= LAZY_FLUSH {
            last_flush = Instant::now();
            if let Err(e) = wal.sync() {
                tracing::error!(error = %e, "storage failed");
                let _ = done.send(WalDone::Failed(e));
                return;
            }
        }
    }
}

/// Sends the outcome of jobs up to `seq`; false when the worker must stop.
fn report(
    wal: &Wal,
    seq: u64,
    result: Result<Option<(LogIndex, Term)>, WalError>,
    done: &mpsc::UnboundedSender<WalDone>,
) -> bool {
    match result {
        Ok(last_entry) => {
            let synced = WalDone::Synced { seq, last_entry, wal_bytes: wal.wal_bytes() };
            done.send(synced).is_ok()
        }
        Err(e) => {
            tracing::error!(error = %e, "storage failed");
            let _ = done.send(WalDone::Failed(e));
            false
        }
    }
}

/// Buffers the jobs' operations (a snapshot is written and synced on the spot); returns the
/// last entry written.
fn apply(wal: &mut Wal, jobs: Vec<WalJob>) -> Result<Option<(LogIndex, Term)>, WalError> {
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
    Ok(last_entry)
}
