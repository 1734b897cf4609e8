//! The in-memory image of what the WAL records describe: hard state, snapshot point, and
//! the log suffix after it. Replay builds it; writes keep it current; rewrites dump it.

use std::collections::VecDeque;

use crate::raft::types::{Entry, HardState, LogIndex, SnapshotMeta};

/// Log state as of the last record applied.
#[derive(Debug, Default, Clone)]
pub struct Mirror {
    /// Latest term and vote.
    pub hard_state: HardState,
    /// What the latest snapshot covers (`last_index` 0: no snapshot).
    pub snapshot: SnapshotMeta,
    /// Entries after `snapshot.last_index`, contiguous.
    pub entries: VecDeque<Entry>,
    /// Sum of `Entry::size_bytes` over `entries`.
    bytes: usize,
}

impl Mirror {
    /// Index of the last entry (or of the snapshot when the suffix is empty).
    pub fn last_index(&self) -> LogIndex {
        self.entries.back().map_or(self.snapshot.last_index, |e| e.index)
    }

    /// Approximate bytes of the live log.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends `entries`, first dropping any existing entries from the first one's index
    /// on. Entries the snapshot already covers are skipped.
    ///
    /// # Errors
    ///
    /// A message when the entries are not contiguous or start after `last_index + 1`.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), String> {
        for pair in entries.windows(2) {
            if pair[1].index != pair[0].index.next() {
                return Err(format!(
                    "entries not contiguous: {} then {}",
                    pair[0].index, pair[1].index
                ));
            }
        }
        let snap = self.snapshot.last_index;
        let fresh: &[Entry] = match entries.iter().position(|e| e.index > snap) {
            Some(p) => &entries[p..],
            None => return Ok(()),
        };
        let first = fresh[0].index;
        if first > self.last_index().next() {
            return Err(format!(
                "gap: appending at {first} after last index {}",
                self.last_index()
            ));
        }
        self.truncate_from(first);
        for e in fresh {
            self.bytes += e.size_bytes();
            self.entries.push_back(e.clone());
        }
        Ok(())
    }

    /// Drops every entry with index >= `from`.
    pub fn truncate_from(&mut self, from: LogIndex) {
        while self.entries.back().is_some_and(|e| e.index >= from) {
            if let Some(e) = self.entries.pop_back() {
                self.bytes -= e.size_bytes();
            }
        }
    }

    /// Records that a snapshot covers up to `meta.last_index` and drops the covered prefix.
    /// The suffix after it is kept when `retain_suffix` is `Some(true)`, dropped when
    /// `Some(false)`, and with `None` kept only if the log holds the snapshot's last entry
    /// with the same term (Raft paper §7). A snapshot older than the current one, or the
    /// current one again, changes nothing.
    pub fn compact(&mut self, meta: &SnapshotMeta, retain_suffix: Option<bool>) {
        let same = meta.last_index == self.snapshot.last_index
            && meta.last_term == self.snapshot.last_term;
        if meta.last_index < self.snapshot.last_index || same {
            return;
        }
        let retain = retain_suffix.unwrap_or_else(|| {
            self.entries.iter().any(|e| e.index == meta.last_index && e.term == meta.last_term)
        });
        if retain {
            while self.entries.front().is_some_and(|e| e.index <= meta.last_index) {
                if let Some(e) = self.entries.pop_front() {
                    self.bytes -= e.size_bytes();
                }
            }
        } else {
            self.entries.clear();
            self.bytes = 0;
        }
        self.snapshot = meta.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{EntryPayload, Term};

    fn e(index: u64, term: u64) -> Entry {
        Entry {
            term: Term(term),
            index: LogIndex(index),
            payload: EntryPayload::Command(vec![index as u8]),
        }
    }

    fn indexes(m: &Mirror) -> Vec<(u64, u64)> {
        m.entries.iter().map(|e| (e.index.0, e.term.0)).collect()
    }

    #[test]
    fn append_replaces_a_conflicting_suffix() {
        let mut m = Mirror::default();
        m.append(&[e(1, 1), e(2, 1), e(3, 1)]).unwrap();
        m.append(&[e(2, 2)]).unwrap();
        assert_eq!(indexes(&m), vec![(1, 1), (2, 2)]);
        assert!(m.append(&[e(5, 2)]).is_err());
        assert!(m.append(&[e(3, 2), e(5, 2)]).is_err());
        assert_eq!(m.bytes(), e(1, 1).size_bytes() * 2);
    }

    #[test]
    fn compaction_keeps_the_suffix_only_after_a_matching_entry() {
        let mut m = Mirror::default();
        m.append(&[e(1, 1), e(2, 1), e(3, 2)]).unwrap();
        m.compact(
            &SnapshotMeta {
                last_index: LogIndex(2),
                last_term: Term(1),
                membership: Default::default(),
            },
            None,
        );
        assert_eq!(indexes(&m), vec![(3, 2)]);
        // Entries the snapshot covers are skipped on append.
        m.append(&[e(2, 1), e(3, 2), e(4, 2)]).unwrap();
        assert_eq!(indexes(&m), vec![(3, 2), (4, 2)]);
        // A leader's snapshot that does not match our log discards all of it.
        let mut m2 = m.clone();
        m.compact(
            &SnapshotMeta {
                last_index: LogIndex(3),
                last_term: Term(3),
                membership: Default::default(),
            },
            None,
        );
        assert!(m.entries.is_empty());
        // Told explicitly, the suffix is kept or dropped whatever the terms say.
        let mut m3 = m2.clone();
        m2.compact(
            &SnapshotMeta {
                last_index: LogIndex(3),
                last_term: Term(3),
                membership: Default::default(),
            },
            Some(true),
        );
        assert_eq!(indexes(&m2), vec![(4, 2)]);
        m3.compact(
            &SnapshotMeta {
                last_index: LogIndex(3),
                last_term: Term(2),
                membership: Default::default(),
            },
            Some(false),
        );
        assert!(m3.entries.is_empty());
        assert_eq!(m.last_index(), LogIndex(3));
        assert_eq!(m.bytes(), 0);
    }
}
