//! The lifecycle model of DESIGN.md, pure: which header is desired, what
//! clients may still hold (retention), when a key is safe to serve, and the
//! state changes of publish, rotate and policy. Time comes in as an
//! argument; nothing here reads a clock or a file.

use chrono::{DateTime, Duration, Utc};

use crate::header::{Header, Mode};
use crate::pin::Pin;
use crate::state::{
    Cert, EventKind, Inherited, Key, Publication, Related, Role, ServedBelow, Site,
};

/// How long clients may hold a publication's pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Report-Only headers are not remembered (RFC 7469 section 2.1.3).
    Nothing,
    /// Served until `until`, remembered for max-age after.
    Until(DateTime<Utc>),
    /// Still served: no end yet.
    Open,
}

/// `retained_until(P) = (P.until or ∞) + P.max_age`. Report-Only and
/// max-age=0 headers retain nothing (max-age=0 makes clients forget).
pub fn retention(p: &Publication) -> Retention {
    if p.mode == Mode::ReportOnly || p.max_age == 0 {
        return Retention::Nothing;
    }
    match p.until {
        None => Retention::Open,
        Some(u) => Retention::Until(add_secs(u, p.max_age)),
    }
}

/// `t + secs`, saturating at the far future instead of overflowing.
pub fn add_secs(t: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t` moved by `days` (back when negative), saturating at the ends of
/// time instead of overflowing: dates come from users and state files.
pub fn add_days(t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    Duration::try_days(days)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(if days < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// Until when clients may hold `p` if the live publication is replaced at
/// `now` (its retention as it stands for one that has ended); None when it
/// retains nothing (Report-Only, max-age=0).
pub fn held_until_if_replaced(p: &Publication, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match retention(p) {
        Retention::Nothing => None,
        Retention::Until(r) => Some(r),
        Retention::Open => Some(add_secs(now.max(p.from), p.max_age)),
    }
}

/// Whether clients that noted publication `p` at `t` may still hold it.
pub fn held_at(p: &Publication, t: DateTime<Utc>) -> bool {
    if p.from > t {
        return false;
    }
    match retention(p) {
        Retention::Nothing => false,
        Retention::Open => true,
        Retention::Until(r) => t < r,
    }
}

/// The certificate a key is served with: the last one recorded for it.
pub fn served_cert<'a>(site: &'a Site, name: &str) -> Option<&'a Cert> {
    site.certificates.iter().rev().find(|c| c.key == name)
}

/// The pins that identify `key` in a pinset, as DESIGN's "safety rule at
/// its edges" counts them: its own, and the verified direct issuer of the
/// certificate it is served with. Any issuer certificate a client may
/// choose carries that issuer's key, so both are in every path it builds;
/// keys higher up are not.
pub fn identity_pins<'a>(site: &'a Site, key: &'a Key) -> Vec<&'a Pin> {
    let mut v = vec![&key.pin];
    if let Some(i) = served_cert(site, &key.name).and_then(|c| c.issuer_pin.as_ref()) {
        v.push(i);
    }
    v
}

/// Publications clients may hold at `now` that would reject a key the site
/// serves (or is about to) if `cert` became its served certificate: a new
/// chain can leave a pinset that accepted the old chain only through its
/// CA, and a new site's first certificate deploys keys that an ancestor's
/// includeSubDomains pinset may lack.
pub fn cert_blockers(site: &Site, cert: &Cert, now: DateTime<Utc>) -> Vec<Blocker> {
    let Some(key) = served_keys(site).into_iter().find(|k| k.name == cert.key) else {
        return Vec::new();
    };
    let mut probe = site.clone();
    probe.certificates.push(cert.clone());
    let accepted = lockout_accepted_at(site, key);
    blockers(&probe, key, now)
        .into_iter()
        // A lockout accepted with --force is not this certificate's doing
        // unless the old chain was accepted by that pinset.
        .filter(|b| {
            accepted.is_none_or(|a| b.from > a) || blockers(site, key, now).iter().all(|o| o != b)
        })
        .collect()
}

/// Whether the desired header keeps a retired key for roll-back.
pub fn keeps_retired(site: &Site) -> bool {
    site.keys.iter().any(|k| kept_retired(site, k))
}

/// Whether a pinset accepts a chain for `key`.
pub fn accepts(pins: &[Pin], site: &Site, key: &Key) -> bool {
    identity_pins(site, key).iter().any(|p| pins.contains(p))
}

/// A publication that clients may hold and that lacks a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// The ancestor site whose includeSubDomains publication it is; None
    /// for the site's own.
    pub site: Option<String>,
    /// 1-based number of the publication in its site.
    pub number: usize,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    /// None while the publication is live.
    pub retained_until: Option<DateTime<Utc>>,
}

/// A pinset that clients of a site may hold: one of its own publications,
/// or an enforce includeSubDomains publication of an ancestor site.
pub struct Pinset<'a> {
    pub site: Option<&'a str>,
    pub number: usize,
    pub publication: &'a Publication,
}

/// Every publication whose pinset clients of `site` may hold at some time.
pub fn pinsets(site: &Site) -> impl Iterator<Item = Pinset<'_>> {
    let own = site.publications.iter().enumerate().map(|(i, p)| Pinset {
        site: None,
        number: i + 1,
        publication: p,
    });
    let inherited = site
        .related
        .inherited
        .iter()
        .filter(|i| reaches_subdomains(&i.publication))
        .map(|i: &Inherited| Pinset {
            site: Some(i.domain.as_str()),
            number: i.number,
            publication: &i.publication,
        });
    own.chain(inherited)
}

/// Whether clients that note `p` apply it to subdomains too.
pub fn reaches_subdomains(p: &Publication) -> bool {
    p.include_subdomains && p.mode == Mode::Enforce && p.max_age > 0
}

fn blocker(ps: &Pinset<'_>) -> Blocker {
    let p = ps.publication;
    Blocker {
        site: ps.site.map(str::to_string),
        number: ps.number,
        from: p.from,
        until: p.until,
        retained_until: match retention(p) {
            Retention::Until(r) => Some(r),
            _ => None,
        },
    }
}

/// Enforce publications held by clients at `now` that would reject `key`.
pub fn blockers(site: &Site, key: &Key, now: DateTime<Utc>) -> Vec<Blocker> {
    pinsets(site)
        .filter(|ps| held_at(ps.publication, now) && !accepts(&ps.publication.pins, site, key))
        .map(|ps| blocker(&ps))
        .collect()
}

/// When a key becomes safe to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafeFrom {
    /// From this moment on (possibly already past).
    At(DateTime<Utc>),
    /// Not while a live publication lacks the key.
    Never,
}

/// `safe_from(K) = max retained_until(P)` over enforce publications lacking
/// K; the key's creation when none lacks it; never while a live one does.
pub fn safe_from(site: &Site, key: &Key) -> SafeFrom {
    let mut at = key.created;
    for ps in pinsets(site) {
        if accepts(&ps.publication.pins, site, key) {
            continue;
        }
        match retention(ps.publication) {
            Retention::Nothing => {}
            Retention::Open => return SafeFrom::Never,
            Retention::Until(r) => at = at.max(r),
        }
    }
    SafeFrom::At(at)
}

/// Whether a retired key's pin stays in the desired header: retired by a
/// planned rotation that has not been published yet, so that a failed
/// deployment of the new key can roll back.
fn kept_retired(site: &Site, k: &Key) -> bool {
    k.role == Role::Retired && first_publish_in_role(site, k).is_none()
}

/// When the first header was published after `k` took its current role.
/// The history's order decides, not the timestamps: a script may rotate
/// and publish within one second, in either order.
pub fn first_publish_in_role(site: &Site, k: &Key) -> Option<DateTime<Utc>> {
    let role_event = site
        .events
        .iter()
        .rposition(|e| e.key.as_deref() == Some(k.name.as_str()) && e.event.changes_role());
    match role_event {
        Some(i) => site.events[i + 1..]
            .iter()
            .find(|e| e.event == EventKind::Publish)
            .map(|e| e.at),
        // A key that never changed role: it has had it since it was made.
        None => site
            .publications
            .iter()
            .find(|p| p.from >= k.role_since)
            .map(|p| p.from),
    }
}

/// The keys a site may be serving now: the active key, and a retired or
/// compromised key whose successor has not been published yet (it may
/// still be deployed).
pub fn served_keys(site: &Site) -> Vec<&Key> {
    site.keys
        .iter()
        .filter(|k| {
            k.role == Role::Active
                || (matches!(k.role, Role::Retired | Role::Compromised)
                    && first_publish_in_role(site, k).is_none())
        })
        .collect()
}

/// The header that should be served now: active key, backups, a retired key
/// still needed for roll-back (in the order the keys were made), external
/// pins, and the policy.
pub fn desired_header(site: &Site) -> Header {
    let mut pins: Vec<Pin> = Vec::new();
    let mut add = |p: &Pin| {
        if !pins.contains(p) {
            pins.push(p.clone());
        }
    };
    for k in &site.keys {
        if matches!(k.role, Role::Active | Role::Backup) || kept_retired(site, k) {
            add(&k.pin);
        }
    }
    for c in &site.ca_pins {
        add(&c.pin);
    }
    Header {
        mode: site.policy.mode,
        pins,
        max_age: Some(site.policy.max_age),
        include_subdomains: site.policy.include_subdomains,
        report_uri: site.policy.report_uri.clone(),
    }
}

/// The header a publication recorded: the one definition of "what was
/// served", used by every command that shows it.
pub fn header_of(p: &Publication) -> Header {
    Header {
        mode: p.mode,
        pins: p.pins.clone(),
        max_age: Some(p.max_age),
        include_subdomains: p.include_subdomains,
        report_uri: p.report_uri.clone(),
    }
}

/// Whether publication `p` serves exactly header `h`.
pub fn same_as(p: &Publication, h: &Header) -> bool {
    header_of(p) == *h
}

/// The moment up to which a lockout of `key` has already been accepted:
/// a forced step that named the key (its refusal was overridden with
/// `--force`), or the key having been served already (a publication made
/// after it became active). Publications that began no later than this
/// moment lock out no one that was not locked out then.
pub fn lockout_accepted_at(site: &Site, key: &Key) -> Option<DateTime<Utc>> {
    let forced = site
        .events
        .iter()
        .filter(|e| e.key.as_deref() == Some(key.name.as_str()) && e.event.is_forced())
        .map(|e| e.at)
        .max();
    forced.max(first_publish_in_role(site, key))
}

/// Why `publish` refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishRefusal {
    NoActiveKey,
    ActiveNotInPinset,
    NoBackupPin,
    ActiveNotSafe {
        blockers: Vec<Blocker>,
        safe_from: SafeFrom,
    },
    /// An includeSubDomains header that a key served by a subdomain site
    /// does not match.
    SubdomainNotAccepted {
        domain: String,
        key: String,
    },
}

/// What `publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The desired header is already the live one.
    Unchanged,
    /// A new publication was opened (the previous live one, if any, closed).
    Published {
        closed: Option<usize>,
        /// Pinsets that reject the active key and that clients still hold:
        /// a lockout accepted earlier (with --force), which publishing
        /// neither causes nor prolongs.
        still_locked_out: Vec<Blocker>,
    },
}

/// Records that the desired header is served from `now` on, after checking
/// that it cannot lock anyone out.
pub fn publish(site: &mut Site, now: DateTime<Utc>) -> Result<PublishOutcome, PublishRefusal> {
    let header = desired_header(site);
    if let Some(live) = site.live() {
        if same_as(live, &header) {
            return Ok(PublishOutcome::Unchanged);
        }
    }
    let active = site.active().ok_or(PublishRefusal::NoActiveKey)?.clone();
    if !accepts(&header.pins, site, &active) {
        return Err(PublishRefusal::ActiveNotInPinset);
    }
    let own = identity_pins(site, &active);
    if !header.pins.iter().any(|p| !own.contains(&p)) {
        return Err(PublishRefusal::NoBackupPin);
    }
    if header.mode == Mode::Enforce && header.include_subdomains && header.max_age != Some(0) {
        for b in &site.related.below {
            if !b.identity.iter().any(|p| header.pins.contains(p)) {
                return Err(PublishRefusal::SubdomainNotAccepted {
                    domain: b.domain.clone(),
                    key: b.key.clone(),
                });
            }
        }
    }
    let b = blockers(site, &active, now);
    let accepted = lockout_accepted_at(site, &active);
    if b.iter().any(|b| accepted.is_none_or(|a| b.from > a)) {
        return Err(PublishRefusal::ActiveNotSafe {
            blockers: b,
            safe_from: safe_from(site, &active),
        });
    }
    let n = site.publications.len();
    let closed = match site.publications.last_mut() {
        Some(p) if p.until.is_none() => {
            p.until = Some(now);
            Some(n)
        }
        _ => None,
    };
    site.publications.push(Publication {
        mode: header.mode,
        pins: header.pins.clone(),
        max_age: header.max_age.unwrap_or(0),
        include_subdomains: header.include_subdomains,
        report_uri: header.report_uri.clone(),
        from: now,
        until: None,
    });
    site.log(now, EventKind::Publish, None, Some(header.line()));
    // Closing the live publication may have set its retention end.
    let still_locked_out = blockers(site, &active, now);
    Ok(PublishOutcome::Published {
        closed,
        still_locked_out,
    })
}

/// What other sites in the state mean for `site`: the includeSubDomains
/// publications of its ancestors, at any depth, and the keys its
/// descendants serve.
pub fn relate(site: &Site, others: &[Site]) -> Related {
    let mut r = Related::default();
    for o in others {
        if is_below(&site.domain, &o.domain) {
            for (i, p) in o.publications.iter().enumerate() {
                if reaches_subdomains(p) {
                    r.inherited.push(Inherited {
                        domain: o.domain.clone(),
                        number: i + 1,
                        publication: p.clone(),
                    });
                }
            }
        } else if is_below(&o.domain, &site.domain) {
            for k in served_keys(o) {
                r.below.push(ServedBelow {
                    domain: o.domain.clone(),
                    key: k.name.clone(),
                    identity: identity_pins(o, k).into_iter().cloned().collect(),
                });
            }
        }
    }
    r
}

/// Whether `host` is a subdomain of `parent`, at any depth.
pub fn is_below(host: &str, parent: &str) -> bool {
    host.len() > parent.len() + 1
        && host.ends_with(parent)
        && host.as_bytes()[host.len() - parent.len() - 1] == b'.'
}

/// Why `rotate` refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateRefusal {
    UnknownKey(String),
    NotABackup(String, Role),
    NotSafe {
        blockers: Vec<Blocker>,
        safe_from: SafeFrom,
    },
}

/// What a rotation changed, for the report and the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub promoted: String,
    pub old_active: Option<String>,
    pub compromised: bool,
    /// Publications that lacked the promoted key (only with force).
    pub forced_over: Vec<Blocker>,
    /// Names the caller must make as new backups (keys, CSRs, archives).
    pub new_backups: Vec<String>,
    /// With --compromised: until when clients may still accept the old key.
    pub compromised_trusted_until: Option<DateTime<Utc>>,
}

/// Promotes backup `name` to active at `now`.
pub fn rotate(
    site: &mut Site,
    name: &str,
    now: DateTime<Utc>,
    compromised: bool,
    force: bool,
) -> Result<Rotation, RotateRefusal> {
    let key = site
        .key(name)
        .ok_or_else(|| RotateRefusal::UnknownKey(name.to_string()))?
        .clone();
    if key.role != Role::Backup {
        return Err(RotateRefusal::NotABackup(name.to_string(), key.role));
    }
    let b = blockers(site, &key, now);
    if !b.is_empty() && !force {
        return Err(RotateRefusal::NotSafe {
            blockers: b,
            safe_from: safe_from(site, &key),
        });
    }
    let backups_before = site.backups().count();
    let old = site.active().map(|k| k.name.clone());
    let mut trusted_until = None;
    if let Some(old_name) = &old {
        if compromised {
            trusted_until = compromised_until(site, old_name, now);
        }
        if let Some(k) = site.key_mut(old_name) {
            k.role = if compromised {
                Role::Compromised
            } else {
                Role::Retired
            };
            k.role_since = now;
        }
        site.log(
            now,
            if compromised {
                EventKind::Compromised
            } else {
                EventKind::Retire
            },
            Some(old_name),
            None,
        );
    }
    if let Some(k) = site.key_mut(name) {
        k.role = Role::Active;
        k.role_since = now;
    }
    site.log(
        now,
        if force && !b.is_empty() {
            EventKind::PromoteForced
        } else {
            EventKind::Promote
        },
        Some(name),
        None,
    );
    let mut new_backups = Vec::new();
    let mut probe = site.clone();
    while probe.backups().count() + new_backups.len() < backups_before {
        let n = probe.next_backup_name();
        probe.keys.push(Key {
            name: n.clone(),
            ..key.clone()
        });
        new_backups.push(n);
    }
    Ok(Rotation {
        promoted: name.to_string(),
        old_active: old,
        compromised,
        forced_over: if force { b } else { Vec::new() },
        new_backups,
        compromised_trusted_until: trusted_until,
    })
}

/// Until when clients that noted a publication holding `name` may accept
/// it, if the live publication is replaced at `now`.
pub fn compromised_until(site: &Site, name: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let key = site.key(name)?;
    site.publications
        .iter()
        .filter(|p| p.pins.contains(&key.pin))
        .filter_map(|p| held_until_if_replaced(p, now))
        .max()
}

/// The moment the last retention window of any enforce publication ends
/// (None when one is live or none was ever enforced).
pub fn last_retention_end(site: &Site) -> Option<DateTime<Utc>> {
    let mut end = None;
    for p in &site.publications {
        match retention(p) {
            Retention::Open => return None,
            Retention::Until(r) => end = Some(end.map_or(r, |e: DateTime<Utc>| e.max(r))),
            Retention::Nothing => {}
        }
    }
    end
}

#[cfg(test)]
pub(crate) mod tests;
