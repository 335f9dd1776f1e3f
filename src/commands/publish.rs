//! `pinctl publish`: records that the desired header is served, once
//! `lifecycle::publish` has judged it.

use super::report::{blocker_lines, emit, safe_text, Closed, LockedOut, PublishReport};
use super::{ts, Ctx, Out};
use crate::error::{Error, Result};
use crate::header::Mode;
use crate::lifecycle::{self, PublishOutcome, PublishRefusal};

/// `pinctl publish`.
pub fn publish(ctx: &Ctx, report_only: bool, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let policy_mode = site.policy.mode;
    if report_only {
        site.policy.mode = Mode::ReportOnly;
    }
    let result = lifecycle::publish(&mut site, ctx.now);
    site.policy.mode = policy_mode;
    let active = site.active().map(|k| k.name.clone()).unwrap_or_default();
    let mut report = PublishReport {
        site: site.domain.clone(),
        at: ts(ctx.now),
        changed: false,
        publication: None,
        header: None,
        closed: None,
        still_locked_out: Vec::new(),
        warnings: Vec::new(),
    };
    match result {
        Ok(PublishOutcome::Unchanged) => {
            let text = report.text();
            emit(ctx.json, &report, text, out)?;
            Ok(0)
        }
        Ok(PublishOutcome::Published { closed, still_locked_out }) => {
            ctx.store.save(&lock, &site)?;
            let Some(live) = site.live() else {
                return Err(Error::Internal("publish opened no publication".into()));
            };
            report.changed = true;
            report.publication = Some(site.publications.len());
            // The recorded header, not the desired one: once this is out,
            // the desired header may already drop a roll-back pin.
            report.header = Some(lifecycle::header_of(live).line());
            report.closed = closed.map(|n| {
                let prev = &site.publications[n - 1];
                let (retained_until, why) = match lifecycle::retention(prev) {
                    lifecycle::Retention::Until(r) => (Some(ts(r)), None),
                    _ if prev.mode == Mode::ReportOnly => (None, Some("Report-Only")),
                    _ => (None, Some("max-age=0")),
                };
                Closed {
                    publication: n,
                    retained_until,
                    why_not_retained: why,
                }
            });
            report.still_locked_out = LockedOut::list(&site.domain, &still_locked_out);
            if lifecycle::reaches_subdomains(live) {
                report.warnings.push(format!(
                    "includeSubDomains binds every subdomain of {} to this pinset, also those pinctl does not manage; each must serve a key the header holds",
                    site.domain
                ));
            }
            let text = report.text();
            emit(ctx.json, &report, text, out)?;
            Ok(0)
        }
        Err(PublishRefusal::SubdomainNotAccepted { domain: sub, key }) => Err(Error::Refused(format!(
            "refused: the includeSubDomains header does not hold the pin of key {key} served by {sub}; clients that note it would be locked out of {sub} (add {sub}'s keys to the pinset, e.g. with ca-pin add, or drop includeSubDomains)"
        ))),
        Err(PublishRefusal::NoActiveKey) => Err(Error::Refused("refused: the site has no active key".into())),
        Err(PublishRefusal::ActiveNotInPinset) => Err(Error::Refused(format!(
            "refused: the desired header does not hold the active key {active} (nor a CA key of its chain); serving it would be ignored or lock visitors out"
        ))),
        Err(PublishRefusal::NoBackupPin) => Err(Error::Refused(
            "refused: the desired header has no pin outside the active key's chain (no backup); browsers ignore such a header (RFC 7469 section 4.3)".into(),
        )),
        Err(PublishRefusal::ActiveNotSafe { blockers, safe_from }) => Err(Error::Refused(format!(
            "refused: serving the active key {active} would lock out visitors: {}; {}",
            blocker_lines(&site, &active, &blockers),
            safe_text(safe_from, &blockers)
        ))),
    }
}
