//! The queue of child processes the API starts (`faultline run`, `faultline campaign`): one
//! [`Queue`] per kind of [`Job`], each bounded and FIFO, its records kept in the store, its
//! progress sent as server-sent events, its jobs cancelled the way Ctrl-C would. Every queue
//! takes the one `machine` permit before it starts a child, so one child runs at a time on
//! the machine: runs (and a campaign's cells) use the same ports and namespaces.
//!
//! ```text
//!  submit (input file written) ─▶ full? (429) ─▶ pending ─▶ worker: machine permit
//!     ─▶ faultline_child::supervise(J::command) ─▶ stderr lines ─▶ J::on_line ─▶ record
//!        + broadcast
//!     ─▶ J::finish (exit code, stdout) ─▶ `done`; the input file is removed
//!  cancel: queued ─▶ dropped; running ─▶ SIGINT to the child (SIGKILL after the grace)
//!  records: store/<J::RECORDS>/<id>.json, written on every change of state, read at start
//!           (a job queued or running when its server stopped is recorded as failed)
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use faultline_child::{supervise, Cancel, ChildCommand, ChildSpec, Exited};
use faultline_reports::logs::strip_ansi;
use futures_util::stream::{self, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify, Semaphore};

use crate::{ApiError, ServerConfig};

/// Where a queued job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Waiting for the jobs before it.
    Queued,
    /// The child process is running.
    Running,
    /// It ended with a verdict (exit 0, 1 or 2).
    Done,
    /// It could not run or ended with exit 3 (see `error`).
    Failed,
    /// `DELETE` (or the server's shutdown) stopped it.
    Cancelled,
}

impl RunState {
    /// Whether the job is over.
    pub fn is_over(self) -> bool {
        matches!(self, RunState::Done | RunState::Failed | RunState::Cancelled)
    }

    /// How a child that exited this way ended.
    pub(crate) fn of_exit(exited: &Exited) -> RunState {
        if exited.cancelled {
            RunState::Cancelled
        } else if exited.has_verdict() {
            RunState::Done
        } else {
            RunState::Failed
        }
    }
}

/// A kind of job: its record (as the API shows it and the store keeps it) and its child.
pub(crate) trait Job: Clone + Serialize + DeserializeOwned + Send + 'static {
    /// `run` or `campaign`, in messages.
    const WHAT: &'static str;
    /// The store's directory of records (`.runs`).
    const RECORDS: &'static str;
    /// The id.
    fn id(&self) -> u64;
    /// Where it is.
    fn state(&self) -> RunState;
    /// Moves it (and sets its place in the queue).
    fn set_state(&mut self, state: RunState, queue_position: Option<usize>);
    /// Why it failed or was cancelled.
    fn set_error(&mut self, error: String);
    /// The child's command, for the input file.
    fn command(input: &Path, store: &Path) -> ChildCommand;
    /// Takes one line of the child's stderr; returns the event to send (kind and JSON data).
    fn on_line(&mut self, line: String) -> (&'static str, String);
    /// The events a new subscriber gets first (the progress so far).
    fn replay(&self) -> Vec<(&'static str, String)>;
    /// Fills in how the child ended. Errors must not show `input` (a server path).
    fn finish(&mut self, outcome: Result<Exited, String>, config: &ServerConfig, input: &Path);
    /// The data of `state` and `done` events.
    fn state_json(&self) -> String;
    /// The record as the list shows it (without its long fields).
    fn brief(&self) -> Value;
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct JobEvent {
    /// `state`, `done`, or what [`Job::on_line`] says.
    kind: &'static str,
    data: String,
}

struct Slot<J> {
    record: J,
    events: broadcast::Sender<JobEvent>,
    /// The input file, until the job is over.
    input: Option<PathBuf>,
    /// Thrown to cancel the job while it runs.
    cancel: Cancel,
}

/// Every record, and the ids waiting in order.
struct Table<J> {
    /// `store/<J::RECORDS>`, where records are kept.
    dir: PathBuf,
    slots: BTreeMap<u64, Slot<J>>,
    pending: VecDeque<u64>,
    running: Option<u64>,
    /// Set at shutdown: nothing new is accepted or started.
    closed: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<J: Job> Table<J> {
    /// Queued and running jobs.
    fn active(&self) -> usize {
        self.pending.len() + usize::from(self.running.is_some())
    }

    fn renumber(&mut self) {
        let ahead = usize::from(self.running.is_some());
        for (i, id) in self.pending.iter().enumerate() {
            if let Some(s) = self.slots.get_mut(id) {
                let state = s.record.state();
                s.record.set_state(state, Some(ahead + i));
            }
        }
    }

    /// Sends an event to the job's subscribers (none is fine: the record keeps it); a change
    /// of state is also written to the store.
    fn emit(&mut self, id: u64, f: impl FnOnce(&mut J) -> (&'static str, String)) {
        if let Some(slot) = self.slots.get_mut(&id) {
            let (kind, data) = f(&mut slot.record);
            let _ = slot.events.send(JobEvent { kind, data });
            if kind == "state" || kind == "done" {
                self.persist(id);
            }
        }
    }

    /// Writes one record (through a temporary file, so a reader never sees half of it).
    fn persist(&self, id: u64) {
        let Some(slot) = self.slots.get(&id) else { return };
        let dir = &self.dir;
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(".{id}.json.tmp"));
            std::fs::write(&tmp, serde_json::to_vec_pretty(&slot.record)?)?;
            std::fs::rename(tmp, dir.join(format!("{id}.json")))
        };
        if let Err(e) = write() {
            tracing::warn!("{} {id}: record not kept in {}: {e}", J::WHAT, dir.display());
        }
    }

    /// Reads the records a previous server kept; a job that was queued or running when that
    /// server stopped is recorded as failed.
    fn load(&mut self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return };
        for e in rd.filter_map(Result::ok) {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Some(mut record) = std::fs::read(&path)
                .ok()
                .filter(|b| b.len() < 4 << 20)
                .and_then(|b| serde_json::from_slice::<J>(&b).ok())
            else {
                tracing::warn!("{}: not a {} record; ignored", path.display(), J::WHAT);
                continue;
            };
            if !record.state().is_over() {
                record.set_state(RunState::Failed, None);
                record.set_error(format!("the server stopped before the {} ended", J::WHAT));
            }
            let (events, _) = broadcast::channel(16);
            let id = record.id();
            self.slots.insert(id, Slot { record, events, input: None, cancel: Cancel::new() });
            self.persist(id);
        }
    }

    /// Ends a queued job as cancelled and removes its input file.
    fn cancel_queued(&mut self, id: u64, why: &str) {
        self.pending.retain(|&p| p != id);
        if let Some(input) = self.slots.get_mut(&id).and_then(|s| s.input.take()) {
            let _ = std::fs::remove_file(input);
        }
        self.emit(id, |r| {
            r.set_state(RunState::Cancelled, None);
            r.set_error(why.to_string());
            ("done", r.state_json())
        });
        self.renumber();
    }
}

/// One kind of job's queue and records. The lock is a std mutex held only for short,
/// non-async updates.
pub(crate) struct Queue<J> {
    table: Arc<Mutex<Table<J>>>,
    wake: Arc<Notify>,
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<J: Job> Queue<J> {
    /// Loads the records and starts the worker task (needs a tokio runtime); `machine` is
    /// the one permit every queue's worker holds while its child runs.
    pub(crate) fn start(config: ServerConfig, machine: Arc<Semaphore>) -> Queue<J> {
        let mut t = Table {
            dir: config.store.join(J::RECORDS),
            slots: BTreeMap::new(),
            pending: VecDeque::new(),
            running: None,
            closed: false,
        };
        t.load();
        let table = Arc::new(Mutex::new(t));
        let wake = Arc::new(Notify::new());
        let worker = tokio::spawn(worker(config, table.clone(), wake.clone(), machine));
        Queue { table, wake, worker: Mutex::new(Some(worker)) }
    }

    /// Refuses new jobs, cancels the queued ones and the running one (as Ctrl-C would), and
    /// waits for the worker to finish.
    pub(crate) async fn shutdown(&self) {
        {
            let mut t = lock(&self.table);
            t.closed = true;
            for id in t.pending.clone() {
                t.cancel_queued(
                    id,
                    &format!("the server shut down before the {} started", J::WHAT),
                );
            }
            if let Some(slot) = t.running.and_then(|id| t.slots.get(&id)) {
                slot.cancel.cancel();
            }
        }
        self.wake.notify_one();
        let worker = lock(&self.worker).take();
        if let Some(w) = worker {
            let _ = w.await;
        }
    }

    /// Queues a job: `make(id, queue_position)` writes its input file and makes its record.
    /// 503 when shutting down, 429 (with `Retry-After`) when `max` jobs are queued or running.
    pub(crate) fn submit(
        &self,
        max: usize,
        make: impl FnOnce(u64, usize) -> Result<(J, PathBuf), ApiError>,
    ) -> Result<J, ApiError> {
        let mut t = lock(&self.table);
        if t.closed {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down",
            ));
        }
        let active = t.active();
        if active >= max {
            let what = J::WHAT;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "the {what} queue is full ({active} {what}s queued or running, the limit is \
                     {max}); try again later"
                ),
            )
            .retry_after("30"));
        }
        let id = t.slots.keys().next_back().map_or(1, |k| k + 1);
        let (record, input) = make(id, active)?;
        let (events, _) = broadcast::channel(256);
        let cancel = Cancel::new();
        t.slots.insert(id, Slot { record: record.clone(), events, input: Some(input), cancel });
        t.persist(id);
        t.pending.push_back(id);
        drop(t);
        self.wake.notify_one();
        Ok(record)
    }

    fn not_found(id: u64) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("no {} {id}", J::WHAT))
    }

    /// Cancels a queued job at once, or a running one the way Ctrl-C does, waiting (at most
    /// twice `grace`) until it has stopped: 200 when it has, 202 when it is still stopping.
    pub(crate) async fn cancel(
        &self,
        id: u64,
        grace: std::time::Duration,
    ) -> Result<(StatusCode, J), ApiError> {
        let mut done = {
            let mut t = lock(&self.table);
            let now = t.slots.get(&id).ok_or_else(|| Self::not_found(id))?.record.state();
            match now {
                RunState::Queued => {
                    t.cancel_queued(id, &format!("cancelled before the {} started", J::WHAT));
                    let record = t.slots.get(&id).map(|s| s.record.clone());
                    return Ok((StatusCode::OK, record.ok_or_else(|| Self::not_found(id))?));
                }
                RunState::Running => {
                    let slot = t.slots.get(&id).ok_or_else(|| Self::not_found(id))?;
                    slot.cancel.cancel();
                    slot.events.subscribe()
                }
                s => {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!(
                            "{} {id} is already over ({})",
                            J::WHAT,
                            json!(s).as_str().unwrap_or("")
                        ),
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
        let stopped = tokio::time::timeout(grace * 2, wait).await.is_ok();
        let record = self.show(id)?;
        Ok((if stopped { StatusCode::OK } else { StatusCode::ACCEPTED }, record))
    }

    /// Every record, newest first, as [`Job::brief`] shows it.
    pub(crate) fn list(&self) -> Vec<Value> {
        lock(&self.table).slots.values().rev().map(|s| s.record.brief()).collect()
    }

    /// One record.
    pub(crate) fn show(&self, id: u64) -> Result<J, ApiError> {
        lock(&self.table)
            .slots
            .get(&id)
            .map(|s| s.record.clone())
            .ok_or_else(|| Self::not_found(id))
    }

    /// Server-sent events: the state, the progress so far, then live events, then `done`.
    pub(crate) fn events(
        &self,
        id: u64,
    ) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
        // Snapshot and subscribe under one lock, so no event falls between them.
        let (record, rx) = {
            let t = lock(&self.table);
            let slot = t.slots.get(&id).ok_or_else(|| Self::not_found(id))?;
            (slot.record.clone(), slot.events.subscribe())
        };
        let finished = record.state().is_over();
        let mut first = vec![Event::default().event("state").data(record.state_json())];
        first.extend(record.replay().into_iter().map(|(k, d)| Event::default().event(k).data(d)));
        if finished {
            first.push(Event::default().event("done").data(record.state_json()));
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
}

async fn worker<J: Job>(
    config: ServerConfig,
    table: Arc<Mutex<Table<J>>>,
    wake: Arc<Notify>,
    machine: Arc<Semaphore>,
) {
    loop {
        let waiting = {
            let t = lock(&table);
            if t.closed {
                return;
            }
            !t.pending.is_empty()
        };
        if !waiting {
            // A notification sent while nobody waits is kept, so none is lost here.
            wake.notified().await;
            continue;
        }
        // One child on the machine at a time, whichever queue it comes from.
        let Ok(_permit) = machine.clone().acquire_owned().await else { return };
        let next = {
            let mut t = lock(&table);
            if t.closed {
                return;
            }
            match t.pending.pop_front() {
                Some(id) => {
                    t.running = Some(id);
                    t.renumber();
                    t.emit(id, |r| {
                        r.set_state(RunState::Running, None);
                        ("state", r.state_json())
                    });
                    t.slots.get(&id).and_then(|s| Some((id, s.input.clone()?, s.cancel.clone())))
                }
                // Cancelled while waiting for the machine.
                None => None,
            }
        };
        let Some((id, input, cancel)) = next else { continue };
        let on_line = |line: String| lock(&table).emit(id, |r| r.on_line(strip_ansi(&line)));
        let mut spec = ChildSpec::new(&config.faultline_exe, J::command(&input, &config.store));
        spec.grace = config.cancel_grace;
        let outcome = supervise(&spec, &cancel, on_line).await;
        let _ = std::fs::remove_file(&input);
        let hide = |e: String| e.replace(&input.display().to_string(), "the posted file");
        let mut t = lock(&table);
        t.running = None;
        if let Some(s) = t.slots.get_mut(&id) {
            s.input = None;
        }
        t.renumber();
        t.emit(id, |r| {
            r.finish(outcome.map_err(hide), &config, &input);
            ("done", r.state_json())
        });
    }
}
