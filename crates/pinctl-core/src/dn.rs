//! Distinguished names as `pin` prints them: the text x509-parser's
//! `Display` gives (`C=US, O=Example, CN=Root`), made by a lazy DER walk
//! for the names nearly every certificate has, and by x509-parser itself
//! for everything else. Printing a bundle's names with x509-parser alone
//! costs more than finding and hashing its keys.

use std::borrow::Cow;

use x509_parser::oid_registry::Oid;
use x509_parser::prelude::FromDer as _;

/// The text of the DER Name `tlv`, exactly as x509-parser prints it; an
/// error when x509-parser cannot read it.
pub fn to_string(tlv: &[u8]) -> Result<String, String> {
    if let Some(s) = common(tlv) {
        return Ok(s);
    }
    match x509_parser::x509::X509Name::from_der(tlv) {
        Ok(([], n)) => Ok(n.to_string()),
        _ => Err("not a valid X.509 name".into()),
    }
}

/// The attribute types of nearly every name, by their DER contents, and
/// x509-parser's abbreviations of them (checked by a test): found without
/// hashing.
const ABBREVIATIONS: [(&[u8], &str); 8] = [
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (
        &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
        "DC",
    ),
    (
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
        "Email",
    ),
];

/// The universal string tags whose content x509-parser prints as it
/// stands: UTF8, Numeric, Printable, Teletex, Videotex, IA5, Graphic,
/// Visible, General. (ObjectDescriptor, which it prints too, is left to
/// it.)
const TEXT_TAGS: [u8; 9] = [0x0c, 0x12, 0x13, 0x14, 0x15, 0x16, 0x19, 0x1a, 0x1b];

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OBJECT_IDENTIFIER: u8 = 0x06;

/// The common case: every attribute a registered type with a text value
/// in valid UTF-8, no empty set, no empty name, every length in its
/// shortest form. None for anything else, which x509-parser then reads:
/// this walk accepts only what it accepts (a property test holds it to
/// that).
fn common(tlv: &[u8]) -> Option<String> {
    let registry = x509_parser::objects::oid_registry();
    let (tag, mut rdns, rest) = next_tlv(tlv)?;
    if tag != SEQUENCE || !rest.is_empty() || rdns.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(tlv.len());
    while !rdns.is_empty() {
        let (tag, mut atvs, rest) = next_tlv(rdns)?;
        rdns = rest;
        if tag != SET || atvs.is_empty() {
            return None;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        let mut first = true;
        while !atvs.is_empty() {
            let (tag, atv, rest) = next_tlv(atvs)?;
            atvs = rest;
            let (oid_tag, oid, rest) = next_tlv(atv)?;
            let (value_tag, value, rest) = next_tlv(rest)?;
            if tag != SEQUENCE
                || oid_tag != OBJECT_IDENTIFIER
                || !TEXT_TAGS.contains(&value_tag)
                || !rest.is_empty()
            {
                return None;
            }
            let registered;
            let abbrev = match ABBREVIATIONS.iter().find(|(o, _)| *o == oid) {
                Some((_, a)) => *a,
                None => {
                    registered = Oid::new(Cow::Borrowed(oid));
                    x509_parser::objects::oid2abbrev(&registered, registry).ok()?
                }
            };
            let value = std::str::from_utf8(value).ok()?;
            if !first {
                out.push_str(" + ");
            }
            first = false;
            out.push_str(abbrev);
            out.push('=');
            out.push_str(value);
        }
    }
    Some(out)
}

/// The tag, contents and what follows of the DER TLV at the start of
/// `data`: one-byte tags and lengths in their shortest form (up to 64 KiB)
/// only, None for anything else.
fn next_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => match rest {
            [n, rest @ ..] if *n >= 0x80 => (usize::from(*n), rest),
            _ => return None,
        },
        0x82 => match rest {
            [hi, lo, rest @ ..] if *hi != 0 => (usize::from(*hi) << 8 | usize::from(*lo), rest),
            _ => return None,
        },
        _ => return None,
    };
    (len <= rest.len()).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// x509-parser's own text, or None where it cannot read the name.
    fn reference(tlv: &[u8]) -> Option<String> {
        match x509_parser::x509::X509Name::from_der(tlv) {
            Ok(([], n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A TLV with its length in the shortest form (`form` 0 and most
    /// others), or in a longer one (1: 0x81 n, 2: 0x82 0 n).
    fn tlv_in(form: u8, tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if form == 1 && n < 0x100 {
            v.extend([0x81, n as u8]);
        } else if form == 2 && n < 0x100 {
            v.extend([0x82, 0, n as u8]);
        } else if n < 0x80 {
            v.push(n as u8);
        } else if n < 0x100 {
            v.extend([0x81, n as u8]);
        } else {
            v.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend_from_slice(content);
        v
    }

    #[test]
    fn abbreviations_are_x509_parsers() {
        let registry = x509_parser::objects::oid_registry();
        for (oid, abbrev) in ABBREVIATIONS {
            let oid = Oid::new(Cow::Borrowed(oid));
            assert_eq!(x509_parser::objects::oid2abbrev(&oid, registry), Ok(abbrev));
        }
    }

    #[test]
    fn debian_bundle_names_print_as_x509_parser_prints_them() {
        let Ok(data) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") else {
            eprintln!("SKIPPED: no /etc/ssl/certs/ca-certificates.crt");
            return;
        };
        let mut fast = 0;
        for b in crate::pem_scan::blocks(&data).unwrap() {
            let (_, cert) = x509_parser::parse_x509_certificate(&b.der).unwrap();
            for name in [cert.subject(), cert.issuer()] {
                let raw = name.as_raw();
                assert_eq!(to_string(raw).unwrap(), name.to_string());
                fast += usize::from(common(raw).is_some());
            }
        }
        // The walk is what reads them, not the fallback.
        assert!(fast > 200, "only {fast} names took the fast path");
    }

    /// OIDs registered and not, and malformed ones.
    fn oid() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(vec![0x55, 0x04, 0x03]),
            Just(vec![0x55, 0x04, 0x06]),
            Just(vec![0x55, 0x04, 0x0a]),
            Just(vec![0x55, 0x04, 0x05]),
            Just(vec![0x55, 0x04, 0x61]),
            Just(vec![0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            Just(vec![
                0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19
            ]),
            Just(vec![
                0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x03
            ]),
            Just(vec![0x80, 0x01]),
            Just(vec![]),
            prop::collection::vec(any::<u8>(), 1..6),
        ]
    }

    /// Mostly the shortest length form, now and then a longer one.
    fn form() -> impl Strategy<Value = u8> {
        prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)]
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        let tag = prop_oneof![
            Just(0x0cu8),
            Just(0x13),
            Just(0x16),
            Just(0x12),
            Just(0x14),
            Just(0x15),
            Just(0x19),
            Just(0x1a),
            Just(0x1b),
            Just(0x1e),
            Just(0x07),
            Just(0x04),
            Just(0x02),
            Just(0x2c),
            any::<u8>(),
        ];
        let content = prop_oneof![
            "[ -~]{0,20}".prop_map(String::into_bytes),
            "\\PC{0,8}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..12),
        ];
        (tag, content, form()).prop_map(|(t, c, f)| tlv_in(f, t, &c))
    }

    fn name() -> impl Strategy<Value = Vec<u8>> {
        let atv = (oid(), value(), any::<bool>(), form(), form()).prop_map(
            |(o, v, bad_oid_tag, f1, f2)| {
                let mut c = tlv_in(f1, if bad_oid_tag { 0x04 } else { 0x06 }, &o);
                c.extend(v);
                tlv_in(f2, 0x30, &c)
            },
        );
        let rdn = (prop::collection::vec(atv, 0..3), form())
            .prop_map(|(atvs, f)| tlv_in(f, 0x31, &atvs.concat()));
        (prop::collection::vec(rdn, 0..4), any::<u8>(), form()).prop_map(|(rdns, cut, f)| {
            let mut n = tlv_in(f, 0x30, &rdns.concat());
            // Now and then a truncated or extended name.
            match cut % 8 {
                0 if !n.is_empty() => {
                    n.pop();
                }
                1 => n.push(0),
                _ => {}
            }
            n
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Whatever the walk prints, x509-parser reads and prints the
        /// same; what x509-parser cannot read, the walk leaves alone.
        #[test]
        fn the_walk_prints_what_x509_parser_prints(n in name()) {
            let reference = reference(&n);
            if let Some(fast) = common(&n) {
                prop_assert_eq!(Some(fast), reference.clone());
            }
            prop_assert_eq!(to_string(&n).ok(), reference);
        }
    }
}
