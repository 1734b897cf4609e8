//! WAL recovery: any file image scans and replays without panicking; the valid prefix is
//! exactly the magic plus its records framed again, and every record of it is handed out.
//!
//! The first byte picks the mode: even, the rest is a raw file image (framing, checksums,
//! torn tails); odd, the rest is record payloads separated by `0xA5`, framed with correct
//! checksums, so the record decoder and the replay see mutated payloads too (a mutated raw
//! image almost never passes its checksum).
#![no_main]

use faultline_node::storage::wal::{frame, replay_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        check_image(rest);
    } else {
        let payloads: Vec<&[u8]> = rest.split(|&b| b == 0xA5).collect();
        let mut image = frame::MAGIC.to_vec();
        for p in &payloads {
            frame::encode_into(&mut image, p);
        }
        let scan = frame::scan(&image);
        assert_eq!(scan.records, payloads);
        check_image(&image);
    }
});

fn check_image(image: &[u8]) {
    let scan = frame::scan(image);
    assert!(scan.valid_len <= image.len());
    if scan.valid_len > 0 {
        let mut again = frame::MAGIC.to_vec();
        for r in &scan.records {
            frame::encode_into(&mut again, r);
        }
        assert_eq!(&again[..], &image[..scan.valid_len]);
    }
    assert_eq!(scan.problem.is_none(), scan.valid_len == image.len());
    let _ = replay_image(image);
}
