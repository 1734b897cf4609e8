//! One queued job's child (`faultline run`, `faultline campaign`): started, followed (stderr
//! lines are progress, the `--json` object on stdout is the result), and cancelled the way
//! Ctrl-C would.
//!
//! ```text
//!  faultline -v run --test <spec> --store <store> --json --progress-json
//!  faultline campaign <file> --json --no-progress --progress-json
//!     stderr ─▶ on_line (progress)      stdout ─▶ the job's result (run_result for runs)
//!  the server dies ─▶ the child sees its parent change (PARENT_PID_ENV) and stops itself
//!  cancel ─▶ SIGINT (the run removes its cluster and exits 3) ─▶ after `grace`: SIGKILL
//!            (then the next run sweeps what it left)
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Notify;

use super::ServerConfig;
use crate::results::RunResults;

/// The environment variable through which a run learns the pid of the server that started
/// it: the run stops (removing its cluster) when that parent is gone.
pub const PARENT_PID_ENV: &str = "FAULTLINE_PARENT_PID";

/// How a child ended.
pub(crate) struct Exited {
    /// Its exit code (3 when a signal ended it).
    pub code: i32,
    /// What it printed on stdout (its `--json` result).
    pub stdout: String,
    /// It was cancelled (SIGINT, or SIGKILL after the grace).
    pub cancelled: bool,
}

/// The command line of a queued run (without the program).
pub(crate) fn run_args(spec: &Path, store: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["-v".into(), "run".into(), "--test".into()];
    args.push(spec.into());
    args.push("--store".into());
    args.push(store.into());
    args.push("--json".into());
    args.push("--progress-json".into());
    args
}

fn signal(pid: Option<u32>, sig: Signal) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // The child may have exited already; then there is nothing to stop.
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Runs `faultline <args>` to its end (or until `cancel` is notified, then stops it as
/// Ctrl-C does), feeding each line of its stderr to `on_line`.
pub(crate) async fn run_child(
    config: &ServerConfig,
    args: Vec<std::ffi::OsString>,
    cancel: Arc<Notify>,
    mut on_line: impl FnMut(String),
) -> Result<Exited, String> {
    let mut child = tokio::process::Command::new(&config.faultline_exe)
        .args(args)
        .env(PARENT_PID_ENV, std::process::id().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", config.faultline_exe.display()))?;
    let pid = child.id();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let progress = async {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            on_line(crate::logs::strip_ansi(&line));
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
    let ((), out, status) = tokio::select! {
        r = &mut all => r,
        () = cancel.notified() => {
            cancelled = true;
            tracing::info!(pid, "cancelling a child: SIGINT");
            signal(pid, Signal::SIGINT);
            match tokio::time::timeout(config.cancel_grace, &mut all).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(pid, "the child did not stop {:?} after SIGINT: SIGKILL",
                                   config.cancel_grace);
                    signal(pid, Signal::SIGKILL);
                    all.await
                }
            }
        }
    };
    let code = status.map_err(|e| format!("waiting for faultline: {e}"))?.code().unwrap_or(3);
    Ok(Exited { code, stdout: out, cancelled })
}

/// The run's `--json` result on `stdout` (read back with the type that wrote it): its
/// verdict, and the links to its files and report in the store.
pub(crate) fn run_result(
    store: &Path,
    stdout: &str,
) -> (Option<String>, Option<String>, Option<String>) {
    let result: Option<RunResults> =
        stdout.lines().rev().find_map(|l| serde_json::from_str::<RunResults>(l.trim()).ok());
    let verdict = result.as_ref().map(|r| r.verdict.to_string());
    let run_dir = result.as_ref().and_then(|r| relative_run_dir(store, &r.dir));
    let files = run_dir.as_ref().map(|d| format!("/runs/{d}/"));
    let report = run_dir
        .as_ref()
        .filter(|d| store.join(d).join("report.html").is_file())
        .map(|d| format!("/runs/{d}/report.html"));
    (verdict, files, report)
}

/// How long a cancelled run may take to remove its cluster before it is killed.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(30);

/// `<test>/<time>` of a run directory inside the store.
fn relative_run_dir(store: &Path, dir: &Path) -> Option<String> {
    let store = std::fs::canonicalize(store).ok()?;
    let dir = std::fs::canonicalize(dir).ok()?;
    let rel = dir.strip_prefix(&store).ok()?;
    let s = rel.to_str()?.to_string();
    (!s.is_empty()).then_some(s)
}
