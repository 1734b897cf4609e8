//! The store layout of docs/history-format.md: `store/<test-name>/<start-time>/` and the `latest`
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
use std::time::SystemTime;

use faultline_reports::checks::create_stamped_dir;

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
        let test_dir = store.join(name);
        let (start_time, path) = create_stamped_dir(&test_dir, SystemTime::now())?;
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
    use super::*;

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
