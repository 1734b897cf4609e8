//! One node's OS process: spawn with its log redirected, signals, reaping.
//!
//! ```text
//! spawn(argv, log) ──> Proc { child } ──signal(SIGKILL|SIGSTOP|SIGCONT|SIGTERM)──> kernel
//!                                     ──try_wait()──> exited?
//! ```
//!
//! Children are `std::process::Child`: they are reaped with `wait()` right after a kill
//! (immediate) and polled with `try_wait()`, so no async runtime is needed, which lets the
//! panic/`Drop` guard clean up synchronously.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::Error;

/// A node's process slot: the current child (if running) and whether it is stopped.
#[derive(Debug, Default)]
pub(crate) struct Proc {
    pub child: Option<Child>,
    pub paused: bool,
}

impl Proc {
    /// Starts `argv` with stdout and stderr appended to `log`, in its own process group (so a
    /// Ctrl-C on the terminal reaches only the controller, which then cleans up).
    pub fn spawn(node: &str, argv: &[OsString], log: &Path) -> Result<Proc, Error> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| Error::io("opening log", log, e))?;
        let err = out.try_clone().map_err(|e| Error::io("opening log", log, e))?;
        let (prog, args) = argv.split_first().ok_or_else(|| Error::Spec("empty command".into()))?;
        let child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| Error::Command {
                command: format!("{} (node {node})", prog.to_string_lossy()),
                stderr: e.to_string(),
            })?;
        tracing::debug!(node, pid = child.id(), "spawned");
        Ok(Proc { child: Some(child), paused: false })
    }

    /// The pid, while a child exists.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the child exists and has not exited. Reaps it when it has.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                self.paused = false;
                false
            }
            None => false,
        }
    }

    /// How the child exited, if it has (reaping it).
    pub fn exit_status(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status.to_string())
    }

    /// Sends `sig` to the child.
    pub fn signal(&self, node: &str, sig: Signal) -> Result<(), Error> {
        let Some(pid) = self.pid() else { return Ok(()) };
        kill(Pid::from_raw(pid as i32), sig).map_err(|source| Error::Signal {
            node: node.to_string(),
            pid: pid as i32,
            signal: sig.as_str(),
            source,
        })
    }

    /// SIGKILL and reap. A stopped process dies on SIGKILL too.
    pub fn kill(&mut self, node: &str) -> Result<(), Error> {
        if let Some(mut child) = self.child.take() {
            let r = self.signal_pid(node, child.id(), Signal::SIGKILL);
            // The kill was delivered (or the process was already gone): wait() returns at once.
            let _ = child.wait();
            self.paused = false;
            r?;
        }
        Ok(())
    }

    fn signal_pid(&self, node: &str, pid: u32, sig: Signal) -> Result<(), Error> {
        match kill(Pid::from_raw(pid as i32), sig) {
            Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
            Err(source) => Err(Error::Signal {
                node: node.to_string(),
                pid: pid as i32,
                signal: sig.as_str(),
                source,
            }),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Never leave a node behind: a dropped slot kills its process.
        let _ = self.kill("?");
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
        let mut p = Proc::spawn("n1", &argv, &log).unwrap();
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
        let mut p = Proc::spawn("n1", &argv, &dir.path().join("log")).unwrap();
        let status = (0..200).find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            p.exit_status()
        });
        assert!(status.unwrap().contains('3'));
        assert!(!p.is_running());
    }
}
