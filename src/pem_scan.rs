//! PEM text (RFC 7468): finding the blocks of a file with memchr and
//! decoding each into a buffer that is wiped when dropped. One reader for
//! every PEM pinctl takes in — certificates, CSRs, public and private keys —
//! so that a private key's base64 never sits in a plain `String` (a general
//! PEM parser keeps one). What the blocks mean is for `pin` and `keys`.

use base64::Engine as _;
use memchr::memmem;
use zeroize::{Zeroize as _, Zeroizing};

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
    let mut at = 0;
    let begin = memmem::Finder::new(BEGIN);
    while let Some(start) = begin.find(&data[at..]).map(|i| at + i) {
        let label_start = start + BEGIN.len();
        let label_len = memmem::find(&data[label_start..], DASHES)
            .ok_or("malformed PEM: a BEGIN line does not end with -----")?;
        let label = std::str::from_utf8(&data[label_start..label_start + label_len])
            .ok()
            .filter(|l| l.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
            .ok_or("malformed PEM: a label that is not plain text")?
            .to_string();
        let body_start = label_start + label_len + DASHES.len();
        let end_line = format!("-----END {label}-----");
        let body_len = memmem::find(&data[body_start..], end_line.as_bytes())
            .ok_or_else(|| format!("truncated or malformed PEM: no END line for {label}"))?;
        let body = &data[body_start..body_start + body_len];
        if memmem::find(body, BEGIN).is_some() {
            return Err(format!(
                "truncated or malformed PEM: a BEGIN line inside the {label} block"
            ));
        }
        let (has_headers, body) = split_headers(body);
        // A key's text and DER are wiped; certificates and public keys are
        // public, and wiping megabytes of them would only cost time.
        let secret = label.contains("PRIVATE");
        let mut text = base64_text(body);
        // Base64 decodes to 3/4 of its length: this never reallocates, so
        // no unwiped copy is left behind.
        let mut block = Block {
            label,
            has_headers,
            secret,
            der: Vec::with_capacity(text.len()),
        };
        let decoded =
            base64::engine::general_purpose::STANDARD.decode_vec(&text[..], &mut block.der);
        if secret {
            text.zeroize();
        }
        decoded.map_err(|e| {
            format!(
                "malformed PEM: the {} block is not valid base64 ({e})",
                block.label
            )
        })?;
        out.push(block);
        at = body_start + body_len + end_line.len();
    }
    Ok(out)
}

/// A block's base64 text without its line breaks and other white space.
/// Lines are copied whole (PEM lines hold no inner spaces as a rule); a line
/// that has some is filtered byte by byte.
fn base64_text(body: &[u8]) -> Vec<u8> {
    let mut text = Vec::with_capacity(body.len());
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len())) {
        let line = body[start..end].trim_ascii();
        if line.iter().any(u8::is_ascii_whitespace) {
            text.extend(line.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        } else {
            text.extend_from_slice(line);
        }
        start = (end + 1).min(body.len());
    }
    text
}

/// Splits `data` into at most `n` parts of about equal size, each cut just
/// before a BEGIN line, so that every block lies whole in one part.
pub fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for i in 1..n {
        let target = (data.len() * i / n).max(start);
        match memmem::find(&data[target..], BEGIN) {
            Some(off) if target + off > start => {
                parts.push(&data[start..target + off]);
                start = target + off;
            }
            _ => break,
        }
    }
    parts.push(&data[start..]);
    parts
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
