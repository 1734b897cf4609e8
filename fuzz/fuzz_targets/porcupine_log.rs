//! Porcupine's Jepsen log reader: any bytes never panic nor overflow the stack.
#![no_main]

use faultline_checker::formats::{self, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(history) = formats::read(data, Format::JepsenLog, "fuzz") {
        // What the reader accepted, the checker's models take or refuse without panicking.
        for op in &history.ops {
            assert!(op.complete_line.is_none_or(|l| l > op.invoke_line));
        }
    }
});
