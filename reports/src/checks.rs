//! A check's place in the store, shared by `faultline check` and `POST /api/check`, and the
//! store's timestamps, shared with `faultline run`.
//!
//! ```text
//!  store/checks/<stamp>/   history.{jsonl,edn,log}  results.json  report.html
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::results::CheckRecord;
use faultline_checker::shrink::Shrunk;
use faultline_checker::{CheckResult, History};

use crate::{write_report, ReportError, ReportInput};

/// `YYYYMMDDTHHMMSS.mmmZ` in UTC: the store's directory names.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // civil_from_days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Creates `dir/<stamp>/` for `now`, suffixing `-2`, `-3`... when it exists; returns the
/// name and the path.
///
/// # Errors
/// The directory cannot be created.
pub fn create_stamped_dir(dir: &Path, now: SystemTime) -> io::Result<(String, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let stamp = timestamp(now);
    let mut n = 1;
    loop {
        let id = if n == 1 { stamp.clone() } else { format!("{stamp}-{n}") };
        match std::fs::create_dir(dir.join(&id)) {
            Ok(()) => return Ok((id.clone(), dir.join(id))),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Creates `store/checks/<stamp>/`.
///
/// # Errors
/// The directory cannot be created.
pub fn create_check_dir(store: &Path, now: SystemTime) -> io::Result<(String, PathBuf)> {
    create_stamped_dir(&store.join("checks"), now)
}

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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn stamps_like_the_runner() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_307_112_345);
        assert_eq!(timestamp(t), "20261122T002512.345Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(leap)[..8], "20000229");
    }

    #[test]
    fn clashing_stamps_get_suffixes() {
        let d = tempfile::tempdir().unwrap();
        let a = create_check_dir(d.path(), UNIX_EPOCH).unwrap();
        let b = create_check_dir(d.path(), UNIX_EPOCH).unwrap();
        assert_eq!(
            (a.0.as_str(), b.0.as_str()),
            ("19700101T000000.000Z", "19700101T000000.000Z-2")
        );
        assert!(b.1.is_dir());
    }
}
