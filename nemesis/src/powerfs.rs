//! The power-loss disk: a node's data dir as a FUSE mount over a backing directory, which
//! can lose every write that was not fsynced, as a power cut does (a SIGKILL does not: the
//! kernel's page cache survives it).
//!
//! ```text
//! nodes/nK/data.disk/       the backing directory (the bytes on the "disk")
//! nodes/nK/data/            the FUSE mount the node uses       (fs::PowerFs, one thread)
//! nodes/nK/data.graveyard/  removed entries, until their directory is fsynced
//!
//! Disk::mount ─▶ Disk::power_loss(seed), the node dead: unmount (lazy) ─▶ join the FUSE
//!   thread ─▶ Pending::rollback(Keep::draw(seed)) on the backing dir ─▶ mount again
//! Disk::unmount / Drop ─▶ unmount (lazy) ─▶ join
//! sweep(live tags) ─▶ unmount every `faultline-powerfs-<tag>` mount of a dead run
//! ```
//!
//! Remounting after the rollback means no page cache or dentry of the old mount can show
//! dropped data to the restarted node. The mount's source names the run's tag, so the next
//! run's sweep finds what a SIGKILLed controller left mounted.
#![allow(clippy::disallowed_methods)] // real mounts and bounded real waits: an I/O module

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fuser::{BackgroundSession, Config, MountOption};

use crate::sync::lock;
use crate::Error;

mod fs;
pub mod pending;

pub use pending::{Dropped, Keep};

use fs::{PowerFs, State};

/// The prefix of every power-loss mount's source (`faultline-powerfs-<tag>`).
pub const FSNAME_PREFIX: &str = "faultline-powerfs-";

/// How long an unmount waits for the FUSE thread before aborting the connection.
const JOIN_WAIT: Duration = Duration::from_secs(5);

/// One mounted power-loss disk.
#[derive(Debug)]
pub struct Disk {
    backing: PathBuf,
    mountpoint: PathBuf,
    graveyard: PathBuf,
    fsname: String,
    state: Option<Arc<Mutex<State>>>,
    session: Option<BackgroundSession>,
}

impl Disk {
    /// Mounts `backing` (made if missing) at `mountpoint` (made if missing); removed
    /// entries wait in `<mountpoint>.graveyard`. `tag` names the run in the mount's source.
    ///
    /// # Errors
    /// FUSE is unavailable ([`faultline_api::fuse::unavailable`]), or the mount fails.
    pub fn mount(backing: &Path, mountpoint: &Path, tag: &str) -> Result<Disk, Error> {
        if let Some(why) = faultline_api::fuse::unavailable() {
            return Err(Error::Spec(why.into()));
        }
        for d in [backing, mountpoint] {
            std::fs::create_dir_all(d).map_err(|e| Error::io("creating", d, e))?;
        }
        let mut graveyard = mountpoint.as_os_str().to_owned();
        graveyard.push(".graveyard");
        let mut disk = Disk {
            backing: backing.to_path_buf(),
            mountpoint: mountpoint.to_path_buf(),
            graveyard: graveyard.into(),
            fsname: format!("{FSNAME_PREFIX}{tag}"),
            state: None,
            session: None,
        };
        disk.start()?;
        Ok(disk)
    }

    /// The backing directory.
    pub fn backing(&self) -> &Path {
        &self.backing
    }

    /// Changes not yet durable (0 while unmounted).
    pub fn pending(&self) -> usize {
        self.state.as_ref().map_or(0, |s| lock(s).pending.len())
    }

    fn start(&mut self) -> Result<(), Error> {
        let pending = pending::Pending::new(&self.graveyard)
            .map_err(|e| Error::io("creating the graveyard", &self.graveyard, e))?;
        let state = Arc::new(Mutex::new(State::new(self.backing.clone(), pending)));
        let mut config = Config::default();
        config.mount_options =
            vec![MountOption::FSName(self.fsname.clone()), MountOption::Subtype("powerfs".into())];
        let session = fuser::spawn_mount(
            PowerFs(state.clone(), tracing::dispatcher::get_default(Clone::clone)),
            &self.mountpoint,
            &config,
        )
        .map_err(|e| Error::io("mounting the power-loss disk at", &self.mountpoint, e))?;
        tracing::debug!(mountpoint = %self.mountpoint.display(), "powerfs mounted");
        self.state = Some(state);
        self.session = Some(session);
        Ok(())
    }

    /// Unmounts (lazily) and waits for the FUSE thread; the pending log is returned.
    fn stop(&mut self) -> Option<pending::Pending> {
        let session = self.session.take()?;
        let conn = connection_id(&self.mountpoint);
        detach(&self.mountpoint);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(session.join());
        });
        if rx.recv_timeout(JOIN_WAIT).is_err() {
            tracing::warn!(mountpoint = %self.mountpoint.display(), "powerfs: aborting a busy connection");
            if let Some(id) = conn {
                let _ = std::fs::write(format!("/sys/fs/fuse/connections/{id}/abort"), "1");
            }
            let _ = rx.recv_timeout(JOIN_WAIT);
        }
        let state = self.state.take()?;
        let pending = match Arc::try_unwrap(state) {
            Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()).pending,
            // The FUSE thread still holds it (it did not end): take the log out.
            Err(shared) => {
                let mut st = lock(&shared);
                let empty = pending::Pending::new(&self.graveyard).ok()?;
                std::mem::replace(&mut st.pending, empty)
            }
        };
        Some(pending)
    }

    /// The power cut, the node's process already dead: unmounts, throws away what was not
    /// fsynced (all of it, or a seeded prefix, perhaps with its last write torn), mounts
    /// again.
    ///
    /// # Errors
    /// The rollback or the new mount failed.
    pub fn power_loss(&mut self, seed: u64) -> Result<Dropped, Error> {
        self.power_loss_keeping(|len| Keep::draw(seed, len))
    }

    /// [`Disk::power_loss`] keeping what `keep` says of the pending changes (it gets how
    /// many there are).
    ///
    /// # Errors
    /// The rollback or the new mount failed.
    pub fn power_loss_keeping(
        &mut self,
        keep: impl FnOnce(usize) -> Keep,
    ) -> Result<Dropped, Error> {
        let dropped = match self.stop() {
            Some(pending) => {
                let keep = keep(pending.len());
                pending
                    .rollback(keep)
                    .map_err(|e| Error::io("rolling back the power-loss disk", &self.backing, e))?
            }
            None => Dropped::default(),
        };
        self.start()?;
        Ok(dropped)
    }

    /// Unmounts, keeping everything written (also on drop).
    pub fn unmount(&mut self) {
        if let Some(p) = self.stop() {
            // Nothing is undone: the files stay as written; the graveyard goes.
            let _ = p.rollback(Keep { prefix: usize::MAX, torn: None });
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// The FUSE connection id of the mount at `path` (its device's minor number).
fn connection_id(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).ok()?.dev();
    Some(((dev >> 12) & !0xff) | (dev & 0xff))
}

/// Detaches the mount at `path`: umount2(MNT_DETACH) as root, else `fusermount3 -u -z`.
fn detach(path: &Path) {
    if nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH).is_ok() {
        return;
    }
    let out = std::process::Command::new(faultline_api::fuse::FUSERMOUNT)
        .args(["-u", "-z", "-q", "--"])
        .arg(path)
        .output();
    if let Some(o) = out.ok().filter(|o| !o.status.success()) {
        tracing::warn!(path = %path.display(), "fusermount3 -u -z: {}", String::from_utf8_lossy(&o.stderr));
    }
}

/// Every power-loss mount on this machine: (its run's tag, its mount point), from
/// `/proc/self/mountinfo`.
pub fn mounts() -> Vec<(String, PathBuf)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines().filter_map(parse_mountinfo).collect()
}

/// One `/proc/self/mountinfo` line, if it is a power-loss mount: (tag, mount point).
fn parse_mountinfo(line: &str) -> Option<(String, PathBuf)> {
    let (left, right) = line.split_once(" - ")?;
    let mountpoint = left.split(' ').nth(4)?;
    let mut right = right.split(' ');
    let (fstype, source) = (right.next()?, right.next()?);
    let tag = source.strip_prefix(FSNAME_PREFIX)?;
    if !fstype.starts_with("fuse") || tag.is_empty() || tag.len() > 64 {
        return None;
    }
    Some((tag.to_string(), PathBuf::from(unescape(mountpoint))))
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |acc, c| acc.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts (lazily) every power-loss mount whose run is not among `live`: what a run
/// killed with SIGKILL left. Returns the mount points.
pub(crate) fn sweep(live: &[String]) -> Vec<PathBuf> {
    let mut swept = Vec::new();
    for (tag, path) in mounts() {
        if !live.contains(&tag) {
            tracing::warn!(tag, path = %path.display(), "unmounting a power-loss disk left by a dead run");
            detach(&path);
            swept.push(path);
        }
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_are_parsed() {
        let ours = "36 35 0:45 / /tmp/run\\040x/nodes/n1/data rw,nosuid,nodev - fuse \
                    faultline-powerfs-ab12 rw,user_id=0,group_id=0";
        assert_eq!(
            parse_mountinfo(ours),
            Some(("ab12".into(), PathBuf::from("/tmp/run x/nodes/n1/data")))
        );
        let other = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw";
        assert_eq!(parse_mountinfo(other), None);
        assert_eq!(parse_mountinfo("garbage"), None);
    }
}
