//! A fast reader for the YAML that pinctl itself writes into `site.yaml`
//! (docs/design.md#reading-a-fleet): block mappings and sequences laid
//! out as `serde_yaml` emits them, plain and quoted one-line scalars, `[]`
//! and `{}`. A fleet's `status` and `check` parse thousands of site
//! files, and the general parser spends 20 times longer on each.
//!
//! It only ever answers for a text it reads exactly as the general parser
//! does: anything outside that subset (comments, blank lines, tabs, block
//! or multi-line scalars, anchors, tags, flow collections, non-ASCII
//! text, an empty value, a value that does not fit the type asked for) is
//! [`None`], and the caller parses the text with `serde_yaml`, whose
//! answer and error messages stand. The types are the state's own
//! `Deserialize` impls, so defaults, unknown fields and validation are
//! theirs either way.

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};

/// `text` as a `T`, or None when the text is outside the subset this
/// reader is sure of, or does not deserialize: ask `serde_yaml` then.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    let s = text.as_bytes();
    // Printable ASCII and line feeds only: no tabs, carriage returns,
    // BOMs or the Unicode line breaks YAML also knows. (A fold without
    // an early exit, which the compiler runs on whole vectors.)
    let odd = |b: u8| u8::from((b < 0x20 && b != b'\n') || b >= 0x7f);
    if s.is_empty() || s.iter().fold(0u8, |acc, &b| acc | odd(b)) != 0 {
        return None;
    }
    let mut r = Reader { s, text, pos: 0 };
    if !is_key_start(s, 0) {
        return None;
    }
    let v = T::deserialize(Value {
        r: &mut r,
        node: Node::Map(0),
    })
    .ok()?;
    (r.pos == s.len()).then_some(v)
}

/// A `DateTime<Utc>` field of the state, as chrono's own `Deserialize`
/// reads it (the same visitor contract, the same errors), with the form
/// pinctl writes (`2030-01-01T00:00:00Z`) read without chrono's general
/// parser: a site holds dozens, a fleet millions.
pub fn utc<'de, D: de::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    d.deserialize_str(UtcVisitor)
}

struct UtcVisitor;

impl Visitor<'_> for UtcVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // chrono's words, for the same errors.
        f.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime<Utc>, E> {
        if let Some(t) = quick_utc(v) {
            return Ok(t);
        }
        v.parse::<DateTime<chrono::FixedOffset>>()
            .map(|t| t.with_timezone(&Utc))
            .map_err(E::custom)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly, a valid date and time (no leap
/// second); anything else is chrono's to read.
fn quick_utc(v: &str) -> Option<DateTime<Utc>> {
    let b = v.as_bytes();
    if b.len() != 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let marks = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ];
    if marks.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = chrono::NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(date.and_time(time).and_utc())
}

/// Why the subset reader gave up; never shown (the general parser then
/// gives the message).
#[derive(Debug)]
struct Bail;

impl std::fmt::Display for Bail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outside the YAML subset pinctl writes")
    }
}

impl std::error::Error for Bail {}

impl de::Error for Bail {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Bail
    }
}

type R<T> = std::result::Result<T, Bail>;

/// The characters that may not begin a plain scalar here (YAML's
/// indicators and a space), as a table: every scalar of a fleet's files
/// is looked up.
const INDICATOR: [bool; 256] = {
    let mut t = [false; 256];
    let set = b"-?:,[]{}#&*!|>'\"%@` ";
    let mut i = 0;
    while i < set.len() {
        t[set[i] as usize] = true;
        i += 1;
    }
    t
};

struct Reader<'a> {
    s: &'a [u8],
    /// The same text (printable ASCII: every byte is a char boundary).
    text: &'a str,
    /// At a line's start, or at the first key of a mapping that begins
    /// after a sequence item's `- `.
    pos: usize,
}

/// A value, found from its first line.
#[derive(Clone, Copy)]
enum Node<'a> {
    Plain(&'a str),
    /// Between the quotes, `''` not yet undone.
    Single(&'a str),
    /// Between the quotes, escapes not yet undone.
    Double(&'a str),
    EmptySeq,
    EmptyMap,
    /// A block sequence whose dashes are in this column; the reader is at
    /// the start of its first line.
    Seq(usize),
    /// A block mapping whose keys are in this column; the reader is at
    /// its first key.
    Map(usize),
}

impl<'a> Reader<'a> {
    fn line_end(&self, from: usize) -> usize {
        memchr::memchr(b'\n', &self.s[from..]).map_or(self.s.len(), |i| from + i)
    }

    /// Past the line feed at `end` (or at the end of the text).
    fn next_line(&self, end: usize) -> usize {
        (end + 1).min(self.s.len())
    }

    /// The indent of the line starting at `at`, or None at the end.
    fn indent(&self, at: usize) -> Option<usize> {
        if at >= self.s.len() {
            return None;
        }
        Some(self.s[at..].iter().take_while(|&&b| b == b' ').count())
    }

    fn str(&self, from: usize, to: usize) -> &'a str {
        self.text.get(from..to).unwrap_or("")
    }

    /// The value that begins at `at` on a line (after `key: ` or `- `),
    /// with the reader moved past it when it is a one-line value. A
    /// `key:` at the start of a sequence item is a mapping in `at`'s
    /// column.
    fn inline(&mut self, at: usize, in_item: bool) -> R<Node<'a>> {
        let end = self.line_end(at);
        let line = &self.s[at..end];
        let after = self.next_line(end);
        let node = match line.first() {
            None => return Err(Bail),
            Some(b'[') if line == b"[]" => Node::EmptySeq,
            Some(b'{') if line == b"{}" => Node::EmptyMap,
            Some(b'\'') => {
                let mut i = 1;
                loop {
                    match line.get(i) {
                        None => return Err(Bail),
                        Some(b'\'') if line.get(i + 1) == Some(&b'\'') => i += 2,
                        Some(b'\'') => break,
                        Some(_) => i += 1,
                    }
                }
                if i + 1 != line.len() {
                    return Err(Bail);
                }
                Node::Single(self.str(at + 1, at + i))
            }
            Some(b'"') => {
                let mut i = 1;
                loop {
                    match line.get(i) {
                        None => return Err(Bail),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                if i + 1 != line.len() {
                    return Err(Bail);
                }
                Node::Double(self.str(at + 1, at + i))
            }
            Some(c) if INDICATOR[usize::from(*c)] => return Err(Bail),
            Some(_) => {
                if in_item && is_key_start(self.s, at) {
                    self.pos = at;
                    let col = at - self.line_start(at);
                    return Ok(Node::Map(col));
                }
                // `: ` or a final `:` would make it a mapping, ` #` a
                // comment; trailing spaces are not part of it.
                let ends_key = |j: usize| matches!(line.get(j + 1), None | Some(b' '));
                let comment = |j: usize| j > 0 && line[j - 1] == b' ';
                if line.ends_with(b" ")
                    || memchr::memchr2_iter(b':', b'#', line).any(|j| {
                        if line[j] == b':' {
                            ends_key(j)
                        } else {
                            comment(j)
                        }
                    })
                {
                    return Err(Bail);
                }
                Node::Plain(self.str(at, end))
            }
        };
        self.pos = after;
        Ok(node)
    }

    fn line_start(&self, at: usize) -> usize {
        memchr::memrchr(b'\n', &self.s[..at]).map_or(0, |i| i + 1)
    }
}

/// Whether a `key:` starts at `at`: letters, digits and `_`, then `:` and
/// a space or the end of the line.
fn is_key_start(s: &[u8], at: usize) -> bool {
    key_colon(s, at).is_some()
}

/// Where the colon of the `key:` that starts at `at` is ([`is_key_start`]).
fn key_colon(s: &[u8], at: usize) -> Option<usize> {
    let n = s[at..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    let colon = at + n;
    (n > 0 && s.get(colon) == Some(&b':') && matches!(s.get(colon + 1), None | Some(b' ' | b'\n')))
        .then_some(colon)
}

struct Value<'r, 'a> {
    r: &'r mut Reader<'a>,
    node: Node<'a>,
}

impl<'a> Value<'_, 'a> {
    fn scalar(&self) -> R<std::borrow::Cow<'a, str>> {
        match self.node {
            Node::Plain(s) => Ok(s.into()),
            Node::Single(s) if !s.contains('\'') => Ok(s.into()),
            Node::Single(s) => Ok(s.replace("''", "'").into()),
            Node::Double(s) if !s.contains('\\') => Ok(s.into()),
            Node::Double(s) => unescape(s).map(Into::into),
            _ => Err(Bail),
        }
    }

    fn plain(&self) -> R<&'a str> {
        match self.node {
            Node::Plain(s) => Ok(s),
            _ => Err(Bail),
        }
    }

    fn unsigned(&self) -> R<u64> {
        let s = self.plain()?;
        if s.is_empty() || s.len() > 19 || (s.len() > 1 && s.starts_with('0')) {
            return Err(Bail);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Bail);
        }
        s.parse().map_err(|_| Bail)
    }
}

/// A double-quoted scalar's escapes (YAML 1.2 section 5.7), the common
/// ones; any other is left to the general parser.
fn unescape(s: &str) -> R<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |it: &mut std::str::Chars<'_>, n: usize| -> R<char> {
            let h: String = it.by_ref().take(n).collect();
            if h.len() != n || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Bail);
            }
            u32::from_str_radix(&h, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or(Bail)
        };
        out.push(match it.next().ok_or(Bail)? {
            '\\' => '\\',
            '"' => '"',
            '/' => '/',
            '0' => '\0',
            'a' => '\x07',
            'b' => '\x08',
            't' => '\t',
            'n' => '\n',
            'v' => '\x0b',
            'f' => '\x0c',
            'r' => '\r',
            'e' => '\x1b',
            'x' => hex(&mut it, 2)?,
            'u' => hex(&mut it, 4)?,
            _ => return Err(Bail),
        });
    }
    Ok(out)
}

impl<'de> de::Deserializer<'de> for Value<'_, '_> {
    type Error = Bail;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> R<V::Value> {
        Err(Bail)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.plain()? {
            "true" | "True" | "TRUE" => v.visit_bool(true),
            "false" | "False" | "FALSE" => v.visit_bool(false),
            _ => Err(Bail),
        }
    }

    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_u64(self.unsigned()?)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_u64(self.unsigned()?)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_u64(self.unsigned()?)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        v.visit_u64(self.unsigned()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.scalar()? {
            std::borrow::Cow::Borrowed(s) => v.visit_str(s),
            std::borrow::Cow::Owned(s) => v.visit_string(s),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_str(v)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        // As serde_yaml: a plain null is None, anything else Some.
        match self.node {
            Node::Plain("null" | "Null" | "NULL" | "~") => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> R<V::Value> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.node {
            Node::EmptySeq => v.visit_seq(Empty),
            Node::Seq(col) => {
                let mut a = Items {
                    r: self.r,
                    col,
                    done: false,
                };
                let out = v.visit_seq(&mut a)?;
                if a.done {
                    Ok(out)
                } else {
                    Err(Bail)
                }
            }
            _ => Err(Bail),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> R<V::Value> {
        match self.node {
            Node::EmptyMap => v.visit_map(Empty),
            Node::Map(col) => {
                let mut a = Entries {
                    r: self.r,
                    col,
                    first: true,
                    pending: None,
                    done: false,
                };
                let out = v.visit_map(&mut a)?;
                if a.done {
                    Ok(out)
                } else {
                    Err(Bail)
                }
            }
            _ => Err(Bail),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> R<V::Value> {
        // Unit variants only, named by a scalar (as the state writes them).
        let name = self.scalar()?;
        v.visit_enum(UnitOnly(name))
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u128 f32 f64 char bytes byte_buf unit unit_struct
        tuple tuple_struct ignored_any
    }
}

/// `[]` and `{}`.
struct Empty;

impl<'de> de::SeqAccess<'de> for Empty {
    type Error = Bail;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, _: T) -> R<Option<T::Value>> {
        Ok(None)
    }
}

impl<'de> de::MapAccess<'de> for Empty {
    type Error = Bail;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, _: K) -> R<Option<K::Value>> {
        Ok(None)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, _: T) -> R<T::Value> {
        Err(Bail)
    }
}

/// The items of a block sequence.
struct Items<'r, 'a> {
    r: &'r mut Reader<'a>,
    col: usize,
    done: bool,
}

impl<'de> de::SeqAccess<'de> for &mut Items<'_, '_> {
    type Error = Bail;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> R<Option<T::Value>> {
        let at = self.r.pos;
        let Some(i) = self.r.indent(at) else {
            self.done = true;
            return Ok(None);
        };
        let s = self.r.s;
        if i < self.col || (i == self.col && s.get(at + i) != Some(&b'-')) {
            // The end; what follows is the enclosing mapping's to judge.
            self.done = true;
            return Ok(None);
        }
        if i > self.col || s.get(at + i + 1) != Some(&b' ') {
            return Err(Bail);
        }
        let node = self.r.inline(at + i + 2, true)?;
        seed.deserialize(Value { r: self.r, node }).map(Some)
    }
}

/// The entries of a block mapping.
struct Entries<'r, 'a> {
    r: &'r mut Reader<'a>,
    col: usize,
    first: bool,
    pending: Option<Node<'a>>,
    done: bool,
}

impl<'de> de::MapAccess<'de> for &mut Entries<'_, '_> {
    type Error = Bail;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> R<Option<K::Value>> {
        let s = self.r.s;
        let at = if std::mem::take(&mut self.first) {
            self.r.pos
        } else {
            let line = self.r.pos;
            match self.r.indent(line) {
                None => {
                    self.done = true;
                    return Ok(None);
                }
                Some(i) if i < self.col => {
                    self.done = true;
                    return Ok(None);
                }
                Some(i) if i == self.col => line + i,
                Some(_) => return Err(Bail),
            }
        };
        let colon = key_colon(s, at).ok_or(Bail)?;
        let key = self.r.str(at, colon);
        let node = if s.get(colon + 1) == Some(&b' ') {
            self.r.inline(colon + 2, false)?
        } else {
            // `key:` alone: a block below it, a sequence possibly at the
            // key's own column.
            let next = self.r.next_line(colon + 1);
            let i = self.r.indent(next).ok_or(Bail)?;
            let first = s.get(next + i).copied();
            if first == Some(b'-') && s.get(next + i + 1) == Some(&b' ') && i >= self.col {
                self.r.pos = next;
                Node::Seq(i)
            } else if i > self.col && is_key_start(s, next + i) {
                self.r.pos = next + i;
                Node::Map(i)
            } else {
                return Err(Bail);
            }
        };
        self.pending = Some(node);
        seed.deserialize(de::value::StrDeserializer::<Bail>::new(key))
            .map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> R<T::Value> {
        let node = self.pending.take().ok_or(Bail)?;
        seed.deserialize(Value { r: self.r, node })
    }
}

/// A unit variant named by a scalar (borrowed from the text: a fleet's
/// files name thousands of roles, modes and events).
struct UnitOnly<'a>(std::borrow::Cow<'a, str>);

impl<'de, 'a> de::EnumAccess<'de> for UnitOnly<'a> {
    type Error = Bail;
    type Variant = UnitOnly<'a>;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> R<(V::Value, UnitOnly<'a>)> {
        let v = seed.deserialize(de::value::StrDeserializer::<Bail>::new(&self.0))?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitOnly<'_> {
    type Error = Bail;
    fn unit_variant(self) -> R<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> R<T::Value> {
        Err(Bail)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> R<V::Value> {
        Err(Bail)
    }
    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> R<V::Value> {
        Err(Bail)
    }
}

#[cfg(test)]
mod tests {
    use super::from_str;
    use crate::state::{to_yaml, Site};
    use proptest::prelude::*;

    /// A site of `benches/fleet.sh`: a year on three channels.
    const FLEET_SITE: &str = include_str!("../../../tests/fixtures/fleet-site.yaml");

    /// The fast reader either declines or gives what serde_yaml gives.
    fn agrees(text: &str) -> bool {
        match from_str::<Site>(text) {
            None => true,
            Some(fast) => serde_yaml::from_str::<Site>(text).ok() == Some(fast),
        }
    }

    #[test]
    fn reads_what_pinctl_writes() {
        let slow: Site = serde_yaml::from_str(FLEET_SITE).unwrap();
        let fast: Site = from_str(FLEET_SITE).expect("the fleet site is in the subset");
        assert_eq!(fast, slow);
        let again = to_yaml(&slow).unwrap();
        assert_eq!(again, FLEET_SITE);
        assert_eq!(from_str::<Site>(&again), Some(slow));
    }

    #[test]
    fn declines_what_it_does_not_know() {
        for (from, to) in [
            ("version: 4\n", "# a comment\nversion: 4\n"),
            ("version: 4\n", "version: 4\n\n"),
            ("version: 4\n", "version: 4 # four\n"),
            ("version: 4\n", "version:  4\n"),
            ("version: 4\n", "version: 4 \n"),
            ("version: 4\n", "version: 0x4\n"),
            ("version: 4\n", "version: '4'\n"),
            ("version: 4\n", "---\nversion: 4\n"),
            ("armor: false", "armor: no"),
            ("  armor: false", "  armor: false\n  extra: 1"),
            ("report_uri: null", "report_uri: ~"),
            ("report_uri: null", "report_uri:"),
            (
                "subject: CN=seed.example",
                "subject: >-\n    CN=seed.example",
            ),
            (
                "subject: CN=seed.example",
                "subject: CN=seed.example\n    continued",
            ),
            ("subject: CN=seed.example", "subject: &a CN=seed.example"),
            (
                "subject: CN=seed.example",
                "subject: \"CN=seed\\x2eexample\\q\"",
            ),
            ("subject: CN=seed.example", "subject: 'CN=seed"),
            ("subject: CN=seed.example", "subject: CN=séed.example"),
            ("sans: []", "sans: [a.example]"),
            ("keys:\n- name: primary", "keys:\n-   name: primary"),
            ("keys:\n- name: primary", "keys:\n  - name: primary"),
            ("  role: retired", "   role: retired"),
        ] {
            assert!(FLEET_SITE.contains(from), "{from}");
            let text = FLEET_SITE.replacen(from, to, 1);
            assert!(agrees(&text), "{to}");
        }
        // Those it reads as serde_yaml does.
        for (from, to) in [
            ("subject: CN=seed.example", "subject: 'CN=it''s'"),
            (
                "subject: CN=seed.example",
                "subject: \"CN=\\u00e9\\t\\\"x\\\"\"",
            ),
            ("subject: CN=seed.example", "subject: null"),
            ("subject: CN=seed.example", "subject: a:b#c"),
            ("report_uri: null", "report_uri: 'null'"),
            ("report_uri: null", "report_uri: NULL"),
            ("armor: false", "armor: FALSE"),
            (
                "keys:\n- name: primary",
                "keys:\n  - name: primary\n    role: retired",
            ),
        ] {
            let text = FLEET_SITE.replacen(from, to, 1);
            assert!(agrees(&text), "{to}");
        }
        let nested = FLEET_SITE.replacen(
            "sans: []",
            "sans:\n  - a.seed.example\n  - b.seed.example",
            1,
        );
        let site: Site = from_str(&nested).expect("an indented sequence is in the subset");
        assert_eq!(site.sans, ["a.seed.example", "b.seed.example"]);
        assert!(agrees(&nested));
    }

    proptest! {
        /// The quick timestamp reader agrees with chrono's.
        #[test]
        fn times_read_as_chrono_reads_them(
            t in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(Z|z|\\+01:00|\\.5Z)?",
        ) {
            use serde::de::{value::StrDeserializer, Error as _};
            let quick = super::utc(StrDeserializer::<serde::de::value::Error>::new(&t));
            let chrono = t
                .parse::<chrono::DateTime<chrono::FixedOffset>>()
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(serde::de::value::Error::custom);
            prop_assert_eq!(quick, chrono);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Any text edit of a real site file: the fast reader declines it
        /// or reads it exactly as serde_yaml does.
        #[test]
        fn edits_agree(
            line in 0usize..461,
            edit in 0usize..8,
            piece in prop::sample::select(vec![
                "null", "~", "''", "'a''b'", "\"a\\tb\"", "\"\\u00e9\"", "a: b", "a #b",
                "[]", "{}", "0x10", "010", "+5", "5", "true", "True", "yes", "-1", "1.0",
                "&a x", "*a", "!t x", "|", ">", "- x", "x:", "'x", "\"x", "2030-01-01T00:00:00Z",
                "enforce", "report-only", "retired", "p256",
            ]),
        ) {
            let mut lines: Vec<String> = FLEET_SITE.lines().map(str::to_string).collect();
            let i = line.min(lines.len() - 1);
            match edit {
                0 => lines.insert(i, String::new()),
                1 => lines.insert(i, format!("# {piece}")),
                2 => lines[i].push(' '),
                3 => lines[i] = format!("  {}", lines[i]),
                4 => lines[i] = lines[i].strip_prefix("  ").unwrap_or(&lines[i]).to_string(),
                5 => { lines.remove(i); }
                6 => {
                    let l = lines[i].clone();
                    lines.insert(i, l);
                }
                _ => {
                    if let Some(k) = lines[i].find(": ") {
                        lines[i] = format!("{}: {piece}", &lines[i][..k]);
                    }
                }
            }
            let text = lines.join("\n") + "\n";
            prop_assert!(agrees(&text), "{}", text);
        }

        /// Whatever pinctl writes into its free-text fields reads back,
        /// by whichever reader, as it was.
        #[test]
        fn free_text_round_trips(detail in any::<String>(), subject in "[ -~]{0,40}") {
            let mut site: Site = serde_yaml::from_str(FLEET_SITE).unwrap();
            site.events[0].detail = Some(detail);
            site.certificates[0].subject = subject;
            let text = to_yaml(&site).unwrap();
            prop_assert!(agrees(&text));
            if let Some(fast) = from_str::<Site>(&text) {
                prop_assert_eq!(fast, site);
            }
        }
    }
}
