//! pinctl's ACME client (RFC 8555), over instant-acme: registering or
//! finding the account, and ordering a certificate for a CSR pinctl
//! already holds, so that the private key is never needed
//! (docs/design.md#acting). The calls block: each runs its own small
//! tokio runtime, so the binary stays synchronous.
//!
//! Protocol duties instant-acme leaves to its caller are here: `badNonce`
//! is retried beyond instant-acme's own three tries (RFC 8555 section
//! 6.5), `Retry-After` and rate limits are waited out up to a bound
//! (`net`), polling is bounded, and every challenge answer is taken down
//! whatever the outcome.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, ExternalAccountKey,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub mod ari;
pub mod dns01;
pub mod http01;
pub mod net;

/// What went wrong, in one line that never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The operator's input (a flag, a file).
    Usage,
    /// The CA could not be reached or did not answer in time.
    Network,
    /// The CA answered with a refusal, or a challenge failed.
    Ca,
}

impl Error {
    pub fn usage(m: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Usage,
            message: m.into(),
        }
    }
    pub fn network(m: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Network,
            message: m.into(),
        }
    }
    pub fn ca(m: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Ca,
            message: m.into(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// How long pinctl polls an order before giving up (the CA validates
/// and signs in seconds; a daily job must not hang).
pub const POLL_TIMEOUT: Duration = Duration::from_secs(90);

/// Tries of a request the CA refused with `badNonce`, on top of
/// instant-acme's own three: Pebble rejects 5% of nonces on purpose,
/// and a busy CA may reject more.
const NONCE_TRIES: u32 = 5;

/// The account as pinctl stores it (`acme-account.json` in the state
/// folder, 0600): the directory, how to verify it, and instant-acme's
/// credentials, which hold the account's private key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    directory: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    account_url: String,
    credentials: AccountCredentials,
}

/// What the binary shows and records about an account (nothing secret).
#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub directory: String,
    pub ca_file: Option<String>,
    pub email: Option<String>,
    pub account_url: String,
    /// Whether the directory offers renewal information (RFC 9773).
    pub renewal_info: bool,
}

/// The public part of a stored account file.
pub fn account_info(file: &[u8]) -> Result<AccountInfo, Error> {
    let s = parse(file)?;
    Ok(AccountInfo {
        directory: s.directory,
        ca_file: s.ca_file,
        email: s.email,
        account_url: s.account_url,
        renewal_info: false,
    })
}

fn parse(file: &[u8]) -> Result<Saved, Error> {
    // Only the error's category and place: serde_json's own message
    // quotes the offending value, which may be the account key.
    serde_json::from_slice(file).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "not an account",
            serde_json::error::Category::Eof => "cut short",
        };
        Error::usage(format!(
            "the stored ACME account cannot be read ({what} at line {} column {})",
            e.line(),
            e.column()
        ))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::network(format!("cannot start the network runtime: {e}")))
}

/// Words for an instant-acme error; `last` says when a CA that refused
/// us asked to be tried again.
fn describe(what: &str, e: instant_acme::Error, last: &net::LastRetryAfter) -> Error {
    match e {
        instant_acme::Error::Api(p) => {
            let kind = p.r#type.clone().unwrap_or_default();
            let mut m = format!(
                "{what}: the CA refused: {}",
                p.detail.clone().unwrap_or_else(|| "no detail".into())
            );
            if !kind.is_empty() {
                m.push_str(&format!(" ({kind})"));
            }
            if let Some(t) = last.get() {
                let secs = t
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                m.push_str(&format!(
                    "; it asks to wait until {} (Unix time {secs}); the next run will try again",
                    rfc3339(secs)
                ));
            }
            Error::ca(m)
        }
        instant_acme::Error::Timeout(_) => Error::network(format!(
            "{what}: the CA did not finish within {} s",
            POLL_TIMEOUT.as_secs()
        )),
        other => Error::network(format!("{what}: {}", chain_text(&other))),
    }
}

/// An error and its causes, joined (hyper hides "connection refused"
/// two levels down).
fn chain_text(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe as i64 + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn is_bad_nonce(e: &instant_acme::Error) -> bool {
    matches!(e, instant_acme::Error::Api(p)
        if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:badNonce"))
}

/// Runs a request again while the CA answers `badNonce`.
macro_rules! nonce_retry {
    ($e:expr) => {{
        let mut tries = 0;
        loop {
            match $e {
                Err(e) if is_bad_nonce(&e) && tries + 1 < NONCE_TRIES => tries += 1,
                other => break other,
            }
        }
    }};
}

/// The directory and the account's stored credentials, connected.
struct Session {
    account: Account,
    last: net::LastRetryAfter,
    renewal_info: bool,
}

async fn builder(
    ca_file: Option<&Path>,
    last: &net::LastRetryAfter,
) -> Result<instant_acme::AccountBuilder, Error> {
    Ok(Account::builder_with_http(Box::new(net::Client::new(
        ca_file,
        last.clone(),
    )?)))
}

/// Whether the directory lists `renewalInfo`: instant-acme keeps its
/// directory private, so pinctl reads it once more.
async fn offers_ari(directory: &str, ca_file: Option<&Path>) -> bool {
    let Ok(client) = net::Client::new(ca_file, net::LastRetryAfter::default()) else {
        return false;
    };
    let Ok(req) = http::Request::get(directory).body(instant_acme::BodyWrapper::default()) else {
        return false;
    };
    use instant_acme::HttpClient as _;
    let Ok(mut rsp) = client.request(req).await else {
        return false;
    };
    let Ok(body) = rsp.body.into_bytes().await else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v.get("renewalInfo").is_some())
        .unwrap_or(false)
}

/// The result of `register`: what to show, and the file to store (0600).
pub struct Registered {
    pub info: AccountInfo,
    /// Whether an account was made now (else an existing one was found).
    pub created: bool,
    pub file: Zeroizing<Vec<u8>>,
}

/// External account binding (RFC 8555 section 7.3.4): the key id and
/// the MAC key (already base64url-decoded).
pub struct Eab<'a> {
    pub kid: &'a str,
    pub hmac: &'a [u8],
}

/// Decodes base64url with or without padding (how CAs hand out EAB MAC
/// keys); None if it is not.
pub fn decode_b64url(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine as _;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let v = Zeroizing::new(engine.decode(s).ok()?);
    (!v.is_empty()).then_some(v)
}

/// Registers an account on `directory`, or finds the one whose key
/// `existing` (a stored account file) holds.
pub fn register(
    directory: &str,
    ca_file: Option<&Path>,
    email: Option<&str>,
    eab: Option<Eab<'_>>,
    existing: Option<&[u8]>,
) -> Result<Registered, Error> {
    // Run again without --ca-file or --email, the stored ones still hold.
    let stored = existing.map(parse).transpose()?;
    let stored_ca = stored
        .as_ref()
        .and_then(|s| s.ca_file.as_ref())
        .map(PathBuf::from);
    let ca_file = ca_file.or(stored_ca.as_deref());
    let kept_email = email
        .is_none()
        .then(|| stored.as_ref()?.email.clone())
        .flatten();
    let rt = runtime()?;
    rt.block_on(async {
        let last = net::LastRetryAfter::default();
        let contact = email.map(|e| format!("mailto:{e}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, credentials, created) = match existing {
            Some(file) => {
                let saved = parse(file)?;
                if saved.directory != directory {
                    return Err(Error::usage(format!(
                        "the state already has an ACME account at {}; remove acme-account.json from the state folder first to register at {directory}",
                        saved.directory
                    )));
                }
                let der = rustls_pki_types::PrivateKeyDer::Pkcs8(
                    saved.credentials.private_key().clone_key(),
                );
                let (account, credentials) = nonce_retry!(
                    builder(ca_file, &last)
                        .await?
                        .from_key(
                            (
                                instant_acme::Key::from_pkcs8_der(
                                    saved.credentials.private_key().clone_key()
                                )
                                .map_err(|e| describe("reading the stored account key", e, &last))?,
                                der.clone_key(),
                            ),
                            directory.to_string(),
                        )
                        .await
                )
                .map_err(|e| describe(&format!("finding the account at {directory}"), e, &last))?;
                if !contacts.is_empty() {
                    nonce_retry!(account.update_contacts(&contacts).await).map_err(|e| {
                        describe("updating the account's contact", e, &last)
                    })?;
                }
                (account, credentials, false)
            }
            None => {
                let eak = eab.map(|e| ExternalAccountKey::new(e.kid.to_string(), e.hmac));
                let new = NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                };
                // Each try makes a new key: a badNonce refusal made no account.
                let (account, credentials) = nonce_retry!(
                    builder(ca_file, &last)
                        .await?
                        .create(&new, directory.to_string(), eak.as_ref())
                        .await
                )
                .map_err(|e| describe(&format!("registering at {directory}"), e, &last))?;
                (account, credentials, true)
            }
        };
        let ca_file = ca_file.map(|p| std::path::absolute(p).unwrap_or(p.to_path_buf()));
        let saved = Saved {
            directory: directory.to_string(),
            ca_file: ca_file.as_ref().map(|p| p.display().to_string()),
            email: email.map(str::to_string).or(kept_email),
            account_url: account.id().to_string(),
            credentials,
        };
        let file = Zeroizing::new(
            serde_json::to_vec_pretty(&saved)
                .map_err(|e| Error::usage(format!("cannot encode the account: {e}")))?,
        );
        let renewal_info = offers_ari(directory, ca_file.as_deref()).await;
        Ok(Registered {
            info: AccountInfo {
                directory: saved.directory.clone(),
                ca_file: saved.ca_file.clone(),
                email: saved.email.clone(),
                account_url: saved.account_url.clone(),
                renewal_info,
            },
            created,
            file,
        })
    })
}

async fn session(file: &[u8]) -> Result<Session, Error> {
    let saved = parse(file)?;
    let last = net::LastRetryAfter::default();
    let ca_file = saved.ca_file.as_ref().map(PathBuf::from);
    let renewal_info = offers_ari(&saved.directory, ca_file.as_deref()).await;
    let directory = saved.directory.clone();
    let account = builder(ca_file.as_deref(), &last)
        .await?
        .from_credentials(saved.credentials)
        .await
        .map_err(|e| {
            describe(
                &format!("reaching the ACME directory {directory}"),
                e,
                &last,
            )
        })?;
    Ok(Session {
        account,
        last,
        renewal_info,
    })
}

/// How the challenges are answered.
pub enum Answer {
    /// pinctl listens here and answers HTTP-01 itself.
    Listen(SocketAddr),
    /// HTTP-01 files under this folder's `.well-known/acme-challenge/`.
    Webroot(PathBuf),
    /// DNS-01 TXT records set by the caller's hooks.
    Dns01(Box<dyn DnsAnswer>),
}

impl Answer {
    fn challenge(&self) -> ChallengeType {
        match self {
            Answer::Listen(_) | Answer::Webroot(_) => ChallengeType::Http01,
            Answer::Dns01(_) => ChallengeType::Dns01,
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Answer::Listen(_) | Answer::Webroot(_) => "http-01",
            Answer::Dns01(_) => "dns-01",
        }
    }
}

/// Sets and removes the `_acme-challenge` TXT records of DNS-01
/// (RFC 8555 section 8.4); the DNS code lives outside this package.
pub trait DnsAnswer: Send {
    /// Adds `value` to the TXT RRset of `_acme-challenge.<name>`, and
    /// returns once the authoritative server has it.
    fn present<'a>(
        &'a mut self,
        name: &'a str,
        value: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>>;
    /// Removes every value it added.
    fn clean_up(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + '_>>;
}

/// An issued certificate chain (PEM, leaf first), whether the
/// directory offers renewal information, and the certificate the order
/// replaced when the CA took `replaces` (RFC 9773 section 5).
pub struct Issued {
    pub chain_pem: String,
    pub renewal_info: bool,
    pub replaced: Option<String>,
}

/// Orders a certificate for `names` and finalizes it with `csr_der`;
/// answers the challenges with `answer` and takes every answer down
/// before returning, whatever the outcome. `replaces` (an
/// [`ari::cert_id`]) is sent when the directory offers renewal
/// information, so that the CA links the two certificates.
pub fn issue(
    account_file: &[u8],
    names: &[String],
    csr_der: &[u8],
    answer: Answer,
    replaces: Option<&str>,
) -> Result<Issued, Error> {
    let rt = runtime()?;
    rt.block_on(async move {
        // The answer is set up before anything is ordered: a port that
        // is taken or a webroot that is wrong costs no order.
        let mut listener = None;
        let mut webroot = None;
        let mut dns = None;
        let kind = answer.challenge();
        let kind_name = answer.name();
        match answer {
            Answer::Listen(addr) => listener = Some(http01::Listener::bind(addr).await?),
            Answer::Webroot(dir) => webroot = Some(http01::Webroot::open(&dir)?),
            Answer::Dns01(d) => dns = Some(d),
        }
        let s = session(account_file).await?;
        let replaces = replaces.filter(|_| s.renewal_info).and_then(ari::parse_id);
        let result = order(
            &s,
            names,
            replaces,
            csr_der,
            &kind,
            kind_name,
            listener.as_ref(),
            webroot.as_mut(),
            dns.as_deref_mut(),
        )
        .await;
        drop(listener);
        drop(webroot);
        if let Some(d) = dns.as_mut() {
            let cleaned = d.clean_up().await;
            if let (Ok(_), Err(e)) = (&result, cleaned) {
                return Err(Error::network(format!(
                    "the certificate was issued but the DNS-01 TXT record could not be removed: {e}"
                )));
            }
        }
        result.map(|(chain_pem, replaced)| Issued {
            chain_pem,
            renewal_info: s.renewal_info,
            replaced,
        })
    })
}

#[allow(clippy::too_many_arguments)] // one private step of `issue`
async fn order(
    s: &Session,
    names: &[String],
    replaces: Option<instant_acme::CertificateIdentifier<'static>>,
    csr_der: &[u8],
    kind: &ChallengeType,
    kind_name: &str,
    listener: Option<&http01::Listener>,
    mut webroot: Option<&mut http01::Webroot>,
    mut dns: Option<&mut (dyn DnsAnswer + 'static)>,
) -> Result<(String, Option<String>), Error> {
    let last = &s.last;
    let ids: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
    let what = || format!("ordering a certificate for {}", names.join(", "));
    let mut replaced = replaces.as_ref().map(|r| r.to_string());
    let first = match &replaces {
        Some(r) => nonce_retry!(
            s.account
                .new_order(&NewOrder::new(&ids).replaces(r.clone()))
                .await
        ),
        None => nonce_retry!(s.account.new_order(&NewOrder::new(&ids)).await),
    };
    let mut order = match first {
        Ok(o) => o,
        // RFC 9773 section 5: a CA may refuse `replaces` (the certificate
        // was already replaced, or it is not the CA's), and one that
        // ignores it does not echo it. The renewal still matters more
        // than the link: order again without it.
        Err(e) if replaces.is_some() && refused_replaces(&e) => {
            replaced = None;
            nonce_retry!(s.account.new_order(&NewOrder::new(&ids)).await)
                .map_err(|e| describe(&what(), e, last))?
        }
        Err(e) => return Err(describe(&what(), e, last)),
    };
    // instant-acme's iterator moves past an authorization whose fetch
    // failed, so a badNonce starts the walk again; the ones answered
    // already are remembered by URL and skipped.
    let mut answered = std::collections::HashSet::new();
    let mut tries = 0;
    'walk: loop {
        let mut authzs = order.authorizations();
        loop {
            let mut a = match authzs.next().await {
                None => break 'walk,
                Some(Ok(a)) => a,
                Some(Err(e)) if is_bad_nonce(&e) && tries + 1 < NONCE_TRIES => {
                    tries += 1;
                    continue 'walk;
                }
                Some(Err(e)) => {
                    return Err(describe("reading the order's authorizations", e, last))
                }
            };
            if !answered.insert(a.url().to_string()) {
                continue;
            }
            let name = a.identifier().to_string();
            match a.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(Error::ca(format!(
                        "the authorization for {name} is {other:?}; order again later"
                    )))
                }
            }
            let mut ch = a.challenge(kind.clone()).ok_or_else(|| {
                Error::ca(format!("the CA offers no {kind_name} challenge for {name}"))
            })?;
            let key_auth = ch.key_authorization();
            if let Some(l) = listener {
                l.present(&ch.token, key_auth.as_str())?;
            }
            if let Some(w) = webroot.as_mut() {
                w.present(&ch.token, key_auth.as_str())?;
            }
            if let Some(d) = dns.as_mut() {
                let host = name.trim_start_matches("*.").to_string();
                d.present(&host, &key_auth.dns_value())
                    .await
                    .map_err(|e| Error {
                        kind: e.kind,
                        message: format!("{kind_name} for {name}: {}", e.message),
                    })?;
            }
            nonce_retry!(ch.set_ready().await)
                .map_err(|e| describe(&format!("{kind_name} challenge for {name}"), e, last))?;
        }
    }
    let policy = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(POLL_TIMEOUT);
    let status = match nonce_retry!(order.poll_ready(&policy).await) {
        Ok(s) => s,
        // An invalid order comes back as its problem: name the name and
        // the challenge that failed.
        Err(instant_acme::Error::Api(p)) => {
            let fallback = describe(
                &format!("{kind_name} challenge for {}", names.join(", ")),
                instant_acme::Error::Api(p),
                last,
            );
            return Err(failed_challenge(&mut order, kind, kind_name)
                .await
                .unwrap_or(fallback));
        }
        Err(e) => return Err(describe("waiting for the CA to validate", e, last)),
    };
    if status != OrderStatus::Ready {
        return Err(failed_challenge(&mut order, kind, kind_name)
            .await
            .unwrap_or_else(|| {
                Error::ca(format!(
                    "the order is {status:?}, not ready; no certificate was issued"
                ))
            }));
    }
    nonce_retry!(order.finalize_csr(csr_der).await)
        .map_err(|e| describe("finalizing the order with the stored CSR", e, last))?;
    let chain = nonce_retry!(order.poll_certificate(&policy).await)
        .map_err(|e| describe("downloading the certificate", e, last))?;
    Ok((chain, replaced))
}

/// Whether a new-order error is the CA not taking `replaces`: RFC 9773's
/// `alreadyReplaced`, a malformed or unauthorized refusal, or an order
/// that came back without the field.
fn refused_replaces(e: &instant_acme::Error) -> bool {
    match e {
        instant_acme::Error::Api(p) => matches!(
            p.r#type.as_deref(),
            Some(
                "urn:ietf:params:acme:error:alreadyReplaced"
                    | "urn:ietf:params:acme:error:malformed"
                    | "urn:ietf:params:acme:error:unauthorized"
            )
        ),
        instant_acme::Error::Other(m) => m.to_string().contains("replaces"),
        _ => false,
    }
}

/// The error of the first failed challenge, naming the name and the
/// challenge type; None if the CA shows none.
async fn failed_challenge(
    order: &mut instant_acme::Order,
    kind: &ChallengeType,
    kind_name: &str,
) -> Option<Error> {
    // As in `order`: a badNonce skips an authorization, so walk again.
    let mut seen = std::collections::HashSet::new();
    let mut tries = 0;
    'walk: loop {
        let mut authzs = order.authorizations();
        loop {
            let mut a = match authzs.next().await {
                None => break 'walk,
                Some(Ok(a)) => a,
                Some(Err(e)) if is_bad_nonce(&e) && tries + 1 < NONCE_TRIES => {
                    tries += 1;
                    continue 'walk;
                }
                Some(Err(_)) => return None,
            };
            if !seen.insert(a.url().to_string()) {
                continue;
            }
            // The order's copy may predate validation.
            let _ = nonce_retry!(a.refresh().await);
            let name = a.identifier().to_string();
            for c in &a.challenges {
                if &c.r#type == kind {
                    if let Some(p) = &c.error {
                        return Some(Error::ca(format!(
                            "{kind_name} challenge for {name} failed: {} ({})",
                            p.detail.clone().unwrap_or_default(),
                            p.r#type.clone().unwrap_or_default()
                        )));
                    }
                }
            }
            if a.status == AuthorizationStatus::Invalid {
                return Some(Error::ca(format!(
                    "{kind_name} challenge for {name} failed"
                )));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9773 section 5: what makes pinctl order again without
    /// `replaces`, and what does not.
    #[test]
    fn a_refused_replaces_is_told_from_other_errors() {
        let problem = |t: &str| {
            instant_acme::Error::Api(instant_acme::Problem {
                r#type: Some(t.to_string()),
                detail: None,
                status: Some(409),
                subproblems: Vec::new(),
            })
        };
        assert!(refused_replaces(&problem(
            "urn:ietf:params:acme:error:alreadyReplaced"
        )));
        assert!(refused_replaces(&instant_acme::Error::Other(
            "replaces field mismatch: expected Some(..), found None".into()
        )));
        assert!(!refused_replaces(&problem(
            "urn:ietf:params:acme:error:rateLimited"
        )));
        assert!(!refused_replaces(&problem(
            "urn:ietf:params:acme:error:badNonce"
        )));
        assert!(!refused_replaces(&instant_acme::Error::Str("no order URL")));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(784_111_777), "1994-11-06T08:49:37Z");
        assert_eq!(rfc3339(1_709_251_200), "2024-03-01T00:00:00Z");
    }

    #[test]
    fn an_unreadable_account_file_says_so_without_its_content() {
        let e = match account_info(b"{\"directory\": \"x\", \"secret\": \"hunter2\"}") {
            Err(e) => e,
            Ok(_) => panic!("read"),
        };
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }

    /// Regression: serde_json's invalid-type error quotes the value, and
    /// the value of `credentials` (or a field in it) is the account key.
    #[test]
    fn a_malformed_account_key_never_shows() {
        let secret = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRET";
        let files = [
            format!(r#"{{"directory": "x", "account_url": "u", "credentials": "{secret}"}}"#),
            format!(
                r#"{{"directory": "x", "account_url": "u", "credentials": {{"id": "u", "key_pkcs8": ["{secret}"], "directory": "x"}}}}"#
            ),
            format!(
                r#"{{"directory": "x", "account_url": "u", "credentials": {{"key_pkcs8": "{secret}"#
            ),
            format!(r#"{{"directory": "{secret}", "account_url": 7}}"#),
        ];
        for f in &files {
            let e = match account_info(f.as_bytes()) {
                Err(e) => e,
                Ok(_) => panic!("read {f}"),
            };
            assert!(!e.message.contains("SECRET"), "{}", e.message);
            assert!(e.message.contains("line 1 column"), "{}", e.message);
        }
    }
}
