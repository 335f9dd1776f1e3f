//! `pinctl renew`: the daily job's ACME step. Goes through the sites,
//! gets a new certificate for the active key's stored CSR where one is
//! due (the same key, so no pin changes), runs the deploy hook once per
//! new certificate, and says per site what was renewed, skipped or
//! failed (docs/design.md#acting).

use chrono::{DateTime, Duration, Utc};
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
    /// Which window judged the certificate: "ari" (the CA's, RFC 9773)
    /// or "local"; absent when there was no certificate to judge.
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<&'static str>,
    /// Why the local window judged it rather than the CA's.
    #[serde(skip_serializing_if = "Option::is_none")]
    window_fallback: Option<String>,
    /// The CA's suggested window, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    ari: Option<AriReport>,
    /// The certificate the new order replaced (RFC 9773 section 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<String>,
}

/// The CA's renewal window as reported.
#[derive(Serialize)]
struct AriReport {
    start: String,
    end: String,
    /// When the CA asks to be asked again; each run asks anew.
    retry_after: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation_url: Option<String>,
}

/// How often the daily job runs `renew`: a CA window's chosen time that
/// falls before the next run is acted on now (RFC 9773 section 4.2).
pub const RUN_PERIOD: Duration = Duration::days(1);

/// What the CA said about a certificate's renewal, as `decide` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ari {
    /// Not asked, or no useful answer: why (said in the output).
    Unused(String),
    /// The CA's suggested window (RFC 9773 section 4.2).
    Window {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

/// Which window decided, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub due: bool,
    /// "ari" or "local".
    pub window: &'static str,
    /// When renewal starts (local) or the chosen time in the CA's window.
    pub from: DateTime<Utc>,
    /// Why the local window decided, when the CA's could have.
    pub fallback: Option<String>,
}

/// The renewal decision for a certificate valid `not_before` to
/// `not_after` (docs/design.md#acting). `--days` forces the local rule;
/// otherwise the CA's window decides when it is well formed: pinctl
/// takes the time `pick` (0 to 1) of the way through it and renews once
/// the window has started and that time comes before the next daily
/// run. Else the local rule: `lifecycle::RENEW_DAYS` before expiry, or a third of
/// the lifetime when shorter.
pub fn decide(
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    days: Option<u32>,
    ari: &Ari,
    pick: f64,
    now: DateTime<Utc>,
) -> Decision {
    let local = |fallback: String| {
        let from =
            crate::lifecycle::renewal_from_validity(not_before, not_after, days.map(i64::from));
        Decision {
            due: now >= from,
            window: "local",
            from,
            fallback: Some(fallback),
        }
    };
    if days.is_some() {
        return local("--days was given".into());
    }
    match ari {
        Ari::Unused(why) => local(why.clone()),
        Ari::Window { start, end } if end <= start => local(format!(
            "the CA's window is malformed (it ends {} but starts {})",
            crate::text::rfc3339(*end),
            crate::text::rfc3339(*start)
        )),
        Ari::Window { start, end } => {
            let pick = if pick.is_finite() {
                pick.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let span = (*end - *start).num_seconds();
            // The product is at most `span`, so the cast cannot overflow.
            let at = *start + Duration::seconds((span as f64 * pick) as i64);
            let next_run = now
                .checked_add_signed(RUN_PERIOD)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            Decision {
                due: now >= *start && at < next_run,
                window: "ari",
                from: at,
                fallback: None,
            }
        }
    }
}

/// Where in the CA's window this certificate renews, 0 to 1: the same
/// on every run for a certificate and spread across certificates, as
/// RFC 9773 section 4.2 asks (a uniform choice). FNV-1a of the
/// identifier: spreading, not secrecy.
pub fn pick(cert_id: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cert_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The active key's latest certificate, or why there is nothing to judge
/// (None: no active key; Some(Err): the key has no certificate, due now).
fn latest(site: &Site) -> std::result::Result<&crate::state::Cert, Option<String>> {
    let Some(active) = site.active() else {
        return Err(None);
    };
    site.certificates
        .iter()
        .filter(|c| c.key == active.name)
        .max_by_key(|c| c.not_after)
        .ok_or_else(|| Some(format!("{} has no certificate", active.name)))
}

/// Asks the CA for a certificate's window: the window and the
/// identifier to send as `replaces`, or why the local window decides.
fn ask_ari(
    ctx: &Ctx,
    account: Option<&[u8]>,
    domain: &str,
    file: &str,
) -> (Ari, Option<String>, Option<AriReport>) {
    let Some(account) = account else {
        return (
            Ari::Unused("the state has no ACME account".into()),
            None,
            None,
        );
    };
    let path = ctx.store.site_dir(domain).join(file);
    let id = crate::fsutil::read_capped(&path, 1 << 20)
        .map_err(|e| e.to_string())
        .and_then(|pem| {
            use rustls_pki_types::pem::PemObject as _;
            rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
                .next()
                .and_then(|c| c.ok())
                .ok_or_else(|| format!("{file} holds no PEM certificate"))
        })
        .and_then(|der| pinctl_acme::ari::cert_id(der.as_ref()).map_err(|e| e.message));
    let id = match id {
        Ok(id) => id,
        Err(e) => return (Ari::Unused(format!("{file}: {e}")), None, None),
    };
    match pinctl_acme::ari::renewal_info(account, &id) {
        Ok(pinctl_acme::ari::Renewal::NotOffered) => (
            Ari::Unused("the directory offers no renewal information (RFC 9773)".into()),
            None,
            None,
        ),
        Ok(pinctl_acme::ari::Renewal::Window(w)) => {
            let (Some(start), Some(end)) = (
                DateTime::from_timestamp(w.start, 0),
                DateTime::from_timestamp(w.end, 0),
            ) else {
                return (
                    Ari::Unused("the CA's window is out of range".into()),
                    Some(id),
                    None,
                );
            };
            let report = AriReport {
                start: crate::text::rfc3339(start),
                end: crate::text::rfc3339(end),
                // Capped at a century: a CA's number must not overflow.
                retry_after: crate::text::rfc3339(
                    ctx.now
                        .checked_add_signed(Duration::seconds(
                            w.retry_after_secs.min(100 * 366 * 86_400) as i64,
                        ))
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                ),
                explanation_url: w.explanation_url,
            };
            (Ari::Window { start, end }, Some(id), Some(report))
        }
        Err(e) => (
            Ari::Unused(format!("the renewal information request failed: {e}")),
            Some(id),
            None,
        ),
    }
}

/// The reason text of a judged certificate: why it is due, or why not.
fn judged(c: &crate::state::Cert, d: &Decision) -> (Option<String>, Option<String>) {
    let when = match d.window {
        "ari" => format!("the CA's renewal time {}", crate::text::rfc3339(d.from)),
        _ => format!("renewal from {}", crate::text::rfc3339(d.from)),
    };
    let expires = crate::text::rfc3339(c.not_after);
    if d.due {
        (Some(format!("{} expires {expires} ({when})", c.file)), None)
    } else {
        (
            None,
            Some(format!("not due: {} expires {expires}, {when}", c.file)),
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
    // The account's key, read only when a CA's window may be asked for.
    let account_file = match (account, days) {
        (true, None) => super::acme::read_account(ctx)?,
        _ => None,
    };
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
            window: None,
            window_fallback: None,
            ari: None,
            replaces: None,
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
        let mut replaces = None;
        let (due_why, not_due) = match latest(&site) {
            Err(None) => (None, Some("no active key".to_string())),
            Err(Some(why)) => (Some(why), None),
            Ok(c) => {
                let (ari, id, report) = if days.is_some() {
                    (Ari::Unused(String::new()), None, None)
                } else if site.acme.is_none() && account_file.is_some() {
                    // Never issued by ACME here: no CA to ask, and a due
                    // certificate fails below for want of a challenge.
                    (
                        Ari::Unused("the site was never issued a certificate by ACME".into()),
                        None,
                        None,
                    )
                } else {
                    ask_ari(
                        ctx,
                        account_file.as_deref().map(|v| v.as_slice()),
                        &domain,
                        &c.file,
                    )
                };
                let d = decide(
                    c.not_before,
                    c.not_after,
                    days,
                    &ari,
                    id.as_deref().map(pick).unwrap_or(0.0),
                    ctx.now,
                );
                r.window = Some(d.window);
                r.window_fallback = d.fallback.clone();
                r.ari = report;
                replaces = id;
                judged(c, &d)
            }
        };
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
        match super::acme::issue_for(&one, None, None, replaces.as_deref()) {
            Ok(issued) => {
                for w in &issued.cert.warnings {
                    out.warn(format!("{domain}: {w}"));
                }
                r.status = "renewed";
                r.reason = Some(why);
                r.key = Some(issued.cert.key.clone());
                r.not_after = Some(issued.cert.not_after.clone());
                r.replaces = issued.replaced.clone();
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
            match (r.window, &r.window_fallback) {
                (Some("ari"), _) => l.push_str("; window: the CA's (ARI)"),
                (Some(_), Some(f)) => l.push_str(&format!("; window: local ({f})")),
                _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("a test time")
            .with_timezone(&Utc)
    }

    /// A 90-day certificate: the local window opens 30 days before expiry.
    fn cert() -> (DateTime<Utc>, DateTime<Utc>) {
        (at("2030-01-01T00:00:00Z"), at("2030-04-01T00:00:00Z"))
    }

    fn window(start: &str, end: &str) -> Ari {
        Ari::Window {
            start: at(start),
            end: at(end),
        }
    }

    #[test]
    fn without_a_ca_window_the_local_rule_decides_and_says_why() {
        let (nb, na) = cert();
        let why = Ari::Unused("the directory offers no renewal information (RFC 9773)".into());
        let d = decide(nb, na, None, &why, 0.5, at("2030-03-01T23:59:59Z"));
        assert_eq!(d.window, "local");
        assert!(!d.due);
        assert_eq!(d.from, at("2030-03-02T00:00:00Z"));
        assert_eq!(
            d.fallback.as_deref(),
            Some("the directory offers no renewal information (RFC 9773)")
        );
        assert!(decide(nb, na, None, &why, 0.5, at("2030-03-02T00:00:00Z")).due);
        // A third of a 30-day life is shorter than 30 days.
        let d = decide(
            nb,
            at("2030-01-31T00:00:00Z"),
            None,
            &why,
            0.5,
            at("2030-01-21T00:00:00Z"),
        );
        assert!(d.due);
        assert_eq!(d.from, at("2030-01-21T00:00:00Z"));
    }

    #[test]
    fn days_forces_the_local_rule_over_a_ca_window() {
        let (nb, na) = cert();
        let ari = window("2030-01-10T00:00:00Z", "2030-01-11T00:00:00Z");
        let d = decide(nb, na, Some(10), &ari, 0.0, at("2030-02-01T00:00:00Z"));
        assert_eq!(d.window, "local");
        assert!(!d.due, "the CA's window has passed, but --days 10 rules");
        assert_eq!(d.from, at("2030-03-22T00:00:00Z"));
        assert_eq!(d.fallback.as_deref(), Some("--days was given"));
    }

    #[test]
    fn a_ca_window_that_has_not_started_is_not_due_even_when_local_would_be() {
        let (nb, na) = cert();
        let ari = window("2030-03-25T00:00:00Z", "2030-03-27T00:00:00Z");
        let d = decide(nb, na, None, &ari, 0.0, at("2030-03-20T00:00:00Z"));
        assert_eq!(d.window, "ari");
        assert!(!d.due);
        assert_eq!(d.fallback, None);
        // Chosen time the window's start, yet a run an hour before waits.
        let d = decide(nb, na, None, &ari, 0.0, at("2030-03-24T23:00:00Z"));
        assert!(!d.due);
        assert!(decide(nb, na, None, &ari, 0.0, at("2030-03-25T00:00:00Z")).due);
    }

    #[test]
    fn a_ca_window_moved_early_renews_before_the_local_rule() {
        // RFC 9773's case: the CA revokes soon and asks for renewal now.
        let (nb, na) = cert();
        let ari = window("2030-01-05T00:00:00Z", "2030-01-06T00:00:00Z");
        let d = decide(nb, na, None, &ari, 0.9, at("2030-01-20T00:00:00Z"));
        assert_eq!(d.window, "ari");
        assert!(d.due, "a window in the past: renew now");
    }

    #[test]
    fn within_the_window_the_chosen_time_decides_with_the_next_run() {
        let (nb, na) = cert();
        let ari = window("2030-03-01T00:00:00Z", "2030-03-11T00:00:00Z");
        // pick 0.5: the chosen time is 2030-03-06T00:00:00Z.
        let d = decide(nb, na, None, &ari, 0.5, at("2030-03-04T00:00:00Z"));
        assert_eq!(d.from, at("2030-03-06T00:00:00Z"));
        assert!(
            !d.due,
            "two days early: the next daily run is still before it"
        );
        // Less than a day before it: the next run would be late, so now.
        assert!(decide(nb, na, None, &ari, 0.5, at("2030-03-05T00:00:01Z")).due);
        assert!(!decide(nb, na, None, &ari, 0.5, at("2030-03-05T00:00:00Z")).due);
        // pick 1: the end; pick 0: the start.
        let d = decide(nb, na, None, &ari, 1.0, at("2030-03-01T00:00:00Z"));
        assert_eq!(d.from, at("2030-03-11T00:00:00Z"));
        let d = decide(nb, na, None, &ari, 0.0, at("2030-03-01T00:00:00Z"));
        assert!(d.due);
        // Nonsense picks stay inside the window.
        for p in [f64::NAN, -3.0, 7.0, f64::INFINITY] {
            let d = decide(nb, na, None, &ari, p, at("2030-02-01T00:00:00Z"));
            assert!(d.from >= at("2030-03-01T00:00:00Z") && d.from <= at("2030-03-11T00:00:00Z"));
        }
    }

    #[test]
    fn a_malformed_ca_window_falls_back_to_the_local_rule() {
        // RFC 9773 section 4.2: an end at or before the start is malformed.
        let (nb, na) = cert();
        for ari in [
            window("2030-03-10T00:00:00Z", "2030-03-10T00:00:00Z"),
            window("2030-03-10T00:00:00Z", "2030-03-01T00:00:00Z"),
        ] {
            let d = decide(nb, na, None, &ari, 0.5, at("2030-03-05T00:00:00Z"));
            assert_eq!(d.window, "local");
            assert!(d.due);
            assert!(d
                .fallback
                .as_deref()
                .unwrap_or_default()
                .contains("malformed"));
        }
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let (nb, na) = cert();
        let why = Ari::Unused("x".into());
        let d = decide(
            nb,
            na,
            Some(u32::MAX),
            &why,
            0.0,
            at("2030-01-01T00:00:00Z"),
        );
        assert!(d.due);
        assert_eq!(d.from, DateTime::<Utc>::MIN_UTC);
        let ari = window("2030-03-01T00:00:00Z", "2030-03-11T00:00:00Z");
        assert!(decide(nb, na, None, &ari, 1.0, DateTime::<Utc>::MAX_UTC).due);
    }

    #[test]
    fn the_pick_is_stable_in_range_and_spreads() {
        let a = pick("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        assert_eq!(a, pick("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"));
        let picks: Vec<f64> = (0..1000).map(|i| pick(&format!("aki.{i}"))).collect();
        assert!(picks.iter().all(|p| (0.0..1.0).contains(p)));
        let low = picks.iter().filter(|p| **p < 0.5).count();
        assert!((400..600).contains(&low), "{low} of 1000 below one half");
    }
}
