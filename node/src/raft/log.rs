//! The in-memory Raft log: a compacted prefix (described by a snapshot) and the entries
//! after it.
//!
//! ```text
//!   [ snapshot .. snapshot_index ] [ entries: snapshot_index+1 ..= last_index ]
//! ```

use crate::raft::types::{Entry, LogIndex, Term};

/// The log of one node.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    /// Index of the last entry covered by the snapshot (0 when none).
    snapshot_index: LogIndex,
    /// Term of that entry.
    snapshot_term: Term,
    /// Entries `snapshot_index + 1 ..= last_index`, contiguous.
    entries: Vec<Entry>,
    /// Approximate bytes held in `entries`.
    bytes: usize,
}

impl RaftLog {
    /// A log that starts after a snapshot at (`index`, `term`) and holds `entries` above it.
    /// Entries at or below `index` are ignored; entries must otherwise be contiguous.
    ///
    /// # Panics
    ///
    /// If the entries after the snapshot are not contiguous (corrupt storage).
    pub fn new(index: LogIndex, term: Term, entries: Vec<Entry>) -> RaftLog {
        let mut log =
            RaftLog { snapshot_index: index, snapshot_term: term, entries: vec![], bytes: 0 };
        for e in entries.into_iter().filter(|e| e.index > index) {
            assert_eq!(e.index, log.last_index().next(), "storage returned a log with a gap");
            log.bytes += e.size_bytes();
            log.entries.push(e);
        }
        log
    }

    /// Index of the last entry covered by the snapshot.
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    /// Term of the snapshot's last entry.
    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// Index of the last entry (the snapshot's when the log is empty).
    pub fn last_index(&self) -> LogIndex {
        self.entries.last().map_or(self.snapshot_index, |e| e.index)
    }

    /// Term of the last entry.
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// Number of entries held (not compacted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Approximate bytes of the entries held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The term of the entry at `index`: `None` when compacted away (below the snapshot) or
    /// beyond the end.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The entry at `index`, if held.
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index.0 - self.snapshot_index.0 - 1) as usize)
    }

    /// Entries `from ..= to` (clamped to what is held), at most `max_entries` and about
    /// `max_bytes` (at least one entry when any is available).
    pub fn slice(
        &self,
        from: LogIndex,
        to: LogIndex,
        max_entries: usize,
        max_bytes: usize,
    ) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut i = from.max(self.snapshot_index.next());
        while i <= to && out.len() < max_entries {
            let Some(e) = self.entry(i) else { break };
            bytes += e.size_bytes();
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push(e.clone());
            i = i.next();
        }
        out
    }

    /// Appends one entry.
    ///
    /// # Panics
    ///
    /// If `entry.index` is not `last_index + 1`.
    pub fn push(&mut self, entry: Entry) {
        assert_eq!(entry.index, self.last_index().next(), "log append out of order");
        self.bytes += entry.size_bytes();
        self.entries.push(entry);
    }

    /// Deletes every entry at `index` and above.
    pub fn truncate_from(&mut self, index: LogIndex) {
        if index <= self.snapshot_index {
            self.entries.clear();
            self.bytes = 0;
            return;
        }
        let keep = (index.0 - self.snapshot_index.0 - 1) as usize;
        if keep < self.entries.len() {
            self.bytes -= self.entries[keep..].iter().map(Entry::size_bytes).sum::<usize>();
            self.entries.truncate(keep);
        }
    }

    /// Drops every entry up to `index` (now covered by a snapshot with term `term`).
    /// Entries above `index` stay when they follow on; a log that does not reach `index`
    /// is emptied.
    pub fn compact_to(&mut self, index: LogIndex, term: Term) {
        if index <= self.snapshot_index {
            return;
        }
        if index >= self.last_index() || self.term_at(index) != Some(term) {
            self.entries.clear();
            self.bytes = 0;
        } else {
            let drop = (index.0 - self.snapshot_index.0) as usize;
            self.bytes -= self.entries[..drop].iter().map(Entry::size_bytes).sum::<usize>();
            self.entries.drain(..drop);
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// The first index of the term of the entry at `index` (at least `snapshot_index + 1`).
    pub fn first_index_of_term_at(&self, index: LogIndex) -> LogIndex {
        let Some(term) = self.term_at(index) else { return index };
        let mut i = index;
        while i > self.snapshot_index.next() && self.term_at(i.prev()) == Some(term) {
            i = i.prev();
        }
        i.max(self.snapshot_index.next())
    }

    /// The last index holding an entry of `term`, if the log has one.
    pub fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        self.entries.iter().rev().find(|e| e.term == term).map(|e| e.index)
    }

    /// True when a log ending at (`index`, `term`) is at least as up to date as this one
    /// (Raft paper §5.4.1).
    pub fn is_up_to_date(&self, index: LogIndex, term: Term) -> bool {
        term > self.last_term() || (term == self.last_term() && index >= self.last_index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::EntryPayload;

    fn e(index: u64, term: u64) -> Entry {
        Entry { term: Term(term), index: LogIndex(index), payload: EntryPayload::Noop }
    }

    #[test]
    fn truncate_compact_and_terms() {
        let mut log =
            RaftLog::new(LogIndex(0), Term(0), (1..=6).map(|i| e(i, 1 + i / 3)).collect());
        assert_eq!(log.last_index(), LogIndex(6));
        assert_eq!(log.first_index_of_term_at(LogIndex(5)), LogIndex(3));
        assert_eq!(log.last_index_of_term(Term(2)), Some(LogIndex(5)));
        log.truncate_from(LogIndex(5));
        assert_eq!(log.last_index(), LogIndex(4));
        log.compact_to(LogIndex(2), Term(1));
        assert_eq!(log.snapshot_index(), LogIndex(2));
        assert_eq!(log.len(), 2);
        assert_eq!(log.term_at(LogIndex(2)), Some(Term(1)));
        assert_eq!(log.term_at(LogIndex(1)), None);
        assert_eq!(log.slice(LogIndex(1), LogIndex(9), 10, 1000).len(), 2);
        log.compact_to(LogIndex(9), Term(7));
        assert!(log.is_empty());
        assert_eq!(log.last_index(), LogIndex(9));
        assert_eq!(log.bytes(), 0);
    }
}
