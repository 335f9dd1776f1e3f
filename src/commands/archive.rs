//! `pinctl archive copy` and `pinctl archive verify`: offline copies of a
//! key's archive, recorded and checked.

use std::path::Path;

use serde_json::json;

use super::report::{emit, ArchiveReport};
use super::{inside, json, Ctx, Out};
use crate::archive::{self};
use crate::error::{Error, Result};
use crate::keyring::{self};
use crate::state::{self, EventKind, OfflineCopy};
use crate::text::rfc3339;

/// Creates a new file with mode 0600 in one step (temporary file, fsync,
/// link into place); never follows or replaces an existing file, and a
/// crash leaves either no file or the whole one.
fn write_new_secret(dest: &Path, data: &[u8]) -> Result<()> {
    crate::fsutil::write_new_atomic(dest, data, true)
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
    crate::state::check_name(crate::state::NameKind::Location, location)
        .map_err(|m| Error::Usage(format!("--location: {m}")))?;
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let key = site.require_key(name)?.clone();
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
    let data = crate::fsutil::read_capped(&src, archive::MAX_ARCHIVE)?;
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
        "sha256": key.archive_sha256, "file": file, "copied": rfc3339(ctx.now),
    });
    crate::fsutil::write_atomic(&to_abs.join(&manifest), json(&m)?.as_bytes(), false)?;
    let path = to_abs.display().to_string();
    let k = site
        .key_mut(name)
        .ok_or_else(|| Error::Usage(name.to_string()))?;
    k.copies.retain(|c| c.path != path);
    k.copies.push(OfflineCopy {
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
    let data = crate::fsutil::read_capped(&path, archive::MAX_ARCHIVE)?;
    if state::sha256_hex(&data) != key.archive_sha256 {
        return Err(Error::input(
            path.display().to_string(),
            "the copy differs from the archive in the state (damaged or tampered)",
        ));
    }
    keyring::open_archive(
        || crate::secret::passphrase(ctx.passphrase_file.as_deref(), false),
        &site,
        &key,
        &path,
        identity,
        None,
    )?;
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
