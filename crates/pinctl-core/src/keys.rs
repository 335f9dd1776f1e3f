//! Private keys: generating them (RSA with `rsa`, EC with `p256`/`p384`),
//! reading keys a user brings (`import`), and their public halves. Key bytes
//! live only in [`PrivateKey`], which wipes them on drop and prints nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The key types pinctl makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    P256,
    P384,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyType {
    pub const ALL: [KeyType; 5] = [
        KeyType::P256,
        KeyType::P384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::P256 => "p256",
            KeyType::P384 => "p384",
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Rsa4096 => "rsa4096",
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        KeyType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unknown key type '{s}' (expected p256, p384, rsa2048, rsa3072 or rsa4096)"
                ))
            })
    }
}

/// A private key as PKCS#8 DER. No `Debug`, no `Display`: the bytes leave
/// only through [`PrivateKey::pkcs8_der`] and [`PrivateKey::pkcs8_pem`].
pub struct PrivateKey {
    key_type: KeyType,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl PrivateKey {
    /// Makes a new key from the operating system's random source.
    pub fn generate(key_type: KeyType) -> Result<Self> {
        use pkcs8::EncodePrivateKey as _;
        let mut rng = rand_core::OsRng;
        let doc = match key_type {
            KeyType::P256 => p256::SecretKey::random(&mut rng).to_pkcs8_der(),
            KeyType::P384 => p384::SecretKey::random(&mut rng).to_pkcs8_der(),
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                let bits = match key_type {
                    KeyType::Rsa2048 => 2048,
                    KeyType::Rsa3072 => 3072,
                    _ => 4096,
                };
                let key = rsa::RsaPrivateKey::new(&mut rng, bits)
                    .map_err(|e| Error::Crypto(format!("RSA key generation failed: {e}")))?;
                key.to_pkcs8_der()
            }
        }
        .map_err(|e| Error::Crypto(format!("cannot encode the new key: {e}")))?;
        Ok(PrivateKey {
            key_type,
            pkcs8: Zeroizing::new(doc.as_bytes().to_vec()),
        })
    }

    /// Reads a private key in any PEM or DER form `pinctl pin` reads
    /// (PKCS#8, PKCS#1, SEC1), for the types pinctl can sign CSRs with.
    pub fn from_bytes(label: &str, data: &[u8]) -> Result<Self> {
        use pkcs8::der::Decode as _;
        use pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        let err = |m: String| Error::input(label, m);
        let (tag, der): (String, Zeroizing<Vec<u8>>) =
            if data.starts_with(b"-----BEGIN") || data.windows(11).any(|w| w == b"-----BEGIN ") {
                let mut keys = private_key_blocks(data).map_err(err)?;
                if keys.len() != 1 {
                    return Err(err(format!(
                        "expected exactly one private key, found {}",
                        keys.len()
                    )));
                }
                keys.remove(0)
            } else {
                (String::new(), Zeroizing::new(data.to_vec()))
            };
        if tag.contains("ENCRYPTED") {
            return Err(err(
                "the key is encrypted; decrypt it first (openssl pkey -in FILE -out plain.pem)"
                    .into(),
            ));
        }
        let enc = |r: std::result::Result<pkcs8::SecretDocument, pkcs8::Error>| {
            r.map(|d| Zeroizing::new(d.as_bytes().to_vec()))
                .map_err(|e| err(format!("cannot re-encode the key: {e}")))
        };
        // PKCS#8 first, then the traditional forms.
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(&der) {
            return Ok(PrivateKey {
                key_type: KeyType::P256,
                pkcs8: enc(k.to_pkcs8_der())?,
            });
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(&der) {
            return Ok(PrivateKey {
                key_type: KeyType::P384,
                pkcs8: enc(k.to_pkcs8_der())?,
            });
        }
        let rsa_key = rsa::RsaPrivateKey::from_pkcs8_der(&der)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_der(&der))
            .ok();
        if let Some(k) = rsa_key {
            let key_type = match rsa::traits::PublicKeyParts::size(&k) * 8 {
                2048 => KeyType::Rsa2048,
                3072 => KeyType::Rsa3072,
                4096 => KeyType::Rsa4096,
                n => {
                    return Err(err(format!(
                        "RSA key of {n} bits: pinctl manages 2048, 3072 and 4096"
                    )))
                }
            };
            return Ok(PrivateKey {
                key_type,
                pkcs8: enc(k.to_pkcs8_der())?,
            });
        }
        if let Ok(k) = p256::SecretKey::from_sec1_der(&der) {
            return Ok(PrivateKey {
                key_type: KeyType::P256,
                pkcs8: enc(k.to_pkcs8_der())?,
            });
        }
        if let Ok(k) = p384::SecretKey::from_sec1_der(&der) {
            return Ok(PrivateKey {
                key_type: KeyType::P384,
                pkcs8: enc(k.to_pkcs8_der())?,
            });
        }
        if pkcs8::PrivateKeyInfo::from_der(&der).is_ok()
            || sec1::EcPrivateKey::from_der(&der).is_ok()
        {
            return Err(err(
                "unsupported key type: pinctl manages P-256, P-384 and RSA 2048/3072/4096 keys"
                    .into(),
            ));
        }
        Err(err(
            "not a private key (PKCS#8, PKCS#1 or SEC1, PEM or DER)".into(),
        ))
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key as a PKCS#8 PEM file (what archives hold and export writes).
    /// Written here rather than with the `pem` crate so that no copy of the
    /// key escapes a wiping buffer.
    pub fn pkcs8_pem(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*self.pkcs8));
        let mut s = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 64));
        s.push_str("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            // base64 output is ASCII, so any chunk of it is valid UTF-8.
            s.push_str(std::str::from_utf8(line).unwrap_or_default());
            s.push('\n');
        }
        s.push_str("-----END PRIVATE KEY-----\n");
        s
    }

    /// DER SubjectPublicKeyInfo of the public half.
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        use pkcs8::DecodePrivateKey as _;
        use spki::EncodePublicKey as _;
        let bad = |e: String| Error::Crypto(format!("cannot derive the public key: {e}"));
        let doc = match self.key_type {
            KeyType::P256 => p256::SecretKey::from_pkcs8_der(&self.pkcs8)
                .map_err(|e| bad(e.to_string()))?
                .public_key()
                .to_public_key_der(),
            KeyType::P384 => p384::SecretKey::from_pkcs8_der(&self.pkcs8)
                .map_err(|e| bad(e.to_string()))?
                .public_key()
                .to_public_key_der(),
            _ => rsa::RsaPrivateKey::from_pkcs8_der(&self.pkcs8)
                .map_err(|e| bad(e.to_string()))?
                .to_public_key()
                .to_public_key_der(),
        };
        Ok(doc.map_err(|e| bad(e.to_string()))?.into_vec())
    }

    /// The RFC 7469 pin of this key.
    pub fn pin(&self) -> Result<crate::pin::value::Pin> {
        Ok(crate::pin::value::spki_pin(&self.spki_der()?))
    }
}

/// A PEM label and the DER it wrapped, in a wiping buffer.
type LabeledDer = (String, Zeroizing<Vec<u8>>);

/// The private-key PEM blocks of `data`, decoded into wiping buffers.
fn private_key_blocks(data: &[u8]) -> std::result::Result<Vec<LabeledDer>, String> {
    let blocks = crate::pem_scan::blocks(data)?;
    if blocks
        .iter()
        .any(|b| b.label.ends_with("PRIVATE KEY") && b.has_headers)
    {
        return Err(
            "the key is encrypted; decrypt it first (openssl pkey -in FILE -out plain.pem)".into(),
        );
    }
    Ok(blocks
        .into_iter()
        .filter(|b| b.label.ends_with("PRIVATE KEY"))
        .map(|mut b| (b.label.clone(), b.take_der()))
        .collect())
}

/// Makes keys of these types in parallel, one thread per key (RSA keys take
/// seconds each; two cores halve the wait).
pub fn generate_all(types: &[KeyType]) -> Result<Vec<PrivateKey>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = types
            .iter()
            .map(|&t| s.spawn(move || PrivateKey::generate(t)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Error::Internal("the key generation thread failed".into()))?
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_pem_and_keeps_its_pin() {
        for t in [KeyType::P256, KeyType::P384] {
            let k = PrivateKey::generate(t).unwrap();
            let pem = k.pkcs8_pem();
            let back = PrivateKey::from_bytes("x", pem.as_bytes()).unwrap();
            assert_eq!(back.key_type(), t);
            assert_eq!(back.pin().unwrap(), k.pin().unwrap());
        }
    }

    #[test]
    fn unknown_key_type_is_refused() {
        assert!("ed448".parse::<KeyType>().is_err());
        assert_eq!("rsa3072".parse::<KeyType>().unwrap(), KeyType::Rsa3072);
    }
}

/// The forms a private key comes in (PEM labels `PRIVATE KEY`,
/// `RSA PRIVATE KEY`, `EC PRIVATE KEY`, or the same as DER).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateForm {
    Pkcs8,
    Pkcs1,
    Sec1,
}

/// The public half, as a DER SubjectPublicKeyInfo, of a private key of any
/// type pinctl reads (RSA, P-256, P-384, P-521, Ed25519): the one reader
/// of private keys for pins; [`PrivateKey`] reads those it can sign with.
pub fn public_spki(form: PrivateForm, der: &[u8]) -> std::result::Result<Vec<u8>, String> {
    match form {
        PrivateForm::Pkcs8 => pkcs8_public_spki(der),
        PrivateForm::Pkcs1 => pkcs1_public_spki(der),
        PrivateForm::Sec1 => sec1_public_spki(der),
    }
}

fn pkcs1_public_spki(der: &[u8]) -> std::result::Result<Vec<u8>, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    let key = rsa::RsaPrivateKey::from_pkcs1_der(der)
        .map_err(|e| format!("not a valid PKCS#1 RSA private key: {e}"))?;
    rsa_public_spki(&key)
}

fn rsa_public_spki(key: &rsa::RsaPrivateKey) -> std::result::Result<Vec<u8>, String> {
    use rsa::pkcs8::EncodePublicKey as _;
    Ok(key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| e.to_string())?
        .into_vec())
}

pub const OID_RSA: &str = "1.2.840.113549.1.1.1";
pub const OID_EC: &str = "1.2.840.10045.2.1";
pub const OID_ED25519: &str = "1.3.101.112";
pub const OID_P256: &str = "1.2.840.10045.3.1.7";
pub const OID_P384: &str = "1.3.132.0.34";
pub const OID_P521: &str = "1.3.132.0.35";

fn pkcs8_public_spki(der: &[u8]) -> std::result::Result<Vec<u8>, String> {
    use pkcs8::der::Decode as _;
    use pkcs8::DecodePrivateKey as _;
    use spki::EncodePublicKey as _;
    let pki = pkcs8::PrivateKeyInfo::from_der(der)
        .map_err(|e| format!("not a valid PKCS#8 private key: {e}"))?;
    let oid = pki.algorithm.oid.to_string();
    let bad = |e: pkcs8::Error| format!("invalid {oid} private key: {e}");
    let spki = match oid.as_str() {
        OID_RSA => {
            let key = rsa::RsaPrivateKey::from_pkcs8_der(der)
                .map_err(|e| format!("invalid RSA private key: {e}"))?;
            rsa_public_spki(&key)?
        }
        OID_EC => {
            let curve = pki
                .algorithm
                .parameters_oid()
                .map_err(|_| "EC private key without a named curve".to_string())?
                .to_string();
            ec_public_spki(&curve, |c| match c {
                OID_P256 => p256::SecretKey::from_pkcs8_der(der)
                    .map_err(bad)
                    .and_then(|k| der_vec(k.public_key().to_public_key_der())),
                OID_P384 => p384::SecretKey::from_pkcs8_der(der)
                    .map_err(bad)
                    .and_then(|k| der_vec(k.public_key().to_public_key_der())),
                _ => p521::SecretKey::from_pkcs8_der(der)
                    .map_err(bad)
                    .and_then(|k| der_vec(k.public_key().to_public_key_der())),
            })?
        }
        OID_ED25519 => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(bad)?;
            der_vec(key.verifying_key().to_public_key_der())?
        }
        other => return Err(format!("unsupported private key algorithm {other}")),
    };
    Ok(spki)
}

fn sec1_public_spki(der: &[u8]) -> std::result::Result<Vec<u8>, String> {
    use pkcs8::der::Decode as _;
    use spki::EncodePublicKey as _;
    let key = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| format!("not a valid SEC1 EC private key: {e}"))?;
    let curve = match key.parameters.and_then(|p| p.named_curve()) {
        Some(oid) => oid.to_string(),
        // Without parameters the curve follows from the scalar's length.
        None => match key.private_key.len() {
            32 => OID_P256.to_string(),
            48 => OID_P384.to_string(),
            _ => OID_P521.to_string(),
        },
    };
    let bad = |e: p256::elliptic_curve::Error| format!("invalid EC private key: {e}");
    let spki = ec_public_spki(&curve, |c| match c {
        OID_P256 => p256::SecretKey::from_sec1_der(der)
            .map_err(bad)
            .and_then(|k| der_vec(k.public_key().to_public_key_der())),
        OID_P384 => p384::SecretKey::from_sec1_der(der)
            .map_err(bad)
            .and_then(|k| der_vec(k.public_key().to_public_key_der())),
        _ => p521::SecretKey::from_sec1_der(der)
            .map_err(bad)
            .and_then(|k| der_vec(k.public_key().to_public_key_der())),
    })?;
    Ok(spki)
}

fn ec_public_spki(
    curve: &str,
    derive: impl Fn(&str) -> std::result::Result<Vec<u8>, String>,
) -> std::result::Result<Vec<u8>, String> {
    match curve {
        OID_P256 | OID_P384 | OID_P521 => derive(curve),
        other => Err(format!("unsupported elliptic curve {other}")),
    }
}

fn der_vec(doc: spki::Result<spki::Document>) -> std::result::Result<Vec<u8>, String> {
    doc.map(|d| d.into_vec()).map_err(|e| e.to_string())
}
