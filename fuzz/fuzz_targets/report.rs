//! The collector's report parser never panics on any body, and a report
//! it accepts keeps within the limits the store relies on and classifies
//! against a site without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = pinctl_core::report::parse(data) {
        assert!(data.len() <= pinctl_core::report::MAX_BODY);
        assert!(r.served.len() <= pinctl_core::report::MAX_CHAIN);
        assert!(r.validated.len() <= pinctl_core::report::MAX_CHAIN);
        assert!(r.known.len() <= pinctl_core::report::MAX_PINS);
        assert!(!r.served.is_empty() || !r.validated.is_empty());
        assert!(r.hostname.len() <= 253);
        let (site, class) = pinctl_core::report::classify(&r, &[]);
        assert!(site.is_none() && class == pinctl_core::report::Class::UnknownHost);
        let _ = pinctl_core::report::dedup_key(site.as_deref(), class, &r);
    }
});
