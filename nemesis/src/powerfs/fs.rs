//! The FUSE file system: a passthrough to the backing directory that records every change in
//! the [`Pending`] log until the file (or directory) is fsynced.
//!
//! ```text
//! node ─syscall─▶ kernel FUSE ─request─▶ PowerFs (one thread)
//!   lookup/getattr/readdir/read          ─▶ the backing file, as is
//!   write/setattr(size)                  ─▶ Pending::before_write/before_truncate, then do it
//!   create/mkdir/unlink/rmdir/rename     ─▶ do it, Pending::created/remove/rename
//!   fsync(file) / fsyncdir(dir)          ─▶ fsync the backing file, Pending::*_synced
//!                                           (a directory's: every earlier entry change)
//! ```
//!
//! Inode numbers are the backing inodes' (the root is 1); files are opened read-write on
//! the backing side whatever the caller asked, so that old bytes can be read before a
//! write. No `direct_io`: the kernel page cache (and mmap, bbolt's) works as usual.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use super::pending::Pending;
use crate::sync::lock;

/// How long the kernel may cache names and attributes (the log sees every change anyway:
/// they all pass through here).
const TTL: Duration = Duration::from_secs(1);

/// The state shared by the FUSE thread and the mount's owner (who takes the log on power
/// loss).
#[derive(Debug)]
pub(crate) struct State {
    /// The backing directory.
    pub root: PathBuf,
    /// Backing path (relative to `root`) of every inode the kernel knows.
    paths: BTreeMap<u64, PathBuf>,
    /// Open files by handle.
    files: BTreeMap<u64, (u64, Arc<File>)>,
    next_fh: u64,
    /// The not yet durable changes.
    pub pending: Pending,
}

impl State {
    pub fn new(root: PathBuf, pending: Pending) -> State {
        let paths = BTreeMap::from([(INodeNo::ROOT.0, PathBuf::new())]);
        State { root, paths, files: BTreeMap::new(), next_fh: 1, pending }
    }

    fn path(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        let rel = self.paths.get(&ino.0).ok_or(Errno::ENOENT)?;
        Ok(self.root.join(rel))
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<(PathBuf, PathBuf), Errno> {
        let rel = self.paths.get(&parent.0).ok_or(Errno::ENOENT)?.join(name);
        Ok((self.root.join(&rel), rel))
    }

    /// The attributes of `rel`, remembering its inode.
    fn known(&mut self, rel: PathBuf) -> Result<FileAttr, Errno> {
        let meta = std::fs::symlink_metadata(self.root.join(&rel)).map_err(Errno::from)?;
        let ino = self.ino_of(&meta, rel.as_os_str().is_empty());
        self.paths.insert(ino, rel);
        Ok(attr(ino, &meta))
    }

    fn ino_of(&self, meta: &Metadata, is_root: bool) -> u64 {
        if is_root {
            INodeNo::ROOT.0
        } else {
            meta.ino()
        }
    }

    fn dir_fd(&self, ino: INodeNo) -> Result<Arc<File>, Errno> {
        Ok(Arc::new(File::open(self.path(ino)?).map_err(Errno::from)?))
    }

    fn handle(&self, fh: FileHandle) -> Result<(u64, Arc<File>), Errno> {
        self.files.get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    fn open_handle(&mut self, ino: u64, file: File) -> FileHandle {
        let fh = self.next_fh;
        self.next_fh += 1;
        self.files.insert(fh, (ino, Arc::new(file)));
        FileHandle(fh)
    }

    /// After a rename: `from` and everything under it now live at `to`.
    fn moved(&mut self, from: &Path, to: &Path) {
        for rel in self.paths.values_mut() {
            if let Ok(rest) = rel.strip_prefix(from) {
                *rel = if rest.as_os_str().is_empty() { to.to_path_buf() } else { to.join(rest) };
            }
        }
    }
}

fn attr(ino: u64, m: &Metadata) -> FileAttr {
    let kind = if m.is_dir() {
        FileType::Directory
    } else if m.file_type().is_symlink() {
        FileType::Symlink
    } else {
        FileType::RegularFile
    };
    let time = |s: i64, ns: i64| {
        UNIX_EPOCH + Duration::new(u64::try_from(s).unwrap_or(0), u32::try_from(ns).unwrap_or(0))
    };
    FileAttr {
        ino: INodeNo(ino),
        size: m.len(),
        blocks: m.blocks(),
        atime: time(m.atime(), m.atime_nsec()),
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
        crtime: time(m.ctime(), m.ctime_nsec()),
        kind,
        perm: (m.mode() & 0o7777) as u16,
        nlink: m.nlink() as u32,
        uid: m.uid(),
        gid: m.gid(),
        rdev: m.rdev() as u32,
        blksize: m.blksize() as u32,
        flags: 0,
    }
}

/// The FUSE side: every request locks the shared state. Its thread logs to the dispatcher
/// of the thread that mounted it (the run's log).
#[derive(Debug)]
pub(crate) struct PowerFs(pub Arc<Mutex<State>>, pub tracing::Dispatch);

thread_local! {
    static LOGS_SET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl PowerFs {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        if !LOGS_SET.with(std::cell::Cell::get) {
            // The guard lives as long as the FUSE thread, on purpose.
            std::mem::forget(tracing::dispatcher::set_default(&self.1));
            LOGS_SET.with(|c| c.set(true));
        }
        lock(&self.0)
    }
}

fn io_errno(e: &io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(nix::libc::EIO))
}

macro_rules! reply_or {
    ($reply:expr, $res:expr, $ok:pat => $body:expr) => {
        match $res {
            Ok($ok) => $body,
            Err(e) => $reply.error(e),
        }
    };
}

impl Filesystem for PowerFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut st = self.state();
        let res = st.child(parent, name).and_then(|(_, rel)| st.known(rel));
        reply_or!(reply, res, a => reply.entry(&TTL, &a, Generation(0)));
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let st = self.state();
        let res = st
            .path(ino)
            .and_then(|p| std::fs::symlink_metadata(p).map_err(Errno::from))
            .map(|m| attr(ino.0, &m));
        reply_or!(reply, res, a => reply.attr(&TTL, &a));
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut st = self.state();
        let res = (|| {
            let path = st.path(ino)?;
            if let Some(mode) = mode {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))
                    .map_err(Errno::from)?;
            }
            if let Some(size) = size {
                let file = match fh.and_then(|fh| st.handle(fh).ok()) {
                    Some((_, f)) => f,
                    None => Arc::new(
                        OpenOptions::new()
                            .read(true)
                            .write(true)
                            .open(&path)
                            .map_err(Errno::from)?,
                    ),
                };
                st.pending.before_truncate(ino.0, &file, size).map_err(|e| io_errno(&e))?;
                file.set_len(size).map_err(Errno::from)?;
            }
            let m = std::fs::symlink_metadata(&path).map_err(Errno::from)?;
            Ok(attr(ino.0, &m))
        })();
        reply_or!(reply, res, a => reply.attr(&TTL, &a));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut st = self.state();
        let res = (|| {
            let (path, rel) = st.child(parent, name)?;
            std::fs::create_dir(&path).map_err(Errno::from)?;
            let _ = std::fs::set_permissions(&path, PermissionsExt::from_mode(mode & !umask));
            let dir = st.dir_fd(parent)?;
            st.pending.created(parent.0, &dir, name);
            st.known(rel)
        })();
        reply_or!(reply, res, a => reply.entry(&TTL, &a, Generation(0)));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, false, reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, true, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut st = self.state();
        let res = (|| {
            if !(flags - RenameFlags::RENAME_NOREPLACE).is_empty() {
                return Err(Errno::EINVAL);
            }
            let (_, from_rel) = st.child(parent, name)?;
            let (_, to_rel) = st.child(newparent, newname)?;
            let (from_dir, to_dir) = (st.dir_fd(parent)?, st.dir_fd(newparent)?);
            let no_replace = flags.contains(RenameFlags::RENAME_NOREPLACE);
            st.pending
                .rename(&from_dir, name, newparent.0, &to_dir, newname, no_replace)
                .map_err(|e| io_errno(&e))?;
            st.paths.retain(|_, p| *p != to_rel);
            st.moved(&from_rel, &to_rel);
            Ok(())
        })();
        reply_or!(reply, res, () => reply.ok());
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut st = self.state();
        let res = (|| {
            let path = st.path(ino)?;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(flags.0 & nix::libc::O_NOATIME)
                .open(&path)
                .map_err(Errno::from)?;
            Ok(st.open_handle(ino.0, file))
        })();
        reply_or!(reply, res, fh => reply.opened(fh, FopenFlags::empty()));
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let file = self.state().handle(fh);
        let res = file.and_then(|(_, f)| {
            let mut buf = vec![0; size as usize];
            let mut got = 0;
            while got < buf.len() {
                match f.read_at(&mut buf[got..], offset + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Errno::from(e)),
                }
            }
            buf.truncate(got);
            Ok::<Vec<u8>, Errno>(buf)
        });
        reply_or!(reply, res, buf => reply.data(buf.as_slice()));
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut st = self.state();
        let res = (|| {
            let (ino, f) = st.handle(fh)?;
            st.pending
                .before_write(ino, &f, offset, data.len() as u64)
                .map_err(|e| io_errno(&e))?;
            f.write_all_at(data, offset).map_err(Errno::from)?;
            Ok(data.len() as u32)
        })();
        reply_or!(reply, res, n => reply.written(n));
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // The log keeps its own reference to a file with pending writes.
        self.state().files.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = self.state();
        let res = (|| {
            let (ino, f) = st.handle(fh)?;
            if datasync { f.sync_data() } else { f.sync_all() }.map_err(Errno::from)?;
            st.pending.file_synced(ino);
            Ok(())
        })();
        reply_or!(reply, res, () => reply.ok());
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let st = self.state();
        let res = (|| {
            let path = st.path(ino)?;
            let mut entries = vec![
                (ino.0, FileType::Directory, ".".into()),
                (INodeNo::ROOT.0, FileType::Directory, "..".into()),
            ];
            for e in std::fs::read_dir(&path).map_err(Errno::from)? {
                let e = e.map_err(Errno::from)?;
                let kind = match e.file_type() {
                    Ok(t) if t.is_dir() => FileType::Directory,
                    Ok(t) if t.is_symlink() => FileType::Symlink,
                    _ => FileType::RegularFile,
                };
                entries.push((
                    MetadataExt::ino(&e.metadata().map_err(Errno::from)?),
                    kind,
                    e.file_name(),
                ));
            }
            Ok(entries)
        })();
        match res {
            Ok(entries) => {
                for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize)
                {
                    if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = self.state();
        let res = (|| {
            st.dir_fd(ino)?.sync_all().map_err(Errno::from)?;
            st.pending.dir_synced(ino.0);
            Ok(())
        })();
        reply_or!(reply, res, () => reply.ok());
    }

    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        // No extended attributes: the kernel stops asking after ENOSYS.
        reply.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(Errno::ENOSYS);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let root = self.state().root.clone();
        match nix::sys::statvfs::statvfs(&root) {
            Ok(s) => reply.statfs(
                s.blocks(),
                s.blocks_free(),
                s.blocks_available(),
                s.files(),
                s.files_free(),
                s.block_size() as u32,
                s.name_max() as u32,
                s.fragment_size() as u32,
            ),
            Err(e) => reply.error(Errno::from_i32(e as i32)),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut st = self.state();
        let res = (|| {
            let (path, rel) = st.child(parent, name)?;
            let existed = path.exists();
            let rel_again = rel.clone();
            if existed && flags & nix::libc::O_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(mode & !umask)
                .open(&path)
                .map_err(Errno::from)?;
            let a = st.known(rel)?;
            let file = Arc::new(file);
            if !existed {
                let dir = st.dir_fd(parent)?;
                st.pending.created(parent.0, &dir, name);
            } else if flags & nix::libc::O_TRUNC != 0 {
                st.pending.before_truncate(a.ino.0, &file, 0).map_err(|e| io_errno(&e))?;
                file.set_len(0).map_err(Errno::from)?;
            }
            let fh = st.next_fh;
            st.next_fh += 1;
            st.files.insert(fh, (a.ino.0, file));
            let a = st.known(rel_again)?;
            Ok((a, FileHandle(fh)))
        })();
        reply_or!(reply, res, (a, fh) => reply.created(&TTL, &a, Generation(0), fh, FopenFlags::empty()));
    }
}

impl PowerFs {
    fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool, reply: ReplyEmpty) {
        let mut st = self.state();
        let res = (|| {
            let (path, rel) = st.child(parent, name)?;
            let meta = std::fs::symlink_metadata(&path).map_err(Errno::from)?;
            match (dir, meta.is_dir()) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if std::fs::read_dir(&path).map_err(Errno::from)?.next().is_some() => {
                    return Err(Errno::ENOTEMPTY)
                }
                _ => {}
            }
            let dir_fd = st.dir_fd(parent)?;
            st.pending.remove(parent.0, &dir_fd, name).map_err(|e| io_errno(&e))?;
            st.paths.retain(|_, p| *p != rel);
            Ok(())
        })();
        reply_or!(reply, res, () => reply.ok());
    }
}
