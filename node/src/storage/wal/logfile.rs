//! One append-only WAL file on disk: recovery on open, batched appends, fsync.
//!
//! ```text
//!   open(dir, name) --read whole file--> frame::scan --bad tail?--> truncate + fsync
//!                                                    \--> valid payloads to the caller
//!   append(payload)*  (buffered in memory)
//!   commit()          write the buffer, then fsync (sync_data) unless fsync is disabled
//! ```
//!
//! Nothing appended is durable until [`LogFile::commit`] returns, and callers acknowledge
//! nothing before that (the `ack-before-fsync` bug switch turns the fsync off).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::frame;
use super::snapfile;

/// An open WAL file positioned at its end.
#[derive(Debug)]
pub struct LogFile {
    /// The open file; its length on disk equals `len` after every commit.
    file: File,
    /// Directory holding the file (fsynced when the file is created or replaced).
    dir: PathBuf,
    /// File name inside `dir`.
    name: String,
    /// Bytes on disk (magic included), i.e. where the next record goes.
    len: u64,
    /// Framed records appended but not yet written.
    pending: Vec<u8>,
    /// Whether commit fsyncs. `false` only under `--unsafe-bug ack-before-fsync`.
    fsync: bool,
}

/// What recovery found in an existing file.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Payloads of the valid records, in order.
    pub records: Vec<Vec<u8>>,
    /// Bytes cut from the tail (0 when the file was clean).
    pub cut_bytes: u64,
}

impl LogFile {
    /// Opens (or creates) `dir/name`, recovers its valid records and truncates any torn or
    /// corrupt tail, logging what it cut.
    ///
    /// # Errors
    ///
    /// Any I/O error reading, truncating or syncing the file; `InvalidData` when the file
    /// does not start with the WAL magic (only a torn creation, a prefix of it, is repaired).
    pub fn open(dir: &Path, name: &str, fsync: bool) -> io::Result<(LogFile, Recovered)> {
        if snapfile::remove_leftovers(dir, name)? {
            tracing::warn!(file = name, "removed a leftover temp file of an interrupted rewrite");
        }
        let path = dir.join(name);
        let existed = path.exists();
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        let mut image = Vec::new();
        file.read_to_end(&mut image)?;
        let scan = frame::scan(&image);
        // A torn creation leaves a prefix of the magic; anything else is not our file, and
        // wiping it would destroy data: refuse.
        if scan.problem == Some(frame::TailProblem::BadMagic) && !frame::MAGIC.starts_with(&image) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a faultline WAL (bad magic)",
            ));
        }
        let records: Vec<Vec<u8>> = scan.records.iter().map(|r| r.to_vec()).collect();
        let mut valid_len = scan.valid_len as u64;
        let cut_bytes = image.len() as u64 - valid_len;
        if let Some(problem) = scan.problem {
            tracing::warn!(
                file = %path.display(),
                offset = valid_len,
                cut_bytes,
                kept_records = records.len(),
                %problem,
                "wal recovery: cutting torn or corrupt tail"
            );
        }
        if valid_len == 0 {
            // New, empty or unreadable from the start: (re)write the magic.
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(frame::MAGIC)?;
            valid_len = frame::MAGIC.len() as u64;
            file.sync_all()?;
        } else if cut_bytes > 0 {
            file.set_len(valid_len)?;
            file.sync_all()?;
        }
        if !existed {
            snapfile::sync_dir(dir)?;
        }
        file.seek(SeekFrom::Start(valid_len))?;
        let log = LogFile {
            file,
            dir: dir.to_path_buf(),
            name: name.to_string(),
            len: valid_len,
            pending: Vec::new(),
            fsync,
        };
        Ok((log, Recovered { records, cut_bytes }))
    }

    /// Buffers one record; it is written and made durable by the next [`LogFile::commit`].
    pub fn append(&mut self, payload: &[u8]) {
        frame::encode_into(&mut self.pending, payload);
    }

    /// Writes every buffered record and fsyncs: when this returns `Ok`, they are durable.
    ///
    /// # Errors
    ///
    /// Any I/O error. The file may then hold a partial tail, which the next recovery cuts;
    /// the caller must treat the node's storage as failed (it is not retried in place).
    pub fn commit(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        self.len += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Replaces the whole file by one holding exactly `payloads`, atomically (temp file,
    /// fsync, rename, fsync of the directory). Used to compact the log after a snapshot.
    ///
    /// # Errors
    ///
    /// Any I/O error; the old file is then still intact and still open.
    pub fn rewrite(&mut self, payloads: &[Vec<u8>]) -> io::Result<()> {
        let mut image = frame::MAGIC.to_vec();
        for p in payloads {
            frame::encode_into(&mut image, p);
        }
        snapfile::replace_raw(&self.dir, &self.name, &image)?;
        let mut file = OpenOptions::new().read(true).write(true).open(self.dir.join(&self.name))?;
        file.seek(SeekFrom::End(0))?;
        self.file = file;
        self.len = image.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Bytes on disk, magic included (buffered records not counted).
    pub fn len(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reopen(dir: &Path) -> (LogFile, Recovered) {
        LogFile::open(dir, "wal", true).unwrap()
    }

    #[test]
    fn records_survive_reopen_and_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, rec) = reopen(dir.path());
        assert!(rec.records.is_empty());
        assert_eq!(log.len(), frame::MAGIC.len() as u64);
        log.append(b"a");
        log.append(b"bb");
        log.commit().unwrap();
        drop(log);
        let (mut log, rec) = reopen(dir.path());
        assert_eq!(rec.records, vec![b"a".to_vec(), b"bb".to_vec()]);
        log.rewrite(&[b"only".to_vec()]).unwrap();
        log.append(b"after");
        log.commit().unwrap();
        drop(log);
        let (_, rec) = reopen(dir.path());
        assert_eq!(rec.records, vec![b"only".to_vec(), b"after".to_vec()]);
    }

    #[test]
    fn a_torn_magic_is_repaired_but_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wal"), &frame::MAGIC[..3]).unwrap();
        let (_, rec) = reopen(dir.path());
        assert!(rec.records.is_empty());
        std::fs::write(dir.path().join("wal"), b"something else entirely").unwrap();
        let err = LogFile::open(dir.path(), "wal", true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(std::fs::read(dir.path().join("wal")).unwrap(), b"something else entirely");
    }

    #[test]
    fn a_torn_tail_is_cut_on_disk_and_appends_continue_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = reopen(dir.path());
        log.append(b"kept");
        log.append(b"torn away");
        log.commit().unwrap();
        let full = log.len();
        drop(log);
        let path = dir.path().join("wal");
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(full - 3).unwrap();
        drop(f);
        let (mut log, rec) = reopen(dir.path());
        assert_eq!(rec.records, vec![b"kept".to_vec()]);
        assert_eq!(rec.cut_bytes, (frame::HEADER_LEN + 9 - 3) as u64);
        log.append(b"new");
        log.commit().unwrap();
        drop(log);
        let (_, rec) = reopen(dir.path());
        assert_eq!(rec.records, vec![b"kept".to_vec(), b"new".to_vec()]);
        assert_eq!(rec.cut_bytes, 0);
    }
}
