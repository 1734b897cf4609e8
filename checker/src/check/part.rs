//! One partition: convert its operations to the model, simplify exactly, search, and turn the
//! search's answer into a [`KeyResult`] with words a person can read.

pub(crate) use crate::history::show_time;
pub(crate) use crate::model::convert;
use std::time::Instant;

use crate::error::CheckError;
use crate::history::Operation;
use crate::model::Model;
use crate::unique::Decision;
use crate::verdict::{Counterexample, Decider, KeyResult, SearchStats, StuckOp, Verdict};
use crate::wgl::{self, Limits, SearchOp, SearchResult};

/// Checks the operations of one key (or of the whole history) under `model`, with the
/// search's symmetry reductions when `reduce` (the key then names [`Decider::WglSymmetric`]
/// if they cut anything).
///
/// # Errors
/// [`CheckError::Model`] when an operation does not fit the model.
pub fn check_part<M: Model>(
    model: &M,
    key: Option<String>,
    ops: &[&Operation],
    limits: &Limits,
    witness: bool,
    reduce: bool,
) -> Result<KeyResult, CheckError> {
    let started = Instant::now();
    let mut converted = Vec::with_capacity(ops.len());
    for op in ops {
        if let Some((input, output)) = convert(model, op)? {
            converted.push((op, input, output));
        }
    }
    let pairs: Vec<(M::Input, Option<M::Output>)> =
        converted.iter().map(|(_, i, o)| (i.clone(), o.clone())).collect();
    let hints = model.hints(&pairs);
    let search_ops: Vec<SearchOp<M::Input, M::Output>> = converted
        .into_iter()
        .filter(|(_, input, output)| output.is_some() || !model.droppable(&hints, input))
        .map(|(op, input, output)| SearchOp {
            id: op.id,
            call: op.call,
            ret: if output.is_some() { op.ret.unwrap_or(u64::MAX) } else { u64::MAX },
            input,
            output,
        })
        .collect();

    let mut stats = SearchStats::default();
    let result = wgl::search(model, &hints, &search_ops, limits, reduce, &mut stats);
    stats.micros = started.elapsed().as_micros() as u64;
    let mut kr = KeyResult {
        key,
        verdict: Verdict::Unknown,
        checker: if stats.forced + stats.symmetric > 0 {
            Decider::WglSymmetric
        } else {
            Decider::Wgl
        },
        unknown_reason: None,
        ops: ops.len(),
        searched_ops: search_ops.len(),
        counterexample: None,
        witness: None,
        stats,
    };
    match result {
        SearchResult::Linearizable(order) => {
            kr.verdict = Verdict::Linearizable;
            if witness {
                kr.witness = Some(order.iter().map(|&i| search_ops[i as usize].id).collect());
            }
        }
        SearchResult::Unknown(reason) => kr.unknown_reason = Some(reason),
        SearchResult::Illegal(dead) => {
            kr.verdict = Verdict::Illegal;
            kr.counterexample = Some(counterexample(model, &kr.key, ops, &search_ops, dead));
        }
    }
    Ok(kr)
}

/// The [`KeyResult`] of a key a polynomial checker decided in `micros`.
pub fn decided(
    key: Option<String>,
    ops: usize,
    checker: Decider,
    decision: Decision,
    micros: u64,
) -> KeyResult {
    let (verdict, witness, counterexample) = match decision {
        Decision::Linearizable(order) => {
            (Verdict::Linearizable, (!order.is_empty()).then_some(order), None)
        }
        Decision::Illegal(cx) => (Verdict::Illegal, None, Some(cx)),
    };
    KeyResult {
        key,
        verdict,
        checker,
        unknown_reason: None,
        ops,
        searched_ops: ops,
        counterexample,
        witness,
        stats: SearchStats { micros, ..SearchStats::default() },
    }
}

fn counterexample<M: Model>(
    model: &M,
    key: &Option<String>,
    ops: &[&Operation],
    sops: &[SearchOp<M::Input, M::Output>],
    dead: wgl::DeadEnd<M::State>,
) -> Counterexample {
    // The search ran on canonical states; replay the prefix on raw states so the report
    // shows the real value. The prefix is a valid linearization, and canonical states are
    // bisimilar to raw ones, so every step succeeds; fall back to the canonical state if not.
    let mut raw = Some(model.init());
    for &i in &dead.prefix {
        let o = &sops[i as usize];
        raw = raw.and_then(|s| model.step(&s, &o.input, o.output.as_ref()));
    }
    let state_now = raw.unwrap_or_else(|| dead.state.clone());
    let by_id = |id: usize| ops.iter().find(|o| o.id == id);
    let stuck: Vec<StuckOp> = dead
        .candidates
        .iter()
        .map(|&c| {
            let o = &sops[c as usize];
            let reason = match model.step(&state_now, &o.input, o.output.as_ref()) {
                None => model.explain(&state_now, &o.input, o.output.as_ref()),
                Some(_) => format!(
                    "{} could go here, but no order of the remaining operations works after it",
                    model.describe_op(&o.input, o.output.as_ref())
                ),
            };
            StuckOp { op: o.id, reason }
        })
        .collect();
    let b = &sops[dead.blocking as usize];
    let state = model.describe_state(&state_now);
    let where_ = key.as_ref().map(|k| format!(" on key {k:?}")).unwrap_or_default();
    let blocking_words = match by_id(b.id) {
        Some(op) => format!(
            "{} by process {} (invoked at t={}, completed at t={})",
            model.describe_op(&b.input, b.output.as_ref()),
            op.process,
            show_time(op.call),
            op.ret.map_or("?".to_string(), show_time)
        ),
        None => model.describe_op(&b.input, b.output.as_ref()),
    };
    let why =
        stuck.iter().find(|s| s.op == b.id).map(|s| s.reason.clone()).unwrap_or_else(|| {
            "every order of the operations concurrent with it fails".to_string()
        });
    let explanation = format!(
        "The {} operations{where_} cannot be ordered as one {} would run them. The longest \
         valid order found covers {} of them and leaves the value {state}. Then {blocking_words} \
         must take effect, as it had completed, but {why}.",
        ops.len(),
        model.name(),
        dead.prefix.len(),
    );
    Counterexample {
        prefix: dead.prefix.iter().map(|&i| sops[i as usize].id).collect(),
        state,
        stuck,
        blocking: Some(b.id),
        explanation,
    }
}
