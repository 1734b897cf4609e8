//! The run's watchdog: a run still going long after everything it was given should have
//! ended (a hung node, a stuck check, a wedged runtime) is ended with exit 2 (unknown) and a
//! cleaned-up cluster.
//!
//! ```text
//!  execute ──Watchdog::start(budget)──▶ thread: recv_timeout(deadline)
//!          ──arm(CleanupHandle)──▶          (kept; the cluster now exists)
//!          ──drop (run over)────▶          disconnected: return
//!                                           deadline: cleanup_now(), exit(2)
//! ```
//! It is a plain thread, not a task, so that it fires even when the async runtime is stuck.
//! It is armed once the cluster is up; firing before that (only a cap far below the bounds
//! can do it, as `Cluster::start` has its own timeout) leaves what the start made to the next
//! run's sweep, like a SIGKILL.
//! The budget is the sum of every bound a run has — cluster start, `time-limit`,
//! `recovery-time`, `final-read-timeout`, `check-time-limit` — plus [`GRACE`] and the
//! graceful stop of each node; `--watchdog-secs` (or `FAULTLINE_WATCHDOG_SECS`, read by the
//! same flag) replaces it (a hard cap for CI).
// The watchdog measures real time on purpose.
#![allow(clippy::disallowed_methods)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use faultline_nemesis::CleanupHandle;

use super::config::RunConfig;

/// Slack on top of the run's own bounds (healing, reports, a slow machine).
pub const GRACE: Duration = Duration::from_secs(60);
/// Allowance per node for its graceful stop at the end (SIGTERM, then SIGKILL after 5 s).
const STOP_PER_NODE: Duration = Duration::from_secs(5);
/// The environment variable of `--watchdog-secs`, which replaces the computed budget.
pub const BUDGET_ENV: &str = "FAULTLINE_WATCHDOG_SECS";

/// Parses `--watchdog-secs`: a positive, finite number of seconds.
///
/// # Errors
/// Anything else, in words.
pub fn parse_cap(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(secs(x)),
        _ => Err(format!("{:?} is not a positive number of seconds", faultline_api::cut(s, 40))),
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

/// How long `cfg` may take at most, `ready_timeout` being the cluster's start bound; `cap`
/// (`--watchdog-secs`) replaces the computed budget.
pub fn budget(cfg: &RunConfig, ready_timeout: Duration, cap: Option<Duration>) -> Duration {
    if let Some(cap) = cap {
        return cap;
    }
    let parts = [
        ready_timeout,
        secs(cfg.time_limit),
        secs(cfg.recovery_time),
        secs(cfg.final_read_timeout),
        secs(cfg.check_time_limit),
        STOP_PER_NODE.saturating_mul(u32::try_from(cfg.cluster_nodes()).unwrap_or(u32::MAX)),
        GRACE,
    ];
    parts.into_iter().fold(Duration::ZERO, Duration::saturating_add)
}

/// The running watchdog; dropping it (the run is over) stops it.
pub struct Watchdog {
    tx: mpsc::Sender<CleanupHandle>,
}

impl Watchdog {
    /// Starts the watchdog thread. When `budget` passes first, it logs through `dispatch`,
    /// removes the cluster (once armed) and exits the process with status 2.
    ///
    /// # Errors
    /// The thread cannot be spawned.
    pub fn start(budget: Duration, dispatch: tracing::Dispatch) -> std::io::Result<Watchdog> {
        let (tx, rx) = mpsc::channel::<CleanupHandle>();
        let deadline = Instant::now().checked_add(budget);
        std::thread::Builder::new().name("watchdog".into()).spawn(move || {
            let mut cleanup = None;
            loop {
                let r = match deadline {
                    Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
                    None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                };
                match r {
                    Ok(handle) => cleanup = Some(handle),
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                }
            }
            let msg = format!(
                "watchdog: the run is still going {:.0} s after it started, past every bound it \
                 was given; removing the cluster and ending the run as unknown (exit 2)",
                budget.as_secs_f64()
            );
            tracing::dispatcher::with_default(&dispatch, || tracing::error!("{msg}"));
            eprintln!("error: {msg}");
            if let Some(c) = cleanup {
                c.cleanup_now();
            }
            std::process::exit(2);
        })?;
        Ok(Watchdog { tx })
    }

    /// Hands the watchdog the cluster to remove if it fires.
    pub fn arm(&self, cleanup: CleanupHandle) {
        // The thread only ends on disconnect (we still hold `tx`) or by exiting the process.
        let _ = self.tx.send(cleanup);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RunSettings;

    #[test]
    fn the_budget_is_every_bound_plus_grace() {
        let cfg = RunSettings {
            time_limit: Some(20.0),
            recovery_time: Some(10.0),
            final_read_timeout: Some(30.0),
            check_time_limit: Some(120.0),
            nodes: Some(3),
            ..RunSettings::default()
        }
        .into_config()
        .unwrap();
        let b = budget(&cfg, Duration::from_secs(30), None);
        assert_eq!(b, Duration::from_secs(30 + 20 + 10 + 30 + 120 + 15 + 60));
        let cap = Some(Duration::from_secs(6));
        assert_eq!(budget(&cfg, Duration::from_secs(30), cap), Duration::from_secs(6));
        let huge = RunConfig { time_limit: 1e300, ..cfg };
        assert_eq!(budget(&huge, Duration::from_secs(30), None), Duration::MAX, "saturates");
    }

    #[test]
    fn caps_are_positive_seconds() {
        assert_eq!(parse_cap(" 6 "), Ok(Duration::from_secs(6)));
        assert_eq!(parse_cap("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "nan", "inf", "six", ""] {
            assert!(parse_cap(bad).is_err(), "{bad}");
        }
    }
}
