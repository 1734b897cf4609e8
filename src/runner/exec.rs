//! Carrying out one run: cluster up, workload under faults, heal, final reads, cluster down,
//! check, store.
//!
//! ```text
//!  RunConfig ─▶ store dir + test.json ─▶ runtime (faultline.log) ─▶ Cluster::start
//!    ─▶ join(workers until time limit, nemesis schedule) ─▶ heal_all ─▶ wait_ready
//!    ─▶ final reads ─▶ close history ─▶ Cluster::shutdown ─▶ check ─▶ results.json, report.html
//!  SIGINT, SIGTERM or SIGHUP at any point: the cluster is torn down at once (processes,
//!  proxies, namespaces) and the history written so far is kept; exit 3. A panic tears it
//!  down too (Cluster's Drop). A run past its watchdog budget is torn down and exits 2.
//! ```
// The orchestration of a real run reads real clocks and waits in real time.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use faultline_checker::{formats, CheckOptions, History, ModelSpec, Verdict};
use faultline_nemesis::{shards, Cluster, ClusterSpec, FaultEvent, Nemesis, NemesisConfig};
use faultline_workloads::{
    ClientConfig, Clients, Endpoint, FinalReads, Generator, Recorder, SystemKind, WorkloadRun,
};
use indicatif::ProgressBar;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::config::RunConfig;
use super::coverage::Tracker;
use super::progress::{self, ActiveFaults};
use super::results::{self, RunResults, RunStats};
use super::signals::Interrupts;
use super::watchdog::{self, Watchdog};
use crate::Exit;
use faultline_store::layout::RunDir;
use faultline_store::results::{Anomaly, Coverage, ShardSettle};

/// How to present a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Draw the progress line on stderr (when it is a terminal).
    pub progress: bool,
    /// Print progress on stderr every 5 s instead, as text (when stderr is a pipe, e.g. CI
    /// logs) or JSON (`--progress-json`, which `faultline serve` streams as events).
    pub progress_lines: progress::Lines,
    /// `--watchdog-secs`: replaces the watchdog's computed budget.
    pub watchdog_cap: Option<Duration>,
}

/// What the workload phase measured.
struct Phase {
    workload_secs: f64,
    recovered: bool,
    final_reads: FinalReads,
    keys: usize,
    history_secs: f64,
    coverage: Coverage,
    shards: Option<ShardSettle>,
    network: Option<faultline_api::maelstrom::NetworkStats>,
}

/// Seconds as a duration, at most ~31 years (so that `Instant + secs` cannot overflow) and
/// zero for nonsense; the settings' range checks keep real values far inside.
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.min(1e9)).unwrap_or(Duration::ZERO)
}

/// Checks that the binaries a run needs exist, before anything is created.
///
/// # Errors
/// A missing binary, with how to get it.
pub fn check_binaries(cfg: &RunConfig) -> anyhow::Result<()> {
    match cfg.system {
        SystemKind::Faultline | SystemKind::Sharded if !cfg.node_binary.is_file() => bail!(
            "faultline-node not found at {}; run `cargo build --release --workspace` (it is built next to \
             `faultline`) or pass --node-binary",
            cfg.node_binary.display()
        ),
        SystemKind::Etcd if !cfg.etcd_binary.is_file() => bail!(
            "etcd not found at {}; install it with `apt-get install -y etcd-server` or pass \
             --etcd-binary",
            cfg.etcd_binary.display()
        ),
        SystemKind::Maelstrom => {
            let spec = system_spec(cfg);
            let program = spec.binary();
            if !program.is_file() {
                bail!(
                    "the Maelstrom node's program {} is neither a file nor on PATH (--node-cmd {:?})",
                    program.display(),
                    cfg.node_cmd.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Runs `cfg` to the end: the store gets every file of docs/history-format.md.
///
/// # Errors
/// Harness failures (exit 3): a missing binary, a cluster that does not start, a nemesis
/// action that cannot be carried out, an unreadable history, Ctrl-C.
pub fn execute(cfg: &RunConfig, opts: RunOptions) -> anyhow::Result<RunResults> {
    check_binaries(cfg)?;
    let dir = RunDir::create(&cfg.store, &cfg.test_name(), std::time::SystemTime::now())
        .with_context(|| format!("creating the run's directory under {}", cfg.store.display()))?;
    let test_json = serde_json::to_string_pretty(cfg)?;
    std::fs::write(dir.path.join("test.json"), test_json + "\n").context("writing test.json")?;
    let pb = progress::bar(opts.progress);
    let dispatch = super::logging::dispatch(&dir.path.join("faultline.log"), pb.clone())
        .context("creating faultline.log")?;
    let thread_dispatch = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || {
            // Every runtime thread logs to this run's faultline.log for its whole life; the
            // guard is leaked on purpose (the thread's default lives as long as the thread).
            std::mem::forget(tracing::dispatcher::set_default(&thread_dispatch));
        })
        .build()
        .context("starting the async runtime")?;
    let mut spec = ClusterSpec::new(
        system_spec(cfg),
        cfg.cluster_nodes(),
        cfg.backend,
        dir.path.clone(),
        cfg.seed,
    );
    if let Some(path) = &cfg.hosts {
        spec.hosts = Some(faultline_nemesis::hosts::HostsFile::load(path)?);
    }
    // Only a run that asks for power loss puts its nodes' data on FUSE disks.
    spec.power_loss = cfg.nemesis.iter().any(|f| f == faultline_api::Fault::PowerLoss);
    let budget = watchdog::budget(cfg, spec.ready_timeout, opts.watchdog_cap);
    let watchdog =
        Watchdog::start(budget, dispatch.clone()).context("starting the watchdog thread")?;
    let result = tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(name = %cfg.test_name(), seed = cfg.seed, dir = %dir.path.display(),
                       watchdog_secs = budget.as_secs_f64(), "run starts");
        rt.block_on(run(cfg, spec, &dir, &watchdog, pb.clone(), opts.progress_lines))
    });
    pb.finish_and_clear();
    rt.shutdown_timeout(Duration::from_secs(2));
    drop(watchdog);
    if let Err(e) = &result {
        tracing::dispatcher::with_default(&dispatch, || tracing::error!("run failed: {e:#}"));
    }
    result.map_err(|e| e.context(format!("run directory: {}", dir.path.display())))
}

async fn run(
    cfg: &RunConfig,
    spec: ClusterSpec,
    dir: &RunDir,
    watchdog: &Watchdog,
    pb: ProgressBar,
    lines: progress::Lines,
) -> anyhow::Result<RunResults> {
    // First of all: from here on SIGINT, SIGTERM and SIGHUP no longer end the process.
    let mut signals = Interrupts::register().context("installing the signal handlers")?;
    let began = Instant::now();
    pb.set_message(format!("starting {} {} nodes ({})", cfg.nodes, cfg.system, cfg.backend));
    // Dropping a half-started cluster removes what it made (its guard's Drop).
    let cluster = tokio::select! {
        r = Cluster::start(spec) => r.context("starting the cluster")?,
        s = signals.recv() => bail!("interrupted ({s}) while starting the cluster; \
                                     what was started is removed"),
    };
    let cleanup = cluster.cleanup_handle();
    watchdog.arm(cleanup.clone());
    if cfg.system == SystemKind::Sharded {
        tokio::select! {
            r = join_groups(&cluster) => r?,
            s = signals.recv() => bail!("interrupted ({s}) while joining the replica groups"),
        }
    }
    let start_unix_ns =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let history_path = dir.path.join("history.jsonl");
    let (recorder, writer) = Recorder::create(&history_path, std::time::Instant::now())
        .context("creating history.jsonl")?;
    let phase = tokio::select! {
        r = drive(cfg, &cluster, recorder.clone(), pb.clone(), lines) => r,
        s = signals.recv() => {
            cleanup.cleanup_now();
            Err(anyhow!("interrupted ({s}); the cluster was torn down, the history so far kept"))
        }
    };
    recorder.close();
    let events = writer.finish().context("writing history.jsonl");
    // Stopping and checking are interruptible too: a signal removes what is left and ends
    // the run (the check cannot be stopped, but the process exits without waiting for it).
    let stop_and_check = async {
        pb.set_message("stopping the cluster");
        let stopped = cluster.shutdown().await;
        let phase = phase?;
        let events = events?;
        stopped.context("stopping the cluster")?;
        let total_secs = began.elapsed().as_secs_f64();
        pb.set_message("checking the history");
        let check_limit = secs(cfg.check_time_limit);
        let model: ModelSpec = cfg.workload.name().parse().map_err(|e| anyhow!("{e}"))?;
        let path = history_path.clone();
        let (history, check, check_secs) = tokio::task::spawn_blocking(move || {
            let t = std::time::Instant::now();
            let history = formats::jsonl::read_path(&path)?;
            let opts = CheckOptions { time_limit: Some(check_limit), ..CheckOptions::default() };
            let check = faultline_checker::check(&history, &model, &opts)?;
            Ok::<_, faultline_checker::CheckError>((history, check, t.elapsed().as_secs_f64()))
        })
        .await?
        .context("checking history.jsonl")?;
        Ok::<_, anyhow::Error>((phase, events, total_secs, history, check, check_secs))
    };
    let (phase, events, total_secs, history, check, check_secs) = tokio::select! {
        r = stop_and_check => r?,
        s = signals.recv() => {
            cleanup.cleanup_now();
            bail!("interrupted ({s}) after the workload; the cluster was torn down, \
                   history.jsonl kept unchecked")
        }
    };

    let c = recorder.counts();
    // A run that exercised nothing it was asked to is never a pass: nothing succeeded (so
    // nothing was checked), or none of the requested faults took effect.
    let faults_missing = !cfg.nemesis.is_empty() && phase.coverage.installed == 0;
    // A sharded run whose groups never reached the latest configuration is a failure
    // (unavailability the linearizability check cannot see), as an anomaly.
    let stalled = phase.shards.as_ref().filter(|s| !s.settled).map(|s| Anomaly {
        key: None,
        explanation: format!(
            "The replica groups did not all reach the controller's latest configuration ({}) \
             within {:.0}s of the heal: a group stuck behind never hands over or serves its \
             shards again. {}",
            s.latest,
            s.waited_secs,
            s.groups.join("; ")
        ),
        ops: Vec::new(),
    });
    let exit_code = if c.ok == 0 || (faults_missing && check.verdict != Verdict::Illegal) {
        Exit::Unknown
    } else if stalled.is_some() {
        Exit::Anomaly
    } else {
        Exit::from(check.verdict)
    }
    .code();
    if c.ok == 0 {
        tracing::error!("no operation succeeded: the cluster never served the workload");
    }
    if faults_missing {
        tracing::error!("none of the requested faults took effect: the run tested no faults");
    }
    let mut results = RunResults {
        test: cfg.test_name(),
        dir: dir.path.clone(),
        verdict: check.verdict,
        exit_code,
        seed: cfg.seed,
        replay: format!("faultline run --replay {}", dir.path.join("test.json").display()),
        anomaly: results::first_anomaly(&check, &history).or(stalled),
        stats: RunStats {
            workload_secs: phase.workload_secs,
            history_secs: phase.history_secs,
            total_secs,
            ops_per_sec: (c.ok + c.fail + c.info) as f64 / phase.workload_secs.max(0.001),
            counts: c,
            history_events: events,
            keys: phase.keys,
            recovered: phase.recovered,
            final_reads: phase.final_reads,
            check_secs,
        },
        coverage: phase.coverage,
        check,
        report: None,
        shards: phase.shards,
        network: phase.network,
    };
    results.report = write_report(cfg, &dir.path, &history, &results, start_unix_ns);
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(dir.path.join("results.json"), json + "\n").context("writing results.json")?;
    tracing::info!(verdict = ?results.verdict, "run done");
    Ok(results)
}

/// Writes `report.html`; a report that cannot be written is logged, not fatal (the verdict
/// and results stand without it).
fn write_report(
    cfg: &RunConfig,
    dir: &Path,
    history: &History,
    results: &RunResults,
    start_unix_ns: u64,
) -> Option<std::path::PathBuf> {
    let config = serde_json::to_value(cfg).ok()?;
    // The smallest failing history the report shows first (within the shrinker's budget).
    let shrunk = match cfg.workload.name().parse::<ModelSpec>() {
        Ok(model) if results.check.verdict == Verdict::Illegal => {
            let opts = CheckOptions::default();
            let budget = faultline_checker::shrink::DEFAULT_BUDGET;
            faultline_checker::shrink::shrink(history, &model, &results.check, &opts, budget)
                .unwrap_or_else(|e| {
                    tracing::warn!("the failing history was not shrunk: {e}");
                    Vec::new()
                })
        }
        _ => Vec::new(),
    };
    let input = faultline_reports::ReportInput::new(cfg.test_name(), history, &results.check)
        .shrunk(&shrunk)
        .config(&config)
        .seed(cfg.seed)
        .command(results.replay.clone())
        .node_logs(dir.join("nodes"))
        .start_unix_ns(start_unix_ns);
    match faultline_reports::write_report(dir, &input) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!("report.html not written: {e}");
            None
        }
    }
}

/// How much longer than a client a faultline node waits before it answers `unknown`: a node
/// that gives up first turns every slow commit into an uncertain answer the client would
/// still have waited for.
const NODE_TIMEOUT_MARGIN_MS: u64 = 1000;

/// The faultline nodes' extra arguments: `node-arg`s, and a `--request-timeout-ms` past the
/// clients' unless those set one.
fn node_args(cfg: &RunConfig) -> Vec<String> {
    let mut args = cfg.node_args.clone();
    if !args.iter().any(|a| a.starts_with("--request-timeout-ms")) {
        let ms = cfg.request_timeout_ms.saturating_add(NODE_TIMEOUT_MARGIN_MS);
        args.push(format!("--request-timeout-ms={ms}"));
    }
    args
}

/// What to start for `cfg`'s system: the one mapping of settings to a `SystemSpec`, for runs
/// and `faultline bench cluster` alike.
pub fn system_spec(cfg: &RunConfig) -> faultline_nemesis::SystemSpec {
    match cfg.system {
        SystemKind::Faultline => faultline_nemesis::SystemSpec::Faultline {
            binary: cfg.node_binary.clone(),
            unsafe_bug: cfg.unsafe_bug,
            read_mode: cfg.read_mode,
            extra_args: node_args(cfg),
        },
        SystemKind::Sharded => faultline_nemesis::SystemSpec::Sharded {
            binary: cfg.node_binary.clone(),
            unsafe_bug: cfg.unsafe_bug,
            extra_args: node_args(cfg),
            group_size: cfg.nodes,
        },
        SystemKind::Etcd => faultline_nemesis::SystemSpec::Etcd {
            binary: cfg.etcd_binary.clone(),
            serializable_reads: cfg.etcd_serializable_reads,
        },
        // The setting's own check split it once already; validation requires it.
        SystemKind::Maelstrom => faultline_nemesis::SystemSpec::Maelstrom {
            command: cfg
                .node_cmd
                .as_deref()
                .and_then(|c| faultline_api::maelstrom::split_command(c).ok())
                .unwrap_or_default(),
        },
    }
}

/// The clients' configuration for `cfg`, to these endpoints: runs and `faultline bench
/// cluster` alike.
pub fn client_config(
    cfg: &RunConfig,
    endpoints: Vec<Endpoint>,
    controllers: Vec<Endpoint>,
) -> ClientConfig {
    ClientConfig {
        system: cfg.system,
        endpoints,
        controllers,
        request_timeout: Duration::from_millis(cfg.request_timeout_ms),
        op_timeout: Duration::from_millis(cfg.op_timeout_ms),
        serializable_reads: cfg.etcd_serializable_reads,
    }
}

/// Sharded KV: joins every replica group through the controller (configuration 1).
async fn join_groups(cluster: &Cluster) -> anyhow::Result<()> {
    let cfg = shards::join_all(cluster).await.map_err(|e| anyhow!(e))?;
    tracing::info!(config = cfg.num, shards = ?cfg.shards, "replica groups joined");
    Ok(())
}

/// Where clients connect: every node, and of those the sharded KV's controller nodes (none
/// for a cluster of one Raft group). Runs and `faultline bench cluster` alike.
pub fn endpoints(cluster: &Cluster) -> (Vec<Endpoint>, Vec<Endpoint>) {
    let all: Vec<Endpoint> = cluster
        .client_addrs()
        .into_iter()
        .map(|(name, addr)| Endpoint { name, addr: addr.to_string() })
        .collect();
    let (ctrl, _) = shards::layout(cluster);
    let controllers =
        all.iter().filter(|e| ctrl.iter().any(|a| a.to_string() == e.addr)).cloned().collect();
    (all, controllers)
}

/// The workload under the nemesis, healing, recovery and final reads.
async fn drive(
    cfg: &RunConfig,
    cluster: &Cluster,
    recorder: Recorder,
    pb: ProgressBar,
    lines: progress::Lines,
) -> anyhow::Result<Phase> {
    let (endpoints, controllers) = endpoints(cluster);
    let clients = Clients::new(client_config(cfg, endpoints, controllers))?;
    let generator = Generator::new(&super::config::workload_spec(cfg), cfg.seed)?;
    let run = WorkloadRun::new(generator, clients, recorder.clone(), cfg.concurrency, cfg.rate);

    let active = ActiveFaults::default();
    let faults: Vec<_> = cfg.nemesis.iter().collect();
    let names = cluster.node_names();
    let groups = cluster
        .raft_groups()
        .iter()
        .map(|g| g.iter().map(|&i| names[i].clone()).collect())
        .collect();
    let coverage = Tracker::new(&faults, groups, recorder.clone());
    let (tx, mut rx) = mpsc::unbounded_channel::<FaultEvent>();
    let forward = {
        let (recorder, active, coverage) = (recorder.clone(), active.clone(), coverage.clone());
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                active.track(&ev);
                coverage.on_event(&ev);
                recorder.nemesis(&ev);
            }
        })
    };
    let ticker = tokio::spawn(progress::tick(pb.clone(), recorder.clone(), active, lines));

    let limit = secs(cfg.time_limit);
    let start = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    // The nemesis' seed differs from the generator's so the two streams are independent.
    let nemesis_seed = cfg.seed ^ 0x006e_656d_6573_6973;
    let mut nemesis_config =
        NemesisConfig::new(cfg.nemesis.clone(), secs(cfg.nemesis_interval), nemesis_seed);
    nemesis_config.targets = cfg.nemesis_targets.0.clone();
    nemesis_config.clock_rate = Some(cfg.nemesis_clock_rate).filter(|r| *r > 0.0);
    // A system without leaders (a Maelstrom node): no partition can be drawn around one.
    if cluster.raft_groups().is_empty() {
        nemesis_config.shapes.retain(|s| *s != faultline_nemesis::Shape::IsolateLeader);
    }
    let mut nemesis = Nemesis::new(nemesis_config);
    let faults = async {
        let r = nemesis.run(cluster, limit, &tx).await;
        if r.is_err() {
            let _ = stop_tx.send(true);
        }
        r
    };
    let observe = coverage.clone().observe(cluster);
    let (workers, faulted) = tokio::select! {
        r = async { tokio::join!(run.run(start + limit, stop_rx), faults) } => r,
        never = observe => match never {},
    };
    let workload_secs = start.elapsed().as_secs_f64();
    tracing::info!(workload_secs, "workload over; healing");
    pb.set_message("healing the cluster");
    let healed = nemesis.heal_all(cluster, &tx).await;
    faulted.context("the nemesis failed")?;
    healed.context("healing the cluster failed")?;

    pb.set_message("waiting for the cluster to recover");
    let recovered = match cluster.wait_ready(secs(cfg.recovery_time)).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("cluster did not recover after healing: {e}");
            false
        }
    };
    let shards = if cfg.system == SystemKind::Sharded {
        pb.set_message("waiting for the replica groups to reach the latest configuration");
        let t = std::time::Instant::now();
        let s = shards::wait_settled(cluster, secs(cfg.recovery_time)).await;
        if !s.settled {
            tracing::warn!(latest = s.latest, groups = ?s.groups, "replica groups did not settle");
        }
        let waited_secs = t.elapsed().as_secs_f64();
        Some(ShardSettle { latest: s.latest, settled: s.settled, groups: s.groups, waited_secs })
    } else {
        None
    };
    let keys = run.keys().len();
    pb.set_message(format!("final reads of {keys} keys"));
    let final_reads = run.final_reads(workers, Instant::now() + secs(cfg.final_read_timeout)).await;
    if !final_reads.missed.is_empty() {
        tracing::warn!(missed = ?final_reads.missed, "final reads failed for some keys");
    }
    let history_secs = recorder.elapsed().as_secs_f64();
    drop(tx);
    let _ = forward.await;
    ticker.abort();
    let coverage = coverage.finish();
    let network = cluster.network_stats();
    Ok(Phase {
        workload_secs,
        recovered,
        final_reads,
        keys,
        history_secs,
        coverage,
        shards,
        network,
    })
}
