//! One multiplexed SSH connection per host: `openssh` starts and owns the ControlMaster (host
//! keys checked against the known-hosts file), and every command of the run — spawning a
//! node, a signal, an iptables rule, an upload — goes through its control socket, so it
//! costs a round trip, not a handshake.
//!
//! Commands through the socket run synchronously (`std::process`): the cleanup guard must
//! work from `Drop`, a panic or a signal handler, without an async runtime.
#![allow(clippy::disallowed_methods)] // real ssh processes and real waiting: an I/O module

use std::ffi::OsString;
use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};

use crate::hosts::{HostsFile, SshHostSpec};
use crate::Error;

/// A live connection to one host.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The host as the hosts file gave it.
    pub spec: SshHostSpec,
    ctl: PathBuf,
    /// Keeps the master alive; dropping it closes the connection (`ssh -O exit`).
    session: Mutex<Option<Session>>,
}

/// Single-quotes `s` for a POSIX shell.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Conn {
    /// Connects to `host` (one ControlMaster for the whole run).
    ///
    /// # Errors
    /// [`Error::Command`] with ssh's own message (unknown or changed host key, refused
    /// authentication, unreachable host).
    pub async fn connect(host: &SshHostSpec, file: &HostsFile) -> Result<Conn, Error> {
        let mut b = SessionBuilder::default();
        b.port(host.port)
            .connect_timeout(Duration::from_secs(10))
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(std::env::temp_dir())
            // The master outlives a hard-killed controller by at most a minute once its
            // last client (a node's monitor) is gone.
            .control_persist(ControlPersist::IdleFor(NonZeroUsize::MIN.saturating_add(59)))
            .known_hosts_check(match file.accept_unknown_host_keys {
                true => KnownHosts::Add,
                false => KnownHosts::Strict,
            });
        if let Some(user) = &host.user {
            b.user(user.clone());
        }
        if let Some(key) = &host.key {
            b.keyfile(key);
        }
        if let Some(kh) = &file.known_hosts {
            b.user_known_hosts_file(kh);
        }
        let session = b.connect(host.ip.to_string()).await.map_err(|e| Error::Command {
            command: format!(
                "ssh {} (port {}, hosts file {})",
                host.addr,
                host.port,
                file.path.display()
            ),
            stderr: format!("{e}{}", source_chain(&e)),
        })?;
        let ctl = session.control_socket().to_path_buf();
        Ok(Conn { spec: host.clone(), ctl, session: Mutex::new(Some(session)) })
    }

    /// Closes the connection (`ssh -O exit` on the master); commands fail afterwards.
    pub fn close(&self) {
        drop(crate::sync::lock(&self.session).take());
    }

    /// A command that runs `script` on the host through the master (`sh -c`).
    pub fn command(&self, script: &str) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-S")
            .arg(&self.ctl)
            .args(["-o", "BatchMode=yes", "none", "--"])
            .arg(OsString::from(format!("exec sh -c {}", quote(script))));
        cmd
    }

    /// Runs `script` and returns its stdout.
    ///
    /// # Errors
    /// [`Error::Command`] with its stderr when it fails.
    pub fn run(&self, script: &str) -> Result<String, Error> {
        self.run_with_input(script, None)
    }

    /// Runs `script` as root (`sudo -n` when the hosts file says so).
    pub fn run_privileged(&self, script: &str) -> Result<String, Error> {
        match self.spec.sudo {
            true => self.run(&format!("sudo -n sh -c {}", quote(script))),
            false => self.run(script),
        }
    }

    fn run_with_input(&self, script: &str, input: Option<&Path>) -> Result<String, Error> {
        let mut cmd = self.command(script);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        match input {
            Some(p) => cmd.stdin(std::fs::File::open(p).map_err(|e| Error::io("reading", p, e))?),
            None => cmd.stdin(Stdio::null()),
        };
        let out = cmd.output().map_err(|e| self.failed(script, e.to_string()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(self.failed(script, format!("{} ({})", stderr, out.status)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn failed(&self, script: &str, stderr: String) -> Error {
        Error::Command {
            command: format!("on {}: {}", self.spec.addr, faultline_api::cut(script, 200)),
            stderr,
        }
    }

    /// Puts the local file `local`, whose sha256 is `want` ([`sha256`]), at `remote` (mode
    /// 755), unless the host already has the same bytes there. Returns whether it copied.
    ///
    /// # Errors
    /// The remote checksum or the copy failed.
    pub fn upload(&self, local: &Path, want: &str, remote: &str) -> Result<bool, Error> {
        let have = self
            .run(&format!("sha256sum {} 2>/dev/null || true", quote(remote)))?
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        if !want.is_empty() && want == have {
            return Ok(false);
        }
        let tmp = format!("{remote}.upload");
        let dir = remote.rsplit_once('/').map_or("/", |(d, _)| d);
        self.run_with_input(
            &format!(
                "mkdir -p {d} && cat > {t} && chmod 755 {t} && mv -f {t} {r}",
                d = quote(dir),
                t = quote(&tmp),
                r = quote(remote)
            ),
            Some(local),
        )?;
        Ok(true)
    }

    /// Appends the host's file `remote` to the local file `local` (best effort: a missing
    /// remote file copies nothing).
    pub fn fetch_append(&self, remote: &str, local: &Path) -> Result<(), Error> {
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(local)
            .map_err(|e| Error::io("opening", local, e))?;
        let mut cmd = self.command(&format!("cat {} 2>/dev/null || true", quote(remote)));
        let out =
            cmd.stdin(Stdio::null()).output().map_err(|e| self.failed("cat", e.to_string()))?;
        file.write_all(&out.stdout).map_err(|e| Error::io("writing", local, e))
    }
}

/// The sha256 of a local file, as `sha256sum` prints it (hex).
///
/// # Errors
/// `sha256sum` could not run or read the file.
pub(crate) fn sha256(local: &Path) -> Result<String, Error> {
    let out = Command::new("sha256sum")
        .arg(local)
        .output()
        .map_err(|e| Error::io("checksumming", local, e))?;
    let sum =
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_string();
    if !out.status.success() || sum.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Error::io("checksumming", local, std::io::Error::other(why)));
    }
    Ok(sum)
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = String::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}
