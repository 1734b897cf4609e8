//! The EDN reader: any bytes read as a history never panic nor overflow the stack (an error
//! is fine), and a value round-trips: parse → print → parse prints the same.
#![no_main]

use faultline_checker::formats::{self, edn::Parser, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = formats::read(data, Format::Edn, "fuzz");
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parser = Parser::new(text);
    while let Ok(Some(value)) = parser.next_value() {
        let printed = value.to_string();
        let again = Parser::new(&printed)
            .next_value()
            .unwrap_or_else(|e| panic!("{printed:?} does not read back: {e}"))
            .expect("one value");
        assert_eq!(again.to_string(), printed, "round trip of {value:?}");
        let _ = value.to_json();
    }
});
