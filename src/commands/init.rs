//! `pinctl init` and `pinctl import`: a new site's keys, CSRs, archives
//! and state, written in one step.

use std::path::PathBuf;

use super::report::{emit, FileLine, InitReport, KeyLine};
use super::terminal::{generate_with_progress, protection};
use super::{Ctx, Out};
use crate::archive::{self};
use crate::error::{Error, Result};
use crate::header::Mode;
use crate::keyring::{self, package_keys, ReadCert};
use crate::keys::{KeyType, PrivateKey};
use crate::lifecycle::{self, SafeFrom};
use crate::state::{self, Encryption, EventKind, Method, Policy, Role, Site};
use crate::text::rfc3339;

/// Options of `init` and `import`.
#[derive(Clone)]
pub struct InitOptions {
    pub domain: String,
    pub sans: Vec<String>,
    pub key_type: KeyType,
    pub backup_key_type: Option<KeyType>,
    pub backups: u32,
    pub max_age: u64,
    pub include_subdomains: bool,
    pub report_uri: Option<String>,
    pub recipients: Vec<String>,
    pub recipients_file: Option<PathBuf>,
    pub armor: bool,
    /// `import`: the key already in service, and optionally its certificate.
    pub import_key: Option<PathBuf>,
    pub import_cert: Option<PathBuf>,
    /// `import`: the header the servers already send, as given or probed.
    pub served: Served,
}

/// What `import` is told about the header already served.
#[derive(Clone, Default)]
pub struct Served {
    /// `--served-header`: the value, with or without the field name.
    pub header: Option<String>,
    /// `--served-since`: when it was first served (default: now).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// `--from-url`: probe the server for it.
    pub probe: Option<crate::probe::Target>,
}

/// The header the servers already send, read before anything is made:
/// None when they send none. A probe must see the imported key.
fn served_header(
    o: &InitOptions,
    key_pin: Option<&crate::pin::Pin>,
    notes: &mut Vec<String>,
) -> Result<Option<crate::header::Header>> {
    let s = &o.served;
    let (text, from) = match (&s.header, &s.probe) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "give --served-header or --from-url, not both".into(),
            ))
        }
        (Some(h), None) => (h.clone(), "--served-header".to_string()),
        (None, Some(t)) => {
            crate::probe::refuse_credentials(&t.url)?;
            let seen = crate::probe::fetch(t)?;
            let url = crate::probe::redact(&t.url);
            if seen.chain_pins.first() != key_pin {
                return Err(Error::Refused(format!(
                    "refused: {url} serves a key (pin {}) that is not the imported key; import the key that server serves",
                    seen.chain_pins.first().map(|p| p.to_string()).unwrap_or_else(|| "none".into())
                )));
            }
            let pick = |name: &str| {
                seen.headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(n, v)| format!("{n}: {v}"))
            };
            match pick("public-key-pins").or_else(|| pick("public-key-pins-report-only")) {
                Some(h) => (h, url),
                None => {
                    notes.push(format!(
                        "{url} sends no Public-Key-Pins header: nothing recorded as held"
                    ));
                    return Ok(None);
                }
            }
        }
        (None, None) => {
            if o.import_key.is_some() {
                notes.push("clients may hold a Public-Key-Pins header pinctl does not know: if the site sends one, or did within its max-age, import it with --served-header VALUE (or --from-url URL), or rotations will be judged without it".into());
            }
            return Ok(None);
        }
    };
    let line = if text
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("public-key-pins")
    {
        text.trim().to_string()
    } else {
        format!("Public-Key-Pins: {}", text.trim())
    };
    let lint = crate::header::lint(
        &line,
        &crate::header::LintOptions {
            chain_pins: None,
            host: Some(&o.domain),
        },
    );
    if !lint.is_valid() {
        let why: Vec<&str> = lint
            .problems
            .iter()
            .filter(|p| p.severity == crate::header::LintSeverity::Error)
            .map(|p| p.message.as_str())
            .collect();
        return Err(Error::Usage(format!(
            "{from}: not a valid Public-Key-Pins header ({}); browsers ignore it, so nothing of it is held: import without it",
            why.join("; ")
        )));
    }
    if key_pin.is_some_and(|k| !lint.header.pins.contains(k)) {
        notes.push(format!(
            "the served header ({from}) lacks the imported key's pin: only its CA pins can make browsers note it"
        ));
    }
    Ok(Some(lint.header))
}

fn collect_recipients(o: &InitOptions) -> Result<Vec<String>> {
    let mut list = Vec::new();
    for r in &o.recipients {
        archive::parse_recipient(r)?;
        list.push(r.trim().to_string());
    }
    if let Some(f) = &o.recipients_file {
        let data = crate::fsutil::read_input(f)?;
        let text = std::str::from_utf8(&data)
            .map_err(|_| Error::input(f.display().to_string(), "not a text file"))?;
        list.extend(archive::read_recipients_file(
            &f.display().to_string(),
            text,
        )?);
    }
    Ok(list)
}

/// `pinctl init` and `pinctl import`.
/// What `init` tells: the keys, the files written, the first header, the
/// next steps, and whether an ancestor's pinset binds the new site.
fn init_report(
    ctx: &Ctx,
    site: &mut Site,
    files: &[(String, Vec<u8>, bool)],
    cert_warnings: Vec<String>,
) -> Result<InitReport> {
    let dir = ctx.store.site_dir(&site.domain);
    site.related = ctx.store.related(site)?;
    let mut warnings = Vec::new();
    if let Some(primary) = site.active() {
        let held = lifecycle::blockers(site, primary, ctx.now);
        // The site's own blockers (an imported header without its key)
        // are said by `served_header`; these are an ancestor's.
        if let Some(parent) = held.iter().find_map(|b| b.site.clone()) {
            warnings.push(format!(
                "{parent} publishes includeSubDomains, so its pinset binds {}: clients that saw {parent} reject {}'s new keys ({}). pinctl refuses {}'s certificates and headers until then; add its keys to {parent}'s pinset (pinctl --site {parent} ca-pin add NAME --pin PIN, then publish there) to serve it sooner",
                site.domain,
                site.domain,
                match lifecycle::safe_from(site, primary) {
                    SafeFrom::At(t) => format!("until {}", rfc3339(t)),
                    SafeFrom::Never => format!("for as long as {parent} serves that header, plus its max-age"),
                },
                site.domain
            ));
        }
    }
    warnings.extend(cert_warnings);
    let mut next_steps = Vec::new();
    if site.certificates.is_empty() {
        next_steps.push(format!(
            "Get a certificate for the primary key's CSR {} and record it: pinctl cert add CERT.pem",
            dir.join("primary.csr.pem").display()
        ));
    }
    next_steps.push("Store each backup in two places: pinctl archive copy backup1 --to /media/usb1 --location 'safe A' (and again elsewhere)".into());
    next_steps.push("Serve the Report-Only header (pinctl snippet --server nginx) and record it: pinctl publish".into());
    next_steps.push("See what comes next at any time: pinctl plan".into());
    let report = InitReport {
        site: site.domain.clone(),
        folder: dir.display().to_string(),
        keys: site.keys.iter().map(KeyLine::of).collect(),
        files: std::iter::once(FileLine {
            path: dir.join(state::SITE_FILE).display().to_string(),
            encrypted: false,
        })
        .chain(files.iter().map(|(name, _, secret)| FileLine {
            path: dir.join(name).display().to_string(),
            encrypted: *secret,
        }))
        .collect(),
        header: lifecycle::desired_header(site).line(),
        next_steps,
        warnings,
    };
    Ok(report)
}

/// The site's keys, named: the imported or a new primary, and the backups.
fn make_keys(
    o: &InitOptions,
    imported: Option<PrivateKey>,
) -> Result<Vec<(String, Role, PrivateKey)>> {
    let backup_type = o.backup_key_type.unwrap_or(o.key_type);
    let mut types = Vec::new();
    if imported.is_none() {
        types.push(o.key_type);
    }
    types.extend(std::iter::repeat_n(backup_type, o.backups as usize));
    let mut made = generate_with_progress(&types)?.into_iter();
    let mut named = Vec::new();
    let primary = match imported {
        Some(k) => k,
        None => made
            .next()
            .ok_or_else(|| Error::Internal("no key was made".into()))?,
    };
    named.push(("primary".to_string(), Role::Active, primary));
    for (i, k) in made.enumerate() {
        named.push((format!("backup{}", i + 1), Role::Backup, k));
    }
    Ok(named)
}

/// The options as `init` takes them: host names normalised, and every
/// check done before the first key is made, so a failure leaves nothing
/// behind.
fn checked(ctx: &Ctx, o: &InitOptions) -> Result<InitOptions> {
    // Everything is checked before the first key is made: a failure leaves
    // nothing behind.
    let normalized = state::normalize_domain(&o.domain).map_err(Error::Usage)?;
    let o = InitOptions {
        domain: normalized,
        sans: o
            .sans
            .iter()
            .map(|s| state::normalize_domain(s).map_err(Error::Usage))
            .collect::<Result<_>>()?,
        ..o.clone()
    };
    if o.domain.starts_with("*.") {
        return Err(Error::Usage(
            "the site is a host name; put wildcards in --san".into(),
        ));
    }
    for s in &o.sans {
        state::check_domain(s).map_err(Error::Usage)?;
    }
    if o.backups < 2 {
        return Err(Error::Usage(format!(
            "--backups {}: at least 2 backups are required, so that a backup survives the loss of another",
            o.backups
        )));
    }
    if o.backups > 20 {
        return Err(Error::Usage("--backups: at most 20".into()));
    }
    if let Some(u) = &o.report_uri {
        super::policy::check_report_uri(u)?;
    }
    // A host name belongs to one site: two would publish two headers for
    // it, and pinctl would judge each without the other.
    for n in std::iter::once(&o.domain).chain(&o.sans) {
        if let Some(other) = ctx.store.site_serving(n, &o.domain)? {
            return Err(Error::Usage(format!(
                "{n} is already a name of site {other} (its domain, a --san or a certificate's name); one host name belongs to one site"
            )));
        }
    }
    if ctx.store.site_dir(&o.domain).exists() {
        return Err(Error::state(
            ctx.store.site_dir(&o.domain),
            format!(
                "site {} already exists; pinctl never overwrites a site",
                o.domain
            ),
        ));
    }
    Ok(o)
}

pub fn init(ctx: &Ctx, o: &InitOptions, out: &mut Out) -> Result<i32> {
    let o = &checked(ctx, o)?;
    let recipients = collect_recipients(o)?;
    let imported = match &o.import_key {
        Some(p) => {
            let data = crate::fsutil::read_input(p)?;
            Some(PrivateKey::from_bytes(&p.display().to_string(), &data)?)
        }
        None => None,
    };
    let encryption = Encryption {
        method: if recipients.is_empty() {
            Method::Passphrase
        } else {
            Method::Recipients
        },
        recipients,
        armor: o.armor,
    };
    if o.import_key.is_none()
        && (o.served.header.is_some() || o.served.probe.is_some() || o.served.since.is_some())
    {
        return Err(Error::Usage(
            "--served-header, --served-since and --from-url are for import".into(),
        ));
    }
    if o.served.since.is_some_and(|t| t > ctx.now) {
        return Err(Error::Usage("--served-since is in the future".into()));
    }
    let mut served_notes = Vec::new();
    let imported_pin = imported.as_ref().map(|k| k.pin()).transpose()?;
    let served = served_header(o, imported_pin.as_ref(), &mut served_notes)?;
    let protection = protection(ctx.passphrase_file.as_deref(), &encryption, true)?;

    let named = make_keys(o, imported)?;
    let now = ctx.now;
    let packaged = package_keys(&o.domain, &o.sans, named, &protection, o.armor, now)?;
    let mut site = Site {
        version: state::VERSION,
        domain: o.domain.clone(),
        sans: o.sans.clone(),
        created: now,
        encryption,
        policy: Policy {
            mode: Mode::ReportOnly,
            max_age: o.max_age,
            include_subdomains: o.include_subdomains,
            report_uri: o.report_uri.clone(),
            endpoints: vec![],
        },
        keys: packaged.iter().map(|p| p.key.clone()).collect(),
        ca_pins: vec![],
        certificates: vec![],
        channels: vec![],
        acme: None,
        publications: vec![],
        events: vec![],
        related: Default::default(),
    };
    let mut files: Vec<(String, Vec<u8>, bool)> =
        packaged.into_iter().flat_map(|p| p.files).collect();
    site.log(
        now,
        if o.import_key.is_some() {
            EventKind::Import
        } else {
            EventKind::Init
        },
        None,
        Some(format!("{} backups", o.backups)),
    );
    let mut cert_warnings = Vec::new();
    if let Some(cp) = &o.import_cert {
        let ReadCert {
            cert,
            data,
            warnings,
        } = keyring::read_cert(&site, cp, "primary.cert.pem", now)?;
        cert_warnings = warnings;
        if cert.key != "primary" {
            return Err(Error::input(
                cp.display().to_string(),
                "the certificate is not for the imported key",
            ));
        }
        site.certificates.push(cert);
        files.push(("primary.cert.pem".into(), data, false));
        site.log(now, EventKind::CertAdd, Some("primary"), None);
    }
    if let Some(h) = &served {
        lifecycle::import_served(&mut site, h, o.served.since.unwrap_or(now), now);
    }
    if let Some(t) = &o.served.probe {
        site.log(
            now,
            EventKind::Deployed,
            Some("primary"),
            Some(format!("probe of {} saw it", crate::probe::redact(&t.url))),
        );
    }
    cert_warnings.extend(served_notes);
    site.check()
        .map_err(|m| Error::Internal(format!("the new state is inconsistent: {m}")))?;

    let lock = ctx.store.lock()?;
    ctx.store.create_site(&lock, &site, &files)?;

    let report = init_report(ctx, &mut site, &files, cert_warnings)?;
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}
