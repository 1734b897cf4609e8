//! A node process on a remote host. A local `ssh` client (through the host's master) runs a
//! small shell script there that starts the node with `setsid` (its own session and process
//! group), reports the node's pid, and waits for it; so the local client exits when the
//! node does, with its status, and no polling is needed to notice an exit. Signals go to the
//! node's process group through the master (`kill -s SIG -- -PID`).
//!
//! ```text
//! ssh -S ctl none -- sh -c 'mkdir -p D && cd D && { setsid PROG ARGS 2>>node.log IO & p=$!;
//!                           echo "faultline-pid $p" >&2; echo $p > node.pid; wait $p; }'
//! ```
#![allow(clippy::disallowed_methods)] // real processes and real waiting: an I/O module

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::conn::{quote, Conn};
use crate::process::{Process, Spawned};
use crate::Error;

/// A node started over ssh.
#[derive(Debug)]
pub(crate) struct SshProcess {
    conn: Arc<Conn>,
    /// The local ssh client that waits for the node.
    monitor: Child,
    /// The node's pid on its host (its process group id too).
    pid: u32,
}

impl SshProcess {
    /// Starts `argv` (already mapped to the host's paths) in `dir` on the host.
    pub fn spawn(
        conn: Arc<Conn>,
        node: &str,
        dir: &str,
        argv: &[String],
        piped: bool,
    ) -> Result<Spawned, Error> {
        let cmd: Vec<String> = argv.iter().map(|a| quote(a)).collect();
        let io = if piped { "0<&0" } else { ">>node.log </dev/null" };
        let script = format!(
            "mkdir -p {d} && cd {d} && {{ setsid {cmd} 2>>node.log {io} & p=$!; \
             echo \"faultline-pid $p\" >&2; echo $p > node.pid; wait $p; }}",
            d = quote(dir),
            cmd = cmd.join(" ")
        );
        let mut c = conn.command(&script);
        c.stderr(Stdio::piped());
        if piped {
            c.stdin(Stdio::piped()).stdout(Stdio::piped());
        } else {
            c.stdin(Stdio::null()).stdout(Stdio::null());
        }
        let mut monitor = c.spawn().map_err(|e| Error::Command {
            command: format!("ssh {} (node {node})", conn.spec.addr),
            stderr: e.to_string(),
        })?;
        let stderr = monitor.stderr.take().ok_or(Error::Spec("no stderr pipe".into()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let name = node.to_string();
        // Reads the pid line, then passes on whatever ssh itself says (connection trouble).
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                match line.strip_prefix("faultline-pid ").and_then(|p| p.trim().parse().ok()) {
                    Some(pid) => {
                        let _ = tx.send(Ok(pid));
                        break;
                    }
                    None => {
                        let _ = tx.send(Err(line));
                    }
                }
            }
            for line in lines.map_while(Result::ok) {
                tracing::warn!(node = name, "ssh: {line}");
            }
        });
        let mut said = Vec::new();
        let pid = loop {
            match rx.recv_timeout(Duration::from_secs(15)) {
                Ok(Ok(pid)) => break pid,
                Ok(Err(line)) => said.push(line),
                Err(_) => {
                    let _ = monitor.kill();
                    let _ = monitor.wait();
                    return Err(Error::Command {
                        command: format!("starting node {node} on {}", conn.spec.addr),
                        stderr: format!("no pid reported; ssh said: {}", said.join(" / ")),
                    });
                }
            }
        };
        tracing::debug!(node, host = conn.spec.addr, pid, "spawned over ssh");
        let pipes = match (monitor.stdin.take(), monitor.stdout.take()) {
            (Some(i), Some(o)) => Some((i, o)),
            _ => None,
        };
        Ok(Spawned { process: Box::new(SshProcess { conn, monitor, pid }), pipes })
    }

    fn signal_group(&self, node: &str, sig: Signal) -> Result<(), Error> {
        // `kill -s NAME -- -PGID`: the form dash, bash and busybox all take. A group that is
        // already gone is not an error (as locally); one that exists and refused is.
        let (name, g) = (sig.as_str().trim_start_matches("SIG"), self.pid);
        let script =
            format!("kill -s {name} -- -{g} 2>/dev/null || ! kill -s 0 -- -{g} 2>/dev/null");
        self.conn.run(&script).map(|_| ()).map_err(|e| {
            tracing::warn!(node, "signal over ssh: {e}");
            e
        })
    }
}

impl Process for SshProcess {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn try_exit(&mut self) -> Option<String> {
        match self.monitor.try_wait() {
            Ok(Some(status)) if status.code() == Some(255) => {
                // ssh lost the connection: the node may still run; make sure it does not.
                let _ = self.signal_group("?", Signal::SIGKILL);
                Some("lost (the ssh connection broke)".into())
            }
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
        // The remote shell's `wait` returns once the node is dead, and ssh exits with it.
        for _ in 0..250 {
            if !matches!(self.monitor.try_wait(), Ok(None)) {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.monitor.kill();
        let _ = self.monitor.wait();
        r
    }
}

impl Drop for SshProcess {
    fn drop(&mut self) {
        if matches!(self.monitor.try_wait(), Ok(None)) {
            let _ = self.kill("?");
        }
    }
}
