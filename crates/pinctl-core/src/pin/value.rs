//! A pin's value: the [`Pin`] type, the one spelling it accepts, and the
//! pin of a SubjectPublicKeyInfo's bytes. Apart from reading files of
//! keys, CSRs and certificates (the rest of `pin`), so that `keys` can
//! name a key's pin without depending on what reads keys.

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A pin: canonical base64 of 32 bytes (a SHA-256 digest). Every pin
/// from outside (a flag, a header, a state file) becomes one through
/// [`Pin::parse`], so a value that is not a pin cannot reach a pinset.
///
/// Held as its 44 characters in place, not on the heap: a fleet's sites
/// hold hundreds of thousands, and every pinset compares and copies them
/// (docs/design.md#reading-a-fleet).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pin([u8; PIN_LEN]);

/// The length of every pin's text: 32 bytes in padded base64.
const PIN_LEN: usize = 44;

/// As its text, without the copy that `into = "String"` would make.
impl Serialize for Pin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// As a `String` is read, then [`Pin::parse`]d: the same errors as the
/// `try_from = "String"` this replaced, without a `String` for each. A
/// text that is not a pin is refused once the string is read, not while
/// it is: a parser places (and names the path of) an error from within
/// reading a value elsewhere than one after it (serde_yaml: the value,
/// not its entry), and a damaged state file must say what it said.
impl<'de> serde::Deserialize<'de> for Pin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Pin, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = std::result::Result<Pin, String>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(Pin::parse(v))
            }
            fn visit_bytes<E: serde::de::Error>(
                self,
                v: &[u8],
            ) -> std::result::Result<Self::Value, E> {
                match std::str::from_utf8(v) {
                    Ok(v) => self.visit_str(v),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(v), &self)),
                }
            }
        }
        d.deserialize_string(V)?.map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pin").field(&self.as_str()).finish()
    }
}

impl Pin {
    /// Parses a pin: valid base64 (standard alphabet, padded, canonical)
    /// of exactly 32 bytes.
    pub fn parse(v: &str) -> std::result::Result<Pin, String> {
        if is_canonical_pin(v) {
            return Ok(Pin::of_canonical(v));
        }
        Pin::parse_decoding(v)
    }

    /// The pin of a text [`is_canonical_pin`] accepted (44 characters).
    fn of_canonical(v: &str) -> Pin {
        let mut b = [0u8; PIN_LEN];
        b.copy_from_slice(v.as_bytes());
        Pin(b)
    }

    /// [`Pin::parse`] by decoding and encoding again: the rule, and the
    /// errors.
    pub(super) fn parse_decoding(v: &str) -> std::result::Result<Pin, String> {
        let engine = &base64::engine::general_purpose::STANDARD;
        let bytes = engine
            .decode(v)
            .map_err(|_| format!("pin {v:?} is not valid base64"))?;
        if bytes.len() != 32 {
            return Err(format!(
                "pin {v:?} is {} bytes, a SHA-256 pin is 32",
                bytes.len()
            ));
        }
        // Two spellings of one digest would compare unequal.
        if engine.encode(&bytes) != v {
            return Err(format!("pin {v:?} is not canonical base64"));
        }
        // Canonical base64 of 32 bytes is 44 characters.
        Ok(Pin::of_canonical(v))
    }

    /// The pin of a SHA-256 digest.
    pub fn from_digest(d: &[u8; 32]) -> Pin {
        let mut b = [0u8; PIN_LEN];
        // 32 bytes take exactly 44 characters of padded base64.
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(d, &mut b)
            .unwrap_or(0);
        debug_assert_eq!(n, PIN_LEN);
        Pin(b)
    }

    pub fn as_str(&self) -> &str {
        // Only base64 characters are ever stored (`of_canonical`,
        // `from_digest`): ASCII, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 32 bytes, as hex (DANE association data).
    pub fn hex(&self) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.0)
            // A Pin is canonical base64 of 32 bytes by construction.
            .unwrap_or_default();
        crate::text::hex(&bytes)
    }
}

impl TryFrom<String> for Pin {
    type Error = String;
    fn try_from(v: String) -> std::result::Result<Pin, String> {
        Pin::parse(&v)
    }
}

/// Whether `v` is the one spelling [`Pin::parse`] accepts, found without
/// decoding (a fleet's state holds hundreds of thousands of pins): 43
/// characters of the standard alphabet, the last carrying 4 bits of the
/// digest and 2 zero bits, then one `=`. Anything else goes through the
/// decoding in [`Pin::parse`], which gives the error.
pub(super) fn is_canonical_pin(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == PIN_LEN
        && b[43] == b'='
        && b[..43]
            .iter()
            .all(|&c| SEXTET[usize::from(c)] != NOT_BASE64)
        && SEXTET[usize::from(b[42])] & 0b11 == 0
}

/// What each byte is worth in base64's standard alphabet, or
/// [`NOT_BASE64`]: a table, as every pin of a fleet's files is checked.
const SEXTET: [u8; 256] = {
    let mut t = [NOT_BASE64; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < alphabet.len() {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Not a character of the standard alphabet (no sextet is 0xff).
const NOT_BASE64: u8 = 0xff;

impl From<Pin> for String {
    fn from(p: Pin) -> String {
        p.as_str().to_string()
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Pin {
    fn eq(&self, o: &str) -> bool {
        self.0 == o.as_bytes()
    }
}

impl PartialEq<&str> for Pin {
    fn eq(&self, o: &&str) -> bool {
        self.0 == o.as_bytes()
    }
}

/// The SHA-256 of the empty string, base64: a pin made when the key was
/// missing. RFC 7469 gives no special meaning to it, so it is always a bug.
pub const EMPTY_INPUT_PIN: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

/// `base64(SHA-256(spki))`, the RFC 7469 pin of a DER SubjectPublicKeyInfo.
pub fn spki_pin(spki: &[u8]) -> Pin {
    Pin::from_digest(&Sha256::digest(spki).into())
}
