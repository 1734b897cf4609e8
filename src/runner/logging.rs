//! The run's log: `faultline.log` in the run's directory (info and up, or `RUST_LOG`), plus
//! warnings on stderr printed around the progress line.
//!
//! ```text
//!  tracing events ──▶ Dispatch ─┬─▶ faultline.log   (RUST_LOG or "info")
//!                               └─▶ stderr, above the progress line (RUST_LOG or "warn")
//! ```
//! The CLI's global subscriber only writes to stderr, so a run installs this dispatcher as
//! the default of its own runtime's threads (see [`super::exec`]).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use indicatif::ProgressBar;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Libraries whose warnings are ours to report, not theirs: fuser warns when its own
/// unmount finds the power-loss disk already detached (`faultline_nemesis::powerfs` unmounts
/// lazily itself).
const QUIET: &str = "fuser=error";

/// Builds the dispatcher writing to `log` and (around `progress`) to stderr.
///
/// # Errors
/// The log file cannot be created.
pub fn dispatch(log: &Path, progress: ProgressBar) -> io::Result<tracing::Dispatch> {
    let file = Arc::new(Mutex::new(File::create(log)?));
    let filter = |default: &str| {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
    };
    let to_file = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(SharedFile(file))
        .with_filter(filter(&format!("info,{QUIET}")));
    let to_stderr = tracing_subscriber::fmt::layer()
        .with_ansi(crate::stderr_is_terminal())
        .with_writer(AroundProgress(progress))
        .with_filter(filter(&format!("warn,{QUIET}")));
    Ok(tracing::Dispatch::new(tracing_subscriber::registry().with(to_file).with(to_stderr)))
}

/// The log file, shared by every thread.
#[derive(Clone)]
struct SharedFile(Arc<Mutex<File>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A panic while writing a log line leaves a File, which stays usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

impl<'a> MakeWriter<'a> for SharedFile {
    type Writer = SharedFile;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Writes stderr lines with the progress line cleared meanwhile.
struct AroundProgress(ProgressBar);

/// One log line, written on drop.
struct Line {
    progress: ProgressBar,
    buf: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // Nothing to do if stderr is gone.
        self.progress.suspend(|| {
            let _ = io::stderr().write_all(&buf);
        });
    }
}

impl<'a> MakeWriter<'a> for AroundProgress {
    type Writer = Line;

    fn make_writer(&'a self) -> Self::Writer {
        Line { progress: self.0.clone(), buf: Vec::new() }
    }
}
