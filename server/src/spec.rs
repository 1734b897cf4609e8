//! A test spec posted to `POST /api/runs`: parsed by the same parser as `faultline run
//! --test` (every field typed and range-checked, unknown fields refused, cross-field checks
//! run), refused when it names paths or binaries on the server — all before anything is
//! queued or written — then written to `store/.specs/run-<id>.json` for the child's `--test`.
//!
//! ```text
//!  body ─▶ RunSettings::parse_spec (400 naming the field) ─▶ LOCAL_ONLY ─▶ queue ─▶ file
//! ```

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use faultline_api::layered::Layer;
use faultline_api::run::LOCAL_ONLY;
use faultline_api::RunSettings;

use crate::ApiError;

fn bad(field: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message).with_field(field)
}

/// Parses and checks a posted spec; returns its settings and the test's name, if given.
///
/// # Errors
/// 400 naming the field for a spec that is not UTF-8, TOML or JSON, has a bad or unknown
/// field, or names a field only the server's own machine may set.
pub(crate) fn parse(ct: &str, body: &[u8]) -> Result<(RunSettings, Option<String>), ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| bad("-", "the spec is not UTF-8".into()))?;
    let is_json = ct.contains("json") || text.trim_start().starts_with('{');
    // Errors name the field and `spec`, never a server path.
    let settings =
        RunSettings::parse_spec("spec", text, is_json).map_err(|e| bad(&e.field, e.to_string()))?;
    let set = settings.set_fields();
    for f in LOCAL_ONLY {
        if set.iter().any(|s| s == f) {
            let msg = format!(
                "field `{f}` cannot be set through the API (it names a path or binary on the \
                 server)"
            );
            return Err(bad(f, msg));
        }
    }
    let name = settings.name.clone();
    if name.as_deref() == Some("checks") {
        return Err(bad("name", "field `name`: \"checks\" is reserved".into()));
    }
    Ok((settings, name))
}

/// Writes the spec for run `id`, with the store forced to the server's.
///
/// # Errors
/// 500 when the file cannot be written.
pub(crate) fn write(store: &Path, id: u64, mut settings: RunSettings) -> Result<PathBuf, ApiError> {
    settings.store = Some(store.to_path_buf());
    let dir = store.join(".specs");
    let internal = |e: String| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("writing the spec: {e}"))
    };
    std::fs::create_dir_all(&dir).map_err(|e| internal(e.to_string()))?;
    let path = dir.join(format!("run-{id}.json"));
    let text = serde_json::to_string_pretty(&settings).map_err(|e| internal(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| internal(e.to_string()))?;
    Ok(path)
}
