//! Renewal information (ARI, RFC 9773): the certificate identifier read
//! from a stored certificate (section 4.1), and the CA's suggested
//! renewal window for it (section 4.2). Deciding whether a window makes
//! a certificate due is the caller's (docs/design.md#acting).

use instant_acme::CertificateIdentifier;
use rustls_pki_types::CertificateDer;

use crate::{describe, runtime, session, Error};

/// The RFC 9773 section 4.1 identifier of a certificate (DER):
/// base64url(AKI keyIdentifier) "." base64url(DER serial).
pub fn cert_id(cert_der: &[u8]) -> Result<String, Error> {
    let der = CertificateDer::from(cert_der);
    CertificateIdentifier::try_from(&der)
        .map(|id| id.to_string())
        .map_err(|e| Error::usage(format!("no renewal information identifier: {e}")))
}

/// Parses an identifier made by [`cert_id`] back for a new order's
/// `replaces`.
pub(crate) fn parse_id(id: &str) -> Option<CertificateIdentifier<'static>> {
    let (aki, serial) = id.split_once('.')?;
    if aki.is_empty() || serial.is_empty() || serial.contains('.') {
        return None;
    }
    Some(CertificateIdentifier {
        authority_key_identifier: aki.to_string().into(),
        serial: serial.to_string().into(),
    })
}

/// The CA's suggested window, as Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    /// When the CA asks to be asked again (its `Retry-After`), seconds
    /// from now.
    pub retry_after_secs: u64,
    pub explanation_url: Option<String>,
}

/// What the CA said about a certificate's renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// The directory lists no `renewalInfo`.
    NotOffered,
    Window(Window),
}

/// Asks the account's CA for the renewal window of the certificate
/// `cert_id` (from [`cert_id`]). An error means the CA was asked and did
/// not answer usefully; the caller falls back to its own window.
pub fn renewal_info(account_file: &[u8], cert_id: &str) -> Result<Renewal, Error> {
    let id = parse_id(cert_id)
        .ok_or_else(|| Error::usage(format!("{cert_id:?} is not a certificate identifier")))?;
    let rt = runtime()?;
    rt.block_on(async move {
        let s = session(account_file).await?;
        if !s.renewal_info {
            return Ok(Renewal::NotOffered);
        }
        match s.account.renewal_info(&id).await {
            Ok((info, retry)) => Ok(Renewal::Window(Window {
                start: info.suggested_window.start.unix_timestamp(),
                end: info.suggested_window.end.unix_timestamp(),
                retry_after_secs: retry.as_secs(),
                explanation_url: info.explanation_url,
            })),
            // instant-acme read the directory itself and found none.
            Err(instant_acme::Error::Unsupported(_)) => Ok(Renewal::NotOffered),
            Err(e) => Err(describe(
                &format!("asking for the renewal window of {cert_id}"),
                e,
                &s.last,
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, IsCa, Issuer, KeyIdMethod, KeyPair,
        SerialNumber,
    };

    /// RFC 9773 section 4.1's example: keyIdentifier
    /// 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4 and
    /// serial 0x0087654321 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
    #[test]
    fn the_identifier_of_rfc_9773s_example() {
        let aki = vec![
            0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
            0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4,
        ];
        let ca_key = KeyPair::generate().expect("a key");
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_identifier_method = KeyIdMethod::PreSpecified(aki);
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().expect("a key");
        let mut ee = CertificateParams::new(["example.com".to_string()]).expect("params");
        ee.distinguished_name = DistinguishedName::new();
        ee.serial_number = Some(SerialNumber::from_slice(&[0x00, 0x87, 0x65, 0x43, 0x21]));
        ee.use_authority_key_identifier_extension = true;
        let cert = ee.signed_by(&key, &issuer).expect("signed");
        let id = cert_id(cert.der()).expect("an identifier");
        assert_eq!(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        let back = parse_id(&id).expect("parses");
        assert_eq!(back.to_string(), id);
    }

    #[test]
    fn a_certificate_without_an_aki_has_no_identifier() {
        let key = KeyPair::generate().expect("a key");
        let cert = CertificateParams::new(["example.com".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("signed");
        let e = cert_id(cert.der()).expect_err("no AKI");
        assert!(e.message.contains("Authority Key Identifier"), "{e}");
        assert!(cert_id(b"not a certificate").is_err());
    }

    #[test]
    fn malformed_identifiers_are_refused() {
        for bad in ["", "abc", ".abc", "abc.", "a.b.c"] {
            assert!(parse_id(bad).is_none(), "{bad}");
        }
    }
}
