//! `pinctl key export` and `pinctl key destroy`.

use std::path::Path;

use super::report::{emit, KeyReport};
use super::{inside, Ctx, Out};
use crate::error::{Error, Result};
use crate::keyring::{self};
use crate::state::{EventKind, Role};
use crate::text::rfc3339;

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
    let k = keyring::open_archive(
        || crate::secret::passphrase(ctx.passphrase_file.as_deref(), false),
        &site,
        key,
        &archive_path,
        identity,
        None,
    )?;
    let pem = k.pkcs8_pem();
    crate::fsutil::write_clear_key(dest, pem.as_bytes(), force)?;
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
            rfc3339(at)
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
                .map(|t| format!("from {}", rfc3339(t)))
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
    let dir = ctx.store.site_dir(&domain);
    let path = dir.join(&key.archive);
    let copies_to_destroy: Vec<String> = key
        .copies
        .iter()
        .map(|c| format!("{} ({})", c.path, c.location))
        .collect();
    match crate::failpoint::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            // The copies are left to destroy whatever happened here.
            for c in &copies_to_destroy {
                out.warn(format!("destroy {name}'s offline copy too: {c}"));
            }
            return Err(Error::state(
                &path,
                format!("{name} is recorded as destroyed, but its archive could not be deleted ({e}); delete it by hand"),
            ));
        }
    }
    // The unlink lasts only once the folder is synced: a crash could
    // otherwise bring the archive back.
    crate::fsutil::sync_dir(&dir)?;
    drop(lock);
    let report = KeyReport {
        site: domain,
        key: name.to_string(),
        action: "destroyed",
        path: path.display().to_string(),
        copies_to_destroy,
    };
    let text = report.text();
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}
