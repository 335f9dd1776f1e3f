//! Channel artifacts: what each channel's platform reads (TLSA records,
//! Android's Network Security Config, TrustKit, iOS `NSPinnedDomains`,
//! OkHttp code), rendered from the templates in `templates/` with the
//! escaping filters written and tested once here, after the checks the
//! platform itself would apply (two distinct pins, 32-byte digests, an
//! expiration that has not passed and is not within Android lint's 10
//! days).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::lifecycle::{self, MIN_EXPIRY_DAYS};
use crate::state::{ChannelKind, Publication, Site};

/// The language or form of an artifact where a platform has several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Kotlin,
    Java,
    Plist,
    Xml,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "kotlin" => Some(Lang::Kotlin),
            "java" => Some(Lang::Java),
            "plist" => Some(Lang::Plist),
            "xml" => Some(Lang::Xml),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct PinView {
    pin: String,
    label: String,
}

#[derive(Serialize)]
struct Record {
    usage: u8,
    hex: String,
    label: String,
}

/// What a pin stands for in the site: a key and its role, or a CA pin.
fn label(site: &Site, pin: &crate::pin::Pin) -> String {
    if let Some(k) = site.keys.iter().find(|k| &k.pin == pin) {
        return format!("{} ({})", k.name, k.role.as_str());
    }
    match site.ca_pins.iter().find(|c| &c.pin == pin) {
        Some(c) => format!("ca-pin {}", c.name),
        None => "pin".into(),
    }
}

/// Checks a pinset as the platforms do: every pin a 32-byte SHA-256
/// digest, at least two distinct (TrustKit throws below two, browsers
/// ignore a header without a backup), an expiration neither passed nor
/// within [`MIN_EXPIRY_DAYS`].
pub fn check(p: &Publication, now: DateTime<Utc>) -> Result<()> {
    let all: Vec<&crate::pin::Pin> = p.pins.iter().chain(&p.ca_pins).collect();
    for pin in &all {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(pin.as_str())
            .unwrap_or_default();
        if raw.len() != 32 {
            return Err(Error::Refused(format!(
                "refused: pin {pin} is not a 32-byte SHA-256 digest"
            )));
        }
    }
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < 2 {
        return Err(Error::Refused(format!(
            "refused: the {} pinset has {} distinct pin(s); the platform needs a backup (TrustKit refuses fewer than 2: \"This might brick your App\")",
            p.channel_name(),
            distinct.len()
        )));
    }
    if let Some(d) = p.expires.filter(|d| lifecycle::expires_too_soon(*d, now)) {
        return Err(Error::Refused(format!(
            "refused: the pin-set expiration {d} has passed or falls within {MIN_EXPIRY_DAYS} days (Android lint PinSetExpiry); an expired pin-set pins nothing"
        )));
    }
    Ok(())
}

/// The `publish` command that records the artifact of `channel` once it
/// is out.
pub fn publish_command(site: &Site, channel: &str, expires: Option<chrono::NaiveDate>) -> String {
    let mut publish = format!("pinctl --site {} publish --channel {channel}", site.domain);
    let kind = site.channel_kind(channel).unwrap_or_default();
    if kind.is_app() {
        publish.push_str(" --release LABEL --from THIS_FILE");
    }
    if let Some(d) = expires {
        publish.push_str(&format!(" --expires {d}"));
    }
    publish
}

/// The artifact of `channel` for the site's desired pinset at `now`.
pub fn render(
    site: &Site,
    channel: &str,
    now: DateTime<Utc>,
    expires: Option<chrono::NaiveDate>,
    lang: Option<Lang>,
    templates: Option<&dyn crate::snippet::Templates>,
) -> Result<String> {
    let p = lifecycle::desired_publication(site, channel, now, None, expires)
        .ok_or_else(|| Error::Usage(format!("{} has no channel named {channel}", site.domain)))?;
    let c = site.channel(channel);
    check(&p, now)?;
    let lang = pick_lang(p.kind, lang)?;
    let (file, embedded) = template(p.kind, lang)?;
    let (pins, records) = pin_views(site, &p);
    let publish = publish_command(site, channel, p.expires);
    let publish_words = publish_words(site, channel, &p);
    let port = c.and_then(|c| c.port).unwrap_or(443);
    let (hosts, notes) = okhttp_hosts(&site.domain, &p);
    crate::snippet::render_template(
        file,
        embedded,
        templates,
        channel,
        minijinja::context! {
            site => site.domain,
            channel => channel,
            pins => pins,
            records => records,
            owner => format!("_{port}._tcp.{}.", site.domain),
            ttl => p.ttl.unwrap_or(0),
            port => port,
            expires => p.expires.map(|d| d.to_string()),
            include_subdomains => if p.include_subdomains { "true" } else { "false" },
            report_uri => site.policy.report_uri.clone(),
            publish => publish,
            publish_words => publish_words,
            hosts => hosts,
            pattern_notes => notes,
            swizzle => if c.and_then(|c| c.swizzle).unwrap_or(true) { "true" } else { "false" },
        },
    )
}

/// The artifact's language: `--lang`, or the kind's usual one.
fn pick_lang(kind: ChannelKind, lang: Option<Lang>) -> Result<Lang> {
    Ok(match (kind, lang) {
        (ChannelKind::Okhttp, None) => Lang::Kotlin,
        (ChannelKind::Trustkit, None) => Lang::Plist,
        (ChannelKind::Okhttp, Some(l @ (Lang::Kotlin | Lang::Java))) => l,
        (ChannelKind::Trustkit, Some(l @ (Lang::Plist | Lang::Xml))) => l,
        (k, None) => match k {
            ChannelKind::Android => Lang::Xml,
            _ => Lang::Plist,
        },
        (k, Some(_)) => {
            return Err(Error::Usage(format!(
                "--lang is kotlin|java for okhttp and plist|xml for trustkit, not for a {k} channel"
            )))
        }
    })
}

/// The template of a kind of artifact: its file name (which a
/// `--templates` folder may override) and the built-in text.
fn template(kind: ChannelKind, lang: Lang) -> Result<(&'static str, &'static str)> {
    Ok(match (kind, lang) {
        (ChannelKind::Dns, _) => (
            "dns.zone.j2",
            include_str!("../../../templates/dns.zone.j2"),
        ),
        (ChannelKind::Android, _) => (
            "android.xml.j2",
            include_str!("../../../templates/android.xml.j2"),
        ),
        (ChannelKind::Trustkit, Lang::Xml) => (
            "trustkit-android.xml.j2",
            include_str!("../../../templates/trustkit-android.xml.j2"),
        ),
        (ChannelKind::Trustkit, _) => (
            "trustkit.plist.j2",
            include_str!("../../../templates/trustkit.plist.j2"),
        ),
        (ChannelKind::Ios, _) => (
            "ios.plist.j2",
            include_str!("../../../templates/ios.plist.j2"),
        ),
        (ChannelKind::Okhttp, Lang::Java) => (
            "okhttp.java.j2",
            include_str!("../../../templates/okhttp.java.j2"),
        ),
        (ChannelKind::Okhttp, _) => (
            "okhttp.kt.j2",
            include_str!("../../../templates/okhttp.kt.j2"),
        ),
        (ChannelKind::Web, _) => {
            return Err(Error::Usage(
                "the web channel's artifact is the header: pinctl snippet --server SERVER".into(),
            ))
        }
    })
}

/// The pins as the templates show them: labelled, and as TLSA records
/// (`3 1 1` for keys, `2 1 1` for CA pins).
fn pin_views(site: &Site, p: &Publication) -> (Vec<PinView>, Vec<Record>) {
    let pins: Vec<PinView> = p
        .pins
        .iter()
        .map(|x| PinView {
            pin: x.to_string(),
            label: label(site, x),
        })
        .collect();
    // The records `publish --channel` sends to a server are these same
    // ones (`dane::records`), in this order.
    let records: Vec<Record> = crate::dane::records(p)
        .iter()
        .zip(p.pins.iter().chain(&p.ca_pins))
        .map(|(t, x)| Record {
            usage: t.usage,
            hex: crate::text::hex(&t.data),
            label: label(site, x),
        })
        .collect();
    (pins, records)
}

/// The `publish` command described in words, for comments.
fn publish_words(site: &Site, channel: &str, p: &Publication) -> String {
    // XML comments cannot hold `--`: they name the command's parts, and
    // `snippet` prints the command itself on standard error.
    let mut publish_words = format!(
        "pinctl publish with site {}, channel {channel}",
        site.domain
    );
    if p.kind.is_app() {
        publish_words.push_str(", the release's label");
    }
    if let Some(d) = p.expires {
        publish_words.push_str(&format!(", expires {d}"));
    }
    publish_words.push_str(" (snippet prints the exact command on standard error)");
    publish_words
}

/// The OkHttp host patterns of a pinset: the host itself, and `**.` (any
/// depth) or `*.` (one label, which never matches the host itself) when
/// it reaches subdomains; with what each pattern needs.
fn okhttp_hosts(domain: &str, p: &Publication) -> (Vec<String>, Vec<String>) {
    let mut hosts = vec![domain.to_string()];
    let mut notes = Vec::new();
    if p.kind == ChannelKind::Okhttp && p.include_subdomains {
        if p.one_label {
            hosts.push(format!("*.{domain}"));
            notes.push(format!(
                "*.{domain} matches names exactly one label below {domain} (OkHttp 3.x and later), never {domain} itself, hence both lines."
            ));
        } else {
            hosts.push(format!("**.{domain}"));
            notes.push(format!(
                "**.{domain} (any depth) needs OkHttp 4: OkHttp 3.13 accepts it without error and pins nothing below {domain} (tested); on 3.x use channel add okhttp --one-label for `*.`."
            ));
        }
    }
    (hosts, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_with(kind: ChannelKind, f: impl Fn(&mut crate::state::Channel)) -> Site {
        use crate::lifecycle::tests::{channel, pin_of, site_at, t};
        let at = t("2030-01-01T00:00:00Z");
        let mut site = site_at(at);
        let mut c = channel("app", kind, at);
        if kind == ChannelKind::Dns {
            c.ttl = Some(3600);
        }
        f(&mut c);
        site.channels.push(c);
        site.ca_pins.push(crate::state::CaPin {
            name: "root".into(),
            pin: pin_of("root"),
            added: at,
            subject: None,
        });
        site
    }

    fn now() -> DateTime<Utc> {
        crate::lifecycle::tests::t("2030-01-01T00:00:00Z")
    }

    /// TrustKit's swizzling is written as the channel chose it (yes when
    /// unset), and no domain reports to TrustKit's default server.
    #[test]
    fn the_trustkit_plist_states_swizzling_and_keeps_reports_home() {
        for (swizzle, want) in [(None, "true"), (Some(true), "true"), (Some(false), "false")] {
            let site = site_with(ChannelKind::Trustkit, |c| c.swizzle = swizzle);
            let out = render(&site, "app", now(), None, None, None).unwrap();
            assert!(
                out.contains(&format!(
                    "<key>TSKSwizzleNetworkDelegates</key>\n    <{want}/>"
                )),
                "{out}"
            );
            assert!(out.contains("<key>TSKDisableDefaultReportUri</key>\n        <true/>"));
            let xml = render(&site, "app", now(), None, Some(Lang::Xml), None).unwrap();
            assert!(xml.contains(r#"disableDefaultReportUri="true""#), "{xml}");
        }
    }

    /// A DANE-TA record says that a root matches only when servers send it.
    #[test]
    fn a_ca_record_says_when_it_matches() {
        let site = site_with(ChannelKind::Dns, |_| {});
        let out = render(&site, "app", now(), None, None, None).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        let ca = lines
            .iter()
            .position(|l| l.contains(" IN TLSA 2 1 1 "))
            .unwrap();
        assert!(lines[ca - 1].contains("RFC 7671 section 5.2.2"), "{out}");
        assert!(lines[ca - 2].contains("root CA"), "{out}");
        assert_eq!(out.matches("5.2.2").count(), 1, "{out}");
    }

    /// kotlinc 1.3 (Debian's) refuses a trailing comma in an argument list.
    #[test]
    fn kotlin_argument_lists_end_without_a_comma() {
        let site = site_with(ChannelKind::Okhttp, |c| c.include_subdomains = true);
        let out = render(&site, "app", now(), None, Some(Lang::Kotlin), None).unwrap();
        let code: Vec<&str> = out
            .lines()
            .map(|l| l.split(" //").next().unwrap_or("").trim_end())
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect();
        for w in code.windows(2) {
            assert!(
                !(w[0].ends_with(',') && w[1].trim() == ")"),
                "trailing comma before `)`:\n{out}"
            );
        }
        assert_eq!(out.matches(".add(").count(), 2, "{out}");
    }
}
