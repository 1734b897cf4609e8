//! Workloads and their operations, by name: what `--workload` and `--mix` accept, and the `f`
//! of every history line.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

crate::names! {
    /// The workloads, each checked with the checker model of the same name.
    pub enum WorkloadKind ("workload") {
        /// Read/write registers of integers.
        Register = "register",
        /// Read/write/compare-and-set registers of integers.
        CasRegister = "cas-register",
        /// Get/put/append strings (plus cas and delete when the mix asks).
        Kv = "kv",
    }
}

crate::names! {
    /// The function of an operation, as in the history's `f` field.
    pub enum Func ("operation") {
        /// register / cas-register: read the value (`null` if unset).
        Read = "read",
        /// register / cas-register: write an integer.
        Write = "write",
        /// cas-register (and kv): `[expected, new]`; fails when the current value differs.
        Cas = "cas",
        /// kv: read a key's string (`""` if absent).
        Get = "get",
        /// kv: set a key's string.
        Put = "put",
        /// kv: append to a key's string.
        Append = "append",
        /// kv: remove a key.
        Delete = "delete",
    }
}

impl Func {
    /// Whether the function never changes state (so a failed or timed-out attempt can be
    /// recorded as `fail`: it certainly had no effect on any later operation).
    pub fn is_read(self) -> bool {
        matches!(self, Func::Read | Func::Get)
    }
}

impl WorkloadKind {
    /// The functions this workload may use.
    pub fn funcs(self) -> &'static [Func] {
        match self {
            WorkloadKind::Register => &[Func::Read, Func::Write],
            WorkloadKind::CasRegister => &[Func::Read, Func::Write, Func::Cas],
            WorkloadKind::Kv => &[Func::Get, Func::Put, Func::Append, Func::Cas, Func::Delete],
        }
    }

    /// The default mix of functions (weights).
    pub fn default_mix(self) -> Mix {
        let pairs: &[(Func, u32)] = match self {
            WorkloadKind::Register => &[(Func::Read, 1), (Func::Write, 1)],
            WorkloadKind::CasRegister => &[(Func::Read, 2), (Func::Write, 1), (Func::Cas, 2)],
            WorkloadKind::Kv => &[(Func::Get, 2), (Func::Put, 1), (Func::Append, 2)],
        };
        Mix(pairs.iter().copied().collect())
    }

    /// The function of a final read.
    pub fn read_func(self) -> Func {
        match self {
            WorkloadKind::Kv => Func::Get,
            _ => Func::Read,
        }
    }

    /// Checks that `mix` fits this workload.
    ///
    /// # Errors
    /// A function the workload does not have, or no weight at all.
    pub fn check_mix(self, mix: &Mix) -> Result<(), String> {
        for f in mix.0.keys() {
            if !self.funcs().contains(f) {
                let allowed: Vec<_> = self.funcs().iter().map(|f| f.name()).collect();
                return Err(format!(
                    "{f} is not an operation of the {self} workload (allowed: {})",
                    allowed.join(", ")
                ));
            }
        }
        if mix.0.values().all(|w| *w == 0) {
            return Err("all weights are zero".into());
        }
        Ok(())
    }
}

/// Relative weights of functions, written `read=2,write=1` (a bare name weighs 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(pub BTreeMap<Func, u32>);

impl FromStr for Mix {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut map = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (f, w) = part.split_once('=').unwrap_or((part, "1"));
            let f: Func = f.trim().parse().map_err(|e: crate::names::UnknownName| e.to_string())?;
            let w: u32 = w.trim().parse().map_err(|_| {
                format!("weight of {f} must be a non-negative integer, got {:?}", crate::cut(w, 40))
            })?;
            map.insert(f, w);
        }
        if map.is_empty() {
            return Err("no operations given".into());
        }
        Ok(Mix(map))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, w)| format!("{k}={w}")).collect();
        f.write_str(&parts.join(","))
    }
}

crate::string_form!(Mix);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_print_and_fit() {
        let m: Mix = "read=2, write".parse().unwrap();
        assert_eq!(m.to_string(), "read=2,write=1");
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"read=2,write=1\"");
        assert!(WorkloadKind::Register.check_mix(&m).is_ok());
        let e = WorkloadKind::Kv.check_mix(&m).unwrap_err();
        assert!(e.contains("read is not an operation of the kv workload"), "{e}");
        assert!("frob=1".parse::<Mix>().unwrap_err().contains("unknown operation \"frob\""));
        assert!("".parse::<Mix>().is_err());
    }
}
