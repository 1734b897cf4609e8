//! The explored configurations, with subsumption for indeterminate operations.
//!
//! A configuration is `(state, D, I)`: the model state, the set `D` of linearized operations
//! that have a return, and the set `I` of linearized indeterminate (`info`) ones. If
//! `(state, D, I₁)` was explored and `I₁ ⊆ I₂`, then `(state, D, I₂)` cannot succeed where the
//! first failed: every continuation of the second is open to the first (same state, same
//! real-time obligations, and every op still available to the second is available to the
//! first). So the second is pruned. With no indeterminate operations this is exactly
//! Lowe's equality cache.
//!
//! Layout: an open-addressing table over key records in one arena, and the `I` sets of each
//! key as a chain of records `[next, I words..]` in another. A key record is
//! `[state, lo, len, D words lo..lo+len, chain head]`: the words of `D` below `lo` are all
//! ones and those from `lo + len` on all zeros, so only the window of operations in flight is
//! stored (operations are numbered by call, and everything well before the current instant is
//! linearized). On a 10,000-operation history that is a few words instead of 157. Inserting
//! allocates only when an arena or the table grows (amortized), and the bytes held are known
//! exactly for the memory limit.

const END: u64 = u64::MAX;

/// The explored-configurations set.
#[derive(Debug)]
pub struct Cache {
    keys: Vec<u64>,
    /// Where each key record starts in `keys`.
    starts: Vec<usize>,
    dwords: usize,
    ivals: Vec<u64>,
    ival_stride: usize,
    /// Slots: 0 empty, else key record number + 1.
    slots: Vec<u32>,
    /// Full hash per slot, to skip most record comparisons.
    hashes: Vec<u64>,
    nkeys: usize,
    len: usize,
}

impl Cache {
    /// An empty cache for `D` sets of `dwords` words and `I` sets of `iwords` words.
    pub fn new(dwords: usize, iwords: usize) -> Cache {
        let cap = 1024;
        Cache {
            keys: Vec::with_capacity(cap * 6),
            starts: Vec::with_capacity(cap),
            dwords,
            ivals: Vec::with_capacity(cap * (iwords + 1)),
            ival_stride: iwords + 1,
            slots: vec![0; cap * 2],
            hashes: vec![0; cap * 2],
            nkeys: 0,
            len: 0,
        }
    }

    /// Configurations stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        (self.keys.capacity() + self.ivals.capacity() + self.starts.capacity()) * 8
            + self.slots.len() * 12
    }

    /// Records `(state, d, i)` with `h` the hash of `d`; false if it, or a configuration
    /// that subsumes it, is already there.
    #[inline]
    pub fn insert(&mut self, state: u32, d: &[u64], i: &[u64], h: u64) -> bool {
        debug_assert_eq!(d.len(), self.dwords);
        // The window: full words below `lo`, empty words from `hi` on.
        let lo = d.iter().position(|&w| w != u64::MAX).unwrap_or(d.len());
        let hi = d.iter().rposition(|&w| w != 0).map_or(0, |p| p + 1).max(lo);
        let window = &d[lo..hi];
        let h = h ^ (u64::from(state).wrapping_mul(0x9E37_79B9_7F4A_7C15)).rotate_left(17);
        let mask = self.slots.len() - 1;
        let mut slot = (h as usize) & mask;
        loop {
            let s = self.slots[slot];
            if s == 0 {
                break;
            }
            if self.hashes[slot] == h {
                let base = self.starts[s as usize - 1];
                let len = self.keys[base + 2] as usize;
                let rec = &self.keys[base..base + 3 + len];
                if rec[0] == u64::from(state) && rec[1] == lo as u64 && &rec[3..] == window {
                    let head_at = base + 3 + len;
                    if self.dominated(self.keys[head_at], i) {
                        return false;
                    }
                    let new = self.push_ival(self.keys[head_at], i);
                    self.keys[head_at] = new;
                    return true;
                }
            }
            slot = (slot + 1) & mask;
        }
        let head = self.push_ival(END, i);
        self.starts.push(self.keys.len());
        self.keys.extend_from_slice(&[u64::from(state), lo as u64, window.len() as u64]);
        self.keys.extend_from_slice(window);
        self.keys.push(head);
        self.nkeys += 1;
        self.slots[slot] = self.nkeys as u32;
        self.hashes[slot] = h;
        if self.nkeys * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    /// Whether some stored `I` of the chain at `head` is a subset of `i`.
    #[inline]
    fn dominated(&self, mut at: u64, i: &[u64]) -> bool {
        while at != END {
            let base = at as usize * self.ival_stride;
            let old = &self.ivals[base + 1..base + self.ival_stride];
            if old.iter().zip(i).all(|(o, n)| o & !n == 0) {
                return true;
            }
            at = self.ivals[base];
        }
        false
    }

    fn push_ival(&mut self, next: u64, i: &[u64]) -> u64 {
        let at = (self.ivals.len() / self.ival_stride) as u64;
        self.ivals.push(next);
        self.ivals.extend_from_slice(i);
        self.len += 1;
        at
    }

    fn grow(&mut self) {
        let cap = self.slots.len() * 2;
        let mut slots = vec![0u32; cap];
        let mut hashes = vec![0u64; cap];
        let mask = cap - 1;
        for (i, &s) in self.slots.iter().enumerate() {
            if s != 0 {
                let h = self.hashes[i];
                let mut j = (h as usize) & mask;
                while slots[j] != 0 {
                    j = (j + 1) & mask;
                }
                slots[j] = s;
                hashes[j] = h;
            }
        }
        self.slots = slots;
        self.hashes = hashes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_configurations_dedup_across_growth() {
        let mut c = Cache::new(2, 1);
        for i in 0..5000u64 {
            assert!(c.insert((i % 7) as u32, &[i, i * 3], &[0], i.wrapping_mul(31)));
        }
        for i in 0..5000u64 {
            assert!(!c.insert((i % 7) as u32, &[i, i * 3], &[0], i.wrapping_mul(31)));
            assert!(c.insert((i % 7) as u32 + 1, &[i, i * 3], &[0], i.wrapping_mul(31)));
        }
        assert_eq!(c.len(), 10000);
    }

    #[test]
    fn windows_tell_sets_apart() {
        // Full words below the window and empty ones above it are not stored; sets that differ
        // only there must still differ.
        let mut c = Cache::new(3, 1);
        assert!(c.insert(0, &[u64::MAX, 1, 0], &[0], 1));
        assert!(c.insert(0, &[u64::MAX, u64::MAX, 1], &[0], 1), "same hash, other set");
        assert!(c.insert(0, &[1, 0, 0], &[0], 1));
        assert!(c.insert(0, &[u64::MAX, 0, 0], &[0], 1));
        assert!(c.insert(0, &[u64::MAX; 3], &[0], 1));
        assert!(c.insert(0, &[0; 3], &[0], 1));
        assert!(c.insert(0, &[u64::MAX, 1, 1], &[0], 1));
        for d in [[u64::MAX, 1, 0], [1, 0, 0], [u64::MAX; 3], [0; 3], [u64::MAX, 1, 1]] {
            assert!(!c.insert(0, &d, &[0], 1), "{d:?} is stored");
        }
        assert_eq!(c.len(), 7);
    }

    #[test]
    fn supersets_of_indeterminate_ops_are_subsumed_subsets_are_not() {
        let mut c = Cache::new(1, 1);
        assert!(c.insert(1, &[0b11], &[0b0101], 9));
        assert!(!c.insert(1, &[0b11], &[0b0101], 9), "equal");
        assert!(!c.insert(1, &[0b11], &[0b1101], 9), "superset is dominated");
        assert!(c.insert(1, &[0b11], &[0b0001], 9), "subset is new");
        assert!(!c.insert(1, &[0b11], &[0b0011], 9), "now dominated by the subset");
        assert!(c.insert(1, &[0b11], &[0b0010], 9), "incomparable is new");
        assert!(c.insert(2, &[0b11], &[0b1111], 9), "other state");
        assert!(c.insert(1, &[0b01], &[0b1111], 5), "other D");
    }
}
