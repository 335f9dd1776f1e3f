//! State loading never panics, and a file it accepts serialises back to a
//! file that loads to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(site) = pinctl_core::state::parse_site(data) {
        let text = pinctl_core::state::to_yaml(&site).expect("serialise");
        let again = pinctl_core::state::parse_site(text.as_bytes()).expect("reload");
        assert_eq!(again, site);
    }
});
