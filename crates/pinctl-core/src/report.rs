//! Violation reports: RFC 7469 section 3 reports and TrustKit's, parsed
//! strictly from bodies of bounded size, classified against the state
//! (pure: the sites come in as values), and reduced to the key under
//! which duplicates are counted, ignoring timestamps as Chrome and
//! TrustKit do. The HTTP collector and the database are `pinctl-reports`'
//! (`serve`, `store`), which converts stored rows to [`ReportFinding`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lifecycle;
use crate::pin::Pin;
use crate::state::Site;

/// The largest body a report may have.
pub const MAX_BODY: usize = 64 << 10;
/// The most certificates a chain in a report may hold.
pub const MAX_CHAIN: usize = 16;
/// The most pins a report may list.
pub const MAX_PINS: usize = 64;
/// The stored sample of a report is cut at this many bytes.
pub const MAX_SAMPLE: usize = 4 << 10;

/// One deduplicated report as `check` and `plan` judge it: what the
/// report store keeps (`pinctl-reports` converts its rows to this), so
/// that the pure model never sees the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFinding {
    pub site: Option<String>,
    pub hostname: String,
    pub port: u16,
    pub class: Class,
    pub source: String,
    pub app: Option<String>,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub served_pins: Vec<String>,
    pub served_subjects: Vec<String>,
}

/// What a report says happened, as `check` and `reports list` count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// The chain holds a key the state records as compromised: whoever
    /// stole it is serving it.
    CompromisedKey,
    /// The chain holds none of the site's keys nor its verified issuers:
    /// interception, or a mis-issued certificate.
    ForeignChain,
    /// The chain holds a site key that the client's noted pins lack.
    Misconfiguration,
    /// The client's pins are an older publication's.
    StalePinset,
    /// The client's noted pins include a key of the chain it reports as
    /// validated: nothing the operator published explains it (a client
    /// that matched would not report; a forged report).
    NotedKeyServed,
    /// The host is none of the state's sites.
    UnknownHost,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::CompromisedKey,
        Class::ForeignChain,
        Class::Misconfiguration,
        Class::StalePinset,
        Class::NotedKeyServed,
        Class::UnknownHost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::CompromisedKey => "compromised-key",
            Class::ForeignChain => "foreign-chain",
            Class::Misconfiguration => "misconfiguration",
            Class::StalePinset => "stale-pinset",
            Class::NotedKeyServed => "noted-key-served",
            Class::UnknownHost => "unknown-host",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The reports of one class about one host (and app), however many
/// distinct rows they are: what `check` prints, one line each, so that a
/// flood of reports that differ only in a port or a chain stays a few
/// lines (docs/design.md#classes). The detail is `reports list`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportGroup {
    pub class: Class,
    pub hostname: String,
    pub source: String,
    pub app: Option<String>,
    /// Reports, all counts summed.
    pub count: u64,
    /// Distinct rows.
    pub distinct: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// The served chain of the most frequent row (pins with subjects).
    pub chain: Vec<(String, String)>,
}

/// The most groups of one class `check` shows for a site; the rest are
/// one line that counts them.
pub const MAX_GROUPS: usize = 5;

/// Groups rows by class, host and app, most reports first; per class at
/// most [`MAX_GROUPS`] groups, and the rest summed in a group whose
/// hostname is empty (`distinct` then counts the hosts left out).
pub fn summarise(rows: &[&ReportFinding]) -> Vec<ReportGroup> {
    let mut groups: Vec<ReportGroup> = Vec::new();
    // (class, host, source, app) -> (group, count of its most reported row)
    type GroupKey<'a> = (Class, &'a str, &'a str, Option<&'a str>);
    let mut index: std::collections::HashMap<GroupKey<'_>, (usize, u64)> =
        std::collections::HashMap::new();
    for r in rows {
        let k = (
            r.class,
            r.hostname.as_str(),
            r.source.as_str(),
            r.app.as_deref(),
        );
        let chain = || {
            r.served_pins
                .iter()
                .zip(
                    r.served_subjects
                        .iter()
                        .chain(std::iter::repeat(&String::new())),
                )
                .map(|(p, s)| (p.clone(), s.clone()))
                .collect()
        };
        match index.get_mut(&k) {
            Some((i, best)) => {
                let g = &mut groups[*i];
                g.count += r.count;
                g.distinct += 1;
                if r.first_seen < g.first_seen {
                    g.first_seen = r.first_seen.clone();
                }
                if r.last_seen > g.last_seen {
                    g.last_seen = r.last_seen.clone();
                }
                // The most reported chain; a chain over none (TrustKit on
                // iOS sends only the validated one).
                if r.count > *best || (g.chain.is_empty() && !r.served_pins.is_empty()) {
                    *best = r.count;
                    g.chain = chain();
                }
            }
            None => {
                index.insert(k, (groups.len(), r.count));
                groups.push(ReportGroup {
                    class: r.class,
                    hostname: r.hostname.clone(),
                    source: r.source.clone(),
                    app: r.app.clone(),
                    count: r.count,
                    distinct: 1,
                    first_seen: r.first_seen.clone(),
                    last_seen: r.last_seen.clone(),
                    chain: chain(),
                });
            }
        }
    }
    groups.sort_by(|a, b| {
        (a.class, std::cmp::Reverse(a.count), &a.hostname, &a.app).cmp(&(
            b.class,
            std::cmp::Reverse(b.count),
            &b.hostname,
            &b.app,
        ))
    });
    let mut out: Vec<ReportGroup> = Vec::new();
    let mut shown = 0;
    for g in groups {
        let same = out.last().is_some_and(|l| l.class == g.class);
        if !same {
            shown = 0;
        }
        if shown < MAX_GROUPS {
            shown += 1;
            out.push(g);
            continue;
        }
        match out.last_mut() {
            Some(rest) if rest.hostname.is_empty() => {
                rest.count += g.count;
                rest.distinct += 1;
                if g.first_seen < rest.first_seen {
                    rest.first_seen = g.first_seen;
                }
                if g.last_seen > rest.last_seen {
                    rest.last_seen = g.last_seen;
                }
            }
            _ => out.push(ReportGroup {
                hostname: String::new(),
                distinct: 1,
                chain: Vec::new(),
                app: None,
                ..g
            }),
        }
    }
    out
}

/// Who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Browser,
    Trustkit,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Browser => "browser",
            Source::Trustkit => "trustkit",
        }
    }
}

/// A report as received, checked field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub hostname: String,
    pub port: u16,
    pub noted_hostname: Option<String>,
    pub include_subdomains: Option<bool>,
    /// Pins of the served chain's certificates, in order.
    pub served: Vec<Pin>,
    pub served_subjects: Vec<String>,
    pub validated: Vec<Pin>,
    pub known: Vec<Pin>,
    pub source: Source,
    /// TrustKit: the app's bundle id.
    pub app: Option<String>,
}

/// Why a body is not a report (answered 400).
pub type Refusal = String;

fn string<'a>(o: &'a serde_json::Map<String, Value>, k: &str) -> Result<Option<&'a str>, Refusal> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 1024 => Ok(Some(s)),
        Some(Value::String(_)) => Err(format!("{k} is too long")),
        Some(_) => Err(format!("{k} is not a string")),
    }
}

fn boolean(o: &serde_json::Map<String, Value>, k: &str) -> Result<Option<bool>, Refusal> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("{k} is not a boolean")),
    }
}

fn host(o: &serde_json::Map<String, Value>, k: &str) -> Result<Option<String>, Refusal> {
    let Some(h) = string(o, k)? else {
        return Ok(None);
    };
    let h = h.trim_end_matches('.').to_ascii_lowercase();
    if h.is_empty()
        || h.len() > 253
        || !h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(format!("{k} is not a host name"));
    }
    Ok(Some(h))
}

/// The pins and subjects of a chain of PEM certificates.
fn chain(o: &serde_json::Map<String, Value>, k: &str) -> Result<(Vec<Pin>, Vec<String>), Refusal> {
    let items = match o.get(k) {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(format!("{k} is not an array")),
    };
    if items.len() > MAX_CHAIN {
        return Err(format!("{k} holds more than {MAX_CHAIN} certificates"));
    }
    let mut pins = Vec::new();
    let mut subjects = Vec::new();
    for (i, c) in items.iter().enumerate() {
        let Value::String(pem) = c else {
            return Err(format!("{k}[{i}] is not a string"));
        };
        let infos = crate::pin::read_pins(k, pem.as_bytes())
            .map_err(|e| format!("{k}[{i}]: {}", e.to_string().trim_start_matches("error: ")))?;
        match infos.as_slice() {
            [one] if one.kind == crate::pin::Kind::Certificate => {
                pins.push(one.pin.clone());
                // Names from the network are stored printable: every list
                // and check shows them.
                let subject = one.subject.as_deref().unwrap_or_default();
                subjects.push(crate::text::printable(subject).into_owned());
            }
            _ => return Err(format!("{k}[{i}] is not one PEM certificate")),
        }
    }
    Ok((pins, subjects))
}

/// `pin-sha256="…"` strings (RFC 7469 errata; TrustKit writes the same).
fn known_pins(o: &serde_json::Map<String, Value>) -> Result<Vec<Pin>, Refusal> {
    let items = match o.get("known-pins") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("known-pins is not an array".into()),
    };
    if items.len() > MAX_PINS {
        return Err(format!("known-pins holds more than {MAX_PINS} pins"));
    }
    items
        .iter()
        .map(|v| {
            let Value::String(s) = v else {
                return Err("known-pins holds a non-string".to_string());
            };
            let (name, value) = s
                .split_once('=')
                .ok_or_else(|| format!("known-pins entry {s:?} is not pin-sha256=\"…\""))?;
            if !name.trim().eq_ignore_ascii_case("pin-sha256") {
                return Err(format!("known-pins entry {s:?} is not a pin-sha256"));
            }
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            Pin::parse(value).map_err(|e| format!("known-pins: {e}"))
        })
        .collect()
}

/// Parses a report body: JSON of at most [`MAX_BODY`] bytes whose known
/// fields have the right types and values. Lenient on what is absent and
/// on unknown fields, strict on what is there.
pub fn parse(body: &[u8]) -> Result<Report, Refusal> {
    if body.len() > MAX_BODY {
        return Err(format!("the body is larger than {MAX_BODY} bytes"));
    }
    // serde_json refuses nesting deeper than 128 levels.
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(o) = v else {
        return Err("not a JSON object".into());
    };
    let hostname = host(&o, "hostname")?.ok_or("no hostname")?;
    let port = match o.get("port") {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("port is not a port number")?,
        None | Some(Value::Null) => 443,
        Some(_) => return Err("port is not a number".into()),
    };
    let (served, served_subjects) = chain(&o, "served-certificate-chain")?;
    let (validated, _) = chain(&o, "validated-certificate-chain")?;
    if served.is_empty() && validated.is_empty() {
        return Err("no certificate chain".into());
    }
    let known = known_pins(&o)?;
    let trustkit = o.contains_key("app-bundle-id") || o.contains_key("validation-result");
    for k in [
        "date-time",
        "effective-expiration-date",
        "known-pins-expiration-date",
        "app-version",
        "app-platform",
    ] {
        string(&o, k)?;
    }
    for k in ["include-subdomains", "enforce-pinning"] {
        boolean(&o, k)?;
    }
    if let Some(v) = o.get("validation-result") {
        if !v.is_u64() {
            return Err("validation-result is not a number".into());
        }
    }
    Ok(Report {
        hostname,
        port,
        noted_hostname: host(&o, "noted-hostname")?,
        include_subdomains: boolean(&o, "include-subdomains")?,
        served,
        served_subjects,
        validated,
        known,
        source: if trustkit {
            Source::Trustkit
        } else {
            Source::Browser
        },
        app: string(&o, "app-bundle-id")?.map(|a| crate::text::printable(a).into_owned()),
    })
}

/// The site a report is about: the one named by the host (or the noted
/// host), else the nearest ancestor.
pub fn site_of<'a>(r: &Report, sites: &'a [Site]) -> Option<&'a Site> {
    let names = [Some(r.hostname.as_str()), r.noted_hostname.as_deref()];
    for n in names.into_iter().flatten() {
        if let Some(s) = sites.iter().find(|s| s.domain == n) {
            return Some(s);
        }
    }
    names
        .into_iter()
        .flatten()
        .flat_map(|n| {
            sites
                .iter()
                .filter(move |s| lifecycle::is_below(n, &s.domain))
        })
        .max_by_key(|s| s.domain.len())
}

/// Classifies a report against the sites of the state
/// (docs/design.md#classes): a compromised key in the chain first, then a
/// chain of none of the site's keys or issuers, then a client holding an
/// older publication of the channels its source reads (the header for a
/// browser, app releases for TrustKit), then noted pins that include a
/// key of the chain; what remains is the operator's misconfiguration.
pub fn classify(r: &Report, sites: &[Site]) -> (Option<String>, Class) {
    use crate::state::{ChannelKind, Role};
    let Some(site) = site_of(r, sites) else {
        return (None, Class::UnknownHost);
    };
    let domain = Some(site.domain.clone());
    let chain: Vec<&Pin> = r.served.iter().chain(&r.validated).collect();
    if site
        .keys
        .iter()
        .any(|k| k.role == Role::Compromised && chain.contains(&&k.pin))
    {
        return (domain, Class::CompromisedKey);
    }
    let keys: Vec<&Pin> = site.keys.iter().map(|k| &k.pin).collect();
    let issuers: Vec<&Pin> = site
        .certificates
        .iter()
        .filter_map(|c| c.issuer_pin.as_ref())
        .chain(site.ca_pins.iter().map(|c| &c.pin))
        .collect();
    if !chain
        .iter()
        .any(|p| keys.contains(p) || issuers.contains(p))
    {
        return (domain, Class::ForeignChain);
    }
    let mut known = r.known.clone();
    known.sort();
    known.dedup();
    let pinset = |p: &crate::state::Publication| {
        let mut pins: Vec<Pin> = p.pins.iter().chain(&p.ca_pins).cloned().collect();
        pins.sort();
        pins.dedup();
        pins
    };
    // The publications this client could hold: TrustKit apps hold app
    // releases, browsers the header.
    let relevant = |p: &&crate::state::Publication| match r.source {
        Source::Browser => p.kind == ChannelKind::Web,
        Source::Trustkit => !matches!(p.kind, ChannelKind::Web | ChannelKind::Dns),
    };
    let mut channels: Vec<&str> = site
        .publications
        .iter()
        .filter(relevant)
        .map(|p| p.channel_name())
        .collect();
    channels.sort_unstable();
    channels.dedup();
    let current: Vec<Vec<Pin>> = channels
        .iter()
        .filter_map(|c| site.latest_in(c).map(|(_, p)| pinset(p)))
        .collect();
    let older = !known.is_empty()
        && !current.contains(&known)
        && site
            .publications
            .iter()
            .filter(relevant)
            .any(|p| pinset(p) == known);
    if older {
        return (domain, Class::StalePinset);
    }
    // A browser reports only when no key of the chain it VALIDATED is
    // pinned (RFC 7469 section 2.6): noted pins that meet only the served
    // chain are a real lockout (a cross-signed path built around the
    // pinned key), not something to wave through.
    if known.iter().any(|p| r.validated.contains(p)) {
        return (domain, Class::NotedKeyServed);
    }
    (domain, Class::Misconfiguration)
}

/// The deduplication key of a classified report: everything but the
/// timestamps, as Chrome and TrustKit compare reports.
pub fn dedup_key(site: Option<&str>, class: Class, r: &Report) -> String {
    use sha2::Digest as _;
    let pins = |v: &[Pin]| v.iter().map(Pin::as_str).collect::<Vec<_>>().join(",");
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
        site.unwrap_or(""),
        class.as_str(),
        r.hostname,
        r.port,
        r.noted_hostname.as_deref().unwrap_or(""),
        pins(&r.served),
        pins(&r.validated),
        pins(&r.known),
        r.source.as_str(),
        r.app.as_deref().unwrap_or("")
    );
    crate::text::hex(&sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Mode;
    use crate::lifecycle::tests::{pin_of, site_at, t};
    use crate::state::{ChannelKind, Publication, Role};

    fn report(source: Source, served: &[&str], known: &[&str]) -> Report {
        Report {
            hostname: "example.com".into(),
            port: 443,
            noted_hostname: None,
            include_subdomains: None,
            served: served.iter().map(|n| pin_of(n)).collect(),
            served_subjects: vec![],
            validated: vec![],
            known: known.iter().map(|n| pin_of(n)).collect(),
            source,
            app: None,
        }
    }

    fn publication(kind: ChannelKind, pins: &[&str], at: &str) -> Publication {
        Publication {
            channel: (kind != ChannelKind::Web).then(|| "app".to_string()),
            kind,
            release: None,
            mode: Mode::Enforce,
            pins: pins.iter().map(|n| pin_of(n)).collect(),
            ca_pins: vec![],
            max_age: 0,
            include_subdomains: false,
            one_label: false,
            report_uri: None,
            ttl: None,
            expires: None,
            horizon_days: None,
            from: t(at),
            until: None,
        }
    }

    fn class(site: &crate::state::Site, r: &Report) -> Class {
        classify(r, std::slice::from_ref(site)).1
    }

    /// A stolen key's chain was "misconfiguration", only a WARNING under
    /// Report-Only.
    #[test]
    fn a_chain_with_a_compromised_key_is_its_own_class() {
        let mut s = site_at(t("2030-01-01T00:00:00Z"));
        s.keys[0].role = Role::Compromised;
        let r = report(Source::Browser, &["primary"], &["backup1", "backup2"]);
        assert_eq!(class(&s, &r), Class::CompromisedKey);
        // Even when the client still pins it.
        let r = report(Source::Browser, &["primary"], &["primary", "backup1"]);
        assert_eq!(class(&s, &r), Class::CompromisedKey);
        assert_eq!(
            class(&s, &report(Source::Browser, &["stranger"], &[])),
            Class::ForeignChain
        );
    }

    /// Only an overlap with the VALIDATED chain is unexplained (a client
    /// that matched would not have reported); an overlap with the served
    /// chain alone is a cross-signed path that skips the pinned key: a
    /// lockout, misconfiguration (issue #24).
    #[test]
    fn noted_pins_that_include_a_validated_key_are_not_misconfiguration() {
        let s = site_at(t("2030-01-01T00:00:00Z"));
        let mut r = report(Source::Browser, &["primary"], &["primary", "backup1"]);
        r.validated = vec![pin_of("primary")];
        assert_eq!(class(&s, &r), Class::NotedKeyServed);
        let r = report(Source::Browser, &["primary"], &["backup1", "backup2"]);
        assert_eq!(class(&s, &r), Class::Misconfiguration);
        // Cross-signed: the served chain holds the pinned key, the chain
        // the client built and validated does not.
        let mut r = report(Source::Browser, &["primary"], &["primary", "backup1"]);
        r.validated = vec![pin_of("stranger")];
        assert_eq!(class(&s, &r), Class::Misconfiguration);
        // No validated chain at all: nothing shows the client matched.
        let r = report(Source::Browser, &["primary"], &["primary", "backup1"]);
        assert_eq!(class(&s, &r), Class::Misconfiguration);
    }

    /// TrustKit reports were compared with the header's publications only.
    #[test]
    fn trustkit_reports_are_compared_with_app_releases() {
        let mut s = site_at(t("2030-01-01T00:00:00Z"));
        s.publications = vec![
            publication(
                ChannelKind::Trustkit,
                &["old1", "old2"],
                "2030-01-02T00:00:00Z",
            ),
            publication(
                ChannelKind::Trustkit,
                &["primary", "backup1"],
                "2030-02-01T00:00:00Z",
            ),
            publication(ChannelKind::Web, &["web1", "web2"], "2030-01-02T00:00:00Z"),
            publication(
                ChannelKind::Web,
                &["primary", "backup2"],
                "2030-02-01T00:00:00Z",
            ),
        ];
        let app = report(Source::Trustkit, &["primary"], &["old1", "old2"]);
        assert_eq!(class(&s, &app), Class::StalePinset);
        // A browser never held an app's pinset, nor an app the header's.
        let browser = report(Source::Browser, &["primary"], &["old1", "old2"]);
        assert_eq!(class(&s, &browser), Class::Misconfiguration);
        let app = report(Source::Trustkit, &["primary"], &["web1", "web2"]);
        assert_eq!(class(&s, &app), Class::Misconfiguration);
        let browser = report(Source::Browser, &["primary"], &["web1", "web2"]);
        assert_eq!(class(&s, &browser), Class::StalePinset);
    }

    fn row(class: Class, host: &str, port: u16, count: u64, at: &str) -> ReportFinding {
        ReportFinding {
            site: Some("example.com".into()),
            hostname: host.into(),
            port,
            class,
            source: "browser".into(),
            app: None,
            count,
            first_seen: at.into(),
            last_seen: at.into(),
            served_pins: vec![format!("pin{port}")],
            served_subjects: vec![String::new()],
        }
    }

    /// 3,000 reports that differed only in their port were 3,003 lines of
    /// `check`.
    #[test]
    fn a_flood_is_summarised_per_class_host_and_app_in_few_groups() {
        let mut rows: Vec<ReportFinding> = (0..3000u16)
            .map(|p| {
                row(
                    Class::ForeignChain,
                    "example.com",
                    p,
                    1,
                    &format!("2030-01-01T00:{:02}:00Z", p % 60),
                )
            })
            .collect();
        rows[7].count = 50;
        rows.extend((0..400).map(|i| {
            row(
                Class::ForeignChain,
                &format!("h{i}.example.com"),
                1,
                1,
                "2030-01-02T00:00:00Z",
            )
        }));
        rows.push(row(
            Class::Misconfiguration,
            "example.com",
            443,
            2,
            "2030-01-03T00:00:00Z",
        ));
        let refs: Vec<&ReportFinding> = rows.iter().collect();
        let g = summarise(&refs);
        assert_eq!(g.len(), MAX_GROUPS + 2, "{g:#?}");
        assert_eq!(g[0].hostname, "example.com");
        assert_eq!((g[0].count, g[0].distinct), (3049, 3000));
        assert_eq!(g[0].first_seen, "2030-01-01T00:00:00Z");
        assert_eq!(g[0].last_seen, "2030-01-01T00:59:00Z");
        assert_eq!(
            g[0].chain,
            [("pin7".to_string(), String::new())],
            "the most reported chain"
        );
        let rest = &g[MAX_GROUPS];
        assert_eq!(
            (rest.hostname.as_str(), rest.count, rest.distinct),
            ("", 400 - 4, 400 - 4)
        );
        assert_eq!(g[MAX_GROUPS + 1].class, Class::Misconfiguration);
        let total: u64 = g.iter().map(|x| x.count).sum();
        assert_eq!(total, 3049 + 400 + 2);
    }
}
