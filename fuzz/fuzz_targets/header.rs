//! Header parsing: `lint` on any text never panics, and a header it
//! accepts rebuilds to a value that parses to the same header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinctl_core::header::{lint, LintOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let l = lint(s, &LintOptions::default());
        if l.is_valid() {
            let again = lint(&l.header.line(), &LintOptions::default());
            assert_eq!(again.header, l.header);
        }
    }
});
