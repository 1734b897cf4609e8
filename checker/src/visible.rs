//! The cheap certificates for `register` and `cas-register` keys, tried before the search: an
//! operation that observes a value (an `ok` read's result, a successful cas's expected value)
//! that no write could have left visible when it went. Two cases, in O(n log n):
//! - **unwritten**: the value is not the initial one, and no operation that may have taken
//!   effect writes it (`ok` and `info` writes and cas; failed ones never took effect);
//! - **overwritten** (a certainly stale read): a write `w` of another value completed before
//!   the observer was invoked, and no operation that may write the value can take effect
//!   between `w`'s invoke and the observer's completion.
//!
//! ```text
//!  ops of one key ──convert (Register's own)──▶ writers per value, sorted by invoke,
//!                                              with the latest deadline so far
//!  observers by invoke, definite writers by completion (swept together: the two latest
//!  invokes of different values among those completed before the observer's invoke)
//!        ──▶ first observer refuted ──▶ Decision::Illegal     none ──▶ None: search
//! ```
//!
//! Exact: in every valid order the register holds, at the observer, the value of the last
//! state-changing operation before it, or the initial value if there is none. Unwritten: no
//! such operation writes the value, and it is not the initial one. Overwritten: `w` comes
//! before the observer (it completed before the observer was invoked); any operation `x`
//! between them in the order satisfies `deadline(x) >= call(w)` and `call(x) <= ret(observer)`
//! (closed intervals, as the search uses), and none of those writes the value, nor does `w`.
//! Both decide only `Illegal`; a history such as 40 concurrent writes of 1 and 2 followed by a
//! read of 3, or a read of a value overwritten for good, is refuted without search.

use rustc_hash::FxHashMap;

use crate::decision::{counterexample, who, Decision};
use crate::error::CheckError;
use crate::history::Operation;
use crate::model::convert;
use crate::model::Model;
use crate::models::register::{RegInput, RegOutput, RegValue};
use crate::models::Register;

/// The value an operation needs to find, if it observes one.
fn observes(input: &RegInput, output: Option<&RegOutput>) -> Option<RegValue> {
    match (input, output) {
        (RegInput::Read, Some(RegOutput::Read(v))) => Some(*v),
        (RegInput::Cas(e, _), Some(RegOutput::Done)) => Some(*e),
        _ => None,
    }
}

/// The value an operation may write (`ok` or `info` writes and cas).
fn writes(input: &RegInput, output: Option<&RegOutput>) -> Option<RegValue> {
    match (input, output) {
        (RegInput::Write(v) | RegInput::Cas(_, v), None | Some(RegOutput::Done)) => Some(Some(*v)),
        _ => None,
    }
}

/// One converted operation.
struct Item<'h> {
    op: &'h Operation,
    input: RegInput,
    output: Option<RegOutput>,
}

impl Item<'_> {
    /// The instant after which it can no longer take effect.
    fn deadline(&self) -> u64 {
        if self.output.is_some() {
            self.op.ret.unwrap_or(u64::MAX)
        } else {
            u64::MAX
        }
    }
}

/// The writers of one value, by invoke, with the latest deadline among each prefix (and the
/// item that has it).
#[derive(Default)]
struct Writers {
    calls: Vec<u64>,
    latest: Vec<(u64, usize)>,
}

impl Writers {
    /// A writer of the value that may take effect inside `[from, to]`, if any.
    fn inside(&self, from: u64, to: u64) -> Option<usize> {
        let n = self.calls.partition_point(|&c| c <= to);
        let &(deadline, item) = self.latest.get(n.checked_sub(1)?)?;
        (deadline >= from).then_some(item)
    }
}

/// The latest invokes of definite writers seen so far, of two different values.
#[derive(Default)]
struct Latest {
    best: Option<(u64, RegValue, usize)>,
    other: Option<(u64, RegValue, usize)>,
}

impl Latest {
    fn add(&mut self, call: u64, v: RegValue, item: usize) {
        let new = Some((call, v, item));
        match self.best {
            Some((c, bv, _)) if bv == v => {
                if call > c {
                    self.best = new;
                }
            }
            Some((c, ..)) if call > c => self.other = std::mem::replace(&mut self.best, new),
            Some(_) => {
                if self.other.is_none_or(|(c, ..)| call > c) {
                    self.other = new;
                }
            }
            None => self.best = new,
        }
    }

    /// The latest-invoked definite writer of a value other than `v`.
    fn other_than(&self, v: RegValue) -> Option<(u64, RegValue, usize)> {
        match self.best {
            Some((_, bv, _)) if bv == v => self.other,
            b => b,
        }
    }
}

/// Finds an operation that observes a value no write could have left visible; `Ok(None)`
/// when there is none.
///
/// # Errors
/// An operation that does not fit the model.
pub fn check(model: &Register, ops: &[&Operation]) -> Result<Option<Decision>, CheckError> {
    let mut items: Vec<Item> = Vec::with_capacity(ops.len());
    for op in ops {
        if let Some((input, output)) = convert(model, op)? {
            items.push(Item { op, input, output });
        }
    }
    let mut by_value: FxHashMap<RegValue, Writers> = FxHashMap::default();
    let mut by_call: Vec<usize> = (0..items.len()).collect();
    by_call.sort_by_key(|&i| items[i].op.call);
    for &i in &by_call {
        let it = &items[i];
        if let Some(v) = writes(&it.input, it.output.as_ref()) {
            let w = by_value.entry(v).or_default();
            let prev = w.latest.last().copied().unwrap_or((0, i));
            w.calls.push(it.op.call);
            w.latest.push(if it.deadline() >= prev.0 { (it.deadline(), i) } else { prev });
        }
    }
    // Unwritten values.
    for it in &items {
        if let Some(v) = observes(&it.input, it.output.as_ref()) {
            if v != model.initial && !by_value.contains_key(&v) {
                return Ok(Some(evidence(model, it.op, &it.input, it.output.as_ref(), v)));
            }
        }
    }
    // Overwritten values: observers by invoke; definite writers by completion.
    let mut done: Vec<usize> =
        (0..items.len()).filter(|&i| items[i].output == Some(RegOutput::Done)).collect();
    done.sort_by_key(|&i| items[i].deadline());
    let (mut latest, mut next) = (Latest::default(), 0);
    for &r in &by_call {
        let it = &items[r];
        let Some(v) = observes(&it.input, it.output.as_ref()) else { continue };
        while let Some(&w) = done.get(next).filter(|&&w| items[w].deadline() < it.op.call) {
            if let Some(wv) = writes(&items[w].input, items[w].output.as_ref()) {
                latest.add(items[w].op.call, wv, w);
            }
            next += 1;
        }
        let Some((from, u, w)) = latest.other_than(v) else { continue };
        let to = it.deadline();
        if by_value.get(&v).is_none_or(|ws| ws.inside(from, to).is_none()) {
            return Ok(Some(stale(model, it, &items[w], u, v)));
        }
    }
    Ok(None)
}

fn words(model: &Register, it: &Item) -> String {
    who(it.op, &model.describe_op(&it.input, it.output.as_ref()))
}

/// The counterexample for `read`, which observed `v` after `w` overwrote it with `u` for good.
fn stale(model: &Register, read: &Item, w: &Item, u: RegValue, v: RegValue) -> Decision {
    let text = format!(
        "{} needs the value {}, but {} completed before it was invoked and wrote {}, and no \
         operation that writes {} could take effect after that write and before the read \
         completed: each was invoked after the read completed, or completed before that write \
         was invoked.",
        words(model, read),
        show(v),
        words(model, w),
        show(u),
        show(v),
    );
    Decision::Illegal(counterexample(
        Vec::new(),
        show(u),
        vec![
            (read.op.id, format!("{} was overwritten for good before it began", show(v))),
            (w.op.id, format!("wrote {} and completed before the read began", show(u))),
        ],
        read.op.id,
        text,
    ))
}

fn show(v: RegValue) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// The counterexample for `op`, which observed `v` that nothing writes.
pub(crate) fn evidence(
    model: &Register,
    op: &Operation,
    input: &RegInput,
    output: Option<&RegOutput>,
    v: RegValue,
) -> Decision {
    let text = format!(
        "{} needs the value {}, but no operation that may have taken effect writes it, and it \
         is not the initial value {}.",
        who(op, &model.describe_op(input, output)),
        show(v),
        show(model.initial)
    );
    Decision::Illegal(counterexample(
        Vec::new(),
        show(model.initial),
        vec![(op.id, format!("no operation writes {}", show(v)))],
        op.id,
        text,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    fn op(id: usize, f: &str, input: serde_json::Value, output: serde_json::Value) -> Operation {
        Operation {
            id,
            process: id as u64,
            f: f.into(),
            key: None,
            input,
            output,
            outcome: Outcome::Ok,
            call: id as u64,
            ret: Some(100),
            invoke_index: id as u64,
            complete_index: None,
            error: None,
            node: None,
            term: None,
            invoke_line: 0,
            complete_line: None,
        }
    }

    fn at(o: Operation, call: u64, ret: u64, outcome: Outcome) -> Operation {
        Operation { call, ret: Some(ret), outcome, ..o }
    }

    #[test]
    fn a_read_of_a_value_overwritten_for_good_is_named() {
        use serde_json::json;
        let model = Register { initial: None, cas: true };
        let ok = Outcome::Ok;
        let base = [
            at(op(0, "write", json!(1), json!(1)), 0, 10, ok),
            at(op(1, "write", json!(2), json!(2)), 20, 30, ok),
            at(op(2, "read", json!(null), json!(1)), 40, 50, ok),
        ];
        let verdict = |extra: &[Operation]| {
            let refs: Vec<&Operation> = base.iter().chain(extra).collect();
            check(&model, &refs).unwrap()
        };
        let Some(Decision::Illegal(cx)) = verdict(&[]) else { panic!("not refuted") };
        assert_eq!((cx.blocking, cx.state.as_str()), (Some(2), "2"));
        assert!(cx.explanation.contains("wrote 2"), "{}", cx.explanation);
        // A write of 1 that may go between them explains the read: overlapping the window,
        // touching write 2's invoke (closed intervals), or info and invoked before the read
        // completed; a successful cas to 1 as well.
        let unk = Outcome::Unknown;
        for x in [
            at(op(3, "write", json!(1), json!(1)), 25, 45, ok),
            at(op(3, "write", json!(1), json!(1)), 0, 20, ok),
            at(op(3, "write", json!(1), json!(null)), 5, 6, unk),
            at(op(3, "cas", json!([2, 1]), json!(null)), 45, 60, ok),
        ] {
            assert_eq!(verdict(std::slice::from_ref(&x)), None, "{x:?}");
        }
        // Ones that cannot: completed before write 2 began, invoked after the read completed,
        // a failed write, a cas that found no match; and a read of 1 before write 2.
        let mut mismatch = at(op(3, "cas", json!([2, 1]), json!(null)), 25, 45, Outcome::Fail);
        mismatch.error = Some("cas-mismatch".into());
        for x in [
            at(op(3, "write", json!(1), json!(1)), 0, 19, ok),
            at(op(3, "write", json!(1), json!(null)), 51, 60, unk),
            at(op(3, "write", json!(1), json!(1)), 25, 45, Outcome::Fail),
            mismatch,
            at(op(3, "read", json!(null), json!(1)), 5, 15, ok),
        ] {
            assert!(verdict(std::slice::from_ref(&x)).is_some(), "{x:?}");
        }
    }

    #[test]
    fn a_read_of_a_value_nothing_writes_is_named() {
        use serde_json::json;
        let model = Register { initial: None, cas: true };
        let mut ops: Vec<Operation> =
            (0..40).map(|i| op(i, "write", json!(1 + i % 2), json!(1 + i % 2))).collect();
        ops.push(op(40, "read", json!(null), json!(3)));
        let refs: Vec<&Operation> = ops.iter().collect();
        let Some(Decision::Illegal(cx)) = check(&model, &refs).unwrap() else {
            panic!("not refuted")
        };
        assert_eq!(cx.blocking, Some(40));
        assert!(cx.explanation.contains("needs the value 3"), "{}", cx.explanation);
        // A failed write of 3 does not help; an info one (it may have happened) does, and so
        // does an info cas writing 3; a read of null is fine while null is the initial value.
        let mut failed = op(41, "write", json!(3), json!(3));
        failed.outcome = Outcome::Fail;
        let refs: Vec<&Operation> = ops.iter().chain([&failed]).collect();
        assert!(check(&model, &refs).unwrap().is_some());
        for info in
            [op(41, "write", json!(3), json!(null)), op(41, "cas", json!([1, 3]), json!(null))]
        {
            let info = Operation { outcome: Outcome::Unknown, ..info };
            let refs: Vec<&Operation> = ops.iter().chain([&info]).collect();
            assert_eq!(check(&model, &refs).unwrap(), None);
        }
        let null = op(41, "read", json!(null), json!(null));
        assert_eq!(check(&model, &[&null]).unwrap(), None);
        // A successful cas expecting a value nothing writes is refuted too.
        let cas = op(0, "cas", json!([7, 8]), json!(null));
        assert!(check(&model, &[&cas]).unwrap().is_some());
    }
}
