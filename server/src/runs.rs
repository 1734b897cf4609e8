//! Runs started through the API: a bounded FIFO queue, one `faultline run` child at a time,
//! progress from its stderr, server-sent events, and cancellation.
//!
//! ```text
//!  POST /api/runs (spec) ─▶ spec::parse (400) ─▶ queue full? (429) ─▶ .specs/run-<id>.json
//!        worker task: one at a time ─▶ faultline_child::supervise ─▶ spec file removed
//!        at the end
//!            stderr lines ─▶ RunRecord.progress + broadcast ─▶ GET /api/runs/{id}/events
//!            stdout JSON  ─▶ verdict, run dir, report URL
//!  DELETE /api/runs/{id}: queued ─▶ dropped (cancelled, spec removed)
//!                         running ─▶ SIGINT to the child (it removes its cluster as on Ctrl-C)
//! ```
//! The queue is a [`Queue`] of [`RunRecord`]s (records kept in `store/.runs/`); it shares the
//! machine with the campaign queue: one child runs at a time, as every run uses the same
//! ports and namespaces.

use std::convert::Infallible;
use std::path::Path;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use faultline_child::output::run_results;
use faultline_child::{ChildCommand, ChildLine, Exited};
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::require_api_content_type;
use crate::extract::ApiPath;
use crate::queue::{Job, Queue, RunState};
use crate::{spec, ApiError, AppState, ServerConfig};

/// Lines of progress kept per run (the oldest are dropped).
const KEEP_LINES: usize = 500;

/// The run queue.
pub(crate) type Runs = Queue<RunRecord>;

/// A run started through the API, as `GET /api/runs/{id}` shows it; kept in
/// `store/.runs/<id>.json` so that records survive a restart of the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The id (1, 2, ...), in order of submission.
    pub id: u64,
    /// Queued, running, done, failed or cancelled.
    pub state: RunState,
    /// The test's name from the spec, if it has one.
    pub name: Option<String>,
    /// Runs ahead of it (queued or running), while queued.
    pub queue_position: Option<usize>,
    /// The process exit code, once it ended.
    pub exit_code: Option<i32>,
    /// `linearizable`, `illegal` or `unknown`, once known.
    pub verdict: Option<String>,
    /// `/runs/<test>/<time>/`, once the run has a directory.
    pub files: Option<String>,
    /// `/runs/<test>/<time>/report.html`, once written.
    pub report: Option<String>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// The last progress lines (stderr of the child).
    pub progress: Vec<String>,
}

impl Job for RunRecord {
    const WHAT: &'static str = "run";
    const RECORDS: &'static str = ".runs";

    fn id(&self) -> u64 {
        self.id
    }

    fn state(&self) -> RunState {
        self.state
    }

    fn set_state(&mut self, state: RunState, queue_position: Option<usize>) {
        self.state = state;
        self.queue_position = queue_position;
    }

    fn set_error(&mut self, error: String) {
        self.error = Some(error);
    }

    fn command(input: &Path, store: &Path) -> ChildCommand {
        ChildCommand::Run { test: input.into(), store: Some(store.into()), verbose: true }
    }

    fn on_line(&mut self, line: String) -> (&'static str, String) {
        if self.progress.len() >= KEEP_LINES {
            self.progress.remove(0);
        }
        let data = progress_event(&line);
        self.progress.push(line);
        ("progress", data)
    }

    fn replay(&self) -> Vec<(&'static str, String)> {
        self.progress.iter().map(|l| ("progress", progress_event(l))).collect()
    }

    /// Fills in how the run ended. Errors never show the server's spec path.
    fn finish(&mut self, outcome: Result<Exited, String>, config: &ServerConfig, spec: &Path) {
        let hide = |e: String| e.replace(&spec.display().to_string(), "the posted spec");
        let r = self;
        match outcome {
            Ok(done) => {
                let (verdict, files, report) = run_result(&config.store, &done.stdout);
                r.exit_code = Some(done.code_or_error());
                r.verdict = verdict;
                r.files = files;
                r.report = report;
                r.state = RunState::of_exit(&done);
                // The child's own `error: ...` line says why, else its last words.
                let last = r.progress.iter().rev().find(|l| l.starts_with("error:"));
                let last = last.or(r.progress.last()).cloned().unwrap_or_default();
                r.error = match r.state {
                    RunState::Cancelled => Some(
                        "cancelled: the run was interrupted and its cluster removed, as on Ctrl-C"
                            .into(),
                    ),
                    RunState::Failed => Some(hide(format!(
                        "faultline run exited with {}: {last}",
                        done.code_or_error()
                    ))),
                    _ => None,
                };
            }
            Err(e) => {
                r.state = RunState::Failed;
                r.error = Some(hide(e));
            }
        }
    }

    fn state_json(&self) -> String {
        let r = self;
        json!({ "state": r.state, "verdict": r.verdict, "exit_code": r.exit_code,
                "report": r.report, "files": r.files, "error": r.error })
        .to_string()
    }

    fn brief(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("progress");
        }
        v
    }
}

/// `POST /api/runs`: queues a run of the spec in the body (TOML or JSON, as a spec file).
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<RunRecord>), Response> {
    let ct = require_api_content_type(&headers).map_err(IntoResponse::into_response)?;
    let config = state.config();
    let (text, _slot) = state
        .inner
        .bodies
        .to_vec(&headers, body, config.max_spec_bytes, "spec")
        .await
        .map_err(IntoResponse::into_response)?;
    let (settings, name) =
        spec::parse(&ct, &text, &config.node_cmd_dirs).map_err(IntoResponse::into_response)?;
    let record = state.inner.runs.submit(config.max_queued_runs, |id, ahead| {
        let spec = spec::write(&config.store, id, settings)?;
        let record = RunRecord {
            id,
            state: RunState::Queued,
            name,
            queue_position: Some(ahead),
            exit_code: None,
            verdict: None,
            files: None,
            report: None,
            error: None,
            progress: Vec::new(),
        };
        Ok((record, spec))
    });
    let record = record.map_err(IntoResponse::into_response)?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// `DELETE /api/runs/{id}`: cancels a queued run at once, or a running one the way Ctrl-C
/// does (its cluster is removed), waiting until it has stopped.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<(StatusCode, Json<RunRecord>), ApiError> {
    let (status, record) = state.inner.runs.cancel(id, state.config().cancel_grace).await?;
    Ok((status, Json(record)))
}

/// The data of a `progress` event: the run's `ProgressLine` object when the line is one
/// (`{"progress": {"elapsed_secs", "counts": {..}, "fault"}}`), else `{"line": ..}` (logs).
fn progress_event(line: &str) -> String {
    match ChildLine::parse(line) {
        p @ ChildLine::Run(_) => p.to_line(),
        _ => json!({ "line": line }).to_string(),
    }
}

/// The run's `--json` result on `stdout` (read back with the type that wrote it): its
/// verdict, and the links to its files and report in the store.
fn run_result(store: &Path, stdout: &str) -> (Option<String>, Option<String>, Option<String>) {
    let result = run_results(stdout);
    let verdict = result.as_ref().map(|r| r.verdict.to_string());
    let run_dir = result.as_ref().and_then(|r| relative_run_dir(store, &r.dir));
    let files = run_dir.as_ref().map(|d| format!("/runs/{d}/"));
    let report = run_dir
        .as_ref()
        .filter(|d| store.join(d).join("report.html").is_file())
        .map(|d| format!("/runs/{d}/report.html"));
    (verdict, files, report)
}

/// `<test>/<time>` of a run directory inside the store.
fn relative_run_dir(store: &Path, dir: &Path) -> Option<String> {
    let store = std::fs::canonicalize(store).ok()?;
    let dir = std::fs::canonicalize(dir).ok()?;
    let rel = dir.strip_prefix(&store).ok()?;
    let s = rel.to_str()?.to_string();
    (!s.is_empty()).then_some(s)
}

/// `GET /api/runs`: every run this server started, newest first (without progress lines).
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "runs": state.inner.runs.list() }))
}

/// `GET /api/runs/{id}`: state, progress, verdict.
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<RunRecord>, ApiError> {
    state.inner.runs.show(id).map(Json)
}

/// `GET /api/runs/{id}/events`: the state, the progress so far, then live progress, then
/// `done`.
pub(crate) async fn events(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    state.inner.runs.events(id)
}
