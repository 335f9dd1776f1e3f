//! Plans: dated step lists built from a site and "now" — what is due next
//! (the roll-out ramp, certificates, offline copies, promotions, key
//! destruction, decommissioning) and the steps of a promotion. Pure: no
//! I/O, no clock.

use chrono::{DateTime, Utc};

use crate::text::rfc3339;
use serde::Serialize;

use crate::header::Mode;
use crate::lifecycle::{self, Retention, SafeFrom};
use crate::state::{Role, Site};

/// The roll-out ramp: Report-Only for at least this long first…
pub const REPORT_ONLY_DAYS: i64 = 7;
/// …then enforce with these max-ages, each no sooner than the previous
/// max-age has passed without trouble.
pub const RAMP: [u64; 5] = [300, 86_400, 604_800, 2_592_000, 5_184_000];

/// What a step is about, so that `check` and scripts need not read the
/// prose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    Certificate,
    Copy,
    Publish,
    Ramp,
    Promote,
    Deploy,
    Destroy,
    Renew,
    Decommission,
    Wait,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub n: usize,
    pub kind: StepKind,
    #[serde(serialize_with = "crate::text::ser_opt")]
    pub not_before: Option<DateTime<Utc>>,
    pub action: String,
    pub command: Option<String>,
}

struct Builder {
    steps: Vec<Step>,
}

impl Builder {
    fn add(
        &mut self,
        kind: StepKind,
        not_before: Option<DateTime<Utc>>,
        action: String,
        command: Option<String>,
    ) {
        self.steps.push(Step {
            n: self.steps.len() + 1,
            kind,
            not_before,
            action,
            command,
        });
    }
}

/// The next ramp max-age after `current`, or None at the top.
pub fn next_ramp(current: u64) -> Option<u64> {
    RAMP.iter().copied().find(|&m| m > current)
}

/// Unexpected violation reports (foreign chains, the site's own
/// misconfiguration) since the live header was published: they hold the
/// ramp back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unexpected {
    pub count: u64,
    pub last: Option<DateTime<Utc>>,
}

impl Unexpected {
    /// Counts the unexpected reports of `site` last seen since its live
    /// header was published.
    pub fn of(site: &Site, rows: &[crate::report::ReportFinding]) -> Unexpected {
        use crate::report::Class;
        let Some(live) = site.live() else {
            return Unexpected::default();
        };
        let from = rfc3339(live.from);
        let mut u = Unexpected::default();
        for r in rows.iter().filter(|r| {
            r.site.as_deref() == Some(site.domain.as_str())
                && matches!(
                    r.class,
                    Class::CompromisedKey | Class::ForeignChain | Class::Misconfiguration
                )
                && r.last_seen >= from
        }) {
            u.count += r.count;
            let last = DateTime::parse_from_rfc3339(&r.last_seen)
                .ok()
                .map(|t| t.with_timezone(&Utc));
            u.last = u.last.max(last);
        }
        u
    }
}

/// What is due next for a site whose files are in the folder `dir`.
pub fn next_steps(site: &Site, dir: &str, now: DateTime<Utc>) -> Vec<Step> {
    next_steps_with(site, dir, now, Unexpected::default())
}

/// What is due next, with the unexpected reports since the live header.
pub fn next_steps_with(
    site: &Site,
    dir: &str,
    now: DateTime<Utc>,
    unexpected: Unexpected,
) -> Vec<Step> {
    let mut b = Builder { steps: Vec::new() };
    let Some(active) = site.active() else {
        return b.steps;
    };
    setup_steps(&mut b, site, active, dir);
    header_steps(&mut b, site, active, now, unexpected);
    key_steps(&mut b, site, now);
    renewal_steps(&mut b, site, active, dir);
    channel_steps(&mut b, site, now);
    b.steps
}

/// Each channel's next publication: the TLSA records to add, or the app
/// release to ship with the pins it must carry and their expiration.
fn channel_steps(b: &mut Builder, site: &Site, now: DateTime<Utc>) {
    use crate::state::ChannelKind;
    for c in site.channels.iter().filter(|c| c.retired.is_none()) {
        let name = c.name.as_str();
        let Some(want) = lifecycle::desired_publication(site, name, now, None, None) else {
            continue;
        };
        let pins: Vec<String> = want
            .pins
            .iter()
            .chain(&want.ca_pins)
            .map(|p| p.to_string())
            .collect();
        if lifecycle::channel_pending(site, name, now) {
            let (action, command) = match c.kind {
                ChannelKind::Dns => crate::dane::plan_step(c, &pins, want.ttl.unwrap_or(0)),
                _ => (
                    format!(
                        "Ship a release through channel {name} with pins {{{}}}{}",
                        pins.join(", "),
                        match want.expires {
                            Some(d) => format!(" expiring {d}"),
                            None if c.kind.expires() => " (no expiration: held for ever)".into(),
                            None => String::new(),
                        }
                    ),
                    format!("pinctl snippet --channel {name} > FILE  # then, once FILE ships: pinctl publish --channel {name} --release LABEL --from FILE"),
                ),
            };
            b.add(StepKind::Publish, None, action, Some(command));
        } else if let Some((i, p)) = site.latest_in(name) {
            // Ship a later expiration before the current one lapses (a
            // lapsed pin-set pins nothing).
            if let Some(d) = p.expires {
                let end = lifecycle::expiry_instant(d);
                b.add(
                    StepKind::Publish,
                    Some(lifecycle::add_days(end, -30).max(now)),
                    format!(
                        "{} pins until {d}: ship a release with a later expiration before then",
                        p.label(i + 1)
                    ),
                    Some(format!("pinctl snippet --channel {name} > FILE  # then, once FILE ships: pinctl publish --channel {name} --release LABEL --from FILE")),
                );
            }
        }
    }
}

/// A certificate for the active key, offline copies of the backups.
fn setup_steps(b: &mut Builder, site: &Site, active: &crate::state::Key, dir: &str) {
    if !site.certificates.iter().any(|c| c.key == active.name) {
        b.add(
            StepKind::Certificate,
            None,
            format!(
                "Get a certificate for the active key {} from its CSR {dir}/{} and record it",
                active.name, active.csr
            ),
            Some("pinctl cert add CERT.pem".into()),
        );
    }
    for k in site.backups() {
        if k.copies.len() < 2 {
            b.add(
                StepKind::Copy,
                None,
                format!(
                    "Store {} in two separate places ({} recorded so far)",
                    k.name,
                    k.copies.len()
                ),
                Some(format!(
                    "pinctl archive copy {} --to DIR --location LABEL",
                    k.name
                )),
            );
        }
    }
}

/// The header to publish, the decommissioning and the ramp.
fn header_steps(
    b: &mut Builder,
    site: &Site,
    active: &crate::state::Key,
    now: DateTime<Utc>,
    unexpected: Unexpected,
) {
    let desired = lifecycle::desired_header(site);
    let live = site.live();
    let pending = live.is_none_or(|l| !lifecycle::same_as(l, &desired));
    // Until something shows the servers moved to the active key, the
    // key it replaced counts as served (docs/design.md#evidence): say
    // which command records the move.
    let stale: Vec<&str> = lifecycle::served_keys(site)
        .iter()
        .filter(|k| k.name != active.name)
        .map(|k| k.name.as_str())
        .collect();
    if !stale.is_empty() {
        b.add(
            StepKind::Deploy,
            None,
            format!(
                "Deploy {}'s key and certificate on every server of {}, then record it: until then {} still counts as served, so the header keeps its pin and no TLSA RRset or app release may drop it",
                active.name,
                site.domain,
                stale.join(", ")
            ),
            Some(format!(
                "pinctl deployed {} --from-url https://{}/  # or, on the operator's word: pinctl deployed {}; publishing the header records it too",
                active.name, site.domain, active.name
            )),
        );
    }
    if pending {
        let blockers = lifecycle::blockers(site, active, now);
        let when = match lifecycle::safe_from(site, active) {
            SafeFrom::At(t) if !blockers.is_empty() => Some(t),
            _ => None,
        };
        b.add(
            StepKind::Publish,
            when,
            format!(
                "Serve the desired header ({}) and record it",
                desired.line()
            ),
            Some("pinctl snippet --server nginx  # then, once deployed: pinctl publish".into()),
        );
    }
    // Decommissioning: max-age=0 until the last retention window ends.
    if site.policy.max_age == 0 && site.policy.mode == Mode::Enforce {
        let end = lifecycle::held_until_replaced_at(
            site.publications
                .iter()
                .filter(|p| p.kind == crate::state::ChannelKind::Web),
            now,
        );
        match end {
            Some(end) => b.add(
                StepKind::Decommission,
                Some(end),
                format!(
                    "Keep serving max-age=0 until {}, when the last client's pins have expired; then remove the header",
                    rfc3339(end)
                ),
                None,
            ),
            None => b.add(
                StepKind::Decommission,
                None,
                "Remove the header: no client holds pins".into(),
                None,
            ),
        }
    } else if let Some(live) = live.filter(|_| !pending) {
        // The ramp: each step waits its time after the header went out,
        // and as long again after the last unexpected report.
        let gate = |wait_end: DateTime<Utc>, wait_secs: u64| -> (DateTime<Utc>, String) {
            match unexpected.last {
                Some(last) if unexpected.count > 0 => (
                    wait_end.max(lifecycle::add_secs(last, wait_secs)),
                    format!(
                        "; {} unexpected report(s) since this header was published, the last at {}: due once as long has passed without one (pinctl reports list)",
                        unexpected.count,
                        rfc3339(last)
                    ),
                ),
                _ => (
                    wait_end,
                    "; 0 unexpected reports since this header was published".to_string(),
                ),
            }
        };
        match live.mode {
            Mode::ReportOnly => {
                let wait = (REPORT_ONLY_DAYS * 86_400) as u64;
                let (due, note) = gate(lifecycle::add_days(live.from, REPORT_ONLY_DAYS), wait);
                b.add(
                    StepKind::Ramp,
                    Some(due),
                    format!(
                        "After at least {REPORT_ONLY_DAYS} days of Report-Only without unexpected reports, enforce with max-age={}{note}",
                        RAMP[0]
                    ),
                    Some(format!("pinctl policy --enforce --max-age {} && pinctl publish", RAMP[0])),
                )
            }
            Mode::Enforce => {
                if let Some(next) = next_ramp(live.max_age) {
                    let (due, note) =
                        gate(lifecycle::add_secs(live.from, live.max_age), live.max_age);
                    b.add(
                        StepKind::Ramp,
                        Some(due),
                        format!(
                            "Once max-age={} has been served for {} s without trouble, raise max-age to {next}{note}",
                            live.max_age, live.max_age
                        ),
                        Some(format!("pinctl policy --max-age {next} && pinctl publish")),
                    );
                }
            }
        }
    }
}

/// Backups that become safe to promote; keys whose archives may go.
fn key_steps(b: &mut Builder, site: &Site, now: DateTime<Utc>) {
    for k in site.backups() {
        match lifecycle::safe_from(site, k) {
            SafeFrom::At(t) if t > now => b.add(
                StepKind::Promote,
                Some(t),
                format!("{} becomes safe to promote", k.name),
                Some(format!("pinctl rotate --promote {}", k.name)),
            ),
            SafeFrom::Never => b.add(
                StepKind::Publish,
                None,
                format!(
                    "{} is not in a live header clients hold (this site's, or an ancestor's includeSubDomains header): publish one that holds it before it can ever be promoted",
                    k.name
                ),
                Some("pinctl publish".into()),
            ),
            _ => {}
        }
    }
    for k in site
        .keys
        .iter()
        .filter(|k| k.destroyed.is_none() && matches!(k.role, Role::Retired | Role::Compromised))
    {
        let (when, why) = if k.role == Role::Compromised {
            (Some(k.role_since), "it must never be served again")
        } else {
            match destroy_after(site, &k.pin) {
                Some(t) => (Some(t), "no client accepts it any longer"),
                None => continue,
            }
        };
        b.add(
            StepKind::Destroy,
            when,
            format!(
                "Destroy the archive of {} key {}: {why}",
                k.role.as_str(),
                k.name
            ),
            Some(format!("pinctl key destroy {}", k.name)),
        );
    }
}

/// Renewing the active key's certificate.
fn renewal_steps(b: &mut Builder, site: &Site, active: &crate::state::Key, dir: &str) {
    // Only the certificate that lasts longest matters: an older one has
    // been renewed already.
    if let Some(c) = site
        .certificates
        .iter()
        .filter(|c| c.key == active.name)
        .max_by_key(|c| c.not_after)
    {
        b.add(
            StepKind::Renew,
            Some(lifecycle::renewal_from(c, None)),
            format!(
                "Renew the certificate {} of {} before it expires on {}: get a new one for the CSR {dir}/{} and record it",
                c.file,
                c.key,
                rfc3339(c.not_after),
                active.csr
            ),
            Some("pinctl cert add CERT.pem".into()),
        );
    }
}

/// When no pinset clients may hold still contains `pin` (None while a
/// live publication holds it).
pub fn destroy_after(site: &Site, pin: &crate::pin::Pin) -> Option<DateTime<Utc>> {
    match lifecycle::held_until(lifecycle::holding(site, pin)) {
        Retention::Open | Retention::Forever => None,
        Retention::Until(r) => Some(r),
        // Never published: it may go as soon as it is retired.
        Retention::Nothing => site
            .keys
            .iter()
            .find(|k| &k.pin == pin)
            .map(|k| k.role_since),
    }
}

/// The steps of promoting `name`, dated from `now`; `dir` is the site's
/// folder.
pub fn promotion(site: &Site, dir: &str, name: &str, now: DateTime<Utc>) -> Vec<Step> {
    let mut b = Builder { steps: Vec::new() };
    let Some(key) = site.key(name) else {
        return b.steps;
    };
    let start = match lifecycle::safe_from(site, key) {
        SafeFrom::At(t) => t.max(now),
        SafeFrom::Never => {
            never_safe(&mut b, site, key);
            return b.steps;
        }
    };
    switch_steps(&mut b, site, dir, key, start);
    // Every current publication (header, RRset, latest app release)
    // replaced at `start`: what clients may then hold decides when a key
    // in none of them is safe, and when the old key is held by none.
    let probe = replaced_at(site, start);
    let next = new_backups_safe(&mut b, site, &probe, start);
    destroy_old(&mut b, site, &probe, key, next);
    b.steps
}

/// Why `key` can never be promoted as things stand: no live pinset
/// holds it, or one that lacks it is held for ever.
fn never_safe(b: &mut Builder, site: &Site, key: &crate::state::Key) {
    let name = key.name.as_str();
    let forever: Vec<String> = lifecycle::pinsets(site)
        .filter(|ps| lifecycle::retention(ps.publication) == Retention::Forever)
        .filter(|ps| !lifecycle::accepts_key(ps.publication, site, key))
        .map(|ps| ps.publication.label(ps.number))
        .collect();
    let action = if forever.is_empty() {
        format!(
                "{name} is not in a live pinset clients hold (this site's header or a channel's current publication, or an ancestor's reaching this site): add it and publish first; it is safe to promote only once every pinset clients hold contains it"
            )
    } else {
        format!(
                "{name} can never be promoted safely: {} never stop being held and lack it (installs that never update keep them)",
                forever.join(", ")
            )
    };
    b.add(
        StepKind::Publish,
        None,
        action,
        Some("pinctl publish".into()),
    );
}

/// The switch to `key` from `start`: promote it, certify, deploy and
/// publish the header(s) that follow, store the new backups.
fn switch_steps(
    b: &mut Builder,
    site: &Site,
    dir: &str,
    key: &crate::state::Key,
    start: DateTime<Utc>,
) {
    let name = key.name.as_str();
    let domain = &site.domain;
    if key.role == Role::Backup {
        b.add(
            StepKind::Promote,
            Some(start),
            format!(
                "Promote {name} (from {}; earlier would lock out returning visitors)",
                rfc3339(start)
            ),
            Some(format!("pinctl rotate --promote {name}")),
        );
    }
    if !site.certificates.iter().any(|c| c.key == name) {
        b.add(
            StepKind::Certificate,
            Some(start),
            format!(
                "Get a certificate for {name} from its CSR {dir}/{} and record it",
                key.csr
            ),
            Some("pinctl cert add CERT.pem".into()),
        );
    }
    // Only a header published, `deployed` or a probe shows the servers
    // moved (docs/design.md#evidence); until then the old key counts as
    // served and keeps its pin everywhere.
    b.add(
        StepKind::Deploy,
        Some(start),
        format!("Deploy {name}'s key and certificate on every server of {domain}, then record it (until then the old key counts as served: RRsets and releases must keep it)"),
        Some(format!(
            "pinctl key export {name} --out /etc/ssl/private/{domain}.key  # then: pinctl deployed {name} --from-url https://{domain}/ (or the header's pinctl publish below)"
        )),
    );
    // Before a rotation, or after a planned one, the old pin stays for a
    // roll-back; after --compromised it is already gone.
    if key.role == Role::Backup || lifecycle::keeps_retired(site) {
        b.add(
            StepKind::Publish,
            Some(start),
            "Deploy the new header (it still holds the old key's pin, so a failed deployment can roll back) and record it".into(),
            Some("pinctl snippet --server nginx  # then: pinctl publish".into()),
        );
        b.add(
            StepKind::Publish,
            Some(start),
            "Once the new key serves without trouble, publish again to drop the old key's pin"
                .into(),
            Some("pinctl publish".into()),
        );
    } else {
        b.add(
            StepKind::Publish,
            Some(start),
            "Deploy the new header at once (the compromised key's pin is gone from it) and record it".into(),
            Some("pinctl snippet --server nginx  # then: pinctl publish".into()),
        );
    }
    b.add(
        StepKind::Copy,
        Some(start),
        "Store the new backup(s) in two separate places each".into(),
        Some("pinctl archive copy backupN --to DIR --location LABEL".into()),
    );
}

/// When the new backups become safe to promote, given `probe`: the site
/// with every current publication replaced at `start`.
fn new_backups_safe(
    b: &mut Builder,
    site: &Site,
    probe: &Site,
    start: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let max_age = site
        .live()
        .map(|p| p.max_age)
        .unwrap_or(site.policy.max_age);
    match fresh_key_safe_from(probe) {
        SafeFrom::At(t) => {
            let t = t.max(start);
            let why = if site.channels.is_empty() {
                format!("max-age {max_age} s after the new header is out")
            } else {
                "once every channel has published them: the header's max-age, 2 TTLs of the RRset, the app releases' expirations or horizons".into()
            };
            b.add(
                StepKind::Wait,
                Some(t),
                format!("The new backup(s) become safe to promote ({why})"),
                None,
            );
            Some(t)
        }
        SafeFrom::Never => {
            let forever: Vec<String> = lifecycle::pinsets(probe)
                .filter(|ps| lifecycle::retention(ps.publication) == Retention::Forever)
                .map(|ps| ps.publication.label(ps.number))
                .collect();
            b.add(
                StepKind::Wait,
                None,
                format!(
                    "The new backup(s) can never be promoted safely: clients hold {} for ever",
                    if forever.is_empty() {
                        "an ancestor's live pinset".to_string()
                    } else {
                        forever.join(", ")
                    }
                ),
                None,
            );
            None
        }
    }
}

/// When the archive of the key `key` replaces may go.
fn destroy_old(
    b: &mut Builder,
    site: &Site,
    probe: &Site,
    key: &crate::state::Key,
    next: Option<DateTime<Utc>>,
) {
    let old = if key.role == Role::Backup {
        site.active()
    } else {
        site.keys
            .iter()
            .filter(|k| {
                matches!(k.role, Role::Retired | Role::Compromised) && k.destroyed.is_none()
            })
            .max_by_key(|k| k.role_since)
    };
    if let Some(old) = old {
        match destroy_after(probe, &old.pin) {
            Some(t) => b.add(
                StepKind::Destroy,
                Some(t.max(next.unwrap_or(t))),
                format!(
                    "{}'s archive may be destroyed (no client accepts it any longer)",
                    old.name
                ),
                Some(format!("pinctl key destroy {}", old.name)),
            ),
            None => b.add(
                StepKind::Destroy,
                None,
                format!(
                    "Keep {}'s archive: a publication that never stops being held accepts it",
                    old.name
                ),
                None,
            ),
        }
    }
}

/// `site` as it would stand if every current publication (the live
/// header and RRset, each channel's latest app release) were replaced at
/// `at`.
fn replaced_at(site: &Site, at: DateTime<Utc>) -> Site {
    let mut s = site.clone();
    for p in s.publications.iter_mut().filter(|p| p.until.is_none()) {
        p.until = Some(at.max(p.from));
    }
    s
}

/// When a key that no publication holds becomes safe: once every pinset
/// clients may hold has lapsed; never while one is current or never ends.
fn fresh_key_safe_from(site: &Site) -> SafeFrom {
    lifecycle::held_until(lifecycle::pinsets(site).map(|ps| ps.publication))
        .safe_from(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::tests::{site_at, t};

    #[test]
    fn new_site_plan_starts_with_certificate_copies_and_publish() {
        let s = site_at(t("2030-03-01T00:00:00Z"));
        let steps = next_steps(&s, "state/example.com", t("2030-03-01T00:00:00Z"));
        assert!(steps[0].action.contains("certificate"));
        assert!(steps.iter().any(|s| s.command.as_deref()
            == Some("pinctl archive copy backup1 --to DIR --location LABEL")));
        assert!(steps
            .iter()
            .any(|s| s.action.contains("Serve the desired header")));
    }

    #[test]
    fn ramp_dates_follow_the_previous_max_age() {
        let mut s = site_at(t("2030-03-01T00:00:00Z"));
        lifecycle::publish(&mut s, t("2030-03-01T00:00:00Z")).unwrap();
        let steps = next_steps(&s, "state/example.com", t("2030-03-02T00:00:00Z"));
        let ramp = steps
            .iter()
            .find(|s| s.action.contains("Report-Only"))
            .unwrap();
        assert_eq!(ramp.not_before, Some(t("2030-03-08T00:00:00Z")));
        s.policy.mode = Mode::Enforce;
        s.policy.max_age = 300;
        lifecycle::publish(&mut s, t("2030-03-08T00:00:00Z")).unwrap();
        let steps = next_steps(&s, "state/example.com", t("2030-03-08T00:00:00Z"));
        let ramp = steps
            .iter()
            .find(|s| s.action.contains("raise max-age to 86400"))
            .unwrap();
        assert_eq!(ramp.not_before, Some(t("2030-03-08T00:05:00Z")));
    }
}
