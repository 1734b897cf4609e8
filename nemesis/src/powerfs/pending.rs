//! The pending log: every change to the backing directory since it was last made durable,
//! with what it takes to undo it, and the rollback a power loss applies.
//!
//! ```text
//! write(file, off, len)   ─▶ Write { old size, the bytes it overwrites }   until fsync(file)
//! truncate(file, size)    ─▶ Write { old size, the bytes it cuts }         until fsync(file)
//! create / mkdir in dir   ─▶ Created { name }                              until fsync(a dir)
//! unlink / rmdir in dir   ─▶ moved to the graveyard; Removed { grave }     until fsync(a dir)
//! rename into dir         ─▶ Renamed { from, to, replaced target's grave } until fsync(a dir)
//! rollback(keep):  undo every change after the first `keep.prefix`, last first; tear the
//!                  last kept write to `keep.torn` bytes; empty the graveyard
//! ```
//!
//! Directory changes become durable in order, as a journaling file system (ext4, xfs)
//! commits them: fsyncing a directory makes every directory change made before it durable,
//! not only its own. (A strict per-directory rule would fail etcd 3.4, which creates its WAL
//! file in `member/wal.tmp`, renames that directory and fsyncs only `member/`: sound on a
//! journaling file system, which is what real deployments run.) A file's data is durable only
//! once that file is fsynced.
//!
//! Files and directories are reached through open descriptors (`/proc/self/fd/N`), so an
//! undo finds them wherever later (durable) renames moved them.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One change not yet durable.
#[derive(Debug)]
enum Op {
    /// A write or a truncation of a file: undone by restoring `old_size` and `old` at
    /// `offset`.
    Write {
        /// The file's key (its inode number).
        file: u64,
        handle: Arc<File>,
        offset: u64,
        /// Bytes written (0 for a truncation).
        len: u64,
        old_size: u64,
        old: Vec<u8>,
    },
    /// A change of a directory's entries.
    Entry {
        /// The directory's key (its inode number).
        dir: u64,
        dir_fd: Arc<File>,
        change: Change,
    },
}

#[derive(Debug)]
enum Change {
    /// A file or directory was made here.
    Created { name: OsString },
    /// An entry was removed; its inode waits in the graveyard.
    Removed { name: OsString, grave: PathBuf },
    /// `from_dir/from` was renamed to `to` here; the entry it replaced waits in the graveyard.
    Renamed { from_dir: Arc<File>, from: OsString, to: OsString, replaced: Option<PathBuf> },
}

/// How much of the pending log a power loss keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// The first `prefix` changes survive.
    pub prefix: usize,
    /// The last kept change, when it is a write, keeps only this many of its bytes.
    pub torn: Option<u64>,
}

impl Keep {
    /// Nothing survives.
    pub const NOTHING: Keep = Keep { prefix: 0, torn: None };

    /// A seeded draw over a log of `len` changes: nothing (a third of the time), a random
    /// prefix, or a random prefix whose last write is torn.
    pub fn draw(seed: u64, len: usize) -> Keep {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        if len == 0 {
            return Keep::NOTHING;
        }
        match rng.random_range(0..3) {
            0 => Keep::NOTHING,
            1 => Keep { prefix: rng.random_range(0..len), torn: None },
            _ => Keep { prefix: rng.random_range(1..=len), torn: Some(rng.random()) },
        }
    }
}

/// What a rollback threw away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Changes undone (a torn write counts once).
    pub changes: usize,
    /// Distinct files and directories changed back.
    pub files: usize,
    /// Bytes of writes undone.
    pub bytes: u64,
    /// Whether a write was kept in part.
    pub torn: bool,
}

impl Dropped {
    /// Adds another disk's figures (torn when either was).
    pub fn add(&mut self, other: Dropped) {
        self.changes += other.changes;
        self.files += other.files;
        self.bytes += other.bytes;
        self.torn |= other.torn;
    }

    /// The event's `dropped` value: `{"changes":..,"files":..,"bytes":..,"torn":..}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "changes": self.changes, "files": self.files, "bytes": self.bytes, "torn": self.torn
        })
    }
}

/// The changes of one backing directory since they were last made durable.
#[derive(Debug)]
pub struct Pending {
    ops: Vec<Op>,
    graveyard: PathBuf,
    next_grave: u64,
    /// Bytes held for undoing writes.
    held: u64,
}

/// The current path of an open file or directory.
fn fd_path(f: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl Pending {
    /// An empty log whose removed entries wait in `graveyard` (made here; on the backing
    /// directory's file system, outside it).
    ///
    /// # Errors
    /// The graveyard cannot be made.
    pub fn new(graveyard: &Path) -> io::Result<Pending> {
        std::fs::create_dir_all(graveyard)?;
        Ok(Pending { ops: Vec::new(), graveyard: graveyard.to_path_buf(), next_grave: 0, held: 0 })
    }

    /// Changes waiting to be made durable.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether every change is durable.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes held to undo writes.
    pub fn held_bytes(&self) -> u64 {
        self.held
    }

    /// Records a write of `len` bytes at `offset` to `handle` (key `file`), before it is
    /// made: the bytes it overwrites and the old size.
    ///
    /// # Errors
    /// The old bytes cannot be read.
    pub fn before_write(
        &mut self,
        file: u64,
        handle: &Arc<File>,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        let old_size = handle.metadata()?.len();
        let end = offset.saturating_add(len).min(old_size);
        let mut old = vec![0; end.saturating_sub(offset) as usize];
        handle.read_exact_at(&mut old, offset)?;
        self.held += old.len() as u64;
        self.ops.push(Op::Write { file, handle: handle.clone(), offset, len, old_size, old });
        Ok(())
    }

    /// Records a truncation of `handle` to `size`, before it is made.
    ///
    /// # Errors
    /// The bytes it cuts cannot be read.
    pub fn before_truncate(&mut self, file: u64, handle: &Arc<File>, size: u64) -> io::Result<()> {
        let old_size = handle.metadata()?.len();
        let mut old = vec![0; old_size.saturating_sub(size) as usize];
        handle.read_exact_at(&mut old, size)?;
        self.held += old.len() as u64;
        let offset = size.min(old_size);
        self.ops.push(Op::Write { file, handle: handle.clone(), offset, len: 0, old_size, old });
        Ok(())
    }

    /// Records that `name` was made in the directory `dir_fd` (key `dir`).
    pub fn created(&mut self, dir: u64, dir_fd: &Arc<File>, name: &OsStr) {
        tracing::debug!(dir, ?name, "powerfs: created");
        let change = Change::Created { name: name.to_owned() };
        self.ops.push(Op::Entry { dir, dir_fd: dir_fd.clone(), change });
    }

    fn bury(&mut self, path: &Path) -> io::Result<PathBuf> {
        let grave = self.graveyard.join(self.next_grave.to_string());
        self.next_grave += 1;
        std::fs::rename(path, &grave)?;
        Ok(grave)
    }

    /// Removes `name` (a file or an empty directory) from `dir_fd`, keeping it in the
    /// graveyard until the directory is synced.
    ///
    /// # Errors
    /// The entry cannot be moved (e.g. it does not exist: `NotFound`).
    pub fn remove(&mut self, dir: u64, dir_fd: &Arc<File>, name: &OsStr) -> io::Result<()> {
        tracing::debug!(dir, ?name, "powerfs: removed");
        let grave = self.bury(&fd_path(dir_fd).join(name))?;
        let change = Change::Removed { name: name.to_owned(), grave };
        self.ops.push(Op::Entry { dir, dir_fd: dir_fd.clone(), change });
        Ok(())
    }

    /// Renames `from_dir/from` to `to_dir/to` (key `dir` of `to_dir`), keeping a replaced
    /// target in the graveyard until `to_dir` is synced. `no_replace`: fail with
    /// `AlreadyExists` instead of replacing.
    ///
    /// # Errors
    /// The rename fails.
    pub fn rename(
        &mut self,
        from_dir: &Arc<File>,
        from: &OsStr,
        dir: u64,
        to_dir: &Arc<File>,
        to: &OsStr,
        no_replace: bool,
    ) -> io::Result<()> {
        tracing::debug!(dir, ?from, ?to, "powerfs: renamed");
        let src = fd_path(from_dir).join(from);
        let dst = fd_path(to_dir).join(to);
        std::fs::symlink_metadata(&src)?;
        let replaced = match std::fs::symlink_metadata(&dst) {
            Ok(_) if no_replace => return Err(io::ErrorKind::AlreadyExists.into()),
            Ok(m) if m.is_dir() && std::fs::read_dir(&dst)?.next().is_some() => {
                return Err(io::Error::from_raw_os_error(nix::libc::ENOTEMPTY))
            }
            Ok(_) => Some(self.bury(&dst)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Err(e) = std::fs::rename(&src, &dst) {
            if let Some(grave) = &replaced {
                let _ = std::fs::rename(grave, &dst);
            }
            return Err(e);
        }
        let change = Change::Renamed {
            from_dir: from_dir.clone(),
            from: from.to_owned(),
            to: to.to_owned(),
            replaced,
        };
        self.ops.push(Op::Entry { dir, dir_fd: to_dir.clone(), change });
        Ok(())
    }

    /// The file `file` was fsynced: its writes are durable.
    pub fn file_synced(&mut self, file: u64) {
        let mut freed = 0;
        self.ops.retain(|op| match op {
            Op::Write { file: f, old, .. } if *f == file => {
                freed += old.len() as u64;
                false
            }
            _ => true,
        });
        self.held -= freed;
    }

    /// The directory `dir` was fsynced: every directory change so far is durable (the
    /// journal commits them in order; removed entries are gone for good).
    pub fn dir_synced(&mut self, dir: u64) {
        tracing::debug!(dir, "powerfs: directory synced");
        let mut graves = Vec::new();
        self.ops.retain(|op| match op {
            Op::Entry { change, .. } => {
                match change {
                    Change::Removed { grave, .. }
                    | Change::Renamed { replaced: Some(grave), .. } => graves.push(grave.clone()),
                    _ => {}
                }
                false
            }
            _ => true,
        });
        for g in graves {
            if let Err(e) = remove_any(&g) {
                tracing::warn!(grave = %g.display(), "powerfs: could not empty a grave: {e}");
            }
        }
    }

    /// Undoes every change after the first `keep.prefix`, the last first, and tears the
    /// last kept write when `keep.torn` says so; then empties the graveyard.
    ///
    /// # Errors
    /// An undo fails (the backing directory is then in an unknown state).
    pub fn rollback(mut self, keep: Keep) -> io::Result<Dropped> {
        tracing::debug!(?keep, pending = self.ops.len(), "powerfs: rollback");
        let prefix = keep.prefix.min(self.ops.len());
        let undone = self.ops.split_off(prefix);
        let mut dropped = Dropped { changes: undone.len(), ..Dropped::default() };
        let mut touched: Vec<u64> = Vec::new();
        for op in undone.into_iter().rev() {
            match op {
                Op::Write { file, handle, offset, len, old_size, old } => {
                    handle.set_len(old_size)?;
                    handle.write_all_at(&old, offset)?;
                    dropped.bytes += len.max(old.len() as u64);
                    touched.push(file);
                }
                Op::Entry { dir, dir_fd, change } => {
                    undo_entry(&dir_fd, change)?;
                    touched.push(u64::MAX - dir);
                }
            }
        }
        if let (Some(bytes), Some(Op::Write { file, handle, offset, len, old_size, old })) =
            (keep.torn, self.ops.last())
        {
            // Keep `kept` of its `len` bytes, 0 < kept < len: a write cut short.
            if *len > 1 {
                let kept = 1 + bytes % (len - 1);
                let cut_from = kept as usize;
                if cut_from < old.len() {
                    handle.write_all_at(&old[cut_from..], offset + kept)?;
                }
                handle.set_len((*old_size).max(offset + kept))?;
                dropped.torn = true;
                dropped.changes += 1;
                dropped.bytes += len - kept;
                touched.push(*file);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        dropped.files = touched.len();
        self.ops.clear();
        remove_any(&self.graveyard)?;
        Ok(dropped)
    }
}

fn undo_entry(dir_fd: &File, change: Change) -> io::Result<()> {
    let dir = fd_path(dir_fd);
    match change {
        Change::Created { name } => remove_any(&dir.join(name)),
        Change::Removed { name, grave } => std::fs::rename(grave, dir.join(name)),
        Change::Renamed { from_dir, from, to, replaced } => {
            std::fs::rename(dir.join(&to), fd_path(&from_dir).join(from))?;
            match replaced {
                Some(grave) => std::fs::rename(grave, dir.join(to)),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    struct Disk {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        log: Pending,
        root_fd: Arc<File>,
    }

    fn disk() -> Disk {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data.disk");
        std::fs::create_dir(&root).unwrap();
        let log = Pending::new(&tmp.path().join("data.graveyard")).unwrap();
        let root_fd = Arc::new(File::open(&root).unwrap());
        Disk { _tmp: tmp, root, log, root_fd }
    }

    fn open(path: &Path) -> Arc<File> {
        Arc::new(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .unwrap(),
        )
    }

    fn write(log: &mut Pending, f: &Arc<File>, key: u64, off: u64, data: &[u8]) {
        log.before_write(key, f, off, data.len() as u64).unwrap();
        f.write_all_at(data, off).unwrap();
    }

    /// A file that already exists durably (its creation not in the log).
    fn durable_file(d: &Disk, name: &str, data: &[u8]) -> Arc<File> {
        std::fs::write(d.root.join(name), data).unwrap();
        open(&d.root.join(name))
    }

    #[test]
    fn only_fsynced_writes_survive() {
        let mut d = disk();
        let f = durable_file(&d, "wal", b"");
        write(&mut d.log, &f, 7, 0, b"hello ");
        d.log.file_synced(7);
        write(&mut d.log, &f, 7, 6, b"world");
        write(&mut d.log, &f, 7, 0, b"J");
        assert_eq!(std::fs::read(d.root.join("wal")).unwrap(), b"Jello world");
        let dropped = d.log.rollback(Keep::NOTHING).unwrap();
        assert_eq!(std::fs::read(d.root.join("wal")).unwrap(), b"hello ");
        assert_eq!(dropped, Dropped { changes: 2, files: 1, bytes: 6, torn: false });
    }

    #[test]
    fn a_prefix_survives_and_a_torn_write_keeps_part_of_its_bytes() {
        let mut d = disk();
        let f = durable_file(&d, "wal", b"");
        write(&mut d.log, &f, 1, 0, b"aaaa");
        write(&mut d.log, &f, 1, 4, b"bbbb");
        write(&mut d.log, &f, 1, 8, b"cccc");
        let g = durable_file(&d, "other", b"0123");
        write(&mut d.log, &g, 2, 1, b"xx");
        let dropped = d.log.rollback(Keep { prefix: 2, torn: None }).unwrap();
        assert_eq!(std::fs::read(d.root.join("wal")).unwrap(), b"aaaabbbb");
        assert_eq!(std::fs::read(d.root.join("other")).unwrap(), b"0123");
        assert_eq!((dropped.changes, dropped.files, dropped.torn), (2, 2, false));

        let mut d = disk();
        let f = durable_file(&d, "wal", b"0123456789");
        write(&mut d.log, &f, 1, 8, b"abcdef"); // overwrites "89", extends by 4
        write(&mut d.log, &f, 1, 0, b"zz");
        // keep the first write, torn to 1 + 7 % 5 = 3 of its 6 bytes
        let dropped = d.log.rollback(Keep { prefix: 1, torn: Some(7) }).unwrap();
        assert_eq!(std::fs::read(d.root.join("wal")).unwrap(), b"01234567abc");
        assert!(dropped.torn);
        assert_eq!((dropped.changes, dropped.bytes), (2, 2 + 3));
    }

    #[test]
    fn truncations_are_undone() {
        let mut d = disk();
        let f = durable_file(&d, "db", b"0123456789");
        d.log.before_truncate(3, &f, 4).unwrap();
        f.set_len(4).unwrap();
        d.log.before_truncate(3, &f, 20).unwrap();
        f.set_len(20).unwrap();
        d.log.rollback(Keep::NOTHING).unwrap();
        assert_eq!(std::fs::read(d.root.join("db")).unwrap(), b"0123456789");
    }

    #[test]
    fn entries_are_undone_unless_a_directory_was_synced_after_them() {
        let mut d = disk();
        drop(durable_file(&d, "keep", b"k"));
        // A directory and a file in it, then that directory synced: both durable (the
        // journal commits every earlier change, the parent's creation of it too).
        std::fs::create_dir(d.root.join("snap.tmp")).unwrap();
        d.log.created(1, &d.root_fd, OsStr::new("snap.tmp"));
        let sub = Arc::new(File::open(d.root.join("snap.tmp")).unwrap());
        std::fs::write(d.root.join("snap.tmp/s"), b"s").unwrap();
        d.log.created(5, &sub, OsStr::new("s"));
        d.log.dir_synced(5);
        assert!(d.log.is_empty());
        // A file made and fsynced (its directory not): it goes.
        let f = open(&d.root.join("new"));
        d.log.created(1, &d.root_fd, OsStr::new("new"));
        write(&mut d.log, &f, 9, 0, b"data");
        d.log.file_synced(9);
        // A durable file unlinked: it comes back.
        d.log.remove(1, &d.root_fd, OsStr::new("keep")).unwrap();
        assert!(!d.root.join("keep").exists());
        // A rename: undone, the directory keeps its contents.
        let root_fd = d.root_fd.clone();
        d.log
            .rename(&root_fd, OsStr::new("snap.tmp"), 1, &root_fd, OsStr::new("snap"), false)
            .unwrap();
        assert!(d.root.join("snap/s").exists());
        d.log.rollback(Keep::NOTHING).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&d.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["keep", "snap.tmp"]);
        assert_eq!(std::fs::read(d.root.join("keep")).unwrap(), b"k");
        assert_eq!(std::fs::read(d.root.join("snap.tmp/s")).unwrap(), b"s");
        assert!(!d._tmp.path().join("data.graveyard").exists(), "graveyard emptied");
    }

    #[test]
    fn synced_entries_stay_and_a_replaced_target_is_restored_only_when_not_synced() {
        let mut d = disk();
        drop(durable_file(&d, "snapshot", b"old"));
        std::fs::write(d.root.join("snapshot.tmp"), b"new").unwrap();
        d.log.created(1, &d.root_fd, OsStr::new("snapshot.tmp"));
        let root_fd = d.root_fd.clone();
        d.log
            .rename(
                &root_fd,
                OsStr::new("snapshot.tmp"),
                1,
                &root_fd,
                OsStr::new("snapshot"),
                false,
            )
            .unwrap();
        assert_eq!(std::fs::read(d.root.join("snapshot")).unwrap(), b"new");
        let mut again = Pending::new(&d._tmp.path().join("g2")).unwrap();
        std::mem::swap(&mut again, &mut d.log);
        // not synced: the old snapshot comes back
        again.rollback(Keep::NOTHING).unwrap();
        assert_eq!(std::fs::read(d.root.join("snapshot")).unwrap(), b"old");
        assert!(!d.root.join("snapshot.tmp").exists());

        std::fs::write(d.root.join("snapshot.tmp"), b"new").unwrap();
        d.log.created(1, &d.root_fd, OsStr::new("snapshot.tmp"));
        d.log
            .rename(
                &root_fd,
                OsStr::new("snapshot.tmp"),
                1,
                &root_fd,
                OsStr::new("snapshot"),
                false,
            )
            .unwrap();
        d.log.dir_synced(1);
        assert!(d.log.is_empty());
        d.log.rollback(Keep::NOTHING).unwrap();
        assert_eq!(std::fs::read(d.root.join("snapshot")).unwrap(), b"new");
    }

    #[test]
    fn draws_are_seeded_and_in_range() {
        assert_eq!(Keep::draw(3, 0), Keep::NOTHING);
        let mut kinds = [0; 3];
        for seed in 0..200 {
            let k = Keep::draw(seed, 10);
            assert_eq!(k, Keep::draw(seed, 10));
            assert!(k.prefix <= 10);
            kinds[match k {
                Keep { prefix: 0, torn: None } => 0,
                Keep { torn: None, .. } => 1,
                _ => 2,
            }] += 1;
        }
        assert!(kinds.iter().all(|&k| k > 20), "{kinds:?}");
    }
}
