//! The power-loss disk through real syscalls: a real FUSE mount, writes and fsyncs by this
//! process, a power cut, and what a restarted node would read.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;

use faultline_nemesis::powerfs::{self, Disk, Keep};

use crate::util::has_fuse;

fn mounted() -> Option<(tempfile::TempDir, Disk)> {
    if !has_fuse() {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let disk =
        Disk::mount(&tmp.path().join("data.disk"), &tmp.path().join("data"), "f00d").unwrap();
    Some((tmp, disk))
}

#[test]
fn a_power_cut_keeps_exactly_what_was_fsynced() {
    let Some((tmp, mut disk)) = mounted() else { return };
    let data = tmp.path().join("data");
    assert!(powerfs::mounts().iter().any(|(tag, p)| tag == "f00d" && *p == data));

    // A WAL: a synced record, then one written but not synced.
    let mut wal = OpenOptions::new().create(true).append(true).open(data.join("wal")).unwrap();
    wal.write_all(b"record-1;").unwrap();
    wal.sync_data().unwrap();
    File::open(&data).unwrap().sync_all().unwrap(); // the creation is durable too
    wal.write_all(b"record-2;").unwrap();
    drop(wal);
    // A snapshot written the safe way (tmp, fsync, rename, fsync dir): survives.
    std::fs::create_dir(data.join("snap")).unwrap();
    let mut s = File::create(data.join("snap/s.tmp")).unwrap();
    s.write_all(b"snapshot").unwrap();
    s.sync_all().unwrap();
    drop(s);
    std::fs::rename(data.join("snap/s.tmp"), data.join("snap/s")).unwrap();
    File::open(data.join("snap")).unwrap().sync_all().unwrap();
    // A durable file, overwritten in place and then unlinked: back, with its old bytes.
    std::fs::write(data.join("meta"), b"term=1").unwrap();
    File::open(data.join("meta")).unwrap().sync_all().unwrap();
    File::open(&data).unwrap().sync_all().unwrap();
    OpenOptions::new().write(true).open(data.join("meta")).unwrap().write_all_at(b"9", 5).unwrap();
    std::fs::remove_file(data.join("meta")).unwrap();
    // A file made, written and synced, in a directory not synced since: gone after the cut.
    let mut f = File::create(data.join("orphan")).unwrap();
    f.write_all(b"x").unwrap();
    f.sync_all().unwrap();
    drop(f);
    assert!(disk.pending() > 0);

    let dropped = disk.power_loss_keeping(|_| Keep::NOTHING).unwrap();
    assert!(dropped.changes >= 4 && dropped.bytes >= 10, "{dropped:?}");
    assert_eq!(std::fs::read(data.join("wal")).unwrap(), b"record-1;");
    assert!(!data.join("orphan").exists());
    assert_eq!(std::fs::read(data.join("meta")).unwrap(), b"term=1");
    assert_eq!(std::fs::read(data.join("snap/s")).unwrap(), b"snapshot");
    assert!(!data.join("snap/s.tmp").exists());
    assert_eq!(disk.pending(), 0);
    // The disk works as before after the cut.
    std::fs::write(data.join("after"), b"ok").unwrap();
    assert_eq!(std::fs::read(disk.backing().join("after")).unwrap(), b"ok");

    disk.unmount();
    assert!(!powerfs::mounts().iter().any(|(_, p)| *p == data), "unmounted");
    assert_eq!(std::fs::read(tmp.path().join("data.disk/after")).unwrap(), b"ok");
}

#[test]
fn a_torn_write_keeps_a_prefix_of_its_bytes() {
    let Some((tmp, mut disk)) = mounted() else { return };
    let data = tmp.path().join("data");
    let mut wal = File::create(data.join("wal")).unwrap();
    wal.sync_all().unwrap();
    File::open(&data).unwrap().sync_all().unwrap();
    wal.write_all(&[7u8; 100]).unwrap();
    drop(wal);
    let dropped = disk.power_loss_keeping(|n| Keep { prefix: n, torn: Some(41) }).unwrap();
    assert!(dropped.torn);
    // 1 + 41 % 99 = 42 of the 100 bytes.
    assert_eq!(std::fs::read(data.join("wal")).unwrap(), vec![7u8; 42]);
    drop(disk);
    assert!(!powerfs::mounts().iter().any(|(_, p)| *p == data), "unmounted on drop");
}
