//! The configuration of a run: what the flags, a spec file (`--test spec.toml`) or a
//! previous run's `test.json` (`--replay`) say, and the resolved [`RunConfig`].
//!
//! ```text
//!  defaults ◀── spec file / test.json (Settings, per-field errors name file and field)
//!           ◀── command-line flags (Settings)
//!           ──resolve──▶ RunConfig (seed chosen if absent) ──▶ test.json
//! ```
//! `test.json` uses the same keys as a spec file, so `--replay` reads it back as one.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use faultline_nemesis::{Backend, Fault};
use faultline_workloads::{Mix, SystemKind, WorkloadKind, WorkloadSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The node's test-only bugs (NODE_API.md).
pub const UNSAFE_BUGS: [&str; 5] =
    ["stale-reads", "no-dedup", "commit-old-term", "ack-before-fsync", "lease-skew"];

/// A configuration error, naming where (file or flags) and which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: field `{field}`: {message}")]
pub struct ConfigError {
    /// The spec file, `test.json`, or `command line`.
    pub source_name: String,
    /// The field at fault (kebab-case, as in files and flags).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Settings as written in a spec file, a `test.json` or on the command line: every field
/// optional; absent fields take the next layer's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[allow(missing_docs)] // each field is documented on RunConfig
pub struct Settings {
    pub name: Option<String>,
    pub system: Option<SystemKind>,
    pub workload: Option<WorkloadKind>,
    pub nemesis: Option<String>,
    pub nemesis_interval: Option<f64>,
    pub nodes: Option<usize>,
    pub time_limit: Option<f64>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    pub keys: Option<usize>,
    pub ops_per_key: Option<u64>,
    pub mix: Option<String>,
    pub seed: Option<u64>,
    pub backend: Option<String>,
    pub store: Option<PathBuf>,
    pub unsafe_bug: Option<String>,
    pub etcd_serializable_reads: Option<bool>,
    pub read_mode: Option<String>,
    pub node_binary: Option<PathBuf>,
    pub etcd_binary: Option<PathBuf>,
    pub node_args: Option<Vec<String>>,
    pub request_timeout_ms: Option<u64>,
    pub op_timeout_ms: Option<u64>,
    pub recovery_time: Option<f64>,
    pub final_read_timeout: Option<f64>,
    pub check_time_limit: Option<f64>,
}

/// The fully resolved configuration of a run; written to `test.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunConfig {
    /// The test's name (the store's directory under `store`).
    pub name: String,
    /// The system under test.
    pub system: SystemKind,
    /// The workload (and the checker's model).
    pub workload: WorkloadKind,
    /// Fault kinds, comma-separated (`partition,kill`; `none` for no faults).
    pub nemesis: String,
    /// Seconds of each calm and each fault period.
    pub nemesis_interval: f64,
    /// Cluster size.
    pub nodes: usize,
    /// Seconds of workload (faults included), before healing and final reads.
    pub time_limit: f64,
    /// Concurrent client workers.
    pub concurrency: usize,
    /// Target operations per second, all workers together (0 = unlimited).
    pub rate: f64,
    /// Keys in use at once.
    pub keys: usize,
    /// Operations per key before it is replaced by a fresh one (0 = never).
    pub ops_per_key: u64,
    /// Operation mix (`read=1,write=1`); empty = the workload's default.
    pub mix: String,
    /// The seed of the generator, the nemesis schedule and the nodes.
    pub seed: u64,
    /// `local` or `netns`.
    pub backend: String,
    /// The store directory.
    pub store: PathBuf,
    /// A test-only node bug to plant (faultline only).
    pub unsafe_bug: Option<String>,
    /// etcd: serializable (possibly stale) reads.
    pub etcd_serializable_reads: bool,
    /// faultline: `read-index`, `log` or `lease` (the node's default when absent).
    pub read_mode: Option<String>,
    /// The `faultline-node` binary.
    pub node_binary: PathBuf,
    /// The `etcd` binary.
    pub etcd_binary: PathBuf,
    /// Extra arguments for every faultline node.
    pub node_args: Vec<String>,
    /// Milliseconds before one client request times out.
    pub request_timeout_ms: u64,
    /// Milliseconds before one operation (all retries) gives up.
    pub op_timeout_ms: u64,
    /// Seconds to wait, after healing, for the cluster to answer and elect a leader.
    pub recovery_time: f64,
    /// Seconds the final reads may take.
    pub final_read_timeout: f64,
    /// Seconds the checker may take (then the verdict is unknown).
    pub check_time_limit: f64,
}

fn err(source: &str, field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { source_name: source.into(), field: field.into(), message: message.into() }
}

impl Settings {
    /// Parses a spec file (`.toml`) or a `test.json` (`.json`).
    ///
    /// # Errors
    /// The file cannot be read or parsed, or a field has the wrong type, is unknown, or has
    /// a bad value; the error names the file and the field.
    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| err(&name, "-", e.to_string()))?;
        let value: Value = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| err(&name, "-", e.to_string()))?
        } else {
            let table: toml::Table = toml::from_str(&text)
                .map_err(|e| err(&name, "-", e.to_string().trim().to_string()))?;
            serde_json::to_value(table).map_err(|e| err(&name, "-", e.to_string()))?
        };
        Settings::from_value(value, &name)
    }

    /// Reads settings from a parsed spec (`name` says where it came from in errors), as
    /// [`Settings::from_file`] does; `faultline serve` checks posted specs with it.
    ///
    /// # Errors
    /// Not a table, or a field has the wrong type, is unknown, or has a bad value.
    pub fn from_value(value: Value, name: &str) -> Result<Settings, ConfigError> {
        let Value::Object(map) = value else {
            return Err(err(name, "-", "expected a table of settings"));
        };
        // Deserialize field by field so that an error can name its field.
        let mut merged = serde_json::Map::new();
        for (key, v) in map {
            let key = key.replace('_', "-");
            let one = Value::Object([(key.clone(), v.clone())].into_iter().collect());
            serde_json::from_value::<Settings>(one).map_err(|e| err(name, &key, e.to_string()))?;
            merged.insert(key, v);
        }
        let settings: Settings = serde_json::from_value(Value::Object(merged))
            .map_err(|e| err(name, "-", e.to_string()))?;
        settings.check(name)?;
        Ok(settings)
    }

    /// Checks every field that is set, alone (cross-field checks happen in
    /// [`RunConfig::validate`]).
    ///
    /// # Errors
    /// The first bad field, named, with `source` as where it came from.
    pub fn check(&self, source: &str) -> Result<(), ConfigError> {
        let e = |f: &str, m: String| Err(err(source, f, m));
        let positive = |f: &str, v: Option<f64>| match v {
            Some(x) if !(x.is_finite() && x > 0.0) => {
                e(f, format!("must be a positive number, got {x}"))
            }
            _ => Ok(()),
        };
        if let Some(n) = &self.name {
            if n.is_empty() || n.contains('/') || n == "latest" || n.starts_with('.') {
                return e("name", format!("{n:?} is not a usable directory name"));
            }
        }
        if let Some(s) = &self.nemesis {
            Fault::parse_list(s).map_err(|x| err(source, "nemesis", x.to_string()))?;
        }
        positive("nemesis-interval", self.nemesis_interval)?;
        positive("time-limit", self.time_limit)?;
        positive("recovery-time", self.recovery_time)?;
        positive("final-read-timeout", self.final_read_timeout)?;
        positive("check-time-limit", self.check_time_limit)?;
        if let Some(n) = self.nodes {
            if !(1..=9).contains(&n) {
                return e("nodes", format!("{n} is not in 1..=9"));
            }
        }
        if let Some(c) = self.concurrency {
            if !(1..=1000).contains(&c) {
                return e("concurrency", format!("{c} is not in 1..=1000"));
            }
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r >= 0.0) {
                return e("rate", format!("must be 0 (unlimited) or positive, got {r}"));
            }
        }
        if self.keys == Some(0) {
            return e("keys", "must be at least 1".into());
        }
        if let Some(m) = &self.mix {
            m.parse::<Mix>().map_err(|x| err(source, "mix", x))?;
        }
        if let Some(b) = &self.backend {
            b.parse::<Backend>().map_err(|x| err(source, "backend", x.to_string()))?;
        }
        if let Some(b) = &self.unsafe_bug {
            if !UNSAFE_BUGS.contains(&b.as_str()) {
                return e(
                    "unsafe-bug",
                    format!("unknown bug {b:?} (expected one of {})", UNSAFE_BUGS.join(", ")),
                );
            }
        }
        if let Some(m) = &self.read_mode {
            if !["read-index", "log", "lease"].contains(&m.as_str()) {
                return e("read-mode", format!("{m:?} is not read-index, log or lease"));
            }
        }
        for (f, v) in
            [("request-timeout-ms", self.request_timeout_ms), ("op-timeout-ms", self.op_timeout_ms)]
        {
            if v == Some(0) {
                return e(f, "must be at least 1".into());
            }
        }
        Ok(())
    }

    /// `self` with every field it leaves unset taken from `base`.
    pub fn or(self, base: Settings) -> Settings {
        macro_rules! pick {
            ($($f:ident),*) => { Settings { $($f: self.$f.or(base.$f)),* } };
        }
        pick!(
            name,
            system,
            workload,
            nemesis,
            nemesis_interval,
            nodes,
            time_limit,
            concurrency,
            rate,
            keys,
            ops_per_key,
            mix,
            seed,
            backend,
            store,
            unsafe_bug,
            etcd_serializable_reads,
            read_mode,
            node_binary,
            etcd_binary,
            node_args,
            request_timeout_ms,
            op_timeout_ms,
            recovery_time,
            final_read_timeout,
            check_time_limit
        )
    }
}

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

impl RunConfig {
    /// Resolves `s` over the defaults: a 3-node local faultline cluster, a 20 s kv workload
    /// with partitions and kills, seed chosen at random when absent.
    ///
    /// # Errors
    /// A cross-field problem ([`RunConfig::validate`]).
    pub fn resolve(s: Settings) -> Result<RunConfig, ConfigError> {
        let system = s.system.unwrap_or(SystemKind::Faultline);
        let workload = s.workload.unwrap_or(WorkloadKind::Kv);
        let nemesis = s.nemesis.unwrap_or_else(|| "partition,kill".into());
        let faults = Fault::parse_list(&nemesis).unwrap_or_default();
        let fault_names: Vec<&str> = faults.iter().map(|f| f.name()).collect();
        let name = s.name.unwrap_or_else(|| {
            let f = if fault_names.is_empty() { "none".into() } else { fault_names.join("+") };
            format!("{system}-{workload}-{f}")
        });
        let cfg = RunConfig {
            name,
            system,
            workload,
            nemesis,
            nemesis_interval: s.nemesis_interval.unwrap_or(5.0),
            nodes: s.nodes.unwrap_or(3),
            time_limit: s.time_limit.unwrap_or(20.0),
            concurrency: s.concurrency.unwrap_or(10),
            rate: s.rate.unwrap_or(200.0),
            keys: s.keys.unwrap_or(8),
            ops_per_key: s.ops_per_key.unwrap_or(200),
            mix: s.mix.unwrap_or_default(),
            seed: s.seed.unwrap_or_else(random_seed),
            backend: s.backend.unwrap_or_else(|| "local".into()),
            store: s.store.unwrap_or_else(|| "store".into()),
            unsafe_bug: s.unsafe_bug,
            etcd_serializable_reads: s.etcd_serializable_reads.unwrap_or(false),
            read_mode: s.read_mode,
            node_binary: s.node_binary.unwrap_or_else(|| next_to_exe("faultline-node")),
            etcd_binary: s.etcd_binary.unwrap_or_else(|| "/usr/bin/etcd".into()),
            node_args: s.node_args.unwrap_or_default(),
            request_timeout_ms: s.request_timeout_ms.unwrap_or(1500),
            op_timeout_ms: s.op_timeout_ms.unwrap_or(5000),
            recovery_time: s.recovery_time.unwrap_or(20.0),
            final_read_timeout: s.final_read_timeout.unwrap_or(30.0),
            check_time_limit: s.check_time_limit.unwrap_or(120.0),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Cross-field checks.
    ///
    /// # Errors
    /// A mix that does not fit the workload, a faultline-only option with etcd (or the
    /// reverse).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let here = "configuration";
        self.workload_spec().validate().map_err(|e| err(here, e.field, e.message))?;
        if self.system == SystemKind::Etcd {
            if let Some(b) = &self.unsafe_bug {
                return Err(err(
                    here,
                    "unsafe-bug",
                    format!("{b}: unsafe bugs are planted in faultline nodes; the system is etcd"),
                ));
            }
            if self.read_mode.is_some() {
                return Err(err(
                    here,
                    "read-mode",
                    "applies to faultline nodes; for etcd use etcd-serializable-reads",
                ));
            }
        } else if self.etcd_serializable_reads {
            return Err(err(
                here,
                "etcd-serializable-reads",
                "applies to etcd; the system is faultline",
            ));
        }
        Ok(())
    }

    /// The fault kinds.
    pub fn faults(&self) -> Vec<Fault> {
        // validate()/check() parsed this string already.
        Fault::parse_list(&self.nemesis).unwrap_or_default()
    }

    /// The network backend.
    pub fn backend(&self) -> Backend {
        self.backend.parse().unwrap_or_default()
    }

    /// The workload spec for the generator.
    pub fn workload_spec(&self) -> WorkloadSpec {
        let limit = (self.ops_per_key > 0).then_some(self.ops_per_key);
        let mut spec = WorkloadSpec::new(self.workload, self.keys, limit);
        if !self.mix.trim().is_empty() {
            // check() parsed it; an unparsable mix never reaches here.
            spec.mix = self.mix.parse().unwrap_or(spec.mix);
        }
        spec
    }

    /// These settings, all fields set (what `--replay` of this run's `test.json` reads).
    pub fn to_settings(&self) -> Settings {
        // RunConfig and Settings share their keys; a failure here would be a bug in this file.
        serde_json::to_value(self)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn spec_file_errors_name_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("nodes = \"five\"\n", "nodes", "invalid type"),
            ("nodes = 12\n", "nodes", "not in 1..=9"),
            ("time_limit = -1\n", "time-limit", "positive"),
            ("nemesis = \"partition,chaos\"\n", "nemesis", "chaos"),
            ("colour = \"red\"\n", "colour", "unknown field"),
            ("workload = \"queue\"\n", "workload", "unknown variant"),
            ("unsafe-bug = \"gremlins\"\n", "unsafe-bug", "unknown bug"),
        ];
        for (text, field, needle) in cases {
            let p = write(dir.path(), "spec.toml", text);
            let e = Settings::from_file(&p).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
            assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
        }
        let p = write(dir.path(), "bad.toml", "nodes = \n");
        assert!(Settings::from_file(&p).unwrap_err().message.contains("line 1"));
    }

    #[test]
    fn layers_and_replay_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "spec.toml", "workload = \"register\"\nnodes = 5\nseed = 7\n");
        let file = Settings::from_file(&p).unwrap();
        let flags = Settings { nodes: Some(3), ..Settings::default() };
        let cfg = RunConfig::resolve(flags.or(file)).unwrap();
        assert_eq!((cfg.workload, cfg.nodes, cfg.seed), (WorkloadKind::Register, 3, 7));
        assert_eq!(cfg.name, "faultline-register-partition+kill");
        let json = write(dir.path(), "test.json", &serde_json::to_string_pretty(&cfg).unwrap());
        let again = RunConfig::resolve(Settings::from_file(&json).unwrap()).unwrap();
        assert_eq!(again, cfg);
        assert_eq!(RunConfig::resolve(cfg.to_settings()).unwrap(), cfg);
    }

    #[test]
    fn cross_field_checks() {
        let s = Settings {
            system: Some(SystemKind::Etcd),
            unsafe_bug: Some("no-dedup".into()),
            ..Settings::default()
        };
        assert_eq!(RunConfig::resolve(s).unwrap_err().field, "unsafe-bug");
        let s = Settings {
            workload: Some(WorkloadKind::Register),
            mix: Some("get=1".into()),
            ..Settings::default()
        };
        assert_eq!(RunConfig::resolve(s).unwrap_err().field, "mix");
        let cfg = RunConfig::resolve(Settings::default()).unwrap();
        assert_eq!(
            (cfg.nodes, cfg.system, cfg.backend()),
            (3, SystemKind::Faultline, Backend::Local)
        );
        assert!(cfg.seed < 1_000_000);
    }
}
