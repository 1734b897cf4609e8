//! The fault vocabulary: the kinds a user picks with `--nemesis partition,kill`, and the
//! events that start and end them ([`event`]).

use std::fmt;
use std::str::FromStr;

use crate::target::{Backend, SystemKind};

pub mod event;

pub use event::{Edge, EventName, FaultEvent, FaultOutcome};

/// Why clock faults cannot reach etcd.
pub const ETCD_CLOCK: &str = "etcd is a Go program: Go reads the clock through the vDSO, \
     which LD_PRELOAD/libfaketime does not reach";
/// Why `power-loss` cannot run on the ssh backend.
pub const SSH_POWER_LOSS: &str = "power loss needs a FUSE disk on the node's machine, which the \
     ssh backend does not mount (use the local or netns backend)";
/// Why packet loss needs the netns (or ssh) backend.
pub const LOSS_NEEDS_NETNS: &str =
    "packet loss needs the netns or ssh backend (the local backend proxies TCP streams)";
/// Why clock faults do not apply to a Maelstrom node.
pub const MAELSTROM_CLOCK: &str = "a Maelstrom node is any program in any language, and \
     Maelstrom's protocol has no clock to set: faultline cannot reach its clock";
/// Why figure8, membership and reconfigure cannot follow a Maelstrom node.
pub const MAELSTROM_NO_LEADER: &str = "a Maelstrom node reports no leader, term or log \
     through Maelstrom's protocol, and has no membership changes";
/// Why power-loss does not apply to a Maelstrom node.
pub const MAELSTROM_NO_DISK: &str =
    "a Maelstrom node keeps no data directory faultline knows of (kill and restart instead)";
/// Why link delay needs the local backend.
pub const DELAY_NEEDS_LOCAL: &str =
    "link delay needs the local backend (its proxies hold the bytes) or a Maelstrom cluster";
/// Why duplicated delivery needs a Maelstrom cluster.
pub const DUPLICATE_NEEDS_MESSAGES: &str = "duplicated delivery needs a network of messages (a \
     Maelstrom cluster's router); TCP streams between nodes never deliver twice";
/// Why figure8 cannot follow etcd.
pub const ETCD_FIGURE8: &str =
    "figure8 follows each node's commit and last log index, which etcd's status does not report";

/// Why reconfigure needs the sharded system.
pub const RECONFIGURE_SHARDED_ONLY: &str = "reconfigure joins, leaves and moves the replica \
     groups of the sharded KV (--system sharded); this system has one fixed group";
/// Why the membership fault does not apply to the sharded system.
pub const SHARDED_MEMBERSHIP: &str = "membership removes and re-adds a member of one Raft \
     group; the sharded system's groups change through reconfigure";
/// The fewest voters the membership fault leaves a cluster with: it removes one voter at a
/// time and never below three, so that a cluster short of one member still tolerates a
/// failure; it needs one node more.
pub const MEMBERSHIP_MIN_VOTERS: usize = 3;

crate::names! {
    /// A kind of fault, as named on the command line.
    pub enum Fault ("fault") {
        /// Network partitions: random halves, majority/minority, isolate one node or the
        /// leader, bridge and ring.
        Partition = "partition",
        /// SIGKILL one node, a minority, or all; restart after the fault period, data kept.
        Kill = "kill",
        /// SIGSTOP one node or a minority; SIGCONT after the fault period.
        Pause = "pause",
        /// Clock bump, strobe and rate change (faultline nodes only).
        Clock = "clock",
        /// Random packet loss between nodes (netns backend only).
        Loss = "loss",
        /// The Raft paper's Figure 8 as a sequence of partitions that follows the leaders
        /// (with several Raft groups, in one group at a time).
        Figure8 = "figure8",
        /// Sharded KV: bursts of joins, leaves and moves through the shard controller.
        Reconfigure = "reconfigure",
        /// Remove a member through the leader, wipe it, then add it back empty (learner,
        /// then voter); never fewer than [`MEMBERSHIP_MIN_VOTERS`] voters.
        Membership = "membership",
        /// Hold node-to-node traffic back: a seeded delay (local backend's proxies; on a
        /// Maelstrom cluster each message gets its own, so messages overtake each other).
        Delay = "delay",
        /// Deliver some node-to-node messages twice (a Maelstrom cluster's router only).
        Duplicate = "duplicate",
        /// SIGKILL like kill, then lose what the node wrote and did not fsync (its data dir
        /// is a FUSE mount that keeps an undo log); restart after the fault period.
        PowerLoss = "power-loss",
    }
}

impl Fault {
    /// The `--nemesis` flag's help: the fault names from [`Fault::NAMES`], so that the list
    /// is always the real one.
    pub fn list_help() -> String {
        format!(
            "Faults to mix, comma-separated ({}), or none; `a+b` is a and b active together \
             (`clock+partition,kill`) [default: {}, each where the system supports it]",
            Fault::NAMES.join(", "),
            DEFAULT_FAULTS.map(Fault::name).join(",")
        )
    }

    /// Why this fault cannot be installed on `system` with `backend`, when it cannot: the
    /// one table the settings check, the nemesis and the docs go by.
    pub fn unsupported(self, system: SystemKind, backend: Backend) -> Option<&'static str> {
        match (self, system, backend) {
            // faultline is a Maelstrom cluster's network: every fault of links applies.
            (
                Fault::Loss | Fault::Partition | Fault::Delay | Fault::Duplicate,
                SystemKind::Maelstrom,
                _,
            ) => None,
            (Fault::Duplicate, _, _) => Some(DUPLICATE_NEEDS_MESSAGES),
            (Fault::Delay, _, Backend::Netns | Backend::Ssh) => Some(DELAY_NEEDS_LOCAL),
            (Fault::Clock, SystemKind::Maelstrom, _) => Some(MAELSTROM_CLOCK),
            (Fault::Figure8 | Fault::Membership | Fault::Reconfigure, SystemKind::Maelstrom, _) => {
                Some(MAELSTROM_NO_LEADER)
            }
            (Fault::PowerLoss, SystemKind::Maelstrom, _) => Some(MAELSTROM_NO_DISK),
            (Fault::Loss, _, Backend::Local) => Some(LOSS_NEEDS_NETNS),
            (Fault::Clock, SystemKind::Etcd, _) => Some(ETCD_CLOCK),
            (Fault::Figure8, SystemKind::Etcd, _) => Some(ETCD_FIGURE8),
            (Fault::Reconfigure, SystemKind::Faultline | SystemKind::Etcd, _) => {
                Some(RECONFIGURE_SHARDED_ONLY)
            }
            (Fault::Membership, SystemKind::Sharded, _) => Some(SHARDED_MEMBERSHIP),
            (Fault::PowerLoss, _, Backend::Ssh) => Some(SSH_POWER_LOSS),
            (Fault::PowerLoss, _, _) => crate::fuse::unavailable(),
            _ => None,
        }
    }

    /// Why this fault cannot run on a cluster of `nodes`, when it cannot (checked with
    /// [`Fault::unsupported`]).
    pub fn too_few_nodes(self, nodes: usize) -> Option<String> {
        let (needs, why) = match self {
            Fault::Membership => (
                MEMBERSHIP_MIN_VOTERS + 1,
                format!("it never leaves fewer than {MEMBERSHIP_MIN_VOTERS} voters"),
            ),
            Fault::Figure8 => (3, "it needs two leaders and a majority without them".into()),
            Fault::Partition | Fault::Loss => (2, "it cuts the links between nodes".into()),
            Fault::Delay => (2, "it holds traffic between nodes".into()),
            Fault::Duplicate => (2, "it repeats messages between nodes".into()),
            _ => return None,
        };
        (nodes < needs)
            .then(|| format!("{why}, so it needs --nodes {needs} or more (this run has {nodes})"))
    }
}

crate::names! {
    /// Whom a fault goes for (`--nemesis-targets`).
    pub enum Target ("target") {
        /// The node leading when the fault starts (partitions isolate it).
        Leader = "leader",
        /// A random minority of the nodes (partitions cut it off from the majority).
        Minority = "minority",
        /// A random majority of the nodes (kills, pauses, clocks; partitions split in halves).
        Majority = "majority",
        /// Whatever the schedule draws: one node, a minority, all, any partition shape.
        Random = "random",
    }
}

/// The targets a schedule picks from, written `leader,random`; when `leader` is among them,
/// the first fault of a run goes for the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetList(pub Vec<Target>);

impl FromStr for TargetList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out: Vec<Target> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let t: Target = part.parse().map_err(|e: crate::names::UnknownName| e.to_string())?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        if out.is_empty() {
            return Err("no targets given".into());
        }
        Ok(TargetList(out))
    }
}

impl fmt::Display for TargetList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|x| x.name()).collect();
        f.write_str(&names.join(","))
    }
}

crate::string_form!(TargetList);

/// The faults of a run: alternatives separated by `,`, each one fault or several joined by
/// `+` that are active together (`clock+partition,kill`: clock and partition overlapping, or
/// kill alone); `none` or empty: no faults. Each alternative once, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultList(pub Vec<Vec<Fault>>);

/// Why two faults cannot be active together, when they cannot.
pub fn cannot_compose(a: Fault, b: Fault) -> Option<&'static str> {
    use Fault::*;
    match (a, b) {
        (Figure8, _) | (_, Figure8) => {
            Some("figure8 is a sequence of partitions (and link delays) of its own")
        }
        (Kill, Pause) | (Pause, Kill) => Some("kill and pause both stop processes"),
        (PowerLoss, Kill | Pause) | (Kill | Pause, PowerLoss) => {
            Some("power-loss kills processes itself")
        }
        (PowerLoss, Membership) | (Membership, PowerLoss) => {
            Some("power-loss restarts the nodes it cuts; membership keeps a removed node down")
        }
        _ => None,
    }
}

/// The faults a run picks when it is not told (`--nemesis` absent), each where the system
/// and backend support it (etcd: no figure8): partitions and crashes find most bugs; figure8
/// is the only way a run produces Raft's Figure 8, which a leader that commits old-term
/// entries by counting replicas gets wrong.
pub const DEFAULT_FAULTS: [Fault; 3] = [Fault::Partition, Fault::Kill, Fault::Figure8];

/// The faults a Maelstrom run picks when it is not told: what faultline does to links, and
/// pauses. Not kill: a Maelstrom node restarts empty unless it keeps files of its own, and a
/// node that forgets what it acknowledged is no bug of the node's protocol.
pub const MAELSTROM_DEFAULT_FAULTS: [Fault; 3] = [Fault::Partition, Fault::Loss, Fault::Pause];

impl FaultList {
    /// [`DEFAULT_FAULTS`], each alone, without those `system` on `backend` cannot run.
    pub fn defaults_for(system: SystemKind, backend: Backend) -> FaultList {
        if system == SystemKind::Maelstrom {
            return MAELSTROM_DEFAULT_FAULTS.to_vec().into();
        }
        DEFAULT_FAULTS
            .into_iter()
            .filter(|f| f.unsupported(system, backend).is_none())
            .collect::<Vec<_>>()
            .into()
    }

    /// Whether no fault was asked for.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every fault named, each once, in the order first given (alternatives and combinations
    /// alike): what coverage counts and the unsupported checks go by.
    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        let mut seen = Vec::new();
        self.0.iter().flatten().copied().filter(move |f| {
            let new = !seen.contains(f);
            seen.push(*f);
            new
        })
    }

    /// The alternatives the schedule picks among: each a set of faults active together.
    pub fn alternatives(&self) -> &[Vec<Fault>] {
        &self.0
    }
}

/// Each fault alone: `[partition, kill]` is `partition,kill`.
impl From<Vec<Fault>> for FaultList {
    fn from(v: Vec<Fault>) -> Self {
        let mut out = FaultList::default();
        for f in v {
            if !out.0.contains(&vec![f]) {
                out.0.push(vec![f]);
            }
        }
        out
    }
}

impl FromStr for FaultList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out: Vec<Vec<Fault>> = Vec::new();
        for alt in s.split(',').map(str::trim).filter(|p| !p.is_empty() && *p != "none") {
            let mut combo: Vec<Fault> = Vec::new();
            for part in alt.split('+').map(str::trim) {
                if part.is_empty() {
                    return Err(format!("empty fault in \"{alt}\" (write a+b)"));
                }
                let f: Fault =
                    part.parse().map_err(|e: crate::names::UnknownName| e.to_string())?;
                if combo.contains(&f) {
                    return Err(format!("{f} twice in \"{alt}\""));
                }
                if let Some((g, why)) =
                    combo.iter().find_map(|&g| cannot_compose(g, f).map(|why| (g, why)))
                {
                    return Err(format!("{g}+{f} cannot be active together: {why}"));
                }
                combo.push(f);
            }
            if !out.contains(&combo) {
                out.push(combo);
            }
        }
        Ok(FaultList(out))
    }
}

impl fmt::Display for FaultList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let alts: Vec<String> = self
            .0
            .iter()
            .map(|c| c.iter().map(|x| x.name()).collect::<Vec<_>>().join("+"))
            .collect();
        f.write_str(&alts.join(","))
    }
}

crate::string_form!(FaultList);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_print() {
        let l: FaultList = " partition, kill ,partition".parse().unwrap();
        assert_eq!(l, FaultList::from(vec![Fault::Partition, Fault::Kill]));
        assert_eq!(l.to_string(), "partition,kill");
        let d = |s, b| FaultList::defaults_for(s, b).to_string();
        assert_eq!(d(SystemKind::Faultline, Backend::Local), "partition,kill,figure8");
        assert_eq!(d(SystemKind::Etcd, Backend::Netns), "partition,kill");
        assert_eq!(d(SystemKind::Sharded, Backend::Local), "partition,kill,figure8");
        assert_eq!("none".parse::<FaultList>().unwrap(), FaultList::default());
        assert_eq!(FaultList::default().to_string(), "none");
        let e = "partition,chaos".parse::<FaultList>().unwrap_err();
        assert!(e.starts_with("unknown fault \"chaos\" (expected partition, kill"), "{e}");
        let back: FaultList = serde_json::from_str("\"kill,figure8\"").unwrap();
        assert_eq!(back, FaultList::from(vec![Fault::Kill, Fault::Figure8]));
    }

    #[test]
    fn the_nemesis_help_lists_every_fault() {
        let cmd = <crate::RunSettings as clap::Args>::augment_args(clap::Command::new("run"));
        let arg = cmd.get_arguments().find(|a| a.get_id() == "nemesis").unwrap();
        let help = arg.get_help().unwrap().to_string();
        for f in Fault::ALL {
            assert!(help.contains(&format!("{f},")) || help.contains(&format!("{f})")), "{help}");
        }
        assert!(help.contains("[default: partition,kill,figure8,"), "{help}");
        assert!(arg.get_long_help().is_none_or(|h| h.to_string() == help), "{help}");
    }

    #[test]
    fn combinations_parse_and_print() {
        let l: FaultList = "clock + partition,kill,clock+partition".parse().unwrap();
        assert_eq!(l.0, vec![vec![Fault::Clock, Fault::Partition], vec![Fault::Kill]]);
        assert_eq!(l.to_string(), "clock+partition,kill");
        assert_eq!(l.iter().collect::<Vec<_>>(), [Fault::Clock, Fault::Partition, Fault::Kill]);
        let back: FaultList = serde_json::from_str("\"partition+loss\"").unwrap();
        assert_eq!(back.0, vec![vec![Fault::Partition, Fault::Loss]]);
        for (bad, want) in [
            ("clock+", "empty fault"),
            ("kill+kill", "kill twice"),
            ("partition+figure8", "partition+figure8 cannot be active together"),
            ("pause+kill", "kill and pause both stop processes"),
            ("clock+chaos", "unknown fault \"chaos\""),
        ] {
            let e = bad.parse::<FaultList>().unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
