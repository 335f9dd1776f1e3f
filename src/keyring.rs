//! A site's keys as files: making keys (with a spinner on a terminal),
//! their CSRs and sealed archives, opening an archive again and checking
//! it holds the recorded key, and reading a certificate issued for one of
//! them. Commands decide when; the state records what.

use std::io::IsTerminal as _;
use std::io::Write as _;
use std::path::Path;

use crate::archive::{self, Protection};
use crate::csr;
use crate::error::{Error, Result};
use crate::keys::{self, KeyType, PrivateKey};
use crate::state::{self, Cert, Encryption, Key, Method, Role, Site};

/// How the site's archives are protected, from the state and the user.
pub fn protection(
    passphrase_file: Option<&Path>,
    enc: &Encryption,
    confirm: bool,
) -> Result<Protection> {
    match enc.method {
        Method::Recipients => Ok(Protection::Recipients(enc.recipients.clone())),
        Method::Passphrase => Ok(Protection::Passphrase(crate::secret::passphrase(
            passphrase_file,
            confirm,
        )?)),
    }
}

/// A new key with its files, ready to be written.
pub struct NewKey {
    pub key: Key,
    pub files: Vec<(String, Vec<u8>, bool)>,
}

/// Makes the CSR and archive of each key (archives in parallel: scrypt
/// takes most of a second each).
pub fn package_keys(
    site_domain: &str,
    sans: &[String],
    named: Vec<(String, Role, PrivateKey)>,
    protection: &Protection,
    armor: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<NewKey>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = named
            .iter()
            .map(|(name, role, key)| {
                s.spawn(move || -> Result<NewKey> {
                    let pin = key.pin()?;
                    let csr_pem = csr::make_csr(key, site_domain, sans)?;
                    let sealed = archive::encrypt(key.pkcs8_pem().as_bytes(), protection, armor)?;
                    let archive_name = format!("{name}.key.age");
                    let csr_name = format!("{name}.csr.pem");
                    Ok(NewKey {
                        key: Key {
                            name: name.clone(),
                            role: *role,
                            key_type: key.key_type(),
                            pin,
                            created: now,
                            role_since: now,
                            archive: archive_name.clone(),
                            archive_sha256: state::sha256_hex(&sealed),
                            csr: csr_name.clone(),
                            copies: vec![],
                            sealed_to: Some(match protection {
                                Protection::Recipients(r) => r.clone(),
                                Protection::Passphrase(_) => vec![],
                            }),
                            destroyed: None,
                        },
                        files: vec![
                            (csr_name, csr_pem.into_bytes(), false),
                            (archive_name, sealed, true),
                        ],
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Error::Internal("the archive thread failed".into()))?
            })
            .collect()
    })
}

/// Generates keys, with a spinner on a terminal while RSA keys are made.
pub fn generate_with_progress(types: &[KeyType]) -> Result<Vec<PrivateKey>> {
    // Only for a person at a terminal: scripts and logs get nothing.
    let show = types.iter().any(|t| t.is_rsa())
        && std::io::stderr().is_terminal()
        && std::io::stdout().is_terminal();
    if !show {
        return keys::generate_all(types);
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let frames = ['|', '/', '-', '\\'];
            let mut i = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                eprint!("\rmaking {} keys {}", types.len(), frames[i % 4]);
                let _ = std::io::stderr().flush();
                i += 1;
                std::thread::sleep(std::time::Duration::from_millis(120));
            }
            eprint!("\r\x1b[K");
        });
        let r = keys::generate_all(types);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    })
}

/// A certificate read for the state: the record, the bytes to store, and
/// what the operator must be told about its chain.
pub struct ReadCert {
    pub cert: Cert,
    pub data: Vec<u8>,
    pub warnings: Vec<String>,
}

/// Reads a certificate (or chain, leaf first) issued for one of `site`'s
/// keys, and judges which CA key of the chain earns credit (only a
/// verified direct issuer; see `chain::credit`).
pub fn read_cert(
    site: &Site,
    path: &Path,
    file_name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ReadCert> {
    let label = path.display().to_string();
    let infos = crate::pin::pins_of_file(path)?;
    if infos
        .iter()
        .any(|i| i.kind != crate::pin::Kind::Certificate)
    {
        return Err(Error::input(
            &label,
            "expected certificates only (leaf first, then its CA certificates)",
        ));
    }
    let leaf = &infos[0];
    let key = site
        .keys
        .iter()
        .find(|k| k.pin == leaf.pin)
        .ok_or_else(|| {
            Error::input(
                &label,
                format!(
                    "the certificate's key (pin {}) is not one of {}'s keys",
                    leaf.pin, site.domain
                ),
            )
        })?;
    let data = crate::fsutil::read_input(path)?.to_vec();
    let links = crate::chain::links(&label, &data)?;
    let names = links.first().map(|l| l.names.clone()).unwrap_or_default();
    let credit = crate::chain::credit(&links);
    let mut warnings = credit.warnings;
    for c in &site.ca_pins {
        if credit.ca_pins.contains(&c.pin) && credit.issuer.as_ref() != Some(&c.pin) {
            warnings.push(format!(
                "ca-pin {} is in this file but is not the leaf's verified direct issuer: it does not make pinsets accept {}",
                c.name, key.name
            ));
        }
    }
    let cert = Cert {
        key: key.name.clone(),
        file: file_name.to_string(),
        subject: leaf.subject.clone().unwrap_or_default(),
        not_before: leaf.not_before.unwrap_or(now),
        not_after: leaf.not_after.unwrap_or(now),
        chain_pins: credit.ca_pins,
        issuer_pin: credit.issuer,
        names,
        added: now,
    };
    Ok(ReadCert {
        cert,
        data,
        warnings,
    })
}

/// Decrypts a key's archive (from the state folder or a copy) and checks
/// that it holds the key the state records. `passphrase` is the one the
/// command already read, if any: a command asks for a secret once.
pub fn open_archive(
    passphrase_file: Option<&Path>,
    site: &Site,
    key: &Key,
    path: &Path,
    identity: Option<&Path>,
    passphrase: Option<&Protection>,
) -> Result<PrivateKey> {
    let label = path.display().to_string();
    let data = crate::fsutil::read_capped(path, archive::MAX_ARCHIVE)?;
    let plain = match site.encryption.method {
        Method::Passphrase => {
            let read;
            let p = match passphrase {
                Some(Protection::Passphrase(p)) => p,
                _ => {
                    read = crate::secret::passphrase(passphrase_file, false)?;
                    &read
                }
            };
            archive::decrypt(&label, &data, archive::Key::Passphrase(p))?
        }
        Method::Recipients => {
            let idp = identity.ok_or_else(|| {
                Error::Usage(format!(
                    "{}'s archives are encrypted to recipients: pass --identity FILE (an age identity file)",
                    site.domain
                ))
            })?;
            let text = crate::fsutil::read_input(idp)?;
            let text = std::str::from_utf8(&text)
                .map_err(|_| Error::input(idp.display().to_string(), "not an age identity file"))?;
            let ids = archive::read_identity_file(&idp.display().to_string(), text)?;
            archive::decrypt(&label, &data, archive::Key::Identities(&ids))?
        }
    };
    let k = PrivateKey::from_bytes(&label, &plain)?;
    if k.pin()? != key.pin {
        return Err(Error::input(
            label,
            format!(
                "the archive holds a different key than the state records for {}",
                key.name
            ),
        ));
    }
    Ok(k)
}
