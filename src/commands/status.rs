//! `pinctl status`: keys, certificates, the live and desired headers, in
//! text or JSON.

use serde_json::json;

use super::{json, Ctx, Out};
use crate::error::Result;
use crate::header::Mode;
use crate::lifecycle::{self, SafeFrom};
use crate::state::{self, Role, Site};
use crate::text::rfc3339;

fn safe_from_text(sf: SafeFrom, now: chrono::DateTime<chrono::Utc>) -> String {
    match sf {
        SafeFrom::At(t) if t <= now => "now".into(),
        SafeFrom::At(t) => rfc3339(t),
        SafeFrom::Never => "never while a live header lacks it".into(),
    }
}

/// JSON for `status`: the shape docs/cli.md promises.
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
                "created": rfc3339(k.created),
                "role_since": rfc3339(k.role_since),
                "safe_from": match lifecycle::safe_from(site, k) {
                    SafeFrom::At(t) => Some(rfc3339(t)),
                    SafeFrom::Never => None,
                },
                "archive": k.archive,
                "csr": k.csr,
                "copies": k.copies.iter().map(|c| json!({
                    "location": c.location,
                    "path": c.path,
                    "copied": rfc3339(c.copied),
                    "verified": c.verified.map(rfc3339),
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
            "from": rfc3339(p.from),
            // Open while live: the end if it were replaced now; Report-Only
            // and max-age=0 retain nothing.
            "retained_until": lifecycle::held_until_if_replaced(p, now).map(rfc3339),
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
            "not_before": rfc3339(c.not_before), "not_after": rfc3339(c.not_after), "chain_pins": c.chain_pins,
            "issuer_pin": c.issuer_pin,
        })).collect::<Vec<_>>(),
        "ca_pins": site.ca_pins.iter().map(|c| json!({"name": c.name, "pin": c.pin})).collect::<Vec<_>>(),
        "live": live,
        "desired_header": lifecycle::desired_header(site).line(),
    })
}

/// One site's part of `{"sites": [...]}`, pretty, byte for byte as
/// `json` writes it in the whole. A JSON string holds no raw line break,
/// so indenting a site's own text by its depth gives what printing the
/// whole would.
fn site_part(site: &Site, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    json(&site_json(site, now)).map(|t| t.replace('\n', "\n    "))
}

/// `{"sites": [...]}` from the sites' parts, in order.
fn fleet_json(parts: Vec<String>, out: &mut Out) -> Result<()> {
    if parts.is_empty() {
        out.line(json(&json!({ "sites": [] }))?);
        return Ok(());
    }
    let mut text = Vec::with_capacity(2 * parts.len() + 1);
    text.push("{\n  \"sites\": [\n    ".to_string());
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            text.push(",\n    ".to_string());
        }
        text.push(p);
    }
    text.push("\n  ]\n}\n".to_string());
    out.push_parts(text);
    Ok(())
}

/// What `status` warns about, on standard error in either format.
fn warnings(site: &Site) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((old, new)) = site.recipients_changed() {
        out.push(format!(
            "{}: site.yaml seals new archives to {} but the existing ones were sealed to {}",
            site.domain,
            state::describe_recipients(&new),
            state::describe_recipients(&old)
        ));
    }
    for k in site.backups() {
        if k.copies.len() < 2 {
            out.push(format!(
                "{}: {} has {} of 2 recorded offline copies (pinctl archive copy {} --to DIR --location LABEL)",
                site.domain,
                k.name,
                k.copies.len(),
                k.name
            ));
        }
    }
    out
}

/// `pinctl status`: each site judged and printed on its own, on every
/// core for a fleet (benches/fleet.sh).
pub fn status(ctx: &Ctx, out: &mut Out) -> Result<i32> {
    let listing = ctx.store.listing(ctx.site.as_deref())?;
    let each = ctx.store.map_sites(listing, |site| {
        let text = if ctx.json {
            site_part(site, ctx.now)
        } else {
            Ok(site_text(site, ctx.now))
        };
        (warnings(site), text)
    })?;
    let mut parts = Vec::with_capacity(each.len());
    for (warnings, text) in each {
        for w in warnings {
            out.warn(w);
        }
        parts.push(text?);
    }
    if ctx.json {
        return fleet_json(parts, out).map(|()| 0);
    }
    // A blank line between sites.
    let mut text = Vec::with_capacity(2 * parts.len());
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            text.push("\n".to_string());
        }
        text.push(p);
    }
    out.push_parts(text);
    Ok(0)
}

/// One site's part of the text of `status`.
fn site_text(site: &Site, now: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = Out::default();
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
            rfc3339(k.created),
            match k.role {
                Role::Active | Role::Backup => safe_from_text(lifecycle::safe_from(site, k), now),
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
            crate::text::printable(&c.subject),
            rfc3339(c.not_before),
            rfc3339(c.not_after)
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
                rfc3339(live.from),
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
            out.line(format!("  {} was destroyed on {}", k.name, rfc3339(at)));
        }
    }
    if let Some(end) = lifecycle::last_retention_end(site).filter(|e| *e > now) {
        out.line(format!(
            "  clients may hold earlier pinsets until {}",
            rfc3339(end)
        ));
    }
    out.buf
}
