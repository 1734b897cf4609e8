//! What a polynomial checker or a certificate concludes for one key ([`Decision`]), and how
//! its evidence is worded: a leaf that `unique` and `visible` both build on.

use crate::history::{show_time, Operation};
use crate::verdict::{Counterexample, StuckOp};

/// What a polynomial checker concluded for one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A linearization: history operation ids in order (empty unless a witness was asked).
    Linearizable(Vec<usize>),
    /// No linearization exists, with the evidence.
    Illegal(Counterexample),
}

/// An operation in words for explanations: `write(5) by process 3 (t=1.2ms..1.5ms)`.
pub(crate) fn who(op: &Operation, what: &str) -> String {
    let ret = op.ret.map_or_else(|| "never completed".to_string(), show_time);
    format!(
        "{what} by process {} (invoked at t={}, completed at t={ret})",
        op.process,
        show_time(op.call)
    )
}

/// Builds the evidence: the prefix (valid order found), the operations involved with their
/// roles (an operation named twice gets both roles), the one whose completion made it
/// impossible, and the paragraph.
pub(crate) fn counterexample(
    prefix: Vec<usize>,
    state: String,
    stuck: Vec<(usize, String)>,
    blocking: usize,
    explanation: String,
) -> Counterexample {
    let mut ops: Vec<StuckOp> = Vec::with_capacity(stuck.len());
    for (op, reason) in stuck {
        match ops.iter_mut().find(|s| s.op == op) {
            Some(s) => {
                s.reason.push_str("; ");
                s.reason.push_str(&reason);
            }
            None => ops.push(StuckOp { op, reason }),
        }
    }
    Counterexample { prefix, state, stuck: ops, blocking: Some(blocking), explanation }
}
