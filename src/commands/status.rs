//! `pinctl status`: keys, certificates, the live and desired headers, in
//! text or JSON.

use serde::Serialize;
use serde_json::json;

use super::{json, Ctx, Out};
use crate::error::Result;
use crate::header::Mode;
use crate::lifecycle::{self, SafeFrom};
use crate::pin::Pin;
use crate::state::{self, Role, Site};
use crate::text::rfc3339;

fn safe_from_text(sf: SafeFrom, now: chrono::DateTime<chrono::Utc>) -> String {
    match sf {
        SafeFrom::At(t) if t <= now => "now".into(),
        SafeFrom::At(t) => rfc3339(t),
        SafeFrom::Never => "never while a live header lacks it".into(),
    }
}

/// JSON for `status`: the shape docs/cli.md promises. Each struct's
/// fields are in the order of their names: the keys come out in the order
/// they did when the site was first made a `serde_json::Value` (whose
/// maps sort their keys), without that copy of each of a fleet's sites.
#[derive(Serialize)]
struct SiteJson<'a> {
    ca_pins: Vec<CaPinJson<'a>>,
    certificates: Vec<CertJson<'a>>,
    desired_header: String,
    domain: &'a str,
    keys: Vec<KeyJson<'a>>,
    live: Option<LiveJson<'a>>,
    policy: PolicyJson<'a>,
}

#[derive(Serialize)]
struct CaPinJson<'a> {
    name: &'a str,
    pin: &'a Pin,
}

#[derive(Serialize)]
struct CertJson<'a> {
    chain_pins: &'a [Pin],
    file: &'a str,
    issuer_pin: &'a Option<Pin>,
    key: &'a str,
    not_after: String,
    not_before: String,
    subject: &'a str,
}

#[derive(Serialize)]
struct KeyJson<'a> {
    algorithm: &'a str,
    archive: &'a str,
    copies: Vec<CopyJson<'a>>,
    created: String,
    csr: &'a str,
    name: &'a str,
    pin: &'a Pin,
    role: &'a str,
    role_since: String,
    safe_from: Option<String>,
}

#[derive(Serialize)]
struct CopyJson<'a> {
    copied: String,
    location: &'a str,
    path: &'a str,
    verified: Option<String>,
}

#[derive(Serialize)]
struct LiveJson<'a> {
    from: String,
    header: String,
    max_age: u64,
    mode: &'a str,
    pins: &'a [Pin],
    // Open while live: the end if it were replaced now; Report-Only and
    // max-age=0 retain nothing.
    retained_until: Option<String>,
}

#[derive(Serialize)]
struct PolicyJson<'a> {
    include_subdomains: bool,
    max_age: u64,
    mode: &'a str,
    report_uri: &'a Option<String>,
}

fn site_json(site: &Site, now: chrono::DateTime<chrono::Utc>) -> SiteJson<'_> {
    SiteJson {
        ca_pins: site
            .ca_pins
            .iter()
            .map(|c| CaPinJson {
                name: &c.name,
                pin: &c.pin,
            })
            .collect(),
        certificates: site
            .certificates
            .iter()
            .map(|c| CertJson {
                chain_pins: &c.chain_pins,
                file: &c.file,
                issuer_pin: &c.issuer_pin,
                key: &c.key,
                not_after: rfc3339(c.not_after),
                not_before: rfc3339(c.not_before),
                subject: &c.subject,
            })
            .collect(),
        desired_header: lifecycle::desired_header(site).line(),
        domain: &site.domain,
        keys: site
            .keys
            .iter()
            .map(|k| KeyJson {
                algorithm: k.key_type.as_str(),
                archive: &k.archive,
                copies: k
                    .copies
                    .iter()
                    .map(|c| CopyJson {
                        copied: rfc3339(c.copied),
                        location: &c.location,
                        path: &c.path,
                        verified: c.verified.map(rfc3339),
                    })
                    .collect(),
                created: rfc3339(k.created),
                csr: &k.csr,
                name: &k.name,
                pin: &k.pin,
                role: k.role.as_str(),
                role_since: rfc3339(k.role_since),
                safe_from: match lifecycle::safe_from(site, k) {
                    SafeFrom::At(t) => Some(rfc3339(t)),
                    SafeFrom::Never => None,
                },
            })
            .collect(),
        live: site.live().map(|p| LiveJson {
            from: rfc3339(p.from),
            header: lifecycle::header_of(p).line(),
            max_age: p.max_age,
            mode: p.mode.as_str(),
            pins: &p.pins,
            retained_until: lifecycle::held_until_if_replaced(p, now).map(rfc3339),
        }),
        policy: PolicyJson {
            include_subdomains: site.policy.include_subdomains,
            max_age: site.policy.max_age,
            mode: site.policy.mode.as_str(),
            report_uri: &site.policy.report_uri,
        },
    }
}

/// One site's part of `{"sites": [...]}`: pretty, byte for byte as
/// `json` writes it within the whole, two levels in.
fn site_part(site: &Site, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    super::json_at(&site_json(site, now), 2)
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
