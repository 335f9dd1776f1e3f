//! `pinctl deployed`: records the evidence that the servers serve the
//! active key — the operator's word, or a probe that saw it — which a
//! TLSA RRset or an app release never is (docs/design.md#evidence).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::report::emit;
use super::{Ctx, Out};
use crate::error::{Error, Result};
use crate::lifecycle::{self, DeployRefusal};
use crate::probe::Target;
use crate::text::rfc3339;

#[derive(Serialize)]
struct DeployedReport {
    site: String,
    key: String,
    at: String,
    /// False when the ledger already showed the key served.
    changed: bool,
    /// "operator" or the URL that was probed.
    evidence: String,
    /// Keys that no longer count as served.
    replaced: Vec<String>,
}

/// `pinctl deployed [KEY] [--at T] [--from-url URL]`.
pub fn deployed(
    ctx: &Ctx,
    key: Option<&str>,
    at: Option<DateTime<Utc>>,
    probe: Option<Target>,
    out: &mut Out,
) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    if let Some(t) = &probe {
        crate::probe::refuse_credentials(&t.url)?;
        if t.insecure && t.ca_file.is_some() {
            return Err(Error::Usage(
                "give --ca-file or --insecure, not both".into(),
            ));
        }
    }
    let at = at.unwrap_or(ctx.now);
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let name = match key {
        Some(k) => k.to_string(),
        None => site
            .active()
            .map(|k| k.name.clone())
            .ok_or_else(|| Error::Refused("refused: the site has no active key".into()))?,
    };
    let pin = site.require_key(&name)?.pin.clone();
    // A probe is evidence only of what it saw, and only now.
    let evidence = match &probe {
        None => "operator".to_string(),
        Some(t) => {
            let seen = crate::probe::fetch(t)?;
            if seen.chain_pins.first() != Some(&pin) {
                return Err(Error::Refused(format!(
                    "refused: {} serves a certificate whose key (pin {}) is not {name} ({pin}); nothing recorded",
                    crate::probe::redact(&t.url),
                    seen.chain_pins
                        .first()
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "none".into())
                )));
            }
            crate::probe::redact(&t.url)
        }
    };
    let before: Vec<String> = lifecycle::served_keys(&site)
        .iter()
        .map(|k| k.name.clone())
        .collect();
    let how = if probe.is_some() {
        format!("probe of {evidence} saw it")
    } else {
        "the operator's word".to_string()
    };
    let changed = match lifecycle::deploy(&mut site, &name, at, ctx.now, how) {
        Ok(c) => c,
        Err(DeployRefusal::UnknownKey(k)) => {
            return Err(Error::Usage(format!("{domain} has no key named {k}")))
        }
        Err(DeployRefusal::NotActive(k, role)) => {
            let hint = if role == crate::state::Role::Backup {
                format!(" (promote it first: pinctl rotate --promote {k})")
            } else {
                String::new()
            };
            return Err(Error::Refused(format!(
                "refused: {k} is {}; only the active key is deployed{hint}",
                role.as_str()
            )));
        }
        Err(DeployRefusal::NoCertificate(k)) => {
            return Err(Error::Refused(format!(
                "refused: no certificate is recorded for {k}, so no server can be serving it: record the one deployed with pinctl cert add CERT.pem"
            )))
        }
        Err(DeployRefusal::BadTime(since)) => {
            return Err(Error::Usage(format!(
                "--at {} is outside the time {name} has been active ({} to now, {})",
                rfc3339(at),
                rfc3339(since),
                rfc3339(ctx.now)
            )))
        }
    };
    if changed {
        ctx.store.save(&lock, &site)?;
    }
    let after: Vec<String> = lifecycle::served_keys(&site)
        .iter()
        .map(|k| k.name.clone())
        .collect();
    let report = DeployedReport {
        site: site.domain.clone(),
        key: name.clone(),
        at: rfc3339(at),
        changed,
        evidence,
        replaced: before.into_iter().filter(|k| !after.contains(k)).collect(),
    };
    let mut text = Vec::new();
    if changed {
        text.push(format!(
            "Recorded: {} serves {name} since {} ({})",
            report.site, report.at, report.evidence
        ));
        for k in &report.replaced {
            text.push(format!(
                "  {k} no longer counts as served: the header and the channels may now drop its pin (pinctl plan)"
            ));
        }
    } else {
        text.push(format!(
            "Nothing recorded: the ledger already shows {} serving {name}",
            report.site
        ));
    }
    emit(ctx.json, &report, text, out)?;
    Ok(0)
}
