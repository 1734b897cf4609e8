//! `faultline bench`: measure and print figures (never asserted in tests).
//!
//! - `faultline bench checker` checks every file of Porcupine's test data (`--testdata`) several
//!   times and prints per-file medians and totals, in the groupings Porcupine was measured in
//!   (WGL alone), then the hot-key rows (`bench/hot.rs`): one key, high concurrency, decided by the
//!   polynomial checkers and by WGL under the same limits; then the small-domain rows
//!   (`bench/small.rs`): one register, values 1–5, many clients, decided by the certificates
//!   and the reduced search, and by plain WGL under the same limits; then the transactional
//!   rows (`bench/txn.rs`): list-append histories of 100,000 and 1,000,000 transactions.
//! - `faultline bench txn` prints the transactional rows alone (sizes by `--txns`).
//! - `faultline bench maelstrom` measures faultline as a Maelstrom node's network: messages
//!   routed per second, and what it adds to an echo node's requests (`bench/maelstrom.rs`).
//! - `faultline bench cluster` starts a real 3-node cluster of each system (faultline, etcd)
//!   with the same cluster control and clients as `faultline run`, drives the same load of
//!   puts, then gets, at a fixed client concurrency, and prints ops/s and p50/p99/max latency.
// A benchmark reads the wall clock by definition.
#![allow(clippy::disallowed_methods)]

mod cluster;
mod hot;
mod maelstrom;
mod small;
mod txn;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use faultline_checker::formats::{read_path, Format};
use faultline_checker::{check, CheckOptions, History, ModelSpec, Uniqueness, Verdict};

use crate::Exit;

/// Arguments of `faultline bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub what: BenchWhat,
}

/// What `faultline bench` measures.
#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// The checker on every file of Porcupine's test data (its `test_data/` folder, holding
    /// `jepsen/` and `kv/`), and on generated histories.
    Checker {
        /// Runs per file; the median is printed.
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// The test data folder (holding jepsen/ and kv/), e.g. a checkout of Porcupine's
        /// `test_data`.
        /// Without it, only the generated rows run.
        #[arg(long)]
        testdata: Option<PathBuf>,
        /// Time limit per check of the unpartitioned c50 files, in seconds.
        #[arg(long, default_value_t = 10.0)]
        hard_limit: f64,
    },
    /// Real clusters of faultline and etcd nodes under the same client load.
    Cluster(Box<cluster::ClusterBench>),
    /// The transactional (list-append) checker on generated histories.
    Txn(txn::TxnBench),
    /// faultline as a Maelstrom node's network: router throughput and an echo node's
    /// latency on its own pipes and through faultline.
    Maelstrom(maelstrom::MaelstromBench),
}

/// Runs `faultline bench`.
///
/// # Errors
/// Missing or unreadable test data; a cluster that cannot start.
pub fn run(args: BenchArgs) -> anyhow::Result<Exit> {
    match args.what {
        BenchWhat::Checker { runs, testdata, hard_limit } => {
            if let Some(dir) = &testdata {
                porcupine(runs.max(1), dir, hard_limit)?;
            } else {
                println!("Porcupine's test data: skipped (pass --testdata DIR to time it)\n");
            }
            hot::run()?;
            small::run()?;
            txn::run(&txn::TxnBench { txns: vec![100_000, 1_000_000], save: None })?;
            Ok(Exit::Pass)
        }
        BenchWhat::Cluster(args) => cluster::run(*args),
        BenchWhat::Maelstrom(args) => maelstrom::run(args),
        BenchWhat::Txn(args) => {
            txn::run(&args)?;
            Ok(Exit::Pass)
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median wall time of `runs` checks, and the verdict.
fn time_check(
    h: &History,
    model: &ModelSpec,
    opts: &CheckOptions,
    runs: usize,
) -> anyhow::Result<(Duration, Verdict)> {
    let mut times = Vec::with_capacity(runs);
    let mut verdict = Verdict::Unknown;
    for _ in 0..runs {
        let t = Instant::now();
        verdict = check(h, model, opts)?.verdict;
        times.push(t.elapsed());
    }
    Ok((median(times), verdict))
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn load(dir: &Path, file: &str) -> anyhow::Result<History> {
    let path = dir.join(file);
    read_path(&path, Format::Auto).with_context(|| format!("reading {}", path.display()))
}

fn porcupine(runs: usize, dir: &Path, hard_limit: f64) -> anyhow::Result<()> {
    anyhow::ensure!(
        dir.join("jepsen").is_dir(),
        "{} has no jepsen/ folder; pass --testdata <path to Porcupine's test_data folder>",
        dir.display()
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "faultline bench checker: median of {runs} runs per file, {threads} worker thread(s)\n"
    );
    let cas: ModelSpec = "cas-register".parse()?;
    // WGL alone, so these rows measure the search (the hot-key rows below measure the
    // polynomial checkers).
    let default = CheckOptions { unique_values: Uniqueness::Off, ..CheckOptions::default() };

    println!("jepsen/ (cas-register, 103 files)");
    let mut names: Vec<String> = std::fs::read_dir(dir.join("jepsen"))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    let mut total = Duration::ZERO;
    let mut rows = Vec::new();
    for n in &names {
        let h = load(dir, &format!("jepsen/{n}"))?;
        let (t, v) = time_check(&h, &cas, &default, runs)?;
        total += t;
        rows.push((t, n.clone(), v));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (t, n, v) in rows.iter().take(8) {
        println!("  {n:<16} {:>12}  {v:?}", ms(*t));
    }
    println!(
        "  ... {} more under {}",
        rows.len().saturating_sub(8),
        ms(rows.get(8).map_or(Duration::ZERO, |r| r.0))
    );
    println!("  TOTAL (sum of medians)  {:>12}\n", ms(total));

    println!("kv/ (kv model)");
    for f in ["c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad"] {
        let h = load(dir, &format!("kv/{f}.txt"))?;
        let (t, v) = time_check(&h, &ModelSpec::Kv, &default, runs)?;
        println!("  {f:<8} per key          {:>12}  {v:?}", ms(t));
        if f.starts_with("c01") || f.starts_with("c10") {
            let opts = CheckOptions { partition: false, ..default.clone() };
            let (t, v) = time_check(&h, &ModelSpec::Kv, &opts, runs)?;
            println!("  {f:<8} unpartitioned    {:>12}  {v:?}", ms(t));
        }
    }
    let h = load(dir, "kv/c50-bad.txt")?;
    let all = CheckOptions { all_keys: true, threads: 1, ..default.clone() };
    let t = Instant::now();
    let r = check(&h, &ModelSpec::Kv, &all)?;
    println!("\nkv/c50-bad, every key decided (--all-keys, one thread), {}:", ms(t.elapsed()));
    for k in &r.keys {
        println!(
            "  key {:<3} {:<12} {:>12}  {} configurations",
            k.key.as_deref().unwrap_or("-"),
            format!("{:?}", k.verdict),
            ms(Duration::from_micros(k.stats.micros)),
            k.stats.cached
        );
    }
    for f in ["c50-ok", "c50-bad"] {
        let h = load(dir, &format!("kv/{f}.txt"))?;
        let opts = CheckOptions {
            partition: false,
            time_limit: Some(Duration::from_secs_f64(hard_limit)),
            ..default.clone()
        };
        let t = Instant::now();
        let r = check(&h, &ModelSpec::Kv, &opts)?;
        println!(
            "  {f:<8} unpartitioned    {:>12}  {:?} (limit {hard_limit}s)",
            ms(t.elapsed()),
            r.verdict
        );
    }
    Ok(())
}
