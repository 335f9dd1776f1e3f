//! The lifecycle model (docs/design.md#lifecycle), pure: which pinset
//! each channel should publish, what clients may still hold (retention,
//! by the rule of each channel's kind), when a key is safe to serve, and
//! the state changes of publish, rotate and policy. Time comes in as an
//! argument; nothing here reads a clock or a file.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::header::{Header, Mode};
use crate::pin::Pin;
use crate::shipped::Shipped;
use crate::state::{
    Cert, ChannelKind, Event, EventKind, Inherited, Key, Publication, Reach, Related, Role,
    ServedBelow, Site, WEB,
};

/// How long clients may hold a publication's pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Report-Only headers are not remembered (RFC 7469 section 2.1.3).
    Nothing,
    /// Held until this moment.
    Until(DateTime<Utc>),
    /// Still current: it ends some time after it is replaced.
    Open,
    /// Held for ever: an app release whose pins never expire.
    Forever,
}

/// Until when clients may hold a publication, by its channel's kind
/// (docs/design.md#channels, the table):
/// - web: `(until or ∞) + max-age`; Report-Only and max-age=0 hold
///   nothing (max-age=0 makes clients forget);
/// - dns: `(until or ∞) + 2×TTL` (RFC 7671 section 8.1: caches and
///   lagging secondaries);
/// - android, trustkit: the pin-set's expiration, which devices apply
///   from the start of that date in their own zone, so at the latest
///   12:00 UTC (UTC−12); none: for ever. Being superseded ends nothing,
///   as installs never have to update;
/// - ios, okhttp: a newer release's ship date + the horizon after which
///   old builds are refused; no horizon: for ever.
pub fn retention(p: &Publication) -> Retention {
    if p.mode == Mode::ReportOnly {
        return Retention::Nothing;
    }
    let after = |secs: u64| match p.until {
        None => Retention::Open,
        Some(u) => Retention::Until(add_secs(u, secs)),
    };
    match p.kind {
        ChannelKind::Web if p.max_age == 0 => Retention::Nothing,
        ChannelKind::Web => after(p.max_age),
        ChannelKind::Dns => after(p.ttl.unwrap_or(0).saturating_mul(2)),
        ChannelKind::Android | ChannelKind::Trustkit => match p.expires {
            Some(d) => Retention::Until(expiry_instant(d)),
            None => Retention::Forever,
        },
        ChannelKind::Ios | ChannelKind::Okhttp => match p.horizon_days {
            None => Retention::Forever,
            Some(h) => after(u64::from(h).saturating_mul(86_400)),
        },
    }
}

/// The last moment any device still pins a pin-set expiring on `d`: the
/// date begins last at UTC−12, that is at 12:00 UTC.
pub fn expiry_instant(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(12, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t + secs`, saturating at the far future instead of overflowing.
pub fn add_secs(t: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Days before expiry a certificate is due for renewal, unless a third
/// of its lifetime is shorter (docs/design.md#acting).
pub const RENEW_DAYS: i64 = 30;

/// When `c` is due for renewal: `days` before it expires when given
/// (`renew --days`, `check --warn-days`), else [`RENEW_DAYS`] before, or
/// a third of its lifetime before when that is shorter (47-day
/// certificates). The one window plan, check and renew agree on.
pub fn renewal_from(c: &Cert, days: Option<i64>) -> DateTime<Utc> {
    renewal_from_validity(c.not_before, c.not_after, days)
}

/// [`renewal_from`] for a certificate valid `not_before` to `not_after`.
pub fn renewal_from_validity(
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    days: Option<i64>,
) -> DateTime<Utc> {
    match days {
        Some(d) => add_days(not_after, d.saturating_neg()),
        None => {
            let third = (not_after - not_before) / 3;
            let window = std::cmp::min(Duration::days(RENEW_DAYS), third).max(Duration::zero());
            not_after
                .checked_sub_signed(window)
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        }
    }
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

impl Retention {
    /// The later of two retentions: for ever outlasts an open end, which
    /// outlasts any moment, which outlasts nothing.
    pub fn max(self, other: Retention) -> Retention {
        use Retention::*;
        match (self, other) {
            (Forever, _) | (_, Forever) => Forever,
            (Open, _) | (_, Open) => Open,
            (Until(a), Until(b)) => Until(a.max(b)),
            (Until(a), Nothing) | (Nothing, Until(a)) => Until(a),
            (Nothing, Nothing) => Nothing,
        }
    }

    /// When a key that every publication behind this retention lacks
    /// becomes safe, at the earliest `floor` (its creation): once the
    /// retention ends; never while it is open or for ever
    /// (docs/design.md#safety-rule).
    pub fn safe_from(self, floor: DateTime<Utc>) -> SafeFrom {
        match self {
            Retention::Nothing => SafeFrom::At(floor),
            Retention::Until(r) => SafeFrom::At(floor.max(r)),
            Retention::Open | Retention::Forever => SafeFrom::Never,
        }
    }

    /// The moment it ends: None for nothing, an open end or for ever.
    pub fn ends(self) -> Option<DateTime<Utc>> {
        match self {
            Retention::Until(r) => Some(r),
            _ => None,
        }
    }
}

/// Until when clients may hold any of `pubs`: the latest of their
/// retentions, each by its channel's kind ([`retention`]). Every
/// question "until when may a client hold this?" is this function over
/// the publications concerned (docs/design.md#channels).
pub fn held_until<'a>(pubs: impl IntoIterator<Item = &'a Publication>) -> Retention {
    pubs.into_iter()
        .map(retention)
        .fold(Retention::Nothing, Retention::max)
}

/// [`held_until`] as it would stand if every current publication among
/// `pubs` were replaced at `now`: never open; None when they retain
/// nothing (Report-Only, max-age=0); the end of time for ever.
pub fn held_until_replaced_at<'a>(
    pubs: impl IntoIterator<Item = &'a Publication>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let closed = |p: &Publication| {
        if p.until.is_none() {
            let mut c = p.clone();
            c.until = Some(now.max(p.from));
            retention(&c)
        } else {
            retention(p)
        }
    };
    match pubs
        .into_iter()
        .map(closed)
        .fold(Retention::Nothing, Retention::max)
    {
        Retention::Nothing => None,
        Retention::Until(r) => Some(r),
        Retention::Open | Retention::Forever => Some(DateTime::<Utc>::MAX_UTC),
    }
}

/// Until when clients may hold `p` if it is replaced at `now` (its
/// retention as it stands for one that has ended); None when it retains
/// nothing (Report-Only, max-age=0); the end of time when it never ends.
pub fn held_until_if_replaced(p: &Publication, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    held_until_replaced_at(std::iter::once(p), now)
}

/// Whether clients that noted publication `p` at `t` may still hold it.
pub fn held_at(p: &Publication, t: DateTime<Utc>) -> bool {
    if p.from > t {
        return false;
    }
    match retention(p) {
        Retention::Nothing => false,
        Retention::Open | Retention::Forever => true,
        Retention::Until(r) => t < r,
    }
}

/// The certificate a key is served with: the last one recorded for it.
pub fn served_cert<'a>(site: &'a Site, name: &str) -> Option<&'a Cert> {
    site.certificates.iter().rev().find(|c| c.key == name)
}

/// The pins that identify `key` in a pinset, as the safety rule counts
/// them (docs/design.md#safety-rule): its own, and the verified direct
/// issuer of the certificate it is served with. Any issuer certificate a client may
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

/// Whether a pinset of leaf-or-issuer pins (the header's) accepts a chain
/// for `key`.
pub fn accepts(pins: &[Pin], site: &Site, key: &Key) -> bool {
    identity_pins(site, key).iter().any(|p| pins.contains(p))
}

/// Whether publication `p` accepts a chain whose leaf key is `leaf` and
/// whose verified direct issuer is `issuer`, by its kind's rule: dns
/// `3 1 1` records and iOS leaf identities match the leaf only (`2 1 1`
/// and CA identities the issuer); iOS wants both when both are given;
/// the rest match either.
pub fn matches(p: &Publication, leaf: &Pin, issuer: Option<&Pin>) -> bool {
    let ca = |set: &[Pin]| issuer.is_some_and(|i| set.contains(i));
    match p.kind {
        ChannelKind::Dns => p.pins.contains(leaf) || ca(&p.ca_pins),
        ChannelKind::Ios => {
            (p.pins.is_empty() || p.pins.contains(leaf)) && (p.ca_pins.is_empty() || ca(&p.ca_pins))
        }
        _ => p.pins.contains(leaf) || ca(&p.pins),
    }
}

/// Whether publication `p` accepts `key` of `site` as it is served.
pub fn accepts_key(p: &Publication, site: &Site, key: &Key) -> bool {
    let issuer = served_cert(site, &key.name).and_then(|c| c.issuer_pin.as_ref());
    matches(p, &key.pin, issuer)
}

/// A publication that clients may hold and that lacks a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// The ancestor site whose publication reaching its subdomains it
    /// is; None for the site's own.
    pub site: Option<String>,
    /// 1-based number of the publication in its site.
    pub number: usize,
    pub channel: String,
    pub kind: ChannelKind,
    pub release: Option<String>,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    /// None while the publication is current, or when it never ends
    /// (`forever`).
    pub retained_until: Option<DateTime<Utc>>,
    /// Held for ever: an app release whose pins never expire.
    pub forever: bool,
}

impl Blocker {
    /// "android release 4.1" or "publication 3": how refusals name it.
    pub fn label(&self) -> String {
        match (&self.release, self.kind) {
            (Some(r), _) => format!("{} release {r}", self.channel),
            (None, ChannelKind::Web) => format!("publication {}", self.number),
            (None, _) => format!("{} publication {}", self.channel, self.number),
        }
    }
}

/// A pinset that clients of a site may hold: one of its own publications,
/// or an enforce includeSubDomains publication of an ancestor site.
pub struct Pinset<'a> {
    pub site: Option<&'a str>,
    pub number: usize,
    pub publication: &'a Publication,
}

/// Every publication, of every channel, whose pinset clients of `site`
/// may hold at some time: its own, and its ancestors' that reach it
/// (`relate` keeps only those).
pub fn pinsets(site: &Site) -> impl Iterator<Item = Pinset<'_>> {
    let own = site.publications.iter().enumerate().map(|(i, p)| Pinset {
        site: None,
        number: i + 1,
        publication: p,
    });
    let inherited = site.related.inherited.iter().map(|i: &Inherited| Pinset {
        site: Some(i.domain.as_str()),
        number: i.number,
        publication: &i.publication,
    });
    own.chain(inherited)
}

/// Whether clients that note `p` for `parent` apply it to `host`, by the
/// platform's reach: any depth (the header, Android, TrustKit, OkHttp
/// `**.`) or one label (iOS, OkHttp `*.`). Pinsets that retain nothing
/// reach nothing. A wildcard `parent` (`*.x`, a certificate's name) is
/// served on every name one label below `x`, so it reaches what lies
/// below those.
pub fn reaches(p: &Publication, host: &str, parent: &str) -> bool {
    if retention(p) == Retention::Nothing {
        return false;
    }
    let (base, extra) = match parent.strip_prefix("*.") {
        Some(b) => (b, 1),
        None => (parent, 0),
    };
    if !is_below(host, base) {
        return false;
    }
    let depth = host[..host.len() - base.len() - 1].split('.').count();
    match p.reach() {
        Reach::Host => false,
        Reach::AnyDepth => depth > extra,
        Reach::OneLabel => depth == extra + 1,
    }
}

/// Every name the site's header is served on: its domain, its `--san`
/// names and the names of its certificates (docs/design.md#where-a-header-is-served).
pub fn names(site: &Site) -> Vec<&str> {
    let mut v: Vec<&str> = vec![site.domain.as_str()];
    let more = site
        .sans
        .iter()
        .chain(site.certificates.iter().flat_map(|c| &c.names));
    for n in more {
        if !v.contains(&n.as_str()) {
            v.push(n.as_str());
        }
    }
    v
}

/// Whether `host` lies below `name` (a wildcard `*.x` stands for `x`'s
/// subdomains), so that a pinset served on `name` may reach it.
fn under(host: &str, name: &str) -> bool {
    is_below(host, name.strip_prefix("*.").unwrap_or(name))
}

/// The names `host` lies below: every suffix after one of its dots.
fn suffixes(host: &str) -> impl Iterator<Item = &str> {
    host.match_indices('.').map(move |(i, _)| &host[i + 1..])
}

/// For each of the first `n` sites of `all`, given by their [`names`], the
/// indices of the other sites that are [`near`] it, through an index of
/// the names rather than by comparing every pair (a fleet has thousands).
/// Names, not sites: a fleet's sites need not all stay in memory to be
/// related.
pub fn neighbours<S: AsRef<str>>(all: &[Vec<S>], n: usize) -> Vec<Vec<usize>> {
    use std::collections::HashMap;
    let strip = |m: &str| m.strip_prefix("*.").unwrap_or(m).to_string();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_parent: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, ns) in all.iter().enumerate() {
        for m in ns {
            let m = m.as_ref();
            by_name.entry(strip(m)).or_default().push(j);
            for up in suffixes(m) {
                by_parent.entry(up).or_default().push(j);
            }
        }
    }
    (0..n.min(all.len()))
        .map(|i| {
            let mut v: Vec<usize> = Vec::new();
            for m in &all[i] {
                let m = m.as_ref();
                let below = by_parent.get(strip(m).as_str());
                let above = suffixes(m).filter_map(|up| by_name.get(up));
                for j in below.into_iter().chain(above).flatten() {
                    if *j != i && !v.contains(j) {
                        v.push(*j);
                    }
                }
            }
            v.sort_unstable();
            v
        })
        .collect()
}

/// Whether a pinset of one site may reach the other, by any of their
/// names: which sites a step on `a` must read.
pub fn near(a: &Site, b: &Site) -> bool {
    let (na, nb) = (names(a), names(b));
    na.iter()
        .any(|x| nb.iter().any(|y| under(x, y) || under(y, x)))
}

fn blocker(ps: &Pinset<'_>) -> Blocker {
    let p = ps.publication;
    let r = retention(p);
    Blocker {
        site: ps.site.map(str::to_string),
        number: ps.number,
        channel: p.channel_name().to_string(),
        kind: p.kind,
        release: p.release.clone(),
        from: p.from,
        until: p.until,
        retained_until: match r {
            Retention::Until(r) => Some(r),
            _ => None,
        },
        forever: r == Retention::Forever,
    }
}

/// Publications of any channel held by clients at `now` that would
/// reject `key`.
pub fn blockers(site: &Site, key: &Key, now: DateTime<Utc>) -> Vec<Blocker> {
    pinsets(site)
        .filter(|ps| held_at(ps.publication, now) && !accepts_key(ps.publication, site, key))
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
    held_until(
        pinsets(site)
            .map(|ps| ps.publication)
            .filter(|p| !accepts_key(p, site, key)),
    )
    .safe_from(key.created)
}

/// Whether a retired key's pin stays in the desired header: retired by a
/// planned rotation whose new key nothing has shown deployed yet, so that
/// a failed deployment can roll back.
fn kept_retired(site: &Site, k: &Key) -> bool {
    k.role == Role::Retired && moved_on(site, k).is_none()
}

/// Whether an event shows which key the servers serve: a web publication
/// (the header goes out from the same servers, after the key, as plans
/// order it) or `pinctl deployed` (the operator's word or a probe that
/// saw the key). A TLSA RRset is not: RFC 7671 section 8.1 has it
/// published before the switch; nor is an app release
/// (docs/design.md#evidence).
pub fn shows_served_key(e: &Event) -> bool {
    (matches!(e.event, EventKind::Publish | EventKind::PublishForced) && e.channel.is_none())
        || e.event == EventKind::Deployed
}

/// When the ledger first shows the servers serving what followed `k`'s
/// taking its current role: for a retired or compromised key, that its
/// successor is deployed; for the active key, that it is. The history's
/// order decides, not the timestamps: a script may rotate and publish
/// within one second, in either order.
pub fn moved_on(site: &Site, k: &Key) -> Option<DateTime<Utc>> {
    let role_event = site
        .events
        .iter()
        .rposition(|e| e.key.as_deref() == Some(k.name.as_str()) && e.event.changes_role());
    match role_event {
        Some(i) => {
            // A header shows the key the servers then serve only once that
            // key has a certificate: without one they cannot serve it.
            let certified =
                |e: &Event| matches!(e.event, EventKind::CertAdd | EventKind::CertAddForced);
            let mut active = site.events[..=i]
                .iter()
                .rev()
                .find(|e| e.event.is_promotion())
                .and_then(|e| e.key.as_deref());
            let mut with_cert: Vec<&str> = site.events[..=i]
                .iter()
                .filter(|e| certified(e))
                .filter_map(|e| e.key.as_deref())
                .collect();
            for e in &site.events[i + 1..] {
                if e.event.is_promotion() {
                    active = e.key.as_deref();
                }
                if certified(e) {
                    with_cert.extend(e.key.as_deref());
                }
                if shows_served_key(e)
                    && (e.event == EventKind::Deployed
                        || active.is_none_or(|a| with_cert.contains(&a)))
                {
                    return Some(e.at);
                }
            }
            None
        }
        // A key that never changed role: it has had it since it was made
        // (or imported while served).
        None => {
            let deployed = site
                .events
                .iter()
                .find(|e| e.event == EventKind::Deployed && e.key.as_deref() == Some(&k.name))
                .map(|e| e.at);
            let web = site
                .publications
                .iter()
                .find(|p| p.kind == ChannelKind::Web && p.from >= k.role_since)
                .map(|p| p.from);
            match (deployed, web) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
    }
}

/// Records, for a site being imported, the header its servers already
/// serve as a live web publication from `since`, and takes its policy as
/// the site's: browsers may hold it, so rotations must be judged against
/// it (docs/design.md#what-clients-held-before-pinctl).
pub fn import_served(site: &mut Site, h: &Header, since: DateTime<Utc>, now: DateTime<Utc>) {
    site.publications.push(web_publication(h, since.min(now)));
    site.policy.mode = h.mode;
    site.policy.max_age = h.max_age.unwrap_or(0);
    site.policy.include_subdomains = h.include_subdomains;
    site.policy.report_uri = h.report_uri.clone();
    site.log(
        now,
        EventKind::Publish,
        None,
        Some(format!(
            "served before import since {}: {}",
            crate::text::rfc3339(since),
            h.line()
        )),
    );
}

/// Why `deployed` refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployRefusal {
    UnknownKey(String),
    /// Only the active key can be what the servers are told to serve.
    NotActive(String, Role),
    /// The moment given is before the key became active, or after now.
    BadTime(DateTime<Utc>),
    /// No certificate is recorded for it: servers cannot serve it.
    NoCertificate(String),
}

/// Records evidence that the servers serve `name` (the active key) from
/// `at`: from then on the key it replaced no longer counts as served.
/// Returns false when the ledger already shows it (nothing recorded).
pub fn deploy(
    site: &mut Site,
    name: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    how: String,
) -> Result<bool, DeployRefusal> {
    let key = site
        .key(name)
        .ok_or_else(|| DeployRefusal::UnknownKey(name.to_string()))?;
    if key.role != Role::Active {
        return Err(DeployRefusal::NotActive(name.to_string(), key.role));
    }
    if at < key.role_since || at > now {
        return Err(DeployRefusal::BadTime(key.role_since));
    }
    if served_cert(site, name).is_none() {
        return Err(DeployRefusal::NoCertificate(name.to_string()));
    }
    if moved_on(site, key).is_some() {
        return Ok(false);
    }
    site.log(at, EventKind::Deployed, Some(name), Some(how));
    Ok(true)
}

/// The keys a site may be serving now: the active key, and a retired or
/// compromised key whose successor nothing has shown deployed yet.
pub fn served_keys(site: &Site) -> Vec<&Key> {
    site.keys
        .iter()
        .filter(|k| {
            k.role == Role::Active
                || (matches!(k.role, Role::Retired | Role::Compromised)
                    && moved_on(site, k).is_none())
        })
        .collect()
}

/// The site's keys that every desired pinset holds: the active key, the
/// backups and a retired key still needed for roll-back, in the order the
/// keys were made. With `served`, every key the servers may still serve
/// too (a compromised one included): an RRset that lacked it would fail
/// clients at once, unlike a header, which clients only note when it
/// matches the chain they see.
fn desired_key_pins(site: &Site, served: bool) -> Vec<Pin> {
    let serving = if served {
        served_keys(site)
    } else {
        Vec::new()
    };
    site.keys
        .iter()
        .filter(|k| {
            matches!(k.role, Role::Active | Role::Backup)
                || kept_retired(site, k)
                || serving.iter().any(|s| s.name == k.name)
        })
        .map(|k| k.pin.clone())
        .collect()
}

/// The CA pins recorded with `ca-pin add`, less any that is a key's.
fn desired_ca_pins(site: &Site, keys: &[Pin]) -> Vec<Pin> {
    let mut v: Vec<Pin> = Vec::new();
    for c in &site.ca_pins {
        if !keys.contains(&c.pin) && !v.contains(&c.pin) {
            v.push(c.pin.clone());
        }
    }
    v
}

/// The header that should be served now: active key, backups, a retired key
/// still needed for roll-back (in the order the keys were made), external
/// pins, and the policy.
pub fn desired_header(site: &Site) -> Header {
    let mut pins = desired_key_pins(site, false);
    let ca = desired_ca_pins(site, &pins);
    pins.extend(ca);
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

/// Whether header `h` is web publication `p` as clients take it: the one
/// definition of "is the live header the desired one?" (plan, status)
/// and "is the served header the live one?" (probes). The pins are a set
/// (RFC 7469 section 2.1.1); a Report-Only header without max-age is
/// one recorded with any, since clients retain nothing of it.
pub fn same_as(p: &Publication, h: &Header) -> bool {
    p.kind == ChannelKind::Web
        && crate::header::same_pins(&p.pins, &h.pins)
        && p.mode == h.mode
        && p.include_subdomains == h.include_subdomains
        && p.report_uri == h.report_uri
        && (h.max_age == Some(p.max_age) || (h.mode == Mode::ReportOnly && h.max_age.is_none()))
}

/// The web publication of header `h` from `now`.
fn web_publication(h: &Header, now: DateTime<Utc>) -> Publication {
    Publication {
        channel: None,
        kind: ChannelKind::Web,
        release: None,
        mode: h.mode,
        pins: h.pins.clone(),
        ca_pins: Vec::new(),
        max_age: h.max_age.unwrap_or(0),
        include_subdomains: h.include_subdomains,
        one_label: false,
        report_uri: h.report_uri.clone(),
        ttl: None,
        expires: None,
        horizon_days: None,
        from: now,
        until: None,
    }
}

/// What `publish --channel` would record at `now`: the desired pinset in
/// the channel's form (None for a channel the site lacks). Dns and ios
/// keep the site's keys as leaf records (`3 1 1`, leaf identities); dns
/// gives CA pins `2 1 1` records; ios leaves CA identities out, since
/// with both kinds given iOS wants both to match. An app release's
/// expiration is `expires`, else the channel's `expires_after_days` from
/// `now`.
pub fn desired_publication(
    site: &Site,
    channel: &str,
    now: DateTime<Utc>,
    release: Option<&str>,
    expires: Option<NaiveDate>,
) -> Option<Publication> {
    if channel == WEB {
        return Some(web_publication(&desired_header(site), now));
    }
    let c = site.channel(channel)?;
    // A compromised key the servers may still serve keeps its TLSA record
    // (dropping it first would fail DANE clients at once), but never goes
    // into an app release, which installs keep for months: the release
    // waits for the switch instead.
    let keys = desired_key_pins(site, c.kind == ChannelKind::Dns);
    let ca = desired_ca_pins(site, &keys);
    let mut p = web_publication(&desired_header(site), now);
    p.pins = keys.iter().chain(&ca).cloned().collect();
    p.channel = Some(c.name.clone());
    p.kind = c.kind;
    p.mode = Mode::Enforce;
    p.max_age = 0;
    p.report_uri = None;
    p.include_subdomains = c.include_subdomains;
    p.one_label = c.one_label;
    p.release = release.map(str::to_string);
    match c.kind {
        ChannelKind::Web => {}
        ChannelKind::Dns => {
            p.pins = keys;
            p.ca_pins = ca;
            p.ttl = c.ttl;
        }
        ChannelKind::Android | ChannelKind::Trustkit => {
            p.expires = expires.or_else(|| {
                c.expires_after_days
                    .map(|d| add_days(now, i64::from(d)).date_naive())
            });
        }
        ChannelKind::Ios => {
            p.pins = keys;
            p.horizon_days = c.horizon_days;
        }
        ChannelKind::Okhttp => p.horizon_days = c.horizon_days,
    }
    Some(p)
}

/// Whether two publications carry the same pinset in the same form
/// (whatever their dates and labels).
pub fn same_pinset(a: &Publication, b: &Publication) -> bool {
    let strip = |p: &Publication| Publication {
        from: DateTime::<Utc>::MIN_UTC,
        until: None,
        release: None,
        expires: None,
        pins: Vec::new(),
        ca_pins: Vec::new(),
        ..p.clone()
    };
    // The pins are a set, as in `same_as`.
    strip(a) == strip(b)
        && a.expires == b.expires
        && crate::header::same_pins(&a.pins, &b.pins)
        && crate::header::same_pins(&a.ca_pins, &b.ca_pins)
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
    forced.max(moved_on(site, key))
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
    /// A pinset reaching subdomains that a key served by a subdomain site
    /// does not match.
    SubdomainNotAccepted {
        domain: String,
        key: String,
    },
    UnknownChannel(String),
    /// An app release that a key the server may still serve (retired or
    /// compromised, before a header or RRset said the new one is out)
    /// does not match.
    ServedKeyNotInPinset(String),
    /// A release label the channel has shipped already.
    ReleaseExists(String),
    /// An app pin-set that has expired or expires within
    /// [`MIN_EXPIRY_DAYS`] (Android lint's `PinSetExpiry`).
    ExpiresTooSoon(NaiveDate),
    /// A shipped file with fewer than two distinct pins: no backup, and
    /// TrustKit refuses it.
    TooFewPins(usize),
}

/// An app release's pin-set must expire at least this many days after it
/// ships (Android lint's `PinSetExpiry` warns within 10 days).
pub const MIN_EXPIRY_DAYS: i64 = 10;

/// Whether a pin-set expiring on `d` has passed or ends within
/// [`MIN_EXPIRY_DAYS`] of `now`: the one rule publish and the artifacts
/// refuse by.
pub fn expires_too_soon(d: NaiveDate, now: DateTime<Utc>) -> bool {
    expiry_instant(d) < add_days(now, MIN_EXPIRY_DAYS)
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
        /// The refusal `--force` recorded it over.
        forced: Option<PublishRefusal>,
    },
}

/// Records that the desired header is served from `now` on, after checking
/// that it cannot lock anyone out.
pub fn publish(site: &mut Site, now: DateTime<Utc>) -> Result<PublishOutcome, PublishRefusal> {
    publish_in(site, WEB, now, None, None, None, false)
}

/// Records that the desired pinset of `channel` is published from `now`
/// on (served, in the zone, or shipped as app release `release`), after
/// checking that it cannot lock anyone out: it accepts the active key and
/// holds a backup, every subdomain site it reaches is accepted, and the
/// active key is safe under every pinset clients hold. With `shipped`,
/// an app release records the pins of the file that shipped, not the
/// desired ones (docs/design.md#evidence).
pub fn publish_in(
    site: &mut Site,
    channel: &str,
    now: DateTime<Utc>,
    release: Option<&str>,
    expires: Option<NaiveDate>,
    shipped: Option<&Shipped>,
    force: bool,
) -> Result<PublishOutcome, PublishRefusal> {
    let mut new = desired_publication(site, channel, now, release, expires)
        .ok_or_else(|| PublishRefusal::UnknownChannel(channel.to_string()))?;
    if let Some(f) = shipped {
        new.pins = f.pins.clone();
        new.ca_pins = f.ca_pins.clone();
        new.include_subdomains = f.include_subdomains;
        new.one_label = f.one_label;
        if new.kind.expires() {
            new.expires = f.expires;
        }
        // A file that only reports (TrustKit's TSKEnforcePinning false)
        // makes installs hold nothing.
        if !f.enforced {
            new.mode = Mode::ReportOnly;
        }
    }
    let latest = site.latest_in(channel).map(|(_, p)| p);
    if new.kind.is_app() {
        let label = new.release.as_deref();
        if site.publications.iter().any(|p| {
            p.channel_name() == channel && p.release.as_deref() == label && label.is_some()
        }) {
            return Err(PublishRefusal::ReleaseExists(
                label.unwrap_or_default().into(),
            ));
        }
    } else if let Some(live) = latest.filter(|l| l.until.is_none()) {
        if same_pinset(live, &new) {
            return Ok(PublishOutcome::Unchanged);
        }
    }
    let active = site.active().ok_or(PublishRefusal::NoActiveKey)?.clone();
    // What has shipped or is served is a fact: with --force it is
    // recorded although it was refused, so that every later decision
    // counts it (a ledger without it would be blind to its clients).
    let forced = match judge(site, &new, &active, now, shipped.is_some()) {
        Ok(()) => None,
        Err(r) if force => Some(r),
        Err(r) => return Err(r),
    };
    let closed = match site.latest_in(channel) {
        Some((i, p)) if p.until.is_none() => Some(i),
        _ => None,
    };
    if let Some(i) = closed {
        site.publications[i].until = Some(now);
    }
    let closed = closed.map(|i| i + 1);
    let kind_is_app = new.kind.is_app();
    let detail = if new.kind == ChannelKind::Web {
        header_of(&new).line()
    } else {
        publication_summary(&new)
    };
    site.publications.push(new);
    let (event, key) = match (&forced, kind_is_app) {
        (Some(_), _) => (EventKind::PublishForced, Some(active.name.as_str())),
        (None, true) => (EventKind::Release, None),
        (None, false) => (EventKind::Publish, None),
    };
    site.log(now, event, key, Some(detail));
    if let Some(e) = site.events.last_mut() {
        e.channel = (channel != WEB).then(|| channel.to_string());
    }
    // Closing the live publication may have set its retention end.
    let still_locked_out = blockers(site, &active, now);
    Ok(PublishOutcome::Published {
        closed,
        still_locked_out,
        forced,
    })
}

/// Whether publication `new` can go out without locking anyone out: it
/// accepts the active key and holds a backup, accepts every key the
/// servers may still serve (unless it is the header, which clients note
/// only when it matches), reaches no subdomain site whose key it lacks,
/// and the active key is safe under every pinset clients hold.
fn judge(
    site: &Site,
    new: &Publication,
    active: &Key,
    now: DateTime<Utc>,
    shipped: bool,
) -> Result<(), PublishRefusal> {
    if shipped {
        let mut distinct: Vec<&Pin> = new.pins.iter().chain(&new.ca_pins).collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() < 2 {
            return Err(PublishRefusal::TooFewPins(distinct.len()));
        }
    }
    if let Some(d) = new.expires.filter(|d| expires_too_soon(*d, now)) {
        return Err(PublishRefusal::ExpiresTooSoon(d));
    }
    if !accepts_key(new, site, active) {
        return Err(PublishRefusal::ActiveNotInPinset);
    }
    let own = identity_pins(site, active);
    if !new
        .pins
        .iter()
        .chain(&new.ca_pins)
        .any(|p| !own.contains(&p))
    {
        return Err(PublishRefusal::NoBackupPin);
    }
    // Only a header published says the servers moved to the active key;
    // an RRset or an app release must accept whatever they may still
    // serve.
    if new.kind != ChannelKind::Web {
        if let Some(k) = served_keys(site)
            .into_iter()
            .find(|k| !accepts_key(new, site, k))
        {
            return Err(PublishRefusal::ServedKeyNotInPinset(k.name.clone()));
        }
    }
    let mine = names(site);
    for b in &site.related.below {
        if mine.iter().any(|m| reaches(new, &b.host, m))
            && !matches(new, &b.leaf, b.issuer.as_ref())
        {
            return Err(PublishRefusal::SubdomainNotAccepted {
                domain: b.domain.clone(),
                key: b.key.clone(),
            });
        }
    }
    let b = blockers(site, active, now);
    let accepted = lockout_accepted_at(site, active);
    if b.iter().any(|b| accepted.is_none_or(|a| b.from > a)) {
        return Err(PublishRefusal::ActiveNotSafe {
            blockers: b,
            safe_from: safe_from(site, active),
        });
    }
    Ok(())
}

/// Whether channel `channel` (not web) has yet to publish the desired
/// pinset: nothing published, or its latest publication holds other pins
/// or reaches other names. An app's expiration and horizon are judged
/// apart (a release may be the same pinset with a later expiration).
pub fn channel_pending(site: &Site, channel: &str, now: DateTime<Utc>) -> bool {
    let Some(want) = desired_publication(site, channel, now, None, None) else {
        return false;
    };
    match site.latest_in(channel) {
        None => true,
        Some((_, got)) => {
            !crate::header::same_pins(&got.pins, &want.pins)
                || !crate::header::same_pins(&got.ca_pins, &want.ca_pins)
                || got.include_subdomains != want.include_subdomains
                || got.one_label != want.one_label
                || (got.kind == ChannelKind::Dns && (got.until.is_some() || got.ttl != want.ttl))
        }
    }
}

/// One line for the history: `channel NAME: release R, pins …`.
pub fn publication_summary(p: &Publication) -> String {
    let mut s = format!("channel {}", p.channel_name());
    if let Some(r) = &p.release {
        s.push_str(&format!(": release {r}"));
    }
    let pins: Vec<&str> = p.pins.iter().map(Pin::as_str).collect();
    s.push_str(&format!("; pins {}", pins.join(" ")));
    if !p.ca_pins.is_empty() {
        let ca: Vec<&str> = p.ca_pins.iter().map(Pin::as_str).collect();
        s.push_str(&format!("; ca pins {}", ca.join(" ")));
    }
    if let Some(d) = p.expires {
        s.push_str(&format!("; expires {d}"));
    }
    s
}

/// What other sites in the state mean for `site`: the publications of
/// sites that reach any of its names, at any depth, the keys served by
/// sites below any of its names, and the newest event among them.
pub fn relate<S: std::borrow::Borrow<Site>>(site: &Site, others: &[S]) -> Related {
    let mut r = Related::default();
    let mine = names(site);
    for o in others {
        let o: &Site = o.borrow();
        if o.domain == site.domain {
            continue;
        }
        let theirs = names(o);
        for (i, p) in o.publications.iter().enumerate() {
            if mine.iter().any(|h| theirs.iter().any(|m| reaches(p, h, m))) {
                r.inherited.push(Inherited {
                    domain: o.domain.clone(),
                    number: i + 1,
                    publication: p.clone(),
                });
            }
        }
        // Every name of it below one of ours: reach may differ by depth.
        for host in theirs.iter().filter(|h| mine.iter().any(|m| under(h, m))) {
            for k in served_keys(o) {
                r.below.push(ServedBelow {
                    domain: o.domain.clone(),
                    host: host.to_string(),
                    key: k.name.clone(),
                    leaf: k.pin.clone(),
                    issuer: served_cert(o, &k.name).and_then(|c| c.issuer_pin.clone()),
                });
            }
        }
        // The caller hands over the sites near this one (`neighbours`):
        // their history is what a step on this one reads.
        if let Some(t) = o.events.iter().map(|e| e.at).max() {
            if r.newest.as_ref().is_none_or(|(n, _)| t > *n) {
                r.newest = Some((t, o.domain.clone()));
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
    held_until_replaced_at(holding(site, &key.pin), now)
}

/// The publications whose pinset holds `pin` (as a key's or a CA's).
pub fn holding<'a>(site: &'a Site, pin: &'a Pin) -> impl Iterator<Item = &'a Publication> {
    site.publications
        .iter()
        .filter(move |p| p.pins.contains(pin) || p.ca_pins.contains(pin))
}

/// The moment the last retention window of any enforce publication ends
/// (None when one is live or none was ever enforced).
pub fn last_retention_end(site: &Site) -> Option<DateTime<Utc>> {
    held_until(&site.publications).ends()
}

#[cfg(test)]
pub(crate) mod tests;
