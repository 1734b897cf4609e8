//! The signals that interrupt a run: SIGINT (Ctrl-C), SIGTERM (`timeout`, `kill`, a CI job's
//! cancel, `DELETE /api/runs/{id}` sends SIGINT) and SIGHUP (a closed terminal). Each one is
//! handled the same way: the run stops where it is, the cluster is torn down (every process,
//! proxy, namespace and rule), the history so far is kept, and `faultline run` exits 3.
//!
//! ```text
//!  Interrupts::register() (first thing in the run's runtime: from then on none of the three
//!  takes its default action, so no window leaves a cluster behind)
//!     exec::run  select!{ phase, interrupts.recv() ─▶ CleanupHandle::cleanup_now ─▶ Err }
//! ```
//! SIGKILL cannot be handled: the next run's `Cluster::start` sweeps what such a run left.
//! A run started by `faultline serve` also stops this way when the server is gone (killed
//! with SIGKILL, say): the server passes its pid in [`PARENT_PID_ENV`], and a parent pid
//! that changes (the run was re-parented) is an interruption too (`faultline_child::parent`).

use std::fmt;

pub use faultline_child::PARENT_PID_ENV;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Which signal interrupted the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT (Ctrl-C).
    Int,
    /// SIGTERM.
    Term,
    /// SIGHUP.
    Hup,
    /// The parent named by [`PARENT_PID_ENV`] exited.
    ParentGone,
}

impl fmt::Display for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
            Interrupt::Hup => "SIGHUP",
            Interrupt::ParentGone => "its parent faultline serve is gone",
        })
    }
}

/// SIGINT, SIGTERM and SIGHUP, registered with tokio (and the parent to watch, if any).
pub struct Interrupts {
    int: Signal,
    term: Signal,
    hup: Signal,
    parent: Option<u32>,
}

impl Interrupts {
    /// Registers the three handlers; from now on none of them ends the process.
    ///
    /// # Errors
    /// A handler cannot be installed (outside a tokio runtime with signals enabled).
    pub fn register() -> std::io::Result<Interrupts> {
        Ok(Interrupts {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            parent: faultline_child::parent::watched(),
        })
    }

    /// Waits for the next of the three signals. Cancel-safe: a signal that arrives while
    /// nobody waits is kept for the next call.
    pub async fn recv(&mut self) -> Interrupt {
        tokio::select! {
            _ = self.int.recv() => Interrupt::Int,
            _ = self.term.recv() => Interrupt::Term,
            _ = self.hup.recv() => Interrupt::Hup,
            () = faultline_child::parent::gone(self.parent) => Interrupt::ParentGone,
        }
    }
}
