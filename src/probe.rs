//! Probing a served site: fetching its chain and pinning headers over TLS
//! (rustls, with a verifier that records the chain; bounded timeouts; no
//! URL credentials ever stored or printed), and `judge`, the pure verdict
//! on what was served — as a browser would see it, and against the state.
//! `pinctl verify` and `check --live` are the commands that use it.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};
use crate::header::{self, LintOptions, Mode};
use crate::state::Site;

const TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub connect: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
}

/// What the server showed.
pub struct Observed {
    pub host: String,
    pub chain_pins: Vec<crate::pin::Pin>,
    pub status: String,
    pub headers: Vec<(String, String)>,
}

/// `url` with any `user:password@` replaced, for messages.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Refuses a URL that carries credentials, without repeating them: they
/// would end up in messages, logs and (for endpoints) the state.
pub fn refuse_credentials(url: &str) -> Result<()> {
    if redact(url) != url {
        return Err(Error::Usage(format!(
            "{}: URLs with credentials (user:password@) are not accepted; pinctl never stores or prints them",
            redact(url)
        )));
    }
    Ok(())
}

/// An https URL's host (lower case; an IPv6 address without its
/// brackets), port and request target, read by the `http` crate's
/// parser (RFC 3986): `https://[::1]:8443/x?y` included.
fn parse_url(url: &str) -> Result<(String, u16, String)> {
    refuse_credentials(url)?;
    let bad = |why: String| Error::Usage(format!("{url:?} is not an https:// URL ({why})"));
    // The fragment is the client's own: never sent.
    let without_fragment = url.split('#').next().unwrap_or(url);
    let uri: http::Uri = without_fragment
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(e.to_string()))?;
    if !uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"))
    {
        return Err(bad("the scheme must be https".into()));
    }
    let authority = uri.authority().ok_or_else(|| bad("no host".into()))?;
    let bracketed = authority.host();
    // What follows the host is nothing or `:PORT` (the userinfo was
    // refused above).
    let port = match authority
        .as_str()
        .rsplit_once(bracketed)
        .map_or("", |(_, rest)| rest)
        .strip_prefix(':')
    {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(format!("port {p:?} is not 1 to 65535")))?,
    };
    let host = bracketed
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(bracketed);
    if host.is_empty() {
        return Err(bad("no host".into()));
    }
    let target = match uri.path_and_query().map(|p| p.as_str()) {
        Some(p) if p.starts_with('/') => p.to_string(),
        Some(p) if !p.is_empty() => format!("/{p}"),
        _ => "/".to_string(),
    };
    Ok((host.to_ascii_lowercase(), port, target))
}

/// Records the chain, then verifies it (or not, with --insecure).
#[derive(Debug)]
struct Recorder {
    inner: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    chain: Mutex<Vec<Vec<u8>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut c) = self.chain.lock() {
            c.clear();
            c.push(end_entity.to_vec());
            c.extend(intermediates.iter().map(|i| i.to_vec()));
        }
        match &self.inner {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore> {
    let mut store = rustls::RootCertStore::empty();
    match ca_file {
        Some(p) => {
            let data = crate::fsutil::read_input(p)?;
            let blocks = crate::pem_scan::blocks(&data)
                .map_err(|e| Error::input(p.display().to_string(), e))?;
            for b in blocks.iter().filter(|b| b.label == "CERTIFICATE") {
                store
                    .add(CertificateDer::from(b.der.to_vec()))
                    .map_err(|e| {
                        Error::input(
                            p.display().to_string(),
                            format!("unusable CA certificate: {e}"),
                        )
                    })?;
            }
            if store.is_empty() {
                return Err(Error::input(
                    p.display().to_string(),
                    "no CA certificate in the file",
                ));
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(store)
}

/// Connects, records the chain, sends `GET` and reads the response head.
pub fn fetch(t: &Target) -> Result<Observed> {
    let (host, port, path) = parse_url(&t.url)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = if t.insecure {
        None
    } else {
        Some(
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(t.ca_file.as_deref())?),
                provider.clone(),
            )
            .build()
            .map_err(|e| Error::Usage(format!("cannot set up certificate verification: {e}")))?,
        )
    };
    let recorder = Arc::new(Recorder {
        inner,
        provider: provider.clone(),
        chain: Mutex::new(Vec::new()),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(format!("TLS set-up failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    // An IPv6 address takes its brackets back before the port.
    let authority = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let addr_text = t
        .connect
        .clone()
        .unwrap_or_else(|| format!("{authority}:{port}"));
    let net = |m: String| Error::Network(format!("{}: {m}", redact(&t.url)));
    let addr = addr_text
        .to_socket_addrs()
        .map_err(|e| net(format!("cannot resolve {addr_text}: {e}")))?
        .next()
        .ok_or_else(|| net(format!("cannot resolve {addr_text}")))?;
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|e| net(format!("cannot connect to {addr}: {e}")))?;
    tcp.set_read_timeout(Some(TIMEOUT)).ok();
    tcp.set_write_timeout(Some(TIMEOUT)).ok();
    let name = ServerName::try_from(host.clone())
        .map_err(|e| Error::Usage(format!("invalid host {host}: {e}")))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| net(format!("TLS set-up failed: {e}")))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: pinctl\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes())
        .map_err(|e| net(describe_io(&e)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(net(describe_io(&e))),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let head_text = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head_text.split("\r\n");
    let status = lines.next().unwrap_or("").to_string();
    if !status.starts_with("HTTP/") {
        return Err(net("the server did not answer with HTTP".into()));
    }
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    let mut chain_pins = Vec::new();
    for der in &chain {
        let infos = crate::pin::read_pins("served certificate", der)?;
        chain_pins.extend(infos.into_iter().map(|i| i.pin));
    }
    Ok(Observed {
        host,
        chain_pins,
        status,
        headers,
    })
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("timed out after {} s", TIMEOUT.as_secs())
        }
        _ => match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(t) => format!("TLS failure: {t}"),
            None => format!("{e}"),
        },
    }
}

/// Problems with what was served: as a browser judges it, and against the
/// site's state when there is one.
pub fn judge(o: &Observed, site: Option<&Site>) -> Vec<String> {
    let mut problems = Vec::new();
    let pkp: Vec<&(String, String)> = o
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Public-Key-Pins"))
        .collect();
    let ro: Vec<&(String, String)> = o
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Public-Key-Pins-Report-Only"))
        .collect();
    if pkp.is_empty() && ro.is_empty() {
        problems.push("no Public-Key-Pins or Public-Key-Pins-Report-Only header is served".into());
    }
    if pkp.len() > 1 {
        problems.push(format!(
            "{} Public-Key-Pins headers are served; browsers use only the first",
            pkp.len()
        ));
    }
    let opts = LintOptions {
        chain_pins: Some(&o.chain_pins),
        host: Some(&o.host),
    };
    let mut served = None;
    for (n, v) in pkp.iter().take(1).chain(ro.iter().take(1)) {
        let l = header::lint(&format!("{n}: {v}"), &opts);
        for p in l
            .problems
            .iter()
            .filter(|p| p.severity == header::LintSeverity::Error)
        {
            problems.push(format!("{n}: {} (browsers ignore this header)", p.message));
        }
        if served.is_none() || l.header.mode == Mode::Enforce {
            served = Some(l.header);
        }
    }
    if let Some(site) = site {
        if let Some(active) = site.active() {
            let leaf = o.chain_pins.first();
            if leaf != Some(&active.pin) {
                let which = leaf
                    .and_then(|p| site.keys.iter().find(|k| k.pin == *p))
                    .map(|k| format!("{} ({})", k.name, k.role.as_str()))
                    .unwrap_or_else(|| "a key that is not one of the site's".into());
                problems.push(format!(
                    "the server's leaf certificate is for {which}, not the active key {}",
                    active.name
                ));
            }
        }
        match (site.live(), &served) {
            (Some(live), Some(h)) => {
                if !crate::lifecycle::same_as(live, h) {
                    problems.push("the served header differs from the live publication in the state (deploy it, or run pinctl publish)".into());
                }
            }
            (Some(_), None) => problems.push("the state records a live publication but the server sends no pinning header".into()),
            (None, Some(_)) => problems.push("the server sends a pinning header but the state records no publication (pinctl publish)".into()),
            (None, None) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `verify https://[::1]/` failed: the URL was parsed by hand.
    #[test]
    fn urls_are_parsed_as_rfc_3986_says() {
        let ok = |u: &str| parse_url(u).unwrap();
        assert_eq!(ok("https://[::1]/"), ("::1".into(), 443, "/".into()));
        assert_eq!(
            ok("https://[2001:DB8::1]:8443/x?y=1#top"),
            ("2001:db8::1".into(), 8443, "/x?y=1".into())
        );
        assert_eq!(
            ok("HTTPS://Example.COM"),
            ("example.com".into(), 443, "/".into())
        );
        assert_eq!(
            ok("https://example.com:444?q"),
            ("example.com".into(), 444, "/?q".into())
        );
        for bad in [
            "http://example.com/",
            "https://",
            "https://example.com:99999/",
            "https://example.com:/",
            "example.com",
            "https://exa mple.com/",
            "https://user:pw@example.com/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    /// The live header served with its pins in another order was judged
    /// a different header.
    #[test]
    fn the_live_header_with_its_pins_reordered_is_the_same_header() {
        let site = crate::state::parse_site(include_bytes!(
            "../tests/fixtures/state-v2/example.com/site.yaml"
        ))
        .unwrap();
        let live = site.live().unwrap();
        let mut pins = live.pins.clone();
        pins.reverse();
        assert_ne!(pins, live.pins);
        let value = pins
            .iter()
            .map(|p| format!("pin-sha256=\"{p}\""))
            .chain([format!("max-age={}", live.max_age)])
            .collect::<Vec<_>>()
            .join("; ");
        let observed = Observed {
            host: site.domain.clone(),
            chain_pins: vec![site.active().unwrap().pin.clone()],
            status: "HTTP/1.1 200 OK".into(),
            headers: vec![("Public-Key-Pins".into(), value)],
        };
        let problems = judge(&observed, Some(&site));
        assert!(problems.is_empty(), "{problems:?}");
        // A pin fewer is another header.
        let mut fewer = observed;
        fewer.headers[0].1 =
            fewer.headers[0]
                .1
                .replacen(&format!("pin-sha256=\"{}\"; ", pins[0]), "", 1);
        assert!(judge(&fewer, Some(&site))
            .iter()
            .any(|p| p.contains("differs from the live publication")));
    }
}
