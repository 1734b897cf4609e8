//! What became of a fault action, and the event the nemesis reports for it.
//!
//! ```text
//! Nemesis::run ──(NemesisEvent { f, value, outcome, time })──> mpsc ──> runner ──> history.jsonl
//! ```
//!
//! Outcome semantics follow openraft's `jepsen/error-handling-semantics.md`: `Installed`
//! means the fault is certainly in place, `Skipped` means it certainly is not (and says why),
//! `Indeterminate` means the action was attempted but we cannot tell whether it took effect.

use serde::Serialize;

use crate::Fault;

/// The result of one nemesis action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "kebab-case")]
pub enum FaultOutcome {
    /// The action certainly took effect.
    Installed,
    /// The action certainly did not take effect; the reason says why.
    Skipped(String),
    /// The action was attempted and may or may not have taken effect.
    Indeterminate(String),
}

impl FaultOutcome {
    /// `"installed"`, `"skipped"` or `"indeterminate"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FaultOutcome::Installed => "installed",
            FaultOutcome::Skipped(_) => "skipped",
            FaultOutcome::Indeterminate(_) => "indeterminate",
        }
    }

    /// The reason, for `Skipped` and `Indeterminate`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            FaultOutcome::Installed => None,
            FaultOutcome::Skipped(r) | FaultOutcome::Indeterminate(r) => Some(r),
        }
    }

    /// Combines the outcomes of several sub-actions: any indeterminate part makes the whole
    /// indeterminate; all skipped makes it skipped; otherwise installed.
    pub fn combine(parts: impl IntoIterator<Item = FaultOutcome>) -> FaultOutcome {
        let mut skipped = Vec::new();
        let mut any = false;
        let mut installed = false;
        for p in parts {
            any = true;
            match p {
                FaultOutcome::Indeterminate(r) => return FaultOutcome::Indeterminate(r),
                FaultOutcome::Skipped(r) => skipped.push(r),
                FaultOutcome::Installed => installed = true,
            }
        }
        if installed || !any {
            FaultOutcome::Installed
        } else {
            FaultOutcome::Skipped(skipped.join("; "))
        }
    }
}

/// One start or end of a fault, as reported by [`crate::Nemesis`].
///
/// The runner writes it as a history line
/// `{"type":"info","process":"nemesis","f":<f>,"value":<value>,"time":..}`; see
/// [`NemesisEvent::history_value`] for a value that also carries the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct NemesisEvent {
    /// What happened: `start-partition`, `stop-partition`, `kill`, `start`, `pause`,
    /// `resume`, `clock-bump`, `clock-strobe`, `clock-rate`, `clock-reset`, `start-loss`,
    /// `stop-loss`.
    pub f: String,
    /// Details, e.g. `{"groups":[["n1","n2"],["n3","n4","n5"]]}` or `{"nodes":["n3"]}`.
    pub value: serde_json::Value,
    /// Whether it took effect.
    pub outcome: FaultOutcome,
    /// When the action completed.
    pub time: tokio::time::Instant,
}

impl NemesisEvent {
    pub(crate) fn new(f: &str, value: serde_json::Value, outcome: FaultOutcome) -> Self {
        #[allow(clippy::disallowed_methods)] // an event's timestamp is real time by definition
        let time = tokio::time::Instant::now();
        NemesisEvent { f: f.to_string(), value, outcome, time }
    }

    /// The fault this event starts or ends (`true`: starts), by its name
    /// ([`faultline_api::fault::event_fault`]).
    pub fn fault(&self) -> Option<(Fault, bool)> {
        faultline_api::fault::event_fault(&self.f, self.value.get("shape").and_then(|s| s.as_str()))
    }

    /// The nodes this event names (`nodes`, or every node of a partition's grudge).
    pub fn nodes(&self) -> Vec<String> {
        let names = |v: Option<&serde_json::Value>| -> Vec<String> {
            v.and_then(|n| n.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        names(self.value.get("nodes"))
    }

    /// Whether `node` can hear from fewer than a majority of `group` (itself included) under
    /// this event's partition grudge: the nodes outside `group` do not count.
    pub fn cuts_off(&self, node: &str, group: &[String]) -> bool {
        let deaf: Vec<&str> = self
            .value
            .get("grudge")
            .and_then(|g| g.get(node))
            .and_then(|d| d.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let heard = group.iter().filter(|m| !deaf.contains(&m.as_str())).count();
        heard < group.len() / 2 + 1
    }

    /// `value` with `"outcome"` (and `"reason"` when not installed) added when `value` is a
    /// JSON object; otherwise `{"value": value, "outcome": ..}`.
    pub fn history_value(&self) -> serde_json::Value {
        let mut obj = match &self.value {
            serde_json::Value::Object(m) => m.clone(),
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other.clone());
                m
            }
        };
        obj.insert("outcome".into(), self.outcome.as_str().into());
        if let Some(r) = self.outcome.reason() {
            obj.insert("reason".into(), r.into());
        }
        serde_json::Value::Object(obj)
    }
}

#[cfg(test)]
mod cut_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cut_counts_within_the_leaders_own_group() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // n4 leads group {n4 n5 n6}; it is cut off from n1..n3 (another group) and n5.
        let ev = NemesisEvent::new(
            "start-partition",
            json!({"grudge": {"n4": ["n1", "n2", "n3", "n5"]}}),
            FaultOutcome::Installed,
        );
        assert!(!ev.cuts_off("n4", &names(&["n4", "n5", "n6"])), "n4 still hears n6");
        assert!(ev.cuts_off("n4", &names(&["n1", "n2", "n3", "n4", "n5"])), "one cluster of 5");
        assert!(!ev.cuts_off("n6", &names(&["n4", "n5", "n6"])), "no grudge against n6");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_outcomes() {
        let s = || FaultOutcome::Skipped("x".into());
        assert_eq!(FaultOutcome::combine([FaultOutcome::Installed, s()]), FaultOutcome::Installed);
        assert_eq!(FaultOutcome::combine([s(), s()]), FaultOutcome::Skipped("x; x".into()));
        assert_eq!(
            FaultOutcome::combine([
                FaultOutcome::Installed,
                FaultOutcome::Indeterminate("t".into())
            ]),
            FaultOutcome::Indeterminate("t".into())
        );
    }

    #[test]
    fn history_value_carries_outcome() {
        let e = NemesisEvent::new(
            "kill",
            serde_json::json!({"nodes":["n1"]}),
            FaultOutcome::Skipped("no".into()),
        );
        assert_eq!(
            e.history_value(),
            serde_json::json!({"nodes":["n1"],"outcome":"skipped","reason":"no"})
        );
    }
}
