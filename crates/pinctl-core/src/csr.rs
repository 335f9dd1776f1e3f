//! Certificate signing requests (PKCS#10) for a site's keys, made with
//! rcgen and signed by the key itself.

use crate::error::{Error, Result};
use crate::keys::{KeyType, PrivateKey};

/// A PEM CSR with subject CN = `domain` and dNSName SANs `domain` + `sans`.
pub fn make_csr(key: &PrivateKey, domain: &str, sans: &[String]) -> Result<String> {
    let alg: &'static rcgen::SignatureAlgorithm = match key.key_type() {
        KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
    };
    // rcgen 0.14 has no zeroize support: its KeyPair (and ring's key inside
    // it) keeps a copy of the key that is not wiped. That copy lives only
    // for the signature below and is dropped right after it, within this
    // function; the DER handed to it is borrowed from the wiping buffer.
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(key.pkcs8_der());
    let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, alg)
        .map_err(|e| Error::Crypto(format!("cannot load the key to sign its CSR: {e}")))?;
    let mut names = vec![domain.to_string()];
    for s in sans {
        if !names.contains(s) {
            names.push(s.clone());
        }
    }
    let mut params = rcgen::CertificateParams::new(names)
        .map_err(|e| Error::Usage(format!("invalid name for a CSR: {e}")))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, domain);
    let csr = params.serialize_request(&kp);
    drop(kp);
    let csr = csr.map_err(|e| Error::Crypto(format!("cannot make the CSR: {e}")))?;
    csr.pem()
        .map_err(|e| Error::Crypto(format!("cannot encode the CSR: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_carries_the_key_pin() {
        let key = PrivateKey::generate(KeyType::P256).unwrap();
        let csr = make_csr(&key, "example.com", &["*.example.com".into()]).unwrap();
        let pins = crate::pin::read_pins("csr", csr.as_bytes()).unwrap();
        assert_eq!(pins[0].pin, key.pin().unwrap());
        assert_eq!(pins[0].subject.as_deref(), Some("CN=example.com"));
    }
}
