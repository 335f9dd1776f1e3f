//! Pin extraction from PEM or DER never panics, and returns either an
//! error or one well-formed pin per object. The quick reads `pin` uses
//! (lazy walks for header/TLSA; quick names and basicConstraints for
//! text/JSON) say what the full parse says whenever it reads the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinctl_core::pin::{read_pins_with, Detail};

fuzz_target!(|data: &[u8]| {
    let Ok(full) = read_pins_with("fuzz", data, Detail::Full) else {
        return;
    };
    for p in &full {
        assert_eq!(p.pin.as_str().len(), 44);
    }
    let summary = read_pins_with("fuzz", data, Detail::Summary)
        .expect("the summary reads what the full parse reads");
    assert_eq!(
        serde_json::to_value(&summary).unwrap(),
        serde_json::to_value(&full).unwrap()
    );
    if let Ok(quick) = read_pins_with("fuzz", data, Detail::PinOnly) {
        let pins = |v: &[pinctl_core::pin::PinInfo]| v.iter().map(|p| p.pin.clone()).collect::<Vec<_>>();
        assert_eq!(pins(&quick), pins(&full));
    }
});
