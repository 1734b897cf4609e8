//! HTML pages: the index, a test's history of verdicts, and the store's files.
// Serving files reads the disk; nothing here reads a clock.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use crate::AppState;
use faultline_store::index::{self as store, RunSummary};

/// `?verdict=` of the index.
#[derive(Debug, Deserialize)]
pub(crate) struct Filter {
    verdict: Option<String>,
}

fn filtered(runs: Vec<RunSummary>, verdict: Option<&str>) -> Vec<RunSummary> {
    match verdict {
        None | Some("") | Some("all") => runs,
        Some(v) => runs.into_iter().filter(|r| r.verdict == v).collect(),
    }
}

fn page(state: &AppState, name: &str, ctx: minijinja::Value) -> Response {
    match state.inner.env.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("template {name}: {e:#}\n")).into_response()
        }
    }
}

async fn scan(state: &AppState) -> Vec<RunSummary> {
    state.scan().await
}

/// `GET /`: every run, newest first, filterable by verdict.
pub(crate) async fn index(State(state): State<AppState>, Query(f): Query<Filter>) -> Response {
    let all = scan(&state).await;
    let total = all.len();
    let runs = filtered(all, f.verdict.as_deref());
    let ctx = context! {
        css => faultline_reports::render::CSS,
        runs,
        total,
        filter => f.verdict.unwrap_or_else(|| "all".into()),
        store => state.config().store.display().to_string(),
    };
    page(&state, "index.html", ctx)
}

/// `GET /tests/{test}`: one test's runs, newest first, and when its failures began.
pub(crate) async fn test(State(state): State<AppState>, Path(test): Path<String>) -> Response {
    if !store::is_safe_component(&test) {
        return (StatusCode::BAD_REQUEST, "bad test name\n").into_response();
    }
    let runs: Vec<RunSummary> = scan(&state).await.into_iter().filter(|r| r.test == test).collect();
    if runs.is_empty() {
        return (StatusCode::NOT_FOUND, format!("no runs of test {test:?}\n")).into_response();
    }
    // Newest first: the failing streak is the leading run of illegal verdicts.
    let streak = runs.iter().take_while(|r| r.verdict == "illegal").count();
    let first_failure = (streak > 0).then(|| runs[streak - 1].time.clone());
    // The run just before the streak: none (the streak began with the first run), a pass, or
    // an undecided run.
    let before = runs.get(streak).map(|r| (r.time.clone(), r.verdict.clone()));
    let ctx = context! { css => faultline_reports::render::CSS, test, runs, first_failure, before };
    page(&state, "test.html", ctx)
}

fn content_type(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        // Logs, histories and the rest: shown as text in the browser, never run.
        _ => "text/plain; charset=utf-8",
    }
}

/// `GET /runs/`: the store's top level.
pub(crate) async fn store_root(State(state): State<AppState>) -> Response {
    listing(&state, "", &state.config().store.clone())
}

/// `GET /runs/{*path}`: a file of the store, or a directory listing.
pub(crate) async fn file(State(state): State<AppState>, Path(rel): Path<String>) -> Response {
    let Some(path) = store::resolve(&state.config().store, &rel) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    if path.is_dir() {
        if !rel.ends_with('/') {
            // Relative links in the listing need the trailing slash.
            return axum::response::Redirect::permanent(&format!("/runs/{rel}/")).into_response();
        }
        return listing(&state, rel.trim_end_matches('/'), &path);
    }
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
    };
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 << 10];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes_of(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    (
        [(header::CONTENT_TYPE, content_type(&path)), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
        Body::from_stream(stream),
    )
        .into_response()
}

fn bytes_of(v: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(v)
}

fn listing(state: &AppState, rel: &str, dir: &std::path::Path) -> Response {
    let mut entries: Vec<(String, bool, u64)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if !store::is_safe_component(&name) {
                        return None;
                    }
                    let meta = std::fs::metadata(e.path()).ok()?;
                    Some((name, meta.is_dir(), meta.len()))
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    let ctx = context! { css => faultline_reports::render::CSS, rel, entries };
    page(state, "files.html", ctx)
}
