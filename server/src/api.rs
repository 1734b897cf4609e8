//! `GET /api/index` and `POST /api/check`.
//!
//! ```text
//!  body (JSONL / EDN / Porcupine log) ──streamed──▶ store/.uploads/<n>.part
//!    ──one at a time, on a big-stack thread: formats::read──▶ History ──check──▶ CheckResult
//!    ──▶ store/checks/<stamp>/{history.* (the upload, moved), results.json, report.html}
//!    ──▶ {"verdict", "report", ...}
//! ```
// Names each check's directory after the wall-clock time, as the runner names runs.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use faultline_checker::formats::{self, Format};
use faultline_checker::{check as run_check, CancelToken, CheckOptions, ModelSpec};
use faultline_child::Exit;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::extract::ApiQuery;
use crate::{ApiError, AppState};
use faultline_reports::checks::write_check_shrunk;
use faultline_store::layout::create_check_dir;

/// `GET /api/index?verdict=`: the runs in the store as JSON, newest first.
pub(crate) async fn index(
    State(state): State<AppState>,
    Query(q): Query<std::collections::BTreeMap<String, String>>,
) -> Json<Value> {
    let runs = state.scan().await;
    let runs: Vec<_> = match q.get("verdict").map(String::as_str) {
        None | Some("all") | Some("") => runs,
        Some(v) => runs.into_iter().filter(|r| r.verdict == v).collect(),
    };
    let runs: Vec<Value> = runs
        .into_iter()
        .map(|r| {
            let base = format!("/runs/{}/{}", r.test, r.time);
            let mut v = serde_json::to_value(&r).unwrap_or(Value::Null);
            v["files"] = json!(format!("{base}/"));
            v["report"] =
                if r.has_report { json!(format!("{base}/report.html")) } else { Value::Null };
            v
        })
        .collect();
    Json(json!({ "runs": runs }))
}

/// Query of `POST /api/check`.
#[derive(Debug, Deserialize)]
pub(crate) struct CheckQuery {
    /// register, cas-register (default) or kv.
    model: Option<String>,
    /// auto (default), jsonl, edn or jepsen-log.
    format: Option<String>,
    /// The register's initial value.
    initial: Option<String>,
    /// Seconds; at most the server's limit.
    time_limit: Option<f64>,
}

/// Content types a browser cannot send cross-site without a preflight are required, so a
/// web page cannot make someone's browser post here.
pub(crate) fn require_api_content_type(headers: &HeaderMap) -> Result<String, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "" | "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain" => {
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content type {:?} is not accepted: send e.g. `Content-Type: \
                     application/x-ndjson` (histories), `application/toml` or \
                     `application/json` (test specs)",
                    if ct.is_empty() { "(none)" } else { &ct }
                ),
            ))
        }
        _ => Ok(ct),
    }
}

/// Cancels its check when dropped: when the request's future is dropped (the client went
/// away), and harmlessly after a check that ended.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Stack of the thread a check runs on: deep enough for any nesting the history readers
/// allow, so hostile input meets their limits, not the end of the stack.
const CHECK_STACK: usize = 256 << 20;

/// Runs `f` on a fresh thread with a [`CHECK_STACK`] stack; a panic in it is a 500.
async fn on_check_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let internal = |m: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, m);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("api-check".into())
        .stack_size(CHECK_STACK)
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .map_err(|e| internal(format!("starting the check: {e}")))?;
    match rx.await {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => {
            let msg = crate::guard::panic_message(&*panic);
            tracing::error!("check panicked: {msg}");
            Err(internal(format!("internal error in the check: {msg}")))
        }
        Err(_) => Err(internal("the check ended without an answer".into())),
    }
}

/// `POST /api/check?model=cas-register`: checks the history in the body, stores it with its
/// results and report under `store/checks/<id>/`, and answers the verdict and links. The
/// body is streamed to a file first, so only the one check running holds a history in
/// memory.
pub(crate) async fn check(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CheckQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ct = require_api_content_type(&headers)?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let model_name = q.model.unwrap_or_else(|| "cas-register".into());
    let mut model: ModelSpec = model_name.parse().map_err(|e| bad(format!("model: {e}")))?;
    if let Some(init) = &q.initial {
        model = model.with_initial(init).map_err(|e| bad(format!("initial: {e}")))?;
    }
    let format: Format = match q.format.as_deref() {
        Some(f) => f.parse().map_err(|e| bad(format!("format: {e}")))?,
        None if ct.contains("edn") => Format::Edn,
        None => Format::Auto,
    };
    let limit = state.config().check_time_limit;
    let time_limit = match q.time_limit {
        Some(s) if s.is_finite() && s > 0.0 => {
            Duration::try_from_secs_f64(s).unwrap_or(limit).min(limit)
        }
        Some(s) => return Err(bad(format!("time_limit: {s} is not a positive number"))),
        None => limit,
    };
    let store_dir = state.config().store.clone();
    let (upload, _slot) = state
        .inner
        .bodies
        .to_file(&store_dir, &headers, body, state.config().max_history_bytes, "history")
        .await?;
    let permit = state
        .inner
        .check_gate
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    // When the client goes away, this future is dropped: the guard cancels the check, whose
    // thread keeps the permit until its search has actually stopped.
    let cancel = CancelToken::default();
    let _abandon = CancelOnDrop(cancel.clone());
    let value = on_check_thread(move || -> Result<Value, ApiError> {
        let _permit = permit;
        let internal = |e: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e);
        let file = std::fs::File::open(upload.path()).map_err(|e| internal(e.to_string()))?;
        let history = formats::read(file, format, "request body")
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        let opts = CheckOptions {
            time_limit: Some(time_limit),
            cancel: Some(cancel),
            ..CheckOptions::default()
        };
        let result = run_check(&history, &model, &opts)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        // The report shows the smallest failing history first, as `faultline check`'s does;
        // shrinking is bounded by the check's own limit and cancelled with it.
        let shrunk = match result.verdict {
            faultline_checker::Verdict::Illegal => {
                let budget = faultline_checker::shrink::DEFAULT_BUDGET.min(time_limit);
                faultline_checker::shrink::shrink(&history, &model, &result, &opts, budget)
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let (id, dir) =
            create_check_dir(&store_dir, SystemTime::now()).map_err(|e| internal(e.to_string()))?;
        let name = match format {
            Format::Edn => "history.edn",
            Format::JepsenLog => "history.log",
            _ => "history.jsonl",
        };
        upload.keep(&dir.join(name)).map_err(|e| internal(e.to_string()))?;
        let command = format!("faultline check --model {} {name}", model.name());
        write_check_shrunk(&dir, &id, &history, &result, "api", command, &shrunk)
            .map_err(|e| internal(e.to_string()))?;
        let base = format!("/runs/checks/{id}");
        let reason = result.nothing_checked().then_some(faultline_checker::NOTHING_CHECKED);
        Ok(json!({
            "reason": reason,
            "id": id,
            "verdict": result.verdict,
            "exit_code": Exit::from(result.verdict).code(),
            "model": result.model,
            "counts": result.counts,
            "micros": result.micros,
            "report": format!("{base}/report.html"),
            "results": format!("{base}/results.json"),
            "files": format!("{base}/"),
        }))
    })
    .await?;
    Ok((StatusCode::OK, Json(value)))
}
