//! Pins (RFC 7469 section 2.4): reading keys, CSRs, public keys and
//! certificates in PEM or DER, finding each object's SubjectPublicKeyInfo
//! and hashing it. Everything here is pure: bytes in, pins out; reading
//! files is left to the caller (`pinctl_store::pin_file`), which streams a
//! big one through [`Chunks`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;

use crate::error::{Error, Result};

pub mod value;
pub use value::{spki_pin, Pin, EMPTY_INPUT_PIN};

/// What kind of object a pin was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Certificate,
    Csr,
    PublicKey,
    PrivateKey,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Certificate => "certificate",
            Kind::Csr => "csr",
            Kind::PublicKey => "public-key",
            Kind::PrivateKey => "private-key",
        }
    }
}

/// One pinned object with what a user wants to know about it.
#[derive(Debug, Clone, Serialize)]
pub struct PinInfo {
    pub pin: Pin,
    pub kind: Kind,
    pub algorithm: String,
    pub bits: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::text::ser_opt"
    )]
    pub not_before: Option<DateTime<Utc>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::text::ser_opt"
    )]
    pub not_after: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    /// SHA-256 of the SPKI (DANE `3 1 1` association data).
    #[serde(skip)]
    pub digest: [u8; 32],
}

impl PinInfo {
    /// The pin of an SPKI digest, with nothing known yet beyond its kind,
    /// algorithm and size.
    fn of_digest(digest: &[u8; 32], kind: Kind, algorithm: String, bits: Option<u32>) -> PinInfo {
        PinInfo {
            pin: Pin::from_digest(digest),
            kind,
            algorithm,
            bits,
            subject: None,
            issuer: None,
            not_before: None,
            not_after: None,
            is_ca: None,
            digest: *digest,
        }
    }
}

/// How much reading finds out about each object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything `pin --format text|json` shows: algorithm, size, subject,
    /// issuer, validity, CA flag.
    Full,
    /// Only the pin (and its hex): a certificate's SPKI is found by a lazy
    /// DER walk instead of a full parse, as `--format header|tlsa` need.
    PinOnly,
    /// What `pin --format text|json` print, from a lazy walk that parses
    /// only the names, validity, key and basicConstraints of a certificate
    /// (the fields a full parse would give, at a fraction of its cost).
    Summary,
    /// Only the pin, each object parsed in full (a damaged one refused
    /// with the full parse's error): the store checking a fleet's stored
    /// CSRs against their keys' pins needs no subject or key size.
    Checked,
}

/// Reads every object in `data` (PEM with any number of blocks, or a single
/// DER object) and returns one pin per object. `label` names the input in
/// errors. Either every object is read or an error is returned: a caller
/// never gets half of an answer.
pub fn read_pins(label: &str, data: &[u8]) -> Result<Vec<PinInfo>> {
    read_pins_with(label, data, Detail::Full)
}

/// As [`read_pins`], finding out only what `detail` asks for.
pub fn read_pins_with(label: &str, data: &[u8], detail: Detail) -> Result<Vec<PinInfo>> {
    let err = |m: String| Error::input(label, m);
    if data.is_empty() {
        return Err(err("empty input".into()));
    }
    if crate::pem_scan::is_pem(data) {
        return read_pem(label, data, detail);
    }
    if data[0] != 0x30 {
        return Err(err(
            "neither PEM nor DER (no PEM block found and no DER SEQUENCE at the start)".into(),
        ));
    }
    let total = der_length(data).ok_or_else(|| err("not valid DER: bad length field".into()))?;
    if total > data.len() {
        return Err(err(format!(
            "truncated DER: the object says {total} bytes, the input has {}",
            data.len()
        )));
    }
    if total < data.len() {
        return Err(err(format!(
            "{} bytes of trailing data after the DER object",
            data.len() - total
        )));
    }
    let info = read_der_any(data).map_err(err)?;
    Ok(vec![info])
}

/// Inputs above this size are read on every core.
const PARALLEL_FROM: usize = 1 << 20;

/// Files from this size are pinned as they are read, a chunk at a time.
pub const STREAM_FROM: u64 = 4 << 20;
/// How much [`read_pem_stream`] reads at a time.
pub const CHUNK: usize = 256 << 10;

/// What one part of a PEM text gives: its pins and how many blocks it
/// held, or the number and label of the block that failed (no label when
/// the block itself is malformed) and why.
type PartResult = std::result::Result<(usize, Vec<PinInfo>), (usize, Option<String>, String)>;

fn read_part(part: &[u8], followed: bool, detail: Detail) -> PartResult {
    let mut scanner = crate::pem_scan::Scanner::part(part, followed);
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(b) = scanner.next_block() {
        let b = b.map_err(|m| (n, None, m))?;
        match read_block(b.label, b.has_headers, b.der, detail) {
            Ok(Some(info)) => out.push(info),
            Ok(None) => {}
            Err(m) => return Err((n, Some(b.label.to_string()), m)),
        }
        n += 1;
    }
    Ok((n, out))
}

/// The parts' results, in order, as one answer: every pin, or the first
/// error, naming its block by its number in the whole text.
fn merge_parts(label: &str, results: impl IntoIterator<Item = PartResult>) -> Result<Vec<PinInfo>> {
    let err = |m: String| Error::input(label, m);
    let results: Vec<PartResult> = results.into_iter().collect();
    let total = results
        .iter()
        .map(|r| r.as_ref().map_or(0, |(_, v)| v.len()))
        .sum();
    let mut out = Vec::with_capacity(total);
    let mut before = 0;
    for r in results {
        match r {
            Ok((count, v)) => {
                before += count;
                out.extend(v);
            }
            Err((n, None, m)) => return Err(err(format!("PEM block {}: {m}", before + n + 1))),
            Err((n, Some(tag), m)) => {
                return Err(err(format!("PEM block {} ({tag}): {m}", before + n + 1)))
            }
        }
    }
    if out.is_empty() {
        return Err(err("no key, CSR or certificate in the input".into()));
    }
    Ok(out)
}

fn read_pem(label: &str, data: &[u8], detail: Detail) -> Result<Vec<PinInfo>> {
    // Asking for the cores reads cgroup files: only for inputs worth it
    // (a fleet's status reads thousands of small CSRs).
    let cores = if data.len() >= PARALLEL_FROM {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    read_pem_in(label, data, detail, cores)
}

/// [`read_pem`] in at most `cores` parts.
fn read_pem_in(label: &str, data: &[u8], detail: Detail, cores: usize) -> Result<Vec<PinInfo>> {
    let parts = if cores > 1 {
        crate::pem_scan::split(data, cores)
    } else {
        vec![data]
    };
    let last = parts.len() - 1;
    // Each part is scanned, decoded and pinned on its own core; results
    // come back in order, so an error names the right block.
    let results: Vec<PartResult> = if parts.len() > 1 {
        std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .iter()
                .enumerate()
                .map(|(i, p)| s.spawn(move || read_part(p, i < last, detail)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err((0, None, "a reader thread failed".into())))
                })
                .collect()
        })
    } else {
        vec![read_part(data, false, detail)]
    };
    merge_parts(label, results)
}

/// A text read a chunk at a time by [`read_pem_stream`]: a big file,
/// which `pinctl-store` opens (this crate reads no file), or bytes in
/// memory.
pub trait Chunks: Send {
    /// Appends up to `n` more bytes to `buf` (growing it only through
    /// [`crate::wipe::reserve_wiped`]); 0 at the end.
    fn read_chunk(&mut self, buf: &mut zeroize::Zeroizing<Vec<u8>>, n: usize) -> Result<usize>;
}

/// The text being read by [`read_pem_stream`]'s workers, one at a time.
struct Feed<R> {
    reader: R,
    /// What the last part left over: a block begun and not yet whole.
    carry: zeroize::Zeroizing<Vec<u8>>,
    /// How much is read at a time.
    chunk: usize,
    next: usize,
    done: bool,
}

impl<R: Chunks> Feed<R> {
    /// Fills `buf` with the next part of the text, cut just before a
    /// BEGIN line; its number and whether more follows. None at the end.
    fn next_part(
        &mut self,
        buf: &mut zeroize::Zeroizing<Vec<u8>>,
    ) -> Result<Option<(usize, bool)>> {
        if self.done {
            return Ok(None);
        }
        buf.clear();
        // Room is made before the copies, so that no key is left in freed
        // memory by a buffer that grows.
        crate::wipe::reserve_wiped(buf, self.carry.len() + self.chunk);
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        let n = self.next;
        self.next += 1;
        loop {
            if self.reader.read_chunk(buf, self.chunk)? == 0 {
                self.done = true;
                return Ok(Some((n, false)));
            }
            if let Some(cut) = crate::pem_scan::last_cut(buf) {
                crate::wipe::reserve_wiped(&mut self.carry, buf.len() - cut);
                self.carry.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                return Ok(Some((n, true)));
            }
        }
    }
}

/// A big PEM file pinned as it is read: every core takes the next chunk
/// (cut just before a BEGIN line), pins it, and comes back for more, so
/// that reading overlaps the work and buffers are reused. The answer is
/// the one [`read_pem`] gives for the whole text, errors included. None
/// when the file does not start like PEM: it is then read whole.
pub fn read_pem_stream<R: Chunks>(
    label: &str,
    reader: R,
    detail: Detail,
    chunk: usize,
) -> Result<Option<Vec<PinInfo>>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut feed = Feed {
        reader,
        carry: zeroize::Zeroizing::new(Vec::with_capacity(2 * chunk)),
        chunk,
        next: 0,
        done: false,
    };
    feed.reader.read_chunk(&mut feed.carry, chunk)?;
    if !crate::pem_scan::is_pem(&feed.carry) {
        return Ok(None);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let feed = std::sync::Mutex::new(feed);
    let failed = AtomicBool::new(false);
    let work = || -> Result<Vec<(usize, PartResult)>> {
        let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(2 * chunk));
        let mut done = Vec::new();
        // After a failure no new part is taken: every part taken later
        // comes after the one that failed.
        while !failed.load(Ordering::Relaxed) {
            let next = {
                let mut feed = feed
                    .lock()
                    .map_err(|_| Error::input(label, "a reader thread failed"))?;
                match feed.next_part(&mut buf) {
                    Ok(next) => next,
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            };
            let Some((n, followed)) = next else { break };
            let result = read_part(&buf, followed, detail);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            done.push((n, result));
        }
        Ok(done)
    };
    let mut results: Vec<(usize, PartResult)> = Vec::new();
    let mut read_error = None;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..cores.max(1)).map(|_| s.spawn(work)).collect();
        for w in workers {
            match w.join() {
                Ok(Ok(done)) => results.extend(done),
                Ok(Err(e)) => read_error = Some(e),
                Err(_) => read_error = Some(Error::input(label, "a reader thread failed")),
            }
        }
    });
    // The file could not be read whole: that, before anything in it.
    if let Some(e) = read_error {
        return Err(e);
    }
    results.sort_by_key(|(n, _)| *n);
    merge_parts(label, results.into_iter().map(|(_, r)| r)).map(Some)
}

/// One PEM block's pin; None for a block that holds no key (EC PARAMETERS).
fn read_block(
    label: &str,
    has_headers: bool,
    contents: &[u8],
    detail: Detail,
) -> std::result::Result<Option<PinInfo>, String> {
    if has_headers {
        return Err(
            "the key is encrypted; decrypt it first (openssl pkey -in FILE -out plain.pem) and pin that".into(),
        );
    }
    let info = match label {
            // A certificate the lazy walk does not read goes to the full
            // parse, which then says what it is.
            "CERTIFICATE" | "X509 CERTIFICATE" if detail == Detail::PinOnly => {
                certificate_pin(contents).or_else(|_| read_certificate(contents, false))
            }
            // A certificate the lazy walk cannot read gets the full parse's
            // error message.
            "CERTIFICATE" | "X509 CERTIFICATE" if detail == Detail::Summary => {
                certificate_summary(contents).or_else(|_| read_certificate(contents, false))
            }
            "CERTIFICATE" | "X509 CERTIFICATE" => read_certificate(contents, false),
            // OpenSSL's "trusted certificate" appends its trust settings.
            "TRUSTED CERTIFICATE" => read_certificate(contents, true),
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" if detail == Detail::Checked => {
                parse_csr(contents).and_then(|csr| {
                    let spki = csr.certification_request_info.subject_pki.raw;
                    // The CSR's parser skips what follows the key's BIT
                    // STRING within its SEQUENCE; the key's own parse (as
                    // `read_csr` makes it) refuses that.
                    parse_spki(spki)?;
                    Ok(PinInfo::of_digest(&Sha256::digest(spki).into(), Kind::Csr, String::new(), None))
                })
            }
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => read_csr(contents),
            "PUBLIC KEY" => read_spki(contents),
            "RSA PUBLIC KEY" => read_rsa_public(contents),
            "PRIVATE KEY" => read_private(crate::keys::PrivateForm::Pkcs8, contents),
            "RSA PRIVATE KEY" => read_private(crate::keys::PrivateForm::Pkcs1, contents),
            "EC PRIVATE KEY" => read_private(crate::keys::PrivateForm::Sec1, contents),
            "ENCRYPTED PRIVATE KEY" => Err(
                "the key is encrypted (PKCS#8); decrypt it first (openssl pkey -in FILE -out plain.pem) and pin that"
                    .to_string(),
            ),
            // `openssl ecparam -genkey` writes the curve before the key.
            "EC PARAMETERS" => return Ok(None),
            other => Err(format!("unsupported PEM block type '{other}'")),
        }?;
    Ok(Some(info))
}

/// The steps of the lazy DER walk of a certificate ([`tbs_parts`]). Its
/// errors are never shown: whatever the walk cannot read goes to the full
/// parse, whose error stands.
mod walk {
    use pkcs8::der::{Decode as _, Reader as _, SliceReader, Tag};

    pub(super) fn bad(e: pkcs8::der::Error) -> String {
        format!("not DER the walk reads: {e}")
    }

    /// The contents of the SEQUENCE that is the whole of `tlv`.
    pub(super) fn contents(tlv: &[u8]) -> Result<&[u8], String> {
        let mut r = SliceReader::new(tlv).map_err(bad)?;
        let header = pkcs8::der::Header::decode(&mut r).map_err(bad)?;
        if header.tag != Tag::Sequence {
            return Err("a SEQUENCE was expected".into());
        }
        let body = r.read_slice(header.length).map_err(bad)?;
        if !r.is_finished() {
            return Err("trailing data after the SEQUENCE".into());
        }
        Ok(body)
    }

    /// The next element, which must carry tag `want`. x509-parser reads
    /// other tags in places (an application [3] for a certificate's
    /// extensions, say): such input goes to it, lest a walk read it
    /// otherwise.
    pub(super) fn next<'a>(r: &mut SliceReader<'a>, want: u8) -> Result<&'a [u8], String> {
        let tag = r.peek_tag().map_err(bad)?;
        if tag.octet() != want {
            return Err(format!(
                "tag {:#04x} where {want:#04x} was expected",
                tag.octet()
            ));
        }
        r.tlv_bytes().map_err(bad)
    }
}

/// A certificate's pin without parsing the certificate: a lazy DER walk to
/// the subjectPublicKeyInfo (RFC 5280 section 4.1), whose bytes are hashed
/// as they stand, exactly what a full parse would hash.
/// The DER elements of a certificate's tbsCertificate (RFC 5280 section
/// 4.1), found by a lazy walk: issuer, validity, subject, SPKI and the
/// explicit extensions, each as its whole TLV.
struct TbsParts<'a> {
    issuer: &'a [u8],
    validity: &'a [u8],
    subject: &'a [u8],
    spki: &'a [u8],
    extensions: Option<&'a [u8]>,
}

fn tbs_parts(der: &[u8]) -> std::result::Result<TbsParts<'_>, String> {
    use pkcs8::der::{Reader as _, SliceReader};
    use walk::{bad, contents, next};
    let cert = contents(der)?;
    let mut top = SliceReader::new(cert).map_err(bad)?;
    let tbs = contents(top.tlv_bytes().map_err(bad)?)?;
    let mut r = SliceReader::new(tbs).map_err(bad)?;
    // [0] version is optional; then serial, signature, issuer, validity,
    // subject, subjectPublicKeyInfo, and optional [1], [2], [3] extensions,
    // in that order.
    if r.peek_tag().map_err(bad)?.octet() != 0x02 {
        next(&mut r, 0xa0)?;
    }
    next(&mut r, 0x02)?;
    next(&mut r, 0x30)?;
    let issuer = next(&mut r, 0x30)?;
    let validity = next(&mut r, 0x30)?;
    let subject = next(&mut r, 0x30)?;
    let spki = next(&mut r, 0x30)?;
    // x509-parser reads a key's SEQUENCE up to its BIT STRING, hashes
    // that much and then refuses it: a key holding more goes to it.
    let mut key = SliceReader::new(contents(spki)?).map_err(bad)?;
    next(&mut key, 0x30)?;
    next(&mut key, 0x03)?;
    if !key.is_finished() {
        return Err("data after the key's BIT STRING".into());
    }
    let mut extensions = None;
    for optional in [0x81, 0x82, 0xa3] {
        if r.is_finished() {
            break;
        }
        if r.peek_tag().map_err(bad)?.octet() == optional {
            let tlv = r.tlv_bytes().map_err(bad)?;
            if optional == 0xa3 {
                extensions = Some(tlv);
            }
        }
    }
    if !r.is_finished() {
        return Err("not a valid X.509 certificate: unexpected data after the extensions".into());
    }
    Ok(TbsParts {
        issuer,
        validity,
        subject,
        spki,
        extensions,
    })
}

fn certificate_pin(der: &[u8]) -> std::result::Result<PinInfo, String> {
    let spki = tbs_parts(der)?.spki;
    let digest: [u8; 32] = Sha256::digest(spki).into();
    Ok(PinInfo::of_digest(
        &digest,
        Kind::Certificate,
        String::new(),
        None,
    ))
}

/// What a full parse gives `pin --format text|json`, from the lazy walk.
fn certificate_summary(der: &[u8]) -> std::result::Result<PinInfo, String> {
    use x509_parser::certificate::Validity;
    let parts = tbs_parts(der)?;
    let (_, validity) =
        Validity::from_der(parts.validity).map_err(|e| format!("invalid validity: {e}"))?;
    let mut info = from_spki(parts.spki, Kind::Certificate)?;
    let subject = crate::dn::to_string(parts.subject)?;
    // A root names itself: its issuer is printed once.
    info.issuer = Some(if parts.issuer == parts.subject {
        subject.clone()
    } else {
        crate::dn::to_string(parts.issuer)?
    });
    info.subject = Some(subject);
    info.not_before = DateTime::from_timestamp(validity.not_before.timestamp(), 0);
    info.not_after = DateTime::from_timestamp(validity.not_after.timestamp(), 0);
    info.is_ca = Some(is_ca(parts.extensions)?);
    Ok(info)
}

/// basicConstraints' cA flag (RFC 5280 section 4.2.1.9); false without
/// the extension, as a full parse says. A repeated extension is refused so
/// that the full parse decides.
fn is_ca(extensions: Option<&[u8]>) -> std::result::Result<bool, String> {
    use pkcs8::der::{Decode as _, Reader as _, SliceReader};
    use x509_parser::extensions::{ParsedExtension, X509Extension};
    let Some(tlv) = extensions else {
        return Ok(false);
    };
    let bad = |e: pkcs8::der::Error| format!("invalid extensions: {e}");
    // [3] EXPLICIT Extensions ::= SEQUENCE OF Extension
    let mut r = SliceReader::new(tlv).map_err(bad)?;
    let outer = pkcs8::der::Header::decode(&mut r).map_err(bad)?;
    let seq_tlv = r.read_slice(outer.length).map_err(bad)?;
    let mut r = SliceReader::new(seq_tlv).map_err(bad)?;
    let seq = pkcs8::der::Header::decode(&mut r).map_err(bad)?;
    let list = r.read_slice(seq.length).map_err(bad)?;
    let mut r = SliceReader::new(list).map_err(bad)?;
    // Extension ::= SEQUENCE { extnID OID, ... }: only the one whose OID
    // is basicConstraints (2.5.29.19) is parsed. x509-parser knows an OID
    // by its content whatever its tag (a fuzzer found a certificate that
    // says so), and so does this walk.
    const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    let mut ca = None;
    while !r.is_finished() {
        let ext = r.tlv_bytes().map_err(bad)?;
        let mut inner = SliceReader::new(ext).map_err(bad)?;
        let h = pkcs8::der::Header::decode(&mut inner).map_err(bad)?;
        let body = inner.read_slice(h.length).map_err(bad)?;
        let (oid_tag, oid) = match body {
            [tag, n, rest @ ..] if *n < 0x80 && rest.len() >= usize::from(*n) => {
                (*tag, &rest[..usize::from(*n)])
            }
            // An extnID too odd for this walk: the full parse decides.
            _ => return Err("an unusual extension".into()),
        };
        if oid != BASIC_CONSTRAINTS {
            continue;
        }
        if ca.is_some() {
            return Err("basicConstraints appears twice".into());
        }
        if oid_tag == 0x06 {
            if let Some(flag) = basic_constraints_ca(&body[2 + BASIC_CONSTRAINTS.len()..]) {
                ca = Some(flag);
                continue;
            }
        }
        let (_, parsed) =
            X509Extension::from_der(ext).map_err(|e| format!("invalid extension: {e}"))?;
        ca = Some(match parsed.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => bc.ca,
            _ => return Err("invalid basicConstraints".into()),
        });
    }
    Ok(ca.unwrap_or(false))
}

/// The cA flag of a basicConstraints extension in the forms nearly every
/// certificate has, from what follows its extnID: critical absent or TRUE,
/// then the OCTET STRING of `SEQUENCE { cA TRUE?, pathLen 0..127? }`, every
/// length in one byte. None for any other form, which x509-parser then
/// reads (a property test holds this to its answers).
fn basic_constraints_ca(rest: &[u8]) -> Option<bool> {
    let rest = rest.strip_prefix(&[0x01, 0x01, 0xff]).unwrap_or(rest);
    let [0x04, n, value @ ..] = rest else {
        return None;
    };
    let [0x30, m, inner @ ..] = value else {
        return None;
    };
    if usize::from(*n) != value.len() || usize::from(*m) != inner.len() || *n >= 0x80 {
        return None;
    }
    let (ca, after) = match inner.strip_prefix(&[0x01, 0x01, 0xff]) {
        Some(after) => (true, after),
        None => (false, inner),
    };
    match after {
        [] => Some(ca),
        [0x02, 0x01, path_len] if *path_len < 0x80 => Some(ca),
        _ => None,
    }
}

/// Tries each DER form pinctl reads on an input that is exactly one object.
fn read_der_any(der: &[u8]) -> std::result::Result<PinInfo, String> {
    use pkcs8::der::Decode as _;
    if x509_parser::parse_x509_certificate(der).is_ok() {
        return read_certificate(der, false);
    }
    if x509_parser::certification_request::X509CertificationRequest::from_der(der).is_ok() {
        return read_csr(der);
    }
    if x509_parser::x509::SubjectPublicKeyInfo::from_der(der).is_ok() {
        return read_spki(der);
    }
    if pkcs8::PrivateKeyInfo::from_der(der).is_ok() {
        return read_private(crate::keys::PrivateForm::Pkcs8, der);
    }
    if pkcs8::EncryptedPrivateKeyInfo::from_der(der).is_ok() {
        return Err("the key is encrypted (PKCS#8); decrypt it first (openssl pkey -in FILE -out plain.der) and pin that".into());
    }
    if let Ok(info) = read_private(crate::keys::PrivateForm::Pkcs1, der) {
        return Ok(info);
    }
    if sec1::EcPrivateKey::from_der(der).is_ok() {
        return read_private(crate::keys::PrivateForm::Sec1, der);
    }
    if let Ok(info) = read_rsa_public(der) {
        return Ok(info);
    }
    Err("DER input is not a certificate, CSR, public key or private key".into())
}

fn read_certificate(der: &[u8], allow_trailing: bool) -> std::result::Result<PinInfo, String> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("not a valid X.509 certificate: {e}"))?;
    if !rest.is_empty() && !allow_trailing {
        return Err(format!(
            "{} bytes of trailing data after the certificate",
            rest.len()
        ));
    }
    let mut info = from_spki(cert.public_key().raw, Kind::Certificate)?;
    info.subject = Some(cert.subject().to_string());
    info.issuer = Some(cert.issuer().to_string());
    info.not_before = DateTime::from_timestamp(cert.validity().not_before.timestamp(), 0);
    info.not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0);
    info.is_ca = Some(cert.is_ca());
    Ok(info)
}

fn read_csr(der: &[u8]) -> std::result::Result<PinInfo, String> {
    let csr = parse_csr(der)?;
    let info_ = &csr.certification_request_info;
    let mut info = from_spki(info_.subject_pki.raw, Kind::Csr)?;
    info.subject = Some(info_.subject.to_string());
    Ok(info)
}

/// A CSR parsed in full, with nothing after it. Its key is not yet read
/// as [`from_spki`] reads it: within the CSR, what follows the key's BIT
/// STRING in its SEQUENCE is skipped, and `raw` ends before it.
fn parse_csr(
    der: &[u8],
) -> std::result::Result<x509_parser::certification_request::X509CertificationRequest<'_>, String> {
    let (rest, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(der)
        .map_err(|e| format!("not a valid PKCS#10 CSR: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes of trailing data after the CSR",
            rest.len()
        ));
    }
    Ok(csr)
}

fn read_spki(der: &[u8]) -> std::result::Result<PinInfo, String> {
    from_spki(der, Kind::PublicKey)
}

fn read_rsa_public(der: &[u8]) -> std::result::Result<PinInfo, String> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::EncodePublicKey as _;
    let key = rsa::RsaPublicKey::from_pkcs1_der(der)
        .map_err(|e| format!("not a valid PKCS#1 RSA public key: {e}"))?;
    let spki = key.to_public_key_der().map_err(|e| e.to_string())?;
    from_spki(spki.as_bytes(), Kind::PublicKey)
}

/// A private key's pin: the SPKI of its public half (`keys` owns reading
/// private keys).
fn read_private(
    form: crate::keys::PrivateForm,
    der: &[u8],
) -> std::result::Result<PinInfo, String> {
    from_spki(&crate::keys::public_spki(form, der)?, Kind::PrivateKey)
}

/// Builds a [`PinInfo`] from the SPKI bytes exactly as they stand.
fn from_spki(spki: &[u8], kind: Kind) -> std::result::Result<PinInfo, String> {
    let parsed = parse_spki(spki)?;
    let (algorithm, bits) = describe(&parsed);
    let digest = Sha256::digest(spki);
    Ok(PinInfo::of_digest(&digest.into(), kind, algorithm, bits))
}

/// `spki` parsed, with nothing after it: what [`from_spki`] refuses
/// before it describes the key.
fn parse_spki(
    spki: &[u8],
) -> std::result::Result<x509_parser::x509::SubjectPublicKeyInfo<'_>, String> {
    let (rest, parsed) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki)
        .map_err(|e| format!("not a valid SubjectPublicKeyInfo: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes of trailing data after the public key",
            rest.len()
        ));
    }
    Ok(parsed)
}

/// Algorithm name and key size of a parsed SPKI. Unknown algorithms are
/// named by their OID: their pin is still valid.
fn describe(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> (String, Option<u32>) {
    use x509_parser::oid_registry as reg;
    // Compared as OIDs, not as dotted text: printing them costs more than
    // the rest of a certificate's summary.
    let oid = &spki.algorithm.algorithm;
    if *oid == reg::OID_PKCS1_RSAENCRYPTION || *oid == reg::OID_PKCS1_RSASSAPSS {
        let bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(k)) => Some(bit_length(k.modulus)),
            _ => None,
        };
        return ("rsa".into(), bits);
    }
    if *oid == reg::OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        return match curve {
            Some(c) if c == reg::OID_EC_P256 => ("ecdsa-p256".into(), Some(256)),
            Some(c) if c == reg::OID_NIST_EC_P384 => ("ecdsa-p384".into(), Some(384)),
            Some(c) if c == reg::OID_NIST_EC_P521 => ("ecdsa-p521".into(), Some(521)),
            Some(other) => (format!("ec-{}", other.to_id_string()), None),
            None => ("ec".into(), None),
        };
    }
    if *oid == reg::OID_SIG_ED25519 {
        ("ed25519".into(), Some(256))
    } else if *oid == reg::OID_SIG_ED448 {
        ("ed448".into(), Some(456))
    } else if *oid == reg::OID_KEY_TYPE_DSA {
        // A DSA key's size is its modulus p, which only the parameters give.
        ("dsa".into(), None)
    } else {
        (oid.to_id_string(), None)
    }
}

fn bit_length(be: &[u8]) -> u32 {
    let trimmed: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => &be[i..],
        None => return 0,
    };
    (trimmed.len() as u32 - 1) * 8 + (8 - trimmed[0].leading_zeros())
}

/// Length of the DER TLV at the start of `data` (header included).
fn der_length(data: &[u8]) -> Option<usize> {
    let first = *data.get(1)?;
    if first < 0x80 {
        return Some(2 + first as usize);
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 8 {
        return None;
    }
    let bytes = data.get(2..2 + n)?;
    let len = bytes.iter().try_fold(0usize, |acc, &b| {
        acc.checked_mul(256)?.checked_add(b as usize)
    })?;
    len.checked_add(2 + n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn a_generated_keys_pin_is_what_reading_its_pem_gives() {
        for t in [crate::keys::KeyType::P256, crate::keys::KeyType::P384] {
            let k = crate::keys::PrivateKey::generate(t).unwrap();
            let via_pin = read_pins("x", k.pkcs8_pem().as_bytes()).unwrap();
            assert_eq!(via_pin[0].pin, k.pin().unwrap());
        }
    }
    use proptest::prelude::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 0x80 {
            v.push(content.len() as u8);
        } else {
            v.extend([0x81, content.len() as u8]);
        }
        v.extend_from_slice(content);
        v
    }

    /// Pieces a basicConstraints extension is made of, well formed or not.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(vec![]),
            Just(vec![0x01, 0x01, 0xff]),
            Just(vec![0x01, 0x01, 0x00]),
            Just(vec![0x01, 0x01, 0x01]),
            Just(vec![0x01, 0x02, 0xff, 0x00]),
            (0u8..=255).prop_map(|n| vec![0x02, 0x01, n]),
            Just(vec![0x02, 0x02, 0x00, 0x80]),
            Just(vec![0x02, 0x00]),
            prop::collection::vec(any::<u8>(), 0..4),
        ]
    }

    /// Pieces of PEM text: whole blocks of every kind, broken ones, and
    /// the lines and fragments a cut could fall between.
    fn pem_piece() -> impl Strategy<Value = Vec<u8>> {
        let f = |b: &'static [u8]| Just(b.to_vec());
        prop_oneof![
            f(include_bytes!("../../../tests/fixtures/p256.cert.pem")),
            f(include_bytes!("../../../tests/fixtures/ed25519.cert.pem")),
            f(include_bytes!("../../../tests/fixtures/rsa2048.csr.pem")),
            f(include_bytes!("../../../tests/fixtures/p256.pkcs8.pem")),
            f(include_bytes!(
                "../../../tests/fixtures/p384.sec1-with-params.pem"
            )),
            f(include_bytes!(
                "../../../tests/fixtures/fail_legacy_encrypted.pem"
            )),
            f(include_bytes!("../../../tests/fixtures/fail_pkcs7.pem")),
            f(b"-----BEGIN CERTIFICATE-----\n"),
            f(b"-----END CERTIFICATE-----\n"),
            f(b"-----BEGIN CERTIFICATE-----"),
            f(b"-----END PUBLIC KEY-----"),
            f(b"-----BEGIN X"),
            f(b"-----END CERTIFICATE"),
            f(b"-----BEGIN X-----\nAAAA\n-----END X-----\n"),
            f(b"MIIBszCCAVmgAwIBAgIUJ\n"),
            f(b"AA ==\n"),
            f(b"text between blocks\n"),
            f(b"--"),
            f(b"-"),
            f(b"\n"),
            f(b"\r\n"),
            f(b" "),
        ]
    }

    /// The DER of every CSR the tests have, and of one pinctl makes for
    /// each key type it makes (made once).
    fn csr_ders() -> &'static [Vec<u8>] {
        static DERS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        DERS.get_or_init(|| {
            let mut pems: Vec<String> = [
                include_str!("../../../tests/fixtures/rsa2048.csr.pem"),
                include_str!("../../../tests/fixtures/p256.csr.pem"),
                include_str!("../../../tests/fixtures/p521.csr.pem"),
                include_str!("../../../tests/fixtures/ed25519.csr.pem"),
            ]
            .map(str::to_string)
            .to_vec();
            for t in [crate::keys::KeyType::P256, crate::keys::KeyType::P384] {
                let key = crate::keys::PrivateKey::generate(t).unwrap();
                pems.push(
                    crate::csr::make_csr(&key, "csr.example", &["www.csr.example".into()]).unwrap(),
                );
            }
            pems.iter()
                .map(|p| {
                    let body: String = p.lines().filter(|l| !l.starts_with("-----")).collect();
                    base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .unwrap()
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn a_damaged_csrs_pin_alone_is_what_the_full_parse_says(
            which in 0usize..6,
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<bool>(),
        ) {
            // The store asks a stored CSR for its pin only: the pin, or
            // the error, must be the full parse's.
            let mut der = csr_ders()[which].clone();
            let i = at.index(der.len());
            if cut { der.truncate(i) } else { der[i] = byte }
            let pem = csr_pem(&der);
            let full = outcome(read_pins_with("in", pem.as_bytes(), Detail::Full));
            prop_assert_eq!(
                &outcome(read_pins_with("in", pem.as_bytes(), Detail::PinOnly)),
                &full
            );
            prop_assert_eq!(
                &outcome(read_pins_with("in", pem.as_bytes(), Detail::Checked)),
                &full
            );
        }
    }

    /// A pin read as `Pin` was before it was held in place: a `String`,
    /// then [`Pin::parse`]d (`try_from = "String"`).
    #[derive(Debug, serde::Deserialize)]
    #[serde(try_from = "String")]
    struct StringPin(#[allow(dead_code)] Pin);

    impl TryFrom<String> for StringPin {
        type Error = String;
        fn try_from(v: String) -> std::result::Result<StringPin, String> {
            Pin::parse(&v).map(StringPin)
        }
    }

    #[derive(Debug, serde::Deserialize)]
    struct Keys<P> {
        #[allow(dead_code)]
        keys: Vec<Key<P>>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Key<P> {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        pin: P,
    }

    #[test]
    fn a_bad_pins_error_is_the_one_reading_a_string_gave() {
        // A damaged site.yaml is refused with the error it always had: the
        // same words, path and position (the general parser's).
        let good = Pin::from_digest(&[7; 32]).to_string();
        for pin in [
            "\"XrSVpN5TrR4/CS0TDZLoPv7lHugI3X3HYw+WDmepMbHg=\"".to_string(),
            format!("{}A", good),
            "AAAA".to_string(),
            "12".to_string(),
            "~".to_string(),
            "[1]".to_string(),
        ] {
            let text = format!("keys:\n- name: a\n  pin: {good}\n- name: b\n  pin: {pin}\n");
            let old = serde_yaml::from_str::<Keys<StringPin>>(&text).map(|_| ());
            let new = serde_yaml::from_str::<Keys<Pin>>(&text).map(|_| ());
            assert_eq!(
                new.map_err(|e| e.to_string()),
                old.map_err(|e| e.to_string()),
                "{text}"
            );
            let json = format!("[\"{good}\", {}]", serde_json::to_string(&pin).unwrap());
            for json in [json, format!("[{pin}]")] {
                let old = serde_json::from_str::<Vec<StringPin>>(&json).map(|_| ());
                let new = serde_json::from_str::<Vec<Pin>>(&json).map(|_| ());
                assert_eq!(
                    new.map_err(|e| e.to_string()),
                    old.map_err(|e| e.to_string()),
                    "{json}"
                );
            }
        }
    }

    /// `der` as a PEM CSR.
    fn csr_pem(der: &[u8]) -> String {
        let b = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b
            .as_bytes()
            .chunks(64)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            lines.join("\n")
        )
    }

    /// Where the contents of the DER element at `at` start.
    fn contents_at(der: &[u8], at: usize) -> usize {
        match der[at + 1] {
            n if n < 0x80 => at + 2,
            n => at + 2 + usize::from(n & 0x7f),
        }
    }

    /// A CSR's version made negative (the full parse refuses it), its
    /// SubjectPublicKeyInfo's algorithm made a SET, and its key's BIT
    /// STRING made a byte shorter than the SEQUENCE around it says (the
    /// CSR parser skips what is left in the SEQUENCE; the key's own parse
    /// refuses it): what a damaged or tampered stored CSR may hold.
    fn damaged_csrs(der: &[u8]) -> [Vec<u8>; 3] {
        let info = contents_at(der, 0);
        let version = contents_at(der, info);
        assert_eq!(&der[version..version + 3], [0x02, 0x01, 0x00]);
        let mut bad_version = der.to_vec();
        bad_version[version + 2] = 0xff;
        let subject = version + 3;
        let subject_len = match der[subject + 1] {
            n if n < 0x80 => usize::from(n),
            0x81 => usize::from(der[subject + 2]),
            _ => usize::from(der[subject + 2]) << 8 | usize::from(der[subject + 3]),
        };
        let spki = contents_at(der, subject) + subject_len;
        assert_eq!(der[spki], 0x30);
        let algorithm = contents_at(der, spki);
        assert_eq!(der[algorithm], 0x30);
        let mut bad_spki = der.to_vec();
        bad_spki[algorithm] = 0x31;
        assert!(der[algorithm + 1] < 0x80);
        let bits = contents_at(der, algorithm) + usize::from(der[algorithm + 1]);
        assert_eq!(der[bits], 0x03);
        // The last byte of the length, short or long form.
        let len_end = contents_at(der, bits) - 1;
        let mut short_key = der.to_vec();
        short_key[len_end] -= 1;
        [bad_version, bad_spki, short_key]
    }

    #[test]
    fn a_stored_csrs_pin_is_refused_as_the_full_parse_refuses_it() {
        // The store reads a CSR's pin only (Detail::Checked): a damaged or
        // tampered CSR must give the error it gave before, not a pin.
        for der in csr_ders() {
            for bad in damaged_csrs(der) {
                let pem = csr_pem(&bad);
                let full = outcome(read_pins_with("in", pem.as_bytes(), Detail::Full));
                assert!(full.is_err(), "{full:?}");
                let pin_only = outcome(read_pins_with("in", pem.as_bytes(), Detail::PinOnly));
                assert_eq!(pin_only, full);
                let checked = outcome(read_pins_with("in", pem.as_bytes(), Detail::Checked));
                assert_eq!(checked, full);
            }
        }
    }

    #[test]
    fn a_certificates_key_cut_short_is_refused_by_the_walks_as_by_the_full_parse() {
        // Its key's BIT STRING a byte shorter than the key's SEQUENCE
        // says: the full parse refuses the key; the lazy walks of
        // `pin --format text|json|header` must not pin it.
        for pem in [
            include_str!("../../../tests/fixtures/p256.cert.pem"),
            include_str!("../../../tests/fixtures/ed25519.cert.pem"),
        ] {
            let body: String = pem
                .lines()
                .skip_while(|l| !l.starts_with("-----BEGIN"))
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .collect();
            let mut der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap();
            let spki = tbs_parts(&der).unwrap().spki.as_ptr() as usize - der.as_ptr() as usize;
            let algorithm = contents_at(&der, spki);
            assert!(der[algorithm + 1] < 0x80);
            let bits = contents_at(&der, algorithm) + usize::from(der[algorithm + 1]);
            assert_eq!(der[bits], 0x03);
            let len_end = contents_at(&der, bits) - 1;
            der[len_end] -= 1;
            let b = base64::engine::general_purpose::STANDARD.encode(&der);
            let pem = format!("-----BEGIN CERTIFICATE-----\n{b}\n-----END CERTIFICATE-----\n");
            let full = outcome(read_pins_with("in", pem.as_bytes(), Detail::Full));
            assert!(full.is_err(), "{full:?}");
            for detail in [Detail::PinOnly, Detail::Summary, Detail::Checked] {
                let walk = outcome(read_pins_with("in", pem.as_bytes(), detail));
                assert_eq!(walk, full, "{detail:?}");
            }
        }
    }

    fn outcome(r: Result<Vec<PinInfo>>) -> std::result::Result<Vec<(String, Kind)>, String> {
        r.map(|v| v.into_iter().map(|i| (i.pin.to_string(), i.kind)).collect())
            .map_err(|e| e.to_string())
    }

    /// Bytes in memory, read a chunk at a time as a file would be.
    struct Mem<'a>(&'a [u8]);

    impl Chunks for Mem<'_> {
        fn read_chunk(&mut self, buf: &mut zeroize::Zeroizing<Vec<u8>>, n: usize) -> Result<usize> {
            let k = n.min(self.0.len());
            crate::wipe::reserve_wiped(buf, k);
            buf.extend_from_slice(&self.0[..k]);
            self.0 = &self.0[k..];
            Ok(k)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]
        /// A text read in parts on several cores, or a chunk at a time as
        /// it comes in, gives what one scan of the whole gives: the same
        /// pins in the same order, or the same error.
        #[test]
        fn parts_and_chunks_read_as_the_whole_reads(
            pieces in prop::collection::vec(pem_piece(), 1..12),
            parts in 2usize..5,
            chunk in 1usize..400,
        ) {
            let data = pieces.concat();
            let whole = outcome(read_pem_in("in", &data, Detail::Summary, 1));
            prop_assert_eq!(
                &outcome(read_pem_in("in", &data, Detail::Summary, parts)),
                &whole
            );
            // pinctl-store's file reader is tested on files there.
            match read_pem_stream("in", Mem(&data), Detail::Summary, chunk) {
                Ok(Some(pins)) => prop_assert_eq!(outcome(Ok(pins)), whole),
                Err(e) => prop_assert_eq!(Err(e.to_string()), whole),
                // Not PEM in its first chunk: read whole by the caller.
                Ok(None) => prop_assert!(!crate::pem_scan::is_pem(&data[..chunk.min(data.len())])),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// The quick check of a pin's spelling accepts exactly what
        /// decoding and encoding again accepts.
        #[test]
        fn quick_pin_check_agrees_with_decoding(
            digest in prop::array::uniform32(any::<u8>()),
            at in 0usize..44,
            with in prop::sample::select(b"AQgh+/=0a-_ .".to_vec()),
            noise in "[A-Za-z0-9+/=]{40,46}",
        ) {
            let good = Pin::from_digest(&digest).as_str().to_string();
            let mut edited = good.clone().into_bytes();
            edited[at] = with;
            let edited = String::from_utf8(edited).unwrap();
            for v in [good, edited, noise] {
                prop_assert_eq!(value::is_canonical_pin(&v), Pin::parse_decoding(&v).is_ok(), "{}", v);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Whatever the quick read of basicConstraints says, x509-parser
        /// says too.
        #[test]
        fn basic_constraints_read_as_x509_parser_reads_them(
            critical in piece(),
            ca in piece(),
            path_len in piece(),
            trailing in piece(),
            octet_tag in prop_oneof![Just(0x04u8), Just(0x03)],
        ) {
            use x509_parser::extensions::{ParsedExtension, X509Extension};
            use x509_parser::prelude::FromDer as _;
            let constraints = tlv(0x30, &[ca, path_len].concat());
            let mut body = vec![0x06, 0x03, 0x55, 0x1d, 0x13];
            body.extend(&critical);
            body.extend(tlv(octet_tag, &[constraints, trailing].concat()));
            let ext = tlv(0x30, &body);
            if let Some(fast) = basic_constraints_ca(&body[5..]) {
                let (rest, parsed) = X509Extension::from_der(&ext).expect("x509-parser reads it");
                prop_assert!(rest.is_empty());
                match parsed.parsed_extension() {
                    ParsedExtension::BasicConstraints(bc) => prop_assert_eq!(bc.ca, fast),
                    other => prop_assert!(false, "x509-parser reads {:?}", other),
                }
            }
        }
    }

    #[test]
    fn empty_spki_digest_is_the_known_empty_pin() {
        assert_eq!(spki_pin(b""), EMPTY_INPUT_PIN);
    }

    #[test]
    fn der_length_reads_long_forms_and_rejects_overflow() {
        assert_eq!(der_length(&[0x30, 0x03, 1, 2, 3]), Some(5));
        assert_eq!(der_length(&[0x30, 0x82, 0x01, 0x00]), Some(260));
        assert_eq!(der_length(&[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]), None);
        assert_eq!(der_length(&[0x30]), None);
    }

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[0x00]), 0);
    }

    #[test]
    fn garbage_is_neither_pem_nor_der() {
        let e = read_pins("x", b"hello").unwrap_err().to_string();
        assert!(e.contains("neither PEM nor DER"), "{e}");
    }

    #[test]
    fn truncated_pem_is_an_error() {
        let e = read_pins("x", b"-----BEGIN CERTIFICATE-----\nMIIB\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
    }
}
