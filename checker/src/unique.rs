//! Polynomial checkers for keys whose writes all write distinct values, chosen per key before
//! the WGL search, which stays the fallback for every key they do not accept.
//!
//! ```text
//!  ops of one key ──convert (the model's own)──▶ qualifies? ──no──▶ None: WGL decides
//!                                                   │yes
//!          register: values → clusters (write + its reads) → blocks (chains of cas)
//!          append:   longest get → order of appends → stages (append + gets that end there)
//!                                                   │
//!                    stages::run per block (earliest instant each op can take effect)
//!                    order blocks (register) by real time; a 2-cycle is the violation
//!                                                   ▼
//!                             Decision::Linearizable(order) | Decision::Illegal(evidence)
//! ```
//!
//! Why unique values make it polynomial: each read names the one write it read from, so a
//! linearization is fixed up to the order of *blocks* (a write, the reads of its value, and the
//! operations chained to it by successful cas), and each block must be contiguous (its value
//! exists once and never comes back). Gibbons & Korach ("Testing shared memories", SIAM J.
//! Comput. 1997) show the read-mapped register problem is polynomial; [`stages`] gives the
//! exact condition used here: blocks `i` before `j` is possible iff no operation of `j`
//! returned before an operation of `i` was invoked, so a linearization exists iff that
//! precedence relation is acyclic — and when it is not, two blocks each have an operation that
//! returned before the other's was invoked.
//!
//! `info` operations are exact: one whose value some kept operation observes must have
//! happened (it is kept with no deadline); one nobody observes is left out, which never turns
//! a valid order invalid (see each checker's docs).
//!
//! # Layout
//! - [`stages`]: an ordered list of stages (free order inside one), scheduled at the earliest
//!   instants; what it needs from the blocks before it.
//! - [`register`]: `register` and `cas-register`.
//! - [`append`]: `kv` keys with only gets and appends.

pub mod append;
pub mod register;
pub mod stages;

#[cfg(test)]
mod compare_test;

use crate::error::CheckError;
use crate::history::Operation;

pub use crate::decision::Decision;
pub(crate) use crate::decision::{counterexample, who};

/// Whether values must be unique (`--unique-values`) or are only used when they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Uniqueness {
    /// Use a polynomial checker for the keys that qualify, WGL for the others.
    #[default]
    Detect,
    /// A value written twice in a key is an error (exit 3) naming the operation.
    Require,
    /// Never use the polynomial checkers, the certificates ([`crate::visible`]) or the
    /// search's symmetry reductions: plain WGL for every key, the baseline for comparisons.
    Off,
}

/// The error for a value written twice under [`Uniqueness::Require`].
pub(crate) fn not_unique(op: &Operation, first: &Operation, value: &str) -> CheckError {
    CheckError::Model {
        op: op.id,
        index: op.invoke_index,
        message: format!(
            "--unique-values: value {value} is written again (first by operation {} at history \
             index {})",
            first.id, first.invoke_index
        ),
    }
}
