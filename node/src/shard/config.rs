//! A shard configuration (which replica group owns which shard) and the one function that
//! maps a key to its shard.
//!
//! ```text
//!  key ─FNV-1a 64 of the UTF-8 bytes─▶ h ─ h mod N ─▶ shard ─ config.shards[shard] ─▶ gid
//!                                                              config.groups[gid] ─▶ addrs
//! ```
//!
//! [`key_shard`] is the only definition of the key-to-shard map: the node, the simulator
//! and faultline's clients (`faultline_node::shard::key_shard`) all call it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The number of shards when none is given (6.824's `NShards`).
pub const DEFAULT_SHARDS: usize = 10;

/// A replica group's id. [`Gid::NONE`] (0) owns the shards of a config with no group.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Gid(pub u64);

impl Gid {
    /// No group: shards assigned to it are served by nobody.
    pub const NONE: Gid = Gid(0);
}

impl fmt::Display for Gid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}

/// The shard of `key` among `shards` shards: FNV-1a 64 of the key's UTF-8 bytes, modulo
/// `shards` (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`).
///
/// # Panics
///
/// If `shards` is 0.
pub fn key_shard(key: &str, shards: usize) -> usize {
    assert!(shards > 0, "a configuration has at least one shard");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards as u64) as usize
}

/// One configuration of the controller: `num` counts configurations from 0 (no group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardConfig {
    /// The configuration's number.
    pub num: u64,
    /// The owner of each shard.
    pub shards: Vec<Gid>,
    /// The servers of each group (addresses, in the group's own order).
    pub groups: BTreeMap<Gid, Vec<String>>,
}

impl ShardConfig {
    /// Configuration 0: `shards` shards, no group, every shard owned by [`Gid::NONE`].
    pub fn initial(shards: usize) -> ShardConfig {
        ShardConfig { num: 0, shards: vec![Gid::NONE; shards], groups: BTreeMap::new() }
    }

    /// The owner of `shard` ([`Gid::NONE`] when out of range).
    pub fn owner(&self, shard: usize) -> Gid {
        self.shards.get(shard).copied().unwrap_or(Gid::NONE)
    }

    /// The group that owns `key`.
    pub fn key_owner(&self, key: &str) -> Gid {
        self.owner(key_shard(key, self.shards.len().max(1)))
    }

    /// The shards `gid` owns, ascending.
    pub fn shards_of(&self, gid: Gid) -> Vec<usize> {
        (0..self.shards.len()).filter(|s| self.shards[*s] == gid).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // FNV-1a 64 test vectors: "" -> cbf29ce484222325, "a" -> af63dc4c8601ec8c.
        assert_eq!(key_shard("", 1 << 20), (0xcbf2_9ce4_8422_2325u64 % (1 << 20)) as usize);
        assert_eq!(key_shard("a", 1 << 20), (0xaf63_dc4c_8601_ec8cu64 % (1 << 20)) as usize);
        assert_eq!(key_shard("foobar", 1 << 20), (0x8594_4171_f739_67e8u64 % (1 << 20)) as usize);
        let spread: std::collections::BTreeSet<usize> =
            (0..100).map(|i| key_shard(&format!("k{i}"), DEFAULT_SHARDS)).collect();
        assert_eq!(spread.len(), DEFAULT_SHARDS, "100 keys reach every shard");
    }

    #[test]
    fn owners() {
        let mut c = ShardConfig::initial(4);
        c.shards = vec![Gid(1), Gid(2), Gid(1), Gid::NONE];
        assert_eq!(c.shards_of(Gid(1)), vec![0, 2]);
        assert_eq!(c.owner(9), Gid::NONE);
        assert_eq!(c.key_owner("a"), c.owner(key_shard("a", 4)));
    }
}
