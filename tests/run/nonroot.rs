//! An ordinary user on a machine where root ran faultline before: the registry is per user,
//! so the default run works, and a registry directory the user cannot write to is reported
//! as the permission problem it is (exit 3, naming the path).
// Waits on child processes.
#![allow(clippy::disallowed_methods)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use super::util;

/// Copies `faultline` and `faultline-node` into `dir` (readable by everyone: the checkout
/// may sit under a private home directory).
fn public_binaries(dir: &Path) -> std::path::PathBuf {
    for (from, name) in [(util::faultline(), "faultline"), (util::node_binary(), "faultline-node")]
    {
        let to = dir.join(name);
        std::fs::copy(&from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.join("faultline")
}

fn world_writable(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
}

/// Runs `faultline run ARGS` as the user `nobody`.
fn run_as_nobody(exe: &Path, store: &Path, env: &[(&str, &Path)], args: &[&str]) -> util::Run {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", "nobody", "--"]).arg(exe).arg("run").args(args).arg("--store").arg(store);
    cmd.args(["--json", "--no-progress"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runuser");
    util::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn an_ordinary_user_runs_after_root() {
    if !util::is_root() {
        eprintln!("skipping: needs root, to make root's registry and then run as `nobody`");
        return;
    }
    if Command::new("runuser").arg("--help").output().is_err() {
        eprintln!("skipping: no `runuser` (util-linux) to run as `nobody`");
        return;
    }
    let _lock = util::cluster_lock();
    // Root has used faultline here: its registry directory exists.
    std::fs::create_dir_all(faultline_nemesis::state_dir()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    world_writable(tmp.path());
    let exe = public_binaries(tmp.path());
    let store = tmp.path().join("store");
    world_writable(&store);
    let r = run_as_nobody(
        &exe,
        &store,
        &[],
        &["--time-limit", "3", "--nemesis", "partition", "--nemesis-interval", "1"],
    );
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);

    // A registry directory nobody may write to: exit 3, and the message says so.
    let locked = tmp.path().join("roots-registry");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = [("FAULTLINE_NEMESIS_STATE", locked.as_path())];
    let r = run_as_nobody(&exe, &store, &env, &["--time-limit", "3"]);
    assert_eq!(r.code, 3, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("ermission denied") && r.stderr.contains("roots-registry"),
        "{}",
        r.stderr
    );
}
