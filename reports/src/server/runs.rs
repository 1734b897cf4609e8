//! Runs started through the API: a FIFO queue, one `faultline run` child at a time, progress
//! from its stderr, and server-sent events.
//!
//! ```text
//!  POST /api/runs (spec) ─▶ store/.specs/<id>.toml (store forced) ─▶ queue (mpsc)
//!        worker task: one at a time ─▶ `faultline -v run --test <spec> --store <store> --json`
//!            stderr lines ─▶ RunRecord.progress + broadcast ─▶ GET /api/runs/{id}/events
//!            stdout JSON  ─▶ verdict, run dir, report URL
//! ```
//! Records live in memory: after a restart the store's index still lists every run, but
//! `GET /api/runs` only knows the runs this server started. One queue serves the whole
//! machine: every run uses the same ports and namespaces, so two at once would collide.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{broadcast, mpsc};

use faultline_api::layered::Layer;
use faultline_api::run::LOCAL_ONLY;
use faultline_api::RunSettings;

use crate::results::RunResults;

use super::api::require_api_content_type;
use super::{ApiError, AppState, ServerConfig};

/// Lines of progress kept per run (the oldest are dropped).
const KEEP_LINES: usize = 500;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
}

/// A run started through the API, as `GET /api/runs/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// The id (1, 2, ...), in order of submission.
    pub id: u64,
    /// Queued, running, done or failed.
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
    /// Why it failed.
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
}

/// The queue and the records. Locks are std mutexes held only for short, non-async updates.
pub(crate) struct Runs {
    slots: Arc<Mutex<BTreeMap<u64, Slot>>>,
    queue: mpsc::UnboundedSender<(u64, std::path::PathBuf)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Runs {
    /// Starts the worker task (needs a tokio runtime).
    pub(crate) fn start(config: ServerConfig) -> Runs {
        let slots: Arc<Mutex<BTreeMap<u64, Slot>>> = Arc::default();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(worker(config, slots.clone(), rx));
        Runs { slots, queue: tx }
    }
}

fn update(
    slots: &Mutex<BTreeMap<u64, Slot>>,
    id: u64,
    kind: &'static str,
    f: impl FnOnce(&mut RunRecord) -> String,
) {
    let mut slots = lock(slots);
    if let Some(slot) = slots.get_mut(&id) {
        let data = f(&mut slot.record);
        // No subscriber is fine: events are also kept in the record.
        let _ = slot.events.send(RunEvent { kind, data });
    }
}

fn state_json(r: &RunRecord) -> String {
    json!({ "state": r.state, "verdict": r.verdict, "exit_code": r.exit_code,
            "report": r.report, "files": r.files, "error": r.error })
    .to_string()
}

async fn worker(
    config: ServerConfig,
    slots: Arc<Mutex<BTreeMap<u64, Slot>>>,
    mut rx: mpsc::UnboundedReceiver<(u64, std::path::PathBuf)>,
) {
    while let Some((id, spec)) = rx.recv().await {
        update(&slots, id, "state", |r| {
            r.state = RunState::Running;
            r.queue_position = None;
            state_json(r)
        });
        let outcome = run_child(&config, &slots, id, &spec).await;
        {
            let mut s = lock(&slots);
            for slot in s.values_mut() {
                if let Some(p) = slot.record.queue_position.as_mut() {
                    *p = p.saturating_sub(1);
                }
            }
        }
        update(&slots, id, "done", |r| {
            match outcome {
                Ok(done) => {
                    r.exit_code = Some(done.code);
                    r.verdict = done.verdict;
                    r.files = done.files;
                    r.report = done.report;
                    r.state = if (0..=2).contains(&done.code) {
                        RunState::Done
                    } else {
                        RunState::Failed
                    };
                    if r.state == RunState::Failed {
                        let last = r.progress.last().cloned().unwrap_or_default();
                        r.error = Some(done.error.unwrap_or_else(|| {
                            format!("faultline run exited with {}: {last}", done.code)
                        }));
                    }
                }
                Err(e) => {
                    r.state = RunState::Failed;
                    r.error = Some(e);
                }
            }
            state_json(r)
        });
    }
}

struct Finished {
    code: i32,
    verdict: Option<String>,
    files: Option<String>,
    report: Option<String>,
    error: Option<String>,
}

/// The command line of a queued run (without the program).
pub(crate) fn child_args(
    spec: &std::path::Path,
    store: &std::path::Path,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["-v".into(), "run".into(), "--test".into()];
    args.push(spec.into());
    args.push("--store".into());
    args.push(store.into());
    args.push("--json".into());
    args
}

async fn run_child(
    config: &ServerConfig,
    slots: &Mutex<BTreeMap<u64, Slot>>,
    id: u64,
    spec: &std::path::Path,
) -> Result<Finished, String> {
    let mut child = tokio::process::Command::new(&config.faultline_exe)
        .args(child_args(spec, &config.store))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", config.faultline_exe.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let progress = async {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line = crate::logs::strip_ansi(&line);
            update(slots, id, "progress", |r| {
                if r.progress.len() >= KEEP_LINES {
                    r.progress.remove(0);
                }
                r.progress.push(line.clone());
                json!({ "line": line }).to_string()
            });
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
    let ((), out, status) = tokio::join!(progress, output, child.wait());
    let code = status.map_err(|e| format!("waiting for faultline run: {e}"))?.code().unwrap_or(3);
    // `--json` prints one result object, read back with the type that wrote it.
    let result: Option<RunResults> =
        out.lines().rev().find_map(|l| serde_json::from_str::<RunResults>(l.trim()).ok());
    let verdict = result.as_ref().map(|r| r.verdict.to_string());
    let run_dir = result.as_ref().and_then(|r| relative_run_dir(&config.store, &r.dir));
    let files = run_dir.as_ref().map(|d| format!("/runs/{d}/"));
    let report = run_dir
        .as_ref()
        .filter(|d| config.store.join(d).join("report.html").is_file())
        .map(|d| format!("/runs/{d}/report.html"));
    let error = None;
    Ok(Finished { code, verdict, files, report, error })
}

/// `<test>/<time>` of a run directory inside the store.
fn relative_run_dir(store: &std::path::Path, dir: &std::path::Path) -> Option<String> {
    let store = std::fs::canonicalize(store).ok()?;
    let dir = std::fs::canonicalize(dir).ok()?;
    let rel = dir.strip_prefix(&store).ok()?;
    let s = rel.to_str()?.to_string();
    (!s.is_empty()).then_some(s)
}

/// Turns the posted spec into a file for `--test`, with the store forced to the server's.
fn spec_file(
    config: &ServerConfig,
    id: u64,
    ct: &str,
    body: &[u8],
) -> Result<(std::path::PathBuf, Option<String>), ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let text = std::str::from_utf8(body).map_err(|_| bad("the spec is not UTF-8".into()))?;
    let is_json = ct.contains("json") || text.trim_start().starts_with('{');
    // The same parser as `faultline run --test`: every field typed and range-checked, unknown
    // fields refused, cross-field checks run; errors name the field, never a server path.
    let mut settings =
        RunSettings::parse_spec("spec", text, is_json).map_err(|e| bad(e.to_string()))?;
    let set = settings.set_fields();
    for f in LOCAL_ONLY {
        if set.iter().any(|s| s == f) {
            return Err(bad(format!(
                "field `{f}` cannot be set through the API (it names a path or binary on the server)"
            )));
        }
    }
    let name = settings.name.clone();
    if name.as_deref() == Some("checks") {
        return Err(bad("field `name`: \"checks\" is reserved".into()));
    }
    settings.store = Some(config.store.clone());
    let dir = config.store.join(".specs");
    let internal = |e: std::io::Error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("writing the spec: {e}"))
    };
    std::fs::create_dir_all(&dir).map_err(internal)?;
    let path = dir.join(format!("run-{id}.json"));
    let text = serde_json::to_string_pretty(&settings).map_err(|e| bad(e.to_string()))?;
    std::fs::write(&path, text).map_err(internal)?;
    Ok((path, name))
}

/// `POST /api/runs`: queues a run of the spec in the body (TOML or JSON, as a spec file).
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<RunRecord>), ApiError> {
    let ct = require_api_content_type(&headers)?;
    let runs = &state.inner.runs;
    let mut slots = lock(&runs.slots);
    let id = slots.keys().next_back().map_or(1, |k| k + 1);
    let (spec, name) = spec_file(state.config(), id, &ct, &body)?;
    let queued = slots
        .values()
        .filter(|s| matches!(s.record.state, RunState::Queued | RunState::Running))
        .count();
    let record = RunRecord {
        id,
        state: RunState::Queued,
        name,
        queue_position: Some(queued),
        exit_code: None,
        verdict: None,
        files: None,
        report: None,
        error: None,
        progress: Vec::new(),
    };
    let (events, _) = broadcast::channel(256);
    slots.insert(id, Slot { record: record.clone(), events });
    drop(slots);
    runs.queue
        .send((id, spec))
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the run queue has stopped"))?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// `GET /api/runs`: every run this server started, newest first (without progress lines).
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    let slots = lock(&state.inner.runs.slots);
    let runs: Vec<Value> = slots
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
    lock(&state.inner.runs.slots)
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
        let slots = lock(&state.inner.runs.slots);
        let slot = slots.get(&id).ok_or_else(|| not_found(id))?;
        (slot.record.clone(), slot.events.subscribe())
    };
    let finished = matches!(record.state, RunState::Done | RunState::Failed);
    let mut first = vec![Event::default().event("state").data(state_json(&record))];
    first.extend(
        record
            .progress
            .iter()
            .map(|l| Event::default().event("progress").data(json!({ "line": l }).to_string())),
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
