//! The fault vocabulary: the kinds a user picks with `--nemesis partition,kill`.

use std::fmt;
use std::str::FromStr;

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
        /// The Raft paper's Figure 8 as a sequence of partitions that follows the leaders.
        Figure8 = "figure8",
    }
}

/// The faults of a run, written `partition,kill` (`none` or empty: no faults), each once,
/// in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultList(pub Vec<Fault>);

impl FaultList {
    /// Whether no fault was asked for.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The faults, in order.
    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        self.0.iter().copied()
    }
}

impl FromStr for FaultList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out: Vec<Fault> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty() && *p != "none") {
            let f: Fault = part.parse().map_err(|e: crate::names::UnknownName| e.to_string())?;
            if !out.contains(&f) {
                out.push(f);
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
        let names: Vec<&str> = self.0.iter().map(|x| x.name()).collect();
        f.write_str(&names.join(","))
    }
}

crate::string_form!(FaultList);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_print() {
        let l: FaultList = " partition, kill ,partition".parse().unwrap();
        assert_eq!(l.0, vec![Fault::Partition, Fault::Kill]);
        assert_eq!(l.to_string(), "partition,kill");
        assert_eq!("none".parse::<FaultList>().unwrap(), FaultList::default());
        assert_eq!(FaultList::default().to_string(), "none");
        let e = "partition,chaos".parse::<FaultList>().unwrap_err();
        assert!(e.starts_with("unknown fault \"chaos\" (expected partition, kill"), "{e}");
        let back: FaultList = serde_json::from_str("\"kill,figure8\"").unwrap();
        assert_eq!(back.0, vec![Fault::Kill, Fault::Figure8]);
    }
}
