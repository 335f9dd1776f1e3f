//! `pinctl check`'s judgement: every finding about a site at a moment, with
//! a severity in the monitoring-plugin convention. Pure: a site and "now"
//! in, findings out; `verify` supplies what the live server showed.

use chrono::{DateTime, Utc};

use crate::text::rfc3339;

use crate::header::{self, Mode};
use crate::lifecycle;
use crate::plan;
use crate::state::{Role, Site};

pub use crate::finding::{Finding, Severity};

struct Findings<'a> {
    site: &'a Site,
    out: Vec<Finding>,
}

impl Findings<'_> {
    fn add(
        &mut self,
        severity: Severity,
        key: Option<&str>,
        code: &'static str,
        message: String,
        due: Option<DateTime<Utc>>,
    ) {
        self.out.push(Finding {
            severity,
            site: self.site.domain.clone(),
            key: key.map(str::to_string),
            code,
            message,
            due,
        });
    }
}

/// Every finding about `site` at `now`; certificates are warned about
/// from their renewal window (`lifecycle::renewal_from`), or within
/// `warn_days` of expiry when given.
pub fn check_site(site: &Site, now: DateTime<Utc>, warn_days: Option<i64>) -> Vec<Finding> {
    check_site_with(site, now, warn_days, plan::Unexpected::default())
}

/// As [`check_site`], with the unexpected reports since the live header
/// (they hold the ramp back).
pub fn check_site_with(
    site: &Site,
    now: DateTime<Utc>,
    warn_days: Option<i64>,
    unexpected: plan::Unexpected,
) -> Vec<Finding> {
    let mut f = Findings {
        site,
        out: Vec::new(),
    };
    let Some(active) = site.active() else {
        f.add(
            Severity::Critical,
            None,
            "no-active-key",
            "the site has no active key".into(),
            None,
        );
        return f.out;
    };
    certificates(&mut f, site, active, now, warn_days);
    locked_out(&mut f, site, now);
    publication(&mut f, site, active);
    backups_and_keys(&mut f, site, now);
    history(&mut f, site, now);
    ramp(&mut f, site, now, unexpected);
    channels(&mut f, site, active, now, warn_days);
    f.out
}

/// CRITICAL for every key the servers may serve (the active key, or one
/// nothing has shown replaced) that a pinset clients may hold rejects:
/// those clients are locked out now, whatever led there (a `--force`, an
/// old release, a step pinctl was not told about).
fn locked_out(f: &mut Findings<'_>, site: &Site, now: DateTime<Utc>) {
    for k in lifecycle::served_keys(site) {
        for b in lifecycle::blockers(site, k, now) {
            let whose = match &b.site {
                Some(d) => format!("{}'s {} (reaching this site)", d, b.label()),
                None => b.label(),
            };
            let until = if b.forever {
                "for ever (it never expires)".to_string()
            } else {
                match b.retained_until {
                    Some(t) => format!("until {}", rfc3339(t)),
                    None => "while it is current, and after it for its retention".into(),
                }
            };
            let serves = if k.role == Role::Active {
                format!("the active key {}", k.name)
            } else {
                format!(
                    "key {} ({}; nothing shows the servers moved off it: pinctl deployed or publish)",
                    k.name,
                    k.role.as_str()
                )
            };
            f.add(
                Severity::Critical,
                Some(&k.name),
                "served-key-locked-out",
                format!("{whose} lacks {serves}: clients that hold it are locked out {until}"),
                b.retained_until,
            );
        }
    }
}

/// Findings about the channels besides web: the active key in what each
/// published, pinsets yet to publish, app pin-sets expiring, releases
/// held for ever.
fn channels(
    f: &mut Findings<'_>,
    site: &Site,
    active: &crate::state::Key,
    now: DateTime<Utc>,
    warn_days: Option<i64>,
) {
    use crate::state::ChannelKind;
    for c in site.channels.iter().filter(|c| c.retired.is_none()) {
        let name = c.name.as_str();
        let latest = site.latest_in(name);
        if let Some((i, p)) = latest {
            let label = p.label(i + 1);
            if lifecycle::held_at(p, now) && !lifecycle::accepts_key(p, site, active) {
                f.add(
                    Severity::Critical,
                    Some(&active.name),
                    "channel-lacks-active",
                    format!(
                        "{label} lacks the active key {}: its clients are locked out now",
                        active.name
                    ),
                    None,
                );
            }
            if let Some(d) = p.expires {
                let end = lifecycle::expiry_instant(d);
                if end <= now {
                    f.add(
                        Severity::Warning,
                        None,
                        "release-expired",
                        format!("{label}'s pin-set expired on {d}: installs pin nothing; ship a release with a later expiration"),
                        Some(end),
                    );
                } else if end
                    <= lifecycle::add_days(now, warn_days.unwrap_or(lifecycle::RENEW_DAYS))
                {
                    let days = (end - now).num_days();
                    f.add(
                        Severity::Warning,
                        None,
                        "release-expiring",
                        format!("{label}'s pin-set expires in {days} days (on {d}): ship a release with a later expiration (pinctl snippet --channel {name})"),
                        Some(end),
                    );
                }
            }
        }
        for (i, p) in site.publications.iter().enumerate() {
            if p.channel_name() == name && lifecycle::retention(p) == lifecycle::Retention::Forever
            {
                let pins: Vec<String> = p.pins.iter().map(|p| p.to_string()).collect();
                f.add(
                    Severity::Warning,
                    None,
                    "release-held-forever",
                    format!(
                        "{} is held for ever (its pins never expire): no key outside {{{}}} can ever be served",
                        p.label(i + 1),
                        pins.join(", ")
                    ),
                    None,
                );
            }
        }
        if lifecycle::channel_pending(site, name, now) {
            let what = match c.kind {
                ChannelKind::Dns => format!("the TLSA records of the current keys are not all in the zone: add them (pinctl snippet --channel {name}), then pinctl publish --channel {name}"),
                _ => format!("no {name} release carries the current pinset: ship one (pinctl snippet --channel {name} > FILE), then pinctl publish --channel {name} --release LABEL --from FILE"),
            };
            f.add(Severity::Warning, None, "channel-unpublished", what, None);
        } else {
            f.add(
                Severity::Ok,
                None,
                "channel-current",
                format!("channel {name} carries the current pinset"),
                None,
            );
        }
    }
}

/// Findings about the active key's certificates.
fn certificates(
    f: &mut Findings<'_>,
    site: &Site,
    active: &crate::state::Key,
    now: DateTime<Utc>,
    warn_days: Option<i64>,
) {
    let live = site.live();
    // Certificates of the active key.
    match site
        .certificates
        .iter()
        .rev()
        .find(|c| c.key == active.name)
    {
        None => f.add(
            Severity::Critical,
            Some(&active.name),
            "no-certificate",
            format!(
                "the active key {} has no recorded certificate (pinctl cert add)",
                active.name
            ),
            None,
        ),
        Some(c) if c.not_after <= now => f.add(
            Severity::Critical,
            Some(&active.name),
            "certificate-expired",
            format!(
                "the certificate {} of {} expired on {}",
                c.file,
                c.key,
                rfc3339(c.not_after)
            ),
            Some(c.not_after),
        ),
        Some(c) => {
            let window_end = live
                .filter(|l| l.mode == Mode::Enforce)
                .map(|l| lifecycle::add_secs(now, l.max_age));
            // The renewal window `renew` acts in, so that check warns
            // about what renew has failed to do, not before it tried.
            let from = lifecycle::renewal_from(c, warn_days);
            if from <= now {
                let days = warn_days.unwrap_or_else(|| (c.not_after - from).num_days());
                f.add(
                    Severity::Warning,
                    Some(&active.name),
                    "certificate-expiring",
                    format!(
                        "the certificate {} of {} expires on {}, within {days} days",
                        c.file,
                        c.key,
                        rfc3339(c.not_after)
                    ),
                    Some(c.not_after),
                );
            } else if window_end.is_some_and(|w| c.not_after < w) {
                f.add(
                    Severity::Warning,
                    Some(&active.name),
                    "certificate-expiring",
                    format!("the certificate {} of {} expires on {}, before the live max-age window ends", c.file, c.key, rfc3339(c.not_after)),
                    Some(c.not_after),
                );
            } else {
                f.add(
                    Severity::Ok,
                    Some(&active.name),
                    "certificate",
                    format!(
                        "certificate {} valid until {}",
                        c.file,
                        rfc3339(c.not_after)
                    ),
                    None,
                );
            }
        }
    }
}

/// Findings about the live publication and the policy.
fn publication(f: &mut Findings<'_>, site: &Site, active: &crate::state::Key) {
    let live = site.live();
    // The live publication must hold the served key.
    if let Some(l) = live {
        if !lifecycle::accepts(&l.pins, site, active) {
            let sev = if l.mode == Mode::Enforce {
                Severity::Critical
            } else {
                Severity::Warning
            };
            f.add(
                sev,
                Some(&active.name),
                "live-lacks-active",
                format!(
                    "the live header lacks the active key {} and every pin of its chain",
                    active.name
                ),
                None,
            );
        } else {
            f.add(
                Severity::Ok,
                Some(&active.name),
                "live-holds-active",
                "the live header holds the active key".into(),
                None,
            );
        }
        if l.max_age > header::MAX_AGE_ADVISED && l.mode == Mode::Enforce {
            f.add(
                Severity::Warning,
                None,
                "max-age-high",
                format!(
                    "the live max-age {} is above 60 days ({} s)",
                    l.max_age,
                    header::MAX_AGE_ADVISED
                ),
                None,
            );
        }
        // The history says whether the last promotion came after the
        // last publication (timestamps may be equal within a second).
        let promoted = site.events.iter().rposition(|e| e.event.is_promotion());
        let published = site
            .events
            .iter()
            .rposition(|e| e.event == crate::state::EventKind::Publish && e.channel.is_none());
        if promoted > published {
            f.add(
                Severity::Warning,
                Some(&active.name),
                "rotation-unpublished",
                format!("{} was promoted on {} but the header served since {} was recorded before it: deploy and publish", active.name, rfc3339(active.role_since), rfc3339(l.from)),
                Some(active.role_since),
            );
        }
    }
    if site.policy.max_age > header::MAX_AGE_ADVISED
        && live.is_none_or(|l| l.max_age != site.policy.max_age)
    {
        f.add(
            Severity::Warning,
            None,
            "max-age-high",
            format!(
                "the policy's max-age {} is above 60 days ({} s)",
                site.policy.max_age,
                header::MAX_AGE_ADVISED
            ),
            None,
        );
    }
    if let Some(u) = &site.policy.report_uri {
        if let Ok((_, host)) = header::check_uri(u) {
            if host.eq_ignore_ascii_case(&site.domain) {
                f.add(
                    Severity::Warning,
                    None,
                    "report-uri-on-host",
                    format!("report-uri {u} is on the pinned host: reports of pin failures cannot reach it"),
                    None,
                );
            }
        }
    }
}

/// Findings about the backups: how many, safe when, copies.
fn backups_and_keys(f: &mut Findings<'_>, site: &Site, now: DateTime<Utc>) {
    // Backups.
    let backups: Vec<_> = site.backups().collect();
    if backups.len() < 2 {
        f.add(
            Severity::Critical,
            None,
            "too-few-backups",
            format!("{} backup key(s): at least two are needed", backups.len()),
            None,
        );
    }
    let safe: Vec<_> = backups
        .iter()
        .filter(|k| lifecycle::blockers(site, k, now).is_empty())
        .collect();
    if safe.is_empty() {
        let next = backups
            .iter()
            .filter_map(|k| match lifecycle::safe_from(site, k) {
                lifecycle::SafeFrom::At(t) => Some(t),
                lifecycle::SafeFrom::Never => None,
            })
            .min();
        f.add(
            Severity::Critical,
            None,
            "no-safe-backup",
            match next {
                Some(t) => format!("no backup is safe to promote before {}: a compromise now would force a lock-out", rfc3339(t)),
                None => "no backup is in every pinset clients may hold: a compromise now would force a lock-out".into(),
            },
            next,
        );
    } else {
        f.add(
            Severity::Ok,
            None,
            "safe-backup",
            format!("{} backup(s) safe to promote now", safe.len()),
            None,
        );
    }
    for k in &backups {
        if k.copies.len() < 2 {
            f.add(
                Severity::Warning,
                Some(&k.name),
                "backup-copies",
                format!(
                    "{} has {} recorded offline copies (two are needed)",
                    k.name,
                    k.copies.len()
                ),
                None,
            );
        }
        let last = k
            .copies
            .iter()
            .map(|c| c.verified.unwrap_or(c.copied))
            .max();
        if let Some(last) = last {
            if lifecycle::add_days(last, 365) < now {
                f.add(
                    Severity::Warning,
                    Some(&k.name),
                    "backup-unverified",
                    format!("{}'s copies were last verified on {}, over a year ago (pinctl archive verify)", k.name, rfc3339(last)),
                    Some(lifecycle::add_days(last, 365)),
                );
            }
        }
    }
}

/// Findings from the history: compromised keys, edited recipients.
fn history(f: &mut Findings<'_>, site: &Site, now: DateTime<Utc>) {
    for k in site.keys.iter().filter(|k| k.role == Role::Compromised) {
        if let Some(t) = lifecycle::compromised_until(site, &k.name, now).filter(|t| *t > now) {
            let forever = t == DateTime::<Utc>::MAX_UTC;
            f.add(
                Severity::Ok,
                Some(&k.name),
                "compromised-trusted",
                if forever {
                    format!("compromised key {} is accepted for ever by installs of an app release that never expires", k.name)
                } else {
                    format!(
                        "compromised key {} may be accepted by clients until {}",
                        k.name,
                        rfc3339(t)
                    )
                },
                (!forever).then_some(t),
            );
        }
    }

    if let Some((old, new)) = site.recipients_changed() {
        let show = crate::state::describe_recipients;
        f.add(
            Severity::Warning,
            None,
            "recipients-changed",
            format!(
                "site.yaml seals new archives to {} but the existing archives were sealed to {}: check who edited it",
                show(&new),
                show(&old)
            ),
            None,
        );
    }
}

/// Ramp steps that are due.
fn ramp(f: &mut Findings<'_>, site: &Site, now: DateTime<Utc>, unexpected: plan::Unexpected) {
    for s in plan::next_steps_with(site, &site.domain, now, unexpected) {
        if s.kind == plan::StepKind::Ramp && s.not_before.is_some_and(|t| t <= now) {
            f.add(
                Severity::Warning,
                None,
                "ramp-due",
                format!("ramp step due: {}", s.action),
                s.not_before,
            );
        }
    }
}

/// The overall status: the worst severity among findings.
pub fn overall(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// How far back `check` counts violation reports.
pub const REPORT_WINDOW_DAYS: i64 = 7;

/// Findings from the violation reports of `site` last seen in the window,
/// one per class, host and app ([`crate::report::summarise`]), so that a
/// flood stays a few lines: a compromised key or a foreign chain is
/// CRITICAL (pinning caught what it exists for); the site's own
/// misconfiguration is CRITICAL under enforce (clients are locked out
/// now) and a WARNING under Report-Only; stale pinsets and noted keys
/// served are reported as OK lines.
pub fn report_findings(site: &Site, rows: &[crate::report::ReportFinding]) -> Vec<Finding> {
    use crate::report::Class;
    let mut f = Findings {
        site,
        out: Vec::new(),
    };
    let enforced = site.live().is_some_and(|l| l.mode == Mode::Enforce);
    let mine: Vec<&crate::report::ReportFinding> = rows
        .iter()
        .filter(|r| r.site.as_deref() == Some(site.domain.as_str()))
        .collect();
    for g in crate::report::summarise(&mine) {
        let what = if g.hostname.is_empty() {
            format!(
                "{} report(s) about {} more host(s) or app(s), first {}, last {}; see pinctl reports list",
                g.count, g.distinct, g.first_seen, g.last_seen
            )
        } else {
            // At most three certificates: the names come from the network.
            let mut chain: Vec<String> = g
                .chain
                .iter()
                .take(3)
                .map(|(p, s)| {
                    if s.is_empty() {
                        p.clone()
                    } else {
                        format!(
                            "{} ({p})",
                            crate::text::printable(&s.chars().take(120).collect::<String>())
                        )
                    }
                })
                .collect();
            if g.chain.len() > 3 {
                chain.push(format!("{} more", g.chain.len() - 3));
            }
            format!(
                "{} report(s) ({} distinct) from {} ({}{}), first {}, last {}; served chain{}: {}",
                g.count,
                g.distinct,
                g.hostname,
                g.source,
                g.app
                    .as_deref()
                    .map(|a| format!(" {a}"))
                    .unwrap_or_default(),
                g.first_seen,
                g.last_seen,
                if g.distinct > 1 {
                    " (most reported)"
                } else {
                    ""
                },
                if chain.is_empty() {
                    "-".into()
                } else {
                    chain.join(", ")
                }
            )
        };
        match g.class {
            Class::CompromisedKey => f.add(
                Severity::Critical,
                None,
                "reports-compromised-key",
                format!("a chain with a key recorded as compromised: whoever holds it is serving it; {what}"),
                None,
            ),
            Class::ForeignChain => f.add(
                Severity::Critical,
                None,
                "reports-foreign-chain",
                format!("a chain with none of the site's keys or issuers: interception or a mis-issued certificate; {what}"),
                None,
            ),
            Class::Misconfiguration => f.add(
                if enforced { Severity::Critical } else { Severity::Warning },
                None,
                "reports-misconfiguration",
                format!("clients' noted pins lack the key served: {what}"),
                None,
            ),
            Class::StalePinset => f.add(
                Severity::Ok,
                None,
                "reports-stale-pinset",
                format!("clients hold an older pinset: {what}"),
                None,
            ),
            Class::NotedKeyServed => f.add(
                Severity::Ok,
                None,
                "reports-noted-key-served",
                format!("clients' noted pins include a key of the chain they validated (a forged report, or a client that built another chain): {what}"),
                None,
            ),
            Class::UnknownHost => {}
        }
    }
    f.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::tests::{site_at, t};

    fn codes(f: &[Finding], sev: Severity) -> Vec<&'static str> {
        f.iter()
            .filter(|x| x.severity == sev)
            .map(|x| x.code)
            .collect()
    }

    #[test]
    fn a_finding_is_written_as_its_json_value_is() {
        // `check --format json` writes findings straight from the struct;
        // scripts saw their keys in sorted order (docs/cli.md).
        let s = site_at(t("2030-01-01T00:00:00Z"));
        let mut f = check_site(&s, t("2030-01-02T00:00:00Z"), Some(30));
        f.push(Finding {
            code: "ramp-due",
            due: Some(t("2030-02-01T00:00:00Z")),
            key: None,
            message: "a \"quoted\" message".into(),
            severity: Severity::Warning,
            site: s.domain.clone(),
        });
        assert!(f.iter().any(|x| x.key.is_some()) && f.iter().any(|x| x.due.is_none()));
        let direct = serde_json::to_string_pretty(&f).unwrap();
        let value = serde_json::to_string_pretty(&serde_json::to_value(&f).unwrap()).unwrap();
        assert_eq!(direct, value);
    }

    #[test]
    fn a_new_site_lacks_a_certificate_and_copies() {
        let s = site_at(t("2030-01-01T00:00:00Z"));
        let f = check_site(&s, t("2030-01-02T00:00:00Z"), Some(30));
        assert_eq!(codes(&f, Severity::Critical), ["no-certificate"]);
        assert!(codes(&f, Severity::Warning).contains(&"backup-copies"));
        assert_eq!(overall(&f), Severity::Critical);
    }

    fn any_time() -> impl proptest::strategy::Strategy<Value = DateTime<Utc>> {
        use proptest::prelude::*;
        let min = DateTime::<Utc>::MIN_UTC.timestamp();
        let max = DateTime::<Utc>::MAX_UTC.timestamp();
        prop_oneof![
            Just(DateTime::<Utc>::MIN_UTC),
            Just(DateTime::<Utc>::MAX_UTC),
            (min..=max).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
            (1_800_000_000i64..2_000_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        ]
    }

    proptest::proptest! {
        /// Regression: `check --warn-days 100000000` panicked on the date
        /// arithmetic; check and plan must take any date and any number.
        #[test]
        fn check_and_plan_take_extreme_dates_and_values(
            now in any_time(),
            created in any_time(),
            not_after in any_time(),
            warn_days in proptest::prelude::any::<i64>(),
            max_age in proptest::prelude::any::<u64>(),
            enforce in proptest::prelude::any::<bool>(),
        ) {
            let mut s = site_at(created);
            s.policy.max_age = max_age;
            if enforce {
                s.policy.mode = Mode::Enforce;
            }
            s.certificates.push(crate::state::Cert {
                key: "primary".into(),
                file: "primary.cert.pem".into(),
                subject: String::new(),
                not_before: created,
                not_after,
                chain_pins: vec![],
                issuer_pin: None,
                names: vec![],
                added: created,
            });
            s.keys[1].copies.push(crate::state::OfflineCopy {
                location: "safe".into(),
                path: "/x".into(),
                sha256: String::new(),
                copied: not_after,
                verified: None,
            });
            let _ = lifecycle::publish(&mut s, created);
            let _ = check_site(&s, now, Some(warn_days));
            let _ = plan::next_steps(&s, "state/example.com", now);
            let _ = plan::promotion(&s, "state/example.com", "backup1", now);
            let _ = lifecycle::rotate(&mut s, "backup1", now, true, true);
            let _ = check_site(&s, now, Some(warn_days));
            let _ = plan::next_steps(&s, "state/example.com", now);
        }
    }
}
