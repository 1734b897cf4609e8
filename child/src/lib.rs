//! faultline-child: the protocol between a parent (`faultline campaign`, `faultline serve`)
//! and the `faultline run` / `faultline campaign` child it starts, and the one supervisor
//! both parents use.
//!
//! ```text
//!  ChildCommand (typed) ──args──▶ faultline run --test <spec> --json --progress-json ...
//!  supervise: spawn (own process group, PARENT_PID_ENV = us) ──▶ stderr lines ─▶ on_line
//!             (ChildLine::parse: run progress, campaign progress, or a log line)
//!             stdout ─▶ Exited.stdout (output::run_results: the run's results.json)
//!             Cancel ─▶ SIGINT (the child removes its cluster) ─▶ after the grace: SIGKILL
//!  exit code ─▶ Exit (0 pass, 1 anomaly, 2 unknown, 3 error; docs/history-format.md)
//!  child side: parent::watched() + parent::gone(): the child stops when its parent dies
//! ```
//! It sits above `faultline-store` (whose `RunResults` and `CampaignProgressLine` it reads)
//! and below both the server and the binary, so each imports it without a back arrow.
//!
//! # Layout
//! - [`command`]: [`ChildCommand`], the typed command line of a child.
//! - [`line`](mod@line): [`ChildLine`], the progress lines a child writes on stderr.
//! - [`exit`]: [`Exit`], the exit codes every command shares.
//! - [`parent`]: [`PARENT_PID_ENV`] and the child's watch of its parent.
//! - [`output`]: the run's results on a child's stdout.
//! - [`supervise`](mod@supervise): [`supervise()`], [`Cancel`] and [`Exited`].
#![deny(missing_docs)]

pub mod command;
pub mod exit;
pub mod line;
pub mod output;
pub mod parent;
pub mod supervise;

pub use command::ChildCommand;
pub use exit::Exit;
pub use line::ChildLine;
pub use parent::PARENT_PID_ENV;
pub use supervise::{supervise, Cancel, ChildSpec, Exited, CANCEL_GRACE};
