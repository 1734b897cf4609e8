//! WAL recovery: any file image scans and replays without panicking; the valid prefix is
//! exactly the magic plus its records framed again, and every record of it is handed out.
#![no_main]

use faultline_node::storage::wal::{frame, replay_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scan = frame::scan(data);
    assert!(scan.valid_len <= data.len());
    if scan.valid_len > 0 {
        let mut again = frame::MAGIC.to_vec();
        for r in &scan.records {
            frame::encode_into(&mut again, r);
        }
        assert_eq!(&again[..], &data[..scan.valid_len]);
    }
    assert_eq!(scan.problem.is_none(), scan.valid_len == data.len());
    let _ = replay_image(data);
});
