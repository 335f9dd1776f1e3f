//! age archives of private keys: encryption to recipients (X25519, SSH) or
//! to a passphrase (scrypt, work factor 18 as the age CLI uses), and
//! decryption with a passphrase or identity file. Where the passphrase comes
//! from is `secret`'s business.

use std::io::Write as _;
use std::str::FromStr as _;

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The age CLI's scrypt work factor. The crate would otherwise calibrate to
/// the machine (and a debug build calibrates far lower): a weak archive.
pub const SCRYPT_WORK_FACTOR: u8 = 18;

/// How archives are protected.
/// The largest archive pinctl reads: an armored RSA-4096 key sealed to
/// many recipients is a few tens of KiB.
pub const MAX_ARCHIVE: u64 = 1 << 20;

pub enum Protection {
    Passphrase(SecretString),
    Recipients(Vec<String>),
}

/// Parses one recipient string (`age1…`, `ssh-ed25519 …`, `ssh-rsa …`).
pub fn parse_recipient(s: &str) -> Result<Box<dyn age::Recipient + Send>> {
    let s = s.trim();
    if s.starts_with("age1") {
        return age::x25519::Recipient::from_str(s)
            .map(|r| Box::new(r) as _)
            .map_err(|e| Error::Usage(format!("invalid age recipient '{s}': {e}")));
    }
    if s.starts_with("ssh-") {
        return age::ssh::Recipient::from_str(s)
            .map(|r| Box::new(r) as _)
            .map_err(|_| Error::Usage(format!("invalid SSH recipient '{}'", short(s))));
    }
    Err(Error::Usage(format!(
        "invalid recipient '{}': expected an age1… X25519 key, ssh-ed25519 or ssh-rsa",
        short(s)
    )))
}

fn short(s: &str) -> String {
    let mut t: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        t.push('…');
    }
    t
}

/// Reads an age recipients file: one recipient per line, `#` comments.
pub fn read_recipients_file(label: &str, text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        parse_recipient(line).map_err(|e| Error::input(label, format!("line {}: {e}", n + 1)))?;
        out.push(line.to_string());
    }
    if out.is_empty() {
        return Err(Error::input(label, "no recipients in the file"));
    }
    Ok(out)
}

/// Encrypts `plain` into an age file (ASCII-armored with `armor`).
pub fn encrypt(plain: &[u8], protection: &Protection, armor: bool) -> Result<Vec<u8>> {
    let fail = |e: String| Error::Crypto(format!("age encryption failed: {e}"));
    let encryptor = match protection {
        Protection::Passphrase(p) => {
            let mut r = age::scrypt::Recipient::new(p.clone());
            r.set_work_factor(SCRYPT_WORK_FACTOR);
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .map_err(|e| fail(e.to_string()))?
        }
        Protection::Recipients(list) => {
            let parsed = list
                .iter()
                .map(|s| parse_recipient(s))
                .collect::<Result<Vec<_>>>()?;
            age::Encryptor::with_recipients(
                parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient),
            )
            .map_err(|e| fail(e.to_string()))?
        }
    };
    let format = if armor {
        age::armor::Format::AsciiArmor
    } else {
        age::armor::Format::Binary
    };
    let mut out = Vec::new();
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, format)
        .map_err(|e| fail(e.to_string()))?;
    let mut w = encryptor
        .wrap_output(armored)
        .map_err(|e| fail(e.to_string()))?;
    w.write_all(plain).map_err(|e| fail(e.to_string()))?;
    w.finish()
        .and_then(|a| a.finish())
        .map_err(|e| fail(e.to_string()))?;
    Ok(out)
}

/// What can open an archive.
pub enum Key<'a> {
    Passphrase(&'a SecretString),
    Identities(&'a [Box<dyn age::Identity + Send + Sync>]),
}

/// Reads an age identity file (as written by `age-keygen`).
pub fn read_identity_file(
    label: &str,
    text: &str,
) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>> {
    let file = age::IdentityFile::from_buffer(text.as_bytes())
        .map_err(|e| Error::input(label, format!("not an age identity file: {e}")))?;
    let ids = file
        .into_identities()
        .map_err(|e| Error::input(label, format!("not an age identity file: {e}")))?;
    if ids.is_empty() {
        return Err(Error::input(label, "no identities in the file"));
    }
    Ok(ids)
}

/// Decrypts an age file (binary or armored). `label` names it in errors.
pub fn decrypt(label: &str, data: &[u8], key: Key<'_>) -> Result<Zeroizing<Vec<u8>>> {
    let err = |m: String| Error::input(label, m);
    let reader = age::armor::ArmoredReader::new(data);
    let decryptor =
        age::Decryptor::new(reader).map_err(|e| err(format!("not a readable age archive: {e}")))?;
    // age's ciphertext is longer than its plaintext: sized up front, the
    // buffer never grows, so no reallocation leaves an unwiped copy.
    let mut plain = Zeroizing::new(Vec::with_capacity(data.len()));
    let result = match key {
        Key::Passphrase(p) => {
            if !decryptor.is_scrypt() {
                return Err(err("the archive is encrypted to recipients, not a passphrase; pass --identity FILE".into()));
            }
            let mut id = age::scrypt::Identity::new(p.clone());
            id.set_max_work_factor(22);
            decryptor
                .decrypt(std::iter::once(&id as &dyn age::Identity))
                .map_err(|e| describe(label, e, true))
                .map(|mut r| crate::fsutil::read_to_end_wiped(&mut r, &mut plain))?
        }
        Key::Identities(ids) => {
            if decryptor.is_scrypt() {
                return Err(err("the archive is encrypted to a passphrase; set PINCTL_PASSPHRASE or use --passphrase-file".into()));
            }
            decryptor
                .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
                .map_err(|e| describe(label, e, false))
                .map(|mut r| crate::fsutil::read_to_end_wiped(&mut r, &mut plain))?
        }
    };
    result.map_err(|e| err(format!("the archive is damaged or was tampered with ({e})")))?;
    Ok(plain)
}

fn describe(label: &str, e: age::DecryptError, passphrase: bool) -> Error {
    let m = match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed
            if passphrase =>
        {
            return Error::WrongPassphrase {
                path: label.to_string(),
            };
        }
        age::DecryptError::InvalidMac => "the archive's header was tampered with".to_string(),
        age::DecryptError::NoMatchingKeys => {
            "none of the identities opens this archive".to_string()
        }
        age::DecryptError::DecryptionFailed => {
            "decryption failed: wrong identity, or the archive was tampered with".to_string()
        }
        other => format!("cannot decrypt: {other}"),
    };
    Error::input(label, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_round_trip_and_tamper_is_detected() {
        let id = age::x25519::Identity::generate();
        let rec = id.to_public().to_string();
        let prot = Protection::Recipients(vec![rec]);
        for armor in [false, true] {
            let ct = encrypt(b"secret key", &prot, armor).unwrap();
            let ids: Vec<Box<dyn age::Identity + Send + Sync>> = vec![Box::new(id.clone())];
            let pt = decrypt("a", &ct, Key::Identities(&ids)).unwrap();
            assert_eq!(&pt[..], b"secret key");
            // Sized up front and never grown: a reallocation would leave
            // an unwiped copy of the key behind.
            assert_eq!(pt.capacity(), ct.len());
            let mut bad = ct.clone();
            let n = bad.len() - 5;
            bad[n] ^= 1;
            assert!(decrypt("a", &bad, Key::Identities(&ids)).is_err());
        }
    }

    #[test]
    fn bad_recipients_are_refused() {
        assert!(parse_recipient("age1notreally").is_err());
        assert!(parse_recipient("hello").is_err());
        assert!(read_recipients_file("f", "# only a comment\n").is_err());
    }
}
