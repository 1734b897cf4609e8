//! Crash-atomic files: snapshots and WAL rewrites.
//!
//! ```text
//!   write_atomic(dir, name, bytes):
//!     dir/name.tmp  <- MAGIC | len: u64 LE | crc32: u32 LE | bytes   (create, write, fsync)
//!     rename(name.tmp -> name)                                       (atomic on POSIX)
//!     fsync(dir)                                                     (the rename is durable)
//! ```
//!
//! A crash before the rename leaves the old file intact and a `.tmp` file that
//! [`remove_leftovers`] deletes at start-up; a crash after it leaves the new file. A reader
//! never sees a half-written file under `name`. The checksum catches later disk corruption:
//! a snapshot that fails it is an error, never silently used.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The first bytes of a snapshot file.
const MAGIC: &[u8; 8] = b"FLSNP002";
const HEADER_LEN: usize = MAGIC.len() + 8 + 4;

/// The suffix of files being written; a leftover one is a crash mid-write.
pub const TMP_SUFFIX: &str = ".tmp";

fn tmp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{TMP_SUFFIX}"))
}

/// Fsyncs a directory so that creations, renames and deletions in it are durable.
///
/// # Errors
///
/// Any I/O error opening or syncing the directory.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` (framed with a checksum) to `dir/name` atomically and durably.
///
/// # Errors
///
/// Any I/O error; the previous `dir/name`, if any, is then still intact.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_path(dir, name);
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
    file.write_all(&header)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Writes an already framed file image (e.g. a rewritten WAL) to `dir/name` atomically.
///
/// # Errors
///
/// Any I/O error; the previous `dir/name`, if any, is then still intact.
pub fn replace_raw(dir: &Path, name: &str, image: &[u8]) -> io::Result<()> {
    let tmp = tmp_path(dir, name);
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    file.write_all(image)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Reads and verifies `dir/name` written by [`write_atomic`]; `Ok(None)` if it does not exist.
///
/// # Errors
///
/// I/O errors, and `InvalidData` when its magic, length or checksum is wrong (the caller names
/// the file).
pub fn read_checked(dir: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    let image = match fs::read(&path) {
        Ok(image) => image,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // The caller names the file; the message says what is wrong with it.
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    if image.len() < HEADER_LEN || &image[..MAGIC.len()] != MAGIC {
        return Err(bad("not a snapshot file (bad magic or too short)"));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&image[8..16]);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&image[16..20]);
    let body = &image[HEADER_LEN..];
    if u64::from_le_bytes(len) != body.len() as u64 {
        return Err(bad("length does not match the header"));
    }
    if crc32fast::hash(body) != u32::from_le_bytes(crc) {
        return Err(bad("checksum mismatch"));
    }
    Ok(Some(body.to_vec()))
}

/// Deletes `dir/name.tmp` left by a crash during [`write_atomic`] or [`replace_raw`].
///
/// Returns whether a leftover was found.
///
/// # Errors
///
/// Any I/O error other than the file not existing.
pub fn remove_leftovers(dir: &Path, name: &str) -> io::Result<bool> {
    match fs::remove_file(tmp_path(dir, name)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_checked(dir.path(), "snap").unwrap(), None);
        write_atomic(dir.path(), "snap", b"state one").unwrap();
        write_atomic(dir.path(), "snap", b"state two").unwrap();
        assert_eq!(read_checked(dir.path(), "snap").unwrap().unwrap(), b"state two");
        assert!(!dir.path().join("snap.tmp").exists());
    }

    #[test]
    fn a_leftover_temp_file_is_ignored_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "snap", b"durable").unwrap();
        // A crash mid-write of a newer snapshot: a torn temp file remains.
        fs::write(dir.path().join("snap.tmp"), b"FLSNP002\x10garbage").unwrap();
        assert_eq!(read_checked(dir.path(), "snap").unwrap().unwrap(), b"durable");
        assert!(remove_leftovers(dir.path(), "snap").unwrap());
        assert!(!remove_leftovers(dir.path(), "snap").unwrap());
    }

    #[test]
    fn corruption_is_an_invalid_data_error() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "snap", b"some state").unwrap();
        let path = dir.path().join("snap");
        let mut image = fs::read(&path).unwrap();
        let last = image.len() - 1;
        image[last] ^= 1;
        fs::write(&path, &image).unwrap();
        let err = read_checked(dir.path(), "snap").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("checksum"), "{err}");
    }
}
