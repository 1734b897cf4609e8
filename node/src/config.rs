//! The node's configuration: command-line flags, an optional TOML file, validation.
//!
//! ```text
//!   argv ──clap──▶ Args { config, NodeSettings } ─┐
//!   --config f.toml ──serde──▶ NodeSettings ──────┴─ or (flags win) ─▶ check ─▶ defaults
//!                                                    ─▶ Config::from_settings (cross-field)
//! ```
//!
//! Each setting is declared once, in [`NodeSettings`] (`faultline_api::layered!`): its flag,
//! its file key, its default and its range. The TOML file uses the flags' names as keys
//! (`peer-listen = "127.0.0.1:7001"`, `peer = ["2=127.0.0.1:7002"]`). Unknown keys are
//! errors, so a typo cannot be ignored.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use faultline_api::layered::checks::range;
use faultline_api::layered::Layer;

use crate::raft::types::{NodeId, ReadMode, UnsafeBug};
pub use faultline_api::shard::NodeRole;

/// A configuration that cannot be used; every variant names the field or file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required setting is missing from both the flags and the file.
    #[error("missing --{0} (give it as a flag or in the --config file)")]
    Missing(&'static str),
    /// A setting has a value that cannot work.
    #[error("invalid --{field} {value:?}: {reason}")]
    Invalid {
        /// The flag / key.
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The config file cannot be read.
    #[error("cannot read config file {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The config file is not valid TOML for these keys.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
}

/// The node's command line: `--config FILE` plus every [`NodeSettings`] flag.
#[derive(Debug, Default, Clone, Parser)]
#[command(
    name = "faultline-node",
    version,
    about = "A Raft/KV node: the system faultline tests by default",
    after_help = "Example (node 1 of 3):\n  faultline-node --id 1 --peer-listen 127.0.0.1:7001 \
                  --client-listen 127.0.0.1:8001 \\\n    --peer 2=127.0.0.1:7002 --peer \
                  3=127.0.0.1:7003 --data-dir /tmp/n1"
)]
pub struct Args {
    /// TOML file with the same keys as these flags; flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The settings given as flags.
    #[command(flatten)]
    pub settings: NodeSettings,
}

faultline_api::layered! {
    /// The node's settings, as flags or as keys of the `--config` TOML file (same names).
    pub struct NodeSettings => /// The settings with their defaults filled in (not yet
    /// checked across fields: see [`Config`]).
    pub struct NodeDefaults {
        /// This node's id (1..=N).
        #[arg(long)]
        id: u64; check range(1, u64::MAX),
        /// Address to listen on for other nodes' connections.
        #[arg(long, value_name = "ADDR")]
        peer_listen: SocketAddr,
        /// Address to serve the HTTP client and admin API on.
        #[arg(long, value_name = "ADDR")]
        client_listen: SocketAddr,
        /// ID=ADDR: where to send messages for peer ID (repeat once per other node).
        #[arg(long = "peer", value_name = "ID=ADDR")]
        peer: Vec<String> = Vec::new(),
        /// ID=ADDR: peer ID's client address, returned to clients in not-leader answers
        /// (repeatable; a peer without one is reported without an address).
        #[arg(long = "peer-client", value_name = "ID=ADDR")]
        peer_client: Vec<String> = Vec::new(),
        /// Directory for the WAL and snapshots (created if missing).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// Minimum election timeout [default: 300].
        #[arg(long, value_name = "MS")]
        election_timeout_ms: u64 = 300; check range(1, 600_000),
        /// Leader heartbeat interval [default: 50].
        #[arg(long, value_name = "MS")]
        heartbeat_ms: u64 = 50; check range(1, 60_000),
        /// Length of one Raft tick [default: 10].
        #[arg(long, value_name = "MS")]
        tick_ms: u64 = 10; check range(1, 1000),
        /// How gets are served [default: read-index].
        #[arg(long, value_name = "MODE")]
        read_mode: ReadMode = ReadMode::default(),
        /// Snapshot once the state machine's log since the last snapshot exceeds this
        /// [default: 1048576].
        #[arg(long, value_name = "BYTES")]
        snapshot_threshold_bytes: u64 = 1 << 20; check range(1024, u64::MAX),
        /// Client requests not answered within this answer `unknown` [default: 2000].
        #[arg(long, value_name = "MS")]
        request_timeout_ms: u64 = 2000; check range(1, 3_600_000),
        /// TEST ONLY: plant a known bug so the tester can prove it catches it. Never use in
        /// production.
        #[arg(long, value_name = "BUG")]
        unsafe_bug: UnsafeBug,
        /// Seed of the node's random choices (election timeouts) [default: 0].
        #[arg(long)]
        seed: u64 = 0,
        /// What this node runs: kv (one group, the whole store), controller (the sharded
        /// KV's shard controller) or group (one replica group) [default: kv].
        #[arg(long, value_name = "ROLE")]
        role: NodeRole = NodeRole::default(),
        /// group: this replica group's id (1..).
        #[arg(long)]
        gid: u64; check range(1, u64::MAX),
        /// controller and group: shards per configuration (they must agree) [default: 10].
        #[arg(long)]
        shards: u64 = 10; check range(1, 1000),
        /// group: ID=ADDR, a controller node's client address (repeat once per node).
        #[arg(long = "controller", value_name = "ID=ADDR")]
        controller: Vec<String> = Vec::new(),
        /// Join an existing cluster: start with no configuration (not a voter) and learn it
        /// from the leader's log once an admin adds this node (`POST
        /// /v1/admin/members/add`). A node restarted with data keeps what its log says.
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        join: bool = false,
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// Where other nodes connect.
    pub peer_listen: SocketAddr,
    /// Where clients connect (HTTP).
    pub client_listen: SocketAddr,
    /// Where to send each peer's messages (every other node).
    pub peers: BTreeMap<NodeId, String>,
    /// Client addresses known for nodes (this node's own included).
    pub peer_clients: BTreeMap<NodeId, String>,
    /// WAL and snapshot directory.
    pub data_dir: PathBuf,
    /// Minimum election timeout in ms.
    pub election_timeout_ms: u64,
    /// Heartbeat interval in ms.
    pub heartbeat_ms: u64,
    /// Tick length in ms.
    pub tick_ms: u64,
    /// How gets are served.
    pub read_mode: ReadMode,
    /// Log bytes between snapshots.
    pub snapshot_threshold_bytes: u64,
    /// Client request timeout in ms.
    pub request_timeout_ms: u64,
    /// The planted bug, if any (test only).
    pub unsafe_bug: Option<UnsafeBug>,
    /// Seed of the node's rng.
    pub seed: u64,
    /// What the node runs.
    pub role: NodeRole,
    /// The replica group's id (role group; 0 otherwise).
    pub gid: u64,
    /// Shards per configuration (roles controller and group).
    pub shards: usize,
    /// The controller's client addresses (role group).
    pub controllers: BTreeMap<NodeId, String>,
    /// Join an existing cluster (empty bootstrap configuration).
    pub join: bool,
}

fn parse_map(
    field: &'static str,
    items: &[String],
) -> Result<BTreeMap<NodeId, String>, ConfigError> {
    let mut map = BTreeMap::new();
    for item in items {
        let invalid = |reason: &str| ConfigError::Invalid {
            field,
            value: item.clone(),
            reason: reason.to_string(),
        };
        let (id, addr) = item.split_once('=').ok_or_else(|| invalid("expected ID=HOST:PORT"))?;
        let id: u64 = id.trim().parse().map_err(|_| invalid("ID must be a positive integer"))?;
        if id == 0 {
            return Err(invalid("node ids start at 1"));
        }
        let addr = addr.trim();
        match addr.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
            _ => return Err(invalid("address must be HOST:PORT")),
        }
        if map.insert(NodeId(id), addr.to_string()).is_some() {
            return Err(invalid("this id is given twice"));
        }
    }
    Ok(map)
}

impl Args {
    /// Merges in the `--config` file (if any) under the flags, fills in the defaults and
    /// validates.
    ///
    /// # Errors
    ///
    /// The first problem found, naming its flag or file.
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let settings = match &self.config {
            Some(path) => {
                let file = NodeSettings::from_file(path).map_err(|e| ConfigError::Parse {
                    path: path.clone(),
                    message: format!("field `{}`: {}", e.field, e.message),
                })?;
                self.settings.or(file)
            }
            None => self.settings,
        };
        settings.check("command line").map_err(|e| ConfigError::Parse {
            path: "command line".into(),
            message: e.to_string(),
        })?;
        Config::from_settings(settings.resolve())
    }
}

impl Config {
    /// Validates resolved settings across fields.
    ///
    /// # Errors
    ///
    /// The first problem found, naming its flag.
    pub fn from_settings(s: NodeDefaults) -> Result<Config, ConfigError> {
        let id = NodeId(s.id.ok_or(ConfigError::Missing("id"))?);
        let peer_listen = s.peer_listen.ok_or(ConfigError::Missing("peer-listen"))?;
        let client_listen = s.client_listen.ok_or(ConfigError::Missing("client-listen"))?;
        let data_dir = s.data_dir.ok_or(ConfigError::Missing("data-dir"))?;
        let peers = parse_map("peer", &s.peer)?;
        if peers.contains_key(&id) {
            return Err(ConfigError::Invalid {
                field: "peer",
                value: format!("{}=..", id.0),
                reason: "list the OTHER nodes only; this is this node's own id".into(),
            });
        }
        let mut peer_clients = parse_map("peer-client", &s.peer_client)?;
        if let Some(unknown) = peer_clients.keys().find(|k| **k != id && !peers.contains_key(k)) {
            return Err(ConfigError::Invalid {
                field: "peer-client",
                value: format!("{}=..", unknown.0),
                reason: "no --peer has this id".into(),
            });
        }
        peer_clients.entry(id).or_insert_with(|| client_listen.to_string());
        let invalid = |field, value: u64, reason: &str| ConfigError::Invalid {
            field,
            value: value.to_string(),
            reason: reason.to_string(),
        };
        // A bug planted where it changes nothing would make a run pass without testing it.
        if let Some(bug) = s.unsafe_bug {
            let reason = match s.role {
                NodeRole::Group if !bug.is_sharded() => Some(
                    "is a bug of the single-group KV node (--role kv); a replica group does \
                     not plant it",
                ),
                NodeRole::Controller => Some("the shard controller plants no bug"),
                NodeRole::Kv if bug.is_sharded() => Some(
                    "is a bug of the sharded KV's replica groups; give it to --role group nodes",
                ),
                _ => None,
            };
            if let Some(reason) = reason {
                return Err(ConfigError::Invalid {
                    field: "unsafe-bug",
                    value: bug.to_string(),
                    reason: reason.into(),
                });
            }
        }
        let controllers = parse_map("controller", &s.controller)?;
        let gid = match (s.role, s.gid) {
            (NodeRole::Group, None) => return Err(ConfigError::Missing("gid")),
            (NodeRole::Group, Some(_)) if controllers.is_empty() => {
                return Err(ConfigError::Missing("controller"))
            }
            (NodeRole::Group, Some(g)) => g,
            (_, Some(g)) => return Err(invalid("gid", g, "only a --role group node has a gid")),
            (_, None) => 0,
        };
        if s.role != NodeRole::Group && !controllers.is_empty() {
            return Err(ConfigError::Invalid {
                field: "controller",
                value: s.controller.join(","),
                reason: "only a --role group node talks to the controller".into(),
            });
        }
        if s.heartbeat_ms < s.tick_ms {
            return Err(invalid("heartbeat-ms", s.heartbeat_ms, "must be at least --tick-ms"));
        }
        if s.election_timeout_ms < 2 * s.heartbeat_ms {
            return Err(invalid(
                "election-timeout-ms",
                s.election_timeout_ms,
                "must be at least twice --heartbeat-ms",
            ));
        }
        Ok(Config {
            id,
            peer_listen,
            client_listen,
            peers,
            peer_clients,
            data_dir,
            election_timeout_ms: s.election_timeout_ms,
            heartbeat_ms: s.heartbeat_ms,
            tick_ms: s.tick_ms,
            read_mode: s.read_mode,
            snapshot_threshold_bytes: s.snapshot_threshold_bytes,
            request_timeout_ms: s.request_timeout_ms,
            unsafe_bug: s.unsafe_bug,
            seed: s.seed,
            role: s.role,
            gid,
            shards: s.shards as usize,
            controllers,
            join: s.join,
        })
    }

    /// The bootstrap voters: this node and its peers, in id order; none for a node that
    /// joins an existing cluster.
    pub fn voters(&self) -> Vec<NodeId> {
        if self.join {
            return Vec::new();
        }
        let mut v: Vec<NodeId> = self.peers.keys().copied().collect();
        v.push(self.id);
        v.sort();
        v
    }

    /// Whether `bug` is planted.
    pub fn has_bug(&self, bug: UnsafeBug) -> bool {
        self.unsafe_bug == Some(bug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Config, ConfigError> {
        let mut full = vec!["faultline-node"];
        full.extend_from_slice(argv);
        Args::try_parse_from(full)
            .map_err(|e| ConfigError::Parse { path: "argv".into(), message: e.to_string() })?
            .resolve()
    }

    const BASE: &[&str] = &[
        "--id",
        "1",
        "--peer-listen",
        "127.0.0.1:7001",
        "--client-listen",
        "127.0.0.1:8001",
        "--peer",
        "2=127.0.0.1:7002",
        "--peer",
        "3=localhost:7003",
        "--data-dir",
        "/tmp/n1",
    ];

    #[test]
    fn flags_resolve_with_defaults() {
        let c = parse(BASE).unwrap();
        assert_eq!(c.id, NodeId(1));
        assert_eq!(c.voters(), vec![NodeId(1), NodeId(2), NodeId(3)]);
        assert_eq!(c.peers[&NodeId(3)], "localhost:7003");
        assert_eq!(c.peer_clients[&NodeId(1)], "127.0.0.1:8001");
        assert_eq!((c.election_timeout_ms, c.heartbeat_ms, c.tick_ms), (300, 50, 10));
        assert_eq!(c.read_mode, ReadMode::ReadIndex);
        assert_eq!(c.unsafe_bug, None);
    }

    #[test]
    fn bad_values_name_their_flag() {
        #[rustfmt::skip]
        let cases: &[(&[&str], &str)] = &[
            (&["--peer", "2"],                    "--peer \"2\""),
            (&["--peer", "x=1.2.3.4:5"],          "positive integer"),
            (&["--peer", "1=127.0.0.1:9"],        "OTHER nodes"),
            (&["--peer", "4=127.0.0.1"],          "HOST:PORT"),
            (&["--peer-client", "9=h:1"],         "no --peer has this id"),
            (&["--heartbeat-ms", "200"],          "--election-timeout-ms"),
            (&["--tick-ms", "0"],                 "field `tick-ms`: 0 is not in 1..=1000"),
            (&["--unsafe-bug", "nope"],           "invalid value 'nope' for '--unsafe-bug <BUG>'"),
            (&["--unsafe-bug", "config-skip"],    "bug of the sharded KV"),
            (&["--role", "group", "--controller", "1=h:1"], "missing --gid"),
            (&["--role", "group", "--gid", "2"],  "missing --controller"),
            (&["--gid", "2"],                     "only a --role group node has a gid"),
            (&["--controller", "1=h:1"],          "only a --role group node talks"),
            (&["--role", "controller", "--unsafe-bug", "no-dedup"], "plants no bug"),
            (&["--role", "group", "--gid", "1", "--controller", "1=h:1", "--unsafe-bug", "no-dedup"],
                                                  "single-group KV node"),
            (&["--read-mode", "fast"],            "invalid value 'fast' for '--read-mode <MODE>'"),
        ];
        for (extra, needle) in cases {
            let mut argv = BASE.to_vec();
            argv.extend_from_slice(extra);
            let err = parse(&argv).unwrap_err().to_string();
            assert!(err.contains(needle), "{extra:?}: {err}");
        }
        let err = parse(&["--id", "1"]).unwrap_err().to_string();
        assert!(err.contains("missing --peer-listen"), "{err}");
    }

    #[test]
    fn the_file_fills_in_and_flags_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n1.toml");
        std::fs::write(
            &path,
            "id = 1\npeer-listen = \"127.0.0.1:7001\"\nclient-listen = \"127.0.0.1:8001\"\n\
             peer = [\"2=127.0.0.1:7002\"]\npeer-client = [\"2=127.0.0.1:8002\"]\n\
             data-dir = \"/tmp/x\"\nheartbeat-ms = 40\nunsafe-bug = \"no-dedup\"\n\
             read-mode = \"lease\"\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = parse(&["--config", p, "--heartbeat-ms", "30"]).unwrap();
        assert_eq!(c.heartbeat_ms, 30);
        assert_eq!(c.unsafe_bug, Some(UnsafeBug::NoDedup));
        assert_eq!(c.read_mode, ReadMode::Lease);
        assert_eq!(c.peer_clients[&NodeId(2)], "127.0.0.1:8002");
        std::fs::write(&path, "id = 1\nbogus-key = 3\n").unwrap();
        let err = parse(&["--config", p]).unwrap_err().to_string();
        assert!(err.contains("n1.toml") && err.contains("bogus-key"), "{err}");
    }
}
