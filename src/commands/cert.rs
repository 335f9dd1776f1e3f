//! `pinctl cert add`: records a certificate for one of the site's keys,
//! judging its chain (`chain`) and refusing one that would lock visitors
//! out.

use std::path::Path;

use super::report::{blocker_lines, emit, CertReport, LockedOut};
use super::{Ctx, Out};
use crate::error::{Error, Result};
use crate::keyring::{self};
use crate::lifecycle::{self};
use crate::state::{EventKind, Role};
use crate::text::rfc3339;

/// `pinctl cert add`.
pub fn cert_add(ctx: &Ctx, file: &Path, force: bool, out: &mut Out) -> Result<i32> {
    let report = record(ctx, file, force, |_, _| Ok(()))?;
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// Judges and records a certificate file as `cert add` does; `also`
/// checks the record and changes the site in the same save (`cert
/// issue` remembers its challenge there), or refuses and nothing is
/// written.
pub fn record(
    ctx: &Ctx,
    file: &Path,
    force: bool,
    also: impl FnOnce(&mut crate::state::Site, &crate::state::Cert) -> Result<()>,
) -> Result<CertReport> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let keyring::ReadCert {
        mut cert,
        data,
        warnings,
    } = keyring::read_cert(&site, file, "", ctx.now)?;
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
    also(&mut site, &cert)?;
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
        not_before: rfc3339(cert.not_before),
        not_after: rfc3339(cert.not_after),
        issuer_pin: cert.issuer_pin.clone(),
        ca_pins: cert.chain_pins.clone(),
        locked_out: LockedOut::list(&domain, &blockers),
        warnings,
    };
    Ok(report)
}
