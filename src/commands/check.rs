//! `pinctl check`: every finding about the sites, in the monitoring-plugin
//! convention (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

use serde_json::json;

use super::{json, Ctx, Out};
use crate::check::{self as judge, Finding, Severity};
use crate::error::Result;

/// Options of `pinctl check`.
pub struct CheckOptions {
    /// None: the renewal window (`lifecycle::renewal_from`).
    pub warn_days: Option<i64>,
    pub live: bool,
    pub verbose: bool,
    /// The report store (`--database`, `PINCTL_REPORTS_DATABASE`).
    pub database: Option<String>,
}

/// `pinctl check`: never fails with exit 1; an unreadable state is UNKNOWN
/// (exit 3), as monitoring systems expect.
pub fn check(ctx: &Ctx, o: &CheckOptions, out: &mut Out) -> Result<i32> {
    match gather(ctx, o) {
        Ok(findings) => report(&findings, o, ctx.json, out),
        Err(e) => {
            let msg = e.to_string();
            if ctx.json {
                out.line(json(
                    &json!({"status": "UNKNOWN", "error": msg, "findings": []}),
                )?);
            } else {
                out.line(format!("PINCTL UNKNOWN - {msg}"));
            }
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "error: {msg}");
            Ok(3)
        }
    }
}

fn gather(ctx: &Ctx, o: &CheckOptions) -> Result<Vec<Finding>> {
    let listing = ctx.store.listing(ctx.site.as_deref())?;
    // Violation reports, when the collector stored any: those of the last
    // days are findings; those since the live header hold the ramp back.
    let rows = match super::reports::findings(ctx, o.database.as_deref(), None) {
        Ok(rows) => rows,
        Err(e) => {
            // The sites were always read before the report store: a
            // damaged site is the error before a damaged store.
            ctx.store.map_sites(listing, |_| ())?;
            return Err(e);
        }
    };
    let since = crate::text::rfc3339(crate::lifecycle::add_days(
        ctx.now,
        -judge::REPORT_WINDOW_DAYS,
    ));
    let recent: Vec<_> = rows
        .iter()
        .filter(|r| r.last_seen >= since)
        .cloned()
        .collect();
    let judge_one = |s: &crate::state::Site| {
        let unexpected = crate::plan::Unexpected::of(s, &rows);
        let mut f = judge::check_site_with(s, ctx.now, o.warn_days, unexpected);
        f.extend(judge::report_findings(s, &recent));
        f
    };
    if o.live {
        // The probes need every site again after the judging.
        let sites = ctx.store.load_many(&listing.chosen)?;
        let mut findings: Vec<Finding> = sites.iter().flat_map(judge_one).collect();
        findings.extend(super::verify::live_findings(&sites, ctx.now));
        findings.extend(super::dns_update::live_findings(&sites));
        return Ok(findings);
    }
    // Each site is judged on its own, on every core for a fleet, and
    // only its findings are kept.
    let each = ctx.store.map_sites(listing, judge_one)?;
    let mut findings: Vec<Finding> = Vec::with_capacity(each.iter().map(Vec::len).sum::<usize>());
    for f in each {
        findings.extend(f);
    }
    Ok(findings)
}

fn report(findings: &[Finding], o: &CheckOptions, as_json: bool, out: &mut Out) -> Result<i32> {
    let status = judge::overall(findings);
    if as_json {
        // Written from the findings, not a copy of them as a JSON value,
        // with the keys in the order `json!` gave them (a fleet has
        // tens of thousands).
        #[derive(serde::Serialize)]
        struct Report<'a> {
            findings: &'a [Finding],
            status: &'a str,
        }
        out.line(json(&Report {
            findings,
            status: status.as_str(),
        })?);
        return Ok(status.exit_code());
    }
    let crit = findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    let warn = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    // `--live` appends its findings after every site's own: count the
    // distinct sites, not the runs of one.
    let sites: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f.site.as_str()).collect();
    let summary = if crit + warn == 0 {
        format!("{} site(s) checked, all fine", sites.len())
    } else {
        format!(
            "{crit} critical, {warn} warning(s) in {} site(s)",
            sites.len()
        )
    };
    out.line(format!("PINCTL {} - {summary}", status.as_str()));
    for f in findings {
        if f.severity == Severity::Ok && !o.verbose {
            continue;
        }
        let key = f
            .key
            .as_deref()
            .map(|k| format!(" key={k}"))
            .unwrap_or_default();
        let due = f
            .due
            .map(|d| format!(" (due {})", crate::text::rfc3339(d)))
            .unwrap_or_default();
        out.line(format!(
            "{} {}{key}: {} [{}]{due}",
            f.severity.as_str(),
            f.site,
            f.message,
            f.code
        ));
    }
    Ok(status.exit_code())
}
