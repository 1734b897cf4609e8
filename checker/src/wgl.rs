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
//! The loop in [`search`] is made of named steps of `Search`: `over_limits` (every 1024
//! steps: memory charged, stop flag read, as a typed [`Stop`]), `next` (the scan: a candidate
//! or a dead end), `try_op` (step the model, consult the cache, push), `skip`,
//! `record_dead_end` (the longest one is the counterexample) and `backtrack`.
//!
//! Indeterminate operations (`info`) have no return entry: they may be linearized at any
//! point after their call, or never. Model states are interned to `u32` and transitions
//! memoized, so the hot loop does one table probe per tried step and allocates nothing after
//! warm-up.
//!
//! # Symmetry reductions (`reduce`)
//! Small value domains make many operations identical (same input, same output), and WGL
//! would try every order of them. With `reduce`, two exact rules cut the branching (counted
//! in [`SearchStats::forced`] and [`SearchStats::symmetric`]):
//! - **Observers go at once** (`force`). When an operation that never changes the state
//!   ([`Model::is_observer`]: a read, a cas that found no match) is a candidate and legal in
//!   the current configuration `C`, it is linearized without trying alternatives: `C` has a
//!   completion iff `C + r` has one. Take any completion from `C` that linearizes `r` later (or
//!   never, if it is `info`) and move `r` to the front: the state is unchanged by `r`, so
//!   every step keeps its state; every op it passes was unlinearized in `C`, so its deadline
//!   is at least the first open return, which `r`'s call precedes (it is a candidate); and
//!   with `r` out, the candidate sets of the later configurations only grow.
//! - **Identical operations in deadline order** (`dominated`). Among identical candidates,
//!   only the one with the earliest return (for `info` ones, the earliest call) is tried.
//!   Exchange argument: let `a`, `b` be identical candidates of `C` with `ret(a) <= ret(b)`,
//!   and a completion put `b` now and `a` later at step `q` (or never, for `info`). Swapping
//!   them gives the same sequence of (input, output) pairs, so the same states; `a` is a
//!   candidate now; in between, `b` is open instead of `a`, and `ret(b) >= ret(a)` only makes
//!   more operations candidates; at `q`, `b` is a candidate because it was one in `C` and the
//!   open returns at `q` are a subset of those of `C`; and `b` reaches `q <= ret(a) <= ret(b)`
//!   in time. So trying `a` first loses nothing, and `b` is skipped while `a` is open.
//!
//! - **Just in time** (`due`, an order, not a pruning): each configuration's scan starts at
//!   the op whose return comes first, as Lowe's just-in-time linearization does; if that op
//!   is not legal now, the candidates after which it is come next (`Cursor::Enable`: the write
//!   a pending read needs); then the usual scan in call order (the cache refuses repeats).
//!   Committing early to writes nobody needs yet is what sends plain WGL into exponential
//!   backtracking on small domains; with this order the issue's histories need no backtrack.
//!
//! Both rules only remove alternatives that cannot succeed where a kept one fails, and the
//! cache stores configurations whose (reduced) subtrees were searched completely, so verdicts
//! are WGL's; the tests compare against brute force and plain WGL.
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

/// Why a search was told to stop (raised by the watchdog or by a worker that found a
/// violation; the first reason raised wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stop {
    /// The time limit passed.
    TimeLimit = 1,
    /// Another partition was found illegal.
    Cancel = 2,
    /// The caller gave the check up ([`crate::check::CancelToken`]).
    Abandoned = 3,
}

/// The shared stop flag: unset, or the first [`Stop`] raised.
#[derive(Debug, Default)]
pub struct StopFlag(AtomicU8);

impl StopFlag {
    /// Raises `reason` unless a reason was already raised.
    pub fn raise(&self, reason: Stop) {
        let _ = self.0.compare_exchange(0, reason as u8, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The reason raised, if any.
    #[inline]
    pub fn get(&self) -> Option<Stop> {
        match self.0.load(Ordering::Relaxed) {
            x if x == Stop::TimeLimit as u8 => Some(Stop::TimeLimit),
            x if x == Stop::Cancel as u8 => Some(Stop::Cancel),
            x if x == Stop::Abandoned as u8 => Some(Stop::Abandoned),
            _ => None,
        }
    }
}

impl From<Stop> for UnknownReason {
    fn from(s: Stop) -> UnknownReason {
        match s {
            Stop::TimeLimit => UnknownReason::TimeLimit,
            Stop::Cancel => UnknownReason::Cancelled,
            Stop::Abandoned => UnknownReason::Abandoned,
        }
    }
}

/// Shared bounds of all searches of one check.
#[derive(Debug)]
pub struct Limits {
    /// Set when every search should stop.
    pub stop: StopFlag,
    /// Bytes the caches of all searches may hold together.
    pub memory_limit: u64,
    /// Bytes they hold now.
    pub memory_used: AtomicU64,
}

impl Limits {
    /// Bounds with the given memory budget.
    pub fn new(memory_limit: u64) -> Limits {
        Limits { stop: StopFlag::default(), memory_limit, memory_used: AtomicU64::new(0) }
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
    /// Whether it was an observer linearized without alternatives: backtracking over it
    /// backtracks its parent configuration too.
    forced: bool,
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
    /// With reductions: trying first the op whose return comes first (just in time, as
    /// Lowe's search); then the scan of `Main` from the head (it meets that op again, and the
    /// cache refuses the repeat).
    Due(u32),
    /// With reductions, when the due op is not legal now: ops after which it is, from this
    /// entry of `Main` on; then the scan of `Main` from the head.
    Enable { at: u32, due: u32 },
    /// Scanning indeterminate operations (call time `<= limit`), after the definite ones ran
    /// out at the return entry of `blocking`.
    Info { at: u32, limit: u64, blocking: u32 },
}

/// What makes operations identical: input, output, and whether they have a return.
type ClassKey<'a, M> = (&'a <M as Model>::Input, Option<&'a <M as Model>::Output>, bool);

/// What [`Search::force`] did.
enum Forced {
    /// Linearized an observer.
    Pushed,
    /// The configuration with the observer was searched before: this one fails too.
    Seen,
    /// No legal observer is a candidate.
    None,
}

/// What the scan found to do next.
enum Next {
    /// Try linearizing this local op; `ctx` is where to resume if it is refused.
    Try(u32, Cursor),
    /// Nothing can go next before the return of a definite op: a dead end.
    DeadEnd,
}

/// The search's mutable state: the event lists, the linearized sets, the cache, the stack.
struct Search<'a, M: Model> {
    ops: &'a [SearchOp<M::Input, M::Output>],
    limits: &'a Limits,
    /// Local numbering: definite ops `0..d` (by call), then indeterminate ones `d..`.
    order: Vec<u32>,
    d: u32,
    /// Definite ops' calls and returns; indeterminate ops' calls.
    main: Entries,
    pending: Entries,
    /// Definite ops not yet linearized.
    owed: usize,
    dbits: Bitset,
    ibits: Bitset,
    cache: Cache,
    states: States<'a, M>,
    state: u32,
    stack: Vec<Frame>,
    /// The longest dead end found so far (the counterexample).
    best: Option<DeadEnd<u32>>,
    /// Bytes added to `limits.memory_used` by this search.
    charged: u64,
    iter: u64,
    cur: Cursor,
    /// Symmetry reductions on (see the module docs); the fields below are empty without.
    reduce: bool,
    /// Per local op: whether it is an observer.
    observer: Vec<bool>,
    /// Per local op: its class of identical ops, and its rank there.
    class: Vec<u32>,
    rank: Vec<u32>,
    /// Per class: local ops by (return, call order).
    peers: Vec<Vec<u32>>,
    /// The first open return's time, while the linearized set is unchanged.
    limit: Option<u64>,
    /// A configuration just entered: look for an observer to force first.
    fresh: bool,
}

impl<'a, M: Model> Search<'a, M> {
    fn new(
        model: &'a M,
        hints: &'a M::Hints,
        ops: &'a [SearchOp<M::Input, M::Output>],
        limits: &'a Limits,
        reduce: bool,
    ) -> Self {
        let mut definite: Vec<u32> =
            (0..ops.len() as u32).filter(|&i| ops[i as usize].ret != u64::MAX).collect();
        let mut info: Vec<u32> =
            (0..ops.len() as u32).filter(|&i| ops[i as usize].ret == u64::MAX).collect();
        definite.sort_by_key(|&i| ops[i as usize].call);
        info.sort_by_key(|&i| ops[i as usize].call);
        let times = |list: &[u32], ret: bool| -> Vec<(u64, u64)> {
            list.iter()
                .map(|&i| (ops[i as usize].call, if ret { ops[i as usize].ret } else { u64::MAX }))
                .collect()
        };
        let main = Entries::new(&times(&definite, true));
        let pending = Entries::new(&times(&info, false));
        let dbits = Bitset::new(definite.len());
        let ibits = Bitset::new(info.len());
        let cache = Cache::new(dbits.words().len(), ibits.words().len());
        let mut states = States {
            model,
            hints,
            list: Vec::new(),
            ids: FxHashMap::default(),
            memo: FxHashMap::default(),
            bytes: 0,
        };
        let state = states.intern(model.init());
        let cur = Cursor::Main(main.next(HEAD));
        let order: Vec<u32> = definite.iter().chain(&info).copied().collect();
        let (mut observer, mut class, mut rank, mut peers) = (vec![], vec![], vec![], vec![]);
        if reduce {
            let mut ids: FxHashMap<ClassKey<M>, u32> = FxHashMap::default();
            for (local, &i) in order.iter().enumerate() {
                let o = &ops[i as usize];
                observer.push(model.is_observer(&o.input, o.output.as_ref()));
                let key = (&o.input, o.output.as_ref(), o.ret == u64::MAX);
                let next = ids.len() as u32;
                let c = *ids.entry(key).or_insert(next);
                if c == next {
                    peers.push(Vec::new());
                }
                class.push(c);
                peers[c as usize].push(local as u32);
            }
            rank = vec![0; order.len()];
            for p in &mut peers {
                // Definite ops by return (then call order); info ops by call order.
                p.sort_by_key(|&l| (ops[order[l as usize] as usize].ret, l));
                for (r, &l) in p.iter().enumerate() {
                    rank[l as usize] = r as u32;
                }
            }
        }
        Search {
            ops,
            limits,
            d: definite.len() as u32,
            owed: definite.len(),
            order,
            main,
            pending,
            dbits,
            ibits,
            cache,
            states,
            state,
            stack: Vec::with_capacity(ops.len()),
            best: None,
            charged: 0,
            iter: 0,
            cur,
            reduce,
            observer,
            class,
            rank,
            peers,
            limit: None,
            fresh: reduce,
        }
    }

    /// The call (or, with `ret`, the return) time of local op `local`.
    #[inline]
    fn time(&self, local: u32, ret: bool) -> u64 {
        let o = &self.ops[self.order[local as usize] as usize];
        if ret {
            o.ret
        } else {
            o.call
        }
    }

    /// Every 1024 steps: charge the memory used and read the stop flag.
    #[inline]
    fn over_limits(&mut self) -> Option<UnknownReason> {
        self.iter += 1;
        if self.iter & 1023 != 0 {
            return None;
        }
        let used = (self.cache.bytes() + self.states.bytes) as u64;
        if used > self.charged {
            self.limits.memory_used.fetch_add(used - self.charged, Ordering::Relaxed);
            self.charged = used;
        }
        match self.limits.stop.get() {
            Some(stop) => Some(stop.into()),
            None => (self.limits.memory_used.load(Ordering::Relaxed) > self.limits.memory_limit)
                .then_some(UnknownReason::MemoryLimit),
        }
    }

    /// Where the scan is: the next candidate to try, or a dead end. Reaching a definite op's
    /// return switches the scan to indeterminate ops invoked by then.
    #[inline]
    fn next(&mut self) -> Next {
        loop {
            match self.cur {
                Cursor::Due(op) => {
                    if self.states.step(self.state, self.order[op as usize], self.ops) != NONE {
                        return Next::Try(op, self.cur);
                    }
                    self.cur = Cursor::Enable { at: self.main.next(HEAD), due: op };
                }
                Cursor::Enable { at, due } => {
                    if at == NONE || !self.main.is_call(at) {
                        self.cur = Cursor::Main(self.main.next(HEAD));
                        continue;
                    }
                    let op = self.main.op(at);
                    let next = self.states.step(self.state, self.order[op as usize], self.ops);
                    if op != due
                        && next != NONE
                        && self.states.step(next, self.order[due as usize], self.ops) != NONE
                    {
                        return Next::Try(op, self.cur);
                    }
                    self.cur = Cursor::Enable { at: self.main.next(at), due };
                }
                Cursor::Main(e) => {
                    debug_assert!(e != NONE, "a return is owed, so the list cannot end first");
                    if self.main.is_call(e) {
                        return Next::Try(self.main.op(e), self.cur);
                    }
                    let blocking = self.main.op(e);
                    self.cur = Cursor::Info {
                        at: self.pending.next(HEAD),
                        limit: self.time(blocking, true),
                        blocking,
                    };
                }
                Cursor::Info { at, limit, .. } => {
                    if at == NONE {
                        return Next::DeadEnd;
                    }
                    let op = self.d + self.pending.op(at);
                    return if self.time(op, false) <= limit {
                        Next::Try(op, self.cur)
                    } else {
                        Next::DeadEnd
                    };
                }
            }
        }
    }

    fn flip(&mut self, op: u32) {
        if op >= self.d {
            self.ibits.flip(op - self.d)
        } else {
            self.dbits.flip(op)
        }
    }

    /// Linearizes `op` if the model allows it and the configuration is new: push it, lift it
    /// out, and restart the scan at the head. False if refused.
    #[inline]
    fn try_op(&mut self, op: u32, ctx: Cursor) -> bool {
        let next = self.states.step(self.state, self.order[op as usize], self.ops);
        if next == NONE {
            return false;
        }
        self.flip(op);
        let (d, i) = (self.dbits.words(), self.ibits.words());
        if !self.cache.insert(next, d, i, self.dbits.hash()) {
            self.flip(op);
            return false;
        }
        self.push(Frame { op, forced: false, prev_state: self.state, ctx }, next);
        true
    }

    /// Enters the configuration with `f.op` linearized and the state `next`.
    #[inline]
    fn push(&mut self, f: Frame, next: u32) {
        let op = f.op;
        self.stack.push(f);
        self.state = next;
        if op >= self.d {
            self.pending.lift(op - self.d);
        } else {
            self.main.lift(op);
            self.owed -= 1;
        }
        self.limit = None;
        self.cur = if self.reduce { self.due() } else { Cursor::Main(self.main.next(HEAD)) };
        self.fresh = self.reduce;
    }

    /// With reductions, where the scan of a configuration starts: at the op whose return is
    /// first (it is a candidate, and the one needed soonest).
    fn due(&mut self) -> Cursor {
        let mut e = self.main.next(HEAD);
        while e != NONE && self.main.is_call(e) {
            e = self.main.next(e);
        }
        if e == NONE {
            return Cursor::Main(self.main.next(HEAD));
        }
        let op = self.main.op(e);
        self.limit = Some(self.time(op, true));
        Cursor::Due(op)
    }

    /// The time of the first open return: an op is a candidate iff its call is at most this.
    fn limit(&mut self) -> u64 {
        if let Some(l) = self.limit {
            return l;
        }
        let mut e = self.main.next(HEAD);
        while e != NONE && self.main.is_call(e) {
            e = self.main.next(e);
        }
        // A return is owed whenever the search looks for candidates.
        let l = if e == NONE { u64::MAX } else { self.time(self.main.op(e), true) };
        self.limit = Some(l);
        l
    }

    /// Whether an identical candidate with an earlier deadline is open, so trying `op` would
    /// repeat what trying that one does (see the module docs).
    fn dominated(&mut self, op: u32) -> bool {
        if !self.reduce || self.rank[op as usize] == 0 {
            return false;
        }
        let (c, r) = (self.class[op as usize] as usize, self.rank[op as usize] as usize);
        if op >= self.d {
            // Earlier-called identical info ops are candidates whenever `op` is.
            return self.peers[c][..r].iter().any(|&p| !self.ibits.contains(p - self.d));
        }
        let limit = self.limit();
        for &p in self.peers[c][..r].iter().rev() {
            if self.time(p, true) < limit {
                break; // returned before the first open return: linearized, as all before it
            }
            if !self.dbits.contains(p) && self.time(p, false) <= limit {
                return true;
            }
        }
        false
    }

    /// In a configuration just entered: linearizes a legal observer candidate, if any, as the
    /// only way on (see the module docs).
    fn force(&mut self) -> Forced {
        let mut e = self.main.next(HEAD);
        while e != NONE && self.main.is_call(e) {
            let op = self.main.op(e);
            if self.observer[op as usize]
                && self.states.step(self.state, self.order[op as usize], self.ops) == self.state
            {
                self.flip(op);
                let (d, i) = (self.dbits.words(), self.ibits.words());
                if !self.cache.insert(self.state, d, i, self.dbits.hash()) {
                    self.flip(op);
                    return Forced::Seen;
                }
                let f = Frame { op, forced: true, prev_state: self.state, ctx: self.cur };
                self.push(f, self.state);
                return Forced::Pushed;
            }
            e = self.main.next(e);
        }
        Forced::None
    }

    /// Moves the scan past the entry `ctx` points at.
    #[inline]
    fn skip(&self, ctx: Cursor) -> Cursor {
        match ctx {
            Cursor::Main(e) => Cursor::Main(self.main.next(e)),
            Cursor::Due(_) => Cursor::Main(self.main.next(HEAD)),
            Cursor::Enable { at, due } => Cursor::Enable { at: self.main.next(at), due },
            Cursor::Info { at, limit, blocking } => {
                Cursor::Info { at: self.pending.next(at), limit, blocking }
            }
        }
    }

    /// Keeps the dead end at the current configuration if it is the longest so far.
    fn record_dead_end(&mut self) {
        let Cursor::Info { limit, blocking, .. } = self.cur else {
            unreachable!("a dead end is only declared while scanning indeterminate ops")
        };
        if self.best.as_ref().is_some_and(|b| self.stack.len() <= b.prefix.len()) {
            return;
        }
        let mut candidates = Vec::new();
        let mut e = self.main.next(HEAD);
        while e != NONE && self.main.is_call(e) {
            candidates.push(self.order[self.main.op(e) as usize]);
            e = self.main.next(e);
        }
        let mut e = self.pending.next(HEAD);
        while e != NONE && self.time(self.d + self.pending.op(e), false) <= limit {
            candidates.push(self.order[(self.d + self.pending.op(e)) as usize]);
            e = self.pending.next(e);
        }
        self.best = Some(DeadEnd {
            prefix: self.stack.iter().map(|f| self.order[f.op as usize]).collect(),
            state: self.state,
            candidates,
            blocking: self.order[blocking as usize],
        });
    }

    /// Undoes the last linearized op and resumes the scan after it; false at the bottom. A
    /// forced op was the only way on from its parent, so the parent is undone too.
    fn backtrack(&mut self, stats: &mut SearchStats) -> bool {
        self.limit = None;
        self.fresh = false;
        loop {
            let Some(f) = self.stack.pop() else { return false };
            stats.backtracks += 1;
            self.state = f.prev_state;
            self.flip(f.op);
            if f.op >= self.d {
                self.pending.unlift(f.op - self.d);
            } else {
                self.main.unlift(f.op);
                self.owed += 1;
            }
            if !f.forced {
                self.cur = self.skip(f.ctx);
                return true;
            }
        }
    }

    /// Final statistics, and gives back the memory charged.
    fn finish(&self, stats: &mut SearchStats) {
        stats.cached = self.cache.len() as u64;
        stats.states = self.states.list.len() as u64;
        stats.cache_bytes = stats.cache_bytes.max((self.cache.bytes() + self.states.bytes) as u64);
        self.limits.memory_used.fetch_sub(self.charged, Ordering::Relaxed);
    }

    /// The longest dead end, with its state resolved.
    fn illegal(self) -> SearchResult<M::State> {
        // Invariant: `backtrack` fails only after a dead end was recorded.
        let b = self.best.unwrap_or_else(|| unreachable!("a dead end was recorded"));
        SearchResult::Illegal(DeadEnd {
            prefix: b.prefix,
            state: self.states.list[b.state as usize].clone(),
            candidates: b.candidates,
            blocking: b.blocking,
        })
    }
}

/// Searches for a linearization of `ops` (in any order) under `model`, with the symmetry
/// reductions when `reduce` (see the module docs; the verdict is the same either way).
///
/// Operations with a return are tried first, in time order; operations without one (`info`)
/// only when those are exhausted, so a linearizable history rarely touches them, and the
/// cache's subsumption (see [`cache`]) prunes orders that only add `info` operations.
pub fn search<M: Model>(
    model: &M,
    hints: &M::Hints,
    ops: &[SearchOp<M::Input, M::Output>],
    limits: &Limits,
    reduce: bool,
    stats: &mut SearchStats,
) -> SearchResult<M::State> {
    let mut s = Search::new(model, hints, ops, limits, reduce);
    if reduce {
        s.cur = s.due();
    }
    loop {
        if s.owed == 0 {
            s.finish(stats);
            return SearchResult::Linearizable(
                s.stack.iter().map(|f| s.order[f.op as usize]).collect(),
            );
        }
        if let Some(reason) = s.over_limits() {
            s.finish(stats);
            return SearchResult::Unknown(reason);
        }
        if s.fresh {
            s.fresh = false;
            match s.force() {
                Forced::Pushed => {
                    stats.steps += 1;
                    stats.forced += 1;
                    continue;
                }
                Forced::Seen => {
                    if !s.backtrack(stats) {
                        s.finish(stats);
                        return s.illegal();
                    }
                    continue;
                }
                Forced::None => {}
            }
        }
        match s.next() {
            Next::Try(op, ctx) => {
                if s.dominated(op) {
                    stats.symmetric += 1;
                    s.cur = s.skip(ctx);
                } else if s.try_op(op, ctx) {
                    stats.steps += 1;
                } else {
                    s.cur = s.skip(ctx);
                }
            }
            Next::DeadEnd => {
                s.record_dead_end();
                if !s.backtrack(stats) {
                    s.finish(stats);
                    return s.illegal();
                }
            }
        }
    }
}
