//! Transactions as the checker sees them: each history operation of `f` `txn` turned into
//! micro-ops over interned keys and values (dense `u32`s), so the inference works on
//! vectors and never hashes a string twice.
//!
//! ```text
//!  Operation { f: "txn", input, output } ──read──▶ Txn { status, mops } + Mop*
//!      ["append", k, v]                            Append(k, v)
//!      ["w", k, v]                                 Write(k, v)
//!      ["r", k, [..] | v | null]                   ReadList / ReadValue / ReadNil / ReadUnknown
//! ```
//!
//! A completed list read of `null` is the empty list (as Elle reads Jepsen histories).
//!
//! ```text
//! ```
//!
//! Keys and values are JSON integers or strings, kept distinct (`1` is not `"1"`). An `ok`
//! transaction's micro-ops come from its completion, which must repeat the invoke's
//! functions, keys and written values; the others' come from the invoke, with reads unknown.

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::error::{shown, HistoryError};
use crate::history::{History, Operation, Outcome};
use crate::txn::names::TxnModel;

/// An interned key or value: an index into [`Interner::items`].
pub type Id = u32;

/// A key or value as written in the history.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// A JSON integer.
    Int(i64),
    /// A JSON string.
    Str(Box<str>),
}

impl Scalar {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Scalar::Int(i) => Value::from(*i),
            Scalar::Str(s) => Value::from(s.as_ref()),
        }
    }
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// Dense ids for scalars; integers take a map without string hashing.
#[derive(Debug, Default)]
pub struct Interner {
    ints: FxHashMap<i64, Id>,
    strs: FxHashMap<Box<str>, Id>,
    /// The scalar of each id.
    pub items: Vec<Scalar>,
}

impl Interner {
    fn int(&mut self, i: i64) -> Id {
        let next = self.items.len() as Id;
        *self.ints.entry(i).or_insert_with(|| {
            self.items.push(Scalar::Int(i));
            next
        })
    }

    fn str(&mut self, s: &str) -> Id {
        if let Some(id) = self.strs.get(s) {
            return *id;
        }
        let id = self.items.len() as Id;
        self.items.push(Scalar::Str(s.into()));
        self.strs.insert(s.into(), id);
        id
    }

    /// The id of a JSON integer or string; `None` for anything else.
    fn scalar(&mut self, v: &Value) -> Option<Id> {
        match v {
            Value::Number(n) => n.as_i64().map(|i| self.int(i)),
            Value::String(s) => Some(self.str(s)),
            _ => None,
        }
    }
}

/// What a micro-op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MopKind {
    /// `["append", k, v]`: `a` is the value.
    Append,
    /// `["w", k, v]`: `a` is the value.
    Write,
    /// A read whose result is not known (not `ok`).
    ReadUnknown,
    /// A list read: `a` is the start in [`Txns::elems`], `b` the length.
    ReadList,
    /// A register read of a value: `a` is the value.
    ReadValue,
    /// A register read of nothing (`null`: the key was never written).
    ReadNil,
}

/// One micro-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mop {
    /// What it does.
    pub kind: MopKind,
    /// The key.
    pub key: Id,
    /// The value, or the start of a list.
    pub a: u32,
    /// The length of a list.
    pub b: u32,
}

impl Mop {
    /// Whether it writes (an append or a write).
    pub fn is_write(&self) -> bool {
        matches!(self.kind, MopKind::Append | MopKind::Write)
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Committed.
    Ok,
    /// Unknown: it may have committed.
    Info,
    /// Certainly did not commit.
    Fail,
}

/// One transaction.
#[derive(Debug, Clone, Copy)]
pub struct Txn {
    /// Its operation's id in [`History::ops`].
    pub op: u32,
    /// How it ended.
    pub status: Status,
    /// Its micro-ops: `mops[start..end]`.
    pub start: u32,
    /// End of its micro-ops.
    pub end: u32,
}

/// Every transaction of a history, with interned keys and values.
#[derive(Debug, Default)]
pub struct Txns {
    /// Transactions, in the order of the history's operations.
    pub txns: Vec<Txn>,
    /// All micro-ops.
    pub mops: Vec<Mop>,
    /// The elements of all list reads.
    pub elems: Vec<Id>,
    /// Keys and values.
    pub names: Interner,
}

impl Txns {
    /// The micro-ops of transaction `t`.
    pub fn mops(&self, t: usize) -> &[Mop] {
        let x = &self.txns[t];
        &self.mops[x.start as usize..x.end as usize]
    }

    /// The micro-ops of `kind` (the writes of a model) in transaction `t`, last first, each
    /// with whether it is the transaction's last of its key; `seen` is scratch space.
    pub fn writes_last_first<'a>(
        &'a self,
        t: usize,
        kind: MopKind,
        seen: &'a mut Vec<Id>,
    ) -> impl Iterator<Item = (&'a Mop, bool)> + 'a {
        seen.clear();
        self.mops(t).iter().rev().filter(move |m| m.kind == kind).map(move |m| {
            let last = !seen.contains(&m.key);
            if last {
                seen.push(m.key);
            }
            (m, last)
        })
    }

    /// A key and a value as one map key.
    pub fn pack(k: Id, v: Id) -> u64 {
        (u64::from(k) << 32) | u64::from(v)
    }

    /// The elements of a [`MopKind::ReadList`].
    pub fn list(&self, m: &Mop) -> &[Id] {
        &self.elems[m.a as usize..(m.a + m.b) as usize]
    }

    /// Reads every operation of `history` as a transaction of `model`.
    ///
    /// # Errors
    /// An operation whose `f` is not `txn`, or whose value is not a list of micro-ops of the
    /// model (naming the line and the field `value`), or whose completion does not repeat
    /// its invoke.
    pub fn read(history: &History, model: TxnModel) -> Result<Txns, HistoryError> {
        let mut out = Txns::default();
        out.txns.reserve(history.ops.len());
        for op in &history.ops {
            out.push(op, model)?;
        }
        Ok(out)
    }

    fn push(&mut self, op: &Operation, model: TxnModel) -> Result<(), HistoryError> {
        if op.f != "txn" {
            return Err(HistoryError::at(
                op.invoke_line,
                "f",
                format!("expected \"txn\" for the {} model, got {}", model, shown(&op.f)),
            ));
        }
        let status = match op.outcome {
            Outcome::Ok => Status::Ok,
            Outcome::Fail => Status::Fail,
            Outcome::Unknown => Status::Info,
        };
        let start = self.mops.len() as u32;
        let invoke = self.parse(&op.input, false, op.invoke_line, model)?;
        if status == Status::Ok && !op.output.is_null() {
            let line = op.complete_line.unwrap_or(op.invoke_line);
            let done = self.parse(&op.output, true, line, model)?;
            if done.len() != invoke.len() {
                return Err(HistoryError::at(
                    line,
                    "value",
                    format!(
                        "the completion has {} micro-ops, its invoke (line {}) {}",
                        done.len(),
                        op.invoke_line,
                        invoke.len()
                    ),
                ));
            }
            for (i, (a, b)) in invoke.iter().zip(&done).enumerate() {
                let same = a.key == b.key
                    && (a.is_write() == b.is_write())
                    && (!a.is_write() || (a.kind == b.kind && a.a == b.a));
                if !same {
                    return Err(HistoryError::at(
                        line,
                        "value",
                        format!(
                            "micro-op {i} of the completion differs from its invoke's (line {})",
                            op.invoke_line
                        ),
                    ));
                }
            }
            self.mops.extend(done);
        } else {
            self.mops.extend(invoke);
        }
        let end = self.mops.len() as u32;
        self.txns.push(Txn { op: op.id as u32, status, start, end });
        Ok(())
    }

    /// Parses a transaction's value into micro-ops (returned, not yet pushed); `done` says
    /// whether read results are known.
    fn parse(
        &mut self,
        value: &Value,
        done: bool,
        line: usize,
        model: TxnModel,
    ) -> Result<Vec<Mop>, HistoryError> {
        let bad = |msg: String| HistoryError::at(line, "value", msg);
        let Value::Array(items) = value else {
            return Err(bad(format!(
                "expected a list of micro-ops like [\"r\", k, null], got {}",
                shown(value)
            )));
        };
        let mut mops = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let parts = match item {
                Value::Array(p) if p.len() == 3 => p,
                _ => {
                    return Err(bad(format!(
                        "micro-op {i}: expected [f, key, value], got {}",
                        shown(item)
                    )))
                }
            };
            let key = self.names.scalar(&parts[1]).ok_or_else(|| {
                bad(format!(
                    "micro-op {i}: the key must be an integer or a string, got {}",
                    shown(&parts[1])
                ))
            })?;
            let scalar = |names: &mut Interner, v: &Value| {
                names.scalar(v).ok_or_else(|| {
                    bad(format!(
                        "micro-op {i}: the value must be an integer or a string, got {}",
                        shown(v)
                    ))
                })
            };
            let f = parts[0].as_str().unwrap_or("");
            let v = &parts[2];
            let mop = match (f, model) {
                ("append", TxnModel::ListAppend) => {
                    Mop { kind: MopKind::Append, key, a: scalar(&mut self.names, v)?, b: 0 }
                }
                ("w", TxnModel::RwRegister) => {
                    Mop { kind: MopKind::Write, key, a: scalar(&mut self.names, v)?, b: 0 }
                }
                ("r", _) if !done => Mop { kind: MopKind::ReadUnknown, key, a: 0, b: 0 },
                ("r", TxnModel::ListAppend) => match v {
                    // As Elle reads it: a completed read of nothing is the empty list.
                    Value::Null => Mop { kind: MopKind::ReadList, key, a: 0, b: 0 },
                    Value::Array(list) => {
                        let a = self.elems.len() as u32;
                        for e in list {
                            let id = scalar(&mut self.names, e)?;
                            self.elems.push(id);
                        }
                        Mop { kind: MopKind::ReadList, key, a, b: list.len() as u32 }
                    }
                    other => {
                        return Err(bad(format!(
                            "micro-op {i}: a list-append read returns a list, got {}",
                            shown(other)
                        )))
                    }
                },
                ("r", TxnModel::RwRegister) => match v {
                    Value::Null => Mop { kind: MopKind::ReadNil, key, a: 0, b: 0 },
                    v => {
                        Mop { kind: MopKind::ReadValue, key, a: scalar(&mut self.names, v)?, b: 0 }
                    }
                },
                _ => {
                    let want = match model {
                        TxnModel::ListAppend => "\"append\" or \"r\"",
                        TxnModel::RwRegister => "\"w\" or \"r\"",
                    };
                    return Err(bad(format!(
                        "micro-op {i}: expected {want} for the {model} model, got {}",
                        shown(&parts[0])
                    )));
                }
            };
            mops.push(mop);
        }
        Ok(mops)
    }
}
