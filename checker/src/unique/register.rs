//! `register` and `cas-register` keys whose writes (and cas new values) all write distinct
//! values, different from the initial one: decided in O(n log n).
//!
//! ```text
//!  convert (Register's own) ─▶ writer of each value (write, cas new, or the initial value)
//!        │                      two writers of one value ─▶ not for us (WGL), or an error
//!        │                      under --unique-values
//!        ▼
//!  kept ops: every ok op; an info write/cas only if a kept op observes its value
//!        ▼
//!  blocks: write(v) │ reads of v │ cas(v→v') │ reads of v' │ cas(v'→v'') … (the initial
//!          value's block has no write and must come first)
//!        ▼
//!  stages::run per block, stages::order over blocks ─▶ order, or the two operations that
//!                                                      contradict each other
//! ```
//!
//! Why each step is exact (the model is [`crate::models::Register`], whose `convert` this
//! uses, so the semantics table is the same):
//! - A value is written once, so once a value is replaced it never returns: the reads of `v`
//!   and the cas that expects `v` sit between `v`'s writer and the next writer, and a cas
//!   `v→v'` is the very next writer after `v`'s. Two successful cas from `v` cannot both be.
//! - An `info` write (or cas) whose value no kept operation reads or expects can be left out:
//!   removing it from a valid order leaves one (nothing kept saw its value). One whose value
//!   is observed must have happened; it is kept, with no deadline.
//! - A cas that failed with `cas-mismatch` saw a value other than its expected one. If that
//!   value is never written (and is not the initial value) it holds at every instant, so the
//!   cas constrains nothing and is left out; otherwise the key goes to WGL.

use rustc_hash::FxHashMap;

use crate::error::CheckError;
use crate::history::Operation;
use crate::model::convert;
use crate::model::Model;
use crate::models::register::{RegInput, RegOutput, RegValue};
use crate::models::Register;
use crate::unique::stages::{self, Bounds, Instant, Order, Slot};
use crate::unique::{counterexample, not_unique, who, Decision, Uniqueness};

/// One converted operation.
struct Item<'h> {
    op: &'h Operation,
    input: RegInput,
    output: Option<RegOutput>,
}

impl Item<'_> {
    fn slot(&self, item: u32) -> Slot {
        let ret = if self.output.is_some() { self.op.ret.unwrap_or(u64::MAX) } else { u64::MAX };
        Slot { item, call: self.op.call, ret }
    }

    /// The value it writes, if a write or cas.
    fn writes(&self) -> Option<RegValue> {
        match self.input {
            RegInput::Write(v) | RegInput::Cas(_, v) => Some(Some(v)),
            RegInput::Read => None,
        }
    }

    /// The value it observes (a read's result, a successful or pending cas' expected value).
    fn observes(&self) -> Option<RegValue> {
        match (self.input, self.output) {
            (RegInput::Read, Some(RegOutput::Read(v))) => Some(v),
            (RegInput::Cas(e, _), Some(RegOutput::Done) | None) => Some(e),
            _ => None,
        }
    }
}

/// Who wrote a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    Initial,
    Op(u32),
}

/// Per value: its writer, its readers, the cas that replaces it.
#[derive(Default)]
struct Value {
    writer: Option<Writer>,
    reads: Vec<u32>,
    next: Option<u32>,
    seen: bool,
}

/// Decides one key, or `Ok(None)` when the key does not qualify (WGL decides it).
///
/// # Errors
/// An operation that does not fit the model; under [`Uniqueness::Require`], a value written
/// twice.
pub fn check(
    model: &Register,
    ops: &[&Operation],
    uniqueness: Uniqueness,
    witness: bool,
) -> Result<Option<Decision>, CheckError> {
    if uniqueness == Uniqueness::Off {
        return Ok(None);
    }
    // Convert, and find each value's writer; a repeated value stops here (WGL decides).
    let mut items: Vec<Item> = Vec::with_capacity(ops.len());
    let mut values: FxHashMap<RegValue, Value> = FxHashMap::default();
    values.entry(model.initial).or_default().writer = Some(Writer::Initial);
    for op in ops {
        let Some((input, output)) = convert(model, op)? else { continue };
        let it = Item { op, input, output };
        if let Some(v) = it.writes() {
            let slot = &mut values.entry(v).or_default().writer;
            if let Some(first) = *slot {
                if uniqueness == Uniqueness::Require {
                    let shown = v.map_or("null".to_string(), |v| v.to_string());
                    return Err(match first {
                        Writer::Op(f) => not_unique(op, items[f as usize].op, &shown),
                        Writer::Initial => CheckError::Model {
                            op: op.id,
                            index: op.invoke_index,
                            message: format!("--unique-values: {shown} is the initial value"),
                        },
                    });
                }
                return Ok(None);
            }
            *slot = Some(Writer::Op(items.len() as u32));
        }
        items.push(it);
    }
    // Keep: ok ops, and pending writers of observed values (transitively).
    let mut kept = vec![false; items.len()];
    let mut todo = Vec::new();
    for (i, it) in items.iter().enumerate() {
        match (it.input, it.output) {
            (RegInput::Cas(e, _), Some(RegOutput::Mismatch)) => {
                let written = values.get(&e).is_some_and(|v| v.writer.is_some());
                if written {
                    return Ok(None); // a value that may be current: WGL decides
                }
            }
            (_, Some(_)) => {
                kept[i] = true;
                todo.extend(it.observes());
            }
            (_, None) => {}
        }
    }
    while let Some(v) = todo.pop() {
        if let Some(Writer::Op(w)) = values.get(&v).and_then(|x| x.writer) {
            if !kept[w as usize] {
                kept[w as usize] = true;
                todo.extend(items[w as usize].observes());
            }
        }
    }
    for (i, it) in items.iter().enumerate().filter(|(i, _)| kept[*i]) {
        let Some(v) = it.observes() else { continue };
        let val = values.entry(v).or_default();
        if val.writer.is_none() {
            return Ok(Some(unwritten(model, &items, i as u32, v)));
        }
        if matches!(it.input, RegInput::Cas(..)) {
            if let Some(other) = val.next {
                return Ok(Some(two_cas(model, &items, other, i as u32, v)));
            }
            val.next = Some(i as u32);
        } else {
            val.reads.push(i as u32);
        }
    }
    // Blocks: from the initial value, and from each kept write.
    let mut roots: Vec<(Option<u32>, RegValue)> = Vec::new();
    let has_initial =
        values.get(&model.initial).is_some_and(|v| !v.reads.is_empty() || v.next.is_some());
    if has_initial {
        roots.push((None, model.initial));
    }
    for (i, it) in items.iter().enumerate() {
        if let (true, RegInput::Write(v)) = (kept[i], it.input) {
            roots.push((Some(i as u32), Some(v)));
        }
    }
    let mut blocks: Vec<Vec<Vec<Slot>>> = Vec::with_capacity(roots.len());
    for (writer, first) in roots {
        let mut stages_of: Vec<Vec<Slot>> = Vec::new();
        if let Some(w) = writer {
            stages_of.push(vec![items[w as usize].slot(w)]);
        }
        let mut v = first;
        loop {
            // Invariant: `v` is the initial value or written by a kept op, so it has an entry.
            let Some(val) = values.get_mut(&v) else { unreachable!("value has an entry") };
            val.seen = true;
            if !val.reads.is_empty() {
                stages_of.push(val.reads.iter().map(|&r| items[r as usize].slot(r)).collect());
            }
            let Some(c) = val.next else { break };
            stages_of.push(vec![items[c as usize].slot(c)]);
            v = items[c as usize].writes().unwrap_or(None);
        }
        blocks.push(stages_of);
    }
    // Values kept ops observe but no block reaches: written only by a cycle of cas.
    for (i, it) in items.iter().enumerate().filter(|(i, _)| kept[*i]) {
        if let Some(v) = it.observes() {
            if !values.get(&v).is_some_and(|x| x.seen) {
                return Ok(Some(cas_cycle(model, &items, &values, i as u32)));
            }
        }
    }
    let mut bounds: Vec<Bounds> = Vec::with_capacity(blocks.len());
    for (b, block) in blocks.iter().enumerate() {
        match stages::run(block.iter().map(Vec::as_slice)) {
            Ok(mut bd) => {
                if b == 0 && has_initial {
                    bd.min_ret = Instant::MIN; // nothing can come before the initial value
                }
                bounds.push(bd);
            }
            Err(late) => return Ok(Some(late_in_block(model, &items, block, late))),
        }
    }
    match stages::order(&bounds) {
        Order::Fits(order) => Ok(Some(Decision::Linearizable(if witness {
            order.iter().flat_map(|&b| linear(&items, &blocks[b])).collect()
        } else {
            Vec::new()
        }))),
        Order::Cycle { placed, a, b } => {
            Ok(Some(two_blocks(model, &items, &blocks, &bounds, &placed, a, b)))
        }
    }
}

/// A block's operations in an order that works (each stage by invoke time).
fn linear(items: &[Item], block: &[Vec<Slot>]) -> Vec<usize> {
    block
        .iter()
        .flat_map(|stage| {
            let mut s = stage.clone();
            s.sort_by_key(|x| x.call);
            s.into_iter().map(|x| items[x.item as usize].op.id)
        })
        .collect()
}

fn show(v: RegValue) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

fn words(model: &Register, it: &Item) -> String {
    who(it.op, &model.describe_op(&it.input, it.output.as_ref()))
}

fn unwritten(model: &Register, items: &[Item], i: u32, v: RegValue) -> Decision {
    let it = &items[i as usize];
    crate::visible::evidence(model, it.op, &it.input, it.output.as_ref(), v)
}

fn two_cas(model: &Register, items: &[Item], a: u32, b: u32, v: RegValue) -> Decision {
    let (x, y) = (&items[a as usize], &items[b as usize]);
    let text = format!(
        "Both {} and {} replaced the value {} (they succeeded, or a later operation observed \
         what they wrote), but {} is written only once, so after the first of them replaces \
         it the second cannot find it.",
        words(model, x),
        words(model, y),
        show(v),
        show(v)
    );
    let reason = format!("another cas already replaced {}", show(v));
    Decision::Illegal(counterexample(
        Vec::new(),
        show(v),
        vec![(x.op.id, reason.clone()), (y.op.id, reason)],
        y.op.id,
        text,
    ))
}

fn cas_cycle(
    model: &Register,
    items: &[Item],
    values: &FxHashMap<RegValue, Value>,
    start: u32,
) -> Decision {
    // Walk back from the observed value through cas writers until one repeats.
    let mut chain: Vec<u32> = Vec::new();
    let mut on_chain = vec![false; items.len()];
    let mut v = items[start as usize].observes().unwrap_or(None);
    while let Some(Writer::Op(w)) = values.get(&v).and_then(|x| x.writer) {
        if std::mem::replace(&mut on_chain[w as usize], true) {
            break;
        }
        chain.push(w);
        v = items[w as usize].observes().unwrap_or(None);
    }
    // Name a few: a hostile history can make the loop as long as the history.
    const SHOWN: usize = 6;
    let mut named: Vec<String> =
        chain.iter().take(SHOWN).map(|&c| words(model, &items[c as usize])).collect();
    if chain.len() > SHOWN {
        named.push(format!("and {} more", chain.len() - SHOWN));
    }
    let text = format!(
        "{} observed a value whose writers, traced back, are compare-and-sets that loop ({}): \
         each needs another of them to have happened first, so none can happen.",
        words(model, &items[start as usize]),
        named.join("; ")
    );
    let mut stuck: Vec<(usize, String)> = chain
        .iter()
        .take(SHOWN)
        .map(|&c| (items[c as usize].op.id, "waits for a cas that needs it first".into()))
        .collect();
    stuck.push((items[start as usize].op.id, "its value is never reached".into()));
    Decision::Illegal(counterexample(
        Vec::new(),
        show(model.initial),
        stuck,
        items[start as usize].op.id,
        text,
    ))
}

fn late_in_block(
    model: &Register,
    items: &[Item],
    block: &[Vec<Slot>],
    late: stages::Late,
) -> Decision {
    let (o, q) = (&items[late.op.item as usize], &items[late.after.item as usize]);
    let why = match (q.writes(), o.observes()) {
        (Some(w), Some(r)) if w == r => format!("it wrote the value {} read", show(w)),
        _ => "each value is written once and the register only moves forward along the chain \
              of compare-and-sets between them"
            .to_string(),
    };
    let text = format!(
        "{} must take effect after {}, because {why}; but it completed before that operation \
         was invoked.",
        words(model, o),
        words(model, q),
    );
    let prefix: Vec<usize> =
        linear(items, block).into_iter().take_while(|&id| id != o.op.id).collect();
    // The value after the prefix: the last one written in the stages before `o`'s (a block
    // starts with its write, or at the initial value).
    let state = block
        .iter()
        .take_while(|stage| stage.iter().all(|x| x.item != late.op.item))
        .flatten()
        .filter_map(|x| items[x.item as usize].writes())
        .last()
        .unwrap_or(model.initial);
    Decision::Illegal(counterexample(
        prefix,
        show(state),
        vec![
            (
                o.op.id,
                format!(
                    "completed before {} was invoked",
                    model.describe_op(&q.input, q.output.as_ref())
                ),
            ),
            (q.op.id, "must take effect first".into()),
        ],
        o.op.id,
        text,
    ))
}

fn block_value(items: &[Item], block: &[Vec<Slot>]) -> String {
    let w = block.first().and_then(|s| s.first()).map(|s| &items[s.item as usize]);
    w.and_then(Item::writes).map_or("the initial value".into(), |v| format!("value {}", show(v)))
}

fn two_blocks(
    model: &Register,
    items: &[Item],
    blocks: &[Vec<Vec<Slot>>],
    bounds: &[Bounds],
    placed: &[usize],
    a: usize,
    b: usize,
) -> Decision {
    let op = |s: Option<Slot>| s.map(|s| &items[s.item as usize]);
    // Invariant: a block has at least one op, so its bounds name one.
    let pick = |s: Option<Slot>| op(s).unwrap_or_else(|| unreachable!("non-empty block"));
    let (ra, cb) = (pick(bounds[a].first_ret), pick(bounds[b].last_call));
    let (rb, ca) = (pick(bounds[b].first_ret), pick(bounds[a].last_call));
    let (va, vb) = (block_value(items, &blocks[a]), block_value(items, &blocks[b]));
    let a_first = if bounds[a].min_ret == Instant::MIN {
        format!("{va} comes before every write")
    } else {
        format!(
            "{} completed before {} was invoked, so {va} comes first",
            words(model, ra),
            words(model, cb)
        )
    };
    let text = format!(
        "Each value is written once, so the operations on {va} (its write, its reads and the \
         compare-and-sets chained to it) happen all before or all after those on {vb}. But \
         {a_first}; and {} completed before {} was invoked, so {vb} comes first.",
        words(model, rb),
        words(model, ca),
    );
    let prefix: Vec<usize> = placed.iter().flat_map(|&p| linear(items, &blocks[p])).collect();
    let state = placed
        .last()
        .and_then(|&p| {
            blocks[p].iter().rev().flatten().find_map(|s| items[s.item as usize].writes())
        })
        .map_or_else(|| show(model.initial), show);
    let mut stuck = vec![
        (ca.op.id, format!("belongs to {va}, which must come after {vb}")),
        (rb.op.id, format!("completed before an operation on {va} was invoked")),
    ];
    if bounds[a].min_ret != Instant::MIN {
        stuck.push((ra.op.id, format!("completed before an operation on {vb} was invoked")));
        stuck.push((cb.op.id, format!("belongs to {vb}, which must come after {va}")));
    }
    // The blocking op: the one of {ca, cb} that completed last had to take effect by then.
    let blocking = [ca, cb]
        .into_iter()
        .filter(|o| o.observes().is_some())
        .max_by_key(|o| o.op.ret.unwrap_or(u64::MAX))
        .unwrap_or(ca);
    Decision::Illegal(counterexample(prefix, state, stuck, blocking.op.id, text))
}
