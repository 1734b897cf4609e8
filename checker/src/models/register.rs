//! `register` (read/write) and `cas-register` (read/write/cas) over integer values.
//!
//! Exact simplification: a value that no read returns and no cas compares against can never
//! be told apart from any other such value, so all of them become [`RegState::Unobserved`].
//! Without observed compare failures (`cas-mismatch`), `Unobserved` is the weakest state
//! (every state can do all it can), so an unknown write of an unobserved value is dropped.

use rustc_hash::FxHashSet;
use serde_json::Value;

use crate::history::{Operation, Outcome};
use crate::model::Model;
use crate::models::{bad_value, cas_pair, is_mismatch, unknown_f, value_unknown, Side};

/// A register value (`None` is null: unset).
pub type RegValue = Option<i64>;

/// A register's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegState {
    /// A value some operation observes.
    Value(RegValue),
    /// Any value no operation observes.
    Unobserved,
}

/// A register operation's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegInput {
    /// Read the value.
    Read,
    /// Write a value.
    Write(i64),
    /// Set to `new` if the value is `expected`.
    Cas(RegValue, i64),
}

/// A register operation's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegOutput {
    /// A read returned this.
    Read(RegValue),
    /// A write or cas took effect.
    Done,
    /// A cas compared and did not match.
    Mismatch,
}

/// The register models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// The value before any write.
    pub initial: RegValue,
    /// Whether `cas` is allowed (`cas-register`).
    pub cas: bool,
}

/// Facts about a partition: the observed values, and whether a mismatch was observed.
#[derive(Debug, Default)]
pub struct RegHints {
    observed: FxHashSet<RegValue>,
    negative: bool,
}

fn int(op: &Operation, side: Side, v: &Value, what: &str) -> Result<i64, String> {
    v.as_i64().ok_or_else(|| bad_value(op, side, what, "an integer", v))
}

fn int_or_null(op: &Operation, side: Side, v: &Value, what: &str) -> Result<RegValue, String> {
    if v.is_null() {
        Ok(None)
    } else {
        int(op, side, v, what).map(Some)
    }
}

fn show(v: RegValue) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

impl Model for Register {
    type State = RegState;
    type Input = RegInput;
    type Output = RegOutput;
    type Hints = RegHints;

    fn name(&self) -> &'static str {
        if self.cas {
            "cas-register"
        } else {
            "register"
        }
    }

    fn init(&self) -> RegState {
        RegState::Value(self.initial)
    }

    fn convert(&self, op: &Operation) -> Result<Option<(RegInput, Option<RegOutput>)>, String> {
        let known = op.outcome == Outcome::Ok;
        match op.f.as_str() {
            // An unfinished or failed read, or one whose value is unknown, constrains nothing.
            "read" => Ok(if known && !value_unknown(op) {
                let v = int_or_null(op, Side::Completion, &op.output, "a read result")?;
                Some((RegInput::Read, Some(RegOutput::Read(v))))
            } else {
                None
            }),
            "write" => {
                let v = int(op, Side::Invoke, &op.input, "a write value")?;
                Ok(match op.outcome {
                    Outcome::Ok => Some((RegInput::Write(v), Some(RegOutput::Done))),
                    Outcome::Unknown => Some((RegInput::Write(v), None)),
                    Outcome::Fail => None,
                })
            }
            "cas" if self.cas => {
                let (e, n) = cas_pair(op)?;
                let input = RegInput::Cas(
                    int_or_null(op, Side::Invoke, e, "a cas's expected value")?,
                    int(op, Side::Invoke, n, "a cas's new value")?,
                );
                Ok(match op.outcome {
                    Outcome::Ok => Some((input, Some(RegOutput::Done))),
                    Outcome::Unknown => Some((input, None)),
                    Outcome::Fail if is_mismatch(op) => Some((input, Some(RegOutput::Mismatch))),
                    Outcome::Fail => None,
                })
            }
            _ => Err(unknown_f(
                op,
                self.name(),
                if self.cas { "read, write or cas" } else { "read or write" },
            )),
        }
    }

    fn step(&self, s: &RegState, input: &RegInput, out: Option<&RegOutput>) -> Option<RegState> {
        match (input, out) {
            (RegInput::Read, Some(RegOutput::Read(v))) => (*s == RegState::Value(*v)).then_some(*s),
            (RegInput::Read, _) => Some(*s),
            (RegInput::Write(v), _) => Some(RegState::Value(Some(*v))),
            (RegInput::Cas(e, n), Some(RegOutput::Done)) => {
                (*s == RegState::Value(*e)).then_some(RegState::Value(Some(*n)))
            }
            (RegInput::Cas(e, _), Some(RegOutput::Mismatch)) => {
                (*s != RegState::Value(*e)).then_some(*s)
            }
            (RegInput::Cas(e, n), _) => {
                Some(if *s == RegState::Value(*e) { RegState::Value(Some(*n)) } else { *s })
            }
        }
    }

    fn hints(&self, ops: &[(RegInput, Option<RegOutput>)]) -> RegHints {
        let mut h = RegHints::default();
        for (input, out) in ops {
            match (input, out) {
                (RegInput::Read, Some(RegOutput::Read(v))) => {
                    h.observed.insert(*v);
                }
                (RegInput::Cas(e, _), out) => {
                    h.observed.insert(*e);
                    h.negative |= *out == Some(RegOutput::Mismatch);
                }
                _ => {}
            }
        }
        h
    }

    fn canonical(&self, h: &RegHints, s: RegState) -> RegState {
        match s {
            RegState::Value(v) if !h.observed.contains(&v) => RegState::Unobserved,
            s => s,
        }
    }

    fn droppable(&self, h: &RegHints, input: &RegInput) -> bool {
        match input {
            RegInput::Read => true,
            RegInput::Write(v) | RegInput::Cas(_, v) => {
                !h.negative && !h.observed.contains(&Some(*v))
            }
        }
    }

    fn is_observer(&self, input: &RegInput, out: Option<&RegOutput>) -> bool {
        matches!(
            (input, out),
            (RegInput::Read, Some(RegOutput::Read(_)))
                | (RegInput::Cas(..), Some(RegOutput::Mismatch))
        )
    }

    fn describe_op(&self, input: &RegInput, out: Option<&RegOutput>) -> String {
        let base = match input {
            RegInput::Read => "read".to_string(),
            RegInput::Write(v) => format!("write({v})"),
            RegInput::Cas(e, n) => format!("cas({}→{n})", show(*e)),
        };
        match out {
            Some(RegOutput::Read(v)) => format!("{base} → {}", show(*v)),
            Some(RegOutput::Mismatch) => format!("{base} failed: no match"),
            Some(RegOutput::Done) => base,
            None => format!("{base} (outcome unknown)"),
        }
    }

    fn describe_state(&self, s: &RegState) -> String {
        match s {
            RegState::Value(v) => show(*v),
            RegState::Unobserved => "a value no operation reads".to_string(),
        }
    }

    fn explain(&self, s: &RegState, input: &RegInput, out: Option<&RegOutput>) -> String {
        let now = self.describe_state(s);
        match (input, out) {
            (RegInput::Read, Some(RegOutput::Read(v))) => {
                format!("it read {}, while the value is {now}", show(*v))
            }
            (RegInput::Cas(e, _), Some(RegOutput::Done)) => {
                format!("it expected {} and succeeded, while the value is {now}", show(*e))
            }
            (RegInput::Cas(e, _), Some(RegOutput::Mismatch)) => {
                format!("it found no {}, while the value is {now}", show(*e))
            }
            _ => {
                format!("{} is not possible when the value is {now}", self.describe_op(input, out))
            }
        }
    }
}
