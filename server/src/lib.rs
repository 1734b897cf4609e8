//! faultline-server: the web service of `faultline serve` — the store's index and reports
//! over HTTP, and the JSON API (axum) with its run and campaign queues. It reads the store
//! through `faultline_store`, renders pages with `faultline_reports`' templates, and starts
//! its children through `faultline_child`'s supervisor; only the binary depends on it.
//!
//! ```text
//!  GET  /                      index of runs, newest first (?verdict=illegal)
//!  GET  /tests/{test}          one test's verdicts over time
//!  GET  /campaigns             every campaign, newest first, with counts by outcome
//!  GET  /campaigns/{name}/{time}  its grid, regressions and flaky cells, each cell's history
//!  GET  /runs/{test}/{time}/…  files of a run (report.html, history.jsonl, nodes/…)
//!  ── API (bearer token when --token is set) ─────────────────────────────────────────
//!  GET  /api/index             the index as JSON
//!  POST /api/check?model=…     history in the body ─▶ check ─▶ store/checks/<id>/
//!  POST /api/runs              test spec in the body ─▶ queue ─▶ `faultline run` child
//!  GET  /api/runs[/{id}]       runs started by this server: state, progress, verdict
//!  DELETE /api/runs/{id}       cancel a queued or running run (as Ctrl-C would)
//!  GET  /api/runs/{id}/events  server-sent events of progress
//!  GET  /api/campaigns         the store's campaigns, newest first (counts, no cells), and
//!                              the campaigns this server started
//!  GET  /api/campaigns/{name}/{time}  one campaign of the store: its summary
//!  POST /api/campaigns         campaign file (TOML) ─▶ campaign parser ─▶ queue ─▶
//!                              `faultline campaign` child (one child at a time, runs or not)
//!  GET  /api/campaigns/{id}    one started campaign: state, progress, its summary
//!  DELETE /api/campaigns/{id}  cancel a queued or running campaign (as Ctrl-C would)
//!  GET  /api/campaigns/{id}/events  server-sent events: cells done/total, running cell,
//!                              outcomes so far
//! ```
//! Safe by default:
//! - [`check_bind`] refuses a non-loopback address without a token;
//! - every request must name an allowed host ([`HostPolicy`]: loopback names and the bound
//!   port, more with `--allow-host`), which defeats DNS rebinding; a state-changing request
//!   from a browser must come from an allowed origin;
//! - POSTs need a non-form content type (so a web page cannot make a browser send one
//!   without a CORS preflight, which this server never grants);
//! - headers must arrive within `header_timeout` and bodies within `body_timeout` (a
//!   trickling client is cut off), connections are capped (`conn`); bodies are
//!   size-limited before and while they are read, histories are streamed to disk, and only
//!   `max_in_flight` requests are handled at once once their bodies have arrived (503
//!   beyond, see `body`); a check whose client goes away is cancelled;
//! - the run and campaign queues are bounded (429 beyond); one child runs at a time; checks
//!   run one at a time on a thread with a large stack, where a panic is contained; a
//!   panicking handler answers 500;
//! - store paths come only from [`faultline_store::index::resolve`].
//!
//! # Layout
//! - `guard`, `conn`, `body`, `extract`: the defences (hosts, origins, tokens, connections,
//!   bodies) and typed extractors.
//! - `pages`, `campaigns`: the HTML pages and the store's campaigns.
//! - `api`: `POST /api/check` and the index as JSON.
//! - `queue`: the bounded job queue; `runs` and `campaign_jobs` its two kinds of job;
//!   `spec`: a posted run spec.
#![deny(missing_docs)]

mod api;
mod body;
mod campaign_jobs;
mod campaigns;
mod conn;
mod extract;
mod guard;
mod pages;
mod queue;
mod runs;
mod spec;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::Environment;

pub use body::RECEIVING_PER_SLOT;
pub use campaign_jobs::CampaignRecord;
pub use guard::{HostPolicy, LOOPBACK_NAMES};
pub use queue::RunState;
pub use runs::RunRecord;

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The store directory (`store/`).
    pub store: PathBuf,
    /// When set, every request needs the token: `Authorization: Bearer <token>`, or the
    /// cookie a browser gets by opening a page once with `?token=<token>`.
    pub token: Option<String>,
    /// The `faultline` binary that `POST /api/runs` starts (`faultline run --test ...`).
    pub faultline_exe: PathBuf,
    /// Largest history accepted by `POST /api/check`.
    pub max_history_bytes: usize,
    /// Largest test spec accepted by `POST /api/runs`.
    pub max_spec_bytes: usize,
    /// Time limit of one `POST /api/check` (the verdict is `unknown` past it).
    pub check_time_limit: Duration,
    /// Host names (`NAME` or `NAME:PORT`) served besides the loopback names.
    pub allowed_hosts: Vec<String>,
    /// Requests with a body (POST) handled at once, counted once their body has arrived;
    /// more get 503 (and at most 8× as many bodies are received at once).
    pub max_in_flight: usize,
    /// A client must send a request's headers within this long (idle keep-alive
    /// connections included), else its connection is closed.
    pub header_timeout: Duration,
    /// A request body must arrive whole within this long, with no gap between its chunks
    /// longer than a fifth of it; else 408.
    pub body_timeout: Duration,
    /// Runs queued or running at once, and campaigns queued or running at once; more get 429.
    pub max_queued_runs: usize,
    /// How long a cancelled run may take to remove its cluster before it is killed.
    pub cancel_grace: Duration,
    /// `faultline campaign`'s file parser, which `POST /api/campaigns` checks files with
    /// (`None`: campaigns cannot be posted).
    pub campaign_parser: Option<CampaignParser>,
    /// Directories whose programs a posted spec or campaign may name as a Maelstrom node's
    /// `node-cmd` (empty: `node-cmd` is refused like the other server paths).
    pub node_cmd_dirs: Vec<PathBuf>,
}

/// A campaign file parser: the file's name (for messages) and its TOML text to its plan, or
/// the first error naming the table and key (`faultline`'s `campaign::file::parse`).
pub type CampaignParser =
    fn(&str, &str) -> Result<faultline_store::campaign::CampaignPlan, faultline_api::ConfigError>;

impl ServerConfig {
    /// Defaults for `store`: no token, this executable as `faultline`, 256 MiB histories,
    /// 1 MiB specs, 300 s checks, loopback names only, 4 bodies in flight, headers within
    /// 10 s, bodies within 60 s, 8 runs queued, 30 s for a cancelled run to stop.
    pub fn new(store: impl Into<PathBuf>) -> Self {
        ServerConfig {
            store: store.into(),
            token: None,
            faultline_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("faultline")),
            max_history_bytes: 256 << 20,
            max_spec_bytes: 1 << 20,
            check_time_limit: Duration::from_secs(300),
            allowed_hosts: Vec::new(),
            max_in_flight: 4,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_queued_runs: 8,
            cancel_grace: faultline_child::CANCEL_GRACE,
            campaign_parser: None,
            node_cmd_dirs: Vec::new(),
        }
    }
}

/// Refuses to listen beyond this machine without a token.
///
/// # Errors
/// A message saying why, for a non-loopback `addr` and no token (or an empty one).
pub fn check_bind(addr: &SocketAddr, token: Option<&str>) -> Result<(), String> {
    match token {
        Some(t) if t.trim().is_empty() => Err("--token must not be empty".into()),
        None if !addr.ip().is_loopback() => Err(format!(
            "refusing to listen on {addr} without --token: the API starts runs; pass --token T \
             (clients send `Authorization: Bearer T`) or bind to 127.0.0.1"
        )),
        _ => Ok(()),
    }
}

/// Shared state of the handlers: configuration, templates and the run queue.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServerConfig,
    env: Environment<'static>,
    runs: runs::Runs,
    campaigns: campaign_jobs::Campaigns,
    /// Summaries of runs already read.
    scan_cache: faultline_store::index::ScanCache,
    /// The gates and deadlines of request bodies.
    bodies: body::Bodies,
    /// One check at a time: a check uses every core, a second one would only halve both.
    /// The permit goes with the check's thread, so it is free only once the work stopped.
    check_gate: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Creates the state and starts the run queue's worker task.
    ///
    /// # Panics
    /// Outside a tokio runtime (the worker is spawned here).
    pub fn new(config: ServerConfig) -> Self {
        // One child at a time on the machine, a run or a campaign.
        let machine = Arc::new(tokio::sync::Semaphore::new(1));
        let runs = runs::Runs::start(config.clone(), machine.clone());
        let campaigns = campaign_jobs::Campaigns::start(config.clone(), machine);
        let idle = config.body_timeout / 5;
        let bodies = body::Bodies::new(config.max_in_flight, idle, config.body_timeout);
        AppState {
            inner: Arc::new(Inner {
                config,
                env: faultline_reports::render::environment(),
                runs,
                campaigns,
                scan_cache: faultline_store::index::ScanCache::default(),
                bodies,
                check_gate: Arc::new(tokio::sync::Semaphore::new(1)),
            }),
        }
    }

    fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Stops accepting runs and campaigns, cancels the queued ones and stops the running one
    /// as Ctrl-C would (its clusters are removed); returns once it has ended.
    pub async fn shutdown(&self) {
        tokio::join!(self.inner.runs.shutdown(), self.inner.campaigns.shutdown());
    }

    /// Every run in the store, newest first (read on the blocking pool).
    async fn scan(&self) -> Vec<faultline_store::index::RunSummary> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            faultline_store::index::scan_cached(&state.inner.config.store, &state.inner.scan_cache)
        })
        .await
        .unwrap_or_default()
    }
}

/// An API error: a status and a message, sent as `{"error": message}` (with `"field"` when
/// one field of the request is at fault).
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, msg: impl Into<String>) -> Self {
        ApiError { status, message: msg.into(), field: None, retry_after: None }
    }

    /// Asks the client to try again after `secs` seconds (`Retry-After`).
    pub(crate) fn retry_after(mut self, secs: &'static str) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Names the field at fault.
    pub(crate) fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(f) = self.field {
            body["field"] = f.into();
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(v) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static(v));
        }
        resp
    }
}

/// The router, for a server whose bound address is unknown (any port passes the Host
/// check). Tests call it with `tower::ServiceExt::oneshot`, no socket needed.
///
/// # Panics
/// When `allowed_hosts` has an entry that is not a host name (`faultline serve` checks them
/// with [`HostPolicy::new`] first).
pub fn app(state: AppState) -> Router {
    let policy = HostPolicy::new(None, &state.config().allowed_hosts)
        .unwrap_or_else(|e| panic!("ServerConfig::allowed_hosts: {e}"));
    harden(routes(state), policy)
}

/// Every route, without the outer defences of [`harden`].
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/index", get(api::index))
        .route("/api/check", post(api::check))
        .route("/api/runs", post(runs::create).get(runs::list))
        .route("/api/runs/{id}", get(runs::show).delete(runs::cancel))
        .route("/api/runs/{id}/events", get(runs::events))
        .route("/api/campaigns", post(campaign_jobs::create).get(campaigns::list))
        .route("/api/campaigns/{id}", get(campaign_jobs::show).delete(campaign_jobs::cancel))
        .route("/api/campaigns/{id}/events", get(campaign_jobs::events))
        .route("/api/campaigns/{name}/{time}", get(campaigns::show))
        .route("/", get(pages::index))
        .route("/campaigns", get(campaigns::list_page))
        .route("/campaigns/{name}/{time}", get(campaigns::page))
        .route("/tests/{test}", get(pages::test))
        .route("/runs/", get(pages::store_root))
        .route("/runs/{*path}", get(pages::file))
        // The token (when set) guards every route: the API, the pages and the raw files
        // (histories and node logs are as sensitive as the API).
        .route_layer(middleware::from_fn_with_state(state.clone(), auth))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(state)
}

/// Wraps `router` in the defences every request passes: the Host and Origin allow-lists
/// and panic containment (see `guard`).
pub fn harden(router: Router, policy: HostPolicy) -> Router {
    router
        .layer(middleware::from_fn_with_state(Arc::new(policy), guard::check_host))
        .layer(middleware::from_fn(guard::catch_panic))
}

/// The cookie a browser keeps the token in, after opening a page with `?token=T`.
const TOKEN_COOKIE: &str = "faultline_token";

/// Token check for every route (a no-op without `--token`). Programs send
/// `Authorization: Bearer T`; a browser opens any page once with `?token=T`, which sets an
/// HttpOnly, SameSite=Strict cookie and redirects to the same page without the token.
async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &state.config().token else {
        return next.run(req).await;
    };
    let ok = |g: &str| constant_time_eq(g.as_bytes(), token.as_bytes());
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='))
        .find(|c| ok(c));
    if bearer.is_some_and(ok) || cookie.is_some() {
        return next.run(req).await;
    }
    let query = req.uri().query().unwrap_or("");
    let given = query.split('&').find_map(|kv| kv.strip_prefix("token="));
    if req.method() == axum::http::Method::GET && given.is_some_and(ok) {
        let rest: Vec<&str> = query.split('&').filter(|kv| !kv.starts_with("token=")).collect();
        let to = if rest.is_empty() {
            req.uri().path().to_string()
        } else {
            format!("{}?{}", req.uri().path(), rest.join("&"))
        };
        let mut resp = axum::response::Redirect::to(&to).into_response();
        let c = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        return resp;
    }
    let mut resp =
        ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token").into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    resp
}

/// Compares without an early exit, so the time taken does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Serves the routes on `listener` until `shutdown` resolves, answering only to the hosts
/// of [`HostPolicy::new`] for the listener's address.
///
/// # Errors
/// When the listener fails, or `allowed_hosts` has an entry that is not a host name.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let bound = listener.local_addr()?;
    let policy = HostPolicy::new(Some(bound), &state.config().allowed_hosts)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let header_timeout = state.config().header_timeout;
    conn::accept_loop(listener, harden(routes(state), policy), header_timeout, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_rules() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_bind(&local, None).is_ok());
        assert!(check_bind(&any, None).unwrap_err().contains("--token"));
        assert!(check_bind(&any, Some("s3cret")).is_ok());
        assert!(check_bind(&local, Some(" ")).is_err());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
