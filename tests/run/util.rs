//! Helpers: find or build the binaries, run `faultline run`, read what it stored.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

use serde_json::Value;

/// The `faultline` binary under test.
pub fn faultline() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_faultline"))
}

/// One cluster at a time: the machine is small and timing matters to the faults.
pub fn cluster_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// `faultline-node` next to `faultline`, building it (same profile and target dir) when it
/// is missing: `cargo test -p faultline` does not build other packages' binaries.
pub fn node_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = faultline();
            let dir = exe.parent().unwrap();
            let node = dir.join("faultline-node");
            if node.is_file() {
                return node;
            }
            let release = dir.file_name().is_some_and(|n| n == "release");
            let target = dir.parent().unwrap();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-p", "faultline-node", "--bin", "faultline-node"]);
            if release {
                cmd.arg("--release");
            }
            cmd.env("CARGO_TARGET_DIR", target);
            eprintln!("building faultline-node: {cmd:?}");
            let status = cmd.status().expect("running cargo");
            assert!(status.success(), "cargo build -p faultline-node failed");
            assert!(node.is_file(), "{} still missing after the build", node.display());
            node
        })
        .clone()
}

/// Whether etcd is installed; prints why a test is skipped when not.
pub fn etcd_available() -> bool {
    let ok = Path::new("/usr/bin/etcd").is_file();
    if !ok {
        eprintln!("skipping: /usr/bin/etcd not found (apt-get install -y etcd-server)");
    }
    ok
}

/// Whether FUSE can be mounted here (the power-loss fault); prints why not.
pub fn fuse_available() -> bool {
    match faultline_api::fuse::unavailable() {
        Some(why) => {
            eprintln!("skipping: {why}");
            false
        }
        None => true,
    }
}

/// The result of one `faultline run`.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// stdout (the summary or the JSON object).
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

impl Run {
    /// The `--json` object printed on stdout.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The run's directory in the store (from `--json` output).
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.json()["dir"].as_str().expect("dir"))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `faultline run <args> --store <store> --json --no-progress`.
pub fn run(store: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(faultline())
        .arg("run")
        .args(args)
        .arg("--store")
        .arg(store)
        .args(["--json", "--no-progress"])
        .output()
        .expect("running faultline");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs faultline nodes: adds `--system faultline --node-binary <built>`.
pub fn run_faultline(store: &Path, args: &[&str]) -> Run {
    let node = node_binary();
    let node = node.to_str().unwrap();
    let mut all = vec!["--system", "faultline", "--node-binary", node];
    all.extend_from_slice(args);
    run(store, &all)
}

/// Asserts the store layout of docs/history-format.md for a finished run and returns its `results.json`.
pub fn assert_layout(store: &Path, dir: &Path, nodes: usize) -> Value {
    for f in ["test.json", "history.jsonl", "results.json", "report.html", "faultline.log"] {
        let p = dir.join(f);
        assert!(p.is_file() && p.metadata().unwrap().len() > 0, "{} missing or empty", p.display());
    }
    for n in 1..=nodes {
        let log = dir.join(format!("nodes/n{n}/node.log"));
        assert!(log.is_file(), "{} missing", log.display());
    }
    let test_dir = dir.parent().unwrap();
    let canon = |p: PathBuf| std::fs::canonicalize(p).unwrap();
    assert_eq!(canon(test_dir.join("latest")), canon(dir.to_path_buf()));
    assert_eq!(canon(store.join("latest")), canon(dir.to_path_buf()));
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Reads the run's history with the checker's reader.
pub fn history(dir: &Path) -> faultline_checker::History {
    faultline_checker::formats::jsonl::read_path(&dir.join("history.jsonl")).expect("history")
}

/// Whether a netns test must skip (not root), saying why on stderr.
pub fn skip_without_root() -> bool {
    let skip = !is_root();
    if skip {
        eprintln!("skipping: the netns backend needs root (network namespaces, iptables)");
    }
    skip
}

/// Whether this process runs as root (the netns backend needs it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
