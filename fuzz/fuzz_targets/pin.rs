//! Pin extraction from PEM or DER never panics, and returns either an
//! error or one well-formed pin per object.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pins) = pinctl::pin::read_pins("fuzz", data) {
        for p in pins {
            assert_eq!(p.pin.len(), 44);
        }
    }
});
