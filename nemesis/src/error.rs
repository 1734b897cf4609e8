//! The crate's error type: harness failures (never faults of the system under test).

use std::path::PathBuf;

/// A harness failure: the cluster or a fault could not be set up or torn down.
///
/// A fault that the system under test reacts badly to is *not* an error; it shows in the
/// history. These errors abort a run (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster specification is invalid (message names the field).
    #[error("invalid cluster spec: {0}")]
    Spec(String),
    /// The netns backend needs root.
    #[error(
        "the netns backend needs root (running as uid {uid}); use --backend local or run as root"
    )]
    NotRoot {
        /// The effective uid we run as.
        uid: u32,
    },
    /// A binary the system needs was not found.
    #[error("binary not found: {path} ({hint})")]
    BinaryMissing {
        /// The path or name looked for.
        path: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// A file or directory operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What we were doing.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A helper command (`ip`, `iptables`) failed.
    #[error("command `{command}` failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed on stderr (or why it could not run).
        stderr: String,
    },
    /// A node did not become ready in time.
    #[error("node {node} not ready after {secs}s (log: {log})")]
    NotReady {
        /// The node name ("n1").
        node: String,
        /// How long we waited.
        secs: u64,
        /// Its log file.
        log: PathBuf,
    },
    /// A node exited while we waited for it to become ready.
    #[error("node {node} exited during startup ({status}); see {log}")]
    Exited {
        /// The node name.
        node: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
    },
    /// No free port could be found.
    #[error("no free port on {0}")]
    NoPort(String),
    /// An unknown node name was given.
    #[error("unknown node {0:?}")]
    UnknownNode(String),
    /// A signal could not be delivered.
    #[error("signal {signal} to node {node} (pid {pid}): {source}")]
    Signal {
        /// The node name.
        node: String,
        /// The pid.
        pid: i32,
        /// The signal name.
        signal: &'static str,
        /// The errno.
        source: nix::Error,
    },
}

impl Error {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { what, path: path.into(), source }
    }
}
