//! How pinctl writes values, in one place: times as RFC 3339, UTC, whole
//! seconds, `Z` (every report, message and JSON field), and hex.
//! Arithmetic on times is `lifecycle`'s (saturating `add_secs`,
//! `add_days`).

use chrono::{DateTime, SecondsFormat, Utc};

/// `2030-03-01T00:00:00Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Serde: an optional time as RFC 3339 or null.
pub fn ser_opt<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// Lower-case hex, for checksums and DANE association data.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

/// Appends `bytes` to `s` as lowercase hex.
pub fn push_hex(s: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    s.reserve(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
}
