//! List-append inference, as Elle does it. Every read returns a whole list, so each read is
//! a prefix of the key's version order, and the longest read *is* that order (as far as
//! it was observed).
//!
//! ```text
//!  appends ──▶ writer of each (key, element)        (a repeated element is bad input)
//!  ok reads ──▶ longest read per key ──▶ prefix check (incompatible-order), duplicates,
//!                     │                  garbage, G1a, dirty-update
//!                     ▼
//!  ww: the writers of consecutive elements; the last observed element's writer precedes
//!      every unobserved append
//!  wr: the writer of a read's last element precedes the reader
//!  rw: a reader precedes the writer of the element after its list (or, when it read the
//!      longest list, every unobserved append)
//!  each ok txn, micro-op by micro-op: internal consistency, G1b, external reads
//! ```
//!
//! An edge to an unobserved append stands for a path of the true dependency graph (the
//! reader's successor version, then ww edges), so cycles and their rw counts are kept.

use rustc_hash::FxHashMap;

use crate::error::HistoryError;
use crate::txn::explain::Ctx;
use crate::txn::graph::{EdgeKind, Edges};
use crate::txn::names::Anomaly;
use crate::txn::ops::{Id, MopKind, Status, Txns};
use crate::txn::result::{Findings, Found};

const UNSEEN: u32 = u32::MAX;

/// Who appended an element.
#[derive(Debug, Clone, Copy)]
struct Writer {
    txn: u32,
    /// Whether it is the transaction's last append to the key.
    last: bool,
    /// Its position in the key's version order, or [`UNSEEN`].
    pos: u32,
}

/// What a transaction knows of a key so far: the key, its last read (start and length in
/// `elems`), and its own appends since.
type KeyState = (Id, Option<(u32, u32)>, Vec<Id>);

/// Infers the dependency edges and the non-cycle anomalies of a list-append history.
///
/// # Errors
/// An element appended twice to the same key (the inference needs distinct elements).
pub fn infer(ctx: &Ctx, edges: &mut Edges, found: &mut Findings) -> Result<(), HistoryError> {
    let txns = ctx.txns;
    let n_ids = txns.names.items.len();
    let status = |t: u32| txns.txns[t as usize].status;

    // Writers of each element.
    let mut writers: FxHashMap<u64, Writer> = FxHashMap::default();
    writers.reserve(txns.mops.len());
    let mut seen_keys: Vec<Id> = Vec::new();
    for t in 0..txns.txns.len() {
        for (m, last) in txns.writes_last_first(t, MopKind::Append, &mut seen_keys) {
            let w = Writer { txn: t as u32, last, pos: UNSEEN };
            if let Some(other) = writers.insert(Txns::pack(m.key, m.a), w) {
                let line = ctx.txn_ref(t as u32).line;
                return Err(HistoryError::at(
                    line,
                    "value",
                    format!(
                        "{} appends {} to key {}, which {} appended too: list-append needs \
                         distinct elements per key",
                        ctx.name(t as u32),
                        ctx.show(m.a),
                        ctx.show(m.key),
                        ctx.name(other.txn)
                    ),
                ));
            }
        }
    }

    // The longest read of each key: (start, len, reader).
    let mut longest: Vec<(u32, u32, u32)> = vec![(0, 0, UNSEEN); n_ids];
    for (t, x) in txns.txns.iter().enumerate() {
        if x.status != Status::Ok {
            continue;
        }
        for m in txns.mops(t) {
            if m.kind == MopKind::ReadList {
                let l = &mut longest[m.key as usize];
                if l.2 == UNSEEN || m.b > l.1 {
                    *l = (m.a, m.b, t as u32);
                }
            }
        }
    }
    let order = |k: Id| {
        let (s, n, _) = longest[k as usize];
        &txns.elems[s as usize..(s + n) as usize]
    };

    // Keys whose reads give no version order: incompatible reads, duplicates.
    let mut bad = vec![false; n_ids];
    for (t, x) in txns.txns.iter().enumerate() {
        if x.status != Status::Ok {
            continue;
        }
        for m in txns.mops(t) {
            if m.kind != MopKind::ReadList {
                continue;
            }
            let (list, full) = (txns.list(m), order(m.key));
            if !full.starts_with(list) {
                bad[m.key as usize] = true;
                let other = longest[m.key as usize].2;
                found.add(Anomaly::IncompatibleOrder, || Found {
                    anomaly: Anomaly::IncompatibleOrder,
                    txns: vec![ctx.txn_ref(t as u32), ctx.txn_ref(other)],
                    edges: vec![],
                    explanation: format!(
                        "{} read {} = {} and {} read {} = {}: neither is a prefix of the other, \
                         so no order of appends explains both",
                        ctx.name(t as u32),
                        ctx.show(m.key),
                        ctx.show_list(list),
                        ctx.name(other),
                        ctx.show(m.key),
                        ctx.show_list(full)
                    ),
                });
            }
        }
    }
    let mut stamp = vec![UNSEEN; n_ids];
    for k in 0..n_ids as Id {
        let (_, _, reader) = longest[k as usize];
        if reader == UNSEEN {
            continue;
        }
        for &v in order(k) {
            if stamp[v as usize] == k {
                bad[k as usize] = true;
                found.add(Anomaly::DuplicateElements, || Found {
                    anomaly: Anomaly::DuplicateElements,
                    txns: vec![ctx.txn_ref(reader)],
                    edges: vec![],
                    explanation: format!(
                        "{} read {} = {}, which holds {} more than once",
                        ctx.name(reader),
                        ctx.show(k),
                        ctx.show_list(order(k)),
                        ctx.show(v)
                    ),
                });
                break;
            }
            stamp[v as usize] = k;
        }
    }

    // Positions, garbage, aborted reads, dirty updates, and ww along each order. `at[k]`
    // holds the writer of each position of key k's order (`UNSEEN` for garbage), so the
    // reads below find writers by position, without hashing.
    let mut at_start: Vec<u32> = vec![0; n_ids + 1];
    let mut at: Vec<Writer> = Vec::new();
    for k in 0..n_ids as Id {
        at_start[k as usize] = at.len() as u32;
        let (_, _, reader) = longest[k as usize];
        if reader == UNSEEN || bad[k as usize] {
            continue;
        }
        at.extend(order(k).iter().map(|v| {
            writers.get(&Txns::pack(k, *v)).copied().unwrap_or(Writer {
                txn: UNSEEN,
                last: true,
                pos: 0,
            })
        }));
        let mut prev: Option<Writer> = None;
        let mut failed: Option<(Id, u32)> = None;
        for (i, &v) in order(k).iter().enumerate() {
            let Some(w) = writers.get_mut(&Txns::pack(k, v)) else {
                found.add(Anomaly::GarbageRead, || Found {
                    anomaly: Anomaly::GarbageRead,
                    txns: vec![ctx.txn_ref(reader)],
                    edges: vec![],
                    explanation: format!(
                        "{} read {} = {}, but no transaction appended {}",
                        ctx.name(reader),
                        ctx.show(k),
                        ctx.show_list(order(k)),
                        ctx.show(v)
                    ),
                });
                prev = None;
                continue;
            };
            w.pos = i as u32;
            let w = *w;
            if status(w.txn) == Status::Fail {
                found.add(Anomaly::G1a, || Found {
                    anomaly: Anomaly::G1a,
                    txns: vec![ctx.txn_ref(w.txn), ctx.txn_ref(reader)],
                    edges: vec![],
                    explanation: format!(
                        "{} appended {} to {} and failed, but {} read {} = {}",
                        ctx.name(w.txn),
                        ctx.show(v),
                        ctx.show(k),
                        ctx.name(reader),
                        ctx.show(k),
                        ctx.show_list(order(k))
                    ),
                });
                failed.get_or_insert((v, w.txn));
            } else {
                if let Some((fv, ft)) = failed.take() {
                    found.add(Anomaly::DirtyUpdate, || Found {
                        anomaly: Anomaly::DirtyUpdate,
                        txns: vec![ctx.txn_ref(ft), ctx.txn_ref(w.txn)],
                        edges: vec![],
                        explanation: format!(
                            "{} appended {} to {} and failed, yet {} appended {} after it",
                            ctx.name(ft),
                            ctx.show(fv),
                            ctx.show(k),
                            ctx.name(w.txn),
                            ctx.show(v)
                        ),
                    });
                }
                if let Some(p) = prev.filter(|p| status(p.txn) != Status::Fail) {
                    edges.add(p.txn, w.txn, EdgeKind::Ww, k, v);
                }
            }
            prev = Some(w);
        }
    }

    at_start[n_ids] = at.len() as u32;
    let at_key = |k: Id| &at[at_start[k as usize] as usize..at_start[k as usize + 1] as usize];

    // Appends no read saw, by key: they follow every observed element.
    let mut unseen: Vec<(Id, u32, Id)> = Vec::new();
    for (&kv, w) in &writers {
        if w.pos == UNSEEN && status(w.txn) != Status::Fail {
            unseen.push(((kv >> 32) as Id, w.txn, kv as u32));
        }
    }
    unseen.sort_unstable();
    let unseen_of = |k: Id| {
        let a = unseen.partition_point(|u| u.0 < k);
        let b = unseen.partition_point(|u| u.0 <= k);
        &unseen[a..b]
    };
    for k in 0..n_ids as Id {
        if bad[k as usize] {
            continue;
        }
        if let Some(&last) = order(k).last() {
            if let Some(w) =
                writers.get(&Txns::pack(k, last)).filter(|w| status(w.txn) != Status::Fail)
            {
                for &(_, t, v) in unseen_of(k) {
                    edges.add(w.txn, t, EdgeKind::Ww, k, v);
                }
            }
        }
    }

    // Each committed transaction: internal consistency, G1b, external reads' edges.
    let mut state: Vec<KeyState> = Vec::new();
    for (t, x) in txns.txns.iter().enumerate() {
        if x.status != Status::Ok {
            continue;
        }
        let me = t as u32;
        state.clear();
        for m in txns.mops(t) {
            let at = state.iter().position(|s| s.0 == m.key);
            match m.kind {
                MopKind::Append => match at {
                    Some(i) => state[i].2.push(m.a),
                    None => state.push((m.key, None, vec![m.a])),
                },
                MopKind::ReadList => {
                    let list = txns.list(m);
                    if let Some(i) = at {
                        let (_, read, own) = &state[i];
                        let ok = match read {
                            Some((s, n)) => {
                                let before = &txns.elems[*s as usize..(*s + *n) as usize];
                                list.len() == before.len() + own.len()
                                    && list.starts_with(before)
                                    && list.ends_with(own)
                            }
                            None => list.ends_with(own),
                        };
                        if !ok {
                            let expected = match read {
                                Some((s, n)) => {
                                    let mut e =
                                        txns.elems[*s as usize..(*s + *n) as usize].to_vec();
                                    e.extend_from_slice(own);
                                    ctx.show_list(&e)
                                }
                                None => format!("a list ending in {}", ctx.show_list(own)),
                            };
                            found.add(Anomaly::Internal, || Found {
                                anomaly: Anomaly::Internal,
                                txns: vec![ctx.txn_ref(me)],
                                edges: vec![],
                                explanation: format!(
                                    "{} read {} = {}, but its own earlier micro-ops imply {}",
                                    ctx.name(me),
                                    ctx.show(m.key),
                                    ctx.show_list(list),
                                    expected
                                ),
                            });
                        }
                        state[i] = (m.key, Some((m.a, m.b)), Vec::new());
                    } else {
                        state.push((m.key, Some((m.a, m.b)), Vec::new()));
                        if !bad[m.key as usize] {
                            external_read(
                                ctx,
                                me,
                                m.key,
                                list,
                                order(m.key),
                                at_key(m.key),
                                unseen_of(m.key),
                                edges,
                            );
                        }
                    }
                    let last = match list.len() {
                        0 => None,
                        n if !bad[m.key as usize] => at_key(m.key).get(n - 1).copied(),
                        n => writers.get(&Txns::pack(m.key, list[n - 1])).copied(),
                    };
                    if let Some(w) = last.filter(|w| w.txn != UNSEEN) {
                        intermediate_read(ctx, me, m.key, list, w, found);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The wr and rw edges of `me`'s first read of `k` (before any append of its own), given
/// the writers of the key's order by position.
#[allow(clippy::too_many_arguments)]
fn external_read(
    ctx: &Ctx,
    me: u32,
    k: Id,
    list: &[Id],
    order: &[Id],
    at: &[Writer],
    unseen: &[(Id, u32, Id)],
    edges: &mut Edges,
) {
    let live = |i: usize| {
        at.get(i)
            .filter(|w| w.txn != UNSEEN && ctx.txns.txns[w.txn as usize].status != Status::Fail)
    };
    if let Some(i) = list.len().checked_sub(1) {
        if let Some(w) = live(i) {
            edges.add(w.txn, me, EdgeKind::Wr, k, order[i]);
        }
    }
    match order.get(list.len()) {
        Some(&next) => {
            if let Some(w) = live(list.len()) {
                edges.add(me, w.txn, EdgeKind::Rw, k, next);
            }
        }
        None => {
            for &(_, t, v) in unseen {
                edges.add(me, t, EdgeKind::Rw, k, v);
            }
        }
    }
}

/// G1b: the read's last element, written by `w`, is another transaction's non-final append
/// to the key.
fn intermediate_read(ctx: &Ctx, me: u32, k: Id, list: &[Id], w: Writer, found: &mut Findings) {
    let Some(&v) = list.last() else { return };
    if w.txn != me && !w.last {
        found.add(Anomaly::G1b, || Found {
            anomaly: Anomaly::G1b,
            txns: vec![ctx.txn_ref(w.txn), ctx.txn_ref(me)],
            edges: vec![],
            explanation: format!(
                "{} read {} = {}, ending in {}, which {} appended before appending more to {}: \
                 an intermediate state",
                ctx.name(me),
                ctx.show(k),
                ctx.show_list(list),
                ctx.show(v),
                ctx.name(w.txn),
                ctx.show(k)
            ),
        });
    }
}
