//! Campaigns started through the API: a campaign file posted, checked with `faultline
//! campaign`'s own parser, queued (sharing the machine with the run queue: one child at a
//! time), run as a `faultline campaign` child, followed through its `--progress-json` lines,
//! and cancelled as Ctrl-C would.
//!
//! ```text
//!  POST /api/campaigns (TOML) ─▶ local-only keys refused (400) ─▶ campaign parser (400 naming
//!     the key) ─▶ queue full? (429) ─▶ .specs/campaign-<id>.toml ([defaults] store = ours)
//!     worker ─▶ faultline campaign <file> --json --no-progress --progress-json
//!        stderr {"campaign_progress": ..} ─▶ CampaignRecord.progress ─▶ `progress` events
//!        other stderr lines ─▶ CampaignRecord.log ─▶ `log` events
//!  DELETE /api/campaigns/{id}: queued ─▶ dropped; running ─▶ SIGINT (its cells stop, their
//!     clusters removed; the campaign can be resumed with `faultline campaign --resume`)
//! ```

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use faultline_api::run::LOCAL_ONLY;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::require_api_content_type;
use crate::extract::ApiPath;
use crate::queue::{Job, Queue, RunState};
use crate::{ApiError, AppState, ServerConfig};
use faultline_child::{ChildCommand, ChildLine, Exited};
use faultline_store::campaign::CampaignProgress;

/// Lines of the child's log kept per campaign (the oldest are dropped).
const KEEP_LINES: usize = 200;

/// The campaign queue.
pub(crate) type Campaigns = Queue<CampaignRecord>;

/// A campaign started through the API, as `GET /api/campaigns/{id}` shows it; kept in
/// `store/.campaigns/<id>.json` so that records survive a restart of the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignRecord {
    /// The id (1, 2, ...), in order of submission.
    pub id: u64,
    /// Queued, running, done, failed or cancelled.
    pub state: RunState,
    /// The campaign's name (from its file).
    pub name: String,
    /// Cells the campaign file has.
    pub cells: usize,
    /// Jobs ahead of it in its queue (queued or running), while queued.
    pub queue_position: Option<usize>,
    /// The process exit code, once it ended (the campaign's: 0 all cells passed, 1 a cell
    /// failed or missed its bug, 2 undecided, 3 an error or an interruption).
    pub exit_code: Option<i32>,
    /// `<name>/<start-time>`, once the campaign has its directory in the store.
    pub campaign: Option<String>,
    /// `/campaigns/<name>/<start-time>`, its page, once it has a directory.
    pub page: Option<String>,
    /// Cells done of the total, the running cell, outcomes so far.
    pub progress: Option<CampaignProgress>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// The last lines of the child's log (stderr, less the progress lines).
    pub log: Vec<String>,
}

impl Job for CampaignRecord {
    const WHAT: &'static str = "campaign";
    const RECORDS: &'static str = ".campaigns";

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

    fn command(input: &Path, _store: &Path) -> ChildCommand {
        // The store is set in the file's [defaults] (see `prepare`).
        ChildCommand::Campaign { file: input.into() }
    }

    fn on_line(&mut self, line: String) -> (&'static str, String) {
        if let ChildLine::Campaign(p) = ChildLine::parse(&line) {
            let p = p.campaign_progress;
            self.page = Some(format!("/campaigns/{}", p.campaign));
            self.campaign = Some(p.campaign.clone());
            let data = serde_json::to_string(&p).unwrap_or_default();
            self.progress = Some(p);
            return ("progress", data);
        }
        if self.log.len() >= KEEP_LINES {
            self.log.remove(0);
        }
        let data = json!({ "line": line }).to_string();
        self.log.push(line);
        ("log", data)
    }

    fn replay(&self) -> Vec<(&'static str, String)> {
        let progress = self.progress.iter().map(|p| serde_json::to_string(p).unwrap_or_default());
        progress.map(|d| ("progress", d)).collect()
    }

    fn finish(&mut self, outcome: Result<Exited, String>, _config: &ServerConfig, input: &Path) {
        let hide = |e: String| e.replace(&input.display().to_string(), "the posted campaign");
        match outcome {
            Ok(done) => {
                self.exit_code = Some(done.code_or_error());
                self.state = RunState::of_exit(&done);
                let last = self.log.iter().rev().find(|l| l.starts_with("error"));
                let last = last.or(self.log.last()).cloned().unwrap_or_default();
                self.error = match self.state {
                    RunState::Cancelled => Some(
                        "cancelled: the campaign was interrupted, its running cells stopped and \
                         their clusters removed, as on Ctrl-C"
                            .into(),
                    ),
                    // Exit 3 with results: some cell errored (see the summary).
                    RunState::Failed if self.campaign.is_none() => Some(hide(format!(
                        "faultline campaign exited with {}: {last}",
                        done.code_or_error()
                    ))),
                    _ => None,
                };
            }
            Err(e) => {
                self.state = RunState::Failed;
                self.error = Some(hide(e));
            }
        }
    }

    fn state_json(&self) -> String {
        json!({ "state": self.state, "exit_code": self.exit_code, "campaign": self.campaign,
                "page": self.page, "progress": self.progress, "error": self.error })
        .to_string()
    }

    fn brief(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.remove("log");
        }
        v
    }
}

fn bad(field: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message).with_field(field)
}

/// The keys of every settings table of a campaign file (`[defaults]`, `[matrix]`,
/// `[[exclude]]`, `[[override]]`'s `when` and `set`, `[[cell]]`).
fn setting_keys(top: &toml::Table) -> Vec<String> {
    let keys = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_table).map(|t| t.keys().cloned().collect()).unwrap_or_default()
    };
    let each = |name: &str| -> Vec<&toml::Value> {
        top.get(name)
            .and_then(toml::Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    let mut out = keys(top.get("defaults"));
    out.extend(keys(top.get("matrix")));
    for t in each("exclude").into_iter().chain(each("cell")) {
        out.extend(keys(Some(t)));
    }
    for o in each("override") {
        out.extend(keys(o.get("when")));
        out.extend(keys(o.get("set")));
    }
    out
}

/// Checks a posted campaign file (with the campaign parser, errors naming the key and never
/// a server path) and returns its name, its number of cells, and the file to run: the same
/// with `[defaults] store` set to the server's store.
///
/// # Errors
/// 400 naming the key for a file that is not UTF-8 TOML, names a path or binary on the
/// server, or that the campaign parser refuses; 501 without a parser.
pub(crate) fn prepare(
    config: &ServerConfig,
    body: &[u8],
) -> Result<(String, usize, String), ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|_| bad("-", "the campaign is not UTF-8".into()))?;
    let mut top: toml::Table = toml::from_str(text)
        .map_err(|e| bad("-", format!("campaign: {}", e.to_string().trim())))?;
    // node-cmd is checked per cell below, once the plan resolved it.
    let local = |k: &String| LOCAL_ONLY.contains(&k.as_str()) && k != "node-cmd";
    if let Some(f) = setting_keys(&top).into_iter().find(local) {
        let msg = format!(
            "campaign: field `{f}` cannot be set through the API (it names a path or binary on \
             the server)"
        );
        return Err(bad(&f, msg));
    }
    let parse = config.campaign_parser.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, "this server has no campaign parser")
    })?;
    let plan = parse("campaign", text).map_err(|e| bad(&e.field, e.to_string()))?;
    for cell in &plan.cells {
        if let Some(cmd) = &cell.config.node_cmd {
            faultline_api::maelstrom::command_allowed(cmd, &config.node_cmd_dirs).map_err(
                |why| {
                    bad("node-cmd", format!("campaign: cell {}: field `node-cmd`: {why}", cell.id))
                },
            )?;
        }
    }
    let store = config.store.to_str().ok_or_else(|| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the store's path is not UTF-8")
    })?;
    let defaults = top
        .entry("defaults")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .ok_or_else(|| bad("defaults", "campaign: `defaults` must be a table".into()))?;
    defaults.insert("store".into(), toml::Value::String(store.into()));
    let file = toml::to_string(&top).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("writing the campaign: {e}"))
    })?;
    let cells = plan.selected().count();
    Ok((plan.name, cells, file))
}

/// Writes campaign `id`'s file to `store/.specs/campaign-<id>.toml`.
fn write(store: &Path, id: u64, file: &str) -> Result<PathBuf, ApiError> {
    let internal = |e: std::io::Error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("writing the campaign: {e}"))
    };
    let dir = store.join(".specs");
    std::fs::create_dir_all(&dir).map_err(internal)?;
    let path = dir.join(format!("campaign-{id}.toml"));
    std::fs::write(&path, file).map_err(internal)?;
    Ok(path)
}

/// `POST /api/campaigns`: queues the campaign file in the body (TOML).
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CampaignRecord>), Response> {
    require_api_content_type(&headers).map_err(IntoResponse::into_response)?;
    let config = state.config();
    let (text, _slot) = state
        .inner
        .bodies
        .to_vec(&headers, body, config.max_spec_bytes, "campaign")
        .await
        .map_err(IntoResponse::into_response)?;
    let (name, cells, file) = prepare(config, &text).map_err(IntoResponse::into_response)?;
    let record = state.inner.campaigns.submit(config.max_queued_runs, |id, ahead| {
        let path = write(&config.store, id, &file)?;
        let record = CampaignRecord {
            id,
            state: RunState::Queued,
            name,
            cells,
            queue_position: Some(ahead),
            exit_code: None,
            campaign: None,
            page: None,
            progress: None,
            error: None,
            log: Vec::new(),
        };
        Ok((record, path))
    });
    let record = record.map_err(IntoResponse::into_response)?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// `DELETE /api/campaigns/{id}`: cancels a queued campaign at once, or a running one the way
/// Ctrl-C does, waiting until it has stopped.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<(StatusCode, Json<CampaignRecord>), ApiError> {
    let (status, record) = state.inner.campaigns.cancel(id, state.config().cancel_grace).await?;
    Ok((status, Json(record)))
}

/// The campaigns this server started, newest first (without their logs).
pub(crate) fn submitted(state: &AppState) -> Vec<Value> {
    state.inner.campaigns.list()
}

/// `GET /api/campaigns/{id}`: the record, and the campaign's summary once it has one.
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Value>, ApiError> {
    let record = state.inner.campaigns.show(id)?;
    let mut v = serde_json::to_value(&record).unwrap_or(Value::Null);
    let dir = record.campaign.as_deref().and_then(|c| {
        let (name, time) = c.split_once('/')?;
        let safe = faultline_store::index::is_safe_component(name)
            && faultline_store::index::is_safe_component(time);
        safe.then(|| state.config().store.join("campaigns").join(name).join(time))
    });
    let summary = match dir {
        Some(d) => {
            tokio::task::spawn_blocking(move || faultline_store::campaign::read_summary(&d).ok())
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    v["summary"] = serde_json::to_value(summary).unwrap_or(Value::Null);
    Ok(Json(v))
}

/// `GET /api/campaigns/{id}/events`: the state, the progress so far, then live progress
/// (cells done of the total, the running cell, outcomes so far) and log lines, then `done`.
pub(crate) async fn events(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    state.inner.campaigns.events(id)
}
