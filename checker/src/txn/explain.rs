//! Names and words: how reports name transactions, keys and values, and how each edge of a
//! cycle is explained ("T1 appended 3 to x; T2 read x without 3, so T2 < T1 (rw)").

use crate::history::History;
use crate::txn::graph::{Dep, EdgeKind, NONE};
use crate::txn::names::TxnModel;
use crate::txn::ops::{Id, Status, Txns};
use crate::txn::result::{EdgeReport, TxnRef};

/// What the reports need to name things.
pub struct Ctx<'a> {
    /// The history read.
    pub history: &'a History,
    /// Its transactions.
    pub txns: &'a Txns,
    /// How they were read.
    pub model: TxnModel,
}

impl Ctx<'_> {
    /// `T` and the history index of the transaction's invoke.
    pub fn name(&self, t: u32) -> String {
        format!("T{}", self.op(t).invoke_index)
    }

    fn op(&self, t: u32) -> &crate::history::Operation {
        &self.history.ops[self.txns.txns[t as usize].op as usize]
    }

    /// A key or value as JSON text.
    pub fn show(&self, id: Id) -> String {
        self.txns.names.items.get(id as usize).map_or_else(|| "?".into(), |s| s.to_string())
    }

    /// A list of values as JSON text.
    pub fn show_list(&self, ids: &[Id]) -> String {
        let items: Vec<String> = ids.iter().map(|i| self.show(*i)).collect();
        format!("[{}]", items.join(", "))
    }

    /// The transaction as a report names it.
    pub fn txn_ref(&self, t: u32) -> TxnRef {
        let op = self.op(t);
        let done = self.txns.txns[t as usize].status == Status::Ok && !op.output.is_null();
        TxnRef {
            name: self.name(t),
            op: op.id,
            index: op.invoke_index,
            process: op.process,
            line: op.complete_line.unwrap_or(op.invoke_line),
            value: if done { op.output.clone() } else { op.input.clone() },
        }
    }

    /// An edge for a report.
    pub fn edge(&self, from: u32, to: u32, d: &Dep) -> EdgeReport {
        let json = |id: Id| {
            (id != NONE).then(|| self.txns.names.items.get(id as usize).map(|s| s.to_json()))?
        };
        EdgeReport {
            from: self.name(from),
            to: self.name(to),
            kind: d.kind,
            key: json(d.key),
            value: json(d.value),
        }
    }

    /// One edge in words.
    pub fn sentence(&self, from: u32, to: u32, d: &Dep) -> String {
        let (a, b) = (self.name(from), self.name(to));
        let (k, v) = (self.show(d.key), self.show(d.value));
        let (did, wrote) = match self.model {
            TxnModel::ListAppend => ("appended", "append of"),
            TxnModel::RwRegister => ("wrote", "write of"),
        };
        match d.kind {
            EdgeKind::Ww => format!(
                "{b} {did} {v} to {k} after {a}'s {wrote} an earlier version, so {a} < {b} (ww)"
            ),
            EdgeKind::Wr => format!("{b} read {k} and saw {a}'s {wrote} {v}, so {a} < {b} (wr)"),
            EdgeKind::Rw => match self.model {
                TxnModel::ListAppend => {
                    format!("{a} read {k} without {b}'s append of {v}, so {a} < {b} (rw)")
                }
                TxnModel::RwRegister => format!(
                    "{a} read a version of {k} from before {b}'s write of {v}, so {a} < {b} (rw)"
                ),
            },
            EdgeKind::Process => format!(
                "{a} completed before {b} began on the same process ({}), so {a} < {b} (process)",
                self.op(from).process
            ),
            EdgeKind::Realtime => {
                format!("{a} completed before {b} began, so {a} < {b} (realtime)")
            }
        }
    }

    /// A whole cycle in words: one sentence an edge, then the contradiction.
    pub fn cycle_text(&self, cycle: &[(u32, u32, Dep)]) -> String {
        let mut out = String::new();
        for (a, b, d) in cycle {
            out.push_str(&self.sentence(*a, *b, d));
            out.push_str(". ");
        }
        let mut names: Vec<String> = cycle.iter().map(|(a, _, _)| self.name(*a)).collect();
        if let Some((a, _, _)) = cycle.first() {
            names.push(self.name(*a));
        }
        out.push_str(&format!("However, {}: a cycle.", names.join(" < ")));
        out
    }
}
