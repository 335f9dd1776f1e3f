//! `pinctl policy` and `pinctl header`: the desired policy, checked when
//! it is given, and the header it makes.

use serde_json::json;

use super::{json, Ctx, Out};
use crate::error::{Error, Result};
use crate::header::{self, Mode};
use crate::lifecycle::{self};
use crate::state::{EventKind, Site};

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
pub fn policy(ctx: &Ctx, change: &PolicyChange, out: &mut Out) -> Result<i32> {
    let as_json = ctx.json;
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
        crate::probe::refuse_credentials(&e.url)?;
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
    for w in policy_warnings(&site) {
        out.warn(w);
    }
    if !as_json {
        out.line("Run `pinctl publish` once the new header is deployed.");
    }
    Ok(0)
}

/// A report-uri pinctl will put in a header: absolute, https, no
/// credentials.
pub fn check_report_uri(u: &str) -> Result<()> {
    let (scheme, _) = header::check_uri(u).map_err(Error::Usage)?;
    crate::probe::refuse_credentials(u)?;
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
    w.extend(header::max_age_warning(p.max_age));
    if p.mode == Mode::Enforce {
        let live_age = site
            .live()
            .filter(|l| l.mode == Mode::Enforce)
            .map(|l| l.max_age);
        let expected = match live_age {
            None => crate::plan::RAMP[0],
            Some(a) => crate::plan::next_ramp(a).unwrap_or(a),
        };
        if p.max_age > expected {
            w.push(format!(
                "the ramp suggests max-age={expected} next; a longer max-age makes a mistake last longer"
            ));
        }
    }
    if let Some(u) = &p.report_uri {
        if let Ok((_, host)) = header::check_uri(u) {
            w.extend(header::report_uri_warning(
                u,
                &host,
                &site.domain,
                p.include_subdomains,
            ));
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
pub fn header(ctx: &Ctx, out: &mut Out) -> Result<i32> {
    let as_json = ctx.json;
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
