//! A node's process: the `Process` seam (how the supervisor controls one process wherever it
//! lives), its local implementation, and `Proc`, the supervisor's per-node slot.
//!
//! ```text
//! Host::spawn ──> Box<dyn Process> ──signal(SIGKILL|SIGSTOP|SIGCONT|SIGTERM)──> its process group
//!                                  ──try_exit()──> exited? (reaped)
//! Proc { child: Option<Box<dyn Process>>, paused }  (one per node, in the cluster's Shared)
//! ```
//!
//! Local children are `std::process::Child`, each in its own process group: a signal goes to
//! the whole group, so a node started through a wrapper (`sh -c`, `ip netns exec`) is paused
//! and killed whole. They are reaped with `wait()` right after a kill (immediate) and polled
//! with `try_wait()`, so no async runtime is needed, which lets the panic/`Drop` guard clean
//! up synchronously.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::Error;

/// One node process, as the supervisor controls it (local today; a remote host's process
/// implements the same).
pub trait Process: Send + std::fmt::Debug {
    /// Its pid on its host.
    fn pid(&self) -> u32;

    /// How it exited, once it has (reaping it); `None` while it runs.
    fn try_exit(&mut self) -> Option<String>;

    /// Sends `sig` to its process group. A process that is already gone is not an error.
    ///
    /// # Errors
    /// [`Error::Signal`] when the signal could not be sent.
    fn signal(&self, node: &str, sig: Signal) -> Result<(), Error>;

    /// SIGKILLs its process group and reaps it (a stopped process dies on SIGKILL too).
    ///
    /// # Errors
    /// [`Error::Signal`] when the signal could not be sent.
    fn kill(&mut self, node: &str) -> Result<(), Error>;
}

/// A spawned node: its process and, when asked for, its stdin and stdout.
#[derive(Debug)]
pub struct Spawned {
    /// The process.
    pub process: Box<dyn Process>,
    /// Its stdin and stdout as pipes (`NodeStdio::Piped`); `None` when they go to the log.
    pub pipes: Option<(ChildStdin, ChildStdout)>,
}

/// A child of this process, in its own process group.
#[derive(Debug)]
pub(crate) struct LocalProcess {
    child: Child,
}

impl LocalProcess {
    /// Starts `argv` with stderr (and stdout, unless `piped`) appended to `log`, in its own
    /// process group (so a Ctrl-C on the terminal reaches only the controller, which then
    /// cleans up).
    pub fn spawn(node: &str, argv: &[OsString], log: &Path, piped: bool) -> Result<Spawned, Error> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| Error::io("opening log", log, e))?;
        let err = out.try_clone().map_err(|e| Error::io("opening log", log, e))?;
        let (prog, args) = argv.split_first().ok_or_else(|| Error::Spec("empty command".into()))?;
        let mut cmd = Command::new(prog);
        cmd.args(args).stderr(err).process_group(0);
        if piped {
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        } else {
            cmd.stdin(Stdio::null()).stdout(out);
        }
        let mut child = cmd.spawn().map_err(|e| Error::Command {
            command: format!("{} (node {node})", prog.to_string_lossy()),
            stderr: e.to_string(),
        })?;
        tracing::debug!(node, pid = child.id(), "spawned");
        let pipes = match (child.stdin.take(), child.stdout.take()) {
            (Some(i), Some(o)) => Some((i, o)),
            _ => None,
        };
        Ok(Spawned { process: Box::new(LocalProcess { child }), pipes })
    }

    fn signal_group(&self, node: &str, sig: Signal) -> Result<(), Error> {
        let pid = self.child.id() as i32;
        match kill(Pid::from_raw(-pid), sig) {
            Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
            Err(source) => {
                Err(Error::Signal { node: node.to_string(), pid, signal: sig.as_str(), source })
            }
        }
    }
}

impl Process for LocalProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn try_exit(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("lost ({e})")),
        }
    }

    fn signal(&self, node: &str, sig: Signal) -> Result<(), Error> {
        self.signal_group(node, sig)
    }

    fn kill(&mut self, node: &str) -> Result<(), Error> {
        let r = self.signal_group(node, Signal::SIGKILL);
        // The kill was delivered (or the process was already gone): wait() returns at once.
        let _ = self.child.wait();
        r
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        // Never leave a node behind: a dropped process is killed.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.kill("?");
        }
    }
}

/// A node's process slot: the current process (if running) and whether it is stopped.
#[derive(Debug, Default)]
pub(crate) struct Proc {
    child: Option<Box<dyn Process>>,
    pub paused: bool,
}

impl Proc {
    /// A slot holding a freshly spawned process.
    pub fn running(process: Box<dyn Process>) -> Proc {
        Proc { child: Some(process), paused: false }
    }

    /// The pid, while a process exists.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.pid())
    }

    /// Whether the process exists and has not exited. Reaps it when it has.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_exit()) {
            Some(None) => true,
            Some(Some(_)) => {
                self.child = None;
                self.paused = false;
                false
            }
            None => false,
        }
    }

    /// How the process exited, if it has (reaping it).
    pub fn exit_status(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_exit()?;
        self.child = None;
        self.paused = false;
        Some(status)
    }

    /// Sends `sig` to the process (nothing when there is none).
    pub fn signal(&self, node: &str, sig: Signal) -> Result<(), Error> {
        match &self.child {
            Some(c) => c.signal(node, sig),
            None => Ok(()),
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self, node: &str) -> Result<(), Error> {
        self.paused = false;
        match self.child.take() {
            Some(mut c) => c.kill(node),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: u32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit(')').next()?.trim_start().chars().next()
    }

    fn wait_state(pid: u32, want: impl Fn(Option<char>) -> bool) -> bool {
        (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            want(state(pid))
        })
    }

    #[test]
    fn stop_continue_kill_and_log_redirect() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("node.log");
        let argv: Vec<OsString> = ["sh", "-c", "echo started; echo oops >&2; exec sleep 300"]
            .iter()
            .map(OsString::from)
            .collect();
        let mut p = Proc::running(LocalProcess::spawn("n1", &argv, &log, false).unwrap().process);
        let pid = p.pid().unwrap();
        assert!(p.is_running());
        p.signal("n1", Signal::SIGSTOP).unwrap();
        assert!(wait_state(pid, |s| s == Some('T')), "stopped");
        p.signal("n1", Signal::SIGCONT).unwrap();
        assert!(wait_state(pid, |s| s != Some('T')), "continued");
        p.kill("n1").unwrap();
        assert!(!p.is_running());
        assert_eq!(state(pid), None, "reaped, no zombie");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("started") && text.contains("oops"), "{text}");
    }

    #[test]
    fn exit_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let argv: Vec<OsString> = ["sh", "-c", "exit 3"].iter().map(OsString::from).collect();
        let spawned = LocalProcess::spawn("n1", &argv, &dir.path().join("log"), false).unwrap();
        let mut p = Proc::running(spawned.process);
        let status = (0..200).find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            p.exit_status()
        });
        assert!(status.unwrap().contains('3'));
        assert!(!p.is_running());
    }

    #[test]
    fn signals_reach_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("node.log");
        // A wrapper shell with a grandchild: the shape of `sh -c` node commands.
        let argv: Vec<OsString> =
            ["sh", "-c", "sleep 300 & echo $!; wait"].iter().map(OsString::from).collect();
        let mut p = Proc::running(LocalProcess::spawn("n1", &argv, &log, false).unwrap().process);
        let grandchild: u32 = (0..200)
            .find_map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(10));
                std::fs::read_to_string(&log).ok()?.trim().parse().ok()
            })
            .expect("the wrapper printed its child's pid");
        p.signal("n1", Signal::SIGSTOP).unwrap();
        assert!(wait_state(grandchild, |s| s == Some('T')), "the grandchild is stopped too");
        p.signal("n1", Signal::SIGCONT).unwrap();
        assert!(wait_state(grandchild, |s| s != Some('T')), "and continued");
        p.kill("n1").unwrap();
        assert!(wait_state(grandchild, |s| s.is_none() || s == Some('Z')), "and killed");
    }

    #[test]
    fn piped_stdio_reaches_the_process_and_stderr_the_log() {
        use std::io::{BufRead, BufReader, Write};
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("node.log");
        let argv: Vec<OsString> =
            ["sh", "-c", "echo to-log >&2; exec cat"].iter().map(OsString::from).collect();
        let spawned = LocalProcess::spawn("n1", &argv, &log, true).unwrap();
        let (mut stdin, stdout) = spawned.pipes.expect("pipes when piped");
        let mut p = Proc::running(spawned.process);
        stdin.write_all(b"{\"hello\":1}\n").unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(line, "{\"hello\":1}\n");
        p.kill("n1").unwrap();
        assert!(std::fs::read_to_string(&log).unwrap().contains("to-log"));
    }
}
