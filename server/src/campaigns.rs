//! Campaigns in the store: the campaigns page, one campaign's page (its grid, regressions and
//! flaky cells marked, each cell's history across the campaigns of its name), and the JSON
//! API over the same data.
//!
//! ```text
//!  store/campaigns/<name>/<time>/{campaign.json, summary.json} ──trend::scan (blocking pool)
//!     ├─▶ GET /campaigns                  html::render_list
//!     ├─▶ GET /campaigns/{name}/{time}    html::render (Links::Serve, trend::history)
//!     ├─▶ GET /api/campaigns              [{id, name, time, counts, ..}] newest first, and
//!     │                                   the records of the campaigns this server started
//!     └─▶ GET /api/campaigns/{name}/{time}  its summary.json, with links
//! ```

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::{ApiError, AppState};
use faultline_reports::campaign::html;
use faultline_store::campaign::trend::{self, CampaignEntry};
use faultline_store::campaign::CampaignSummary;
use faultline_store::index as store;

/// Every campaign in the store, newest first (read on the blocking pool).
async fn scan(state: &AppState) -> Vec<CampaignEntry> {
    let store = state.config().store.clone();
    tokio::task::spawn_blocking(move || trend::scan(&store)).await.unwrap_or_default()
}

fn page_url(e: &CampaignEntry) -> String {
    format!("/campaigns/{}/{}", e.name, e.time)
}

/// The entry `<name>/<time>` of `entries`, or why not.
fn find<'a>(
    entries: &'a [CampaignEntry],
    name: &str,
    time: &str,
) -> Result<&'a CampaignEntry, ApiError> {
    if !store::is_safe_component(name) || !store::is_safe_component(time) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad campaign name or time"));
    }
    entries
        .iter()
        .find(|e| e.name == name && e.time == time)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no campaign {name}/{time}")))
}

/// `GET /campaigns`: every campaign, newest first, with its counts by outcome.
pub(crate) async fn list_page(State(state): State<AppState>) -> Response {
    let entries = scan(&state).await;
    match html::render_list(&entries) {
        Ok(page) => Html(page).into_response(),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("campaigns.html: {e:#}\n")).into_response()
        }
    }
}

/// `GET /campaigns/{name}/{time}`: the campaign's grid and each cell's history.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path((name, time)): Path<(String, String)>,
) -> Response {
    let entries = scan(&state).await;
    let e = match find(&entries, &name, &time) {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let Some(plan) = &e.plan else {
        return ApiError::new(StatusCode::NOT_FOUND, format!("campaign {name}/{time} has no plan"))
            .into_response();
    };
    // A campaign that has just started has no summary yet: every cell shows as not run.
    let empty;
    let summary = match &e.summary {
        Some(s) => s,
        None => {
            empty = CampaignSummary::new(plan, &time, Vec::new(), Vec::new(), 0.0);
            &empty
        }
    };
    let history = trend::history(plan, &entries);
    let store = state.config().store.clone();
    match html::render(plan, summary, Some(html::Links::Serve(&store)), Some(&history)) {
        Ok(page) => Html(page).into_response(),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, format!("campaign.html: {e:#}\n")).into_response()
        }
    }
}

/// `GET /api/campaigns`: every campaign in the store, newest first, without its cells; and
/// the campaigns this server started (`submitted`, records of `POST /api/campaigns`).
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    let campaigns: Vec<Value> = scan(&state)
        .await
        .iter()
        .map(|e| {
            let s = e.summary.as_ref();
            json!({
                "id": e.id,
                "name": e.name,
                "time": e.time,
                "planned": s.map(|s| s.planned),
                "done": s.map(|s| s.cells.len()),
                "counts": s.map(|s| &s.counts),
                "exit_code": s.map(|s| s.exit_code),
                "regressions": s.map(|s| &s.regressions),
                "flaky": s.map(|s| &s.flaky),
                "page": page_url(e),
            })
        })
        .collect();
    Json(json!({ "campaigns": campaigns, "submitted": crate::campaign_jobs::submitted(&state) }))
}

/// `GET /api/campaigns/{name}/{time}`: the campaign's summary (`summary.json`), with links.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path((name, time)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let entries = scan(&state).await;
    let e = find(&entries, &name, &time)?;
    let mut v = match &e.summary {
        Some(s) => serde_json::to_value(s).unwrap_or(Value::Null),
        None => json!({ "name": e.name, "start_time": e.time, "cells": [] }),
    };
    let files = format!("/runs/campaigns/{}/{}", e.name, e.time);
    v["id"] = json!(e.id);
    v["page"] = json!(page_url(e));
    v["junit"] = json!(format!("{files}/{}", faultline_store::campaign::JUNIT_FILE));
    v["files"] = json!(format!("{files}/"));
    Ok(Json(v))
}
