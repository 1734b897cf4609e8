//! A short real campaign (5 s cells on 3-node faultline clusters, one `catch` cell with the
//! planted `stale-reads` bug): interrupted with SIGINT mid-way (nothing may be left running),
//! resumed to the end, then split into two shards and merged — the merge has the same cells
//! and outcomes as the resumed whole — and diffed against it.
// Waits on child processes in real time.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use faultline_store::campaign::{self, CampaignSummary, Expect, Outcome};

use crate::run::{leftovers, util};

fn campaign_file(dir: &Path, store: &Path) -> PathBuf {
    let path = dir.join("ci.toml");
    let text = format!(
        r#"name = "ci"
[defaults]
time-limit = 5
nemesis-interval = 1.5
nodes = 3
store = "{store}"
node-binary = "{node}"
[matrix]
workload = ["register", "kv"]
nemesis = ["partition"]
seed = [1, 2]
[[cell]]
workload = "register"
nemesis = "partition"
keys = 2
rate = 300
unsafe-bug = "stale-reads"
expect = "catch"
"#,
        store = store.display(),
        node = util::node_binary().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn campaign(args: &[&str]) -> Output {
    Command::new(util::faultline())
        .arg("campaign")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The campaign directory a run printed on stdout.
fn dir_of(o: &Output) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
}

fn outcomes(s: &CampaignSummary) -> Vec<(String, Outcome)> {
    s.cells.iter().map(|c| (c.id.clone(), c.outcome)).collect()
}

#[test]
fn interrupted_resumed_sharded_and_merged() {
    let _one = util::cluster_lock();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let file = campaign_file(tmp.path(), &store);
    let file = file.to_str().unwrap();
    let began = Instant::now();

    // 1. Interrupted once the first cell has a result.
    let mut child = Command::new(util::faultline())
        .args(["campaign", file, "--jobs", "2", "--no-progress"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let root = store.join("campaigns/ci");
    let until = Instant::now() + Duration::from_secs(90);
    let dir = loop {
        let dirs: Vec<PathBuf> =
            std::fs::read_dir(&root).into_iter().flatten().flatten().map(|e| e.path()).collect();
        if let Some(d) = dirs.first() {
            if campaign::read_summary(d).is_ok_and(|s| !s.cells.is_empty()) {
                break d.clone();
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "the campaign ended before a cell did");
        assert!(Instant::now() < until, "no cell finished in 90 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "an interrupted campaign exits 3:\n{}", text(&out));
    let left = leftovers::processes_mentioning(&store);
    assert!(left.is_empty(), "processes left after the interrupt: {left:?}");
    let partial = campaign::read_summary(&dir).unwrap();
    assert!(partial.cells.len() < 5, "interrupted mid-way: {}", partial.line());
    assert!(partial.errors.iter().any(|e| e.contains("interrupted")), "{:?}", partial.errors);

    // 2. Resumed: only the cells without a result run.
    let done_before = partial.cells.clone();
    let out = campaign(&["--resume", dir.to_str().unwrap(), "--jobs", "2", "--no-progress"]);
    let whole = campaign::read_summary(&dir).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", whole.line(), text(&out));
    assert_eq!(whole.cells.len(), 5, "{}", whole.line());
    for c in &done_before {
        assert!(whole.cells.contains(c), "{} was run again", c.id);
    }
    let catch = whole.cells.iter().find(|c| c.expect == Expect::Catch).unwrap();
    assert_eq!(catch.outcome, Outcome::Pass, "the planted bug is caught: {catch:?}");
    assert!(catch.anomaly.is_some());
    for f in [campaign::JUNIT_FILE, campaign::HTML_FILE] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let html = std::fs::read_to_string(dir.join(campaign::HTML_FILE)).unwrap();
    let link = html.split("href=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
    // minijinja escapes `/` in attributes (browsers read it back as `/`).
    let link = link.replace("&#x2f;", "/");
    assert!(dir.join(&link).is_file(), "the grid links to a report: {link}");

    // 3. Two shards, merged: the same cells with the same outcomes.
    let mut shard_dirs = Vec::new();
    for i in 1..=2 {
        let out = campaign(&[file, "--shard", &format!("{i}/2"), "--jobs", "2", "--no-progress"]);
        assert_eq!(out.status.code(), Some(0), "shard {i}/2:\n{}", text(&out));
        shard_dirs.push(dir_of(&out));
    }
    let mut args = vec!["merge"];
    args.extend(shard_dirs.iter().map(|d| d.to_str().unwrap()));
    let out = campaign(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let merged = campaign::read_summary(&dir_of(&out)).unwrap();
    assert_eq!(outcomes(&merged), outcomes(&whole));
    let diff = campaign(&["diff", dir.to_str().unwrap(), dir_of(&out).to_str().unwrap()]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff));
    assert!(leftovers::processes_mentioning(&store).is_empty());
    eprintln!(
        "interrupt, resume, 2 shards and a merge took {:.0} s",
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn bad_campaign_files_exit_3_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("name = \"x\"\n[defaults]\ncolour = 1\n", "field `colour`: unknown field"),
        ("name = \"x\"\n[matrix]\nnodes = [3, 12]\n", "field `nodes`: 12 is not in 1..=9"),
        ("name = \"x\"\n", "no cells selected"),
    ] {
        let path = tmp.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(util::faultline())
            .current_dir(tmp.path())
            .args(["campaign", "--no-progress"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{text}: {}", self::text(&out));
        assert!(self::text(&out).contains(needle), "{text}: {}", self::text(&out));
    }
}
