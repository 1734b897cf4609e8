//! The names of the transactional checker: its history models, the anomalies it finds and
//! the consistency models those anomalies rule out. Each enum has one table of names, used
//! to print it, to serialize it and to parse it back.
//!
//! The model table follows Adya's isolation levels as Elle reads them (Kingsbury & Alvaro,
//! VLDB 2020, and Elle's `consistency-models`): each model forbids the anomalies of the
//! weaker models it implies, plus its own. See `docs/txn-checker.md` for the table.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// Defines an enum of unit variants with one name table for `name`, `FromStr`, `Display`
/// and `Serialize`.
macro_rules! named {
    ($label:literal, $(#[$m:meta])* pub enum $ty:ident { $($(#[$vm:meta])* $v:ident = $n:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $ty { $($(#[$vm])* $v,)* }

        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$v,)*];

            /// The name, as on the command line and in JSON.
            pub fn name(self) -> &'static str {
                match self { $($ty::$v => $n,)* }
            }
        }

        impl FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $ty::ALL.iter().copied().find(|x| x.name() == s).ok_or_else(|| {
                    let names: Vec<&str> = $ty::ALL.iter().map(|x| x.name()).collect();
                    format!("unknown {} {s:?}: expected one of {}", $label, names.join(", "))
                })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}

named! {
    "transactional model",
    /// How the history's transactions are read.
    pub enum TxnModel {
        /// `append` and `r` of lists: version orders are recovered from the reads.
        ListAppend = "list-append",
        /// `w` and `r` of single values: weaker inference (see `txn::register`).
        RwRegister = "rw-register",
    }
}

named! {
    "anomaly",
    /// An anomaly the checker can report. Cycle anomalies come in three variants: the
    /// plain one (only ww / wr / rw edges), `-process` (the cycle needs a process-order
    /// edge) and `-realtime` (it needs a real-time edge).
    pub enum Anomaly {
        /// A cycle of write-write edges.
        G0 = "G0",
        /// G0 through process order.
        G0Process = "G0-process",
        /// G0 through real-time order.
        G0Realtime = "G0-realtime",
        /// A cycle of ww and wr edges, with at least one wr.
        G1c = "G1c",
        /// G1c through process order.
        G1cProcess = "G1c-process",
        /// G1c through real-time order.
        G1cRealtime = "G1c-realtime",
        /// A cycle with exactly one rw edge.
        GSingle = "G-single",
        /// G-single through process order.
        GSingleProcess = "G-single-process",
        /// G-single through real-time order.
        GSingleRealtime = "G-single-realtime",
        /// A cycle with two or more rw edges, no two of them adjacent.
        GNonadjacent = "G-nonadjacent",
        /// G-nonadjacent through process order.
        GNonadjacentProcess = "G-nonadjacent-process",
        /// G-nonadjacent through real-time order.
        GNonadjacentRealtime = "G-nonadjacent-realtime",
        /// A cycle with two or more rw edges, some adjacent.
        G2Item = "G2-item",
        /// G2-item through process order.
        G2ItemProcess = "G2-item-process",
        /// G2-item through real-time order.
        G2ItemRealtime = "G2-item-realtime",
        /// Aborted read: a read saw a value written by a failed transaction.
        G1a = "G1a",
        /// Intermediate read: a read saw a value its writer later overwrote (or appended
        /// after) in the same transaction.
        G1b = "G1b",
        /// A transaction's read contradicts its own earlier reads and writes.
        Internal = "internal",
        /// Two reads of a key that neither is a prefix of the other: no version order.
        IncompatibleOrder = "incompatible-order",
        /// A read list holds the same element twice.
        DuplicateElements = "duplicate-elements",
        /// A committed write built on a failed transaction's write.
        DirtyUpdate = "dirty-update",
        /// A read saw a value no transaction wrote.
        GarbageRead = "garbage-read",
    }
}

named! {
    "consistency model",
    /// A consistency model (isolation level), strongest first.
    pub enum ConsistencyModel {
        /// Serializable, and the order respects real time.
        StrictSerializable = "strict-serializable",
        /// Serializable, and the order respects each process's order.
        StrongSessionSerializable = "strong-session-serializable",
        /// Equivalent to some serial order of the committed transactions (Adya PL-3).
        Serializable = "serializable",
        /// Snapshot isolation (Adya PL-SI, generalized: no G-single, no G-nonadjacent).
        SnapshotIsolation = "snapshot-isolation",
        /// Repeatable read (Adya PL-2.99).
        RepeatableRead = "repeatable-read",
        /// Read committed (Adya PL-2).
        ReadCommitted = "read-committed",
        /// Read uncommitted (Adya PL-1).
        ReadUncommitted = "read-uncommitted",
    }
}

/// Which order edges a cycle anomaly needs, beyond ww / wr / rw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    /// Only dependency edges.
    Plain,
    /// A process-order edge (and no real-time edge).
    Process,
    /// A real-time edge.
    Realtime,
}

/// The cycle shapes, by their rw edges, before the variant is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Only ww edges.
    G0,
    /// ww and wr, at least one wr.
    G1c,
    /// Exactly one rw.
    GSingle,
    /// Two or more rw, none adjacent.
    GNonadjacent,
    /// Two or more rw, some adjacent.
    G2Item,
}

#[rustfmt::skip]
const CYCLES: [(Shape, [Anomaly; 3]); 5] = [
    (Shape::G0,           [Anomaly::G0,           Anomaly::G0Process,           Anomaly::G0Realtime]),
    (Shape::G1c,          [Anomaly::G1c,          Anomaly::G1cProcess,          Anomaly::G1cRealtime]),
    (Shape::GSingle,      [Anomaly::GSingle,      Anomaly::GSingleProcess,      Anomaly::GSingleRealtime]),
    (Shape::GNonadjacent, [Anomaly::GNonadjacent, Anomaly::GNonadjacentProcess, Anomaly::GNonadjacentRealtime]),
    (Shape::G2Item,       [Anomaly::G2Item,       Anomaly::G2ItemProcess,       Anomaly::G2ItemRealtime]),
];

impl Anomaly {
    /// The cycle anomaly of this shape and variant.
    pub fn cycle(shape: Shape, variant: Variant) -> Anomaly {
        let row = CYCLES.iter().find(|(s, _)| *s == shape).map_or(CYCLES[0].1, |r| r.1);
        row[variant as usize]
    }

    /// The shape and variant of a cycle anomaly; `None` for the others.
    pub fn as_cycle(self) -> Option<(Shape, Variant)> {
        CYCLES.iter().find_map(|(shape, row)| {
            let i = row.iter().position(|a| *a == self)?;
            Some((*shape, [Variant::Plain, Variant::Process, Variant::Realtime][i]))
        })
    }

    /// Whether the anomaly is a cycle in the dependency graph.
    pub fn is_cycle(self) -> bool {
        self.as_cycle().is_some()
    }
}

/// Plain anomalies no model allows: there is no version order, or a value came from nowhere.
const NO_MODEL: &[Anomaly] =
    &[Anomaly::G0, Anomaly::IncompatibleOrder, Anomaly::DuplicateElements, Anomaly::GarbageRead];
/// What read committed adds: no aborted, intermediate or circular information flow.
const READ_COMMITTED: &[Anomaly] =
    &[Anomaly::G1a, Anomaly::G1b, Anomaly::G1c, Anomaly::DirtyUpdate];
/// What snapshot isolation adds (generalized SI: every cycle has two adjacent rw edges).
const SNAPSHOT: &[Anomaly] = &[Anomaly::Internal, Anomaly::GSingle, Anomaly::GNonadjacent];
/// What repeatable read adds: no cycle with an item anti-dependency at all.
const REPEATABLE: &[Anomaly] =
    &[Anomaly::Internal, Anomaly::GSingle, Anomaly::GNonadjacent, Anomaly::G2Item];

impl ConsistencyModel {
    /// Whether the model forbids `anomaly` (so a history with it violates the model).
    pub fn forbids(self, anomaly: Anomaly) -> bool {
        use ConsistencyModel as M;
        if let Some((shape, variant)) = anomaly.as_cycle() {
            let plain = Anomaly::cycle(shape, Variant::Plain);
            return match variant {
                Variant::Plain => self.forbids_plain(plain),
                Variant::Process => {
                    matches!(self, M::StrictSerializable | M::StrongSessionSerializable)
                }
                Variant::Realtime => self == M::StrictSerializable,
            };
        }
        self.forbids_plain(anomaly)
    }

    fn forbids_plain(self, a: Anomaly) -> bool {
        use ConsistencyModel as M;
        let read_committed = NO_MODEL.contains(&a) || READ_COMMITTED.contains(&a);
        match self {
            M::ReadUncommitted => NO_MODEL.contains(&a),
            M::ReadCommitted => read_committed,
            M::RepeatableRead => read_committed || REPEATABLE.contains(&a),
            M::SnapshotIsolation => read_committed || SNAPSHOT.contains(&a),
            M::Serializable | M::StrongSessionSerializable | M::StrictSerializable => true,
        }
    }

    /// The models that `anomalies` rule out, strongest first.
    pub fn ruled_out(anomalies: &[Anomaly]) -> Vec<ConsistencyModel> {
        ConsistencyModel::ALL
            .iter()
            .copied()
            .filter(|m| anomalies.iter().any(|a| m.forbids(*a)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Anomaly::ALL {
            assert_eq!(a.name().parse::<Anomaly>(), Ok(*a));
        }
        for m in ConsistencyModel::ALL {
            assert_eq!(m.name().parse::<ConsistencyModel>(), Ok(*m));
        }
        assert!("snapshot".parse::<ConsistencyModel>().unwrap_err().contains("serializable"));
    }

    #[test]
    fn a_stronger_model_forbids_what_a_weaker_one_does() {
        use ConsistencyModel as M;
        let implies = [
            (M::StrictSerializable, M::StrongSessionSerializable),
            (M::StrongSessionSerializable, M::Serializable),
            (M::Serializable, M::SnapshotIsolation),
            (M::Serializable, M::RepeatableRead),
            (M::SnapshotIsolation, M::ReadCommitted),
            (M::RepeatableRead, M::ReadCommitted),
            (M::ReadCommitted, M::ReadUncommitted),
        ];
        for (strong, weak) in implies {
            for a in Anomaly::ALL {
                assert!(!weak.forbids(*a) || strong.forbids(*a), "{strong} {weak} {a}");
            }
        }
        assert!(M::SnapshotIsolation.forbids(Anomaly::GNonadjacent));
        assert!(!M::SnapshotIsolation.forbids(Anomaly::G2Item));
        assert!(M::RepeatableRead.forbids(Anomaly::G2Item));
        assert!(!M::Serializable.forbids(Anomaly::GSingleRealtime));
        assert!(M::StrictSerializable.forbids(Anomaly::G0Process));
        assert_eq!(
            M::ruled_out(&[Anomaly::G2ItemRealtime]),
            vec![M::StrictSerializable],
            "a real-time cycle rules out only strict serializability"
        );
        assert_eq!(Anomaly::cycle(Shape::G1c, Variant::Process), Anomaly::G1cProcess);
        assert_eq!(Anomaly::GSingleRealtime.as_cycle(), Some((Shape::GSingle, Variant::Realtime)));
    }
}
