//! The JSONL reader: any bytes never panic; each line that reads as an event is written back
//! and reads as the same event.
#![no_main]

use faultline_checker::formats::{self, jsonl, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = formats::read(data, Format::Jsonl, "fuzz");
    let _ = formats::read(data, Format::Auto, "fuzz");
    let Ok(text) = std::str::from_utf8(data) else { return };
    for (n, line) in text.lines().enumerate() {
        if let Ok(event) = jsonl::parse_line(line, n + 1) {
            let written = serde_json::to_string(&event).expect("an event serializes");
            let again = jsonl::parse_line(&written, n + 1)
                .unwrap_or_else(|e| panic!("{written} does not read back: {e}"));
            // Compare as written: a float may read back one ulp away, then print the same.
            let rewritten = serde_json::to_string(&again).expect("an event serializes");
            assert_eq!(rewritten, written);
        }
    }
});
