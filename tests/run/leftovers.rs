//! What runs may leave behind — node processes, network namespaces, links, registry files,
//! host iptables rules, power-loss (FUSE) mounts — and a `faultline run` started in the background to be interrupted.
// Waits on child processes in real time.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::util;

/// Non-zombie processes whose command line mentions `needle` (node data dirs are under the
/// run's store, so this finds a run's nodes).
pub fn processes_mentioning(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmd).contains(&needle) {
            found.push(pid);
        }
    }
    found
}

/// The nemesis registry (`$FAULTLINE_NEMESIS_STATE` or `<tmp>/faultline-nemesis-<uid>`).
pub use faultline_nemesis::state_dir;

/// Tags of the registry records whose controller is `pid`.
pub fn tags_of_controller(pid: u32) -> Vec<String> {
    let mut tags = Vec::new();
    for entry in std::fs::read_dir(state_dir()).into_iter().flatten().flatten() {
        let path = entry.path();
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        if v["controller_pid"].as_u64() == Some(u64::from(pid)) {
            if let Some(stem) = path.file_stem() {
                tags.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    tags
}

/// Every file called `name` under `dir` (not following links).
pub fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| n == name) {
                found.push(p);
            }
        }
    }
    found
}

/// Tags named in the `faultline.log`s under `store`.
pub fn tags_in_logs(store: &Path) -> Vec<String> {
    let mut tags = Vec::new();
    for p in files_named(store, "faultline.log") {
        let log = std::fs::read_to_string(&p).unwrap_or_default();
        for part in log.split("tag=\"").skip(1) {
            if let Some(t) = part.split('"').next() {
                tags.push(t.to_string());
            }
        }
    }
    tags.sort();
    tags.dedup();
    tags
}

fn command_lines(args: &[&str]) -> Vec<String> {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The host's iptables rules (filter and nat), without counters: runs must never change them.
pub fn host_rules() -> Vec<String> {
    command_lines(&["iptables-save"])
        .into_iter()
        .filter(|l| !l.starts_with('#') && !l.starts_with(':'))
        .collect()
}

/// Everything found that belongs to runs under `store` or to `tags`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Live processes mentioning the store.
    pub processes: Vec<u32>,
    /// Namespaces `fl<tag>-n<i>`.
    pub namespaces: Vec<String>,
    /// Links (bridge, veths) `fl<tag>…`.
    pub links: Vec<String>,
    /// Registry files `<tag>.json`.
    pub state_files: Vec<String>,
    /// Mounts under the store (power-loss disks).
    pub mounts: Vec<PathBuf>,
}

/// Every mount point under `store` (`/proc/self/mountinfo`).
pub fn mounts_under(store: &Path) -> Vec<PathBuf> {
    let store = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(&store))
        .collect()
}

impl Leftovers {
    /// Looks for what runs under `store` (with these `tags`) left.
    pub fn find(store: &Path, tags: &BTreeSet<String>) -> Leftovers {
        let prefixes: Vec<String> = tags.iter().map(|t| format!("fl{t}")).collect();
        let ours = |name: &str| prefixes.iter().any(|p| name.starts_with(p.as_str()));
        let namespaces = command_lines(&["ip", "netns", "list"])
            .into_iter()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .filter(|n| ours(n))
            .collect();
        let links = command_lines(&["ip", "-o", "link", "show"])
            .into_iter()
            .filter_map(|l| l.split(": ").nth(1).map(|n| n.split('@').next().unwrap().to_string()))
            .filter(|n| ours(n))
            .collect();
        let state_files = tags
            .iter()
            .map(|t| format!("{t}.json"))
            .filter(|f| state_dir().join(f).exists())
            .collect();
        Leftovers {
            processes: processes_mentioning(store),
            namespaces,
            links,
            state_files,
            mounts: mounts_under(store),
        }
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        *self == Leftovers::default()
    }

    /// Waits up to `patience` for nothing to be left (processes die a moment after their
    /// SIGKILL); returns what is still there.
    pub fn settle(store: &Path, tags: &BTreeSet<String>, patience: Duration) -> Leftovers {
        let until = Instant::now() + patience;
        loop {
            let l = Leftovers::find(store, tags);
            if l.is_empty() || Instant::now() >= until {
                return l;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A `faultline run` in the background, its stderr going to `<store>.stderr`.
pub struct Background {
    /// The child.
    pub child: Child,
    /// Its store.
    pub store: PathBuf,
    stderr: PathBuf,
}

impl Background {
    /// Starts `faultline run --system faultline --node-binary <built> <args> --store <store>
    /// --json` (with progress lines on stderr, a pipe).
    pub fn start(store: &Path, args: &[&str], env: &[(&str, &str)]) -> Background {
        std::fs::create_dir_all(store).unwrap();
        let stderr = store.with_extension("stderr");
        let err = std::fs::File::create(&stderr).unwrap();
        let child = Command::new(util::faultline())
            .arg("run")
            .args(["--system", "faultline", "--node-binary"])
            .arg(util::node_binary())
            .args(args)
            .arg("--store")
            .arg(store)
            .arg("--json")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("starting faultline run");
        Background { child, store: store.to_path_buf(), stderr }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until `n` node processes run and the history has operations (the workload is
    /// under way), at most `patience`.
    pub fn wait_for_workload(&mut self, n: usize, patience: Duration) {
        let until = Instant::now() + patience;
        loop {
            let nodes = processes_mentioning(&self.store).len();
            let history = history_lines(&self.store);
            if nodes >= n && history > 0 {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the run ended early ({status}):\n{}", self.stderr());
            }
            assert!(Instant::now() < until, "no workload after {patience:?}:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `sig`.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        nix::sys::signal::kill(pid, sig).unwrap();
    }

    /// Waits for the exit, at most `patience` (then kills it and fails); returns the status.
    pub fn wait(&mut self, patience: Duration) -> std::process::ExitStatus {
        let until = Instant::now() + patience;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                panic!("faultline run still going {patience:?} later:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Lines of every `history.jsonl` under `store` (0 while none exists).
pub fn history_lines(store: &Path) -> usize {
    files_named(store, "history.jsonl")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default().lines().count())
        .sum()
}
