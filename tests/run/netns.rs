//! The netns backend end to end (root; skipped with a printed reason otherwise): the correct
//! node passes each workload under every fault mixed — partitions by iptables DROP, kills,
//! pauses, clocks, packet loss — and the run leaves no namespace or rule behind.
//!
//! The full 60 s matrix (each workload × each fault, both backends) is `matrix::soak`.

use super::util::{self, run_faultline};

fn netns_run(workload: &str, seed: &str) {
    if util::skip_without_root() {
        return;
    }
    let _one = util::cluster_lock();
    let store = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let r = run_faultline(store.path(), &[
        "--backend", "netns", "--workload", workload,
        "--nemesis", "partition,kill,pause,clock,loss", "--nemesis-interval", "2",
        "--nodes", "3", "--time-limit", "16", "--keys", "4", "--seed", seed,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let history = util::history(&r.dir());
    let faults: std::collections::BTreeSet<&str> = history
        .nemesis
        .iter()
        .filter(|e| e.value["outcome"] == "installed")
        .map(|e| e.f.as_str())
        .collect();
    assert!(faults.len() >= 3, "too few kinds of fault installed: {faults:?}");
    let ok = history.ops.iter().filter(|o| o.outcome == faultline_checker::Outcome::Ok).count();
    assert!(ok > 100, "only {ok} ok operations: {r:?}");
    // Nothing left behind: this run's namespaces (fl<tag>-n<i>) and bridge (fl<tag>br).
    let log = std::fs::read_to_string(r.dir().join("faultline.log")).unwrap();
    let tag = log.split("tag=\"").nth(1).and_then(|t| t.split('"').next()).expect("tag in log");
    let ip = |args: &[&str]| {
        let out = std::process::Command::new("ip").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let prefix = format!("fl{tag}");
    assert!(!ip(&["netns", "list"]).contains(&format!("{prefix}-")), "namespaces left behind");
    assert!(!ip(&["link", "show"]).contains(&format!("{prefix}br")), "bridge left behind");
}

#[test]
fn register_under_every_fault_passes() {
    netns_run("register", "21");
}

#[test]
fn cas_register_under_every_fault_passes() {
    netns_run("cas-register", "22");
}

#[test]
fn kv_under_every_fault_passes() {
    netns_run("kv", "23");
}
