//! Where things go in the store: the timestamped directory names of runs, checks and
//! campaigns (docs/history-format.md).
//!
//! ```text
//!  store/<test-name>/<stamp>/   test.json history.jsonl results.json report.html
//!                               nodes/<n>/ faultline.log
//!  store/<test-name>/latest -> <stamp>      store/latest -> <test-name>/<stamp>
//!  store/checks/<stamp>/   store/campaigns/<name>/<stamp>/
//!  stamp = YYYYMMDDTHHMMSS.mmmZ (UTC), suffixed -2, -3, ... when two start in the same ms
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

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
    pub fn create(store: &Path, name: &str, now: SystemTime) -> io::Result<RunDir> {
        let test_dir = store.join(name);
        let (start_time, path) = create_stamped_dir(&test_dir, now)?;
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

    #[test]
    fn layout_and_latest_links() {
        let store = tempfile::tempdir().unwrap();
        let a = RunDir::create(store.path(), "t", UNIX_EPOCH).unwrap();
        let b = RunDir::create(store.path(), "t", UNIX_EPOCH).unwrap();
        assert_ne!(a.path, b.path);
        let latest = std::fs::canonicalize(store.path().join("latest")).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&b.path).unwrap());
        let t_latest = std::fs::read_link(store.path().join("t/latest")).unwrap();
        assert_eq!(t_latest, PathBuf::from(&b.start_time));
    }
}
