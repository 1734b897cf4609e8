//! A block: operations in a fixed order of *stages* (the order inside one stage is free), each
//! with a closed interval `[call, ret]` (`ret = u64::MAX` when it may take effect any time
//! after its call). Scheduled at the earliest instants it can take effect:
//!
//! ```text
//!  t = latest call of everything in earlier stages (of this block, and of earlier blocks)
//!  op o of the current stage takes effect at max(t, call(o)); it is late if that is > ret(o)
//! ```
//!
//! Earliest instants are optimal: an op is never placed later than it must be, so if this
//! schedule has a late operation, every schedule does. It follows that a block started after
//! other blocks fits iff it fits alone and no operation of those blocks was invoked after one
//! of its own returned: with `min_ret` and `max_call` of each block, blocks `a` before `b` is
//! possible iff `max_call(a) <= min_ret(b)`. [`order`] finds an order of blocks meeting that
//! for every pair, or two blocks that each must precede the other.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A time with "before everything" (`i128::MIN`) and "never" (`u64::MAX`) both representable.
pub type Instant = i128;

/// An operation in a block: the caller's index and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The caller's index of the operation.
    pub item: u32,
    /// Invoke time.
    pub call: u64,
    /// Completion time (`u64::MAX`: no deadline).
    pub ret: u64,
}

/// An operation that must follow `after` (it is in a later stage) but returned before `after`
/// was invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Late {
    /// The late operation.
    pub op: Slot,
    /// The operation of an earlier stage invoked after it returned.
    pub after: Slot,
}

/// What a block needs from the blocks around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The earliest completion in the block, and its op: nothing before the block may have
    /// been invoked after it.
    pub min_ret: Instant,
    /// The op that completed first.
    pub first_ret: Option<Slot>,
    /// The latest invoke in the block, and its op: nothing after the block may have completed
    /// before it.
    pub max_call: Instant,
    /// The op invoked last.
    pub last_call: Option<Slot>,
}

/// Schedules one block whose stages are `stages` (each a non-empty run of slots), each op at
/// its earliest instant.
///
/// # Errors
/// The first late operation.
pub fn run<'a>(stages: impl IntoIterator<Item = &'a [Slot]>) -> Result<Bounds, Late> {
    let mut b =
        Bounds { min_ret: Instant::MAX, first_ret: None, max_call: Instant::MIN, last_call: None };
    for stage in stages {
        let before = b.last_call;
        for s in stage {
            if let Some(after) = before {
                if after.call > s.ret {
                    return Err(Late { op: *s, after });
                }
            }
            if Instant::from(s.ret) < b.min_ret {
                b.min_ret = Instant::from(s.ret);
                b.first_ret = Some(*s);
            }
        }
        for s in stage {
            if Instant::from(s.call) > b.max_call {
                b.max_call = Instant::from(s.call);
                b.last_call = Some(*s);
            }
        }
    }
    Ok(b)
}

/// The result of ordering blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Block indices in an order where each pair is possible.
    Fits(Vec<usize>),
    /// No order: `placed` blocks fit in that order, then blocks `a` and `b` (both not yet
    /// placed) each have an op that completed before an op of the other was invoked.
    Cycle {
        /// The blocks placed before the cycle, in order.
        placed: Vec<usize>,
        /// One block of the cycle (`min_ret(a) < max_call(b)`).
        a: usize,
        /// The other (`min_ret(b) < max_call(a)`).
        b: usize,
    },
}

/// A block's key in a heap: `(min_ret or max_call, block)`.
type Entry = (Instant, usize);

/// A min-heap over one field of the remaining blocks, with lazy removal.
struct Heap<'a> {
    heap: BinaryHeap<Reverse<Entry>>,
    placed: &'a [bool],
}

impl Heap<'_> {
    /// The two smallest remaining entries.
    fn two(&mut self) -> (Option<Entry>, Option<Entry>) {
        let first = self.pop();
        let second = self.pop();
        for e in [first, second].into_iter().flatten() {
            self.heap.push(Reverse(e));
        }
        (first, second)
    }

    fn pop(&mut self) -> Option<Entry> {
        while let Some(Reverse(e)) = self.heap.pop() {
            if !self.placed[e.1] {
                return Some(e);
            }
        }
        None
    }
}

/// Orders blocks so that for every pair `a` before `b`, `max_call(a) <= min_ret(b)` (Kahn's
/// algorithm on that relation, in O(n log n)): a block is a source when its `max_call` is at
/// most the smallest `min_ret` among the *other* remaining blocks. If the smallest-`min_ret`
/// block `a` is not a source and no other block is, then the second-smallest `b` has
/// `min_ret(b) < max_call(a)` and every other block `c` has `max_call(c) > min_ret(a)`: `a`
/// and `b` form a cycle.
pub fn order(bounds: &[Bounds]) -> Order {
    let mut placed = vec![false; bounds.len()];
    let mut by_ret: BinaryHeap<_> =
        bounds.iter().enumerate().map(|(i, b)| Reverse((b.min_ret, i))).collect();
    let mut by_call: BinaryHeap<_> =
        bounds.iter().enumerate().map(|(i, b)| Reverse((b.max_call, i))).collect();
    let mut out = Vec::with_capacity(bounds.len());
    while out.len() < bounds.len() {
        let (pick, cycle) = {
            let mut rets = Heap { heap: std::mem::take(&mut by_ret), placed: &placed };
            let mut calls = Heap { heap: std::mem::take(&mut by_call), placed: &placed };
            let (first, second) = rets.two();
            // Invariant: fewer placed than blocks, so a remaining block exists.
            let (lmin, a) = first.unwrap_or_else(|| unreachable!("a block remains"));
            let pick = if second.is_none_or(|(l2, _)| bounds[a].max_call <= l2) {
                Some(a)
            } else {
                match calls.two() {
                    (Some((c, i)), _) if i != a && c <= lmin => Some(i),
                    (Some((_, i)), Some((c, j))) if i == a && c <= lmin => Some(j),
                    _ => None,
                }
            };
            let cycle = second.map(|(_, b)| (a, b));
            by_ret = rets.heap;
            by_call = calls.heap;
            (pick, cycle)
        };
        match (pick, cycle) {
            (Some(i), _) => {
                placed[i] = true;
                out.push(i);
            }
            (None, Some((a, b))) => return Order::Cycle { placed: out, a, b },
            (None, None) => unreachable!("a single remaining block is always a source"),
        }
    }
    Order::Fits(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(item: u32, call: u64, ret: u64) -> Slot {
        Slot { item, call, ret }
    }

    fn bounds(min_ret: Instant, max_call: Instant) -> Bounds {
        Bounds { min_ret, first_ret: None, max_call, last_call: None }
    }

    #[test]
    fn an_op_that_returned_before_an_earlier_stage_was_invoked_is_late() {
        // write [10, 20], read of it [0, 5]: the read returned before the write began.
        let w = [slot(0, 10, 20)];
        let r = [slot(1, 0, 5)];
        assert_eq!(run([&w[..], &r[..]]), Err(Late { op: r[0], after: w[0] }));
        // Touching intervals are concurrent (closed intervals).
        let r = [slot(1, 0, 10)];
        let b = run([&w[..], &r[..]]).unwrap();
        assert_eq!((b.min_ret, b.max_call), (10, 10));
        // Inside one stage the order is free.
        let s = [slot(0, 10, 20), slot(1, 0, 5)];
        assert!(run([&s[..]]).is_ok());
    }

    #[test]
    fn blocks_order_by_real_time_or_name_a_two_cycle() {
        // A forward zone [5, 100] and a point block [1, 10]: the point block must go first.
        assert_eq!(order(&[bounds(5, 100), bounds(10, 1)]), Order::Fits(vec![1, 0]));
        // Two forward zones that overlap: each has an op that returned before the other's
        // was invoked.
        assert_eq!(
            order(&[bounds(9, 1), bounds(5, 100), bounds(10, 20)]),
            Order::Cycle { placed: vec![0], a: 1, b: 2 }
        );
        // Before-everything (the initial value's block) goes first, and conflicts are found.
        assert_eq!(order(&[bounds(3, 4), bounds(Instant::MIN, 2)]), Order::Fits(vec![1, 0]));
        assert!(matches!(
            order(&[bounds(3, 4), bounds(Instant::MIN, 5)]),
            Order::Cycle { a: 1, b: 0, .. }
        ));
    }
}
