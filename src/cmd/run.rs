//! `faultline run`: start a cluster, run a workload under faults, record and check the
//! history, store everything (see [`crate::runner`]).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use faultline_workloads::{SystemKind, WorkloadKind};

use crate::runner::{self, RunConfig, RunOptions, Settings};
use crate::Exit;

/// Arguments of `faultline run`. Every setting can also come from `--test spec.toml` (same
/// names, e.g. `time-limit = 60`) or `--replay test.json`; flags given here win.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The system under test [default: faultline].
    #[arg(long, value_name = "faultline|etcd")]
    pub system: Option<SystemKind>,
    /// The workload and checker model [default: kv].
    #[arg(long, value_name = "register|cas-register|kv")]
    pub workload: Option<WorkloadKind>,
    /// Faults to mix, comma-separated: partition, kill, pause, clock, loss, figure8, or none
    /// [default: partition,kill].
    #[arg(long, value_name = "LIST")]
    pub nemesis: Option<String>,
    /// Seconds of each calm period and each fault period [default: 5].
    #[arg(long, value_name = "S")]
    pub nemesis_interval: Option<f64>,
    /// Cluster size [default: 3].
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Seconds of workload [default: 20].
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// Concurrent client workers [default: 10].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Target operations per second, all workers together; 0 = unlimited [default: 200].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Keys in use at once [default: 8].
    #[arg(long)]
    pub keys: Option<usize>,
    /// Operations per key before moving to a fresh key; 0 = never [default: 200].
    #[arg(long, value_name = "N")]
    pub ops_per_key: Option<u64>,
    /// Operation mix, e.g. `read=2,write=1,cas=2` [default: the workload's].
    #[arg(long)]
    pub mix: Option<String>,
    /// Seed of the operations, the fault schedule and the nodes [default: random, recorded].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Network backend: local (no root, TCP proxies) or netns (root, iptables) [default: local].
    #[arg(long, value_name = "local|netns")]
    pub backend: Option<String>,
    /// Store directory [default: store].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// TEST ONLY: plant a known bug in every faultline node (stale-reads, no-dedup,
    /// commit-old-term, ack-before-fsync, lease-skew) to prove the harness catches it.
    #[arg(long, value_name = "NAME")]
    pub unsafe_bug: Option<String>,
    /// etcd: serializable reads (may be stale; a known-unsafe mode a partition run catches).
    #[arg(long)]
    pub etcd_serializable_reads: bool,
    /// faultline: how nodes serve reads (read-index, log, lease).
    #[arg(long, value_name = "MODE")]
    pub read_mode: Option<String>,
    /// A spec file (TOML) with any of these settings.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub test: Option<PathBuf>,
    /// Repeat a run: its store's test.json (seed included).
    #[arg(long, value_name = "TEST_JSON")]
    pub replay: Option<PathBuf>,
    /// Print one JSON result object on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// The test's name in the store (default: `<system>-<workload>-<faults>`).
    #[arg(long)]
    pub name: Option<String>,
    /// The faultline-node binary [default: next to this executable].
    #[arg(long, value_name = "PATH")]
    pub node_binary: Option<PathBuf>,
    /// The etcd binary [default: /usr/bin/etcd].
    #[arg(long, value_name = "PATH")]
    pub etcd_binary: Option<PathBuf>,
    /// An extra argument for every faultline node (repeatable), e.g. `--node-arg=--tick-ms=5`.
    #[arg(long = "node-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub node_args: Vec<String>,
    /// Milliseconds before one client request times out [default: 1500].
    #[arg(long, value_name = "MS")]
    pub request_timeout_ms: Option<u64>,
    /// Milliseconds before one operation, retries included, gives up [default: 5000].
    #[arg(long, value_name = "MS")]
    pub op_timeout_ms: Option<u64>,
    /// Seconds to wait after healing for the cluster to elect a leader [default: 20].
    #[arg(long, value_name = "S")]
    pub recovery_time: Option<f64>,
    /// Seconds the final reads of every key may take [default: 30].
    #[arg(long, value_name = "S")]
    pub final_read_timeout: Option<f64>,
    /// Seconds the checker may take before answering unknown [default: 120].
    #[arg(long, value_name = "S")]
    pub check_time_limit: Option<f64>,
    /// Do not draw the progress line.
    #[arg(long)]
    pub no_progress: bool,
}

impl RunArgs {
    /// The settings given as flags.
    pub fn settings(&self) -> Settings {
        Settings {
            name: self.name.clone(),
            system: self.system,
            workload: self.workload,
            nemesis: self.nemesis.clone(),
            nemesis_interval: self.nemesis_interval,
            nodes: self.nodes,
            time_limit: self.time_limit,
            concurrency: self.concurrency,
            rate: self.rate,
            keys: self.keys,
            ops_per_key: self.ops_per_key,
            mix: self.mix.clone(),
            seed: self.seed,
            backend: self.backend.clone(),
            store: self.store.clone(),
            unsafe_bug: self.unsafe_bug.clone(),
            etcd_serializable_reads: self.etcd_serializable_reads.then_some(true),
            read_mode: self.read_mode.clone(),
            node_binary: self.node_binary.clone(),
            etcd_binary: self.etcd_binary.clone(),
            node_args: (!self.node_args.is_empty()).then(|| self.node_args.clone()),
            request_timeout_ms: self.request_timeout_ms,
            op_timeout_ms: self.op_timeout_ms,
            recovery_time: self.recovery_time,
            final_read_timeout: self.final_read_timeout,
            check_time_limit: self.check_time_limit,
        }
    }

    /// Resolves flags over the spec file (or replayed test.json) over the defaults.
    ///
    /// # Errors
    /// A bad file or flag, naming the file (or `command line`) and the field.
    pub fn resolve(&self) -> anyhow::Result<RunConfig> {
        let flags = self.settings();
        flags.check("command line")?;
        let base = match self.test.as_ref().or(self.replay.as_ref()) {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        Ok(RunConfig::resolve(flags.or(base))?)
    }
}

/// Runs `faultline run`: exit 0 passed, 1 anomaly, 2 unknown; harness errors are returned
/// (exit 3).
///
/// # Errors
/// Bad settings, a missing binary, a cluster that cannot start, Ctrl-C.
pub fn run(args: RunArgs) -> anyhow::Result<Exit> {
    let cfg = args.resolve()?;
    let terminal = std::io::stderr().is_terminal();
    let opts = RunOptions {
        progress: !args.no_progress && terminal,
        progress_lines: !args.no_progress && !terminal,
    };
    let results = runner::execute(&cfg, opts)?;
    let summary = runner::results::summary(&results);
    if args.json {
        eprintln!("{summary}");
        println!("{}", serde_json::to_string(&results)?);
    } else {
        println!("{summary}");
    }
    Ok(match results.exit_code {
        0 => Exit::Pass,
        1 => Exit::Anomaly,
        _ => Exit::Unknown,
    })
}
