//! Reading shipped app files: `shipped::read` on any bytes, for every
//! channel kind (the first byte picks it), never panics; what it accepts
//! is a pinset: at least one pin, no pin twice, one label only when
//! subdomains are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinctl::shipped::read;
use pinctl::state::ChannelKind;

fuzz_target!(|data: &[u8]| {
    let Some((&k, file)) = data.split_first() else {
        return;
    };
    let kind = ChannelKind::ALL[usize::from(k) % ChannelKind::ALL.len()];
    if let Ok(s) = read(kind, "example.com", file) {
        assert!(!s.pins.is_empty() || !s.ca_pins.is_empty());
        for list in [&s.pins, &s.ca_pins] {
            for (i, p) in list.iter().enumerate() {
                assert!(pinctl::pin::Pin::parse(p.as_str()).is_ok());
                assert!(!list[..i].contains(p));
            }
        }
        assert!(!s.one_label || s.include_subdomains);
    }
});
