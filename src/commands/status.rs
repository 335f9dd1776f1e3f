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

/// `{"sites": [...]}`, pretty, byte for byte as `json` writes it, each
/// site's part made on every core. A JSON string holds no raw line break,
/// so indenting a site's own text by its depth gives what printing the
/// whole would.
fn fleet_json(sites: &[Site], now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    if sites.is_empty() {
        return json(&json!({ "sites": [] }));
    }
    let parts = super::each_on_every_core(sites, |s| {
        json(&site_json(s, now)).map(|t| t.replace('\n', "\n    "))
    })?;
    let mut text = String::with_capacity(
        parts
            .iter()
            .map(|p| p.as_ref().map_or(0, String::len) + 6)
            .sum::<usize>()
            + 24,
    );
    text.push_str("{\n  \"sites\": [\n    ");
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            text.push_str(",\n    ");
        }
        text.push_str(&p?);
    }
    text.push_str("\n  ]\n}");
    Ok(text)
}

/// `pinctl status`.
/// What `status` warns about, on standard error in either format.
fn warnings(site: &Site, out: &mut Out) {
    if let Some((old, new)) = site.recipients_changed() {
        out.warn(format!(
            "{}: site.yaml seals new archives to {} but the existing ones were sealed to {}",
            site.domain,
            state::describe_recipients(&new),
            state::describe_recipients(&old)
        ));
    }
    for k in site.backups() {
        if k.copies.len() < 2 {
            out.warn(format!(
                "{}: {} has {} of 2 recorded offline copies (pinctl archive copy {} --to DIR --location LABEL)",
                site.domain,
                k.name,
                k.copies.len(),
                k.name
            ));
        }
    }
}

pub fn status(ctx: &Ctx, out: &mut Out) -> Result<i32> {
    let as_json = ctx.json;
    let domains = ctx.store.chosen(ctx.site.as_deref())?;
    let sites: Vec<Site> = ctx.store.load_many(&domains)?;
    for site in &sites {
        warnings(site, out);
    }
    if as_json {
        out.line(fleet_json(&sites, ctx.now)?);
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
                rfc3339(k.created),
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
        if let Some(end) = lifecycle::last_retention_end(site).filter(|e| *e > ctx.now) {
            out.line(format!(
                "  clients may hold earlier pinsets until {}",
                rfc3339(end)
            ));
        }
    }
    Ok(0)
}
