//! The one supervisor of child processes, for `faultline campaign`'s cells and `faultline
//! serve`'s queued runs and campaigns: start a child, feed its stderr lines to the caller,
//! keep its stdout (the `--json` result), and stop it the way Ctrl-C would when cancelled.
//!
//! ```text
//!  supervise(ChildSpec, Cancel, on_line)
//!     spawn: own process group (a terminal's Ctrl-C reaches the parent only, which forwards
//!            it once), env PARENT_PID_ENV = us (the child stops when we die) + the spec's env
//!     stderr ─▶ on_line(line)       stdout ─▶ Exited.stdout       wait ─▶ Exited.code
//!  Cancel::cancel ─▶ SIGINT (the run removes its cluster, exits 3) ─▶ after `grace`: SIGKILL
//!                    (then the next run sweeps what it left)
//! ```
//! Async (tokio): the server awaits it in its queue's worker task; the campaign's worker
//! threads `block_on` it in one runtime.
// Supervising processes is I/O: it waits on them and times the grace of a cancel.
#![allow(clippy::disallowed_methods)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use crate::command::ChildCommand;
use crate::exit::Exit;
use crate::parent::PARENT_PID_ENV;

/// How long a cancelled child may take to remove its cluster before it is killed.
pub const CANCEL_GRACE: Duration = Duration::from_secs(30);

/// A child to start.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The `faultline` binary.
    pub exe: PathBuf,
    /// What it runs.
    pub command: ChildCommand,
    /// More environment (the campaign's slot of ports, say).
    pub env: Vec<(OsString, OsString)>,
    /// How long it may take to stop after SIGINT before it gets SIGKILL.
    pub grace: Duration,
}

impl ChildSpec {
    /// `exe command`, no extra environment, [`CANCEL_GRACE`].
    pub fn new(exe: impl Into<PathBuf>, command: ChildCommand) -> ChildSpec {
        ChildSpec { exe: exe.into(), command, env: Vec::new(), grace: CANCEL_GRACE }
    }
}

/// A switch that cancels the children supervised under it: one per queued job, or one for
/// every cell of a campaign. Cancelling before a child starts cancels it as soon as it does.
#[derive(Debug, Clone)]
pub struct Cancel(Arc<watch::Sender<bool>>);

impl Default for Cancel {
    fn default() -> Self {
        Cancel(Arc::new(watch::channel(false).0))
    }
}

impl Cancel {
    /// A switch not yet thrown.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Cancels every child supervised under it, now and later.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once cancelled (at once if it already is).
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exited {
    /// Its exit code (`None`: a signal ended it).
    pub code: Option<i32>,
    /// What it printed on stdout (its `--json` result).
    pub stdout: String,
    /// It was cancelled (SIGINT, or SIGKILL after the grace).
    pub cancelled: bool,
}

impl Exited {
    /// The exit, when the code is one of the four (a signal counts as an error).
    pub fn exit(&self) -> Option<Exit> {
        Exit::from_code(self.code)
    }

    /// The code, 3 (an error) when a signal ended it.
    pub fn code_or_error(&self) -> i32 {
        self.code.unwrap_or(i32::from(Exit::Error.code()))
    }

    /// Whether it got as far as a verdict (exit 0, 1 or 2) and was not cancelled.
    pub fn has_verdict(&self) -> bool {
        !self.cancelled && self.exit().is_some_and(Exit::has_verdict)
    }
}

fn signal(pid: Option<u32>, sig: Signal) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // The child may have exited already; then there is nothing to stop.
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Runs the child to its end (or until `cancel`, then stops it as Ctrl-C does), feeding each
/// line of its stderr to `on_line` as it comes.
///
/// # Errors
/// The child cannot be started or waited for (the message names the binary).
pub async fn supervise(
    spec: &ChildSpec,
    cancel: &Cancel,
    mut on_line: impl FnMut(String),
) -> Result<Exited, String> {
    let mut cmd = tokio::process::Command::new(&spec.exe);
    cmd.args(spec.command.args())
        .env(PARENT_PID_ENV, std::process::id().to_string())
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("starting {}: {e}", spec.exe.display()))?;
    let pid = child.id();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let progress = async {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            on_line(line);
        }
    };
    let output = async {
        let mut out = String::new();
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            out.push_str(&line);
            out.push('\n');
        }
        out
    };
    let all = async { tokio::join!(progress, output, child.wait()) };
    tokio::pin!(all);
    let mut cancelled = false;
    let ((), stdout, status) = tokio::select! {
        r = &mut all => r,
        () = cancel.cancelled() => {
            cancelled = true;
            tracing::info!(pid, what = spec.command.what(), "cancelling a child: SIGINT");
            signal(pid, Signal::SIGINT);
            match tokio::time::timeout(spec.grace, &mut all).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(pid, "the child did not stop {:?} after SIGINT: SIGKILL",
                                   spec.grace);
                    signal(pid, Signal::SIGKILL);
                    all.await
                }
            }
        }
    };
    let status = status.map_err(|e| format!("waiting for {}: {e}", spec.exe.display()))?;
    Ok(Exited { code: status.code(), stdout, cancelled })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;

    /// A stand-in `faultline`: a shell script (a mock of the binary, for this module only).
    fn script(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join("faultline");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn run_cmd() -> ChildCommand {
        ChildCommand::Run { test: "spec.json".into(), store: None, verbose: false }
    }

    #[tokio::test]
    async fn lines_result_code_and_environment() {
        let d = tempfile::tempdir().unwrap();
        let exe = script(
            d.path(),
            r#"echo "args $*" >&2; echo "parent $FAULTLINE_PARENT_PID ports $FAULTLINE_PORT_RANGE" >&2
echo '{"result": 1}'; exit 1"#,
        );
        let mut spec = ChildSpec::new(exe, run_cmd());
        spec.env.push(("FAULTLINE_PORT_RANGE".into(), "20000-20999".into()));
        let mut lines = Vec::new();
        let done = supervise(&spec, &Cancel::new(), |l| lines.push(l)).await.unwrap();
        assert_eq!(lines[0], "args run --test spec.json --json --progress-json");
        assert_eq!(lines[1], format!("parent {} ports 20000-20999", std::process::id()));
        assert_eq!(
            done,
            Exited { code: Some(1), stdout: "{\"result\": 1}\n".into(), cancelled: false }
        );
        assert_eq!(done.exit(), Some(Exit::Anomaly));
        assert!(done.has_verdict());
    }

    #[tokio::test]
    async fn cancel_sends_sigint_then_sigkill_after_the_grace() {
        let d = tempfile::tempdir().unwrap();
        // Stops on SIGINT with exit 3, as a run does.
        let polite = script(
            d.path(),
            "trap 'echo stopping >&2; exit 3' INT\necho up >&2\nwhile :; do sleep 0.05; done",
        );
        let cancel = Cancel::new();
        let c = cancel.clone();
        let spec = ChildSpec::new(polite, run_cmd());
        let mut seen = Vec::new();
        let done = supervise(&spec, &cancel, |l| {
            if l == "up" {
                c.cancel();
            }
            seen.push(l);
        })
        .await
        .unwrap();
        assert!(done.cancelled);
        assert_eq!(done.code, Some(3));
        assert!(!done.has_verdict());
        assert_eq!(seen, ["up", "stopping"]);

        // Ignores SIGINT: killed after the grace.
        let d = tempfile::tempdir().unwrap();
        let stubborn = script(d.path(), "trap '' INT\necho up >&2\nwhile :; do sleep 0.05; done");
        let mut spec = ChildSpec::new(stubborn, run_cmd());
        spec.grace = Duration::from_millis(300);
        let cancel = Cancel::new();
        cancel.cancel(); // before the start: cancelled as soon as it runs
        let done = supervise(&spec, &cancel, |_| {}).await.unwrap();
        assert!(done.cancelled);
        assert_eq!(done.code, None, "ended by SIGKILL");
        assert_eq!(done.code_or_error(), 3);
    }

    #[tokio::test]
    async fn a_missing_binary_is_named() {
        let spec = ChildSpec::new("/nonexistent/faultline", run_cmd());
        let err = supervise(&spec, &Cancel::new(), |_| {}).await.unwrap_err();
        assert!(err.contains("/nonexistent/faultline"), "{err}");
    }
}
