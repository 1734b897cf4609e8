//! Fault events: one start, end or step of a fault, typed from the nemesis to the history
//! file, and the one table of their names that both writes and reads them.
//!
//! ```text
//!  nemesis ──FaultEvent { name, value, outcome }──▶ progress, coverage (in process, typed)
//!                                                 ──▶ Recorder ──f = name.f(),
//!                                                     value = history_value()──▶ history.jsonl
//!  history.jsonl ──FaultEvent::read(f, value)──▶ reports   (a name not in TABLE: None, "other")
//! ```
//!
//! [`TABLE`] gives each [`EventName`] its `f`, its [`Fault`] and its [`Edge`]. Two rows share
//! `start-partition` and two `stop-partition`: the figure8 ones carry `"shape":"figure8"` in
//! their value, which is how a reader tells them apart.

use serde::Serialize;
use serde_json::{Map, Value};

use super::Fault;

/// Which part of a fault an event marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Edge {
    /// The fault begins (or, for reconfigure, one change is made).
    Start,
    /// The fault is undone.
    End,
    /// A step within an active fault (a marker: begins and ends nothing).
    Step,
}

/// Declares [`EventName`] and [`TABLE`] from one list of rows, so that every variant has
/// exactly one row and its accessors are exhaustive matches.
macro_rules! events {
    ($( $(#[doc = $doc:literal])* $variant:ident = $f:literal, $fault:ident, $edge:ident; )+) => {
        /// Every nemesis event faultline writes: the rows of [`TABLE`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventName {
            $( $(#[doc = $doc])* $variant, )+
        }

        /// Each event: its name in the history (`f`), the fault it belongs to and which edge
        /// it is. The one table of event names, read by [`EventName::f`],
        /// [`EventName::fault`], [`EventName::edge`] and [`EventName::parse`].
        pub const TABLE: &[(EventName, &str, Fault, Edge)] =
            &[$( (EventName::$variant, $f, Fault::$fault, Edge::$edge), )+];

        impl EventName {
            /// The event's name in the history (`f`).
            pub fn f(self) -> &'static str {
                match self { $( EventName::$variant => $f, )+ }
            }

            /// The fault it belongs to.
            pub fn fault(self) -> Fault {
                match self { $( EventName::$variant => Fault::$fault, )+ }
            }

            /// Which edge of the fault it is.
            pub fn edge(self) -> Edge {
                match self { $( EventName::$variant => Edge::$edge, )+ }
            }
        }
    };
}

/// The shape a figure8 event's value carries (`"shape":"figure8"`).
const FIGURE8_SHAPE: &str = "figure8";

#[rustfmt::skip]
events! {
    /// A partition installed.
    StartPartition = "start-partition", Partition,   Start;
    /// The partition healed.
    StopPartition  = "stop-partition",  Partition,   End;
    /// A figure8 step's partition (the same name as a partition's; the value's
    /// `"shape":"figure8"` tells them apart).
    StartFigure8   = "start-partition", Figure8,     Start;
    /// A figure8 step's partition healed.
    StopFigure8    = "stop-partition",  Figure8,     End;
    /// Nodes killed.
    Kill           = "kill",            Kill,        Start;
    /// Nodes started again.
    Start          = "start",           Kill,        End;
    /// Nodes paused.
    Pause          = "pause",           Pause,       Start;
    /// Nodes resumed.
    Resume         = "resume",          Pause,       End;
    /// Clocks bumped.
    ClockBump      = "clock-bump",      Clock,       Start;
    /// Clocks strobed.
    ClockStrobe    = "clock-strobe",    Clock,       Start;
    /// Clock rates changed.
    ClockRate      = "clock-rate",      Clock,       Start;
    /// Clocks reset.
    ClockReset     = "clock-reset",     Clock,       End;
    /// Packet loss on.
    StartLoss      = "start-loss",      Loss,        Start;
    /// Packet loss off.
    StopLoss       = "stop-loss",       Loss,        End;
    /// Link delay on.
    StartDelay     = "start-delay",     Delay,       Start;
    /// Link delay off.
    StopDelay      = "stop-delay",      Delay,       End;
    /// Duplicated delivery on.
    StartDuplicate = "start-duplicate", Duplicate,   Start;
    /// Duplicated delivery off.
    StopDuplicate  = "stop-duplicate",  Duplicate,   End;
    /// Groups joined through the shard controller (each change starts and ends at once:
    /// nothing is undone).
    Join           = "join",            Reconfigure, Start;
    /// Groups left.
    Leave          = "leave",           Reconfigure, Start;
    /// A shard moved.
    Move           = "move",            Reconfigure, Start;
    /// A reconfigure asked for outside a fault period (skipped).
    Reconfigure    = "reconfigure",     Reconfigure, Start;
    /// A member removed.
    RemoveMember   = "remove-member",   Membership,  Start;
    /// The member back as a learner: a step between its removal and its promotion.
    AddMember      = "add-member",      Membership,  Step;
    /// The member a voter again.
    PromoteMember  = "promote-member",  Membership,  End;
    /// Nodes cut off the power (unsynced writes lost).
    PowerLoss      = "power-loss",      PowerLoss,   Start;
    /// Nodes powered on again.
    PowerOn        = "power-on",        PowerLoss,   End;
}

impl EventName {
    /// The event a history line's `f` names, with the `shape` of its value (a figure8 step
    /// is a partition event with shape `figure8`); `None` for a name not in [`TABLE`] (a
    /// history written by another tool).
    pub fn parse(f: &str, shape: Option<&str>) -> Option<EventName> {
        let figure8 = shape == Some(FIGURE8_SHAPE);
        let mut rows = TABLE.iter().filter(|r| r.1 == f);
        let first = rows.next()?;
        let row = if first.2 == Fault::Partition && figure8 {
            rows.find(|r| r.2 == Fault::Figure8).unwrap_or(first)
        } else {
            first
        };
        Some(row.0)
    }
}

/// The result of one nemesis action (openraft's `jepsen/error-handling-semantics.md`).
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

/// One start, end or step of a fault, as the nemesis (or the simulator) reports it.
///
/// Written as the history line
/// `{"type":"info","process":"nemesis","f":<name.f()>,"value":<history_value()>,..}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultEvent {
    /// What happened.
    pub name: EventName,
    /// Details, e.g. `{"groups":[["n1","n2"],["n3","n4","n5"]]}` or `{"nodes":["n3"]}`
    /// (without the outcome).
    pub value: Value,
    /// Whether it took effect.
    pub outcome: FaultOutcome,
}

impl FaultEvent {
    /// An event; a figure8 one gets `"shape":"figure8"` in its value (an object) if it lacks
    /// it, so that a reader finds the same event.
    pub fn new(name: EventName, mut value: Value, outcome: FaultOutcome) -> Self {
        if name.fault() == Fault::Figure8 {
            if let Value::Object(m) = &mut value {
                m.entry("shape").or_insert_with(|| FIGURE8_SHAPE.into());
            }
        }
        FaultEvent { name, value, outcome }
    }

    /// An installed event.
    pub fn installed(name: EventName, value: Value) -> Self {
        FaultEvent::new(name, value, FaultOutcome::Installed)
    }

    /// The fault and the edge.
    pub fn fault(&self) -> (Fault, Edge) {
        (self.name.fault(), self.name.edge())
    }

    /// `value` with `"outcome"` (and `"reason"` when not installed) added when `value` is a
    /// JSON object; otherwise `{"value": value, "outcome": ..}`: the history line's value.
    pub fn history_value(&self) -> Value {
        let mut obj = match &self.value {
            Value::Object(m) => m.clone(),
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other.clone());
                m
            }
        };
        obj.insert("outcome".into(), self.outcome.as_str().into());
        if let Some(r) = self.outcome.reason() {
            obj.insert("reason".into(), r.into());
        }
        Value::Object(obj)
    }

    /// The event a history line holds (its `f` and its value as written by
    /// [`FaultEvent::history_value`], an object: faultline's events all have one); `None` for
    /// a name not in [`TABLE`]. A value without an outcome (another tool's) reads as
    /// installed.
    pub fn read(f: &str, value: &Value) -> Option<FaultEvent> {
        let name = EventName::parse(f, value.get("shape").and_then(Value::as_str))?;
        let mut value = value.clone();
        let (mut outcome, mut reason) = (None, None);
        if let Value::Object(m) = &mut value {
            outcome = m.remove("outcome");
            reason = m.remove("reason");
        }
        let reason = || reason.as_ref().and_then(Value::as_str).unwrap_or_default().to_string();
        let outcome = match outcome.as_ref().and_then(Value::as_str) {
            Some("skipped") => FaultOutcome::Skipped(reason()),
            Some("indeterminate") => FaultOutcome::Indeterminate(reason()),
            _ => FaultOutcome::Installed,
        };
        Some(FaultEvent { name, value, outcome })
    }

    /// Whether this fault took effect yet changed nothing it exists to change: a power
    /// loss that found nothing un-fsynced to drop (its start says `"dropped":{"changes":0,..}`),
    /// a partition that stopped no traffic (its end says `"cut_traffic":0`).
    pub fn no_effect(&self) -> bool {
        let count = |pointer: &str| self.value.pointer(pointer).and_then(Value::as_u64);
        self.outcome == FaultOutcome::Installed
            && match self.name {
                EventName::PowerLoss => count("/dropped/changes") == Some(0),
                EventName::StopPartition => count("/cut_traffic") == Some(0),
                _ => false,
            }
    }

    /// The nodes this event names (`nodes`).
    pub fn nodes(&self) -> Vec<String> {
        self.value
            .get("nodes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    /// Whether `node` can hear from fewer than a majority of `group` (itself included) under
    /// this event's partition grudge: the nodes outside `group` do not count.
    pub fn cuts_off(&self, node: &str, group: &[String]) -> bool {
        let deaf: Vec<&str> = self
            .value
            .get("grudge")
            .and_then(|g| g.get(node))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let heard = group.iter().filter(|m| !deaf.contains(&m.as_str())).count();
        heard < group.len() / 2 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_name_has_one_row_and_reads_back() {
        for (i, &(name, f, fault, edge)) in TABLE.iter().enumerate() {
            assert_eq!(TABLE.iter().position(|r| r.0 == name), Some(i), "{name:?} twice");
            assert_eq!((name.f(), name.fault(), name.edge()), (f, fault, edge));
            for outcome in [
                FaultOutcome::Installed,
                FaultOutcome::Skipped("no leader known".into()),
                FaultOutcome::Indeterminate("timeout".into()),
            ] {
                for value in [json!({"nodes": ["n2"]}), json!({}), json!({"a": {"b": [1.5]}})] {
                    let ev = FaultEvent::new(name, value, outcome.clone());
                    let back = FaultEvent::read(name.f(), &ev.history_value());
                    assert_eq!(back.as_ref(), Some(&ev), "{f}");
                }
            }
        }
        assert_eq!(TABLE.len(), 27);
    }

    #[test]
    fn a_power_loss_that_dropped_nothing_had_no_effect() {
        let lost = |changes: u64| {
            let dropped = json!({"changes": changes, "files": 0, "bytes": 0, "torn": false});
            FaultEvent::installed(
                EventName::PowerLoss,
                json!({"nodes": ["n1"], "dropped": dropped}),
            )
        };
        assert!(lost(0).no_effect());
        assert!(!lost(3).no_effect());
        let skipped = FaultEvent::new(
            EventName::PowerLoss,
            json!({"dropped": {"changes": 0}}),
            FaultOutcome::Skipped("no FUSE".into()),
        );
        assert!(!skipped.no_effect(), "a skipped start is counted as skipped, not as no effect");
        assert!(!FaultEvent::installed(EventName::Kill, json!({"nodes": ["n1"]})).no_effect());
        let healed =
            |n: u64| FaultEvent::installed(EventName::StopPartition, json!({"cut_traffic": n}));
        assert!(healed(0).no_effect(), "a partition that cut no traffic");
        assert!(!healed(7).no_effect());
        let uncounted = FaultEvent::installed(EventName::StopPartition, json!({"shape": "halves"}));
        assert!(!uncounted.no_effect(), "a network that does not count makes no claim");
    }

    #[test]
    fn figure8_is_told_apart_by_its_shape() {
        let step = FaultEvent::installed(EventName::StartFigure8, json!({"step": 2}));
        assert_eq!(step.value, json!({"step": 2, "shape": "figure8"}));
        assert_eq!(step.name.f(), "start-partition");
        let back = FaultEvent::read("start-partition", &step.history_value()).unwrap();
        assert_eq!(back.fault(), (Fault::Figure8, Edge::Start));
        let plain = json!({"shape": "majority", "outcome": "installed"});
        assert_eq!(
            EventName::parse("stop-partition", Some("figure8")),
            Some(EventName::StopFigure8)
        );
        let p = FaultEvent::read("start-partition", &plain).unwrap();
        assert_eq!(
            (p.fault(), p.value),
            ((Fault::Partition, Edge::Start), json!({"shape": "majority"}))
        );
    }

    #[test]
    fn other_tools_names_are_not_ours() {
        for f in ["heal", "restart", "isolate", "kill-leader", ""] {
            assert_eq!(FaultEvent::read(f, &json!({})), None, "{f}");
        }
        // No outcome (another tool's line): installed.
        let e = FaultEvent::read("kill", &json!({"nodes": ["n1"]})).unwrap();
        assert_eq!(e.outcome, FaultOutcome::Installed);
    }

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
    fn a_cut_counts_within_the_leaders_own_group() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // n4 leads group {n4 n5 n6}; it is cut off from n1..n3 (another group) and n5.
        let ev = FaultEvent::installed(
            EventName::StartPartition,
            json!({"grudge": {"n4": ["n1", "n2", "n3", "n5"]}}),
        );
        assert!(!ev.cuts_off("n4", &names(&["n4", "n5", "n6"])), "n4 still hears n6");
        assert!(ev.cuts_off("n4", &names(&["n1", "n2", "n3", "n4", "n5"])), "one cluster of 5");
        assert!(!ev.cuts_off("n6", &names(&["n4", "n5", "n6"])), "no grudge against n6");
    }

    #[test]
    fn history_value_carries_outcome() {
        let e = FaultEvent::new(
            EventName::Kill,
            json!({"nodes":["n1"]}),
            FaultOutcome::Skipped("no".into()),
        );
        assert_eq!(e.history_value(), json!({"nodes":["n1"],"outcome":"skipped","reason":"no"}));
    }
}
