//! The lifecycle model of DESIGN.md, pure: which header is desired, what
//! clients may still hold (retention), when a key is safe to serve, and the
//! state changes of publish, rotate and policy. Time comes in as an
//! argument; nothing here reads a clock or a file.

use chrono::{DateTime, Duration, Utc};

use crate::header::{Header, Mode};
use crate::state::{Key, Publication, Role, Site};

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

/// The pins that identify `key` in a pinset: its own, and those of the CA
/// certificates in the chain of its latest certificate (the one served).
pub fn identity_pins<'a>(site: &'a Site, key: &'a Key) -> Vec<&'a str> {
    let mut v = vec![key.pin.as_str()];
    if let Some(c) = site.certificates.iter().rev().find(|c| c.key == key.name) {
        v.extend(c.chain_pins.iter().map(String::as_str));
    }
    v
}

/// Publications clients may hold at `now` that would reject the active key
/// if `cert` became its served certificate (a new chain can leave a pinset
/// that accepted the old chain only through a CA pin).
pub fn cert_blockers(site: &Site, cert: &crate::state::Cert, now: DateTime<Utc>) -> Vec<Blocker> {
    let Some(active) = site.active() else {
        return Vec::new();
    };
    if cert.key != active.name {
        return Vec::new();
    }
    let mut probe = site.clone();
    probe.certificates.push(cert.clone());
    blockers(&probe, active, now)
}

/// Whether the desired header keeps a retired key for roll-back.
pub fn keeps_retired(site: &Site) -> bool {
    site.keys.iter().any(|k| kept_retired(site, k))
}

/// Whether a pinset accepts a chain for `key`.
pub fn accepts(pins: &[String], site: &Site, key: &Key) -> bool {
    identity_pins(site, key)
        .iter()
        .any(|p| pins.iter().any(|q| q == p))
}

/// A publication that clients may hold and that lacks a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// 1-based number of the publication.
    pub number: usize,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    /// None while the publication is live.
    pub retained_until: Option<DateTime<Utc>>,
}

/// Enforce publications held by clients at `now` that would reject `key`.
pub fn blockers(site: &Site, key: &Key, now: DateTime<Utc>) -> Vec<Blocker> {
    site.publications
        .iter()
        .enumerate()
        .filter(|(_, p)| held_at(p, now) && !accepts(&p.pins, site, key))
        .map(|(i, p)| Blocker {
            number: i + 1,
            from: p.from,
            until: p.until,
            retained_until: match retention(p) {
                Retention::Until(r) => Some(r),
                _ => None,
            },
        })
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
    for p in &site.publications {
        if accepts(&p.pins, site, key) {
            continue;
        }
        match retention(p) {
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
    k.role == Role::Retired && !site.publications.iter().any(|p| p.from >= k.role_since)
}

/// The header that should be served now: active key, backups, a retired key
/// still needed for roll-back (in the order the keys were made), external
/// pins, and the policy.
pub fn desired_header(site: &Site) -> Header {
    let mut pins: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !pins.iter().any(|q| q == p) {
            pins.push(p.to_string());
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

fn same_as(p: &Publication, h: &Header) -> bool {
    p.mode == h.mode
        && p.pins == h.pins
        && Some(p.max_age) == h.max_age
        && p.include_subdomains == h.include_subdomains
        && p.report_uri == h.report_uri
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
}

/// What `publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The desired header is already the live one.
    Unchanged,
    /// A new publication was opened (the previous live one, if any, closed).
    Published { closed: Option<usize> },
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
    let own: Vec<&str> = identity_pins(site, &active);
    if !header.pins.iter().any(|p| !own.contains(&p.as_str())) {
        return Err(PublishRefusal::NoBackupPin);
    }
    let b = blockers(site, &active, now);
    if !b.is_empty() {
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
    site.log(now, "publish", None, Some(header.line()));
    Ok(PublishOutcome::Published { closed })
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
            if compromised { "compromised" } else { "retire" },
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
            "promote-forced"
        } else {
            "promote"
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
        .filter(|p| p.mode == Mode::Enforce && p.pins.contains(&key.pin))
        .map(|p| add_secs(p.until.unwrap_or(now).max(p.from), p.max_age))
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
