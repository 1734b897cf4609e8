//! `faultline bench cluster`: throughput and latency of real clusters, faultline and etcd side
//! by side, under the same load from the same clients `faultline run` uses. Its cluster and
//! client settings are `faultline run`'s (`RunSettings`), with bench's defaults as overrides
//! (`bench_defaults`), turned into a `SystemSpec` and clients by the runner's own functions.
//!
//! ```text
//!  for each system: Cluster::start (local backend, fresh dirs) ─▶ wait for a leader
//!      ─▶ put phase: N clients, back to back, for S seconds   ─▶ ops/s, p50/p99/max
//!      ─▶ get phase: the same                                 ─▶ ops/s, p50/p99/max
//!      ─▶ shutdown (every process and proxy removed)
//! ```
//! `sharded` measures faultline's sharded KV once per `--groups` count (a controller group
//! and G replica groups of `--nodes` each, joined before the phases): the aggregate figure
//! beside the single group's shows what splitting the keys buys on this machine.
//! Node-to-node traffic goes through the local backend's proxies, as in a run. Gets are
//! linearizable on every system (faultline: ReadIndex; etcd: its default range; sharded:
//! through each group's log). Each phase's clients are new sessions. A system named
//! `<system>+powerfs` keeps its data on power-loss disks (the FUSE layer of the `power-loss`
//! fault, `faultline_nemesis::powerfs`): the row that prices that layer.
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use faultline_api::fault::FaultList;
use faultline_api::layered::Layer;
use faultline_api::{RunConfig, RunSettings, SystemKind};
use faultline_nemesis::{Cluster, ClusterSpec};
use faultline_workloads::{Clients, Func, Op, Outcome};
use serde_json::json;

use crate::runner::exec::{client_config, endpoints, system_spec};
use crate::Exit;

/// Arguments of `faultline bench cluster`. The cluster and client settings are `faultline
/// run`'s own (`RunSettings`, one definition), under bench's defaults (`bench_defaults`).
#[derive(Debug, Args)]
#[command(mut_args = hide_unused)]
pub struct ClusterBench {
    /// Systems to measure, comma-separated: faultline, etcd, sharded; `<system>+powerfs`:
    /// with its data on the power-loss fault's FUSE disks. `--system` measures that one alone.
    #[arg(long, default_value = "faultline,faultline+powerfs,etcd")]
    pub systems: String,
    /// sharded: the replica group counts to measure, comma-separated (`--groups N`: N alone).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub group_counts: Vec<usize>,
    /// Seconds of each phase (puts, then gets).
    #[arg(long, default_value_t = 10)]
    pub secs: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// The cluster and client settings, as `faultline run` reads them; only those in
    /// `BENCH_FIELDS` are accepted.
    #[command(flatten, next_help_heading = BENCH_HEADING)]
    pub settings: RunSettings,
}

/// The help heading of the settings bench takes from `faultline run`.
const BENCH_HEADING: &str = "Cluster and client settings, as faultline run's (bench's defaults: \
                             --concurrency 64, --keys 1000, --request-timeout-ms 2000, \
                             --op-timeout-ms 5000, --seed 1)";

/// Hides from `--help` the flags of `faultline run` that a bench refuses.
fn hide_unused(arg: clap::Arg) -> clap::Arg {
    let id = arg.get_id().as_str().replace('_', "-");
    let from_run = RunSettings::field_names().contains(&id);
    let hide = from_run && !BENCH_FIELDS.contains(&id.as_str());
    arg.hide(hide)
}

/// The settings of `faultline run` that a bench uses (kebab-case); any other is refused.
const BENCH_FIELDS: &[&str] = &[
    "system",
    "nodes",
    "groups",
    "concurrency",
    "keys",
    "seed",
    "backend",
    "node-binary",
    "etcd-binary",
    "node-args",
    "read-mode",
    "etcd-serializable-reads",
    "request-timeout-ms",
    "op-timeout-ms",
];

/// Bench's defaults, as overrides of `faultline run`'s: a heavier load on more keys, shorter
/// timeouts (a bench wants figures, not retries), a fixed seed, no faults.
pub fn bench_defaults() -> RunSettings {
    RunSettings {
        concurrency: Some(64),
        keys: Some(1000),
        request_timeout_ms: Some(2000),
        op_timeout_ms: Some(5000),
        seed: Some(1),
        nemesis: Some(FaultList::default()),
        ..RunSettings::default()
    }
}

impl ClusterBench {
    /// The flags over bench's defaults, refusing the settings a bench has no use for.
    ///
    /// # Errors
    /// A setting outside `BENCH_FIELDS`, or a bad value, naming the flag.
    pub fn settings(&self) -> anyhow::Result<RunSettings> {
        self.settings.check("command line")?;
        if let Some(f) =
            self.settings.set_fields().into_iter().find(|f| !BENCH_FIELDS.contains(&f.as_str()))
        {
            anyhow::bail!(
                "command line: field `{f}`: faultline bench cluster does not use it (it takes {})",
                BENCH_FIELDS.join(", ")
            );
        }
        Ok(self.settings.clone().or(bench_defaults()))
    }

    /// The systems to measure, each with its power-loss disks or not, and the replica group
    /// counts of the sharded KV.
    ///
    /// # Errors
    /// An unknown system name.
    fn plan(&self, settings: &RunSettings) -> anyhow::Result<Vec<(SystemKind, bool, Vec<usize>)>> {
        let names: Vec<String> = match settings.system {
            Some(s) => vec![s.to_string()],
            None => self
                .systems
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        };
        let groups = settings.groups.map_or_else(|| self.group_counts.clone(), |g| vec![g]);
        names
            .iter()
            .map(|name| {
                let (base, powerfs) = match name.strip_suffix("+powerfs") {
                    Some(s) => (s, true),
                    None => (name.as_str(), false),
                };
                let kind: SystemKind =
                    base.parse().map_err(|e| anyhow::anyhow!("--systems: {e}"))?;
                let groups = if kind == SystemKind::Sharded { groups.clone() } else { vec![0] };
                Ok((kind, powerfs, groups))
            })
            .collect()
    }
}

/// Client sessions a phase may open (each client retires its session after an unknown
/// outcome and opens the next one, `concurrency` further on).
const SESSIONS_PER_PHASE: u64 = 1 << 32;

/// One phase's figures.
struct Phase {
    ok: u64,
    other: u64,
    secs: f64,
    lat: Vec<Duration>,
}

impl Phase {
    fn print(&self, system: &str, what: &str) {
        let q = |p: f64| {
            if self.lat.is_empty() {
                "-".to_string()
            } else {
                let i = ((self.lat.len() as f64 - 1.0) * p).round() as usize;
                format!("{:.2}", self.lat[i].as_secs_f64() * 1e3)
            }
        };
        println!(
            "  {system:<17} {what:<4} {:>10.0} ops/s   p50 {:>7} ms   p99 {:>7} ms   max {:>8} ms   ({} ok, {} not ok)",
            self.ok as f64 / self.secs,
            q(0.5),
            q(0.99),
            q(1.0),
            self.ok,
            self.other
        );
    }
}

/// Runs `faultline bench cluster`.
///
/// # Errors
/// A setting a bench does not use, a binary is missing, or a cluster cannot start.
pub fn run(args: ClusterBench) -> anyhow::Result<Exit> {
    let settings = args.settings()?;
    let plan = args.plan(&settings)?;
    let shown = settings.clone().resolve();
    let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    rt.block_on(async move {
        println!(
            "faultline bench cluster: {} nodes, {} clients, {} s of puts then {} s of gets, {} keys, {}-byte values",
            shown.nodes, shown.concurrency, args.secs, args.secs, shown.keys, args.value_size
        );
        for (kind, powerfs, groups) in plan {
            for g in groups {
                let mut s = settings.clone();
                s.system = Some(kind);
                if kind == SystemKind::Sharded {
                    s.groups = Some(g);
                }
                let cfg = s.into_config()?;
                bench_system(&args, &cfg, powerfs).await?;
            }
        }
        Ok(Exit::Pass)
    })
}

/// Measures one system as `cfg` configures it (the runner's own mapping to a `SystemSpec`
/// and to the clients), on power-loss disks when `powerfs`.
async fn bench_system(args: &ClusterBench, cfg: &RunConfig, powerfs: bool) -> anyhow::Result<()> {
    let mut name = cfg.system.to_string();
    if powerfs {
        name.push_str("+powerfs");
    }
    if let Some(why) = faultline_api::fuse::unavailable().filter(|_| powerfs) {
        println!("  {name:<17} skipped: {why}");
        return Ok(());
    }
    // The sharded KV: the controller group and `groups` replica groups.
    let label = match cfg.system {
        SystemKind::Sharded => format!("{name} {}g", cfg.groups),
        _ => name,
    };
    let dir = std::env::temp_dir().join(format!(
        "faultline-bench-{}-{}",
        std::process::id(),
        label.replace(' ', "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut spec =
        ClusterSpec::new(system_spec(cfg), cfg.cluster_nodes(), cfg.backend, dir.clone(), cfg.seed);
    spec.power_loss = powerfs;
    let cluster = Cluster::start(spec).await.with_context(|| format!("starting {label}"))?;
    let joined = match cfg.system {
        SystemKind::Sharded => faultline_nemesis::shards::join_all(&cluster).await.map(|_| ()),
        _ => Ok(()),
    };
    let result = match joined {
        Ok(()) => measure(args, cfg, &cluster, &label).await,
        Err(e) => Err(anyhow::anyhow!(e)),
    };
    cluster.shutdown().await.with_context(|| format!("stopping {label}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(
    args: &ClusterBench,
    cfg: &RunConfig,
    cluster: &Cluster,
    name: &str,
) -> anyhow::Result<()> {
    let (endpoints, controllers) = endpoints(cluster);
    let clients = Clients::new(client_config(cfg, endpoints, controllers))?;
    // Wait until the cluster serves (a leader is elected), so the phases measure steady state.
    let mut probe = clients.open(1_000_000);
    let until = Instant::now() + Duration::from_secs(30);
    let warm = Op { f: Func::Put, key: "warmup".into(), value: json!("x") };
    while !matches!(probe.call(&warm).await, Outcome::Ok(_)) {
        anyhow::ensure!(Instant::now() < until, "{name} did not serve a put within 30 s");
    }
    let value = "v".repeat(args.value_size);
    for (n, f) in [Func::Put, Func::Get].into_iter().enumerate() {
        let phase = phase(args, cfg, &clients, f, &value, n as u64 + 1).await;
        phase.print(name, if f == Func::Put { "put" } else { "get" });
    }
    Ok(())
}

/// One phase of `f` by `cfg.concurrency` clients. Phase `n`'s clients are sessions of their
/// own (ids from `n * SESSIONS_PER_PHASE`): a session starts its sequence numbers over, which
/// a store that de-duplicates every request (the sharded KV) would refuse as stale.
async fn phase(
    args: &ClusterBench,
    cfg: &RunConfig,
    clients: &Clients,
    f: Func,
    value: &str,
    n: u64,
) -> Phase {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.secs);
    let (concurrency, keys) = (cfg.concurrency as u64, cfg.keys as u64);
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let clients = clients.clone();
            let mut process = n * SESSIONS_PER_PHASE + i;
            let mut client = clients.open(process);
            let value = value.to_string();
            tokio::spawn(async move {
                let (mut ok, mut other, mut lat) = (0u64, 0u64, Vec::new());
                let mut seq = i;
                while Instant::now() < deadline {
                    seq = seq.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let key = format!("k{}", (seq >> 33) % keys);
                    let v = if f == Func::Put { json!(value) } else { serde_json::Value::Null };
                    let op = Op { f, key, value: v };
                    let t = Instant::now();
                    match client.call(&op).await {
                        Outcome::Ok(_) => {
                            ok += 1;
                            lat.push(t.elapsed());
                        }
                        Outcome::Unknown(_) => {
                            other += 1;
                            // An unknown outcome retires a process: continue as a new one.
                            process += concurrency;
                            client = clients.open(process);
                        }
                        Outcome::Fail(_) => other += 1,
                    }
                }
                (ok, other, lat)
            })
        })
        .collect();
    let mut p = Phase { ok: 0, other: 0, secs: 0.0, lat: Vec::new() };
    for t in tasks {
        if let Ok((ok, other, lat)) = t.await {
            p.ok += ok;
            p.other += other;
            p.lat.extend(lat);
        }
    }
    p.secs = start.elapsed().as_secs_f64();
    p.lat.sort_unstable();
    p
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};
    use crate::cmd::bench::BenchWhat;

    use super::*;

    fn bench(argv: &[&str]) -> ClusterBench {
        let argv = ["faultline", "bench", "cluster"].iter().chain(argv);
        let Command::Bench(b) = Cli::try_parse_from(argv).unwrap().command else { panic!() };
        let BenchWhat::Cluster(c) = b.what else { panic!() };
        *c
    }

    #[test]
    fn bench_defaults_override_the_run_settings_flags_win() {
        let cfg = bench(&[]).settings().unwrap().into_config().unwrap();
        assert_eq!((cfg.concurrency, cfg.keys, cfg.nodes), (64, 1000, 3));
        assert_eq!((cfg.request_timeout_ms, cfg.op_timeout_ms, cfg.seed), (2000, 5000, 1));
        assert!(cfg.nemesis.is_empty());
        let cfg = bench(&["--concurrency", "8", "--nodes", "5"]).settings().unwrap();
        let cfg = cfg.into_config().unwrap();
        assert_eq!((cfg.concurrency, cfg.nodes, cfg.keys), (8, 5, 1000));
    }

    #[test]
    fn settings_a_bench_does_not_use_are_refused_by_name() {
        let e = bench(&["--time-limit", "5"]).settings().unwrap_err().to_string();
        assert!(e.contains("field `time-limit`"), "{e}");
        let e = bench(&["--concurrency", "0"]).settings().unwrap_err().to_string();
        assert!(e.contains("field `concurrency`"), "{e}");
    }

    #[test]
    fn the_systems_and_group_counts_measured() {
        let b = bench(&["--systems", "faultline+powerfs,sharded", "--group-counts", "1,4"]);
        let plan = b.plan(&b.settings().unwrap()).unwrap();
        assert_eq!(
            plan,
            vec![(SystemKind::Faultline, true, vec![0]), (SystemKind::Sharded, false, vec![1, 4])]
        );
        // `--system` and `--groups` (the run's flags) measure one of each.
        let b = bench(&["--system", "sharded", "--groups", "2"]);
        let plan = b.plan(&b.settings().unwrap()).unwrap();
        assert_eq!(plan, vec![(SystemKind::Sharded, false, vec![2])]);
        let b = bench(&["--systems", "nope"]);
        assert!(b.plan(&b.settings().unwrap()).is_err());
        // The sharded cluster: a controller group and the replica groups.
        let mut s = bench(&[]).settings().unwrap();
        (s.system, s.groups) = (Some(SystemKind::Sharded), Some(2));
        assert_eq!(s.into_config().unwrap().cluster_nodes(), 9);
    }
}
