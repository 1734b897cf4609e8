//! Nothing is left behind on a panic or on Ctrl-C (a 1-member etcd keeps these fast).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use faultline_nemesis::{Backend, Cluster, ClusterSpec, SystemSpec};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::util::{etcd_binary, processes_mentioning};

fn spec(dir: &Path) -> Option<ClusterSpec> {
    let system = SystemSpec::Etcd { binary: etcd_binary()?, serializable_reads: false };
    Some(ClusterSpec::new(system, 1, Backend::Local, dir.to_path_buf(), 3))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_removes_every_process() {
    let dir = tempfile::tempdir().unwrap().keep();
    let Some(spec) = spec(&dir) else { return };
    let task = tokio::spawn(async move {
        let cluster = Cluster::start(spec).await.unwrap();
        assert!(cluster.pid("n1").is_some());
        panic!("boom while the cluster runs");
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new());
}

/// The child half of `ctrl_c_removes_every_process`; does nothing unless that test runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: run in a child process by ctrl_c_removes_every_process"]
async fn signal_child() {
    let Some(dir) = std::env::var_os("NEMESIS_SIGNAL_CHILD_DIR") else { return };
    let cluster = Cluster::start(spec(Path::new(&dir)).unwrap()).await.unwrap();
    cluster.spawn_signal_cleanup();
    println!("READY {}", cluster.pid("n1").unwrap());
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[test]
fn ctrl_c_removes_every_process() {
    let dir = tempfile::tempdir().unwrap().keep();
    if etcd_binary().is_none() {
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["cleanup::signal_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("NEMESIS_SIGNAL_CHILD_DIR", &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let node_pid: u32 = stdout
        .lines()
        .map_while(Result::ok)
        // libtest may print "test cleanup::signal_child ... " on the same line first.
        .find_map(|l| l.split_once("READY ").map(|(_, p)| p.trim().parse().unwrap()))
        .expect("child started its cluster");
    assert_eq!(processes_mentioning(&dir), vec![node_pid]);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exits 130 after cleaning up");
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new(), "etcd killed on Ctrl-C");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_start_sweeps_what_a_crashed_run_left() {
    let dir = tempfile::tempdir().unwrap().keep();
    let Some(spec2) = spec(&tempfile::tempdir().unwrap().keep()) else { return };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["cleanup::signal_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("NEMESIS_SIGNAL_CHILD_DIR", &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let orphan: u32 = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("READY ").map(|(_, p)| p.trim().parse().unwrap()))
        .expect("child started its cluster");
    // The controller crashes hard: no cleanup runs, its etcd member lives on.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(processes_mentioning(&dir), vec![orphan], "orphan outlives its controller");
    // The next run finds the dead controller's registry entry and kills the orphan.
    let cluster = Cluster::start(spec2).await.unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new(), "stale member swept");
    cluster.shutdown().await.unwrap();
}

/// The child half of `netns_without_root_is_refused_clearly`: prints the start error.
#[tokio::test(flavor = "current_thread")]
#[ignore = "helper: run as an unprivileged user by netns_without_root_is_refused_clearly"]
async fn not_root_child() {
    let Some(mut spec) = spec(Path::new("/tmp/faultline-nemesis-not-root")) else { return };
    spec.backend = Backend::Netns;
    match Cluster::start(spec).await {
        Ok(_) => println!("STARTED"),
        Err(e) => println!("ERROR {e}"),
    }
}

#[test]
fn netns_without_root_is_refused_clearly() {
    if etcd_binary().is_none() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if nix::unistd::geteuid().is_root() {
        // Drop to `nobody` for the child (util-linux setpriv).
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(["cleanup::not_root_child", "--exact", "--ignored", "--nocapture"]);
    let Ok(out) = cmd.env("FAULTLINE_NEMESIS_STATE", "/tmp/faultline-nemesis-nobody").output()
    else {
        eprintln!("skipping: setpriv not available");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ERROR the netns backend needs root"), "{text}");
}
