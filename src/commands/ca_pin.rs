//! `pinctl ca-pin add|remove|list`: pins of CA keys in the pinset.

use std::path::Path;

use serde_json::json;

use super::report::{emit, CaPinReport};
use super::{json, Ctx, Out};
use crate::error::{Error, Result};
use crate::pin::Pin;
use crate::state::{CaPin, EventKind};
use crate::text::rfc3339;

/// `pinctl ca-pin add`.
pub fn ca_pin_add(
    ctx: &Ctx,
    name: &str,
    pin: Option<&str>,
    from: Option<&Path>,
    out: &mut Out,
) -> Result<i32> {
    crate::state::check_name(crate::state::NameKind::CaPin, name).map_err(Error::Usage)?;
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (pin, subject) = match (pin, from) {
        (Some(p), None) => (
            Pin::parse(p).map_err(|e| Error::Usage(format!("--pin: {e}")))?,
            None,
        ),
        (None, Some(f)) => {
            let infos = crate::pin_file::pins_of_file(f)?;
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
pub fn ca_pin_list(ctx: &Ctx, out: &mut Out) -> Result<i32> {
    let as_json = ctx.json;
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    if as_json {
        let v: Vec<_> = site
            .ca_pins
            .iter()
            .map(|c| json!({"name": c.name, "pin": c.pin, "added": rfc3339(c.added), "subject": c.subject}))
            .collect();
        out.line(json(&v)?);
    } else {
        for c in &site.ca_pins {
            out.line(format!(
                "{}  {}  {}",
                c.name,
                c.pin,
                crate::text::printable(c.subject.as_deref().unwrap_or(""))
            ));
        }
    }
    Ok(0)
}
