//! Rebalancing after a join or a leave: deterministic, as few moves as possible, and every
//! group within one shard of every other.
//!
//! ```text
//!  counts per live group ─ sort by (count desc, gid asc) ─▶ targets: the first N mod G
//!  groups get ⌈N/G⌉, the others ⌊N/G⌋ (groups past the N-th get 0)
//!  free = shards of dead groups + each group's shards beyond its target (highest first)
//!  free shards, ascending ─▶ groups below target, in gid order
//! ```
//!
//! Only sorted orders are used (never a hash map's), so every replica computes the same
//! configuration. Giving the extra shards to the groups that hold most keeps the most
//! shards in place: the number of moves is `N - (Σ min(count, ⌊N/G⌋) + min(N mod G,
//! #groups holding more than ⌊N/G⌋))`, the least possible.

use super::config::Gid;
use std::collections::{BTreeMap, BTreeSet};

/// Reassigns `shards` among `groups` (see the module docs). With no group, every shard
/// goes to [`Gid::NONE`].
pub fn rebalance(shards: &mut [Gid], groups: &BTreeSet<Gid>) {
    if groups.is_empty() {
        shards.fill(Gid::NONE);
        return;
    }
    let n = shards.len();
    let mut count: BTreeMap<Gid, usize> = groups.iter().map(|g| (*g, 0)).collect();
    for g in shards.iter() {
        if let Some(c) = count.get_mut(g) {
            *c += 1;
        }
    }
    let mut order: Vec<(Gid, usize)> = count.iter().map(|(g, c)| (*g, *c)).collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let (base, extra) = (n / groups.len(), n % groups.len());
    let target: BTreeMap<Gid, usize> =
        order.iter().enumerate().map(|(i, (g, _))| (*g, base + usize::from(i < extra))).collect();
    // Free the shards of dead groups and the surplus of full groups (highest shard first).
    let mut kept: BTreeMap<Gid, usize> = BTreeMap::new();
    for owner in shards.iter_mut() {
        match target.get(owner) {
            Some(t) if kept.get(owner).copied().unwrap_or(0) < *t => {
                *kept.entry(*owner).or_default() += 1;
            }
            _ => *owner = Gid::NONE,
        }
    }
    let mut needy = target.iter().flat_map(|(g, t)| {
        let have = kept.get(g).copied().unwrap_or(0);
        std::iter::repeat_n(*g, t - have)
    });
    for s in shards.iter_mut().filter(|g| **g == Gid::NONE) {
        if let Some(g) = needy.next() {
            *s = g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(gids: &[u64]) -> BTreeSet<Gid> {
        gids.iter().map(|g| Gid(*g)).collect()
    }

    /// The fewest moves any balanced assignment needs (derived independently of the code).
    fn least_moves(before: &[Gid], groups: &BTreeSet<Gid>) -> usize {
        let n = before.len();
        let (base, extra) = (n / groups.len(), n % groups.len());
        let counts: Vec<usize> =
            groups.iter().map(|g| before.iter().filter(|s| *s == g).count()).collect();
        let keep = counts.iter().map(|c| (*c).min(base)).sum::<usize>()
            + extra.min(counts.iter().filter(|c| **c > base).count());
        n - keep
    }

    fn check(before: &[Gid], groups: &BTreeSet<Gid>) -> Result<(), TestCaseError> {
        let mut after = before.to_vec();
        rebalance(&mut after, groups);
        let mut again = before.to_vec();
        rebalance(&mut again, groups);
        prop_assert_eq!(&after, &again, "deterministic");
        if groups.is_empty() {
            prop_assert!(after.iter().all(|g| *g == Gid::NONE));
            return Ok(());
        }
        prop_assert!(after.iter().all(|g| groups.contains(g)), "every shard has a live owner");
        let counts: Vec<usize> =
            groups.iter().map(|g| after.iter().filter(|s| *s == g).count()).collect();
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(max - min <= 1, "balanced: {:?} -> {:?}", counts, after);
        let moves = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        prop_assert_eq!(moves, least_moves(before, groups), "{:?} -> {:?}", before, after);
        Ok(())
    }

    #[test]
    fn join_and_leave_examples() {
        let mut s = vec![Gid::NONE; 10];
        rebalance(&mut s, &set(&[1]));
        assert_eq!(s, vec![Gid(1); 10]);
        rebalance(&mut s, &set(&[1, 2]));
        assert_eq!(s.iter().filter(|g| **g == Gid(2)).count(), 5);
        assert_eq!(&s[..5], &[Gid(1); 5], "the lowest shards stay");
        rebalance(&mut s, &set(&[2]));
        assert_eq!(s, vec![Gid(2); 10]);
        let mut s = vec![Gid::NONE; 3];
        rebalance(&mut s, &set(&[5, 6, 7, 8]));
        assert_eq!(s, vec![Gid(5), Gid(6), Gid(7)], "more groups than shards");
        rebalance(&mut s, &set(&[]));
        assert_eq!(s, vec![Gid::NONE; 3]);
    }

    proptest! {
        #[test]
        fn balanced_minimal_and_deterministic(
            shards in 1usize..24,
            owners in proptest::collection::vec(0u64..8, 24),
            groups in proptest::collection::btree_set(1u64..8, 0..7),
        ) {
            let before: Vec<Gid> = owners[..shards].iter().map(|g| Gid(*g)).collect();
            check(&before, &groups.into_iter().map(Gid).collect())?;
        }
    }
}
