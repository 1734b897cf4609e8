//! Reading the store: one [`RunSummary`] per `store/<test>/<start-time>/`, and safe paths
//! into it.
//!
//! ```text
//!  store/<test>/<time>/{test.json, results.json, report.html, ...}
//!     ──scan──▶ [RunSummary] newest first (the index, the per-test pages, GET /api/index)
//!  "<test>/<time>/report.html" (from a URL) ──resolve──▶ a path inside the store, or None
//! ```
//! `latest` links and dot-directories are skipped; a run without `results.json` (still
//! running, or crashed) shows verdict `none`.

use std::path::{Component, Path, PathBuf};

use faultline_api::RunConfig;
use serde::Serialize;

use crate::results::Stored;

/// One run (or one `checks/<id>` check) as the index shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The test name (the directory under the store).
    pub test: String,
    /// The start time (the run's directory name, `20261122T002512.345Z`).
    pub time: String,
    /// `faultline`, `etcd`, ... (from `test.json`).
    pub system: String,
    /// `register`, `cas-register`, `kv`, ... (from `test.json`).
    pub workload: String,
    /// The faults (`nemesis` in `test.json`).
    pub faults: String,
    /// `linearizable`, `illegal`, `unknown`, or `none` when there is no result yet.
    pub verdict: String,
    /// How long the run's workload was set to last, or the history's span.
    pub duration: String,
    /// Whether `report.html` exists.
    pub has_report: bool,
    /// The seed, when recorded.
    pub seed: Option<u64>,
    /// The start time for people (`2026-11-22 00:25:12 UTC`), from `time`.
    pub started: String,
}

/// `20261122T002512.345Z[-2]` -> `2026-11-22 00:25:12 UTC`; other names are kept as they are.
pub fn readable_time(t: &str) -> String {
    let b = t.as_bytes();
    if b.len() >= 15 && b[8] == b'T' && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        format!(
            "{}-{}-{} {}:{}:{} UTC",
            &t[..4],
            &t[4..6],
            &t[6..8],
            &t[9..11],
            &t[11..13],
            &t[13..15]
        )
    } else {
        t.to_string()
    }
}

/// Reads one run directory: `test.json` as the run's [`RunConfig`] and `results.json` as
/// [`Stored`] results, both with the types that wrote them.
pub fn summary(test: &str, time: &str, dir: &Path) -> RunSummary {
    let config: Option<RunConfig> =
        std::fs::read(dir.join("test.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let results = Stored::read(&dir.join("results.json"));
    let duration = match (results.as_ref().and_then(Stored::total_secs), &config) {
        (Some(s), _) => format!("{s:.1} s"),
        (None, Some(c)) => format!("{:.0} s", c.time_limit),
        (None, None) => String::new(),
    };
    let name = |f: &dyn Fn(&RunConfig) -> String| config.as_ref().map(f).unwrap_or_default();
    RunSummary {
        test: test.to_string(),
        time: time.to_string(),
        system: name(&|c| c.system.to_string()),
        workload: name(&|c| c.workload.to_string()),
        faults: name(&|c| c.nemesis.to_string()),
        verdict: results.map_or_else(|| "none".into(), |r| r.verdict().to_string()),
        duration,
        has_report: dir.join("report.html").is_file(),
        seed: config.as_ref().map(|c| c.seed),
        started: readable_time(time),
    }
}

fn is_listed(name: &str) -> bool {
    !name.starts_with('.') && name != "latest"
}

fn subdirs(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = rd
        .filter_map(Result::ok)
        // `file_type` does not follow links, so `latest` links are not directories here.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_listed(n))
        .collect();
    names.sort();
    names
}

/// Every run in the store, newest first (by start time, then test name).
pub fn scan(store: &Path) -> Vec<RunSummary> {
    scan_cached(store, &ScanCache::default())
}

/// What a run's summary was read from: the files' modification times and sizes.
type Stamp = [Option<(std::time::SystemTime, u64)>; 3];

/// Summaries already read, so that an index of many runs does not re-parse every
/// `results.json` on each request; an entry is re-read when its files change.
#[derive(Debug, Default)]
pub struct ScanCache {
    entries: std::sync::Mutex<std::collections::BTreeMap<PathBuf, (Stamp, RunSummary)>>,
}

fn stamp_of(dir: &Path) -> Stamp {
    let one = |name: &str| {
        std::fs::metadata(dir.join(name)).ok().and_then(|m| Some((m.modified().ok()?, m.len())))
    };
    [one("test.json"), one("results.json"), one("report.html")]
}

/// [`scan`], reusing `cache` for runs whose files have not changed.
pub fn scan_cached(store: &Path, cache: &ScanCache) -> Vec<RunSummary> {
    let mut runs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    // A panic while holding the lock leaves a consistent map; keep using it.
    let mut entries = cache.entries.lock().unwrap_or_else(|e| e.into_inner());
    // `campaigns/` holds campaigns (each cell's run is a normal entry beside it).
    for test in subdirs(store).into_iter().filter(|t| t != "campaigns") {
        for time in subdirs(&store.join(&test)) {
            let dir = store.join(&test).join(&time);
            let stamp = stamp_of(&dir);
            let summary = match entries.get(&dir) {
                Some((s, r)) if *s == stamp => r.clone(),
                _ => {
                    let r = summary(&test, &time, &dir);
                    entries.insert(dir.clone(), (stamp, r.clone()));
                    r
                }
            };
            seen.insert(dir);
            runs.push(summary);
        }
    }
    entries.retain(|k, _| seen.contains(k));
    runs.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.test.cmp(&b.test)));
    runs
}

/// Whether `name` may be one path component in the store: no separators, no `.`/`..`, no
/// leading dot, not empty, printable.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name.chars().all(|c| !c.is_control())
}

/// Resolves a relative path from a URL inside `store`. `None` when it has `..`, an absolute
/// or hidden component, or when (after following links) it leaves the store.
pub fn resolve(store: &Path, rel: &str) -> Option<PathBuf> {
    let mut path = store.to_path_buf();
    for comp in Path::new(rel).components() {
        match comp {
            Component::Normal(c) => {
                let c = c.to_str()?;
                if !is_safe_component(c) {
                    return None;
                }
                path.push(c);
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let real = std::fs::canonicalize(&path).ok()?;
    let root = std::fs::canonicalize(store).ok()?;
    real.starts_with(&root).then_some(real)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::{CheckResult, Verdict};

    #[test]
    fn resolve_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir_all(store.join("t/20260101T000000.000Z")).unwrap();
        std::fs::write(store.join("t/20260101T000000.000Z/report.html"), "x").unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), store.join("t/leak")).unwrap();
        assert!(resolve(&store, "t/20260101T000000.000Z/report.html").is_some());
        for bad in ["../secret", "t/../../secret", "/etc/passwd", "t/leak", ".hidden", "t/./../.."]
        {
            assert_eq!(resolve(&store, bad), None, "{bad}");
        }
    }

    fn test_json() -> String {
        let s = faultline_api::RunSettings::parse_spec(
            "t",
            "workload = \"register\"\ntime-limit = 30\nseed = 7",
            false,
        )
        .unwrap();
        serde_json::to_string(&s.into_config().unwrap()).unwrap()
    }

    /// A check's results.json (the index reads runs' and checks' alike).
    fn results_json(verdict: Verdict) -> String {
        let check = CheckResult {
            verdict,
            model: "register".into(),
            keys: vec![],
            counts: Default::default(),
            micros: 1,
        };
        let r = crate::results::CheckRecord { verdict, source: "cli".into(), check };
        serde_json::to_string(&r).unwrap()
    }

    #[test]
    fn scan_reads_runs_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path();
        for (test, time, verdict) in [
            ("a", "20260101T000000.000Z", Verdict::Linearizable),
            ("b", "20260102T000000.000Z", Verdict::Illegal),
        ] {
            let d = s.join(test).join(time);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("test.json"), test_json()).unwrap();
            std::fs::write(d.join("results.json"), results_json(verdict)).unwrap();
        }
        std::os::unix::fs::symlink("20260101T000000.000Z", s.join("a/latest")).unwrap();
        let cache = ScanCache::default();
        let runs = scan_cached(s, &cache);
        assert_eq!(runs.len(), 2);
        // A changed results.json is read again.
        let d = s.join("a/20260101T000000.000Z");
        std::fs::write(d.join("results.json"), results_json(Verdict::Unknown)).unwrap();
        assert_eq!(scan_cached(s, &cache)[1].verdict, "unknown");
        std::fs::write(d.join("results.json"), results_json(Verdict::Linearizable)).unwrap();
        assert_eq!((runs[0].test.as_str(), runs[0].verdict.as_str()), ("b", "illegal"));
        assert_eq!(runs[1].faults, "partition,kill,figure8");
        assert_eq!(runs[1].duration, "30 s");
        assert_eq!(runs[1].workload, "register");
        assert_eq!(runs[1].seed, Some(7));
        assert_eq!(runs[1].started, "2026-01-01 00:00:00 UTC");
    }
}
