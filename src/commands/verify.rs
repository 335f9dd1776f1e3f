//! `pinctl verify` and the live findings of `check --live`: they probe a
//! server (`probe`) and report its verdict.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{json, Ctx, Out};
use crate::error::{Error, Result};
use crate::finding::{Finding, Severity};
use crate::probe::{fetch, judge, Target};
use crate::state::Site;

/// `pinctl verify`.
pub fn verify(ctx: &Ctx, t: &Target, out: &mut Out) -> Result<i32> {
    let as_json = ctx.json;
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

/// How many endpoints `check --live` probes at once: each probe mostly
/// waits on the network (bounded by its own timeouts), so many can run on
/// two cores.
const PROBES_AT_ONCE: usize = 128;

/// The live findings of every endpoint of every site, probed concurrently
/// (at most [`PROBES_AT_ONCE`] at a time), in the order of the sites and
/// their endpoints.
pub fn live_findings(sites: &[Site], _now: DateTime<Utc>) -> Vec<Finding> {
    let jobs: Vec<(usize, &Site, &crate::state::Endpoint)> = sites
        .iter()
        .flat_map(|s| s.policy.endpoints.iter().map(move |e| (s, e)))
        .enumerate()
        .map(|(i, (s, e))| (i, s, e))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![Vec::new(); jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..PROBES_AT_ONCE.min(jobs.len()) {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(i, site, e)) = jobs.get(n) else {
                    break;
                };
                let found = probe_endpoint(site, e);
                if let Ok(mut r) = results.lock() {
                    r[i] = found;
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// Probes one endpoint and judges what it serves.
fn probe_endpoint(site: &Site, e: &crate::state::Endpoint) -> Vec<Finding> {
    let t = Target {
        url: e.url.clone(),
        connect: e.connect.clone(),
        ca_file: e.ca_file.as_ref().map(PathBuf::from),
        insecure: false,
    };
    let finding = |code: &'static str, message: String, severity: Severity| Finding {
        severity,
        site: site.domain.clone(),
        key: None,
        code,
        message,
        due: None,
    };
    match fetch(&t) {
        Err(err) => vec![finding(
            "live-unreachable",
            format!("{}: {err}", e.url),
            Severity::Critical,
        )],
        Ok(o) => {
            let problems = judge(&o, Some(site));
            if problems.is_empty() {
                return vec![finding(
                    "live",
                    format!("{} serves the live publication with the active key", e.url),
                    Severity::Ok,
                )];
            }
            problems
                .into_iter()
                .map(|p| {
                    finding(
                        "live-mismatch",
                        format!("{}: {p}", e.url),
                        Severity::Critical,
                    )
                })
                .collect()
        }
    }
}
