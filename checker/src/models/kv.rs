//! One key of the Get/Put/Append store (MIT 6.824's KV), plus cas and delete. An absent key
//! reads as `""`.
//!
//! Exact simplification: a value that is not a prefix of any value a get returns or a cas
//! compares against can never become one by appending, so all such values are one state,
//! [`KvState::Dead`], until a put or delete replaces them. Orders of concurrent appends that
//! no read can agree with therefore merge in the search cache instead of multiplying. Without
//! observed compare failures, `Dead` is the weakest state, so an unknown put whose value is
//! dead, or an unknown append of a string no observed value contains, is dropped.

use serde_json::Value;

use crate::history::{Operation, Outcome};
use crate::model::Model;
use crate::models::{bad_value, cas_pair, ellipsize, is_mismatch, unknown_f, value_unknown, Side};

/// The state of one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvState {
    /// The value (a prefix of some observed value).
    Value(String),
    /// A value no remaining get or cas can match until it is replaced.
    Dead,
}

/// A kv operation's input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvInput {
    /// Read the value.
    Get,
    /// Replace the value.
    Put(String),
    /// Append to the value.
    Append(String),
    /// Replace with `new` if the value is `expected`.
    Cas(String, String),
    /// Remove the key (it then reads as `""`).
    Delete,
}

/// A kv operation's output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvOutput {
    /// A get returned this.
    Get(String),
    /// A write took effect.
    Done,
    /// A cas compared and did not match.
    Mismatch,
}

/// The kv model (one key; lift it with [`crate::models::Whole`] for a whole map).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kv;

/// Facts about a partition: observed values (sorted), and whether a mismatch was observed.
#[derive(Debug, Default)]
pub struct KvHints {
    observed: Vec<String>,
    negative: bool,
}

impl KvHints {
    fn is_live(&self, s: &str) -> bool {
        let i = self.observed.partition_point(|o| o.as_str() < s);
        self.observed.get(i).is_some_and(|o| o.starts_with(s))
    }
}

fn string(op: &Operation, side: Side, v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(bad_value(op, side, what, "a string", other)),
    }
}

impl Model for Kv {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;
    type Hints = KvHints;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::Value(String::new())
    }

    fn convert(&self, op: &Operation) -> Result<Option<(KvInput, Option<KvOutput>)>, String> {
        let write = |input: KvInput| match op.outcome {
            Outcome::Ok => Some((input, Some(KvOutput::Done))),
            Outcome::Unknown => Some((input, None)),
            Outcome::Fail => None,
        };
        match op.f.as_str() {
            // As for registers, a read whose value is unknown constrains nothing.
            "get" | "read" => Ok(if op.outcome == Outcome::Ok && !value_unknown(op) {
                let v = string(op, Side::Completion, &op.output, "a get result")?;
                Some((KvInput::Get, Some(KvOutput::Get(v))))
            } else {
                None
            }),
            "put" | "write" => {
                Ok(write(KvInput::Put(string(op, Side::Invoke, &op.input, "a put value")?)))
            }
            "append" => {
                Ok(write(KvInput::Append(string(op, Side::Invoke, &op.input, "an append value")?)))
            }
            "delete" => Ok(write(KvInput::Delete)),
            "cas" => {
                let (e, n) = cas_pair(op)?;
                let input = KvInput::Cas(
                    string(op, Side::Invoke, e, "a cas's expected value")?,
                    string(op, Side::Invoke, n, "a cas's new value")?,
                );
                Ok(if op.outcome == Outcome::Fail && is_mismatch(op) {
                    Some((input, Some(KvOutput::Mismatch)))
                } else {
                    write(input)
                })
            }
            _ => Err(unknown_f(op, "kv", "get, put, append, cas or delete")),
        }
    }

    fn step(&self, s: &KvState, input: &KvInput, out: Option<&KvOutput>) -> Option<KvState> {
        let is = |v: &str| matches!(s, KvState::Value(x) if x == v);
        match (input, out) {
            (KvInput::Get, Some(KvOutput::Get(v))) => is(v).then(|| s.clone()),
            (KvInput::Get, _) => Some(s.clone()),
            (KvInput::Put(v), _) => Some(KvState::Value(v.clone())),
            (KvInput::Delete, _) => Some(KvState::Value(String::new())),
            (KvInput::Append(x), _) => Some(match s {
                KvState::Value(v) => KvState::Value(format!("{v}{x}")),
                KvState::Dead => KvState::Dead,
            }),
            (KvInput::Cas(e, n), Some(KvOutput::Done)) => is(e).then(|| KvState::Value(n.clone())),
            (KvInput::Cas(e, _), Some(KvOutput::Mismatch)) => (!is(e)).then(|| s.clone()),
            (KvInput::Cas(e, n), _) => {
                Some(if is(e) { KvState::Value(n.clone()) } else { s.clone() })
            }
        }
    }

    fn hints(&self, ops: &[(KvInput, Option<KvOutput>)]) -> KvHints {
        let mut h = KvHints::default();
        for (input, out) in ops {
            match (input, out) {
                (KvInput::Get, Some(KvOutput::Get(v))) => h.observed.push(v.clone()),
                (KvInput::Cas(e, _), out) => {
                    h.observed.push(e.clone());
                    h.negative |= *out == Some(KvOutput::Mismatch);
                }
                _ => {}
            }
        }
        h.observed.sort_unstable();
        h.observed.dedup();
        h
    }

    fn canonical(&self, h: &KvHints, s: KvState) -> KvState {
        match s {
            KvState::Value(v) if !h.is_live(&v) => KvState::Dead,
            s => s,
        }
    }

    fn droppable(&self, h: &KvHints, input: &KvInput) -> bool {
        if h.negative {
            return matches!(input, KvInput::Get);
        }
        match input {
            KvInput::Get => true,
            KvInput::Put(v) | KvInput::Cas(_, v) => !h.is_live(v),
            KvInput::Append(x) => !h.observed.iter().any(|o| o.contains(x.as_str())),
            KvInput::Delete => h.observed.is_empty(),
        }
    }

    fn describe_op(&self, input: &KvInput, out: Option<&KvOutput>) -> String {
        let q = |s: &str| format!("{:?}", ellipsize(s, 40));
        let base = match input {
            KvInput::Get => "get".to_string(),
            KvInput::Put(v) => format!("put({})", q(v)),
            KvInput::Append(v) => format!("append({})", q(v)),
            KvInput::Cas(e, n) => format!("cas({}→{})", q(e), q(n)),
            KvInput::Delete => "delete".to_string(),
        };
        match out {
            Some(KvOutput::Get(v)) => format!("{base} → {}", q(v)),
            Some(KvOutput::Mismatch) => format!("{base} failed: no match"),
            Some(KvOutput::Done) => base,
            None => format!("{base} (outcome unknown)"),
        }
    }

    fn describe_state(&self, s: &KvState) -> String {
        match s {
            KvState::Value(v) => format!("{:?}", ellipsize(v, 60)),
            KvState::Dead => "a value no later get can return until it is replaced".to_string(),
        }
    }

    fn explain(&self, s: &KvState, input: &KvInput, out: Option<&KvOutput>) -> String {
        match (input, out) {
            (KvInput::Get, Some(KvOutput::Get(v))) => format!(
                "it returned {:?}, while the value is {}",
                ellipsize(v, 60),
                self.describe_state(s)
            ),
            _ => format!(
                "{} is impossible while the value is {}",
                self.describe_op(input, out),
                self.describe_state(s)
            ),
        }
    }
}
