//! Checking a history: choose the model, split by key, simplify exactly, search each part on a
//! worker pool, and combine the verdicts.
//!
//! ```text
//!  History ─▶ partition by key ─▶ [key parts, largest first] ─▶ N workers (one per core)
//!                                        │                          │ wgl::search per part
//!                                        │                          ▼
//!                                        │               first Illegal cancels the rest
//!                                        ▼                (unless `all_keys`)
//!                                 CheckResult { verdict, keys[..] }
//! ```
//! The time limit is enforced by a watchdog thread that raises a stop flag the searches poll;
//! the memory limit by a byte budget shared by all searches. Hitting either gives `Unknown`
//! for the keys still open, never a crash. The same watchdog stops the searches when the
//! caller cancels ([`CancelToken`]). A history with no operations is `Unknown`: nothing was
//! checked.
// The check is the one place here that reads the wall clock (for the time limit and stats).
#![allow(clippy::disallowed_methods)]

pub(crate) mod part;
mod pool;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::CheckError;
use crate::history::History;
use crate::unique::Uniqueness;
use crate::verdict::CheckResult;

/// Which model to check against.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// A read/write register (integer values; `initial` is `None` for null).
    Register {
        /// The register's value before any write.
        initial: Option<i64>,
    },
    /// A read/write/compare-and-set register.
    CasRegister {
        /// The register's value before any write.
        initial: Option<i64>,
    },
    /// The Get/Put/Append store (plus cas and delete), strings, absent reads as `""`.
    Kv,
}

impl ModelSpec {
    /// The model's name as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::Register { .. } => "register",
            ModelSpec::CasRegister { .. } => "cas-register",
            ModelSpec::Kv => "kv",
        }
    }

    /// Sets the initial value from its text (`null` or an integer; kv has none).
    ///
    /// # Errors
    /// An unparsable value, or a value for the kv model.
    pub fn with_initial(self, text: &str) -> Result<Self, CheckError> {
        let value = match text.trim() {
            "null" | "nil" => None,
            t => Some(t.parse::<i64>().map_err(|_| {
                CheckError::Usage(format!("--initial must be null or an integer, got {t:?}"))
            })?),
        };
        match self {
            ModelSpec::Register { .. } => Ok(ModelSpec::Register { initial: value }),
            ModelSpec::CasRegister { .. } => Ok(ModelSpec::CasRegister { initial: value }),
            ModelSpec::Kv => Err(CheckError::Usage(
                "--initial applies to register and cas-register; kv keys start absent".into(),
            )),
        }
    }
}

impl FromStr for ModelSpec {
    type Err = CheckError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "register" => Ok(ModelSpec::Register { initial: None }),
            "cas-register" | "cas_register" => Ok(ModelSpec::CasRegister { initial: None }),
            "kv" => Ok(ModelSpec::Kv),
            other => Err(CheckError::Usage(format!(
                "unknown model {other:?}: expected register, cas-register, kv, list-append or rw-register"
            ))),
        }
    }
}

/// Options of a check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Check each key separately (P-compositionality). Default true.
    pub partition: bool,
    /// Give up (`Unknown`) after this long.
    pub time_limit: Option<Duration>,
    /// Give up (`Unknown`) when the search caches together pass this many bytes.
    pub memory_limit: Option<u64>,
    /// Decide every key even after one is found illegal. Default false.
    pub all_keys: bool,
    /// Return a witness linearization for linearizable keys. Default false.
    pub witness: bool,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Whether keys whose written values are distinct are decided by the polynomial checkers
    /// ([`crate::unique`]); default: detected per key.
    pub unique_values: Uniqueness,
    /// Set by the caller to give the check up (a client that went away): the searches stop
    /// within milliseconds and the keys left open are `Unknown` (abandoned).
    pub cancel: Option<CancelToken>,
}

/// A handle that cancels a running check from another thread (cooperative: the searches
/// poll the stop flag the watchdog raises).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Asks the check to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            partition: true,
            time_limit: None,
            memory_limit: Some(default_memory_limit()),
            all_keys: false,
            witness: false,
            threads: 0,
            unique_values: Uniqueness::Detect,
            cancel: None,
        }
    }
}

/// The default budget of the search caches: the smaller of 2 GiB and an eighth of the
/// machine's memory (as /proc/meminfo reports it; 2 GiB when unknown), so a check on a shared
/// CI machine leaves it usable. The polynomial checkers need far less than this.
pub fn default_memory_limit() -> u64 {
    const CAP: u64 = 2 << 30;
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| {
                l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).map(|kb| kb * 128)
            })
        })
        .map_or(CAP, |eighth| eighth.min(CAP))
}

/// Checks `history` against `model`.
///
/// # Errors
/// [`CheckError::Model`] when an operation does not fit the model (unknown `f`, a value of
/// the wrong shape).
pub fn check(
    history: &History,
    model: &ModelSpec,
    opts: &CheckOptions,
) -> Result<CheckResult, CheckError> {
    pool::run(history, model, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::jsonl::parse_str;
    use crate::verdict::{UnknownReason, Verdict, NOTHING_CHECKED};

    const STALE: &str = r#"{"index":0,"type":"invoke","process":0,"f":"write","value":1,"time":0}
{"index":1,"type":"ok","process":0,"f":"write","value":1,"time":10}
{"index":2,"type":"invoke","process":1,"f":"read","value":null,"time":20}
{"index":3,"type":"ok","process":1,"f":"read","value":2,"time":30}
"#;

    #[test]
    fn an_empty_history_is_unknown() {
        let h = parse_str("").unwrap();
        let r =
            check(&h, &ModelSpec::Register { initial: None }, &CheckOptions::default()).unwrap();
        assert_eq!(r.verdict, Verdict::Unknown);
        assert!(r.nothing_checked());
        assert!(NOTHING_CHECKED.contains("nothing was checked"));
        let r = check(&parse_str(STALE).unwrap(), &ModelSpec::Kv, &CheckOptions::default());
        assert!(r.is_err() || !r.unwrap().nothing_checked());
    }

    #[test]
    fn a_cancelled_check_stops_with_every_key_abandoned() {
        let h = parse_str(STALE).unwrap();
        let model = ModelSpec::Register { initial: None };
        let cancel = CancelToken::default();
        let opts = CheckOptions { cancel: Some(cancel.clone()), ..CheckOptions::default() };
        assert_eq!(check(&h, &model, &opts).unwrap().verdict, Verdict::Illegal, "not cancelled");
        cancel.cancel();
        let r = check(&h, &model, &opts).unwrap();
        assert_eq!(r.verdict, Verdict::Unknown);
        assert!(r.keys.iter().all(|k| k.unknown_reason == Some(UnknownReason::Abandoned)), "{r:?}");
    }
}
