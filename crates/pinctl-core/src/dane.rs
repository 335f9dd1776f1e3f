//! DANE TLSA records of a dns channel (docs/design.md#channels): the
//! records a publication stands for (`3 1 1` per key pin, `2 1 1` per CA
//! pin), the owner name, and `check --live`'s judgement of the RRset a
//! server serves against the ledger (docs/design.md#evidence: an RRset
//! shows what the zone holds, never which key the servers present).
//! Pure: the binary queries the server and passes what it saw.

use std::fmt;

use base64::Engine as _;

use crate::finding::{Finding, Severity};
use crate::pin::Pin;
use crate::state::{Channel, Publication, Role, Site};

/// One TLSA record's data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// `USAGE 1 1 DIGEST` for a pin: SPKI selector, SHA-256 (RFC 6698).
    pub fn of_pin(usage: u8, pin: &Pin) -> Tlsa {
        Tlsa {
            usage,
            selector: 1,
            matching: 1,
            data: base64::engine::general_purpose::STANDARD
                .decode(pin.as_str())
                // A Pin is canonical base64 of 32 bytes by construction.
                .unwrap_or_default(),
        }
    }

    /// The pin this record stands for, when it is a `x 1 1` record.
    pub fn pin(&self) -> Option<Pin> {
        let d: [u8; 32] = self.data.as_slice().try_into().ok()?;
        (self.selector == 1 && self.matching == 1).then(|| Pin::from_digest(&d))
    }
}

impl fmt::Display for Tlsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching,
            crate::text::hex(&self.data)
        )
    }
}

/// The RRset a publication stands for, as `snippet --channel` prints it:
/// the key pins as `3 1 1`, then the CA pins as `2 1 1`.
pub fn records(p: &Publication) -> Vec<Tlsa> {
    p.pins
        .iter()
        .map(|x| Tlsa::of_pin(3, x))
        .chain(p.ca_pins.iter().map(|x| Tlsa::of_pin(2, x)))
        .collect()
}

/// The TLSA owner name, absolute: `_PORT._tcp.HOST.`.
pub fn owner(site: &Site, c: &Channel) -> String {
    format!("_{}._tcp.{}.", c.port.unwrap_or(443), site.domain)
}

/// The plan's step for a dns channel whose RRset is due: `(action,
/// command)`. With a server, `publish` updates the zone and reads it back
/// from every authoritative server, and the 2×TTL wait runs from the last
/// read-back (the publication's time; docs/design.md#acting).
pub fn plan_step(c: &Channel, pins: &[String], ttl: u64) -> (String, String) {
    let name = &c.name;
    let wait = ttl.saturating_mul(2);
    match &c.server {
        Some(server) => (
            format!(
                "Update the TLSA RRset on {server} now with the records of the served key(s) and every backup ({}) (a key the servers may still serve keeps its record until pinctl deployed or a published header shows they moved); publish sends one signed UPDATE, waits until every authoritative server ({}) serves exactly the new RRset, and records it only then; a backup is safe to promote 2 TTLs ({wait} s) after the last server was seen serving it",
                pins.join(", "),
                if c.check_servers.is_empty() {
                    "the zone's NS set".to_string()
                } else {
                    format!("{server} and {}", c.check_servers.join(", "))
                }
            ),
            format!("pinctl publish --channel {name}"),
        ),
        None => (
            format!(
                "Add the TLSA records of the served key(s) and every backup ({}) to the zone now (a key the servers may still serve keeps its record until pinctl deployed or a published header shows they moved); a backup is safe to promote 2 TTLs ({wait} s) after its record is served everywhere",
                pins.join(", ")
            ),
            format!("pinctl snippet --channel {name}  # then, once every secondary serves it: pinctl publish --channel {name}"),
        ),
    }
}

/// What a server answered for a channel's owner name.
#[derive(Debug, Clone)]
pub struct Served {
    /// Every record of the TLSA RRset.
    pub records: Vec<Tlsa>,
    /// The TTL served; None when there is no RRset.
    pub ttl: Option<u32>,
}

/// `check --live` for one dns channel: the served RRset against the
/// ledger. CRITICAL: the active key's record is missing, a record of the
/// live publication is missing (pinctl's retention assumes clients hold
/// it), a record pinctl never published through this channel, a record of
/// a compromised key, a TTL longer than recorded (resolvers hold the RRset
/// longer than pinctl's retention says). WARNING: a record of an earlier
/// publication still in the zone (safe, but not what was recorded).
pub fn judge_served(site: &Site, c: &Channel, server: &str, served: &Served) -> Vec<Finding> {
    let owner = owner(site, c);
    let name = c.name.as_str();
    let mut out = Vec::new();
    let mut add = |severity, key: Option<&str>, code, message: String| {
        out.push(Finding {
            severity,
            site: site.domain.clone(),
            key: key.map(str::to_string),
            code,
            message,
            due: None,
        })
    };
    let live = site.live_in(name);
    let recorded: Vec<Tlsa> = live.map(records).unwrap_or_default();
    let ever: Vec<Tlsa> = site
        .publications
        .iter()
        .filter(|p| p.channel_name() == name)
        .flat_map(records)
        .collect();
    let key_of = |t: &Tlsa| {
        t.pin()
            .and_then(|p| site.keys.iter().find(|k| k.pin == p))
            .map(|k| (k.name.clone(), k.role))
    };
    let active = site.active().map(|a| (a, Tlsa::of_pin(3, &a.pin)));
    if let Some((a, want)) = &active {
        if !served.records.contains(want) {
            add(
                Severity::Critical,
                Some(&a.name),
                "dns-lacks-active",
                format!(
                    "{server} serves no TLSA record of the active key {} at {owner} (channel {name}): DANE clients reject the servers' key",
                    a.name
                ),
            );
        }
    }
    for t in &recorded {
        // The active key's missing record is reported above.
        if served.records.contains(t) || active.as_ref().is_some_and(|(_, w)| w == t) {
            continue;
        }
        let who = key_of(t).map(|(n, _)| n);
        add(
            Severity::Critical,
            who.as_deref(),
            "dns-lacks-recorded",
            format!(
                "{server} does not serve the recorded record \"{t}\" at {owner} (channel {name}): pinctl counts it as held by resolvers; publish again (pinctl publish --channel {name})"
            ),
        );
    }
    for t in &served.records {
        let who = key_of(t);
        if who.as_ref().is_some_and(|(_, r)| *r == Role::Compromised) {
            add(
                Severity::Critical,
                who.as_ref().map(|(n, _)| n.as_str()),
                "dns-compromised-record",
                format!(
                    "{server} serves \"{t}\" at {owner} (channel {name}), the record of a compromised key: whoever holds it passes DANE"
                ),
            );
        } else if recorded.contains(t) {
            continue;
        } else if ever.contains(t) {
            add(
                Severity::Warning,
                who.as_ref().map(|(n, _)| n.as_str()),
                "dns-stale-record",
                format!(
                    "{server} still serves \"{t}\" at {owner} (channel {name}), from an earlier publication: safe, but not the recorded RRset (pinctl publish --channel {name})"
                ),
            );
        } else {
            add(
                Severity::Critical,
                who.as_ref().map(|(n, _)| n.as_str()),
                "dns-unknown-record",
                format!(
                    "{server} serves \"{t}\" at {owner} (channel {name}), a record pinctl never published: pinctl's retention and safety decisions do not know it"
                ),
            );
        }
    }
    let recorded_ttl = live.and_then(|p| p.ttl);
    if let (Some(got), Some(want)) = (served.ttl, recorded_ttl) {
        if u64::from(got) > want {
            add(
                Severity::Critical,
                None,
                "dns-ttl-longer",
                format!(
                    "{server} serves {owner} TLSA with TTL {got} s, longer than the {want} s recorded (channel {name}): resolvers hold it longer than pinctl's retention (2×TTL) says"
                ),
            );
        }
    }
    if out.is_empty() && !served.records.is_empty() {
        out.push(Finding {
            severity: Severity::Ok,
            site: site.domain.clone(),
            key: None,
            code: "dns-live",
            message: format!(
                "{server} serves the recorded RRset at {owner} (channel {name}, TTL {} s)",
                served.ttl.unwrap_or(0)
            ),
            due: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::tests::{channel, site_at, t};
    use crate::lifecycle::{publish_in, PublishOutcome};
    use crate::state::ChannelKind;

    fn codes(f: &[Finding]) -> Vec<(Severity, &'static str)> {
        f.iter().map(|f| (f.severity, f.code)).collect()
    }

    #[test]
    fn a_served_rrset_is_judged_against_the_ledger() {
        let t0 = t("2030-01-01T00:00:00Z");
        let mut site = site_at(t0);
        let mut c = channel("dns", ChannelKind::Dns, t0);
        c.ttl = Some(3600);
        site.channels.push(c.clone());
        let published = |site: &mut Site, at| {
            let r = publish_in(site, "dns", at, None, None, None, false);
            assert!(
                matches!(r, Ok(PublishOutcome::Published { .. })),
                "{at}: {r:?}"
            );
        };
        published(&mut site, t0);
        let first = records(site.live_in("dns").unwrap());
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|r| r.usage == 3 && r.pin().is_some()));
        let served = |records: Vec<Tlsa>, ttl| Served {
            records,
            ttl: Some(ttl),
        };
        let judge = |site: &Site, s: &Served| codes(&judge_served(site, &c, "ns", s));
        assert_eq!(
            judge(&site, &served(first.clone(), 3600)),
            [(Severity::Ok, "dns-live")]
        );
        assert_eq!(
            judge(&site, &served(first.clone(), 3601)),
            [(Severity::Critical, "dns-ttl-longer")]
        );
        let mut extra = first.clone();
        extra.push(Tlsa::of_pin(3, &Pin::from_digest(&[9; 32])));
        assert_eq!(
            judge(&site, &served(extra, 3600)),
            [(Severity::Critical, "dns-unknown-record")]
        );
        assert_eq!(
            judge(&site, &served(first[1..].to_vec(), 3600)),
            [(Severity::Critical, "dns-lacks-active")]
        );
        assert_eq!(
            judge(&site, &served(first[..2].to_vec(), 3600)),
            [(Severity::Critical, "dns-lacks-recorded")]
        );
        // A later RRset without backup2's record (as after its key left
        // every pinset): served still, that record is stale but safe;
        // once its key is compromised, it is not.
        let t1 = t("2030-01-02T00:00:00Z");
        let mut next = site.live_in("dns").unwrap().clone();
        next.pins.remove(2);
        next.from = t1;
        site.publications.last_mut().unwrap().until = Some(t1);
        site.publications.push(next);
        assert_eq!(
            judge(&site, &served(first.clone(), 3600)),
            [(Severity::Warning, "dns-stale-record")]
        );
        site.keys[2].role = Role::Compromised;
        assert_eq!(
            judge(&site, &served(first, 3600)),
            [(Severity::Critical, "dns-compromised-record")]
        );
    }

    #[test]
    fn a_pin_is_its_3_1_1_record() {
        let pin = Pin::from_digest(&[7u8; 32]);
        let t = Tlsa::of_pin(3, &pin);
        assert_eq!(t.data, vec![7u8; 32]);
        assert_eq!(t.pin(), Some(pin.clone()));
        assert_eq!(t.to_string(), format!("3 1 1 {}", pin.hex()));
    }
}
