//! PEM text (RFC 7468): finding the blocks of a file with memchr and
//! decoding each into a buffer that is wiped when dropped. One reader for
//! every PEM pinctl takes in — certificates, CSRs, public and private keys —
//! so that a private key's base64 never sits in a plain `String` (a general
//! PEM parser keeps one). What the blocks mean is for `pin` and `keys`.

use base64::Engine as _;
use memchr::memmem;
use zeroize::{Zeroize as _, Zeroizing};

use crate::wipe::reserve_wiped;

/// One `-----BEGIN LABEL-----` … `-----END LABEL-----` block.
pub struct Block {
    pub label: String,
    /// RFC 1421 header lines (`Proc-Type: 4,ENCRYPTED`, …) came first.
    pub has_headers: bool,
    /// A private key's block: its content is wiped when dropped.
    pub secret: bool,
    /// The block's content, decoded from base64.
    pub der: Vec<u8>,
}

impl Drop for Block {
    fn drop(&mut self) {
        if self.secret {
            self.der.zeroize();
        }
    }
}

impl Block {
    /// Takes the content out, in a buffer that wipes it when dropped.
    pub fn take_der(&mut self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(std::mem::take(&mut self.der))
    }
}

impl Block {
    /// Whether the block is an encrypted legacy private key.
    pub fn is_encrypted(&self) -> bool {
        self.has_headers || self.label.starts_with("ENCRYPTED")
    }
}

const BEGIN: &[u8] = b"-----BEGIN ";
const DASHES: &[u8] = b"-----";

/// Whether `data` holds a PEM BEGIN line.
pub fn is_pem(data: &[u8]) -> bool {
    memmem::find(data, BEGIN).is_some()
}

/// Every block of `data`, in order; text around and between blocks is
/// ignored. A block without its END line, or whose body is not base64, is
/// an error (never half of an answer).
pub fn blocks(data: &[u8]) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut scanner = Scanner::new(data);
    while let Some(b) = scanner.next_block() {
        let b = b?;
        out.push(Block {
            label: b.label.to_string(),
            has_headers: b.has_headers,
            secret: b.secret,
            der: b.der.to_vec(),
        });
    }
    Ok(out)
}

/// One block as the [`Scanner`] found it: the label borrowed from the
/// input, the content from the scanner's buffer (valid until the next).
pub struct BlockRef<'s> {
    pub label: &'s str,
    pub has_headers: bool,
    pub secret: bool,
    pub der: &'s [u8],
}

/// Walks the blocks of a PEM text, decoding each into one reused buffer:
/// a bundle of ten thousand certificates costs two allocations, not forty
/// thousand. The buffers are wiped when the scanner is dropped and before
/// they grow, since a block may be a private key.
pub struct Scanner<'a> {
    data: &'a [u8],
    /// The data is a part of a bigger text, cut just before a BEGIN line.
    followed: bool,
    /// Where the next BEGIN line starts, when already found.
    next_begin: Option<usize>,
    at: usize,
    begin: memmem::Finder<'static>,
    end: memmem::Finder<'static>,
    dashes: memmem::Finder<'static>,
    text: Zeroizing<Vec<u8>>,
    der: Zeroizing<Vec<u8>>,
}

const END: &[u8] = b"-----END ";

impl<'a> Scanner<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Scanner {
            data,
            followed: false,
            next_begin: None,
            at: 0,
            begin: memmem::Finder::new(BEGIN),
            end: memmem::Finder::new(END),
            dashes: memmem::Finder::new(DASHES),
            text: Zeroizing::new(Vec::new()),
            der: Zeroizing::new(Vec::new()),
        }
    }

    /// A scanner of a part of a bigger text that [`cut`] cut just
    /// before a BEGIN line: it reads every block as a scanner of the whole
    /// text would, and fails where it would fail.
    pub fn part(data: &'a [u8], followed: bool) -> Self {
        Scanner {
            followed,
            ..Scanner::new(data)
        }
    }

    /// The next block; None after the last one. After an error the
    /// scanner is done.
    pub fn next_block(&mut self) -> Option<Result<BlockRef<'_>, String>> {
        let data = self.data;
        let start = match self.next_begin.take() {
            Some(start) => start,
            None => self.at + self.begin.find(&data[self.at..])?,
        };
        match self.block_at(start) {
            Ok((label, has_headers)) => Some(Ok(BlockRef {
                label,
                has_headers,
                secret: label.contains("PRIVATE"),
                der: &self.der,
            })),
            Err(e) => {
                self.at = data.len();
                Some(Err(e))
            }
        }
    }

    /// Decodes the block whose BEGIN line is at `start` into `der`; its
    /// label and whether it had RFC 1421 headers.
    fn block_at(&mut self, start: usize) -> Result<(&'a str, bool), String> {
        let data = self.data;
        let label_start = start + BEGIN.len();
        // The label ends on its own line: a part cut before the next line
        // then reads it as the whole text does.
        let line = &data[label_start..];
        let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
        let label_len = self
            .dashes
            .find(line)
            .ok_or("malformed PEM: a BEGIN line does not end with -----")?;
        let label = std::str::from_utf8(&data[label_start..label_start + label_len])
            .ok()
            .filter(|l| l.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
            .ok_or("malformed PEM: a label that is not plain text")?;
        let body_start = label_start + label_len + DASHES.len();
        // The next BEGIN line is looked for once: it bounds this block, and
        // it is where the next block starts.
        let next_begin = self.begin.find(&data[body_start..]).map(|i| body_start + i);
        // The first `-----END LABEL-----` after the BEGIN line, and before
        // the next one.
        let mut search = body_start;
        let body_end = loop {
            let end = self.end.find(&data[search..]).map(|i| search + i);
            let Some(end) = end.filter(|&e| next_begin.is_none_or(|b| e < b)) else {
                return Err(if next_begin.is_some() || self.followed {
                    format!(
                        "truncated or malformed PEM: the {label} block has no END line before the next BEGIN line"
                    )
                } else {
                    format!("truncated or malformed PEM: no END line for {label}")
                });
            };
            let rest = &data[end + END.len()..];
            if rest.starts_with(label.as_bytes()) && rest[label.len()..].starts_with(DASHES) {
                break end;
            }
            search = end + END.len();
        };
        self.at = body_end + END.len() + label.len() + DASHES.len();
        // One that overlaps the END line's dashes is not a block start, as
        // a search from after the END line would not find it.
        self.next_begin = next_begin.filter(|&b| b >= self.at);
        if next_begin.is_none() {
            self.at = data.len();
        }
        let (has_headers, body) = split_headers(&data[body_start..body_end]);
        base64_text(body, &mut self.text);
        if self.decode().is_err() {
            // Lines with space inside them, or text that is not base64.
            base64_text_strict(body, &mut self.text);
            self.decode().map_err(|e| {
                format!("malformed PEM: the {label} block is not valid base64 ({e})")
            })?;
        }
        Ok((label, has_headers))
    }

    /// Decodes `text` into `der`. The SIMD decoder accepts exactly what
    /// `base64`'s strict one does (padding required, no stray bits); the
    /// latter says what is wrong when it fails.
    fn decode(&mut self) -> Result<(), base64::DecodeError> {
        // Base64 decodes to 3/4 of its length: with this room no decode
        // reallocates, so no unwiped copy of a key is left behind.
        self.der.clear();
        reserve_wiped(&mut self.der, self.text.len());
        if base64_simd::STANDARD
            .decode_append(&self.text[..], &mut *self.der)
            .is_ok()
        {
            return Ok(());
        }
        self.der.clear();
        base64::engine::general_purpose::STANDARD.decode_vec(&self.text[..], &mut self.der)
    }
}

/// A block's base64 text without its line breaks and the white space
/// around lines, into `text`. Space inside a line is left for the decoder
/// to refuse: [`base64_text_strict`] then tells whether it was only space.
fn base64_text(body: &[u8], text: &mut Vec<u8>) {
    text.clear();
    reserve_wiped(text, body.len());
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len())) {
        text.extend_from_slice(body[start..end].trim_ascii());
        start = (end + 1).min(body.len());
    }
}

/// A block's base64 text without any white space, into `text`.
fn base64_text_strict(body: &[u8], text: &mut Vec<u8>) {
    text.clear();
    reserve_wiped(text, body.len());
    text.extend(body.iter().copied().filter(|b| !b.is_ascii_whitespace()));
}

/// Splits `data` into at most `n` parts of about equal size, each cut just
/// before a BEGIN line, so that every block lies whole in one part. Every
/// part but the last is to be read with [`Scanner::part`].
pub fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for i in 1..n {
        let target = (data.len() * i / n).max(start + 1).min(data.len());
        match memmem::find_iter(&data[target..], BEGIN)
            .map(|off| target + off)
            .find(|&p| is_cut(data, p))
        {
            Some(cut) => {
                parts.push(&data[start..cut]);
                start = cut;
            }
            None => break,
        }
    }
    parts.push(&data[start..]);
    parts
}

/// Where to cut `data`, a text of which more is to come, so that the part
/// before holds whole blocks: before its last BEGIN line that starts a line
/// (after the first byte). None when there is no such place yet: more must
/// be read first.
pub fn last_cut(data: &[u8]) -> Option<usize> {
    memmem::rfind_iter(data, BEGIN).find(|&p| p > 0 && is_cut(data, p))
}

/// Whether `data` may be cut before a BEGIN line at `p`: at the start of
/// a line, where it cannot lie inside a BEGIN or END line (a scan of the
/// whole text reads those whole), only in a block's body (which it then
/// ends, as a scan of the whole would say) or between blocks.
fn is_cut(data: &[u8], p: usize) -> bool {
    p == 0 || data[p - 1] == b'\n'
}

/// Splits RFC 1421 headers (lines with a colon, up to a blank line) off a
/// block's body.
fn split_headers(body: &[u8]) -> (bool, &[u8]) {
    let first_line = body
        .split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace));
    if !first_line.is_some_and(|l| l.contains(&b':')) {
        return (false, body);
    }
    // The headers end at the first blank line.
    let mut offset = 0;
    let mut seen_text = false;
    for line in body.split_inclusive(|b| *b == b'\n') {
        offset += line.len();
        let blank = line.iter().all(u8::is_ascii_whitespace);
        if blank && seen_text {
            return (true, &body[offset..]);
        }
        seen_text |= !blank;
    }
    (true, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_text_around_and_errors() {
        let pem = b"hello\n-----BEGIN A-----\nAAEC\nAw==\n-----END A-----\nbetween\n-----BEGIN B C-----\r\nBA==\r\n-----END B C-----\n";
        let b = blocks(pem).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].label, "A");
        assert_eq!(&b[0].der[..], &[0, 1, 2, 3]);
        assert_eq!(b[1].label, "B C");
        assert_eq!(&b[1].der[..], &[4]);
        assert!(blocks(b"-----BEGIN A-----\nAAEC\n").is_err());
        assert!(blocks(b"-----BEGIN A-----\n!!!!\n-----END A-----\n").is_err());
        assert!(blocks(b"-----BEGIN A-----\n-----BEGIN A-----\nAA==\n-----END A-----\n").is_err());
        let enc = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n";
        let b = blocks(enc).unwrap();
        assert!(b[0].is_encrypted());
        assert!(blocks(b"no pem here").unwrap().is_empty());
    }
}
