//! A check's files in the store, shared by `faultline check` and `POST /api/check`:
//! `results.json` and `report.html` in the directory `faultline_store::layout` made.
//!
//! ```text
//!  store/checks/<stamp>/   history.{jsonl,edn,log}  results.json  report.html
//! ```

use std::path::{Path, PathBuf};

use faultline_checker::shrink::Shrunk;
use faultline_checker::{CheckResult, History};
use faultline_store::results::CheckRecord;

use crate::{write_report, ReportError, ReportInput};

/// Writes `results.json` and `report.html` of a check into its directory; `source` says who
/// checked (`cli`, `api`), `command` how to check it again. Returns the report's path.
///
/// # Errors
/// Files cannot be written, or the report cannot be rendered.
pub fn write_check(
    dir: &Path,
    id: &str,
    history: &History,
    result: &CheckResult,
    source: &str,
    command: String,
) -> Result<PathBuf, ReportError> {
    write_check_shrunk(dir, id, history, result, source, command, &[])
}

/// [`write_check`], with the smallest failing sub-histories the report shows first.
///
/// # Errors
/// As [`write_check`].
pub fn write_check_shrunk(
    dir: &Path,
    id: &str,
    history: &History,
    result: &CheckResult,
    source: &str,
    command: String,
    shrunk: &[Shrunk],
) -> Result<PathBuf, ReportError> {
    let results =
        CheckRecord { verdict: result.verdict, source: source.into(), check: result.clone() };
    let text = serde_json::to_string_pretty(&results)?;
    let path = dir.join("results.json");
    std::fs::write(&path, text + "\n").map_err(|e| ReportError::io(path, e))?;
    let input =
        ReportInput::new(format!("checks/{id}"), history, result).command(command).shrunk(shrunk);
    write_report(dir, &input)
}
