//! `pinctl renew`: the daily job's ACME step. Goes through the sites,
//! gets a new certificate for the active key's stored CSR where one is
//! due (the same key, so no pin changes), runs the deploy hook once per
//! new certificate, and says per site what was renewed, skipped or
//! failed (docs/design.md#acting).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{json, Ctx, Out};
use crate::error::{Error, Result};
use crate::state::Site;
use crate::store::Store;

#[derive(Serialize)]
struct SiteResult {
    site: String,
    /// renewed, skipped or failed.
    status: &'static str,
    key: Option<String>,
    /// Why it was skipped, or what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The new certificate's file in the site's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_after: Option<String>,
    /// The deploy hook's outcome: ok, or what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    hook: Option<String>,
}

/// When the active key's certificate is due, or None with the reason it
/// is not. A key without a certificate (just promoted) is due now.
fn due(site: &Site, days: Option<u32>, now: DateTime<Utc>) -> (Option<String>, Option<String>) {
    let Some(active) = site.active() else {
        return (None, Some("no active key".into()));
    };
    let latest = site
        .certificates
        .iter()
        .filter(|c| c.key == active.name)
        .max_by_key(|c| c.not_after);
    let Some(c) = latest else {
        return (Some(format!("{} has no certificate", active.name)), None);
    };
    let from = crate::lifecycle::renewal_from(c, days.map(i64::from));
    if now >= from {
        (
            Some(format!(
                "{} expires {} (renewal from {})",
                c.file,
                crate::text::rfc3339(c.not_after),
                crate::text::rfc3339(from)
            )),
            None,
        )
    } else {
        (
            None,
            Some(format!(
                "not due: {} expires {}, renewal from {}",
                c.file,
                crate::text::rfc3339(c.not_after),
                crate::text::rfc3339(from)
            )),
        )
    }
}

/// Variables the hook does not inherit: they carry secrets pinctl reads
/// (the archive passphrase; a report-store URL may hold a password, and
/// PGPASSWORD is the store's password), and a deploy script has no use
/// for them (docs/security.md).
const HOOK_HIDDEN: [&str; 3] = [
    "PINCTL_PASSPHRASE",
    super::reports::DATABASE_ENV,
    "PGPASSWORD",
];

/// Runs the hook through `sh -c`; its output goes to standard error so
/// that standard output holds only pinctl's report.
fn run_hook(cmd: &str, site: &str, key: &str, cert: &std::path::Path) -> Option<String> {
    let mut c = std::process::Command::new("sh");
    for v in HOOK_HIDDEN {
        c.env_remove(v);
    }
    let status = c
        .arg("-c")
        .arg(cmd)
        .env("PINCTL_SITE", site)
        .env("PINCTL_KEY", key)
        .env("PINCTL_CERT", cert)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status();
    match status {
        Ok(s) if s.success() => None,
        Ok(s) => Some(match s.code() {
            Some(c) => format!("the deploy hook exited {c}"),
            None => "the deploy hook was killed by a signal".into(),
        }),
        Err(e) => Some(format!("the deploy hook could not start: {e}")),
    }
}

/// `pinctl renew`.
pub fn renew(ctx: &Ctx, days: Option<u32>, hook: Option<&str>, out: &mut Out) -> Result<i32> {
    let domains = ctx.store.chosen(ctx.site.as_deref())?;
    let account = super::acme::has_account(ctx);
    let mut results = Vec::new();
    for domain in domains {
        let mut r = SiteResult {
            site: domain.clone(),
            status: "skipped",
            key: None,
            reason: None,
            file: None,
            not_after: None,
            hook: None,
        };
        let site = match ctx.store.load(&domain) {
            Ok(s) => s,
            Err(e) => {
                r.status = "failed";
                r.reason = Some(e.to_string());
                results.push(r);
                continue;
            }
        };
        r.key = site.active().map(|k| k.name.clone());
        let (due_why, not_due) = due(&site, days, ctx.now);
        let Some(why) = due_why else {
            r.reason = not_due;
            results.push(r);
            continue;
        };
        if !account {
            r.reason = Some(format!(
                "{why}, but the state has no ACME account (`pinctl acme account`)"
            ));
            results.push(r);
            continue;
        }
        if site.acme.is_none() {
            // Certified by hand (`cert add`): renew leaves it to whoever
            // did that; check still warns as it expires.
            r.reason = Some(format!(
                "{why}, but it was never issued by ACME: renew it by hand, or run `pinctl cert issue` with a challenge once"
            ));
            results.push(r);
            continue;
        }
        let one = Ctx {
            store: Store::new(ctx.store.root.clone()),
            site: Some(domain.clone()),
            now: ctx.now,
            passphrase_file: None,
            json: ctx.json,
        };
        match super::acme::issue_for(&one, None, None) {
            Ok(issued) => {
                for w in &issued.cert.warnings {
                    out.warn(format!("{domain}: {w}"));
                }
                r.status = "renewed";
                r.reason = Some(why);
                r.key = Some(issued.cert.key.clone());
                r.not_after = Some(issued.cert.not_after.clone());
                let path = ctx.store.site_dir(&domain).join(&issued.cert.file);
                let path = std::path::absolute(&path).unwrap_or(path);
                r.file = Some(issued.cert.file);
                if let Some(cmd) = hook {
                    r.hook = Some(
                        run_hook(cmd, &domain, &issued.cert.key, &path)
                            .unwrap_or_else(|| "ok".into()),
                    );
                }
            }
            Err(e) => {
                r.status = "failed";
                r.reason = Some(match e {
                    Error::Network(m) | Error::Usage(m) | Error::Refused(m) => m,
                    other => other.to_string(),
                });
            }
        }
        results.push(r);
    }
    let failed = results
        .iter()
        .any(|r| r.status == "failed" || r.hook.as_deref().is_some_and(|h| h != "ok"));
    if ctx.json {
        out.line(json(
            &serde_json::json!({ "at": crate::text::rfc3339(ctx.now), "sites": results }),
        )?);
    } else {
        for r in &results {
            let mut l = format!("{} {}", r.status, r.site);
            if let Some(k) = &r.key {
                l.push_str(&format!(" ({k})"));
            }
            if let (Some(f), Some(t)) = (&r.file, &r.not_after) {
                l.push_str(&format!(": new certificate {f}, valid until {t}"));
            } else if let Some(why) = &r.reason {
                l.push_str(&format!(": {why}"));
            }
            if let Some(h) = &r.hook {
                if h != "ok" {
                    l.push_str(&format!("; {h}"));
                }
            }
            out.line(l);
        }
    }
    Ok(if failed { 1 } else { 0 })
}
