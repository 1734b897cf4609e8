//! A test spec posted to `POST /api/runs`: parsed by the same parser as `faultline run
//! --test` (every field typed and range-checked, unknown fields refused, cross-field checks
//! run), refused when it names paths or binaries on the server (a Maelstrom `node-cmd` only
//! when its program lies outside the directories the operator allowed) — all before
//! anything is queued or written — then written to `store/.specs/run-<id>.json` for the
//! child's `--test`.
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
pub(crate) fn parse(
    ct: &str,
    body: &[u8],
    node_cmd_dirs: &[PathBuf],
) -> Result<(RunSettings, Option<String>), ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| bad("-", "the spec is not UTF-8".into()))?;
    let is_json = ct.contains("json") || text.trim_start().starts_with('{');
    // Errors name the field and `spec`, never a server path.
    let settings =
        RunSettings::parse_spec("spec", text, is_json).map_err(|e| bad(&e.field, e.to_string()))?;
    let set = settings.set_fields();
    if let Some(cmd) = &settings.node_cmd {
        faultline_api::maelstrom::command_allowed(cmd, node_cmd_dirs)
            .map_err(|why| bad("node-cmd", format!("field `node-cmd`: {why}")))?;
    }
    for f in LOCAL_ONLY.iter().filter(|f| **f != "node-cmd") {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_cmd_only_for_programs_the_operator_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("node");
        std::fs::write(&node, "#!/bin/sh\n").unwrap();
        let spec = |cmd: &str| {
            format!("system = \"maelstrom\"\nworkload = \"register\"\nnode-cmd = \"{cmd}\"\n")
        };
        let allowed = vec![dir.path().to_path_buf()];
        let ok = spec(&format!("{} --bug x", node.display()));
        let (s, _) = parse("application/toml", ok.as_bytes(), &allowed).unwrap();
        assert!(s.node_cmd.is_some());
        let e = parse("application/toml", ok.as_bytes(), &[]).unwrap_err();
        assert!(format!("{e:?}").contains("allows no node commands"), "{e:?}");
        let e = parse("application/toml", spec("python3 -c x").as_bytes(), &allowed).unwrap_err();
        assert!(format!("{e:?}").contains("not a file inside a directory"), "{e:?}");
        // The other server paths stay refused whatever the operator allowed.
        let bin = format!("{ok}node-binary = \"/bin/sh\"\n");
        let e = parse("application/toml", bin.as_bytes(), &allowed).unwrap_err();
        assert!(format!("{e:?}").contains("node-binary"), "{e:?}");
    }
}
