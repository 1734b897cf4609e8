//! Errors of report rendering and of the store.

use std::path::PathBuf;

use thiserror::Error;

/// Why a report could not be rendered or written.
#[derive(Debug, Error)]
pub enum ReportError {
    /// A template failed to render (a bug in the templates, or an unexpected value).
    #[error("report template: {0:#}")]
    Template(#[from] minijinja::Error),
    /// A plot could not be drawn.
    #[error("plot {name}: {message}")]
    Plot {
        /// Which plot.
        name: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Embedded data could not be serialized.
    #[error("report data: {0}")]
    Json(#[from] serde_json::Error),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io { path: path.into(), source }
    }
}
