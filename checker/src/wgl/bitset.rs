//! A fixed-size bitset of linearized operations, with a Zobrist hash kept up to date on every
//! flip so hashing a configuration costs O(1) instead of O(words).

/// The set of linearized operations.
#[derive(Debug, Clone)]
pub struct Bitset {
    words: Vec<u64>,
    keys: Vec<u64>,
    hash: u64,
}

/// SplitMix64: a fixed, well-mixed sequence for the Zobrist keys (deterministic).
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Bitset {
    /// An empty set over `n` operations.
    pub fn new(n: usize) -> Bitset {
        let mut seed = 0x5EED_F00D_u64;
        Bitset {
            words: vec![0; n.div_ceil(64).max(1)],
            keys: (0..n).map(|_| splitmix(&mut seed)).collect(),
            hash: 0,
        }
    }

    /// Adds or removes `i` (it must be absent or present, respectively).
    #[inline]
    pub fn flip(&mut self, i: u32) {
        self.words[(i >> 6) as usize] ^= 1u64 << (i & 63);
        self.hash ^= self.keys[i as usize];
    }

    /// Whether `i` is in the set.
    #[inline]
    pub fn contains(&self, i: u32) -> bool {
        self.words[(i >> 6) as usize] & (1u64 << (i & 63)) != 0
    }

    /// The words.
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The Zobrist hash of the set.
    #[inline]
    pub fn hash(&self) -> u64 {
        self.hash
    }
}
