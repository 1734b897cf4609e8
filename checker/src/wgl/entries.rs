//! The event list of the WGL search: every operation's call, and the return of each operation
//! that has one, in time order, as a doubly linked list over arrays so that lifting an
//! operation out (and putting it back, in stack order) costs O(1) and allocates nothing.
//!
//! Ties: calls sort before returns at the same instant (closed intervals, as Porcupine), so
//! operations that touch are concurrent.

/// Marks "no entry".
pub const NONE: u32 = u32::MAX;
/// The list head sentinel.
pub const HEAD: u32 = 0;

/// The linked event list.
#[derive(Debug)]
pub struct Entries {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// The operation of each entry (entry 0 is the head).
    op: Vec<u32>,
    /// Whether each entry is a call (else a return).
    call: Vec<bool>,
    /// Per operation: its call entry.
    call_of: Vec<u32>,
    /// Per operation: its return entry, or [`NONE`] when it may take effect at any later time.
    ret_of: Vec<u32>,
}

impl Entries {
    /// Builds the list from `(call, ret)` per operation; `ret == u64::MAX` means no return.
    pub fn new(times: &[(u64, u64)]) -> Entries {
        // (time, kind, op): kind 0 = call, 1 = return.
        let mut ev: Vec<(u64, u8, u32)> = Vec::with_capacity(times.len() * 2);
        for (i, &(c, r)) in times.iter().enumerate() {
            ev.push((c, 0, i as u32));
            if r != u64::MAX {
                ev.push((r, 1, i as u32));
            }
        }
        ev.sort_unstable();
        let m = ev.len() + 1;
        let mut e = Entries {
            next: Vec::with_capacity(m),
            prev: Vec::with_capacity(m),
            op: Vec::with_capacity(m),
            call: Vec::with_capacity(m),
            call_of: vec![NONE; times.len()],
            ret_of: vec![NONE; times.len()],
        };
        e.op.push(NONE);
        e.call.push(false);
        for (j, &(_, kind, op)) in ev.iter().enumerate() {
            let idx = (j + 1) as u32;
            e.op.push(op);
            e.call.push(kind == 0);
            if kind == 0 {
                e.call_of[op as usize] = idx;
            } else {
                e.ret_of[op as usize] = idx;
            }
        }
        for i in 0..m {
            e.next.push(if i + 1 < m { (i + 1) as u32 } else { NONE });
            e.prev.push(if i == 0 { NONE } else { (i - 1) as u32 });
        }
        e
    }

    /// The entry after `i` ([`NONE`] at the end).
    #[inline]
    pub fn next(&self, i: u32) -> u32 {
        self.next[i as usize]
    }

    /// Whether entry `i` is a call.
    #[inline]
    pub fn is_call(&self, i: u32) -> bool {
        self.call[i as usize]
    }

    /// The operation of entry `i`.
    #[inline]
    pub fn op(&self, i: u32) -> u32 {
        self.op[i as usize]
    }

    /// The call entry of operation `op`.
    #[inline]
    pub fn call_of(&self, op: u32) -> u32 {
        self.call_of[op as usize]
    }

    /// Whether operation `op` has a return entry.
    #[inline]
    pub fn has_return(&self, op: u32) -> bool {
        self.ret_of[op as usize] != NONE
    }

    #[inline]
    fn unlink(&mut self, i: u32) {
        let (p, n) = (self.prev[i as usize], self.next[i as usize]);
        self.next[p as usize] = n;
        if n != NONE {
            self.prev[n as usize] = p;
        }
    }

    #[inline]
    fn relink(&mut self, i: u32) {
        let (p, n) = (self.prev[i as usize], self.next[i as usize]);
        self.next[p as usize] = i;
        if n != NONE {
            self.prev[n as usize] = i;
        }
    }

    /// Takes operation `op` (its call and return) out of the list.
    #[inline]
    pub fn lift(&mut self, op: u32) {
        self.unlink(self.call_of[op as usize]);
        let r = self.ret_of[op as usize];
        if r != NONE {
            self.unlink(r);
        }
    }

    /// Puts operation `op` back; must undo the most recent [`Entries::lift`] still in effect.
    #[inline]
    pub fn unlift(&mut self, op: u32) {
        let r = self.ret_of[op as usize];
        if r != NONE {
            self.relink(r);
        }
        self.relink(self.call_of[op as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(e: &Entries) -> Vec<(u32, bool)> {
        let mut v = vec![];
        let mut i = e.next(HEAD);
        while i != NONE {
            v.push((e.op(i), e.is_call(i)));
            i = e.next(i);
        }
        v
    }

    #[test]
    fn calls_sort_before_returns_and_lift_unlift_restores() {
        let mut e = Entries::new(&[(0, 10), (10, 20), (5, u64::MAX)]);
        assert_eq!(order(&e), vec![(0, true), (2, true), (1, true), (0, false), (1, false)]);
        e.lift(0);
        assert_eq!(order(&e), vec![(2, true), (1, true), (1, false)]);
        e.lift(2);
        assert_eq!(order(&e), vec![(1, true), (1, false)]);
        e.unlift(2);
        e.unlift(0);
        assert_eq!(order(&e), vec![(0, true), (2, true), (1, true), (0, false), (1, false)]);
    }
}
