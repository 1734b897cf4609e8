//! The WGL search (Wing & Gong, with Lowe's configuration cache; the algorithm of Porcupine's
//! `checkSingle`, anishathalye/porcupine `checker.go`) over one partition.
//!
//! ```text
//!   ops ──Entries (calls + returns, time order)──┐
//!                                                ▼
//!   loop: head entry is a call  → try it: step the model; if legal and (set ∪ op, state)
//!                                  is new in the cache, push, lift the op out, restart at
//!                                  the head; else try the next entry
//!         head entry is a return → that op had to be linearized already: pop (backtrack)
//!   success: every operation with a return is linearized (those without may take effect
//!            later or never, so they are never owed)
//! ```
//!
//! Indeterminate operations (`info`) have no return entry: they may be linearized at any
//! point after their call, or never. Model states are interned to `u32` and transitions
//! memoized, so the hot loop does one table probe per tried step and allocates nothing after
//! warm-up.
//!
//! # Layout
//! - [`entries`]: the linked event list; [`bitset`]: linearized set + Zobrist hash;
//!   [`cache`]: explored configurations.

pub mod bitset;
pub mod cache;
pub mod entries;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use rustc_hash::FxHashMap;

use crate::model::Model;
use crate::verdict::{SearchStats, UnknownReason};
use bitset::Bitset;
use cache::Cache;
use entries::{Entries, HEAD, NONE};

/// One operation as the search sees it.
#[derive(Debug, Clone)]
pub struct SearchOp<I, O> {
    /// The history operation's id.
    pub id: usize,
    /// Invoke time.
    pub call: u64,
    /// The time by which it took effect; `u64::MAX` when unknown (may be later, or never).
    pub ret: u64,
    /// The model input.
    pub input: I,
    /// The model output (`None` when unknown).
    pub output: Option<O>,
}

/// Why to stop: 0 = keep going. Set by the watchdog or by a worker that found a violation.
pub const GO: u8 = 0;
/// The time limit passed.
pub const STOP_TIME: u8 = 1;
/// Another partition was found illegal.
pub const STOP_CANCEL: u8 = 2;

/// Shared bounds of all searches of one check.
#[derive(Debug)]
pub struct Limits {
    /// GO, STOP_TIME or STOP_CANCEL.
    pub stop: AtomicU8,
    /// Bytes the caches of all searches may hold together.
    pub memory_limit: u64,
    /// Bytes they hold now.
    pub memory_used: AtomicU64,
}

impl Limits {
    /// Bounds with the given memory budget.
    pub fn new(memory_limit: u64) -> Limits {
        Limits { stop: AtomicU8::new(GO), memory_limit, memory_used: AtomicU64::new(0) }
    }
}

/// The raw evidence of a dead end, in indices into the searched ops.
#[derive(Debug, Clone)]
pub struct DeadEnd<S> {
    /// Linearized ops, in order.
    pub prefix: Vec<u32>,
    /// The state after them.
    pub state: S,
    /// Ops that were candidates to go next.
    pub candidates: Vec<u32>,
    /// The op whose return was reached.
    pub blocking: u32,
}

/// What one search concluded.
#[derive(Debug)]
pub enum SearchResult<S> {
    /// A linearization: indices into the searched ops, in order.
    Linearizable(Vec<u32>),
    /// None exists; the longest prefix found.
    Illegal(DeadEnd<S>),
    /// Stopped early.
    Unknown(UnknownReason),
}

struct Frame {
    /// The local op linearized.
    op: u32,
    prev_state: u32,
    /// Where the scan was when it was tried, to resume after it on backtrack.
    ctx: Cursor,
}

/// Interned states and memoized transitions.
struct States<'m, M: Model> {
    model: &'m M,
    hints: &'m M::Hints,
    list: Vec<M::State>,
    ids: FxHashMap<M::State, u32>,
    memo: FxHashMap<u64, u32>,
    bytes: usize,
}

impl<'m, M: Model> States<'m, M> {
    fn intern(&mut self, s: M::State) -> u32 {
        let s = self.model.canonical(self.hints, s);
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        let id = self.list.len() as u32;
        self.bytes += std::mem::size_of::<M::State>() * 2 + 32;
        self.list.push(s.clone());
        self.ids.insert(s, id);
        id
    }

    #[inline]
    fn step(&mut self, state: u32, op: u32, ops: &[SearchOp<M::Input, M::Output>]) -> u32 {
        let key = (u64::from(state) << 32) | u64::from(op);
        if let Some(&next) = self.memo.get(&key) {
            return next;
        }
        let o = &ops[op as usize];
        let next = match self.model.step(&self.list[state as usize], &o.input, o.output.as_ref()) {
            Some(s) => self.intern(s),
            None => NONE,
        };
        self.bytes += 24;
        self.memo.insert(key, next);
        next
    }
}

/// Where the search is in its scan of the candidates of the current configuration.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    /// Scanning the definite operations' list at this entry.
    Main(u32),
    /// Scanning indeterminate operations (call time `<= limit`), after the definite ones ran
    /// out at the return entry of `blocking`.
    Info { at: u32, limit: u64, blocking: u32 },
}

/// Searches for a linearization of `ops` (in any order) under `model`.
///
/// Operations with a return are tried first, in time order; operations without one (`info`)
/// only when those are exhausted, so a linearizable history rarely touches them, and the
/// cache's subsumption (see [`cache`]) prunes orders that only add `info` operations.
pub fn search<M: Model>(
    model: &M,
    hints: &M::Hints,
    ops: &[SearchOp<M::Input, M::Output>],
    limits: &Limits,
    stats: &mut SearchStats,
) -> SearchResult<M::State> {
    // Local numbering: definite ops 0..d in the main list, indeterminate ops d.. by call.
    let mut definite: Vec<u32> =
        (0..ops.len() as u32).filter(|&i| ops[i as usize].ret != u64::MAX).collect();
    let mut info: Vec<u32> =
        (0..ops.len() as u32).filter(|&i| ops[i as usize].ret == u64::MAX).collect();
    definite.sort_by_key(|&i| ops[i as usize].call);
    info.sort_by_key(|&i| ops[i as usize].call);
    let d = definite.len() as u32;
    let order: Vec<u32> = definite.iter().chain(&info).copied().collect();
    let time = |local: u32, ret: bool| {
        let o = &ops[order[local as usize] as usize];
        if ret {
            o.ret
        } else {
            o.call
        }
    };
    let mut main = Entries::new(
        &definite.iter().map(|&i| (ops[i as usize].call, ops[i as usize].ret)).collect::<Vec<_>>(),
    );
    let mut pending =
        Entries::new(&info.iter().map(|&i| (ops[i as usize].call, u64::MAX)).collect::<Vec<_>>());
    let mut owed = definite.len();
    let mut dbits = Bitset::new(definite.len());
    let mut ibits = Bitset::new(info.len());
    let mut cache = Cache::new(dbits.words().len(), ibits.words().len());
    let mut states = States {
        model,
        hints,
        list: Vec::new(),
        ids: FxHashMap::default(),
        memo: FxHashMap::default(),
        bytes: 0,
    };
    let mut state = states.intern(model.init());
    let mut stack: Vec<Frame> = Vec::with_capacity(ops.len());
    let mut best: Option<DeadEnd<u32>> = None;
    let mut charged = 0u64;
    let mut iter = 0u64;
    let mut cur = Cursor::Main(main.next(HEAD));

    let finish = |stats: &mut SearchStats, cache: &Cache, states: &States<M>, charged: u64| {
        stats.cached = cache.len() as u64;
        stats.states = states.list.len() as u64;
        stats.cache_bytes = stats.cache_bytes.max((cache.bytes() + states.bytes) as u64);
        limits.memory_used.fetch_sub(charged, Ordering::Relaxed);
    };

    loop {
        if owed == 0 {
            finish(stats, &cache, &states, charged);
            return SearchResult::Linearizable(
                stack.iter().map(|f| order[f.op as usize]).collect(),
            );
        }
        iter += 1;
        if iter & 1023 == 0 {
            let stop = limits.stop.load(Ordering::Relaxed);
            let used = (cache.bytes() + states.bytes) as u64;
            if used > charged {
                limits.memory_used.fetch_add(used - charged, Ordering::Relaxed);
                charged = used;
            }
            if stop != GO || limits.memory_used.load(Ordering::Relaxed) > limits.memory_limit {
                finish(stats, &cache, &states, charged);
                return SearchResult::Unknown(match stop {
                    STOP_TIME => UnknownReason::TimeLimit,
                    STOP_CANCEL => UnknownReason::Cancelled,
                    _ => UnknownReason::MemoryLimit,
                });
            }
        }
        // The candidate to try now, if any: (local op, where to go if it is refused).
        let (candidate, ctx) = match cur {
            Cursor::Main(e) => {
                debug_assert!(e != NONE, "a return entry is owed, so the list cannot end first");
                if main.is_call(e) {
                    (Some(main.op(e)), cur)
                } else {
                    let blocking = main.op(e);
                    cur = Cursor::Info {
                        at: pending.next(HEAD),
                        limit: time(blocking, true),
                        blocking,
                    };
                    continue;
                }
            }
            Cursor::Info { at, limit, .. } => {
                if at != NONE && time(d + pending.op(at), false) <= limit {
                    (Some(d + pending.op(at)), cur)
                } else {
                    (None, cur)
                }
            }
        };
        if let Some(op) = candidate {
            let next = states.step(state, order[op as usize], ops);
            if next != NONE {
                let is_info = op >= d;
                if is_info {
                    ibits.flip(op - d)
                } else {
                    dbits.flip(op)
                }
                if cache.insert(next, dbits.words(), ibits.words(), dbits.hash()) {
                    stats.steps += 1;
                    stack.push(Frame { op, prev_state: state, ctx });
                    state = next;
                    if is_info {
                        pending.lift(op - d);
                    } else {
                        main.lift(op);
                        owed -= 1;
                    }
                    cur = Cursor::Main(main.next(HEAD));
                    continue;
                }
                if is_info {
                    ibits.flip(op - d)
                } else {
                    dbits.flip(op)
                }
            }
            cur = match ctx {
                Cursor::Main(e) => Cursor::Main(main.next(e)),
                Cursor::Info { at, limit, blocking } => {
                    Cursor::Info { at: pending.next(at), limit, blocking }
                }
            };
            continue;
        }
        // Dead end: the definite op `blocking` returned and nothing can go next.
        let Cursor::Info { limit, blocking, .. } = cur else {
            unreachable!("a dead end is only declared while scanning indeterminate ops")
        };
        if best.as_ref().is_none_or(|b| stack.len() > b.prefix.len()) {
            let mut candidates = Vec::new();
            let mut e = main.next(HEAD);
            while e != NONE && main.is_call(e) {
                candidates.push(order[main.op(e) as usize]);
                e = main.next(e);
            }
            let mut e = pending.next(HEAD);
            while e != NONE && time(d + pending.op(e), false) <= limit {
                candidates.push(order[(d + pending.op(e)) as usize]);
                e = pending.next(e);
            }
            best = Some(DeadEnd {
                prefix: stack.iter().map(|f| order[f.op as usize]).collect(),
                state,
                candidates,
                blocking: order[blocking as usize],
            });
        }
        let Some(f) = stack.pop() else {
            finish(stats, &cache, &states, charged);
            // Invariant: a dead end was recorded just above, so `best` is set.
            let b = best.unwrap_or_else(|| unreachable!("dead end recorded above"));
            return SearchResult::Illegal(DeadEnd {
                prefix: b.prefix,
                state: states.list[b.state as usize].clone(),
                candidates: b.candidates,
                blocking: b.blocking,
            });
        };
        stats.backtracks += 1;
        state = f.prev_state;
        if f.op >= d {
            ibits.flip(f.op - d);
            pending.unlift(f.op - d);
        } else {
            dbits.flip(f.op);
            main.unlift(f.op);
            owed += 1;
        }
        cur = match f.ctx {
            Cursor::Main(e) => Cursor::Main(main.next(e)),
            Cursor::Info { at, limit, blocking } => {
                Cursor::Info { at: pending.next(at), limit, blocking }
            }
        };
    }
}
