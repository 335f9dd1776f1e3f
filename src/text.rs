//! How pinctl writes values, in one place: times as RFC 3339, UTC, whole
//! seconds, `Z` (every report, message and JSON field; `forever` past
//! year 9999), hex, and text from
//! outside (certificate names, reports) made safe to print.
//! Arithmetic on times is `lifecycle`'s (saturating `add_secs`,
//! `add_days`).

use chrono::{DateTime, SecondsFormat, Utc};

/// What pinctl writes, in text and JSON alike, for a time that never
/// comes: a sum that saturated (a clamped max-age, a release held for
/// ever) lands past year 9999, which RFC 3339 cannot write.
pub const FOREVER: &str = "forever";

/// `2030-03-01T00:00:00Z`, or [`FOREVER`] past 9999-12-31T23:59:59Z.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    use chrono::Datelike as _;
    if t.year() > 9999 {
        return FOREVER.to_string();
    }
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Serde: an optional time as RFC 3339 or null.
pub fn ser_opt<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// `s` with every control character written as an escape (`\u{1b}`): a
/// certificate's name or a report's field may hold terminal escapes, which
/// must not reach an operator's terminal or a cron mail as they are.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `+262142-12-31T23:59:59Z` was printed: not RFC 3339.
    #[test]
    fn times_past_year_9999_are_written_forever() {
        let last = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rfc3339(last), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(last + chrono::Duration::seconds(1)), FOREVER);
        assert_eq!(rfc3339(DateTime::<Utc>::MAX_UTC), FOREVER);
    }

    #[test]
    fn printable_escapes_control_characters_only() {
        assert!(matches!(
            printable("CN=Root, O=Ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("a\u{1b}[31mred\u{7}\u{85}b"),
            "a\\u{1b}[31mred\\u{7}\\u{85}b"
        );
        assert_eq!(printable("tab\there\nline"), "tab\\u{9}here\\u{a}line");
    }
}
