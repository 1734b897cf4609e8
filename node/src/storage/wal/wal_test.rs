//! Crash tests of the WAL: cut the file at every byte of its last record, flip bytes,
//! crash in the middle of a snapshot.

use std::fs;

use super::*;
use crate::raft::types::{EntryPayload, LogIndex, NodeId, Term};

fn e(index: u64, term: u64) -> Entry {
    Entry {
        term: Term(term),
        index: LogIndex(index),
        payload: EntryPayload::Command(format!("cmd-{index}").into_bytes()),
    }
}

fn hs(term: u64, vote: Option<u64>) -> HardState {
    HardState { term: Term(term), vote: vote.map(NodeId) }
}

fn open(dir: &Path) -> (Wal, Recovered) {
    Wal::open(dir, true).unwrap()
}

/// Writes hard state + 3 entries (synced one record per sync), returns the file length
/// before the last record and the states expected before/after it.
fn three_records(dir: &Path) -> (u64, Recovered, Recovered) {
    let (mut wal, rec) = open(dir);
    assert_eq!(rec, Recovered::default());
    wal.set_hard_state(&hs(1, Some(1)));
    wal.sync().unwrap();
    wal.append(&[e(1, 1), e(2, 1)]).unwrap();
    wal.sync().unwrap();
    let before_last = wal.wal_bytes();
    wal.append(&[e(2, 1), e(3, 1)]).unwrap();
    wal.sync().unwrap();
    let before =
        Recovered { hard_state: hs(1, Some(1)), snapshot: None, entries: vec![e(1, 1), e(2, 1)] };
    let after = Recovered { entries: vec![e(1, 1), e(2, 1), e(3, 1)], ..before.clone() };
    (before_last, before, after)
}

#[test]
fn every_cut_inside_the_last_record_recovers_exactly_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let (before_last, before, after) = three_records(dir.path());
    let path = dir.path().join(WAL_FILE);
    let full = fs::read(&path).unwrap();
    assert_eq!(open(dir.path()).1, after);
    for cut in before_last as usize..full.len() {
        fs::write(&path, &full[..cut]).unwrap();
        let (mut wal, rec) = open(dir.path());
        assert_eq!(rec, before, "cut at byte {cut} of {}", full.len());
        assert_eq!(fs::metadata(&path).unwrap().len(), before_last, "tail not truncated at {cut}");
        // The log stays usable after a cut: append and recover again.
        wal.append(&[e(3, 2)]).unwrap();
        wal.sync().unwrap();
        drop(wal);
        let (_, rec) = open(dir.path());
        assert_eq!(rec.entries, vec![e(1, 1), e(2, 1), e(3, 2)], "after cut at {cut}");
    }
}

#[test]
fn a_flipped_byte_drops_the_corrupt_record_and_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (before_last, _, _) = three_records(dir.path());
    let path = dir.path().join(WAL_FILE);
    let full = fs::read(&path).unwrap();
    // Corrupt the middle record (the first append): only the hard state survives.
    let first_append_start = {
        let (mut w, _) = Wal::open(tempfile::tempdir().unwrap().path(), true).unwrap();
        w.set_hard_state(&hs(1, Some(1)));
        w.sync().unwrap();
        w.wal_bytes() as usize
    };
    for at in first_append_start..before_last as usize {
        let mut bad = full.clone();
        bad[at] ^= 0x01;
        fs::write(&path, &bad).unwrap();
        let (_, rec) = open(dir.path());
        assert_eq!(rec.hard_state, hs(1, Some(1)), "flip at {at}");
        assert!(rec.entries.is_empty(), "flip at {at} kept {:?}", rec.entries);
        assert_eq!(fs::metadata(&path).unwrap().len() as usize, first_append_start);
    }
}

#[test]
fn hard_state_and_conflicting_suffixes_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(dir.path());
    wal.append(&[e(1, 1), e(2, 1), e(3, 1)]).unwrap();
    wal.set_hard_state(&hs(2, None));
    wal.set_hard_state(&hs(2, Some(3)));
    wal.append(&[e(2, 2)]).unwrap();
    assert!(wal.append(&[e(9, 2)]).is_err(), "a gap must be refused");
    wal.sync().unwrap();
    drop(wal);
    let (_, rec) = open(dir.path());
    assert_eq!(rec.hard_state, hs(2, Some(3)));
    assert_eq!(rec.entries, vec![e(1, 1), e(2, 2)]);
}

fn snap(last_index: u64, last_term: u64, data: &str) -> Snapshot {
    Snapshot {
        meta: SnapshotMeta {
            last_index: LogIndex(last_index),
            last_term: Term(last_term),
            membership: crate::raft::types::Membership::with_voters([
                NodeId(1),
                NodeId(2),
                NodeId(3),
            ]),
        },
        data: data.as_bytes().to_vec(),
    }
}

#[test]
fn a_snapshot_compacts_the_wal_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(dir.path());
    wal.set_hard_state(&hs(3, Some(1)));
    let many: Vec<Entry> = (1..=200).map(|i| e(i, 3)).collect();
    wal.append(&many).unwrap();
    wal.sync().unwrap();
    let grown = wal.wal_bytes();
    wal.install_snapshot(&snap(190, 3, "state@190"), true).unwrap();
    assert!(wal.wal_bytes() < grown / 5, "wal not compacted: {} vs {grown}", wal.wal_bytes());
    assert!(wal.snapshot_bytes() > 0);
    wal.append(&[e(201, 3)]).unwrap();
    wal.sync().unwrap();
    drop(wal);
    let (wal, rec) = open(dir.path());
    assert_eq!(rec.hard_state, hs(3, Some(1)));
    assert_eq!(rec.snapshot, Some(snap(190, 3, "state@190")));
    assert_eq!(rec.entries, (191..=201).map(|i| e(i, 3)).collect::<Vec<_>>());
    assert_eq!(wal.read_snapshot().unwrap(), Some(snap(190, 3, "state@190")));
}

#[test]
fn a_crash_during_a_snapshot_leaves_a_consistent_state() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(dir.path());
    wal.append(&(1..=10).map(|i| e(i, 1)).collect::<Vec<_>>()).unwrap();
    wal.install_snapshot(&snap(4, 1, "state@4"), true).unwrap();
    drop(wal);
    // Crash while writing a newer snapshot: only a torn temp file exists.
    fs::write(dir.path().join("snapshot.tmp"), b"FLSNP002 torn").unwrap();
    let (wal, rec) = open(dir.path());
    drop(wal);
    assert_eq!(rec.snapshot, Some(snap(4, 1, "state@4")));
    assert_eq!(rec.entries, (5..=10).map(|i| e(i, 1)).collect::<Vec<_>>());
    assert!(!dir.path().join("snapshot.tmp").exists());
    // Crash after the snapshot rename but before the WAL rewrite: the WAL still holds the
    // covered entries, which replay drops.
    let wal_before = fs::read(dir.path().join(WAL_FILE)).unwrap();
    let (mut wal, _) = open(dir.path());
    wal.install_snapshot(&snap(8, 1, "state@8"), true).unwrap();
    drop(wal);
    fs::write(dir.path().join(WAL_FILE), wal_before).unwrap();
    let (_, rec) = open(dir.path());
    assert_eq!(rec.snapshot, Some(snap(8, 1, "state@8")));
    assert_eq!(rec.entries, vec![e(9, 1), e(10, 1)]);
}

#[test]
fn a_corrupt_snapshot_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(dir.path());
    wal.append(&[e(1, 1)]).unwrap();
    wal.install_snapshot(&snap(1, 1, "state@1"), true).unwrap();
    drop(wal);
    let path = dir.path().join(SNAPSHOT_FILE);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&path, bytes).unwrap();
    let err = Wal::open(dir.path(), true).unwrap_err().to_string();
    assert!(err.contains("checksum") && err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn truncation_without_new_entries_and_a_contradicting_snapshot_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(dir.path());
    wal.persist_entries(None, &(1..=5).map(|i| e(i, 1)).collect::<Vec<_>>()).unwrap();
    wal.persist_entries(Some(LogIndex(4)), &[]).unwrap();
    wal.persist_entries(Some(LogIndex(4)), &[e(4, 2)]).unwrap();
    wal.sync().unwrap();
    drop(wal);
    let (mut wal, rec) = open(dir.path());
    assert_eq!(rec.entries, vec![e(1, 1), e(2, 1), e(3, 1), e(4, 2)]);
    // A leader's snapshot at 3 that our log contradicts: the whole log goes.
    wal.install_snapshot(&snap(3, 2, "leader@3"), false).unwrap();
    wal.persist_entries(None, &[e(4, 3)]).unwrap();
    wal.sync().unwrap();
    drop(wal);
    let (_, rec) = open(dir.path());
    assert_eq!(rec.snapshot, Some(snap(3, 2, "leader@3")));
    assert_eq!(rec.entries, vec![e(4, 3)]);
}

#[test]
fn replay_image_recovers_what_open_does_and_refuses_what_does_not_decode() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, after) = three_records(dir.path());
    let image = fs::read(dir.path().join(WAL_FILE)).unwrap();
    assert_eq!(replay_image(&image).unwrap(), after.entries);
    // A record with a good checksum whose payload is not a record: refused, not guessed.
    let mut bad = image.clone();
    frame::encode_into(&mut bad, &[0xff, 0xff, 0xff]);
    assert!(matches!(replay_image(&bad), Err(WalError::Decode { record: 3, .. })));
    // Entries that leave a gap: inconsistent.
    let mut gap = image;
    frame::encode_into(&mut gap, &encode(&RecordRef::Entries(&[e(9, 1)])));
    assert!(matches!(replay_image(&gap), Err(WalError::Inconsistent { .. })));
}

#[test]
fn a_record_claiming_the_last_possible_index_is_refused_not_overflowed() {
    // Found by the `wal_frames` fuzz target: replaying index u64::MAX made recovery compute
    // the index after it. Each record kind that carries an index is refused by position.
    for record in [
        encode(&RecordRef::Entries(&[e(u64::MAX, 1)])),
        encode(&RecordRef::Truncate(LogIndex(u64::MAX))),
        encode(&RecordRef::Compacted { meta: &snap(u64::MAX, 1, "x").meta, retain_suffix: true }),
    ] {
        let mut image = frame::MAGIC.to_vec();
        frame::encode_into(&mut image, &encode(&RecordRef::HardState(&hs(1, None))));
        frame::encode_into(&mut image, &record);
        let err = replay_image(&image).unwrap_err();
        assert!(
            matches!(&err, WalError::Decode { record: 1, reason, .. } if reason.contains("out of range")),
            "{err}"
        );
    }
}
