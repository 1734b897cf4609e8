//! The durable storage of a real node: a write-ahead log plus an atomically written snapshot.
//!
//! ```text
//!   data-dir/
//!     wal        MAGIC record*   (frame: len | crc32 | postcard(Record))
//!     snapshot   MAGIC len crc32 postcard(Snapshot)   (written via snapshot.tmp + rename)
//!
//!   set_hard_state / append ──▶ buffered records ──sync()──▶ write + fsync ──▶ durable
//!   install_snapshot ──▶ snapshot file (atomic) ──▶ WAL rewritten without the covered prefix
//!   open ──▶ snapshot file + WAL replay (torn/corrupt tail cut) ──▶ Recovered
//! ```
//!
//! Records are replayed into an in-memory mirror of the log suffix after the snapshot, so a
//! rewrite (after a snapshot, or when the file has grown far beyond the live log) can be
//! produced without reading the file back. The order of the two steps of
//! [`Wal::install_snapshot`] makes every crash point recoverable: the snapshot file is
//! replaced first; if the node dies before the WAL rewrite, replay finds entries the
//! snapshot already covers and drops them.
//!
//! Nothing is acknowledged before [`Wal::sync`] returns; under `--unsafe-bug
//! ack-before-fsync` the WAL skips the fsync, which a SIGKILL (with a dropped page cache)
//! or a power cut turns into lost acknowledged writes.

pub mod frame;
mod logfile;
mod mirror;
mod snapfile;

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::raft::types::{Entry, HardState, LogIndex, Snapshot, SnapshotMeta};

use self::logfile::LogFile;
use self::mirror::Mirror;

/// File name of the log inside the data dir.
pub const WAL_FILE: &str = "wal";
/// File name of the snapshot inside the data dir.
pub const SNAPSHOT_FILE: &str = "snapshot";

/// A WAL failure. Every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// Reading, writing or syncing a file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        error: io::Error,
    },
    /// A record passed its checksum but does not decode: written by another version, or a
    /// bug. Recovery refuses to guess.
    #[error("{path}: record {record} does not decode: {reason}")]
    Decode {
        /// The WAL file.
        path: PathBuf,
        /// The record's position (0-based).
        record: usize,
        /// The decoder's message.
        reason: String,
    },
    /// The records contradict each other (e.g. a gap in the log indexes).
    #[error("{path}: inconsistent log: {reason}")]
    Inconsistent {
        /// The WAL file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One WAL record. Written by reference ([`RecordRef`]) and read back owned.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
enum Record {
    HardState(HardState),
    /// Entries to append; any existing entry at their indexes or above is replaced.
    Entries(Vec<Entry>),
    /// Every entry at this index or above is deleted.
    Truncate(LogIndex),
    /// A snapshot file covers the log up to `meta.last_index`.
    Compacted {
        meta: SnapshotMeta,
        retain_suffix: bool,
    },
}

impl Record {
    /// Refuses a log index no real log reaches (`u64::MAX`: the index after it does not
    /// exist, so replaying it would overflow `LogIndex::next`). A checksummed record that
    /// claims one is corrupt, and recovery says which record, never panics.
    fn check_bounds(&self) -> Result<(), String> {
        let too_big = |what: &str, index: LogIndex| {
            if index.0 == u64::MAX {
                Err(format!("{what} index {} is out of range", index.0))
            } else {
                Ok(())
            }
        };
        match self {
            Record::HardState(_) => Ok(()),
            Record::Entries(entries) => entries.iter().try_for_each(|e| too_big("entry", e.index)),
            Record::Truncate(from) => too_big("truncate", *from),
            Record::Compacted { meta, .. } => too_big("snapshot", meta.last_index),
        }
    }
}

/// The borrowed twin of [`Record`]; postcard encodes both identically.
#[derive(Debug, Serialize)]
enum RecordRef<'a> {
    HardState(&'a HardState),
    Entries(&'a [Entry]),
    Truncate(LogIndex),
    Compacted { meta: &'a SnapshotMeta, retain_suffix: bool },
}

/// The state found on disk at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The last durable term and vote.
    pub hard_state: HardState,
    /// The last durable snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The durable log entries after the snapshot, contiguous and in index order.
    pub entries: Vec<Entry>,
}

/// The write-ahead log and snapshot of one node's data dir.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    log: LogFile,
    /// The log as the records written so far describe it (durable after `sync`).
    mirror: Mirror,
    /// Size of the snapshot file in bytes (0 when none).
    snapshot_bytes: u64,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |error| WalError::Io { path: path.to_path_buf(), error }
}

/// Replays the payloads of a WAL's valid records into a mirror of the log.
///
/// # Errors
///
/// A record that does not decode, or records that contradict each other.
fn replay<P: AsRef<[u8]>>(path: &Path, records: &[P]) -> Result<Mirror, WalError> {
    let mut mirror = Mirror::default();
    for (i, bytes) in records.iter().enumerate() {
        let record: Record = postcard::from_bytes(bytes.as_ref()).map_err(|e| {
            WalError::Decode { path: path.to_path_buf(), record: i, reason: e.to_string() }
        })?;
        record.check_bounds().map_err(|reason| WalError::Decode {
            path: path.to_path_buf(),
            record: i,
            reason,
        })?;
        let applied = match record {
            Record::HardState(hs) => {
                mirror.hard_state = hs;
                Ok(())
            }
            Record::Entries(entries) => mirror.append(&entries),
            Record::Truncate(from) => {
                mirror.truncate_from(from);
                Ok(())
            }
            Record::Compacted { meta, retain_suffix } => {
                mirror.compact(&meta, Some(retain_suffix));
                Ok(())
            }
        };
        applied.map_err(|reason| WalError::Inconsistent { path: path.to_path_buf(), reason })?;
    }
    Ok(mirror)
}

/// Scans a WAL file image and replays its valid records as [`Wal::open`] does (without a
/// snapshot file): the log entries it recovers, or why it refuses. For the fuzz target of
/// `fuzz/`, which feeds it arbitrary bytes.
///
/// # Errors
///
/// As [`Wal::open`] for the records of the valid prefix.
#[doc(hidden)]
pub fn replay_image(image: &[u8]) -> Result<Vec<Entry>, WalError> {
    let scan = frame::scan(image);
    let mirror = replay(Path::new(WAL_FILE), &scan.records)?;
    Ok(mirror.entries.iter().cloned().collect())
}

fn encode(record: &RecordRef<'_>) -> Vec<u8> {
    // Serializing plain data structs into a Vec cannot fail (postcard only errors on
    // unsupported types such as unbounded sequences or buffer exhaustion).
    postcard::to_stdvec(record).expect("postcard encoding of a WAL record cannot fail")
}

impl Wal {
    /// Opens the data dir (creating it), recovers the snapshot and replays the WAL.
    ///
    /// `fsync: false` is the `ack-before-fsync` bug: nothing is ever synced.
    ///
    /// # Errors
    ///
    /// I/O errors, a corrupt snapshot file, or records that pass their checksum but make
    /// no sense. A torn or corrupt WAL tail is not an error: it is cut and logged.
    pub fn open(dir: &Path, fsync: bool) -> Result<(Wal, Recovered), WalError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        if snapfile::remove_leftovers(dir, SNAPSHOT_FILE).map_err(io_err(dir))? {
            tracing::warn!(dir = %dir.display(), "removed the temp file of an interrupted snapshot");
        }
        let snap_path = dir.join(SNAPSHOT_FILE);
        let snapshot: Option<Snapshot> =
            match snapfile::read_checked(dir, SNAPSHOT_FILE).map_err(io_err(&snap_path))? {
                None => None,
                Some(bytes) => Some(postcard::from_bytes(&bytes).map_err(|e| {
                    WalError::Decode { path: snap_path.clone(), record: 0, reason: e.to_string() }
                })?),
            };
        let snapshot_bytes = std::fs::metadata(&snap_path).map(|m| m.len()).unwrap_or(0);
        let wal_path = dir.join(WAL_FILE);
        let (log, found) = LogFile::open(dir, WAL_FILE, fsync).map_err(io_err(&wal_path))?;
        let mut mirror = replay(&wal_path, &found.records)?;
        match (&snapshot, mirror.snapshot.last_index) {
            // A crash between the snapshot's rename and the WAL rewrite: compact by the
            // Raft §7 rule (keep the suffix only after a matching entry).
            (Some(s), marked) if s.meta.last_index >= marked => mirror.compact(&s.meta, None),
            (None, marked) if marked.0 == 0 => {}
            (_, marked) => {
                return Err(WalError::Inconsistent {
                    path: snap_path,
                    reason: format!("the WAL says a snapshot covers up to {marked}, but the snapshot file is missing or older"),
                })
            }
        }
        let recovered = Recovered {
            hard_state: mirror.hard_state,
            snapshot,
            entries: mirror.entries.iter().cloned().collect(),
        };
        tracing::info!(
            dir = %dir.display(),
            term = recovered.hard_state.term.0,
            snapshot_index = mirror.snapshot.last_index.0,
            entries = recovered.entries.len(),
            cut_bytes = found.cut_bytes,
            "storage recovered"
        );
        Ok((Wal { dir: dir.to_path_buf(), log, mirror, snapshot_bytes }, recovered))
    }

    /// Buffers a new term/vote; durable after the next [`Wal::sync`].
    pub fn set_hard_state(&mut self, hs: &HardState) {
        if *hs != self.mirror.hard_state {
            self.log.append(&encode(&RecordRef::HardState(hs)));
            self.mirror.hard_state = *hs;
        }
    }

    /// Buffers `Action::PersistEntries`: deletes the log from `truncate_from` on (when
    /// set), then appends `entries`; durable after the next [`Wal::sync`].
    ///
    /// # Errors
    ///
    /// [`WalError::Inconsistent`] if the entries are not contiguous or would leave a gap.
    pub fn persist_entries(
        &mut self,
        truncate_from: Option<LogIndex>,
        entries: &[Entry],
    ) -> Result<(), WalError> {
        if let Some(from) = truncate_from {
            let first_new = entries.first().map(|e| e.index);
            if first_new != Some(from) && from <= self.mirror.last_index() {
                self.mirror.truncate_from(from);
                self.log.append(&encode(&RecordRef::Truncate(from)));
            }
        }
        self.append(entries)
    }

    /// Buffers entries to append, replacing any existing entries from the first one's index
    /// on (a follower's conflicting suffix); durable after the next [`Wal::sync`].
    ///
    /// # Errors
    ///
    /// [`WalError::Inconsistent`] if the entries are not contiguous or would leave a gap.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), WalError> {
        if entries.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(WAL_FILE);
        self.mirror.append(entries).map_err(|reason| WalError::Inconsistent { path, reason })?;
        self.log.append(&encode(&RecordRef::Entries(entries)));
        Ok(())
    }

    /// Writes and fsyncs everything buffered: afterwards it survives a crash.
    ///
    /// Also rewrites the file when it has grown far beyond the live log (e.g. after many
    /// conflicting suffixes or term changes).
    ///
    /// # Errors
    ///
    /// Any I/O error; the node must then stop (its durable state is unknown).
    pub fn sync(&mut self) -> Result<(), WalError> {
        let path = self.dir.join(WAL_FILE);
        self.log.commit().map_err(io_err(&path))?;
        let live = self.mirror.bytes() as u64;
        if self.log.len() > 64 << 20 && self.log.len() > 4 * live {
            self.rewrite()?;
        }
        Ok(())
    }

    /// `Action::PersistSnapshot`: durably stores `snapshot` and drops the log prefix it
    /// covers (and the suffix too unless `retain_suffix`), rewriting the WAL so that it
    /// does not grow forever. Buffered records are synced first.
    ///
    /// Crash safety: the snapshot file is replaced first (atomically); the rewritten WAL
    /// carries a `Compacted` marker. A crash in between leaves a snapshot newer than the
    /// WAL's marker, and recovery compacts by the Raft §7 rule, which keeps the suffix
    /// exactly when the log holds the snapshot's last entry with its term.
    ///
    /// # Errors
    ///
    /// Any I/O error.
    pub fn install_snapshot(
        &mut self,
        snapshot: &Snapshot,
        retain_suffix: bool,
    ) -> Result<(), WalError> {
        self.sync()?;
        let bytes =
            postcard::to_stdvec(snapshot).expect("postcard encoding of a snapshot cannot fail");
        snapfile::write_atomic(&self.dir, SNAPSHOT_FILE, &bytes)
            .map_err(io_err(&self.dir.join(SNAPSHOT_FILE)))?;
        self.snapshot_bytes = std::fs::metadata(self.dir.join(SNAPSHOT_FILE))
            .map(|m| m.len())
            .unwrap_or(bytes.len() as u64);
        self.mirror.compact(&snapshot.meta, Some(retain_suffix));
        self.rewrite()
    }

    /// Replaces the WAL by a minimal one describing the same state.
    fn rewrite(&mut self) -> Result<(), WalError> {
        let m = &self.mirror;
        let mut records = vec![encode(&RecordRef::HardState(&m.hard_state))];
        if m.snapshot.last_index.0 > 0 {
            // The rewrite holds exactly the live suffix, so retaining it is right.
            records.push(encode(&RecordRef::Compacted { meta: &m.snapshot, retain_suffix: true }));
        }
        let entries: Vec<Entry> = m.entries.iter().cloned().collect();
        for chunk in entries.chunks(4096) {
            records.push(encode(&RecordRef::Entries(chunk)));
        }
        let path = self.dir.join(WAL_FILE);
        let before = self.log.len();
        self.log.rewrite(&records).map_err(io_err(&path))?;
        tracing::info!(before, after = self.log.len(), "wal rewritten");
        Ok(())
    }

    /// The durable snapshot, read back from its file (for sending to a lagging follower).
    ///
    /// # Errors
    ///
    /// I/O or checksum errors of the snapshot file.
    pub fn read_snapshot(&self) -> Result<Option<Snapshot>, WalError> {
        let path = self.dir.join(SNAPSHOT_FILE);
        match snapfile::read_checked(&self.dir, SNAPSHOT_FILE).map_err(io_err(&path))? {
            None => Ok(None),
            Some(bytes) => postcard::from_bytes(&bytes).map(Some).map_err(|e| WalError::Decode {
                path,
                record: 0,
                reason: e.to_string(),
            }),
        }
    }

    /// Size of the WAL file in bytes.
    pub fn wal_bytes(&self) -> u64 {
        self.log.len()
    }

    /// Size of the snapshot file in bytes (0 when there is none).
    pub fn snapshot_bytes(&self) -> u64 {
        self.snapshot_bytes
    }
}

#[cfg(test)]
#[path = "wal/wal_test.rs"]
mod wal_test;
