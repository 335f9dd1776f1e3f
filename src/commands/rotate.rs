//! `pinctl rotate`: promotes a backup when `lifecycle::rotate` says it is
//! safe, makes the new backups, and writes them so that a failure leaves
//! the folder as it was.

use super::report::{blocker_lines, emit, safe_text, LockedOut, RotateReport};
use super::terminal::{generate_with_progress, protection};
use super::{site_dir, Ctx, Out};
use crate::error::{Error, Result};
use crate::keyring::{self, package_keys};
use crate::lifecycle::{self, RotateRefusal};
use crate::state::{EventKind, Method, Role};
use crate::text::rfc3339;

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
    let r = lifecycle::rotate(&mut site, name, ctx.now, compromised, force)
        .map_err(|e| refusal(&domain, &site, name, e))?;
    let mut report = RotateReport {
        site: domain.clone(),
        at: rfc3339(ctx.now),
        dry_run,
        promoted: r.promoted.clone(),
        old_active: r.old_active.clone(),
        compromised: r.compromised,
        compromised_trusted_until: r
            .compromised_trusted_until
            .filter(|t| *t != chrono::DateTime::<chrono::Utc>::MAX_UTC)
            .map(rfc3339),
        compromised_trusted_forever: r.compromised_trusted_until
            == Some(chrono::DateTime::<chrono::Utc>::MAX_UTC),
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
        report.plan = crate::plan::promotion(&before, &site_dir(ctx, &domain), name, ctx.now);
        super::acme::plan_commands(ctx, &mut report.plan, name);
        let text = report.text();
        emit(ctx.json, &report, text, out)?;
        return Ok(0);
    }
    check_recipients(&before, o.accept_recipients, &mut report.warnings)?;
    let packaged = new_backups(ctx, &before, &site, name, new_type, &r.new_backups)?;
    let lock = lock.ok_or_else(|| Error::Internal("rotate holds no lock".into()))?;
    write_backups(ctx, &lock, &before, &mut site, &packaged)?;
    report.desired_header = Some(lifecycle::desired_header(&site).line());
    report.plan = crate::plan::promotion(&site, &site_dir(ctx, &domain), name, ctx.now);
    super::acme::plan_commands(ctx, &mut report.plan, name);
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}

/// A refused rotation as the error rotate exits with.
fn refusal(domain: &str, site: &crate::state::Site, name: &str, e: RotateRefusal) -> Error {
    match e {
        RotateRefusal::UnknownKey(n) => Error::Usage(format!("{domain} has no key named {n}")),
        RotateRefusal::NotABackup(n, role) => Error::Refused(format!(
            "refused: {n} is {}, not a backup; only a backup can be promoted",
            role.as_str()
        )),
        RotateRefusal::NotSafe { blockers, safe_from } => Error::Refused(format!(
            "refused: promoting {name} now would lock out visitors: {}; {} (or pass --force to lock them out knowingly)",
            blocker_lines(site, name, &blockers),
            safe_text(safe_from, &blockers)
        )),
    }
}

/// A change of recipients since the existing archives were sealed: refused
/// unless accepted, then a warning.
fn check_recipients(
    before: &crate::state::Site,
    accept: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if let Some((old, new)) = before.recipients_changed() {
        let show = crate::state::describe_recipients;
        if !accept {
            return Err(Error::Refused(format!(
                "refused: site.yaml now seals new archives to {} but the existing archives were sealed to {}; if this change is yours, run again with --accept-recipients",
                show(&new),
                show(&old)
            )));
        }
        warnings.push(format!(
            "new backups are sealed to {} (the existing archives to {})",
            show(&new),
            show(&old)
        ));
    }
    Ok(())
}

/// The new backups, generated and packaged for the site's protection;
/// with a passphrase, only once it opens an archive the site has.
fn new_backups(
    ctx: &Ctx,
    before: &crate::state::Site,
    site: &crate::state::Site,
    name: &str,
    new_type: crate::keys::KeyType,
    names: &[String],
) -> Result<Vec<crate::keyring::NewKey>> {
    let domain = &site.domain;
    let protection = protection(ctx.passphrase_file.as_deref(), &site.encryption, false)?;
    if site.encryption.method == Method::Passphrase {
        // A mistyped passphrase would seal the new backups away for good:
        // it must open an archive the site already has.
        let k = before
            .key(name)
            .ok_or_else(|| Error::Usage(name.to_string()))?;
        let path = ctx.store.site_dir(domain).join(&k.archive);
        keyring::open_archive(
            || crate::secret::passphrase(ctx.passphrase_file.as_deref(), false),
            before,
            k,
            &path,
            None,
            Some(&protection),
        )?;
    }
    let types = vec![new_type; names.len()];
    let made = generate_with_progress(&types)?;
    let named = names
        .iter()
        .cloned()
        .zip(made)
        .map(|(n, k)| (n, Role::Backup, k))
        .collect();
    package_keys(
        domain,
        &site.sans,
        named,
        &protection,
        site.encryption.armor,
        ctx.now,
    )
}

/// Writes the new backups' CSRs and archives and saves the state; if
/// anything fails before the state is saved, the new files are removed so
/// that the folder is exactly as before.
fn write_backups(
    ctx: &Ctx,
    lock: &crate::store::Lock,
    before: &crate::state::Site,
    site: &mut crate::state::Site,
    packaged: &[crate::keyring::NewKey],
) -> Result<()> {
    let domain = site.domain.clone();
    // Every new file is removed again if a later write fails (a full
    // disk): the folder is then exactly as before the command.
    let mut written = Written::default();
    for p in packaged {
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
            ctx.store.add_file(lock, &domain, file, data, *secret)?;
            written.0.push(path);
        }
        site.keys.push(p.key.clone());
        site.log(ctx.now, EventKind::BackupNew, Some(&p.key.name), None);
    }
    if let Err(e) = ctx.store.save(lock, site) {
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
    Ok(())
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
