//! [`ReportInput`]: everything a report shows, borrowed from the caller.

use std::path::PathBuf;

use faultline_checker::shrink::Shrunk;
use faultline_checker::{CheckResult, History};
use serde_json::Value;

/// What a report is made from. Build it with [`ReportInput::new`] and the setters.
///
/// Only the history and the check result are required; `faultline check` has no
/// configuration or node logs, `faultline run` has all of it.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// The heading: the test name, or e.g. `check of history.jsonl`.
    pub title: String,
    /// The history as checked.
    pub history: &'a History,
    /// The checker's result for it.
    pub result: &'a CheckResult,
    /// The resolved configuration (`test.json`), shown as is.
    pub config: Option<&'a Value>,
    /// The run's seed; when `None`, `config["seed"]` is used if present.
    pub seed: Option<u64>,
    /// The exact command line that re-runs (or re-checks) this.
    pub command: Option<String>,
    /// A directory holding one sub-directory per node with its `node.log`
    /// (the store's `nodes/`). Excerpts around each fault are read from it.
    pub node_logs: Option<PathBuf>,
    /// The link to that directory as seen from the report (default `nodes`, which is right for
    /// a report written into the run's directory).
    pub node_logs_href: String,
    /// Wall-clock time (Unix nanoseconds) at history time 0, used to line node-log lines
    /// (tracing's RFC 3339 timestamps) up with faults. Without it, excerpts are not cut.
    pub start_unix_ns: Option<u64>,
    /// The smallest failing sub-history of each illegal key ([`faultline_checker::shrink`]),
    /// shown first; none when not shrunk.
    pub shrunk: &'a [Shrunk],
}

impl<'a> ReportInput<'a> {
    /// A report of `history` and its `result`, titled `title`.
    pub fn new(title: impl Into<String>, history: &'a History, result: &'a CheckResult) -> Self {
        ReportInput {
            title: title.into(),
            history,
            result,
            config: None,
            seed: None,
            command: None,
            node_logs: None,
            node_logs_href: "nodes".to_string(),
            start_unix_ns: None,
            shrunk: &[],
        }
    }

    /// Sets the configuration shown (`test.json`).
    pub fn config(mut self, config: &'a Value) -> Self {
        self.config = Some(config);
        self
    }

    /// Sets the seed shown.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the re-run command line shown.
    pub fn command(mut self, command: impl Into<String>) -> Self {
        self.command = Some(command.into());
        self
    }

    /// Sets the node-log directory (one sub-directory per node, each with `node.log`).
    pub fn node_logs(mut self, dir: impl Into<PathBuf>) -> Self {
        self.node_logs = Some(dir.into());
        self
    }

    /// Sets how the report links to the node-log directory (relative URL).
    pub fn node_logs_href(mut self, href: impl Into<String>) -> Self {
        self.node_logs_href = href.into();
        self
    }

    /// Sets the wall-clock time of history time 0 (Unix nanoseconds).
    pub fn start_unix_ns(mut self, ns: u64) -> Self {
        self.start_unix_ns = Some(ns);
        self
    }

    /// Sets the smallest failing sub-histories shown before the timeline.
    pub fn shrunk(mut self, shrunk: &'a [Shrunk]) -> Self {
        self.shrunk = shrunk;
        self
    }

    /// The seed: the one set, else `config["seed"]`.
    pub fn effective_seed(&self) -> Option<u64> {
        self.seed.or_else(|| self.config.and_then(|c| c.get("seed")).and_then(Value::as_u64))
    }
}
