//! The store layout of DESIGN.md: `store/<test-name>/<start-time>/` and the `latest`
//! symlinks.
//!
//! ```text
//! store/<test-name>/<start-time>/   test.json history.jsonl results.json report.html
//!                                   nodes/<n>/ faultline.log
//! store/<test-name>/latest -> <start-time>
//! store/latest -> <test-name>/<start-time>
//! ```
// Naming a run's directory needs the wall clock.
#![allow(clippy::disallowed_methods)]

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A run's directory in the store.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// `store/<test-name>/<start-time>`.
    pub path: PathBuf,
    /// `<start-time>`, e.g. `20261122T004512.345Z`.
    pub start_time: String,
}

impl RunDir {
    /// Creates `store/<name>/<now>/` (suffixing `-2`, `-3`, ... if two runs start in the same
    /// millisecond) and points both `latest` links at it.
    ///
    /// # Errors
    /// The directory or the links cannot be created.
    pub fn create(store: &Path, name: &str) -> io::Result<RunDir> {
        let stamp = timestamp(SystemTime::now());
        let test_dir = store.join(name);
        std::fs::create_dir_all(&test_dir)?;
        let mut start_time = stamp.clone();
        let mut n = 1;
        let path = loop {
            let p = test_dir.join(&start_time);
            match std::fs::create_dir(&p) {
                Ok(()) => break p,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    n += 1;
                    start_time = format!("{stamp}-{n}");
                }
                Err(e) => return Err(e),
            }
        };
        relink(&test_dir.join("latest"), Path::new(&start_time))?;
        relink(&store.join("latest"), &Path::new(name).join(&start_time))?;
        Ok(RunDir { path, start_time })
    }
}

/// Replaces the symlink `link` with one pointing at `target` (relative), atomically.
fn relink(link: &Path, target: &Path) -> io::Result<()> {
    let tmp = link.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

/// `YYYYMMDDTHHMMSS.mmmZ` in UTC.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_307_112_345);
        assert_eq!(timestamp(t), "20261122T002512.345Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(leap)[..8], "20000229");
    }

    #[test]
    fn layout_and_latest_links() {
        let store = tempfile::tempdir().unwrap();
        let a = RunDir::create(store.path(), "t").unwrap();
        let b = RunDir::create(store.path(), "t").unwrap();
        assert_ne!(a.path, b.path);
        let latest = std::fs::canonicalize(store.path().join("latest")).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&b.path).unwrap());
        let t_latest = std::fs::read_link(store.path().join("t/latest")).unwrap();
        assert_eq!(t_latest, PathBuf::from(&b.start_time));
    }
}
