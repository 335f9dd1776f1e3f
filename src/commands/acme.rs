//! `pinctl acme account` and `pinctl cert issue`: the ACME account kept
//! in the state folder, and certificates ordered for a key's stored CSR
//! and recorded through `cert add`'s judgement (docs/design.md#acting).
//! The protocol is `pinctl_acme`'s; this module reads and writes the
//! state around it.

use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use super::report::{emit, CertReport};
use super::{Ctx, Out};
use crate::error::{Error, Result};
use crate::state::{AcmeChallenge, Role, Site};

/// The account file, beside the sites in the state folder (0600): the
/// one secret pinctl keeps in the clear, so that the daily job renews
/// without a prompt (docs/security.md).
pub const ACCOUNT_FILE: &str = "acme-account.json";

/// The account file's path.
pub fn account_path(ctx: &Ctx) -> PathBuf {
    ctx.store.root.join(ACCOUNT_FILE)
}

/// Whether the state holds an ACME account (plans then name `cert issue`).
pub fn has_account(ctx: &Ctx) -> bool {
    account_path(ctx).is_file()
}

/// The stored account, or None; refused if others may read it.
pub fn read_account(ctx: &Ctx) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let path = account_path(ctx);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Read { path, source: e }),
    };
    use std::os::unix::fs::PermissionsExt as _;
    if !meta.is_file() {
        return Err(Error::state(
            &path,
            "is not a regular file (a link?); pinctl reads the ACME account key only from its own file",
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Error::state(
            &path,
            format!(
                "holds the ACME account key but others may read it (mode {:o}); run `chmod 600` on it",
                meta.permissions().mode() & 0o777
            ),
        ));
    }
    Ok(Some(crate::fsutil::read_capped(&path, 1 << 20)?))
}

/// A CA that cannot be reached or refuses is not a TLS probe: no
/// `--connect` hint (that is `Error::Network`'s).
fn acme_error(e: pinctl_acme::Error) -> Error {
    match e.kind {
        pinctl_acme::ErrorKind::Usage => Error::Usage(e.message),
        pinctl_acme::ErrorKind::Network | pinctl_acme::ErrorKind::Ca => Error::Refused(e.message),
    }
}

#[derive(Serialize)]
struct AccountReport {
    directory: String,
    account_url: String,
    /// true: registered now; false: the stored account was found.
    created: bool,
    email: Option<String>,
    ca_file: Option<String>,
    /// The directory offers renewal information (RFC 9773).
    renewal_info: bool,
    file: String,
}

/// Options of `pinctl acme account`.
pub struct AccountOptions {
    pub directory: String,
    pub ca_file: Option<PathBuf>,
    pub email: Option<String>,
    pub eab_kid: Option<String>,
    pub eab_hmac_file: Option<PathBuf>,
}

/// `pinctl acme account`.
pub fn account(ctx: &Ctx, o: &AccountOptions, out: &mut Out) -> Result<i32> {
    if !(o.directory.starts_with("https://")) {
        return Err(Error::Usage(format!(
            "--directory {:?}: an ACME directory is an https:// URL",
            o.directory
        )));
    }
    if let Some(e) = &o.email {
        if !e.contains('@') || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::Usage(format!("--email {e:?} is not an address")));
        }
    }
    // RFC 8555 section 7.3.4: the CA hands out the MAC key base64url-encoded.
    let hmac = match &o.eab_hmac_file {
        Some(p) => {
            let raw = crate::fsutil::read_capped(p, 4096)?;
            let text = std::str::from_utf8(&raw).map_err(|_| {
                Error::input(p.display().to_string(), "the EAB MAC key is not text")
            })?;
            Some(pinctl_acme::decode_b64url(text.trim()).ok_or_else(|| {
                Error::input(
                    p.display().to_string(),
                    "the EAB MAC key is not base64url (as the CA gives it)",
                )
            })?)
        }
        None => None,
    };
    let eab = match (&o.eab_kid, &hmac) {
        (Some(kid), Some(h)) => Some(pinctl_acme::Eab { kid, hmac: h }),
        _ => None,
    };
    let existing = read_account(ctx)?;
    let r = pinctl_acme::register(
        &o.directory,
        o.ca_file.as_deref(),
        o.email.as_deref(),
        eab,
        existing.as_deref().map(|v| v.as_slice()),
    )
    .map_err(acme_error)?;
    if existing.as_deref().map(|v| v.as_slice()) != Some(r.file.as_slice()) {
        let _lock = ctx.store.lock()?;
        crate::fsutil::write_atomic(&account_path(ctx), &r.file, true)?;
    }
    let report = AccountReport {
        directory: r.info.directory,
        account_url: r.info.account_url,
        created: r.created,
        email: r.info.email,
        ca_file: r.info.ca_file,
        renewal_info: r.info.renewal_info,
        file: account_path(ctx).display().to_string(),
    };
    let text = vec![
        format!(
            "{} ACME account {}",
            if report.created {
                "Registered"
            } else {
                "Found the"
            },
            report.account_url
        ),
        format!("  directory  {}", report.directory),
        format!(
            "  stored in  {} (0600; its key is in the clear so that `pinctl renew` runs unattended)",
            report.file
        ),
    ];
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// How `cert issue` answers the challenges, from its flags.
pub struct AnswerOptions {
    pub http01_listen: Option<String>,
    pub http01_webroot: Option<PathBuf>,
    pub dns01_rfc2136: Option<String>,
    pub tsig_key: Option<PathBuf>,
}

impl AnswerOptions {
    /// The settings to remember, or None when no flag was given.
    fn settings(&self) -> Result<Option<AcmeChallenge>> {
        let abs = |p: &Path| {
            std::path::absolute(p)
                .unwrap_or(p.to_path_buf())
                .display()
                .to_string()
        };
        Ok(if let Some(l) = &self.http01_listen {
            l.parse::<std::net::SocketAddr>().map_err(|_| {
                Error::Usage(format!(
                    "--http01-listen {l:?}: expected ADDRESS:PORT such as 0.0.0.0:80"
                ))
            })?;
            Some(AcmeChallenge::Http01Listen { listen: l.clone() })
        } else if let Some(w) = &self.http01_webroot {
            Some(AcmeChallenge::Http01Webroot { webroot: abs(w) })
        } else if let Some(s) = &self.dns01_rfc2136 {
            let key = self.tsig_key.as_ref().ok_or_else(|| {
                Error::Usage(
                    "--dns01-rfc2136 needs --tsig-key FILE (the key tsig-keygen wrote)".into(),
                )
            })?;
            Some(AcmeChallenge::Dns01Rfc2136 {
                server: s.clone(),
                tsig_key: abs(key),
            })
        } else {
            None
        })
    }
}

/// The answer for the protocol, from settings; a TSIG key file others
/// may read adds a warning (as for dns channels).
fn answer(c: &AcmeChallenge, warnings: &mut Vec<String>) -> Result<pinctl_acme::Answer> {
    Ok(match c {
        AcmeChallenge::Http01Listen { listen } => {
            pinctl_acme::Answer::Listen(listen.parse().map_err(|_| {
                Error::Usage(format!(
                    "the remembered HTTP-01 address {listen:?} is not ADDRESS:PORT"
                ))
            })?)
        }
        AcmeChallenge::Http01Webroot { webroot } => {
            pinctl_acme::Answer::Webroot(PathBuf::from(webroot))
        }
        AcmeChallenge::Dns01Rfc2136 { server, tsig_key } => {
            let a = pinctl_acme::dns01::Rfc2136::new(server, Path::new(tsig_key))
                .map_err(acme_error)?;
            warnings.extend(a.key_warning());
            pinctl_acme::Answer::Dns01(Box::new(a))
        }
    })
}

/// Every name of the site: the order's identifiers, as in its CSRs.
fn names(site: &Site) -> Vec<String> {
    let mut v = vec![site.domain.clone()];
    for s in &site.sans {
        if !v.contains(s) {
            v.push(s.clone());
        }
    }
    v
}

/// What `cert issue` and `renew` report for one certificate.
#[derive(Serialize)]
pub struct IssueReport {
    pub challenge: &'static str,
    /// The certificate the order replaced, when the CA took `replaces`.
    #[serde(skip)]
    pub replaced: Option<String>,
    #[serde(flatten)]
    pub cert: CertReport,
}

fn challenge_name(c: &AcmeChallenge) -> &'static str {
    match c {
        AcmeChallenge::Http01Listen { .. } => "http-01 (pinctl listening)",
        AcmeChallenge::Http01Webroot { .. } => "http-01 (webroot)",
        AcmeChallenge::Dns01Rfc2136 { .. } => "dns-01 (RFC 2136)",
    }
}

/// Orders and records a certificate for `key` (default: the active key)
/// of the chosen site. Nothing is written unless it is recorded.
pub fn issue_for(
    ctx: &Ctx,
    key: Option<&str>,
    given: Option<AcmeChallenge>,
    replaces: Option<&str>,
) -> Result<IssueReport> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    let k = match key {
        Some(n) => site.require_key(n)?,
        None => site
            .keys
            .iter()
            .find(|k| k.role == Role::Active)
            .ok_or_else(|| Error::state(ctx.store.site_file(&domain), "no active key"))?,
    };
    if matches!(k.role, Role::Retired | Role::Compromised) {
        return Err(Error::Usage(format!(
            "{} is {}: pinctl orders certificates only for the active key and backups",
            k.name,
            k.role.as_str()
        )));
    }
    let challenge = given.or_else(|| site.acme.clone()).ok_or_else(|| {
        Error::Usage(format!(
            "{domain} has no remembered challenge: pass --http01-listen ADDR, --http01-webroot DIR or --dns01-rfc2136 HOST --tsig-key FILE"
        ))
    })?;
    let account = read_account(ctx)?.ok_or_else(|| {
        Error::Usage(format!(
            "no ACME account in {}: run `pinctl acme account --directory URL` first",
            ctx.store.root.display()
        ))
    })?;
    let csr_path = ctx.store.site_dir(&domain).join(&k.csr);
    let csr_pem = crate::fsutil::read_capped(&csr_path, 1 << 20)?;
    use rustls_pki_types::pem::PemObject as _;
    let csr = rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(&csr_pem)
        .map_err(|e| Error::state(&csr_path, format!("not a PEM CSR ({e})")))?;
    let want_key = k.name.clone();
    let want_names = names(&site);
    let mut key_warnings = Vec::new();
    let issued = pinctl_acme::issue(
        &account,
        &want_names,
        csr.as_ref(),
        answer(&challenge, &mut key_warnings)?,
        replaces,
    )
    .map_err(|e| {
        acme_error(pinctl_acme::Error {
            kind: e.kind,
            message: format!("{domain}: {}", e.message),
        })
    })?;
    // `cert add` reads a file: the chain goes through a private temporary
    // file outside the state folder, removed when this returns.
    let mut tmp = tempfile::Builder::new()
        .prefix("pinctl-issued-")
        .suffix(".pem")
        .tempfile()
        .map_err(|e| Error::Internal(format!("cannot make a temporary file: {e}")))?;
    {
        use std::io::Write as _;
        tmp.write_all(issued.chain_pem.as_bytes())
            .and_then(|()| tmp.flush())
            .map_err(|e| Error::Internal(format!("cannot write a temporary file: {e}")))?;
    }
    let remembered = challenge.clone();
    let mut cert = super::cert::record(ctx, tmp.path(), false, |site, cert| {
        if cert.key != want_key {
            return Err(Error::Refused(format!(
                "{domain}: the CA issued a certificate for {}, not {want_key}; nothing recorded",
                cert.key
            )));
        }
        let missing: Vec<&String> = want_names
            .iter()
            .filter(|n| !cert.names.contains(n))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Refused(format!(
                "{domain}: the issued certificate lacks {}; nothing recorded",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        site.acme = Some(remembered);
        Ok(())
    })?;
    cert.warnings.extend(key_warnings);
    Ok(IssueReport {
        challenge: challenge_name(&challenge),
        replaced: issued.replaced,
        cert,
    })
}

/// `pinctl cert issue`.
pub fn cert_issue(ctx: &Ctx, key: Option<&str>, how: &AnswerOptions, out: &mut Out) -> Result<i32> {
    let r = issue_for(ctx, key, how.settings()?, None)?;
    let mut text = vec![format!("Issued by ACME, {}:", r.challenge)];
    text.extend(r.cert.text());
    emit(ctx.json, &r, text, out)?;
    Ok(0)
}

/// Plans name `pinctl cert issue KEY` for a certificate step once the
/// state has an ACME account.
pub fn plan_commands(ctx: &Ctx, steps: &mut [crate::plan::Step], key: &str) {
    if !has_account(ctx) {
        return;
    }
    for s in steps {
        if matches!(
            s.kind,
            crate::plan::StepKind::Certificate | crate::plan::StepKind::Renew
        ) && s.command.as_deref() == Some("pinctl cert add CERT.pem")
        {
            s.command = Some(format!("pinctl cert issue {key}"));
        }
    }
}
