//! `pinctl verify` and the live findings of `check --live`: they probe a
//! server (`probe`) and report its verdict.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{json, Ctx, Out};
use crate::check::{Finding, Severity};
use crate::error::{Error, Result};
use crate::probe::{fetch, judge, Target};
use crate::state::Site;

/// `pinctl verify`.
pub fn verify(ctx: &Ctx, t: &Target, as_json: bool, out: &mut Out) -> Result<i32> {
    if t.insecure && t.ca_file.is_some() {
        return Err(Error::Usage(
            "give --ca-file or --insecure, not both".into(),
        ));
    }
    let o = fetch(t)?;
    let site = match ctx.store.sites() {
        Ok(sites) if sites.contains(&o.host) => Some(ctx.store.load(&o.host)?),
        _ => match &ctx.site {
            Some(d) => Some(ctx.store.load(&ctx.store.pick(Some(d))?)?),
            None => None,
        },
    };
    let problems = judge(&o, site.as_ref());
    let pinning: Vec<&(String, String)> = o
        .headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("public-key-pins"))
        .collect();
    if as_json {
        out.line(json(&json!({
            "url": t.url,
            "host": o.host,
            "status": o.status,
            "chain_pins": o.chain_pins,
            "headers": pinning.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
            "site": site.as_ref().map(|s| s.domain.clone()),
            "ok": problems.is_empty(),
            "problems": problems,
        }))?);
    } else {
        out.line(format!("{} ({})", t.url, o.status));
        for (i, p) in o.chain_pins.iter().enumerate() {
            out.line(format!("  chain[{i}] pin-sha256=\"{p}\""));
        }
        for (n, v) in &pinning {
            out.line(format!("  {n}: {v}"));
        }
        if let Some(s) = &site {
            out.line(format!("  compared with the state of {}", s.domain));
        }
        for p in &problems {
            out.line(format!("problem: {p}"));
        }
        out.line(if problems.is_empty() {
            "OK".to_string()
        } else {
            format!("{} problem(s)", problems.len())
        });
    }
    Ok(if problems.is_empty() { 0 } else { 1 })
}

/// For `check --live`: each recorded endpoint of the site, judged.
pub fn live_findings(site: &Site, _now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in &site.policy.endpoints {
        let t = Target {
            url: e.url.clone(),
            connect: e.connect.clone(),
            ca_file: e.ca_file.as_ref().map(PathBuf::from),
            insecure: false,
        };
        let mut add = |code: &'static str, message: String, severity: Severity| {
            out.push(Finding {
                severity,
                site: site.domain.clone(),
                key: None,
                code,
                message,
                due: None,
            });
        };
        match fetch(&t) {
            Err(err) => add(
                "live-unreachable",
                format!("{}: {err}", e.url),
                Severity::Critical,
            ),
            Ok(o) => {
                let problems = judge(&o, Some(site));
                if problems.is_empty() {
                    add(
                        "live",
                        format!("{} serves the live publication with the active key", e.url),
                        Severity::Ok,
                    );
                }
                for p in problems {
                    add(
                        "live-mismatch",
                        format!("{}: {p}", e.url),
                        Severity::Critical,
                    );
                }
            }
        }
    }
    out
}
