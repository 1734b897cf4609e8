//! rw-register inference: weaker than list-append, since a read shows one value and not the
//! history of the key. What is inferred, and why it is sound:
//!
//! - **wr**: a value written once to a key names its writer; the reader follows it. A value
//!   written more than once to a key infers nothing (ambiguous).
//! - **rw from the initial state**: a read of `null` saw the key before any write, so it
//!   precedes every transaction that may have written the key (such an edge stands for the
//!   true path: the first version's rw edge, then ww edges, so rw counts are kept).
//! - **no ww edges**: the order of two writes is not observable from single-value reads
//!   without assumptions Elle makes optional (writes follow reads, sequential keys); so a
//!   cycle needing them is missed, never invented.
//! - non-cycle anomalies: G1a (a failed transaction's value read), G1b (a value its writer
//!   overwrote in the same transaction), garbage (a value nobody wrote) and internal
//!   consistency (a read that differs from the transaction's own last read or write).

use rustc_hash::FxHashMap;

use crate::txn::explain::Ctx;
use crate::txn::graph::{EdgeKind, Edges};
use crate::txn::names::Anomaly;
use crate::txn::ops::{Id, MopKind, Status, Txns};
use crate::txn::result::{Findings, Found};

/// The writer of a (key, value): the transaction, whether this was its last write to the
/// key, and whether the value was written only once.
#[derive(Debug, Clone, Copy)]
struct Writer {
    txn: u32,
    last: bool,
    unique: bool,
}

/// Infers the dependency edges and the non-cycle anomalies of an rw-register history.
pub fn infer(ctx: &Ctx, edges: &mut Edges, found: &mut Findings) {
    let txns = ctx.txns;
    let status = |t: u32| txns.txns[t as usize].status;
    let mut writers: FxHashMap<u64, Writer> = FxHashMap::default();
    // Writers of each key that may have committed, for rw edges from `null` reads.
    let mut by_key: FxHashMap<Id, Vec<(u32, Id)>> = FxHashMap::default();
    let mut seen: Vec<Id> = Vec::new();
    for t in 0..txns.txns.len() {
        for (m, last) in txns.writes_last_first(t, MopKind::Write, &mut seen) {
            if last && status(t as u32) != Status::Fail {
                by_key.entry(m.key).or_default().push((t as u32, m.a));
            }
            let kv = Txns::pack(m.key, m.a);
            writers.entry(kv).and_modify(|w| w.unique = false).or_insert(Writer {
                txn: t as u32,
                last,
                unique: true,
            });
        }
    }
    let mut state: Vec<(Id, Option<Id>)> = Vec::new();
    for (t, x) in txns.txns.iter().enumerate() {
        if x.status != Status::Ok {
            continue;
        }
        let me = t as u32;
        state.clear();
        for m in txns.mops(t) {
            let at = state.iter().position(|s| s.0 == m.key);
            let read = match m.kind {
                MopKind::Write => {
                    match at {
                        Some(i) => state[i].1 = Some(m.a),
                        None => state.push((m.key, Some(m.a))),
                    }
                    continue;
                }
                MopKind::ReadNil => None,
                MopKind::ReadValue => Some(m.a),
                _ => continue,
            };
            if let Some(i) = at {
                if state[i].1 != read {
                    let show = |v: Option<Id>| v.map_or("null".into(), |v| ctx.show(v));
                    let (was, got) = (show(state[i].1), show(read));
                    found.add(Anomaly::Internal, || Found {
                        anomaly: Anomaly::Internal,
                        txns: vec![ctx.txn_ref(me)],
                        edges: vec![],
                        explanation: format!(
                            "{} read {} = {got}, but its own earlier micro-ops imply {was}",
                            ctx.name(me),
                            ctx.show(m.key)
                        ),
                    });
                    state[i].1 = read;
                }
                continue;
            }
            state.push((m.key, read));
            external_read(ctx, me, m.key, read, &writers, &by_key, edges, found);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn external_read(
    ctx: &Ctx,
    me: u32,
    k: Id,
    read: Option<Id>,
    writers: &FxHashMap<u64, Writer>,
    by_key: &FxHashMap<Id, Vec<(u32, Id)>>,
    edges: &mut Edges,
    found: &mut Findings,
) {
    let Some(v) = read else {
        for &(t, v) in by_key.get(&k).map_or(&[][..], |w| w.as_slice()) {
            edges.add(me, t, EdgeKind::Rw, k, v);
        }
        return;
    };
    let Some(w) = writers.get(&Txns::pack(k, v)).copied() else {
        found.add(Anomaly::GarbageRead, || Found {
            anomaly: Anomaly::GarbageRead,
            txns: vec![ctx.txn_ref(me)],
            edges: vec![],
            explanation: format!(
                "{} read {} = {}, but no transaction wrote that value",
                ctx.name(me),
                ctx.show(k),
                ctx.show(v)
            ),
        });
        return;
    };
    if !w.unique || w.txn == me {
        return;
    }
    if ctx.txns.txns[w.txn as usize].status == Status::Fail {
        found.add(Anomaly::G1a, || Found {
            anomaly: Anomaly::G1a,
            txns: vec![ctx.txn_ref(w.txn), ctx.txn_ref(me)],
            edges: vec![],
            explanation: format!(
                "{} wrote {} = {} and failed, but {} read it",
                ctx.name(w.txn),
                ctx.show(k),
                ctx.show(v),
                ctx.name(me)
            ),
        });
        return;
    }
    if !w.last {
        found.add(Anomaly::G1b, || Found {
            anomaly: Anomaly::G1b,
            txns: vec![ctx.txn_ref(w.txn), ctx.txn_ref(me)],
            edges: vec![],
            explanation: format!(
                "{} read {} = {}, which {} overwrote in the same transaction: an \
                 intermediate state",
                ctx.name(me),
                ctx.show(k),
                ctx.show(v),
                ctx.name(w.txn)
            ),
        });
    }
    edges.add(w.txn, me, EdgeKind::Wr, k, v);
}
