//! Commands of the lifecycle: `policy`, `header`, `publish`, `rotate`,
//! `plan`, `ca-pin` and `cert add`. The decisions are `lifecycle`'s and
//! `plan`'s; this module loads, locks, writes and reports.

use std::path::Path;

use serde_json::json;

use super::report::{
    emit, plan_lines, CaPinReport, CertReport, Closed, LockedOut, PublishReport, RotateReport,
};
use super::site::{self, package_keys, protection};
use super::{json, pins_of_file, ts, Ctx, Out};
use crate::error::{Error, Result};
use crate::header::{self, Mode};
use crate::lifecycle::{self, Blocker, PublishOutcome, PublishRefusal, RotateRefusal, SafeFrom};
use crate::pin::Pin;
use crate::plan;
use crate::state::{CaPin, EventKind, Method, Role, Site};

/// Flags of `pinctl policy`; `None` leaves a setting as it is.
#[derive(Default)]
pub struct PolicyChange {
    pub max_age: Option<u64>,
    pub mode: Option<Mode>,
    pub include_subdomains: Option<bool>,
    pub report_uri: Option<Option<String>>,
    /// Replaces the recorded endpoints.
    pub endpoints: Option<Vec<crate::state::Endpoint>>,
}

impl PolicyChange {
    fn is_empty(&self) -> bool {
        self.max_age.is_none()
            && self.mode.is_none()
            && self.include_subdomains.is_none()
            && self.report_uri.is_none()
            && self.endpoints.is_none()
    }
}

fn policy_json(site: &Site) -> serde_json::Value {
    json!({
        "site": site.domain,
        "mode": site.policy.mode.as_str(),
        "max_age": site.policy.max_age,
        "include_subdomains": site.policy.include_subdomains,
        "report_uri": site.policy.report_uri,
        "endpoints": site.policy.endpoints.iter().map(|e| json!({"url": e.url, "connect": e.connect})).collect::<Vec<_>>(),
    })
}

/// `pinctl policy`.
pub fn policy(ctx: &Ctx, change: &PolicyChange, as_json: bool, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    if change.is_empty() {
        let site = ctx.store.load(&domain)?;
        return print_policy(&site, as_json, out);
    }
    // Everything given is checked now, not when it is first used.
    if let Some(Some(u)) = &change.report_uri {
        check_report_uri(u)?;
    }
    for e in change.endpoints.iter().flatten() {
        super::verify::refuse_credentials(&e.url)?;
        if !e.url.to_ascii_lowercase().starts_with("https://") {
            return Err(Error::Usage(format!(
                "--endpoint {}: pinning is checked over https; give an https:// URL",
                e.url
            )));
        }
        if let Some(f) = &e.ca_file {
            if !std::path::Path::new(f).is_file() {
                return Err(Error::Usage(format!(
                    "--endpoint-ca-file {f}: no such file"
                )));
            }
        }
    }
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let p = &mut site.policy;
    if let Some(m) = change.max_age {
        p.max_age = m;
    }
    if let Some(m) = change.mode {
        p.mode = m;
    }
    if let Some(s) = change.include_subdomains {
        p.include_subdomains = s;
    }
    if let Some(u) = &change.report_uri {
        p.report_uri = u.clone();
    }
    if let Some(e) = &change.endpoints {
        p.endpoints = e.clone();
    }
    let detail = p.summary();
    site.log(ctx.now, EventKind::Policy, None, Some(detail));
    ctx.store.save(&lock, &site)?;
    print_policy(&site, as_json, out)?;
    if !as_json {
        for w in policy_warnings(&site) {
            out.line(format!("warning: {w}"));
        }
        out.line("Run `pinctl publish` once the new header is deployed.");
    }
    Ok(0)
}

/// A report-uri pinctl will put in a header: absolute, https, no
/// credentials.
pub fn check_report_uri(u: &str) -> Result<()> {
    let (scheme, _) = header::check_uri(u).map_err(Error::Usage)?;
    super::verify::refuse_credentials(u)?;
    if scheme != "https" {
        return Err(Error::Usage(format!(
            "report-uri {u}: use https (reports carry your visitors' chains)"
        )));
    }
    Ok(())
}

fn policy_warnings(site: &Site) -> Vec<String> {
    let mut w = Vec::new();
    let p = &site.policy;
    if p.max_age > header::MAX_AGE_ADVISED {
        w.push(format!(
            "max-age {} is above 60 days ({} s), the maximum RFC 7469 suggests",
            p.max_age,
            header::MAX_AGE_ADVISED
        ));
    }
    if p.mode == Mode::Enforce {
        let live_age = site
            .live()
            .filter(|l| l.mode == Mode::Enforce)
            .map(|l| l.max_age);
        let expected = match live_age {
            None => plan::RAMP[0],
            Some(a) => plan::next_ramp(a).unwrap_or(a),
        };
        if p.max_age > expected {
            w.push(format!(
                "the ramp suggests max-age={expected} next; a longer max-age makes a mistake last longer"
            ));
        }
    }
    if let Some(u) = &p.report_uri {
        if let Ok((_, host)) = header::check_uri(u) {
            let host = host.to_ascii_lowercase();
            if host == site.domain {
                w.push(format!(
                    "report-uri {u} is on the pinned host: reports of pin failures cannot reach it"
                ));
            } else if p.include_subdomains && lifecycle::is_below(&host, &site.domain) {
                w.push(format!(
                    "report-uri {u} is on a subdomain that includeSubDomains pins too: reports of pin failures cannot reach it"
                ));
            }
        }
    }
    w
}

fn print_policy(site: &Site, as_json: bool, out: &mut Out) -> Result<i32> {
    if as_json {
        out.line(json(&policy_json(site))?);
    } else {
        let p = &site.policy;
        out.line(format!("{}: {}", site.domain, p.mode.as_str()));
        out.line(format!("  max-age: {}", p.max_age));
        out.line(format!(
            "  includeSubDomains: {}",
            if p.include_subdomains { "yes" } else { "no" }
        ));
        out.line(format!(
            "  report-uri: {}",
            p.report_uri.as_deref().unwrap_or("none")
        ));
        out.line(format!(
            "  header: {}",
            lifecycle::desired_header(site).line()
        ));
    }
    Ok(0)
}

/// `pinctl header`.
pub fn header(ctx: &Ctx, as_json: bool, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    let h = lifecycle::desired_header(&site);
    if as_json {
        out.line(json(&json!({
            "site": site.domain,
            "name": h.mode.header_name(),
            "value": h.value(),
            "header": h.line(),
            "pins": h.pins,
            "mode": h.mode.as_str(),
            "max_age": h.max_age,
            "include_subdomains": h.include_subdomains,
            "report_uri": h.report_uri,
        }))?);
    } else {
        out.line(h.line());
    }
    Ok(0)
}

fn blocker_lines(site: &Site, key: &str, blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(|b| {
            let whose = match &b.site {
                Some(d) => format!("{d}'s includeSubDomains publication"),
                None => format!("{}'s publication", site.domain),
            };
            let served = match b.until {
                Some(u) => format!("served {} to {}", ts(b.from), ts(u)),
                None => format!("served since {} (live)", ts(b.from)),
            };
            let held = match b.retained_until {
                Some(r) => format!("clients may hold it until {}", ts(r)),
                None => "clients hold it for as long as it is served, plus its max-age".to_string(),
            };
            format!("{whose} {} ({served}) lacks {key}'s pin; {held}", b.number)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn safe_text(sf: SafeFrom, blockers: &[Blocker]) -> String {
    match sf {
        SafeFrom::At(t) => format!("it is safe from {}", ts(t)),
        SafeFrom::Never => {
            let live = blockers.iter().find(|b| b.until.is_none());
            match live.and_then(|b| b.site.as_deref()) {
                Some(d) => format!("it is not safe while {d} serves that header: publish one on {d} that holds it (pinctl --site {d} ca-pin add …) and wait out the older ones"),
                None => "it is not safe while a live publication lacks it: publish a header that holds it and wait out the older ones".into(),
            }
        }
    }
}

/// `pinctl publish`.
pub fn publish(ctx: &Ctx, report_only: bool, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let policy_mode = site.policy.mode;
    if report_only {
        site.policy.mode = Mode::ReportOnly;
    }
    let result = lifecycle::publish(&mut site, ctx.now);
    site.policy.mode = policy_mode;
    let active = site.active().map(|k| k.name.clone()).unwrap_or_default();
    let mut report = PublishReport {
        site: site.domain.clone(),
        at: ts(ctx.now),
        changed: false,
        publication: None,
        header: None,
        closed: None,
        still_locked_out: Vec::new(),
        warnings: Vec::new(),
    };
    match result {
        Ok(PublishOutcome::Unchanged) => {
            let text = report.text();
            emit(ctx.json, &report, text, out)?;
            Ok(0)
        }
        Ok(PublishOutcome::Published { closed, still_locked_out }) => {
            ctx.store.save(&lock, &site)?;
            let Some(live) = site.live() else {
                return Err(Error::Internal("publish opened no publication".into()));
            };
            report.changed = true;
            report.publication = Some(site.publications.len());
            // The recorded header, not the desired one: once this is out,
            // the desired header may already drop a roll-back pin.
            report.header = Some(lifecycle::header_of(live).line());
            report.closed = closed.map(|n| {
                let prev = &site.publications[n - 1];
                let (retained_until, why) = match lifecycle::retention(prev) {
                    lifecycle::Retention::Until(r) => (Some(ts(r)), None),
                    _ if prev.mode == Mode::ReportOnly => (None, Some("Report-Only")),
                    _ => (None, Some("max-age=0")),
                };
                Closed {
                    publication: n,
                    retained_until,
                    why_not_retained: why,
                }
            });
            report.still_locked_out = LockedOut::list(&site.domain, &still_locked_out);
            if lifecycle::reaches_subdomains(live) {
                report.warnings.push(format!(
                    "includeSubDomains binds every subdomain of {} to this pinset, also those pinctl does not manage; each must serve a key the header holds",
                    site.domain
                ));
            }
            let text = report.text();
            emit(ctx.json, &report, text, out)?;
            Ok(0)
        }
        Err(PublishRefusal::SubdomainNotAccepted { domain: sub, key }) => Err(Error::Refused(format!(
            "refused: the includeSubDomains header does not hold the pin of key {key} served by {sub}; clients that note it would be locked out of {sub} (add {sub}'s keys to the pinset, e.g. with ca-pin add, or drop includeSubDomains)"
        ))),
        Err(PublishRefusal::NoActiveKey) => Err(Error::Refused("refused: the site has no active key".into())),
        Err(PublishRefusal::ActiveNotInPinset) => Err(Error::Refused(format!(
            "refused: the desired header does not hold the active key {active} (nor a CA key of its chain); serving it would be ignored or lock visitors out"
        ))),
        Err(PublishRefusal::NoBackupPin) => Err(Error::Refused(
            "refused: the desired header has no pin outside the active key's chain (no backup); browsers ignore such a header (RFC 7469 section 4.3)".into(),
        )),
        Err(PublishRefusal::ActiveNotSafe { blockers, safe_from }) => Err(Error::Refused(format!(
            "refused: serving the active key {active} would lock out visitors: {}; {}",
            blocker_lines(&site, &active, &blockers),
            safe_text(safe_from, &blockers)
        ))),
    }
}

/// Flags of `pinctl rotate`.
pub struct RotateOptions {
    pub name: String,
    pub compromised: bool,
    pub force: bool,
    pub dry_run: bool,
    pub accept_recipients: bool,
}

/// `pinctl rotate`.
pub fn rotate(ctx: &Ctx, o: &RotateOptions, out: &mut Out) -> Result<i32> {
    let (name, compromised, force, dry_run) = (o.name.as_str(), o.compromised, o.force, o.dry_run);
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = if dry_run {
        (None, ctx.store.load(&domain)?)
    } else {
        let (l, s) = ctx.store.load_for_update(&domain, ctx.now)?;
        (Some(l), s)
    };
    let before = site.clone();
    let r = match lifecycle::rotate(&mut site, name, ctx.now, compromised, force) {
        Ok(r) => r,
        Err(RotateRefusal::UnknownKey(n)) => {
            return Err(Error::Usage(format!("{domain} has no key named {n}")))
        }
        Err(RotateRefusal::NotABackup(n, role)) => {
            return Err(Error::Refused(format!(
                "refused: {n} is {}, not a backup; only a backup can be promoted",
                role.as_str()
            )))
        }
        Err(RotateRefusal::NotSafe { blockers, safe_from }) => {
            return Err(Error::Refused(format!(
                "refused: promoting {name} now would lock out visitors: {}; {} (or pass --force to lock them out knowingly)",
                blocker_lines(&site, name, &blockers),
                safe_text(safe_from, &blockers)
            )))
        }
    };
    let mut report = RotateReport {
        site: domain.clone(),
        at: ts(ctx.now),
        dry_run,
        promoted: r.promoted.clone(),
        old_active: r.old_active.clone(),
        compromised: r.compromised,
        compromised_trusted_until: r.compromised_trusted_until.map(ts),
        new_backups: r.new_backups.clone(),
        locked_out: LockedOut::list(&domain, &r.forced_over),
        desired_header: None,
        plan: Vec::new(),
        warnings: Vec::new(),
        new_type: String::new(),
    };
    let new_type = before.backups().last().map(|k| k.key_type).unwrap_or(
        before
            .key(name)
            .map(|k| k.key_type)
            .unwrap_or(crate::keys::KeyType::P256),
    );
    report.new_type = new_type.to_string();
    if dry_run {
        report.plan = plan::promotion(&before, &site_dir(ctx, &domain), name, ctx.now);
        let text = report.text();
        emit(ctx.json, &report, text, out)?;
        return Ok(0);
    }
    if let Some((old, new)) = before.recipients_changed() {
        let show = crate::state::describe_recipients;
        if !o.accept_recipients {
            return Err(Error::Refused(format!(
                "refused: site.yaml now seals new archives to {} but the existing archives were sealed to {}; if this change is yours, run again with --accept-recipients",
                show(&new),
                show(&old)
            )));
        }
        report.warnings.push(format!(
            "new backups are sealed to {} (the existing archives to {})",
            show(&new),
            show(&old)
        ));
    }
    let protection = protection(ctx, &site.encryption, false)?;
    if site.encryption.method == Method::Passphrase {
        // A mistyped passphrase would seal the new backups away for good:
        // it must open an archive the site already has.
        let k = before
            .key(name)
            .ok_or_else(|| Error::Usage(name.to_string()))?;
        let path = ctx.store.site_dir(&domain).join(&k.archive);
        site::open_archive(ctx, &before, k, &path, None, Some(&protection))?;
    }
    let types = vec![new_type; r.new_backups.len()];
    let made = site::generate_with_progress(&types)?;
    let named = r
        .new_backups
        .iter()
        .cloned()
        .zip(made)
        .map(|(n, k)| (n, Role::Backup, k))
        .collect();
    let packaged = package_keys(
        &domain,
        &site.sans,
        named,
        &protection,
        site.encryption.armor,
        ctx.now,
    )?;
    let lock = lock.ok_or_else(|| Error::Internal("rotate holds no lock".into()))?;
    // Every new file is removed again if a later write fails (a full
    // disk): the folder is then exactly as before the command.
    let mut written = Written::default();
    for p in &packaged {
        for (file, data, secret) in &p.files {
            // A file left by a crashed rotation holds a key that no state
            // or pinset ever referenced: it may be replaced.
            let path = ctx.store.site_dir(&domain).join(file);
            if path.exists()
                && !before
                    .keys
                    .iter()
                    .any(|k| &k.archive == file || &k.csr == file)
            {
                std::fs::remove_file(&path).map_err(|e| Error::Write {
                    path: path.clone(),
                    source: e,
                })?;
            }
            ctx.store.add_file(&lock, &domain, file, data, *secret)?;
            written.0.push(path);
        }
        site.keys.push(p.key.clone());
        site.log(ctx.now, EventKind::BackupNew, Some(&p.key.name), None);
    }
    if let Err(e) = ctx.store.save(&lock, &site) {
        // Only the folder's fsync may have failed after the rename: then
        // the saved state references the new files, which must stay.
        if ctx
            .store
            .load(&domain)
            .is_ok_and(|s| s.keys.len() == site.keys.len())
        {
            written.0.clear();
        }
        return Err(e);
    }
    written.0.clear();
    report.desired_header = Some(lifecycle::desired_header(&site).line());
    report.plan = plan::promotion(&site, &site_dir(ctx, &domain), name, ctx.now);
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// Files a command wrote that are removed when it fails before its state
/// is saved.
#[derive(Default)]
struct Written(Vec<std::path::PathBuf>);

impl Drop for Written {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A site's folder as the plan names it.
fn site_dir(ctx: &Ctx, domain: &str) -> String {
    ctx.store.site_dir(domain).display().to_string()
}

/// `pinctl plan`.
pub fn plan(ctx: &Ctx, promote: Option<&str>, as_json: bool, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    let steps = match promote {
        Some(n) => {
            let k = site.require_key(n)?;
            if k.role != Role::Backup {
                return Err(Error::Usage(format!(
                    "{n} is {}, not a backup",
                    k.role.as_str()
                )));
            }
            plan::promotion(&site, &site_dir(ctx, &domain), n, ctx.now)
        }
        None => plan::next_steps(&site, &site_dir(ctx, &domain), ctx.now),
    };
    if as_json {
        out.line(json(&json!({ "site": domain, "steps": steps }))?);
    } else {
        out.line(format!("{domain} at {}", ts(ctx.now)));
        if steps.is_empty() {
            out.line("Nothing is due.");
        } else {
            for l in plan_lines(&steps) {
                out.line(l);
            }
        }
    }
    Ok(0)
}

/// `pinctl ca-pin add`.
pub fn ca_pin_add(
    ctx: &Ctx,
    name: &str,
    pin: Option<&str>,
    from: Option<&Path>,
    out: &mut Out,
) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (pin, subject) = match (pin, from) {
        (Some(p), None) => (
            Pin::parse(p).map_err(|e| Error::Usage(format!("--pin: {e}")))?,
            None,
        ),
        (None, Some(f)) => {
            let infos = pins_of_file(f)?;
            if infos.len() != 1 {
                return Err(Error::input(
                    f.display().to_string(),
                    format!(
                        "holds {} objects; give the one CA certificate to pin",
                        infos.len()
                    ),
                ));
            }
            let i = &infos[0];
            if i.kind != crate::pin::Kind::Certificate || i.is_ca != Some(true) {
                return Err(Error::input(
                    f.display().to_string(),
                    format!(
                        "is a {}{}, not a CA certificate; ca-pin pins the key of a CA (an intermediate or root); a site key is pinned already",
                        i.kind.as_str(),
                        if i.kind == crate::pin::Kind::Certificate { " that is not a CA (basicConstraints CA:FALSE or absent)" } else { "" }
                    ),
                ));
            }
            (i.pin.clone(), i.subject.clone())
        }
        _ => {
            return Err(Error::Usage(
                "give exactly one of --pin B64 and --from FILE".into(),
            ))
        }
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::Usage(format!(
            "invalid ca-pin name {name:?} (letters, digits, - and _)"
        )));
    }
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    if site.ca_pins.iter().any(|c| c.name == name) {
        return Err(Error::Usage(format!(
            "a ca-pin named {name} already exists"
        )));
    }
    if site.ca_pins.iter().any(|c| c.pin == pin) || site.keys.iter().any(|k| k.pin == pin) {
        return Err(Error::Usage(format!(
            "pin {pin} is already in {domain}'s pinset"
        )));
    }
    site.ca_pins.push(CaPin {
        name: name.to_string(),
        pin: pin.clone(),
        added: ctx.now,
        subject: subject.clone(),
    });
    site.log(
        ctx.now,
        EventKind::CaPinAdd,
        None,
        Some(format!("{name} {pin}")),
    );
    ctx.store.save(&lock, &site)?;
    let report = CaPinReport {
        site: domain,
        action: "added",
        name: name.to_string(),
        pin,
        subject,
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// `pinctl ca-pin remove`.
pub fn ca_pin_remove(ctx: &Ctx, name: &str, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let Some(removed) = site.ca_pins.iter().position(|c| c.name == name) else {
        return Err(Error::Usage(format!("{domain} has no ca-pin named {name}")));
    };
    let removed = site.ca_pins.remove(removed);
    site.log(
        ctx.now,
        EventKind::CaPinRemove,
        None,
        Some(name.to_string()),
    );
    ctx.store.save(&lock, &site)?;
    let report = CaPinReport {
        site: domain,
        action: "removed",
        name: removed.name,
        pin: removed.pin,
        subject: removed.subject,
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// `pinctl ca-pin list`.
pub fn ca_pin_list(ctx: &Ctx, as_json: bool, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    if as_json {
        let v: Vec<_> = site
            .ca_pins
            .iter()
            .map(|c| json!({"name": c.name, "pin": c.pin, "added": ts(c.added), "subject": c.subject}))
            .collect();
        out.line(json(&v)?);
    } else {
        for c in &site.ca_pins {
            out.line(format!(
                "{}  {}  {}",
                c.name,
                c.pin,
                c.subject.as_deref().unwrap_or("")
            ));
        }
    }
    Ok(0)
}

/// `pinctl cert add`.
pub fn cert_add(ctx: &Ctx, file: &Path, force: bool, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let site::ReadCert {
        mut cert,
        data,
        warnings,
    } = site::read_cert(&site, file, "", ctx.now)?;
    let mut name = format!("{}.cert.pem", cert.key);
    let mut i = 2;
    while site.certificates.iter().any(|c| c.file == name)
        || ctx.store.site_dir(&domain).join(&name).exists()
    {
        name = format!("{}.cert-{i}.pem", cert.key);
        i += 1;
    }
    cert.file = name.clone();
    let blockers = lifecycle::cert_blockers(&site, &cert, ctx.now);
    if !blockers.is_empty() {
        let msg = format!(
            "serving this certificate for the active key {} would lock out visitors: {}",
            cert.key,
            blocker_lines(&site, &cert.key, &blockers)
        );
        if !force {
            return Err(Error::Refused(format!("refused: {msg} (or pass --force)")));
        }
    }
    let role = site.key(&cert.key).map(|k| k.role).unwrap_or(Role::Backup);
    ctx.store.add_file(&lock, &domain, &name, &data, false)?;
    let event = if blockers.is_empty() {
        EventKind::CertAdd
    } else {
        EventKind::CertAddForced
    };
    site.log(ctx.now, event, Some(&cert.key), Some(name.clone()));
    site.certificates.push(cert.clone());
    ctx.store.save(&lock, &site)?;
    let mut warnings = warnings;
    if cert.not_after <= ctx.now {
        warnings.push("this certificate has already expired".into());
    }
    if matches!(role, Role::Retired | Role::Compromised) {
        warnings.push(format!("{} is {}", cert.key, role.as_str()));
    }
    let report = CertReport {
        site: domain.clone(),
        file: name,
        key: cert.key.clone(),
        subject: cert.subject.clone(),
        not_before: ts(cert.not_before),
        not_after: ts(cert.not_after),
        issuer_pin: cert.issuer_pin.clone(),
        ca_pins: cert.chain_pins.clone(),
        locked_out: LockedOut::list(&domain, &blockers),
        warnings,
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// `pinctl snippet`: for the site's desired header, or any `--header`
/// value (validated as `lint` does).
pub fn snippet(
    ctx: &Ctx,
    server: &str,
    report_only: bool,
    header_value: Option<&str>,
    templates: Option<&Path>,
    out: &mut Out,
) -> Result<i32> {
    use crate::snippet::{render, Server};
    let servers: Vec<Server> = if server == "all" {
        Server::ALL.to_vec()
    } else {
        vec![Server::parse(server).ok_or_else(|| {
            Error::Usage(format!(
                "unknown server '{server}' (apache, nginx, lighttpd, iis, caddy, haproxy or all)"
            ))
        })?]
    };
    let (mut h, site_name) = match header_value {
        Some(v) => {
            let l = header::lint(v, &header::LintOptions::default());
            if !l.is_valid() {
                let errors: Vec<String> = l
                    .problems
                    .iter()
                    .filter(|p| p.severity == header::Severity::Error)
                    .map(|p| p.message.clone())
                    .collect();
                return Err(Error::Usage(format!(
                    "--header is not a valid Public-Key-Pins header: {}",
                    errors.join("; ")
                )));
            }
            let name = ctx.site.clone().unwrap_or_else(|| "your site".into());
            (l.header, name)
        }
        None => {
            let domain = ctx.store.pick(ctx.site.as_deref())?;
            let site = ctx.store.load(&domain)?;
            (lifecycle::desired_header(&site), domain)
        }
    };
    if report_only {
        h.mode = Mode::ReportOnly;
    }
    if servers.len() == 1 {
        let text = render(servers[0], &h, &site_name, templates)?;
        out.buf.push_str(&text);
        if !text.ends_with('\n') {
            out.line("");
        }
        return Ok(0);
    }
    for (i, s) in servers.iter().enumerate() {
        if i > 0 {
            out.line("");
        }
        // One separator for every server: the combined output is for
        // reading; each part is pasted into its own file.
        out.line(format!("# ----- {} -----", s.name()));
        match render(*s, &h, &site_name, templates) {
            Ok(text) => {
                out.buf.push_str(&text);
                if !text.ends_with('\n') {
                    out.line("");
                }
            }
            Err(Error::Refused(m)) => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "warning: {m}");
                out.line(s.comment(&m));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}
