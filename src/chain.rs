//! Certificate chains as files give them (leaf first): which certificate
//! signed which, checked with x509-parser's signature verification (ring),
//! and the one CA key a chain may earn credit for in safety decisions —
//! the leaf's verified direct issuer (docs/design.md#safety-rule,
//! "Which CA pins count").
//! Reading PEM and hashing keys are `pin`'s; using the credit is
//! `lifecycle`'s.

use crate::error::{Error, Result};
use crate::pin::Pin;

/// One certificate of a file, as far as chain credit is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub pin: Pin,
    pub subject: String,
    pub is_ca: bool,
    /// Whether this certificate's key verifies the signature of the one
    /// before it in the file (false for the first).
    pub signs_previous: bool,
    /// The DNS names of its subjectAltName, lower case.
    pub names: Vec<String>,
}

/// What a file's chain is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    /// The leaf's verified direct issuer, if the file proves one.
    pub issuer: Option<Pin>,
    /// Pins of the CA certificates in the file (for the record).
    pub ca_pins: Vec<Pin>,
    /// What the operator should know: no credit, and why; pins that count
    /// for nothing.
    pub warnings: Vec<String>,
}

/// Judges a chain, leaf first. Only the certificate right after the leaf
/// can earn credit, and only when its signature on the leaf verifies and
/// it is a CA: that key is in every path a client builds from the leaf.
/// A file out of order earns none, since what a client builds from it is
/// not what the file shows.
pub fn credit(links: &[Link]) -> Credit {
    let mut c = Credit {
        issuer: None,
        ca_pins: links.iter().skip(1).map(|l| l.pin.clone()).collect(),
        warnings: Vec::new(),
    };
    let Some(second) = links.get(1) else {
        return c;
    };
    let ordered = links.iter().skip(1).all(|l| l.signs_previous);
    if !second.signs_previous {
        c.warnings.push(format!(
            "certificate 2 ({}) did not sign the leaf: the file's CA certificates give no credit in safety decisions (only the leaf's own key counts)",
            second.subject
        ));
    } else if !second.is_ca {
        c.warnings.push(format!(
            "certificate 2 ({}) signed the leaf but is not a CA certificate: no CA credit",
            second.subject
        ));
    } else if !ordered {
        c.warnings.push(
            "the file's certificates do not sign one another in order: its CA certificates give no credit in safety decisions (only the leaf's own key counts)".into(),
        );
    } else {
        c.issuer = Some(second.pin.clone());
    }
    if links.len() > 2 {
        c.warnings.push(format!(
            "pins of the {} certificate(s) above the direct issuer count for nothing in safety decisions: a client may build another path (cross-signed roots)",
            links.len() - 2
        ));
    }
    c
}

/// Reads the certificates of a PEM or DER file, leaf first, and checks
/// each signature against the next certificate's key.
pub fn links(label: &str, data: &[u8]) -> Result<Vec<Link>> {
    let ders = certificate_ders(label, data)?;
    let mut parsed = Vec::with_capacity(ders.len());
    for (i, der) in ders.iter().enumerate() {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
            Error::input(
                label,
                format!("certificate {}: not valid X.509: {e}", i + 1),
            )
        })?;
        parsed.push(cert);
    }
    let mut out = Vec::with_capacity(parsed.len());
    for (i, cert) in parsed.iter().enumerate() {
        let signs_previous = i > 0
            && parsed[i - 1]
                .verify_signature(Some(cert.public_key()))
                .is_ok();
        out.push(Link {
            pin: crate::pin::spki_pin(cert.public_key().raw),
            subject: cert.subject().to_string(),
            is_ca: cert.is_ca(),
            signs_previous,
            names: dns_names(cert),
        });
    }
    Ok(out)
}

/// The DNS names of a certificate's subjectAltName extension.
fn dns_names(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let mut v: Vec<String> = Vec::new();
    for n in &san.value.general_names {
        if let GeneralName::DNSName(d) = n {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if !d.is_empty() && !v.contains(&d) {
                v.push(d);
            }
        }
    }
    v
}

/// The DER of every certificate in `data` (PEM blocks, or one DER object).
fn certificate_ders(label: &str, data: &[u8]) -> Result<Vec<Vec<u8>>> {
    if crate::pem_scan::is_pem(data) {
        let blocks = crate::pem_scan::blocks(data).map_err(|e| Error::input(label, e))?;
        let ders: Vec<Vec<u8>> = blocks
            .into_iter()
            .filter(|b| matches!(b.label.as_str(), "CERTIFICATE" | "X509 CERTIFICATE"))
            .map(|b| b.der.to_vec())
            .collect();
        if ders.is_empty() {
            return Err(Error::input(label, "no certificate in the file"));
        }
        return Ok(ders);
    }
    Ok(vec![data.to_vec()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(n: &str, ca: bool, signs: bool) -> Link {
        Link {
            pin: crate::lifecycle::tests::pin_of(n),
            subject: format!("CN={n}"),
            is_ca: ca,
            signs_previous: signs,
            names: vec![],
        }
    }

    #[test]
    fn only_a_verified_direct_issuer_earns_credit() {
        let good = credit(&[link("leaf", false, false), link("int", true, true)]);
        assert_eq!(good.issuer, Some(link("int", true, true).pin));
        assert!(good.warnings.is_empty());

        // An intermediate of another CA appended to the leaf.
        let foreign = credit(&[link("leaf", false, false), link("int", true, false)]);
        assert_eq!(foreign.issuer, None);
        assert!(foreign.warnings[0].contains("did not sign the leaf"));

        // Root first, intermediate second: out of order.
        let reordered = credit(&[
            link("leaf", false, false),
            link("int", true, true),
            link("other", true, false),
        ]);
        assert_eq!(reordered.issuer, None);

        let full = credit(&[
            link("leaf", false, false),
            link("int", true, true),
            link("root", true, true),
        ]);
        assert_eq!(full.issuer, Some(link("int", true, true).pin));
        assert!(full.warnings[0].contains("count for nothing"));

        let not_ca = credit(&[link("leaf", false, false), link("x", false, true)]);
        assert_eq!(not_ca.issuer, None);
        assert_eq!(credit(&[link("leaf", false, false)]).issuer, None);
    }
}
