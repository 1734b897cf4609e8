//! The settings of `faultline run`, declared once: the flags of `faultline run`, the keys of a
//! test file (`--test spec.toml`), of `test.json` (`--replay`) and of `POST /api/runs` are all
//! [`RunSettings`]; [`RunConfig`] is the resolved form written to `test.json`.
//!
//! ```text
//!   defaults ◀── test file / test.json ◀── flags     (RunSettings::or, each checked on parse)
//!            ──resolve──▶ RunConfig ──validate (cross-field)──▶ the run, test.json
//! ```

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use crate::fault::{FaultList, Target, TargetList};
use crate::layered::checks::{dir_name, range, seconds};
use crate::layered::{ConfigError, Layer};
use crate::node::{ReadMode, UnsafeBug};
use crate::workload::{Mix, WorkloadKind};

pub use crate::target::{Backend, SystemKind};

/// A rate: 0 (unlimited) up to a million operations a second.
fn rate(r: &f64) -> Result<(), String> {
    if r.is_finite() && (0.0..=1e6).contains(r) {
        Ok(())
    } else {
        Err(format!("must be 0 (unlimited) or a rate up to 1000000 ops/s, got {r}"))
    }
}

crate::layered! {
    /// The settings of a run as flags, a test file, `test.json` or a posted spec give them:
    /// every field optional; absent fields take the next layer's value, then the default.
    pub struct RunSettings => /// The resolved configuration of a run; written to `test.json`.
    pub struct RunConfig {
        /// The test's name in the store [default: system-workload-faults, plus the bug].
        #[arg(long)]
        name: String; check dir_name,
        /// The system under test [default: faultline].
        #[arg(long)]
        system: SystemKind = SystemKind::default(),
        /// The workload and checker model [default: kv].
        #[arg(long)]
        workload: WorkloadKind = WorkloadKind::Kv,
        /// Faults to mix, comma-separated, or none; `a+b` is a and b active together (the
        /// help lists the faults: `Fault::list_help`).
        #[arg(long, value_name = "LIST", help = crate::Fault::list_help())]
        nemesis: FaultList = FaultList::defaults_for(SystemKind::Faultline, Backend::Local),
        /// Whom faults go for, comma-separated: leader, minority, majority, random; each fault
        /// picks one, and with leader among them the first fault hits the leader
        /// [default: leader,random].
        #[arg(long, value_name = "LIST")]
        nemesis_targets: TargetList = TargetList(vec![Target::Leader, Target::Random]),
        /// Run even when some requested faults cannot be installed on this system and
        /// backend (they are skipped and the summary says so); without it that is an error.
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        allow_skipped_faults: bool = false,
        /// Clock faults only change the rate of the targeted nodes' clocks to this factor
        /// (e.g. 0.6: a bounded drift, which leases assume); 0 = the mixed bumps, strobes
        /// and rates [default: 0].
        #[arg(long, value_name = "R")]
        nemesis_clock_rate: f64 = 0.0; check range(0.0, 16.0),
        /// Seconds of each calm period and each fault period [default: 3].
        #[arg(long, value_name = "S")]
        nemesis_interval: f64 = 3.0; check seconds(3600.0),
        /// Cluster size (sharded: nodes of the controller and of each group) [default: 3].
        #[arg(long)]
        nodes: usize = 3; check range(1, 9),
        /// sharded: replica groups [default: 3].
        #[arg(long)]
        groups: usize = 3; check range(1, 9),
        /// Seconds of workload, faults included [default: 20].
        #[arg(long, value_name = "S")]
        time_limit: f64 = 20.0; check seconds(7.0 * 86400.0),
        /// Concurrent client workers [default: 10].
        #[arg(long)]
        concurrency: usize = 10; check range(1, 1000),
        /// Target operations per second, all workers together; 0 = unlimited [default: 200].
        #[arg(long)]
        rate: f64 = 200.0; check rate,
        /// Keys in use at once [default: 8].
        #[arg(long)]
        keys: usize = 8; check range(1, 100_000),
        /// Operations per key before moving to a fresh key; 0 = never [default: 200].
        #[arg(long, value_name = "N")]
        ops_per_key: u64 = 200; check range(0, 1_000_000_000),
        /// Operation mix, e.g. `read=2,write=1,cas=2` [default: the workload's].
        #[arg(long)]
        mix: Mix,
        /// Seed of the operations, the fault schedule and the nodes [default: random,
        /// recorded].
        #[arg(long)]
        seed: u64 = random_seed(),
        /// Network backend: local (no root, TCP proxies), netns (root, iptables) or ssh
        /// (your machines; needs `--hosts`) [default: local].
        #[arg(long)]
        backend: Backend = Backend::default(),
        /// ssh backend: the hosts file naming the machines (one node per host; see
        /// docs/ssh-hosts.md).
        #[arg(long, value_name = "FILE")]
        hosts: PathBuf,
        /// Store directory [default: store].
        #[arg(long, value_name = "DIR")]
        store: PathBuf = PathBuf::from("store"),
        /// TEST ONLY: plant a known bug in every faultline node to prove the harness catches
        /// it.
        #[arg(long, value_name = "BUG")]
        unsafe_bug: UnsafeBug,
        /// etcd: serializable reads (may be stale; a known-unsafe mode a partition run
        /// catches).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        etcd_serializable_reads: bool = false,
        /// faultline: how nodes serve reads [default: the node's, read-index].
        #[arg(long, value_name = "MODE")]
        read_mode: ReadMode,
        /// The faultline-node binary [default: next to this executable].
        #[arg(long, value_name = "PATH")]
        node_binary: PathBuf = next_to_exe("faultline-node"),
        /// The etcd binary [default: /usr/bin/etcd].
        #[arg(long, value_name = "PATH")]
        etcd_binary: PathBuf = PathBuf::from("/usr/bin/etcd"),
        /// maelstrom: the node's command line, program first (`python3 node.py --flag`;
        /// words split at spaces, quotes group).
        #[arg(long, value_name = "CMD")]
        node_cmd: String; check crate::maelstrom::check_command,
        /// An extra argument for every faultline node (repeatable), e.g.
        /// `--node-arg=--tick-ms=5`.
        #[arg(long = "node-arg", value_name = "ARG", allow_hyphen_values = true)]
        node_args: Vec<String> = Vec::new(),
        /// Milliseconds before one client request times out; faultline nodes answer
        /// `unknown` a second later, unless `node-arg` sets their `--request-timeout-ms`
        /// [default: 3000].
        #[arg(long, value_name = "MS")]
        request_timeout_ms: u64 = 3000; check range(1, 600_000),
        /// Milliseconds before one operation, retries included, gives up [default: 6000].
        #[arg(long, value_name = "MS")]
        op_timeout_ms: u64 = 6000; check range(1, 3_600_000),
        /// Seconds to wait after healing for the cluster to elect a leader [default: 20].
        #[arg(long, value_name = "S")]
        recovery_time: f64 = 20.0; check seconds(3600.0),
        /// Seconds the final reads of every key may take [default: 30].
        #[arg(long, value_name = "S")]
        final_read_timeout: f64 = 30.0; check seconds(3600.0),
        /// Seconds the checker may take before answering unknown [default: 120].
        #[arg(long, value_name = "S")]
        check_time_limit: f64 = 120.0; check seconds(86400.0),
    }
}

/// The settings a server must not take from a posted spec: they name files or programs on
/// the server's machine.
pub const LOCAL_ONLY: &[&str] =
    &["store", "node-binary", "etcd-binary", "node-args", "hosts", "node-cmd"];

/// A fresh seed, when none was given (small, so that it is easy to type back).
pub fn random_seed() -> u64 {
    // RandomState is seeded from the OS's randomness; this is the one unseeded choice of a
    // run, and it is recorded in test.json.
    std::collections::hash_map::RandomState::new().build_hasher().finish() % 1_000_000
}

/// Where `name` lives next to the running executable (as `cargo build` puts them).
pub fn next_to_exe(name: &str) -> PathBuf {
    let dir = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf));
    dir.unwrap_or_default().join(name)
}

impl RunSettings {
    /// Resolves these settings over the defaults and checks them across fields.
    ///
    /// # Errors
    /// A cross-field problem ([`RunConfig::validate`]).
    pub fn into_config(self) -> Result<RunConfig, ConfigError> {
        let cfg = self.with_dependent_defaults().resolve();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Fills in the defaults that depend on other settings, before [`RunSettings::resolve`]
    /// fills in the rest:
    /// - the faults: [`FaultList::defaults_for`] the system and backend;
    /// - lease-skew is a bug of lease reads, so a run that plants it reads through leases
    ///   unless told otherwise (and is refused when told otherwise: the bug would change
    ///   nothing);
    /// - a Maelstrom node serves lin-kv, so its workload is `register` unless told, and it
    ///   reports no leader, so its faults target nodes at random.
    pub fn with_dependent_defaults(mut self) -> RunSettings {
        if self.nemesis.is_none() {
            let (system, backend) =
                (self.system.unwrap_or_default(), self.backend.unwrap_or_default());
            self.nemesis = Some(FaultList::defaults_for(system, backend));
        }
        if self.unsafe_bug == Some(UnsafeBug::LeaseSkew) {
            self.read_mode.get_or_insert(ReadMode::Lease);
        }
        // A Maelstrom node serves lin-kv (a register per key) and says nothing of leaders:
        // faults pick their nodes at random.
        if self.system == Some(SystemKind::Maelstrom) {
            self.workload.get_or_insert(WorkloadKind::Register);
            self.nemesis_targets.get_or_insert(TargetList(vec![Target::Random]));
        }
        self
    }

    /// Parses, checks and resolves a posted or written spec (TOML, or JSON when `json`).
    ///
    /// # Errors
    /// The first bad field, named, with `source` as where it came from.
    pub fn parse_spec(source: &str, text: &str, json: bool) -> Result<RunSettings, ConfigError> {
        let s = RunSettings::parse_text(source, text, json)?;
        // Cross-field checks need the defaults filled in; a spec must pass them alone too.
        s.clone().into_config()?;
        Ok(s)
    }
}

impl RunConfig {
    /// Cross-field checks.
    ///
    /// # Errors
    /// A mix that does not fit the workload, a faultline-only option with etcd (or the
    /// reverse).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let here = |f: &str, m: String| Err(ConfigError::new("configuration", f, m));
        match (self.backend, &self.hosts) {
            (Backend::Ssh, None) => {
                return here(
                    "hosts",
                    "the ssh backend needs a hosts file (--hosts FILE.toml)".into(),
                )
            }
            (Backend::Local | Backend::Netns, Some(_)) => {
                return here(
                    "hosts",
                    format!("a hosts file is for --backend ssh, not {}", self.backend),
                )
            }
            _ => {}
        }
        if let Some(mix) = &self.mix {
            if let Err(m) = self.workload.check_mix(mix) {
                return here("mix", m);
            }
        }
        // What the system and backend cannot run, and what this cluster is too small for.
        let mut refused: Vec<String> = Vec::new();
        let cannot: Vec<String> = self
            .nemesis
            .iter()
            .filter_map(|f| {
                f.unsupported(self.system, self.backend).map(|why| format!("{f}: {why}"))
            })
            .collect();
        if !cannot.is_empty() {
            refused.push(format!(
                "cannot be installed on {} with the {} backend: {}",
                self.system,
                self.backend,
                cannot.join("; ")
            ));
        }
        let small: Vec<String> = self
            .nemesis
            .iter()
            .filter(|f| f.unsupported(self.system, self.backend).is_none())
            .filter_map(|f| f.too_few_nodes(self.nodes).map(|why| format!("{f}: {why}")))
            .collect();
        if !small.is_empty() {
            refused.push(format!(
                "cannot take effect on {} node(s): {}",
                self.nodes,
                small.join("; ")
            ));
        }
        if !refused.is_empty() && !self.allow_skipped_faults {
            return here(
                "nemesis",
                format!(
                    "{} (pass --allow-skipped-faults, or `allow-skipped-faults = true` in a test \
                     file, to run the others anyway)",
                    refused.join("; ")
                ),
            );
        }
        match self.system {
            SystemKind::Etcd => {
                if let Some(b) = self.unsafe_bug {
                    return here(
                        "unsafe-bug",
                        format!(
                            "{b}: unsafe bugs are planted in faultline nodes; the system is etcd"
                        ),
                    );
                }
                if self.read_mode.is_some() {
                    return here(
                        "read-mode",
                        "applies to faultline nodes; for etcd use etcd-serializable-reads".into(),
                    );
                }
            }
            SystemKind::Faultline => {
                if let Some(m) = self.read_mode.filter(|m| *m != ReadMode::Lease) {
                    if self.unsafe_bug == Some(UnsafeBug::LeaseSkew) {
                        return here(
                            "read-mode",
                            format!(
                                "lease-skew is planted in lease reads; with {m} reads it \
                                 changes nothing (leave read-mode out, or set it to lease)"
                            ),
                        );
                    }
                }
                if let Some((b, f)) = self.unsafe_bug.and_then(|b| Some((b, b.needs_fault()?))) {
                    if !self.nemesis.iter().any(|g| g == f) {
                        return here(
                            "unsafe-bug",
                            format!(
                                "{b} needs the {f} fault (e.g. --nemesis {f}); a run without it \
                                 would test nothing"
                            ),
                        );
                    }
                }
                if let Some(b) = self.unsafe_bug.filter(|b| b.is_sharded()) {
                    return here(
                        "unsafe-bug",
                        format!(
                            "{b} is a bug of the sharded KV's replica groups; the faultline \
                             system is one Raft group (use --system sharded)"
                        ),
                    );
                }
                if self.etcd_serializable_reads {
                    return here(
                        "etcd-serializable-reads",
                        "applies to etcd; the system is faultline".into(),
                    );
                }
            }
            SystemKind::Sharded => return self.validate_sharded(),
            SystemKind::Maelstrom => return self.validate_maelstrom(),
        }
        if self.node_cmd.is_some() {
            return here(
                "node-cmd",
                format!("is the command of a Maelstrom node; the system is {}", self.system),
            );
        }
        Ok(())
    }

    /// The processes the run starts: `nodes`, or for the sharded system a controller group
    /// and `groups` replica groups of `nodes` each.
    pub fn cluster_nodes(&self) -> usize {
        match self.system {
            SystemKind::Sharded => self.nodes * (self.groups + 1),
            _ => self.nodes,
        }
    }

    /// The Maelstrom system's own checks.
    fn validate_maelstrom(&self) -> Result<(), ConfigError> {
        let here = |f: &str, m: String| Err(ConfigError::new("configuration", f, m));
        if self.node_cmd.is_none() {
            return here(
                "node-cmd",
                "the maelstrom system runs the command --node-cmd names on every node \
                 (e.g. --node-cmd \"python3 examples/maelstrom/raft_kv.py\")"
                    .into(),
            );
        }
        if !matches!(self.workload, WorkloadKind::Register | WorkloadKind::CasRegister) {
            return here(
                "workload",
                format!(
                    "{}: a Maelstrom node serves the lin-kv workload: register or cas-register",
                    self.workload
                ),
            );
        }
        let only = |f: &str, what: &str| {
            here(f, format!("applies to {what}; a Maelstrom node takes its own flags in node-cmd"))
        };
        if self.unsafe_bug.is_some() {
            return only("unsafe-bug", "faultline nodes");
        }
        if self.read_mode.is_some() {
            return only("read-mode", "faultline nodes");
        }
        if self.etcd_serializable_reads {
            return only("etcd-serializable-reads", "etcd");
        }
        if !self.node_args.is_empty() {
            return only("node-args", "faultline nodes");
        }
        if self.nemesis_targets.0.contains(&Target::Leader) {
            return here(
                "nemesis-targets",
                "leader: a Maelstrom node reports no leader through Maelstrom's protocol \
                 (use minority, majority or random)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The sharded system's own checks.
    fn validate_sharded(&self) -> Result<(), ConfigError> {
        let here = |f: &str, m: String| Err(ConfigError::new("configuration", f, m));
        if let Some(b) = self.unsafe_bug.filter(|b| !b.is_sharded()) {
            return here(
                "unsafe-bug",
                format!(
                    "{b} is a bug of the single-group KV node; the sharded system plants only \
                     the replica groups' bugs (shard-serve-early, shard-serve-late, \
                     shard-no-dedup-transfer, config-skip)"
                ),
            );
        }
        if self.read_mode.is_some() {
            return here(
                "read-mode",
                "a replica group sends every client operation through its log; the sharded \
                 system has no read mode to choose"
                    .into(),
            );
        }
        if self.etcd_serializable_reads {
            return here(
                "etcd-serializable-reads",
                "applies to etcd; the system is sharded".into(),
            );
        }
        Ok(())
    }

    /// The test's name in the store: `name` when given, else one that tells apart every
    /// setting that changes what the run can find: `system-workload-faults-<nodes>n`, plus the
    /// planted bug, a read mode other than the default, etcd's serializable reads, and a
    /// Maelstrom node's command (so a planted-bug run never shares a verdict history with a
    /// real one).
    pub fn test_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        // Alternatives joined by `+`, faults active together by `.` (one directory name).
        let faults: Vec<String> = self
            .nemesis
            .alternatives()
            .iter()
            .map(|c| c.iter().map(|f| f.name()).collect::<Vec<_>>().join("."))
            .collect();
        let faults = if faults.is_empty() { "none".to_string() } else { faults.join("+") };
        let mut name = format!("{}-{}-{faults}-{}n", self.system, self.workload, self.nodes);
        if self.system == SystemKind::Sharded {
            name.push_str(&format!("-{}g", self.groups));
        }
        if let Some(b) = self.unsafe_bug {
            name.push_str(&format!("-bug-{b}"));
        }
        if let Some(m) = self.read_mode.filter(|m| *m != ReadMode::default()) {
            name.push_str(&format!("-{m}"));
        }
        if self.etcd_serializable_reads {
            name.push_str("-serializable");
        }
        if let Some(cmd) = &self.node_cmd {
            name.push('-');
            name.push_str(&crate::maelstrom::command_slug(cmd));
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn spec_errors_name_the_source_and_field() {
        #[rustfmt::skip]
        let cases = [
            ("nodes = \"five\"\n",              "nodes",            "invalid type"),
            ("nodes = 12\n",                    "nodes",            "not in 1..=9"),
            ("time_limit = -1\n",               "time-limit",       "seconds"),
            ("time-limit = 1e300\n",            "time-limit",       "seconds"),
            ("keys = 1000000\n",                "keys",             "not in 1..=100000"),
            ("nemesis = \"partition,chaos\"\n", "nemesis",          "unknown fault \"chaos\""),
            ("colour = \"red\"\n",              "colour",           "unknown field"),
            ("workload = \"queue\"\n",          "workload",         "unknown workload \"queue\""),
            ("unsafe-bug = \"gremlins\"\n",     "unsafe-bug",       "unknown unsafe bug"),
            ("read-mode = \"fast\"\n",          "read-mode",        "unknown read mode"),
            ("rate = -3\n",                     "rate",             "unlimited"),
            ("name = \"../x\"\n",               "name",             "directory name"),
            ("name = \"a\\u0007b\"\n",             "name",             "directory name"),
            ("time-limit = nan\n",              "time-limit",       "finite"),
            ("time-limit = inf\n",              "time-limit",       "finite"),
            ("rate = -inf\n",                   "rate",             "finite"),
            ("mix = \"get=1\"\nworkload = \"register\"\n", "mix",  "not an operation"),
        ];
        for (text, field, needle) in cases {
            let e = RunSettings::parse_spec("spec.toml", text, false).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
        let e = RunSettings::parse_spec("spec.toml", "nodes = \n", false).unwrap_err();
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn layers_resolve_and_round_trip() {
        let file = RunSettings::parse_spec(
            "s.toml",
            "workload = \"register\"\nnodes = 5\nseed = 7",
            false,
        )
        .unwrap();
        let flags = RunSettings { nodes: Some(3), ..RunSettings::default() };
        let cfg = flags.or(file).into_config().unwrap();
        assert_eq!((cfg.workload, cfg.nodes, cfg.seed), (WorkloadKind::Register, 3, 7));
        assert_eq!(cfg.test_name(), "faultline-register-partition+kill+figure8-3n");
        let composed = RunSettings::parse_spec(
            "c.toml",
            "nemesis = \"clock+partition,kill\"\nnemesis-clock-rate = 0.5",
            false,
        )
        .unwrap()
        .into_config()
        .unwrap();
        assert_eq!(composed.test_name(), "faultline-kv-clock.partition+kill-3n");
        assert_eq!(composed.nemesis_clock_rate, 0.5);
        let e = RunSettings::parse_spec("c.toml", "nemesis-clock-rate = -1", false).unwrap_err();
        assert_eq!(e.field, "nemesis-clock-rate");
        let json = serde_json::to_string_pretty(&cfg).unwrap();
        let back: RunConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
        let replay = RunSettings::parse_spec("test.json", &json, true).unwrap();
        assert_eq!(replay.into_config().unwrap(), cfg);
        assert_eq!(cfg.to_layer().into_config().unwrap(), cfg);
        let d = RunSettings::default().into_config().unwrap();
        assert_eq!((d.nodes, d.system, d.backend), (3, SystemKind::Faultline, Backend::Local));
        assert!(d.seed < 1_000_000);
    }

    #[test]
    fn faults_that_cannot_run_are_refused_before_the_run() {
        let spec = |t: &str| RunSettings::parse_spec("s.toml", t, false);
        let e = spec("nemesis = \"loss,partition\"").unwrap_err();
        assert_eq!(e.field, "nemesis");
        assert!(e.message.contains("loss: packet loss needs the netns or ssh backend"), "{e}");
        assert!(e.message.contains("pass --allow-skipped-faults"), "a real flag: {e}");
        assert!(spec("nemesis = \"loss,partition\"\nallow-skipped-faults = true").is_ok());
        // Too few nodes: named as such, with the flag that fixes it.
        let e = spec("nodes = 1").unwrap_err();
        assert!(e.message.contains("cannot take effect on 1 node(s)"), "{e}");
        assert!(e
            .message
            .contains("partition: it cuts the links between nodes, so it needs --nodes 2"));
        assert!(e.message.contains("figure8:") && !e.message.contains("kill"), "{e}");
        let e = spec("nodes = 3\nnemesis = \"membership\"").unwrap_err();
        assert!(e.message.contains("needs --nodes 4 or more (this run has 3)"), "{e}");
        assert!(spec("nemesis = \"loss,partition\"\nbackend = \"netns\"").is_ok());
        // A Maelstrom cluster's network is faultline's: loss and delay on the local backend;
        // no clock, no leader to target, kill only when asked.
        let m = "system = \"maelstrom\"\nnode-cmd = \"python3 n.py\"\n";
        let cfg = spec(m).unwrap().into_config().unwrap();
        assert_eq!(cfg.nemesis.to_string(), "partition,loss,pause");
        assert_eq!(cfg.nemesis_targets.to_string(), "random");
        assert_eq!(cfg.workload, WorkloadKind::Register);
        assert!(cfg.test_name().ends_with("-python3-n.py"), "{}", cfg.test_name());
        assert!(spec(&format!("{m}nemesis = \"delay,loss,kill\"")).is_ok());
        let e = spec(&format!("{m}nemesis = \"clock\"")).unwrap_err();
        assert!(e.message.contains("no clock to set"), "{e}");
        let e = spec(&format!("{m}nemesis = \"figure8\"")).unwrap_err();
        assert!(e.message.contains("reports no leader"), "{e}");
        let kv = "system = \"maelstrom\"\nnode-cmd = \"python3 n.py\"\nworkload = \"kv\"";
        assert_eq!(spec(kv).unwrap_err().field, "workload");
        assert_eq!(spec("node-cmd = \"x\"").unwrap_err().field, "node-cmd");
        assert_eq!(spec("system = \"maelstrom\"").unwrap_err().field, "node-cmd");
        let e = spec("nemesis = \"delay\"\nbackend = \"netns\"").unwrap_err();
        assert!(e.message.contains("link delay needs the local backend"), "{e}");
        // Allowed, it runs; a run whose faults all failed to install is not a pass (exit 2).
        assert!(spec("nemesis = \"clock\"\nsystem = \"etcd\"\nallow-skipped-faults = true").is_ok());
        assert!(spec("nemesis = \"none\"\nsystem = \"etcd\"").is_ok());
    }

    #[test]
    fn cross_field_checks_and_names() {
        let s = RunSettings {
            system: Some(SystemKind::Etcd),
            unsafe_bug: Some(UnsafeBug::NoDedup),
            ..RunSettings::default()
        };
        assert_eq!(s.into_config().unwrap_err().field, "unsafe-bug");
        let s = RunSettings { unsafe_bug: Some(UnsafeBug::ConfigSkip), ..RunSettings::default() };
        assert_eq!(s.into_config().unwrap_err().field, "unsafe-bug");
        let s = RunSettings { unsafe_bug: Some(UnsafeBug::StaleReads), ..RunSettings::default() };
        assert_eq!(
            s.clone().into_config().unwrap().test_name(),
            "faultline-kv-partition+kill+figure8-3n-bug-stale-reads"
        );
        let etcd = RunSettings { system: Some(SystemKind::Etcd), ..RunSettings::default() };
        assert_eq!(etcd.into_config().unwrap().test_name(), "etcd-kv-partition+kill-3n");
        // lease-skew lives in lease reads; membership-overlap needs the membership fault.
        let lease =
            RunSettings { unsafe_bug: Some(UnsafeBug::LeaseSkew), ..RunSettings::default() };
        let cfg = lease.clone().into_config().unwrap();
        assert_eq!(cfg.read_mode, Some(ReadMode::Lease));
        assert!(cfg.test_name().ends_with("-bug-lease-skew-lease"), "{}", cfg.test_name());
        let read_index = RunSettings { read_mode: Some(ReadMode::ReadIndex), ..lease };
        assert_eq!(read_index.into_config().unwrap_err().field, "read-mode");
        let overlap = RunSettings {
            unsafe_bug: Some(UnsafeBug::MembershipOverlap),
            ..RunSettings::default()
        };
        let e = overlap.clone().into_config().unwrap_err();
        assert!(e.field == "unsafe-bug" && e.to_string().contains("--nemesis membership"), "{e}");
        let with_fault = RunSettings {
            nemesis: Some("membership+partition,kill".parse().unwrap()),
            nodes: Some(5),
            ..overlap.clone()
        };
        assert!(with_fault.into_config().is_ok());
        // Membership keeps three voters: a 3-node run cannot remove one.
        let small = RunSettings { nemesis: Some("membership".parse().unwrap()), ..overlap };
        let e = small.into_config().unwrap_err();
        assert!(e.field == "nemesis" && e.to_string().contains("--nodes 4 or more"), "{e}");
        for f in LOCAL_ONLY {
            assert!(RunSettings::field_names().iter().any(|n| n == f), "{f}");
        }
    }
}
