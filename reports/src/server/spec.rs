//! A test spec posted to `POST /api/runs`: parsed (TOML or JSON), refused when it names
//! paths or binaries on the server, checked field by field by the `faultline` binary's own
//! settings parser (through [`SpecCheck`]) — all before anything is queued or written —
//! then written to `store/.specs/run-<id>.json` for the child's `--test`.
//!
//! ```text
//!  body ─▶ parse ─▶ REFUSED_FIELDS, name ─▶ SpecCheck (400 naming the field) ─▶ queue ─▶ file
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::ApiError;

/// Spec fields the API refuses: they name binaries or paths on this machine.
const REFUSED_FIELDS: [&str; 5] = ["node-binary", "etcd-binary", "node-args", "store", "replay"];

/// A bad field of a posted spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The field (kebab-case, as in spec files).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Checks a posted spec's fields the way `faultline run --test` reads them (types, ranges,
/// unknown fields, combinations). The `faultline` binary supplies it; without one, specs
/// are only checked when the run starts.
#[derive(Clone)]
pub struct SpecCheck(pub Arc<SpecCheckFn>);

/// The function inside a [`SpecCheck`].
pub type SpecCheckFn = dyn Fn(&Map<String, Value>) -> Result<(), SpecError> + Send + Sync;

impl std::fmt::Debug for SpecCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpecCheck(..)")
    }
}

fn bad(field: Option<&str>, message: String) -> ApiError {
    let e = ApiError::new(StatusCode::BAD_REQUEST, message);
    match field {
        Some(f) => e.with_field(f),
        None => e,
    }
}

/// Parses and checks a posted spec; returns its fields and the test's name.
///
/// # Errors
/// 400 for a spec that is not UTF-8, TOML or JSON, names a refused field, or fails `check`.
pub(crate) fn parse(
    ct: &str,
    body: &[u8],
    check: Option<&SpecCheck>,
) -> Result<(Map<String, Value>, Option<String>), ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| bad(None, "the spec is not UTF-8".into()))?;
    let is_json = ct.contains("json") || text.trim_start().starts_with('{');
    let value: Map<String, Value> = if is_json {
        serde_json::from_str(text).map_err(|e| bad(None, format!("spec (JSON): {e}")))?
    } else {
        let t: toml::Table =
            toml::from_str(text).map_err(|e| bad(None, format!("spec (TOML): {e}")))?;
        serde_json::to_value(t).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
    };
    for f in REFUSED_FIELDS {
        if value.contains_key(f) || value.contains_key(&f.replace('-', "_")) {
            let msg = format!(
                "field `{f}` cannot be set through the API (it names a path or binary on the \
                 server)"
            );
            return Err(bad(Some(f), msg));
        }
    }
    let name = value.get("name").and_then(Value::as_str).map(str::to_string);
    if let Some(n) = &name {
        if !crate::store::is_safe_component(n) || n == "latest" || n == "checks" {
            return Err(bad(Some("name"), format!("field `name`: {n:?} is not a valid test name")));
        }
    }
    if let Some(SpecCheck(check)) = check {
        check(&value).map_err(|e| {
            bad(Some(&e.field), format!("spec: field `{}`: {}", e.field, e.message))
        })?;
    }
    Ok((value, name))
}

/// Writes the spec for run `id`, with the store forced to the server's.
///
/// # Errors
/// 500 when the file cannot be written.
pub(crate) fn write(
    store: &Path,
    id: u64,
    mut value: Map<String, Value>,
) -> Result<PathBuf, ApiError> {
    value.insert("store".into(), json!(store));
    let dir = store.join(".specs");
    let internal = |e: String| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("writing the spec: {e}"))
    };
    std::fs::create_dir_all(&dir).map_err(|e| internal(e.to_string()))?;
    let path = dir.join(format!("run-{id}.json"));
    let text =
        serde_json::to_string_pretty(&Value::Object(value)).map_err(|e| internal(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| internal(e.to_string()))?;
    Ok(path)
}
