//! The run registry: what each live run owns, on disk, so a later run can clean up after a
//! crashed one.
//!
//! ```text
//! <state dir>/<tag>.json = {controller_pid, binary, pids, netns}
//!   host::sweep_stale ──reap_dead()──> for each file whose controller is dead:
//!                                        SIGKILL its node pids (if still that binary),
//!                                        delete the file; the sweep then deletes its
//!                                        namespaces and unmounts its power-loss disks
//!   Cluster::start ──Registry::create()──> a fresh tag, file written before anything exists
//! ```
//!
//! The state dir is `$FAULTLINE_NEMESIS_STATE` or `<tmp>/faultline-nemesis-<uid>`. A namespace or
//! link named like ours whose tag has no state file at all (a crash before the file was
//! written cannot happen, but a deleted file can) is removed too.
#![allow(clippy::disallowed_methods)] // wall-clock nanos only seed the tag; this is an I/O module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::Error;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    controller_pid: u32,
    binary: PathBuf,
    pids: BTreeMap<usize, u32>,
    /// Each pid's start time (clock ticks since boot, `/proc/<pid>/stat` field 22): a reused
    /// pid has a different one, so a stale sweep never kills another run's process.
    #[serde(default)]
    starts: BTreeMap<u32, u64>,
    netns: bool,
}

/// This run's entry in the registry.
#[derive(Debug)]
pub(crate) struct Registry {
    pub tag: String,
    path: PathBuf,
    record: Record,
}

/// The registry's directory: `$FAULTLINE_NEMESIS_STATE`, or `<tmp>/faultline-nemesis-<uid>`
/// — one per user, so a run as one user never meets a directory another user made (root's
/// runs would otherwise leave one that an ordinary user cannot write to).
pub fn state_dir() -> PathBuf {
    std::env::var_os("FAULTLINE_NEMESIS_STATE").map_or_else(
        || std::env::temp_dir().join(format!("faultline-nemesis-{}", nix::unistd::getuid())),
        PathBuf::from,
    )
}

/// Holds an exclusive `flock` on `<state dir>/<name>` until dropped: serializes choices
/// that must not race between runs (e.g. picking a free subnet and claiming it).
pub(crate) fn exclusive_lock(name: &str) -> Result<nix::fcntl::Flock<std::fs::File>, Error> {
    let dir = state_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating state dir", &dir, e))?;
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("opening lock", &path, e))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| Error::io("locking", &path, errno.into()))
}

fn alive(pid: u32) -> bool {
    kill(Pid::from_raw(pid as i32), None).is_ok() || Path::new(&format!("/proc/{pid}")).exists()
}

/// What a scan of the registry found: the tags of live runs, and of the dead runs whose
/// records it removed (with whether each had namespaces).
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub live: Vec<String>,
    pub dead: Vec<(String, bool)>,
}

/// Reaps every run whose controller is gone: SIGKILLs its node processes (if still theirs)
/// and deletes its record. What else it owned (namespaces, mounts) the caller removes.
pub(crate) fn reap_dead() -> Scan {
    let mut scan = Scan::default();
    for entry in std::fs::read_dir(state_dir()).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(tag) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else {
            continue;
        };
        let record: Option<Record> =
            std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
        match record {
            Some(r) if alive(r.controller_pid) => scan.live.push(tag),
            Some(r) => {
                tracing::warn!(
                    tag,
                    "cleaning up after a crashed run (controller pid {})",
                    r.controller_pid
                );
                kill_stale(&r);
                let _ = std::fs::remove_file(&path);
                scan.dead.push((tag, r.netns));
            }
            // Unreadable: being written right now by a live run, or garbage. Leave it.
            None => scan.live.push(tag),
        }
    }
    scan
}

/// Whether a run with `tag` has a record (a run writes it before it makes anything).
pub(crate) fn is_registered(tag: &str) -> bool {
    state_dir().join(format!("{tag}.json")).exists()
}

/// A process's start time in clock ticks since boot, if it exists.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    stat.rsplit(')').next()?.split_whitespace().nth(19)?.parse().ok()
}

fn kill_stale(r: &Record) {
    let name = r.binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for &pid in r.pids.values() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        // Only kill it if the pid is still that process (pids get reused).
        let same_start = r.starts.get(&pid).is_none_or(|&t| start_time(pid) == Some(t));
        if same_start && !name.is_empty() && String::from_utf8_lossy(&cmdline).contains(&name) {
            let p = Pid::from_raw(pid as i32);
            let _ = kill(p, Signal::SIGCONT);
            let _ = kill(p, Signal::SIGKILL);
        }
    }
}

impl Registry {
    /// Reserves a fresh tag (none of `taken`, the tags names on this machine carry) and
    /// writes this run's record.
    pub fn create(
        binary: &Path,
        with_netns: bool,
        taken: &std::collections::BTreeSet<String>,
    ) -> Result<Registry, Error> {
        let dir = state_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating state dir", &dir, e))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut x =
            u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(nanos);
        for _ in 0..1000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let tag = format!("{:04x}", (x >> 48) as u16);
            if taken.contains(&tag) {
                continue;
            }
            let path = dir.join(format!("{tag}.json"));
            let record = Record {
                controller_pid: std::process::id(),
                binary: binary.to_path_buf(),
                pids: BTreeMap::new(),
                starts: BTreeMap::new(),
                netns: with_netns,
            };
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => {
                    serde_json::to_writer(f, &record)
                        .map_err(|e| Error::io("writing", &path, e.into()))?;
                    return Ok(Registry { tag, path, record });
                }
                // Taken by another run: draw again.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                // Not ours to write (a directory another user made, a read-only file system):
                // no other tag will do better.
                Err(e) => {
                    return Err(Error::io(
                        "creating this run's registry file (set FAULTLINE_NEMESIS_STATE to a \
                         directory you can write to)",
                        &path,
                        e,
                    ))
                }
            }
        }
        Err(Error::NoPort(format!("no free run tag in {}", dir.display())))
    }

    /// Records node `i`'s pid (or its absence).
    pub fn set_pid(&mut self, i: usize, pid: Option<u32>) {
        match pid {
            Some(p) => {
                if let Some(t) = start_time(p) {
                    self.record.starts.insert(p, t);
                }
                self.record.pids.insert(i, p)
            }
            None => {
                if let Some(old) = self.record.pids.remove(&i) {
                    self.record.starts.remove(&old);
                }
                None
            }
        };
        let tmp = self.path.with_extension("tmp");
        let ok = serde_json::to_vec(&self.record)
            .ok()
            .and_then(|b| std::fs::write(&tmp, b).ok())
            .and_then(|()| std::fs::rename(&tmp, &self.path).ok());
        if ok.is_none() {
            tracing::warn!(path = %self.path.display(), "could not update the run registry");
        }
    }

    /// Removes this run's record (everything it lists is gone).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_controllers_processes_are_killed_and_its_record_removed() {
        // A "node" that outlived its crashed controller.
        let mut orphan = std::process::Command::new("sleep").arg("300").spawn().unwrap();
        // A controller pid that is certainly dead: a process we started and reaped.
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        dead.wait().unwrap();
        let dir = state_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fffd.json");
        let record = Record {
            controller_pid: dead.id(),
            binary: "/usr/bin/sleep".into(),
            pids: BTreeMap::from([(0, orphan.id())]),
            starts: BTreeMap::from([(orphan.id(), start_time(orphan.id()).unwrap())]),
            netns: false,
        };
        std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
        // A live run's record must survive the sweep.
        let live =
            Registry::create(Path::new("/usr/bin/sleep"), false, &Default::default()).unwrap();

        let scan = reap_dead();
        assert!(scan.dead.contains(&("fffd".to_string(), false)), "{scan:?}");
        assert!(!path.exists());
        let status = orphan.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "SIGKILLed");
        assert!(dir.join(format!("{}.json", live.tag)).exists());
        live.remove();
        assert!(!dir.join(format!("{}.json", live.tag)).exists());
    }

    #[test]
    fn a_reused_pid_is_not_killed() {
        let mut bystander = std::process::Command::new("sleep").arg("300").spawn().unwrap();
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        dead.wait().unwrap();
        let record = Record {
            controller_pid: dead.id(),
            binary: "/usr/bin/sleep".into(),
            pids: BTreeMap::from([(0, bystander.id())]),
            // Recorded with another start time: the pid now belongs to someone else.
            starts: BTreeMap::from([(bystander.id(), 1)]),
            netns: false,
        };
        kill_stale(&record);
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(bystander.try_wait().unwrap().is_none(), "bystander survives");
        bystander.kill().unwrap();
        bystander.wait().unwrap();
    }
}
