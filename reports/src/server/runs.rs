//! Runs started through the API: a bounded FIFO queue, one `faultline run` child at a time,
//! progress from its stderr, server-sent events, and cancellation.
//!
//! ```text
//!  POST /api/runs (spec) ─▶ spec::parse (400) ─▶ queue full? (429) ─▶ .specs/run-<id>.json
//!        worker task: one at a time ─▶ child::run_child ─▶ spec file removed at the end
//!            stderr lines ─▶ RunRecord.progress + broadcast ─▶ GET /api/runs/{id}/events
//!            stdout JSON  ─▶ verdict, run dir, report URL
//!  DELETE /api/runs/{id}: queued ─▶ dropped (cancelled, spec removed)
//!                         running ─▶ SIGINT to the child (it removes its cluster as on Ctrl-C)
//! ```
//! Records live in memory: after a restart the store's index still lists every run, but
//! `GET /api/runs` only knows the runs this server started. One queue serves the whole
//! machine: every run uses the same ports and namespaces, so two at once would collide.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use faultline_api::ProgressLine;
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify};

use super::api::require_api_content_type;
use super::child::{run_child, Finished};
use super::{body, spec, ApiError, AppState, ServerConfig};

/// Lines of progress kept per run (the oldest are dropped).
const KEEP_LINES: usize = 500;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Waiting for the run before it.
    Queued,
    /// The child process is running.
    Running,
    /// It ended with a verdict (exit 0, 1 or 2).
    Done,
    /// It could not run or ended with exit 3 (see `error`).
    Failed,
    /// `DELETE /api/runs/{id}` (or the server's shutdown) stopped it.
    Cancelled,
}

impl RunState {
    /// Whether the run is over.
    pub fn is_over(self) -> bool {
        matches!(self, RunState::Done | RunState::Failed | RunState::Cancelled)
    }
}

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

/// One server-sent event.
#[derive(Debug, Clone)]
struct RunEvent {
    /// `state`, `progress` or `done`.
    kind: &'static str,
    data: String,
}

struct Slot {
    record: RunRecord,
    events: broadcast::Sender<RunEvent>,
    /// The spec file, until the run is over.
    spec: Option<PathBuf>,
    /// Notified to cancel the run while it runs.
    cancel: Arc<Notify>,
}

/// Every record, and the ids waiting in order.
#[derive(Default)]
struct Table {
    /// `store/.runs`, where records are kept (none in tests that give no store).
    dir: Option<PathBuf>,
    slots: BTreeMap<u64, Slot>,
    pending: VecDeque<u64>,
    running: Option<u64>,
    /// Set at shutdown: nothing new is accepted or started.
    closed: bool,
}

impl Table {
    /// Queued and running runs.
    fn active(&self) -> usize {
        self.pending.len() + usize::from(self.running.is_some())
    }

    fn renumber(&mut self) {
        let ahead = usize::from(self.running.is_some());
        for (i, id) in self.pending.iter().enumerate() {
            if let Some(s) = self.slots.get_mut(id) {
                s.record.queue_position = Some(ahead + i);
            }
        }
    }

    /// Sends an event to the run's subscribers (none is fine: the record keeps it); a change
    /// of state is also written to `store/.runs/<id>.json`.
    fn emit(&mut self, id: u64, kind: &'static str, f: impl FnOnce(&mut RunRecord) -> String) {
        if let Some(slot) = self.slots.get_mut(&id) {
            let data = f(&mut slot.record);
            let _ = slot.events.send(RunEvent { kind, data });
            if kind != "progress" {
                self.persist(id);
            }
        }
    }

    /// Writes one record (through a temporary file, so a reader never sees half of it).
    fn persist(&self, id: u64) {
        let (Some(dir), Some(slot)) = (&self.dir, self.slots.get(&id)) else { return };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(".{id}.json.tmp"));
            std::fs::write(&tmp, serde_json::to_vec_pretty(&slot.record)?)?;
            std::fs::rename(tmp, dir.join(format!("{id}.json")))
        };
        if let Err(e) = write() {
            tracing::warn!("run {id}: record not kept in {}: {e}", dir.display());
        }
    }

    /// Reads the records a previous server kept; a run that was queued or running when that
    /// server stopped is recorded as failed.
    fn load(&mut self) {
        let Some(dir) = self.dir.clone() else { return };
        let Ok(rd) = std::fs::read_dir(&dir) else { return };
        for e in rd.filter_map(Result::ok) {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Some(mut record) = std::fs::read(&path)
                .ok()
                .filter(|b| b.len() < 4 << 20)
                .and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok())
            else {
                tracing::warn!("{}: not a run record; ignored", path.display());
                continue;
            };
            if !record.state.is_over() {
                record.state = RunState::Failed;
                record.queue_position = None;
                record.error = Some("the server stopped before the run ended".into());
            }
            let (events, _) = broadcast::channel(16);
            let id = record.id;
            self.slots.insert(id, Slot { record, events, spec: None, cancel: Arc::default() });
            self.persist(id);
        }
    }

    /// Ends a queued run as cancelled and removes its spec file.
    fn cancel_queued(&mut self, id: u64, why: &str) {
        self.pending.retain(|&p| p != id);
        if let Some(spec) = self.slots.get_mut(&id).and_then(|s| s.spec.take()) {
            let _ = std::fs::remove_file(spec);
        }
        self.emit(id, "done", |r| {
            r.state = RunState::Cancelled;
            r.queue_position = None;
            r.error = Some(why.to_string());
            state_json(r)
        });
        self.renumber();
    }
}

/// The queue and the records. The lock is a std mutex held only for short, non-async
/// updates.
pub(crate) struct Runs {
    table: Arc<Mutex<Table>>,
    wake: Arc<Notify>,
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Runs {
    /// Starts the worker task (needs a tokio runtime).
    pub(crate) fn start(config: ServerConfig) -> Runs {
        let mut t = Table { dir: Some(config.store.join(".runs")), ..Table::default() };
        t.load();
        let table = Arc::new(Mutex::new(t));
        let wake = Arc::new(Notify::new());
        let worker = tokio::spawn(worker(config, table.clone(), wake.clone()));
        Runs { table, wake, worker: Mutex::new(Some(worker)) }
    }

    /// Refuses new runs, cancels the queued ones and the running one (as Ctrl-C would), and
    /// waits for the worker to finish.
    pub(crate) async fn shutdown(&self) {
        {
            let mut t = lock(&self.table);
            t.closed = true;
            for id in t.pending.clone() {
                t.cancel_queued(id, "the server shut down before the run started");
            }
            if let Some(slot) = t.running.and_then(|id| t.slots.get(&id)) {
                slot.cancel.notify_one();
            }
        }
        self.wake.notify_one();
        let worker = lock(&self.worker).take();
        if let Some(w) = worker {
            let _ = w.await;
        }
    }
}

fn state_json(r: &RunRecord) -> String {
    json!({ "state": r.state, "verdict": r.verdict, "exit_code": r.exit_code,
            "report": r.report, "files": r.files, "error": r.error })
    .to_string()
}

async fn worker(config: ServerConfig, table: Arc<Mutex<Table>>, wake: Arc<Notify>) {
    loop {
        let next = {
            let mut t = lock(&table);
            if t.closed {
                return;
            }
            match t.pending.pop_front() {
                Some(id) => {
                    t.running = Some(id);
                    t.renumber();
                    t.emit(id, "state", |r| {
                        r.state = RunState::Running;
                        r.queue_position = None;
                        state_json(r)
                    });
                    t.slots.get(&id).and_then(|s| Some((id, s.spec.clone()?, s.cancel.clone())))
                }
                None => None,
            }
        };
        let Some((id, spec, cancel)) = next else {
            // A notification sent while nobody waits is kept, so none is lost here.
            wake.notified().await;
            continue;
        };
        let on_line = |line: String| {
            lock(&table).emit(id, "progress", |r| {
                if r.progress.len() >= KEEP_LINES {
                    r.progress.remove(0);
                }
                r.progress.push(line.clone());
                progress_event(&line)
            });
        };
        let outcome = run_child(&config, &spec, cancel, on_line).await;
        let _ = std::fs::remove_file(&spec);
        let mut t = lock(&table);
        t.running = None;
        if let Some(s) = t.slots.get_mut(&id) {
            s.spec = None;
        }
        t.renumber();
        t.emit(id, "done", |r| {
            finish(r, outcome, &spec);
            state_json(r)
        });
    }
}

/// Fills in how the run ended. Errors never show the server's spec path.
fn finish(r: &mut RunRecord, outcome: Result<Finished, String>, spec: &std::path::Path) {
    let hide = |e: String| e.replace(&spec.display().to_string(), "the posted spec");
    match outcome {
        Ok(done) => {
            r.exit_code = Some(done.code);
            r.verdict = done.verdict;
            r.files = done.files;
            r.report = done.report;
            r.state = if done.cancelled {
                RunState::Cancelled
            } else if (0..=2).contains(&done.code) {
                RunState::Done
            } else {
                RunState::Failed
            };
            // The child's own `error: ...` line says why, else its last words.
            let last = r.progress.iter().rev().find(|l| l.starts_with("error:"));
            let last = last.or(r.progress.last()).cloned().unwrap_or_default();
            r.error = match r.state {
                RunState::Cancelled => Some(
                    "cancelled: the run was interrupted and its cluster removed, as on Ctrl-C"
                        .into(),
                ),
                RunState::Failed => {
                    Some(hide(format!("faultline run exited with {}: {last}", done.code)))
                }
                _ => None,
            };
        }
        Err(e) => {
            r.state = RunState::Failed;
            r.error = Some(hide(e));
        }
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
    let text = body::to_vec(&headers, body, config.max_spec_bytes, "spec")
        .await
        .map_err(IntoResponse::into_response)?;
    let (settings, name) = spec::parse(&ct, &text).map_err(IntoResponse::into_response)?;
    let runs = &state.inner.runs;
    let mut t = lock(&runs.table);
    if t.closed {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down")
            .into_response());
    }
    let active = t.active();
    if active >= config.max_queued_runs {
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "the run queue is full ({active} runs queued or running, the limit is {}); try \
                 again later",
                config.max_queued_runs
            ),
        )
        .into_response();
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return Err(resp);
    }
    let id = t.slots.keys().next_back().map_or(1, |k| k + 1);
    let spec = spec::write(&config.store, id, settings).map_err(IntoResponse::into_response)?;
    let record = RunRecord {
        id,
        state: RunState::Queued,
        name,
        queue_position: Some(active),
        exit_code: None,
        verdict: None,
        files: None,
        report: None,
        error: None,
        progress: Vec::new(),
    };
    let (events, _) = broadcast::channel(256);
    let cancel = Arc::new(Notify::new());
    t.slots.insert(id, Slot { record: record.clone(), events, spec: Some(spec), cancel });
    t.persist(id);
    t.pending.push_back(id);
    drop(t);
    runs.wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// `DELETE /api/runs/{id}`: cancels a queued run at once, or a running one the way Ctrl-C
/// does (its cluster is removed), waiting until it has stopped.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<(StatusCode, Json<RunRecord>), ApiError> {
    let runs = &state.inner.runs;
    let mut done = {
        let mut t = lock(&runs.table);
        let now = t.slots.get(&id).ok_or_else(|| not_found(id))?.record.state;
        match now {
            RunState::Queued => {
                t.cancel_queued(id, "cancelled before it started");
                let record = t.slots.get(&id).map(|s| s.record.clone()).ok_or(not_found(id))?;
                return Ok((StatusCode::OK, Json(record)));
            }
            RunState::Running => {
                let slot = t.slots.get(&id).ok_or_else(|| not_found(id))?;
                slot.cancel.notify_one();
                slot.events.subscribe()
            }
            s => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("run {id} is already over ({})", json!(s).as_str().unwrap_or("")),
                ))
            }
        }
    };
    // Wait for its end: the child stops within the cancel grace (or is killed then).
    let wait = async {
        loop {
            match done.recv().await {
                Ok(ev) if ev.kind == "done" => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    };
    let stopped = tokio::time::timeout(state.config().cancel_grace * 2, wait).await.is_ok();
    let record = lock(&runs.table).slots.get(&id).map(|s| s.record.clone()).ok_or(not_found(id))?;
    Ok((if stopped { StatusCode::OK } else { StatusCode::ACCEPTED }, Json(record)))
}

/// The data of a `progress` event: the run's [`ProgressLine`] object when the line is one
/// (`{"progress": {"elapsed_secs", "counts": {..}, "fault"}}`), else `{"line": ..}` (logs).
fn progress_event(line: &str) -> String {
    match serde_json::from_str::<ProgressLine>(line) {
        Ok(p) => serde_json::to_string(&p).unwrap_or_default(),
        Err(_) => json!({ "line": line }).to_string(),
    }
}

/// `GET /api/runs`: every run this server started, newest first (without progress lines).
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    let t = lock(&state.inner.runs.table);
    let runs: Vec<Value> = t
        .slots
        .values()
        .rev()
        .map(|s| {
            let mut v = serde_json::to_value(&s.record).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.remove("progress");
            }
            v
        })
        .collect();
    Json(json!({ "runs": runs }))
}

fn not_found(id: u64) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no run {id}"))
}

/// `GET /api/runs/{id}`: state, progress, verdict.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Json<RunRecord>, ApiError> {
    lock(&state.inner.runs.table)
        .slots
        .get(&id)
        .map(|s| Json(s.record.clone()))
        .ok_or_else(|| not_found(id))
}

/// `GET /api/runs/{id}/events`: the state, the progress so far, then live progress, then
/// `done`.
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Snapshot and subscribe under one lock, so no event falls between them.
    let (record, rx) = {
        let t = lock(&state.inner.runs.table);
        let slot = t.slots.get(&id).ok_or_else(|| not_found(id))?;
        (slot.record.clone(), slot.events.subscribe())
    };
    let finished = record.state.is_over();
    let mut first = vec![Event::default().event("state").data(state_json(&record))];
    first.extend(
        record.progress.iter().map(|l| Event::default().event("progress").data(progress_event(l))),
    );
    if finished {
        first.push(Event::default().event("done").data(state_json(&record)));
    }
    let live = stream::unfold((rx, finished), |(mut rx, done)| async move {
        if done {
            return None;
        }
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let end = ev.kind == "done";
                    return Some((Event::default().event(ev.kind).data(ev.data), (rx, end)));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let all = stream::iter(first).chain(live).map(Ok);
    Ok(Sse::new(all).keep_alive(KeepAlive::default()))
}
