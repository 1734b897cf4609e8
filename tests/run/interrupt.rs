//! Interrupted runs leave nothing behind: SIGTERM and SIGHUP end a run exactly as SIGINT
//! does (exit 3, cluster removed, history kept), on both backends; the watchdog ends a run
//! past its budget (exit 2, cluster removed); and random interruptions — SIGINT, SIGTERM,
//! SIGHUP or SIGKILL at any point, with power losses among the faults where FUSE is there —
//! followed by one normal run (which sweeps what SIGKILL left) leave no process, namespace,
//! link, registry file, host rule or mount.
//!
//! ```text
//! cargo test --release --test integration run::interrupt::soak -- --ignored --nocapture
//! ```
//! `FAULTLINE_INTERRUPT_RUNS` (default 50) and `FAULTLINE_INTERRUPT_SEED` (default 1) set the
//! soak's size and its choice of signals, times and backends.
// Sleeps and waits in real time against real processes.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::leftovers::{self, Background, Leftovers};
use super::util;

/// A run long enough to be interrupted mid-workload.
const LONG: [&str; 8] = [
    "--time-limit",
    "60",
    "--nemesis",
    "partition,kill,pause",
    "--nemesis-interval",
    "1",
    "--nodes",
    "3",
];

/// Starts a long run, waits for its workload, sends `sig`; asserts exit 3, the message, the
/// history kept, and nothing left behind.
fn interrupt_mid_workload(root: &Path, backend: &str, sig: Signal) {
    let store = root.join(format!("{backend}-{sig}"));
    let mut args = LONG.to_vec();
    args.extend(["--backend", backend]);
    let mut run = Background::start(&store, &args, &[]);
    run.wait_for_workload(3, Duration::from_secs(60));
    let pid = run.pid();
    let mut tags: BTreeSet<String> = leftovers::tags_of_controller(pid).into_iter().collect();
    assert!(!tags.is_empty(), "the run registered its cluster");
    run.signal(sig);
    let status = run.wait(Duration::from_secs(60));
    let stderr = run.stderr();
    assert_eq!(status.code(), Some(3), "{sig}: {status}\n{stderr}");
    assert!(stderr.contains(&format!("interrupted ({sig})")), "{stderr}");
    assert!(stderr.contains("the cluster was torn down"), "{stderr}");
    assert!(leftovers::history_lines(&store) > 0, "the history so far is kept");
    tags.extend(leftovers::tags_in_logs(&store));
    // No sweep ran since: whatever is gone, the run removed itself.
    let left = Leftovers::find(&store, &tags);
    assert!(left.is_empty(), "{sig} on {backend} left {left:?}\n{stderr}");
}

#[test]
fn sigterm_and_sighup_remove_the_cluster_like_sigint() {
    let _one = util::cluster_lock();
    let root = tempfile::tempdir().unwrap();
    for sig in [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGINT] {
        interrupt_mid_workload(root.path(), "local", sig);
    }
}

#[test]
fn sigterm_on_netns_removes_namespaces_and_bridge() {
    if util::skip_without_root() {
        return;
    }
    let _one = util::cluster_lock();
    let root = tempfile::tempdir().unwrap();
    let rules = leftovers::host_rules();
    interrupt_mid_workload(root.path(), "netns", Signal::SIGTERM);
    interrupt_mid_workload(root.path(), "netns", Signal::SIGHUP);
    assert_eq!(leftovers::host_rules(), rules, "the host's iptables rules are unchanged");
}

#[test]
fn the_watchdog_ends_a_run_past_its_budget() {
    let _one = util::cluster_lock();
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("watchdog");
    // A 60 s run under a 6 s budget: only the watchdog can end it before its time limit.
    let mut run = Background::start(&store, &LONG, &[("FAULTLINE_WATCHDOG_SECS", "6")]);
    let status = run.wait(Duration::from_secs(50));
    let stderr = run.stderr();
    assert_eq!(status.code(), Some(2), "{status}\n{stderr}");
    assert!(stderr.contains("watchdog: the run is still going 6 s after it started"), "{stderr}");
    let tags: BTreeSet<String> = leftovers::tags_in_logs(&store).into_iter().collect();
    assert!(!tags.is_empty(), "the cluster had started");
    let left = Leftovers::find(&store, &tags);
    assert!(left.is_empty(), "the watchdog left {left:?}");
    let log = std::fs::read_to_string(leftovers_log(&store)).unwrap();
    assert!(log.contains("watchdog"), "faultline.log says why the run ended");
}

fn leftovers_log(store: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(store.join("latest")).unwrap().join("faultline.log")
}

/// What a soak saw.
#[derive(Default, Debug)]
struct Tally {
    /// (backend, signal) -> runs interrupted.
    signals: BTreeMap<(String, String), usize>,
    /// Runs that had finished before their signal came.
    finished_first: usize,
    /// Runs whose signal came before the cluster existed.
    before_cluster: usize,
    /// Node processes a SIGKILLed run left (until the next run swept them).
    orphans_after_sigkill: usize,
    /// Namespaces a SIGKILLed run left (idem).
    namespaces_after_sigkill: usize,
    /// Power-loss disks (FUSE mounts) a SIGKILLed run left (idem).
    mounts_after_sigkill: usize,
}

/// Runs of 5 s (partitions, kills, pauses and power losses), each interrupted at a random
/// point in the first `window` (a run takes ~6 s: start, workload, faults, heal, final
/// reads, check) by a signal (at random, or each in turn
/// when `cycle`) on a random backend, until `runs` were interrupted (a run that finished
/// before its signal does not count); then one normal run per backend; asserts nothing is
/// left.
fn interrupted_runs(runs: usize, seed: u64, window: Duration, cycle: bool) -> Tally {
    let _one = util::cluster_lock();
    let root = tempfile::tempdir().unwrap();
    let backends: Vec<&str> = if util::is_root() {
        vec!["local", "netns"]
    } else {
        eprintln!("netns skipped: needs root");
        vec!["local"]
    };
    let rules = util::is_root().then(leftovers::host_rules);
    let signals = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGKILL];
    // Power losses too where FUSE is there: their disks must be unmounted on every path.
    let faults = if util::fuse_available() {
        "partition,kill,pause,power-loss"
    } else {
        "partition,kill,pause"
    };
    // Seeded, so that a soak can be repeated.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let mut tags = BTreeSet::new();
    let mut i = 0;
    while tally.signals.values().sum::<usize>() < runs {
        i += 1;
        assert!(i <= 2 * runs + 10, "most runs finished before their signal: {tally:?}");
        let backend = backends[rng.random_range(0..backends.len())];
        let pick = if cycle { i } else { rng.random_range(0..signals.len()) };
        let sig = signals[pick % signals.len()];
        let after = Duration::from_millis(rng.random_range(0..window.as_millis() as u64));
        let store = root.path().join(format!("run-{i}"));
        #[rustfmt::skip]
        let mut run = Background::start(&store, &[
            "--backend", backend, "--time-limit", "5", "--nemesis", faults,
            "--nemesis-interval", "1", "--nodes", "3", "--final-read-timeout", "5",
            "--seed", &i.to_string(),
        ], &[]);
        std::thread::sleep(after);
        let pid = run.pid();
        let own: BTreeSet<String> = leftovers::tags_of_controller(pid).into_iter().collect();
        if let Some(status) = run.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "run {i} ended by itself:\n{}", run.stderr());
            tags.extend(leftovers::tags_in_logs(&store));
            println!(
                "run {i:2}: {backend:5} finished before its {sig} at {} ms",
                after.as_millis()
            );
            tally.finished_first += 1;
            continue;
        }
        run.signal(sig);
        let status = run.wait(Duration::from_secs(60));
        let stderr = run.stderr();
        let mut own = own;
        // A record still there after the exit is a leftover: count its tag too.
        own.extend(leftovers::tags_of_controller(pid));
        own.extend(leftovers::tags_in_logs(&store));
        tags.extend(own.iter().cloned());
        *tally.signals.entry((backend.to_string(), sig.to_string())).or_default() += 1;
        if own.is_empty() {
            tally.before_cluster += 1;
        }
        println!(
            "run {i:2}: {backend:5} {sig:7} at {:5} ms -> {status} {}",
            after.as_millis(),
            stderr.lines().rev().find(|l| l.starts_with("error:")).unwrap_or("")
        );
        if sig == Signal::SIGKILL {
            let left = Leftovers::find(&store, &own);
            tally.orphans_after_sigkill += left.processes.len();
            tally.namespaces_after_sigkill += left.namespaces.len();
            tally.mounts_after_sigkill += left.mounts.len();
            continue;
        }
        // Handled signals: exit 3 when the run was stopped, 0 if it had just finished, or
        // death by the signal itself when it came before the handlers (nothing existed).
        let code = status.code();
        assert!(
            code == Some(3) || code == Some(0) || (own.is_empty() && code.is_none()),
            "run {i}: {sig} gave {status}:\n{stderr}"
        );
        let left = Leftovers::settle(&store, &own, Duration::from_secs(2));
        assert!(left.is_empty(), "run {i}: {sig} on {backend} left {left:?}\n{stderr}");
    }
    // One normal run per backend: it sweeps whatever the SIGKILLed runs left.
    for backend in &backends {
        let store = root.path().join(format!("final-{backend}"));
        let mut run = Background::start(
            &store,
            &[
                "--backend",
                backend,
                "--time-limit",
                "3",
                "--nemesis",
                "partition",
                "--nemesis-interval",
                "1",
            ],
            &[],
        );
        let status = run.wait(Duration::from_secs(120));
        assert_eq!(status.code(), Some(0), "{}", run.stderr());
        tags.extend(leftovers::tags_in_logs(&store));
    }
    let left = Leftovers::settle(root.path(), &tags, Duration::from_secs(2));
    assert!(left.is_empty(), "after {runs} interrupted runs and the sweep: {left:?}");
    if let Some(rules) = rules {
        assert_eq!(leftovers::host_rules(), rules, "the host's iptables rules are unchanged");
    }
    println!("{tally:#?}\nleft after the final runs: {left:?} ({} run tags checked)", tags.len());
    tally
}

#[test]
fn a_few_random_interruptions_leave_nothing() {
    // Inside the workload (~1–5 s), so that every run is interrupted.
    let tally = interrupted_runs(5, 7, Duration::from_millis(4_500), true);
    assert_eq!(tally.signals.values().sum::<usize>(), 5, "{tally:?}");
}

#[test]
#[ignore = "minutes: run with --ignored --nocapture"]
fn soak() {
    let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let runs = env("FAULTLINE_INTERRUPT_RUNS", 50) as usize;
    let window = Duration::from_millis(6_500);
    interrupted_runs(runs, env("FAULTLINE_INTERRUPT_SEED", 1), window, false);
}
