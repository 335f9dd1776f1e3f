//! Commands that make and look after a site's keys: `init`, `import`,
//! `status`, `key export`, `archive copy` and `archive verify`.

use std::io::IsTerminal as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::report::{emit, ArchiveReport, FileLine, InitReport, KeyLine, KeyReport};
use super::{json, pins_of_file, read_input, ts, Ctx, Out};
use crate::archive::{self, Protection};
use crate::csr;
use crate::error::{Error, Result};
use crate::header::Mode;
use crate::keys::{self, KeyType, PrivateKey};
use crate::lifecycle::{self, SafeFrom};
use crate::state::{self, Cert, Copy, Encryption, EventKind, Key, Method, Policy, Role, Site};

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
}

/// How the site's archives are protected, from the state and the user.
pub fn protection(ctx: &Ctx, enc: &Encryption, confirm: bool) -> Result<Protection> {
    match enc.method {
        Method::Recipients => Ok(Protection::Recipients(enc.recipients.clone())),
        Method::Passphrase => Ok(Protection::Passphrase(crate::secret::passphrase(
            ctx.passphrase_file.as_deref(),
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
    let infos = pins_of_file(path)?;
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
    let data = read_input(path)?.to_vec();
    let credit = crate::chain::credit(&crate::chain::links(&label, &data)?);
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
        added: now,
    };
    Ok(ReadCert {
        cert,
        data,
        warnings,
    })
}

fn collect_recipients(o: &InitOptions) -> Result<Vec<String>> {
    let mut list = Vec::new();
    for r in &o.recipients {
        archive::parse_recipient(r)?;
        list.push(r.trim().to_string());
    }
    if let Some(f) = &o.recipients_file {
        let data = read_input(f)?;
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
pub fn init(ctx: &Ctx, o: &InitOptions, out: &mut Out) -> Result<i32> {
    // Everything is checked before the first key is made: a failure leaves
    // nothing behind.
    let normalized = state::normalize_domain(&o.domain).map_err(Error::Usage)?;
    let o = &InitOptions {
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
        super::rollout::check_report_uri(u)?;
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
    let recipients = collect_recipients(o)?;
    let imported = match &o.import_key {
        Some(p) => {
            let data = read_input(p)?;
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
    let protection = protection(ctx, &encryption, true)?;

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
        } = read_cert(&site, cp, "primary.cert.pem", now)?;
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
    site.check()
        .map_err(|m| Error::Internal(format!("the new state is inconsistent: {m}")))?;

    let lock = ctx.store.lock()?;
    ctx.store.create_site(&lock, &site, &files)?;

    let dir = ctx.store.site_dir(&site.domain);
    site.related = ctx.store.related(&site)?;
    let mut warnings = Vec::new();
    if let Some(primary) = site.active() {
        let held = lifecycle::blockers(&site, primary, ctx.now);
        if let Some(b) = held.first() {
            let parent = b.site.clone().unwrap_or_default();
            warnings.push(format!(
                "{parent} publishes includeSubDomains, so its pinset binds {}: clients that saw {parent} reject {}'s new keys ({}). pinctl refuses {}'s certificates and headers until then; add its keys to {parent}'s pinset (pinctl --site {parent} ca-pin add NAME --pin PIN, then publish there) to serve it sooner",
                site.domain,
                site.domain,
                match lifecycle::safe_from(&site, primary) {
                    SafeFrom::At(t) => format!("until {}", ts(t)),
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
        header: lifecycle::desired_header(&site).line(),
        next_steps,
        warnings,
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

fn safe_from_text(sf: SafeFrom, now: chrono::DateTime<chrono::Utc>) -> String {
    match sf {
        SafeFrom::At(t) if t <= now => "now".into(),
        SafeFrom::At(t) => ts(t),
        SafeFrom::Never => "never while a live header lacks it".into(),
    }
}

/// JSON for `status`: the shape CLI.md promises.
pub fn site_json(site: &Site, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    let keys: Vec<_> = site
        .keys
        .iter()
        .map(|k| {
            json!({
                "name": k.name,
                "role": k.role.as_str(),
                "algorithm": k.key_type.as_str(),
                "pin": k.pin,
                "created": ts(k.created),
                "role_since": ts(k.role_since),
                "safe_from": match lifecycle::safe_from(site, k) {
                    SafeFrom::At(t) => Some(ts(t)),
                    SafeFrom::Never => None,
                },
                "archive": k.archive,
                "csr": k.csr,
                "copies": k.copies.iter().map(|c| json!({
                    "location": c.location,
                    "path": c.path,
                    "copied": ts(c.copied),
                    "verified": c.verified.map(ts),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let live = site.live().map(|p| {
        let h = lifecycle::header_of(p);
        json!({
            "header": h.line(),
            "pins": p.pins,
            "max_age": p.max_age,
            "mode": p.mode.as_str(),
            "from": ts(p.from),
            // Open while live: the end if it were replaced now; Report-Only
            // and max-age=0 retain nothing.
            "retained_until": match lifecycle::retention(p) {
                lifecycle::Retention::Nothing => None,
                _ => Some(ts(lifecycle::add_secs(now, p.max_age))),
            },
        })
    });
    json!({
        "domain": site.domain,
        "policy": {
            "mode": site.policy.mode.as_str(),
            "max_age": site.policy.max_age,
            "include_subdomains": site.policy.include_subdomains,
            "report_uri": site.policy.report_uri,
        },
        "keys": keys,
        "certificates": site.certificates.iter().map(|c| json!({
            "key": c.key, "file": c.file, "subject": c.subject,
            "not_before": ts(c.not_before), "not_after": ts(c.not_after), "chain_pins": c.chain_pins,
            "issuer_pin": c.issuer_pin,
        })).collect::<Vec<_>>(),
        "ca_pins": site.ca_pins.iter().map(|c| json!({"name": c.name, "pin": c.pin})).collect::<Vec<_>>(),
        "live": live,
        "desired_header": lifecycle::desired_header(site).line(),
    })
}

/// `pinctl status`.
pub fn status(ctx: &Ctx, as_json: bool, out: &mut Out) -> Result<i32> {
    let domains = match &ctx.site {
        Some(d) => vec![ctx.store.pick(Some(d))?],
        None => ctx.store.sites()?,
    };
    if domains.is_empty() {
        ctx.store.pick(None)?;
    }
    let sites: Vec<Site> = domains
        .iter()
        .map(|d| ctx.store.load(d))
        .collect::<Result<_>>()?;
    if as_json {
        let v = json!({ "sites": sites.iter().map(|s| site_json(s, ctx.now)).collect::<Vec<_>>() });
        out.line(json(&v)?);
        return Ok(0);
    }
    for (i, site) in sites.iter().enumerate() {
        if i > 0 {
            out.line("");
        }
        out.line(format!("{}: policy {}", site.domain, site.policy.summary()));
        out.line(format!(
            "  {:<9} {:<11} {:<8} {:<44} {:<20} {:<20} {}",
            "KEY", "ROLE", "TYPE", "PIN", "CREATED", "SAFE FROM", "COPIES"
        ));
        for k in &site.keys {
            let verified = k.copies.iter().filter(|c| c.verified.is_some()).count();
            out.line(format!(
                "  {:<9} {:<11} {:<8} {:<44} {:<20} {:<20} {} ({} verified)",
                k.name,
                k.role.as_str(),
                k.key_type.as_str(),
                k.pin,
                ts(k.created),
                match k.role {
                    Role::Active | Role::Backup =>
                        safe_from_text(lifecycle::safe_from(site, k), ctx.now),
                    _ => "-".to_string(),
                },
                k.copies.len(),
                verified,
            ));
        }
        for c in &site.certificates {
            out.line(format!(
                "  certificate {} for {}: {} valid {} to {}",
                c.file,
                c.key,
                c.subject,
                ts(c.not_before),
                ts(c.not_after)
            ));
        }
        for c in &site.ca_pins {
            out.line(format!("  ca-pin {}: {}", c.name, c.pin));
        }
        let desired = lifecycle::desired_header(site);
        match site.live() {
            Some(live) => {
                out.line(format!(
                    "  live since {}: {} pins, {} max-age={}{}",
                    ts(live.from),
                    live.pins.len(),
                    live.mode.as_str(),
                    live.max_age,
                    match lifecycle::retention(live) {
                        lifecycle::Retention::Nothing if live.mode == Mode::ReportOnly =>
                            " (Report-Only: not retained by clients)",
                        lifecycle::Retention::Nothing =>
                            " (max-age=0: clients that see it forget the pins)",
                        _ => " (retained by clients until max-age after it is replaced)",
                    }
                ));
                out.line(format!(
                    "  live header:    {}",
                    lifecycle::header_of(live).line()
                ));
                if !lifecycle::same_as(live, &desired) {
                    out.line(format!(
                        "  desired header: {} (deploy it, then pinctl publish)",
                        desired.line()
                    ));
                }
            }
            None => {
                out.line("  live: nothing published yet");
                out.line(format!(
                    "  desired header: {} (deploy it, then pinctl publish)",
                    desired.line()
                ));
            }
        }
        for k in &site.keys {
            if let Some(at) = k.destroyed {
                out.line(format!("  {} was destroyed on {}", k.name, ts(at)));
            }
        }
        if let Some((old, new)) = site.recipients_changed() {
            out.line(format!(
                "  warning: site.yaml seals new archives to {} but the existing ones were sealed to {}",
                state::describe_recipients(&new),
                state::describe_recipients(&old)
            ));
        }
        if let Some(end) = lifecycle::last_retention_end(site).filter(|e| *e > ctx.now) {
            out.line(format!(
                "  clients may hold earlier pinsets until {}",
                ts(end)
            ));
        }
        for k in site.backups() {
            if k.copies.len() < 2 {
                out.line(format!(
                    "  warning: {} has {} of 2 recorded offline copies (pinctl archive copy {} --to DIR --location LABEL)",
                    k.name,
                    k.copies.len(),
                    k.name
                ));
            }
        }
    }
    Ok(0)
}

/// Decrypts a key's archive (from the state folder or a copy) and checks
/// that it holds the key the state records. `passphrase` is the one the
/// command already read, if any: a command asks for a secret once.
pub fn open_archive(
    ctx: &Ctx,
    site: &Site,
    key: &Key,
    path: &Path,
    identity: Option<&Path>,
    passphrase: Option<&Protection>,
) -> Result<PrivateKey> {
    let label = path.display().to_string();
    let data = super::read_capped(path, archive::MAX_ARCHIVE)?;
    let plain = match site.encryption.method {
        Method::Passphrase => {
            let read;
            let p = match passphrase {
                Some(Protection::Passphrase(p)) => p,
                _ => {
                    read = crate::secret::passphrase(ctx.passphrase_file.as_deref(), false)?;
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
            let text = read_input(idp)?;
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

fn inside(path: &Path, root: &Path) -> bool {
    let Ok(root) = root.canonicalize() else {
        return false;
    };
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    // The file may not exist yet: resolve its folder.
    let parent = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    match parent.canonicalize() {
        Ok(p) => p.starts_with(&root),
        Err(_) => abs.starts_with(&root),
    }
}

/// `pinctl key export`.
pub fn key_export(
    ctx: &Ctx,
    name: &str,
    dest: &Path,
    force: bool,
    identity: Option<&Path>,
    out: &mut Out,
) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    let key = site.require_key(name)?;
    if inside(dest, &ctx.store.root) {
        return Err(Error::Usage(format!(
            "{}: refusing to write a key in the clear inside the state folder",
            dest.display()
        )));
    }
    if dest.exists() && !force {
        return Err(Error::Usage(format!(
            "{}: already exists; pass --force to overwrite it",
            dest.display()
        )));
    }
    let archive_path = ctx.store.site_dir(&domain).join(&key.archive);
    let k = open_archive(ctx, &site, key, &archive_path, identity, None)?;
    let pem = k.pkcs8_pem();
    state::write_clear_key(dest, pem.as_bytes(), force)?;
    let report = KeyReport {
        site: domain,
        key: name.to_string(),
        action: "exported",
        path: dest.display().to_string(),
        copies_to_destroy: Vec::new(),
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// `pinctl key destroy`: deletes the archive of a retired or compromised
/// key once the plan says it may go, and records that it is gone.
pub fn key_destroy(ctx: &Ctx, name: &str, force: bool, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let key = site.require_key(name)?.clone();
    if let Some(at) = key.destroyed {
        return Err(Error::Usage(format!(
            "{name}'s archive was destroyed on {} already",
            ts(at)
        )));
    }
    match key.role {
        Role::Retired | Role::Compromised => {}
        r => {
            return Err(Error::Refused(format!(
                "refused: {name} is {}; only a retired or compromised key can be destroyed",
                r.as_str()
            )))
        }
    }
    // A retired key may be needed to roll back while clients may still
    // accept it; a compromised one is never served again.
    if key.role == Role::Retired {
        let may_go = crate::plan::destroy_after(&site, &key.pin);
        if may_go.is_none_or(|t| t > ctx.now) && !force {
            let when = may_go
                .map(|t| format!("from {}", ts(t)))
                .unwrap_or_else(|| "once no live header holds its pin".into());
            return Err(Error::Refused(format!(
                "refused: clients may still accept {name}, so it is the only roll-back if its successor fails; it may be destroyed {when} (or pass --force)"
            )));
        }
    }
    if let Some(k) = site.key_mut(name) {
        k.destroyed = Some(ctx.now);
    }
    site.log(
        ctx.now,
        EventKind::KeyDestroy,
        Some(name),
        Some(key.archive.clone()),
    );
    ctx.store.save(&lock, &site)?;
    let path = ctx.store.site_dir(&domain).join(&key.archive);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Write { path, source: e }),
    }
    drop(lock);
    let report = KeyReport {
        site: domain,
        key: name.to_string(),
        action: "destroyed",
        path: path.display().to_string(),
        copies_to_destroy: key
            .copies
            .iter()
            .map(|c| format!("{} ({})", c.path, c.location))
            .collect(),
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// Creates a new file with mode 0600 in one step (temporary file, fsync,
/// link into place); never follows or replaces an existing file, and a
/// crash leaves either no file or the whole one.
fn write_new_secret(dest: &Path, data: &[u8]) -> Result<()> {
    state::write_new_atomic(dest, data, true)
}

fn copy_names(domain: &str, name: &str) -> (String, String) {
    (
        format!("{domain}-{name}.key.age"),
        format!("{domain}-{name}.manifest.json"),
    )
}

/// `pinctl archive copy`.
pub fn archive_copy(
    ctx: &Ctx,
    name: &str,
    to: &Path,
    location: &str,
    out: &mut Out,
) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let key = site.require_key(name)?.clone();
    if location.chars().any(char::is_control) || location.chars().count() > 200 {
        return Err(Error::Usage(
            "--location: at most 200 characters, and no control characters (it is stored in site.yaml and printed)".into(),
        ));
    }
    if location.trim().is_empty() {
        return Err(Error::Usage(
            "--location must name the place (e.g. 'safe A')".into(),
        ));
    }
    if !to.is_dir() {
        return Err(Error::Usage(format!("{}: not a folder", to.display())));
    }
    let to_abs = to.canonicalize().map_err(|e| Error::Read {
        path: to.to_path_buf(),
        source: e,
    })?;
    if inside(&to_abs.join("x"), &ctx.store.root) {
        return Err(Error::Usage(format!(
            "{}: an offline copy belongs outside the state folder",
            to.display()
        )));
    }
    let src = ctx.store.site_dir(&domain).join(&key.archive);
    let data = super::read_capped(&src, archive::MAX_ARCHIVE)?;
    let (file, manifest) = copy_names(&domain, name);
    let dest = to_abs.join(&file);
    match std::fs::read(&dest) {
        Ok(existing) if existing == *data => {}
        Ok(_) => {
            return Err(Error::Usage(format!(
                "{}: a different file is already there; refusing to overwrite it",
                dest.display()
            )))
        }
        Err(_) => write_new_secret(&dest, &data)?,
    }
    let m = json!({
        "domain": domain, "key": name, "pin": key.pin,
        "sha256": key.archive_sha256, "file": file, "copied": ts(ctx.now),
    });
    state::write_atomic(&to_abs.join(&manifest), json(&m)?.as_bytes(), false)?;
    let path = to_abs.display().to_string();
    let k = site
        .key_mut(name)
        .ok_or_else(|| Error::Usage(name.to_string()))?;
    k.copies.retain(|c| c.path != path);
    k.copies.push(Copy {
        location: location.to_string(),
        path: path.clone(),
        sha256: key.archive_sha256.clone(),
        copied: ctx.now,
        verified: None,
    });
    let copies = k.copies.len();
    site.log(
        ctx.now,
        EventKind::ArchiveCopy,
        Some(name),
        Some(format!("{location}: {path}")),
    );
    ctx.store.save(&lock, &site)?;
    let report = ArchiveReport {
        site: domain,
        key: name.to_string(),
        action: "copied",
        location: location.to_string(),
        path: dest.display().to_string(),
        pin: key.pin.clone(),
        copies,
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// `pinctl archive verify`.
pub fn archive_verify(
    ctx: &Ctx,
    name: &str,
    from: &Path,
    identity: Option<&Path>,
    out: &mut Out,
) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let key = site.require_key(name)?.clone();
    let from_abs = from.canonicalize().map_err(|e| Error::Read {
        path: from.to_path_buf(),
        source: e,
    })?;
    let (file, _) = copy_names(&domain, name);
    let path = from_abs.join(&file);
    let data = super::read_capped(&path, archive::MAX_ARCHIVE)?;
    if state::sha256_hex(&data) != key.archive_sha256 {
        return Err(Error::input(
            path.display().to_string(),
            "the copy differs from the archive in the state (damaged or tampered)",
        ));
    }
    open_archive(ctx, &site, &key, &path, identity, None)?;
    let dir = from_abs.display().to_string();
    let k = site
        .key_mut(name)
        .ok_or_else(|| Error::Usage(name.to_string()))?;
    let Some(c) = k.copies.iter_mut().find(|c| c.path == dir) else {
        return Err(Error::Usage(format!(
            "the copy at {dir} decrypts and matches, but no copy of {name} is recorded there; record it with `pinctl archive copy {name} --to {dir} --location LABEL`"
        )));
    };
    c.verified = Some(ctx.now);
    let location = c.location.clone();
    site.log(
        ctx.now,
        EventKind::ArchiveVerify,
        Some(name),
        Some(format!("{location}: {dir}")),
    );
    let copies = site.key(name).map_or(0, |k| k.copies.len());
    ctx.store.save(&lock, &site)?;
    let report = ArchiveReport {
        site: domain,
        key: name.to_string(),
        action: "verified",
        location,
        path: path.display().to_string(),
        pin: key.pin.clone(),
        copies,
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}
