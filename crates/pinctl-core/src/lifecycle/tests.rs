//! The worked example (docs/design.md#a-worked-example), step by step,
//! without any file; the rules at their edges; and the client simulator that proves, over random
//! sequences across several sites and every channel (browsers, resolvers
//! caching TLSA RRsets behind lagging secondaries, app installs that never
//! update, in every time zone), that no accepted step locks a client out
//! beyond what `--force` accepted, and that every refusal is needed.

use super::*;
use crate::keys::KeyType;
use crate::state::{ChannelKind, Encryption, EventKind, Method, Policy, VERSION};
use chrono::NaiveDate;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn pin_of(name: &str) -> Pin {
    use sha2::Digest as _;
    Pin::from_digest(&sha2::Sha256::digest(name.as_bytes()).into())
}

pub fn key(name: &str, role: Role, at: DateTime<Utc>) -> Key {
    key_in("", name, role, at)
}

/// A key whose pin is unique to `domain` (example.com's keep plain names).
pub fn key_in(domain: &str, name: &str, role: Role, at: DateTime<Utc>) -> Key {
    Key {
        name: name.into(),
        role,
        key_type: KeyType::P256,
        pin: pin_of(&key_label(domain, name)),
        created: at,
        role_since: at,
        archive: format!("{name}.key.age"),
        archive_sha256: String::new(),
        csr: format!("{name}.csr.pem"),
        copies: vec![],
        sealed_to: None,
        destroyed: None,
    }
}

fn key_label(domain: &str, name: &str) -> String {
    if domain.is_empty() || domain == "example.com" {
        name.to_string()
    } else {
        format!("{domain}/{name}")
    }
}

/// A site as `init` leaves it: primary active, backup1 and backup2.
pub fn site_at(at: DateTime<Utc>) -> Site {
    site_named("example.com", at)
}

/// A site `domain` as `init` leaves it.
pub fn site_named(domain: &str, at: DateTime<Utc>) -> Site {
    Site {
        version: VERSION,
        domain: domain.into(),
        sans: vec![],
        created: at,
        encryption: Encryption {
            method: Method::Passphrase,
            recipients: vec![],
            armor: false,
        },
        policy: Policy {
            mode: Mode::ReportOnly,
            max_age: 2_592_000,
            include_subdomains: false,
            report_uri: None,
            endpoints: vec![],
        },
        keys: vec![
            key_in(domain, "primary", Role::Active, at),
            key_in(domain, "backup1", Role::Backup, at),
            key_in(domain, "backup2", Role::Backup, at),
        ],
        ca_pins: vec![],
        certificates: vec![],
        channels: vec![],
        acme: None,
        publications: vec![],
        events: vec![],
        related: Default::default(),
    }
}

/// A channel as `channel add` records it, with no option set.
pub fn channel(name: &str, kind: ChannelKind, at: DateTime<Utc>) -> crate::state::Channel {
    crate::state::Channel {
        name: name.into(),
        kind,
        ttl: None,
        port: None,
        expires_after_days: None,
        horizon_days: None,
        include_subdomains: false,
        one_label: false,
        swizzle: None,
        server: None,
        tsig_key: None,
        check_servers: Vec::new(),
        added: at,
        retired: None,
    }
}

/// Adds the backups a rotation asked for, as `rotate` does after making keys.
pub fn add_backups(site: &mut Site, r: &Rotation, at: DateTime<Utc>) {
    let domain = site.domain.clone();
    for n in &r.new_backups {
        site.keys.push(key_in(&domain, n, Role::Backup, at));
    }
}

/// Records a certificate for `name` (no CA credit), as `cert add` does:
/// a header shows a key served only once it has one.
pub fn certify(site: &mut Site, name: &str, at: DateTime<Utc>) {
    site.certificates.push(crate::state::Cert {
        key: name.into(),
        file: format!("{name}-{}.pem", site.certificates.len()),
        subject: String::new(),
        not_before: at,
        not_after: add_secs(at, 90 * 86_400),
        chain_pins: vec![],
        issuer_pin: None,
        names: vec![],
        added: at,
    });
    site.log(at, EventKind::CertAdd, Some(name), None);
}

fn pins(names: &[&str]) -> Vec<Pin> {
    names.iter().map(|n| pin_of(n)).collect()
}

#[test]
fn worked_example_of_the_design() {
    let mut s = site_at(t("2030-03-01T00:00:00Z"));
    assert_eq!(desired_header(&s).mode, Mode::ReportOnly);

    s.policy.mode = Mode::Enforce;
    let d = t("2030-03-10T00:00:00Z");
    assert_eq!(
        publish(&mut s, d),
        Ok(PublishOutcome::Published {
            closed: None,
            still_locked_out: vec![],
            forced: None,
        })
    );
    assert_eq!(
        s.publications[0].pins,
        pins(&["primary", "backup1", "backup2"])
    );
    assert_eq!(publish(&mut s, d), Ok(PublishOutcome::Unchanged));

    let d = t("2030-04-01T00:00:00Z");
    let r = rotate(&mut s, "backup1", d, false, false).unwrap();
    assert_eq!(r.new_backups, vec!["backup3".to_string()]);
    add_backups(&mut s, &r, d);
    assert_eq!(
        desired_header(&s).pins,
        pins(&["primary", "backup1", "backup2", "backup3"])
    );
    certify(&mut s, "backup1", d);
    publish(&mut s, d).unwrap();
    assert_eq!(
        retention(&s.publications[0]),
        Retention::Until(t("2030-05-01T00:00:00Z"))
    );
    assert_eq!(
        desired_header(&s).pins,
        pins(&["backup1", "backup2", "backup3"])
    );
    publish(&mut s, t("2030-04-02T00:00:00Z")).unwrap();
    assert_eq!(
        retention(&s.publications[1]),
        Retention::Until(t("2030-05-02T00:00:00Z"))
    );
    assert_eq!(
        s.publications[2].pins,
        pins(&["backup1", "backup2", "backup3"])
    );

    let d = t("2030-04-15T00:00:00Z");
    let mut probe = s.clone();
    match rotate(&mut probe, "backup3", d, false, false) {
        Err(RotateRefusal::NotSafe {
            blockers,
            safe_from,
        }) => {
            assert_eq!(safe_from, SafeFrom::At(t("2030-05-01T00:00:00Z")));
            assert_eq!(blockers.len(), 1);
            assert_eq!(blockers[0].number, 1);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(probe, s, "a refused rotation changes nothing");
    assert!(blockers(&s, s.key("backup2").unwrap(), d).is_empty());

    let d = t("2030-04-20T00:00:00Z");
    let r = rotate(&mut s, "backup2", d, true, false).unwrap();
    assert_eq!(r.compromised_trusted_until, Some(t("2030-05-20T00:00:00Z")));
    add_backups(&mut s, &r, d);
    assert!(!desired_header(&s).pins.contains(&pin_of("backup1")));
    assert_eq!(s.key("backup1").unwrap().role, Role::Compromised);
    assert_eq!(s.key("primary").unwrap().role, Role::Retired);
}

#[test]
fn publish_refuses_an_active_key_clients_would_reject() {
    let mut s = site_at(t("2030-01-01T00:00:00Z"));
    s.policy.mode = Mode::Enforce;
    publish(&mut s, t("2030-01-02T00:00:00Z")).unwrap();
    // A key outside every pinset became active without --force (a state
    // edited by hand): its first header would deploy it.
    s.keys
        .push(key("backup3", Role::Backup, t("2030-01-03T00:00:00Z")));
    s.key_mut("primary").unwrap().role = Role::Retired;
    s.key_mut("backup3").unwrap().role = Role::Active;
    match publish(&mut s, t("2030-01-04T00:00:00Z")) {
        Err(PublishRefusal::ActiveNotSafe { safe_from, .. }) => {
            assert_eq!(safe_from, SafeFrom::Never)
        }
        other => panic!("{other:?}"),
    }
}

/// Regression: after `rotate --force`, publish was refused until the old
/// pinsets expired, which kept a leaked key's pin served for months.
#[test]
fn publish_after_a_forced_rotation_records_the_header() {
    let mut s = site_at(t("2030-01-01T00:00:00Z"));
    s.policy.mode = Mode::Enforce;
    publish(&mut s, t("2030-01-02T00:00:00Z")).unwrap();
    s.keys
        .push(key("backup3", Role::Backup, t("2030-01-03T00:00:00Z")));
    let d = t("2030-01-03T00:00:00Z");
    let r = rotate(&mut s, "backup3", d, true, true).unwrap();
    assert_eq!(r.forced_over.len(), 1);
    add_backups(&mut s, &r, d);
    match publish(&mut s, t("2030-01-04T00:00:00Z")) {
        Ok(PublishOutcome::Published {
            still_locked_out, ..
        }) => {
            assert_eq!(still_locked_out.len(), 1);
            assert_eq!(
                still_locked_out[0].retained_until,
                Some(t("2030-02-03T00:00:00Z"))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!s.live().unwrap().pins.contains(&pin_of("primary")));
}

#[test]
fn a_parent_includesubdomains_pinset_binds_the_child() {
    let at = t("2030-01-01T00:00:00Z");
    let mut parent = site_at(at);
    let mut child = site_named("api.example.com", at);
    parent.policy.mode = Mode::Enforce;
    parent.policy.include_subdomains = true;
    parent.related = relate(&parent, std::slice::from_ref(&child));
    assert!(matches!(
        publish(&mut parent, t("2030-01-02T00:00:00Z")),
        Err(PublishRefusal::SubdomainNotAccepted { ref domain, ref key })
            if domain == "api.example.com" && key == "primary"
    ));
    // Once the parent's pinset holds the child's key (here a CA pin), it
    // may be published, and it binds the child's later rotations.
    parent.ca_pins.push(crate::state::CaPin {
        name: "child".into(),
        pin: child.key("primary").unwrap().pin.clone(),
        added: at,
        subject: None,
    });
    publish(&mut parent, t("2030-01-02T00:00:00Z")).unwrap();
    child.related = relate(&child, std::slice::from_ref(&parent));
    let d = t("2030-01-03T00:00:00Z");
    match rotate(&mut child.clone(), "backup1", d, false, false) {
        Err(RotateRefusal::NotSafe {
            blockers,
            safe_from,
        }) => {
            assert_eq!(blockers[0].site.as_deref(), Some("example.com"));
            assert_eq!(safe_from, SafeFrom::Never);
        }
        other => panic!("{other:?}"),
    }
    // Any depth.
    let grandchild = site_named("x.api.example.com", at);
    assert_eq!(
        relate(&grandchild, std::slice::from_ref(&parent))
            .inherited
            .len(),
        1
    );
    assert!(is_below("x.api.example.com", "example.com"));
    assert!(!is_below("badexample.com", "example.com"));
    assert!(!is_below("example.com", "example.com"));
}

#[test]
fn report_only_publications_retain_nothing() {
    let mut s = site_at(t("2030-01-01T00:00:00Z"));
    publish(&mut s, t("2030-01-02T00:00:00Z")).unwrap();
    s.keys
        .push(key("backup3", Role::Backup, t("2030-01-03T00:00:00Z")));
    assert_eq!(
        safe_from(&s, s.key("backup3").unwrap()),
        SafeFrom::At(t("2030-01-03T00:00:00Z"))
    );
}

#[test]
fn publish_needs_a_backup_pin() {
    let mut s = site_at(t("2030-01-01T00:00:00Z"));
    s.keys.retain(|k| k.role == Role::Active);
    assert_eq!(
        publish(&mut s, t("2030-01-02T00:00:00Z")),
        Err(PublishRefusal::NoBackupPin)
    );
}

#[test]
fn far_future_max_age_saturates() {
    let at = t("2030-01-01T00:00:00Z");
    assert_eq!(add_secs(at, u64::MAX), DateTime::<Utc>::MAX_UTC);
}

/// Sites of the simulated state: a parent, a child and a grandchild, so
/// that includeSubDomains reaches one and two labels down.
const DOMAINS: [&str; 3] = ["example.com", "api.example.com", "x.api.example.com"];

/// Which publication a client noted: (site index, 1-based number).
type PubId = (usize, usize);

/// One host's entry in a client's pin store (RFC 7469 section 2.3.3).
#[derive(Clone, Debug)]
struct Noted {
    pins: Vec<Pin>,
    expires: DateTime<Utc>,
    include_subdomains: bool,
    from: PubId,
}

/// A browser's pin store, per host, as RFC 7469 section 2.3 describes,
/// and the cache of its validating resolver: per host, the TLSA RRset it
/// fetched and until when it keeps it.
#[derive(Clone, Debug, Default)]
struct Client {
    store: std::collections::BTreeMap<usize, Noted>,
    rrsets: std::collections::BTreeMap<usize, (Publication, PubId, DateTime<Utc>)>,
}

/// The channels every simulated site has, with the options they start
/// with (`Op::Configure` changes them).
const CHANNELS: [(&str, ChannelKind); 5] = [
    ("dns", ChannelKind::Dns),
    ("android", ChannelKind::Android),
    ("trustkit", ChannelKind::Trustkit),
    ("ios", ChannelKind::Ios),
    ("okhttp", ChannelKind::Okhttp),
];

/// Whether a client of `p`'s platform accepts `chain` (leaf first), by
/// the platform's own rule, written apart from `lifecycle::matches`.
fn client_accepts(p: &Publication, chain: &[Pin]) -> bool {
    let (leaf, cas) = (&chain[0], &chain[1..]);
    let any_ca = |set: &[Pin]| cas.iter().any(|c| set.contains(c));
    match p.kind {
        ChannelKind::Dns => p.pins.contains(leaf) || any_ca(&p.ca_pins),
        ChannelKind::Ios => {
            (p.pins.is_empty() || p.pins.contains(leaf))
                && (p.ca_pins.is_empty() || any_ca(&p.ca_pins))
        }
        _ => chain.iter().any(|c| p.pins.contains(c)),
    }
}

/// Whether an install of app release `p` in a device `tz` hours off UTC
/// still pins at `t`: Android and TrustKit stop once the expiration date
/// begins on the device's clock; iOS and OkHttp builds are refused a
/// horizon after a newer release ships (and then cannot connect at all).
fn install_pins(p: &Publication, t: DateTime<Utc>, tz: i64) -> bool {
    if t < p.from {
        return false;
    }
    match p.kind {
        ChannelKind::Android | ChannelKind::Trustkit => p
            .expires
            .is_none_or(|d| (t + Duration::hours(tz)).date_naive() < d),
        _ => match (p.until, p.horizon_days) {
            (Some(u), Some(h)) => t < u + Duration::days(i64::from(h)),
            _ => true,
        },
    }
}

/// Whether an app's pinned domain `parent` applies to `host`: iOS and
/// OkHttp `*.` reach one label, Android, TrustKit and OkHttp `**.` any.
fn app_reaches(p: &Publication, host: usize, parent: usize) -> bool {
    if host == parent {
        return true;
    }
    let (h, d) = (DOMAINS[host], DOMAINS[parent]);
    if !p.include_subdomains || !h.ends_with(&format!(".{d}")) {
        return false;
    }
    let labels = h[..h.len() - d.len() - 1].split('.').count();
    match p.kind {
        ChannelKind::Ios => labels == 1,
        ChannelKind::Okhttp if p.one_label => labels == 1,
        _ => true,
    }
}

impl Client {
    /// The entry that applies to `host` at `t`: the host's own, else the
    /// nearest ancestor's with includeSubDomains (RFC 7469 section 2.7).
    fn applicable(&self, host: usize, t: DateTime<Utc>) -> Option<&Noted> {
        let live = |n: &&Noted| t < n.expires;
        if let Some(n) = self.store.get(&host).filter(live) {
            return Some(n);
        }
        self.store
            .iter()
            .filter(|(h, n)| {
                n.include_subdomains && is_below(DOMAINS[host], DOMAINS[**h]) && live(n)
            })
            .max_by_key(|(h, _)| DOMAINS[**h].len())
            .map(|(_, n)| n)
    }

    /// A visit of `host` at `t`, served `chain` and `header`: pin
    /// validation against what the client holds, then noting the header.
    /// Err names the publication whose pinset locked the client out.
    fn visit(
        &mut self,
        host: usize,
        chain: &[Pin],
        header: Option<(&Publication, PubId)>,
        t: DateTime<Utc>,
    ) -> Result<(), PubId> {
        if let Some(n) = self.applicable(host, t) {
            if !chain.iter().any(|c| n.pins.contains(c)) {
                return Err(n.from);
            }
        }
        self.store.retain(|_, n| t < n.expires);
        if let Some((h, id)) = header.filter(|(h, _)| h.mode == Mode::Enforce) {
            let matches = h.pins.iter().any(|p| chain.contains(p));
            let backup = h.pins.iter().any(|p| !chain.contains(p));
            if matches && backup {
                if h.max_age == 0 {
                    self.store.remove(&host);
                } else {
                    self.store.insert(
                        host,
                        Noted {
                            pins: h.pins.clone(),
                            expires: add_secs(t, h.max_age),
                            include_subdomains: h.include_subdomains,
                            from: id,
                        },
                    );
                }
            }
        }
        Ok(())
    }
}

/// What a site's server sends: the key deployed at its last publication
/// and the live header.
#[derive(Clone, Debug)]
struct Server {
    key: String,
    header: Option<(Publication, PubId)>,
}

#[derive(Clone, Debug)]
enum Op {
    Wait(u64),
    Policy(usize, bool, u64, bool),
    Publish(usize),
    Rotate(usize, usize, bool, bool),
    CaPin(usize, u8),
    /// A certificate file for a key: (site, key, how the file is made,
    /// force).
    Cert(usize, usize, u8, bool),
    Visit(usize, usize),
    /// `pinctl init` of a subdomain site (only example.com exists at
    /// first): its new keys are in no pinset an ancestor published.
    Init(usize),
    /// A channel's options change: (site, channel, which setting).
    Configure(usize, usize, u8),
    /// `publish --channel`: (site, channel, which expiration): the RRset is
    /// in the zone, or an app release shipped.
    Ship(usize, usize, u8),
    /// A DANE client of a site: (client, site, how far the secondary it
    /// asks lags, in half TTLs).
    Resolve(usize, usize, u8),
    /// Every install of every app release connects to a site, on a device
    /// this many hours off UTC.
    AppVisit(usize, i8),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let secs = prop_oneof![
        1u64..60,
        60u64..3_600,
        3_600u64..86_400,
        86_400u64..8_000_000
    ];
    let ages = prop_oneof![
        Just(0u64),
        Just(300),
        Just(86_400),
        Just(604_800),
        Just(2_592_000),
        Just(5_184_000)
    ];
    let site = 0usize..DOMAINS.len();
    prop_oneof![
        3 => secs.prop_map(Op::Wait),
        2 => (site.clone(), any::<bool>(), ages, prop::bool::weighted(0.4))
            .prop_map(|(s, e, a, i)| Op::Policy(s, e, a, i)),
        4 => site.clone().prop_map(Op::Publish),
        2 => (site.clone(), 0usize..4, prop::bool::weighted(0.3), prop::bool::weighted(0.15))
            .prop_map(|(s, i, c, f)| Op::Rotate(s, i, c, f)),
        1 => (site.clone(), 0u8..5).prop_map(|(s, c)| Op::CaPin(s, c)),
        2 => (site.clone(), 0usize..6, 0u8..5, prop::bool::weighted(0.1))
            .prop_map(|(s, k, c, f)| Op::Cert(s, k, c, f)),
        5 => (0usize..6, site.clone()).prop_map(|(c, s)| Op::Visit(c, s)),
        1 => (1usize..DOMAINS.len()).prop_map(Op::Init),
        1 => (site.clone(), 0usize..CHANNELS.len(), 0u8..6).prop_map(|(s, c, v)| Op::Configure(s, c, v)),
        3 => (site.clone(), 0usize..CHANNELS.len(), 0u8..4).prop_map(|(s, c, e)| Op::Ship(s, c, e)),
        3 => (0usize..6, site.clone(), 0u8..3).prop_map(|(c, s, l)| Op::Resolve(c, s, l)),
        3 => (site, -12i8..15).prop_map(|(s, tz)| Op::AppVisit(s, tz)),
    ]
}

/// Operations on one site that stress certificate chains: CA pins,
/// certificates whose files link up or not, rotations and publications.
fn chain_op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        2 => (3_600u64..3_000_000).prop_map(Op::Wait),
        1 => prop_oneof![Just(300u64), Just(2_592_000)].prop_map(|a| Op::Policy(0, true, a, false)),
        4 => Just(Op::Publish(0)),
        3 => (0usize..4, prop::bool::weighted(0.2)).prop_map(|(i, c)| Op::Rotate(0, i, c, false)),
        2 => (1u8..3).prop_map(|c| Op::CaPin(0, c)),
        4 => (0usize..8, 0u8..5).prop_map(|(k, c)| Op::Cert(0, k, c, false)),
        4 => (0usize..6).prop_map(|c| Op::Visit(c, 0)),
    ]
}

/// Operations on one site at the time scale of its channels: TTLs,
/// expiration dates and horizons, with DANE clients and app installs in
/// every time zone probing the edges of each retention window.
fn channel_op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        4 => prop_oneof![60u64..7_200, 3_600u64..86_400, 86_400u64..2_000_000].prop_map(Op::Wait),
        1 => prop_oneof![Just(300u64), Just(86_400)].prop_map(|a| Op::Policy(0, true, a, false)),
        2 => Just(Op::Publish(0)),
        3 => (0usize..4, prop::bool::weighted(0.2)).prop_map(|(i, c)| Op::Rotate(0, i, c, false)),
        1 => (0usize..8, 0u8..3).prop_map(|(k, c)| Op::Cert(0, k, c, false)),
        2 => (0usize..CHANNELS.len(), 0u8..6).prop_map(|(c, v)| Op::Configure(0, c, v)),
        4 => (0usize..CHANNELS.len(), 0u8..4).prop_map(|(c, e)| Op::Ship(0, c, e)),
        4 => (0usize..6, 0u8..3).prop_map(|(c, l)| Op::Resolve(c, 0, l)),
        4 => (-12i8..15).prop_map(|tz| Op::AppVisit(0, tz)),
    ]
}

/// The simulated world: the sites as pinctl records them, and the truth
/// pinctl can only partly see (which CA really issued each certificate).
struct World {
    now: DateTime<Utc>,
    sites: Vec<Site>,
    servers: Vec<Server>,
    clients: Vec<Client>,
    /// Certificate file → the CA that really signed it.
    issuers: std::collections::HashMap<String, Pin>,
    /// Publication → key served with it.
    served_with: std::collections::HashMap<PubId, String>,
    /// Lockouts accepted with --force: (publication, site, key).
    accepted: Vec<(PubId, usize, String)>,
    certs: usize,
    releases: usize,
    /// Which sites the state holds yet.
    exists: Vec<bool>,
    /// Which sites serve their keys yet: a new site's key is deployed with
    /// its first recorded certificate or header, both of which pinctl
    /// checks (example.com serves from the start, as the old simulator did).
    serving: Vec<bool>,
}

fn ca(i: u8) -> Pin {
    pin_of(&format!("ca{i}"))
}

/// A simulated site: as `init` leaves it, with every channel of
/// [`CHANNELS`] added.
fn sim_site(domain: &str, at: DateTime<Utc>) -> Site {
    let mut s = site_named(domain, at);
    for (name, kind) in CHANNELS {
        let mut c = channel(name, kind, at);
        match kind {
            ChannelKind::Dns => c.ttl = Some(3_600),
            ChannelKind::Android => {
                c.expires_after_days = Some(60);
                c.include_subdomains = true;
            }
            ChannelKind::Trustkit => c.expires_after_days = Some(30),
            ChannelKind::Ios => {
                c.horizon_days = Some(30);
                c.include_subdomains = true;
            }
            _ => {
                c.horizon_days = Some(14);
                c.include_subdomains = true;
            }
        }
        s.channels.push(c);
    }
    s
}

impl World {
    fn new() -> World {
        let now = t("2030-01-01T00:00:00Z");
        World {
            now,
            sites: DOMAINS.iter().map(|d| sim_site(d, now)).collect(),
            servers: vec![
                Server {
                    key: "primary".into(),
                    header: None,
                };
                DOMAINS.len()
            ],
            clients: vec![Client::default(); 6],
            issuers: Default::default(),
            served_with: Default::default(),
            accepted: Vec::new(),
            certs: 0,
            releases: 0,
            exists: DOMAINS.iter().map(|d| *d == "example.com").collect(),
            serving: DOMAINS.iter().map(|d| *d == "example.com").collect(),
        }
    }

    /// Site `i` as `Store::load` gives it: related to the others.
    fn load(&mut self, i: usize) {
        let others: Vec<Site> = (0..self.sites.len())
            .filter(|&j| j != i && self.exists[j])
            .map(|j| self.sites[j].clone())
            .collect();
        let r = relate(&self.sites[i], &others);
        self.sites[i].related = r;
    }

    fn index(&self, domain: Option<&str>, own: usize) -> usize {
        domain.map_or(own, |d| {
            DOMAINS.iter().position(|x| *x == d).expect("known site")
        })
    }

    /// The chain a client really validates for `key` of site `i` at `t`:
    /// the leaf and the CA that really signed the certificate served then
    /// (any path a client builds holds both). A key without a recorded
    /// certificate is served with one from a CA nobody pins.
    fn true_chain(&self, i: usize, key: &str, at: DateTime<Utc>) -> Vec<Pin> {
        let s = &self.sites[i];
        let k = s.key(key).expect("served key exists");
        let issuer = s
            .certificates
            .iter()
            .rev()
            .find(|c| c.key == key && c.added <= at)
            .map(|c| self.issuers[&c.file].clone())
            .unwrap_or_else(|| ca(0));
        vec![k.pin.clone(), issuer]
    }

    /// The chain pinctl can prove for `key`: the leaf and the verified
    /// issuer it credits; a refusal is needed when this chain is rejected.
    fn proven_chain(&self, i: usize, key: &str) -> Vec<Pin> {
        let s = &self.sites[i];
        let mut v: Vec<Pin> = identity_pins(s, s.key(key).expect("key exists"))
            .into_iter()
            .cloned()
            .collect();
        v.push(pin_of("unpinned path"));
        v
    }

    /// The converse: a client that noted publication `b` at the last
    /// moment it was served is locked out of site `i` by `key` now.
    fn assert_needed(&self, step: usize, i: usize, key: &str, b: &Blocker) {
        let j = self.index(b.site.as_deref(), i);
        let p = &self.sites[j].publications[b.number - 1];
        let proven = self.proven_chain(i, key);
        let needless = format!(
            "step {step}: refusing {key} of {} was needless ({b:?})",
            DOMAINS[i]
        );
        match p.kind {
            ChannelKind::Web => {}
            ChannelKind::Dns => {
                // A secondary that saw it in its last moment (a client counts
                // time in less than pinctl's whole seconds), asked a TTL
                // later by a resolver that keeps it for a TTL more.
                assert_eq!(i, j, "an RRset binds its own owner name only");
                let ttl = Duration::seconds(p.ttl.expect("dns ttl") as i64);
                let last = p
                    .until
                    .map(|u| u - Duration::milliseconds(1))
                    .unwrap_or(self.now)
                    .max(p.from);
                let fetched = (last + ttl).min(self.now);
                assert!(self.now < fetched + ttl, "{needless}: no resolver holds it");
                assert!(!client_accepts(p, &proven), "{needless}");
                return;
            }
            _ => {
                assert!(
                    install_pins(p, self.now, -12) && app_reaches(p, i, j),
                    "{needless}: no install holds it"
                );
                assert!(!client_accepts(p, &proven), "{needless}");
                return;
            }
        }
        let last = p
            .until
            .map(|u| u - Duration::milliseconds(1))
            .unwrap_or(self.now)
            .max(p.from);
        let served = &self.served_with[&(j, b.number)];
        let mut c = Client::default();
        let chain = self.true_chain(j, served, last);
        assert!(c.visit(j, &chain, Some((p, (j, b.number))), last).is_ok());
        assert!(
            c.applicable(i, last).is_some(),
            "step {step}: blocker {:?} {} was never noted",
            b.site,
            b.number
        );
        assert!(c.visit(i, &proven, None, self.now).is_err(), "{needless}");
    }

    fn accept(&mut self, i: usize, key: &str, blockers: &[Blocker]) {
        for b in blockers {
            let j = self.index(b.site.as_deref(), i);
            self.accepted.push(((j, b.number), i, key.to_string()));
        }
    }

    fn step(&mut self, step: usize, op: &Op) {
        let now = self.now;
        let site = match *op {
            Op::Wait(_) => None,
            Op::Policy(i, ..)
            | Op::Publish(i)
            | Op::Rotate(i, ..)
            | Op::CaPin(i, _)
            | Op::Cert(i, ..)
            | Op::Configure(i, ..)
            | Op::Ship(i, ..)
            | Op::Resolve(_, i, _)
            | Op::AppVisit(i, _)
            | Op::Visit(_, i) => Some(i),
            Op::Init(i) => {
                if !self.exists[i] {
                    self.exists[i] = true;
                    self.sites[i] = sim_site(DOMAINS[i], now);
                }
                None
            }
        };
        // A host pinctl does not manage yet: the operator was warned that
        // an includeSubDomains pinset binds it.
        if site.is_some_and(|i| !self.exists[i]) {
            return;
        }
        match *op {
            Op::Init(_) => {}
            Op::Wait(d) => self.now = add_secs(now, d),
            Op::Policy(i, enforce, age, sub) => {
                let p = &mut self.sites[i].policy;
                p.mode = if enforce {
                    Mode::Enforce
                } else {
                    Mode::ReportOnly
                };
                p.max_age = age;
                p.include_subdomains = sub;
            }
            Op::Publish(i) => self.publish(step, i, WEB, None),
            Op::Configure(i, c, v) => {
                let ch = &mut self.sites[i].channels[c];
                match (ch.kind, v) {
                    (ChannelKind::Dns, _) => ch.ttl = Some([60, 3_600, 86_400][v as usize % 3]),
                    (ChannelKind::Android | ChannelKind::Trustkit, 0) => {
                        ch.include_subdomains = !ch.include_subdomains
                    }
                    (ChannelKind::Android | ChannelKind::Trustkit, _) => {
                        ch.expires_after_days =
                            [None, Some(11), Some(60), Some(400), Some(5)][v as usize % 5]
                    }
                    (_, 0) => ch.include_subdomains = !ch.include_subdomains,
                    (ChannelKind::Okhttp, 1) => ch.one_label = !ch.one_label,
                    (_, _) => ch.horizon_days = [None, Some(1), Some(30)][v as usize % 3],
                }
            }
            Op::Ship(i, c, e) => {
                let exp = match e {
                    0 => None,
                    e => Some(add_days(now, [0, 5, 15, 90][e as usize]).date_naive()),
                };
                let name = CHANNELS[c].0;
                let exp = exp.filter(|_| CHANNELS[c].1.expires());
                self.publish(step, i, name, exp)
            }
            Op::Resolve(c, i, lag) => self.resolve(step, c, i, lag),
            Op::AppVisit(i, tz) => self.app_visit(step, i, i64::from(tz)),
            Op::Rotate(i, k, compromised, force) => self.rotate(step, i, k, compromised, force),
            Op::CaPin(i, c) => {
                let s = &mut self.sites[i];
                let pin = match c {
                    0 => {
                        s.ca_pins.clear();
                        return;
                    }
                    1 | 2 => ca(c),
                    // A subdomain's active key, so that an
                    // includeSubDomains header can accept it.
                    _ => {
                        let child = &self.sites[(i + 1) % DOMAINS.len()];
                        child.active().expect("active").pin.clone()
                    }
                };
                let s = &mut self.sites[i];
                let name = format!("c{c}");
                if !s.ca_pins.iter().any(|x| x.name == name || x.pin == pin)
                    && !s.keys.iter().any(|k| k.pin == pin)
                {
                    s.ca_pins.push(crate::state::CaPin {
                        name,
                        pin,
                        added: now,
                        subject: None,
                    });
                }
            }
            Op::Cert(i, k, how, force) => self.cert(i, k, how, force),
            Op::Visit(c, i) => {
                if !self.serving[i] {
                    return;
                }
                let server = self.servers[i].clone();
                let chain = self.true_chain(i, &server.key, now);
                let header = server.header.as_ref().map(|(p, id)| (p, *id));
                if let Err(id) = self.clients[c].visit(i, &chain, header, now) {
                    assert!(
                        self.accepted
                            .iter()
                            .any(|(p, s, k)| *p == id && *s == i && *k == server.key),
                        "step {step}: client {c} locked out of {} at {now} by publication {id:?}: serves {} {chain:?}, client holds {:?}",
                        DOMAINS[i],
                        server.key,
                        self.clients[c].store
                    );
                }
            }
        }
    }

    fn publish(&mut self, step: usize, i: usize, channel: &str, exp: Option<NaiveDate>) {
        self.load(i);
        let before = self.sites[i].clone();
        let now = self.now;
        let kind = before.channel_kind(channel).expect("simulated channel");
        self.releases += 1;
        let release = kind.is_app().then(|| format!("r{}", self.releases));
        let desired = desired_publication(&before, channel, now, release.as_deref(), exp)
            .expect("simulated channel");
        match publish_in(
            &mut self.sites[i],
            channel,
            now,
            release.as_deref(),
            exp,
            None,
            false,
        ) {
            Ok(PublishOutcome::Published { .. }) => {
                let s = &self.sites[i];
                // What `header` and `snippet` showed is what was recorded.
                assert_eq!(s.publications.last(), Some(&desired));
                let id = (i, s.publications.len());
                let key = s.active().expect("active").name.clone();
                self.served_with.insert(id, key.clone());
                // The operator deploys the active key before the header
                // goes out from the same servers (this world's servers need
                // no recorded certificate, so pinctl, which waits for one,
                // is the more cautious). An RRset goes out before the
                // switch (RFC 7671 section 8.1) and an app release says
                // nothing of the server.
                if kind == ChannelKind::Web {
                    self.servers[i].key = key;
                    self.serving[i] = true;
                }
                if kind == ChannelKind::Web {
                    self.servers[i].header = s.live().cloned().map(|p| (p, id));
                }
            }
            Ok(PublishOutcome::Unchanged) => assert!(!kind.is_app(), "a release is always new"),
            Err(e) => {
                assert_eq!(self.sites[i], before, "a refused publish changes nothing");
                let s = &self.sites[i];
                let active = s.active().expect("active").clone();
                match e {
                    PublishRefusal::ActiveNotSafe { blockers, .. } => {
                        let since = lockout_accepted_at(s, &active);
                        let b = blockers
                            .iter()
                            .find(|b| since.is_none_or(|a| b.from > a))
                            .expect("a refusal names a blocker not accepted");
                        self.assert_needed(step, i, &active.name, b);
                    }
                    PublishRefusal::SubdomainNotAccepted { domain, key } => {
                        let j = self.index(Some(&domain), i);
                        let proven = self.proven_chain(j, &key);
                        if kind == ChannelKind::Web {
                            // A fresh client sees the new header, then the
                            // subdomain serving that key.
                            let mut c = Client::default();
                            let chain = self.true_chain(i, &active.name, now);
                            c.visit(i, &chain, Some((&desired, (i, 0))), now).unwrap();
                            assert!(
                                c.visit(j, &proven, None, now).is_err(),
                                "step {step}: refusing {} for {domain}'s {key} was needless",
                                DOMAINS[i]
                            );
                        } else {
                            // An install of the release connects to the
                            // subdomain.
                            assert!(
                                app_reaches(&desired, j, i)
                                    && install_pins(&desired, now, -12)
                                    && !client_accepts(&desired, &proven),
                                "step {step}: refusing {channel} of {} for {domain}'s {key} was needless",
                                DOMAINS[i]
                            );
                        }
                    }
                    PublishRefusal::ServedKeyNotInPinset(key) => {
                        // pinctl cannot tell whether the server switched:
                        // were it still serving that key, installs of the
                        // release would be locked out.
                        assert!(served_keys(s).iter().any(|k| k.name == key));
                        assert!(
                            !client_accepts(&desired, &self.proven_chain(i, &key)),
                            "step {step}: refusing {channel} for the served {key} was needless"
                        );
                    }
                    PublishRefusal::ActiveNotInPinset
                    | PublishRefusal::NoBackupPin
                    | PublishRefusal::ExpiresTooSoon(_) => {}
                    e => panic!("step {step}: unexpected refusal {e:?}"),
                }
            }
        }
    }

    /// A DANE client connects to site `i`: its resolver keeps an RRset
    /// for its TTL, and fetches from a secondary that may lag up to a TTL.
    fn resolve(&mut self, step: usize, c: usize, i: usize, lag: u8) {
        if !self.serving[i] {
            return;
        }
        let now = self.now;
        let server = self.servers[i].clone();
        let chain = self.true_chain(i, &server.key, now);
        let cached = self.clients[c]
            .rrsets
            .get(&i)
            .filter(|(.., exp)| now < *exp)
            .cloned();
        let rrset = cached.or_else(|| {
            self.sites[i]
                .publications
                .iter()
                .enumerate()
                .filter(|(_, p)| p.kind == ChannelKind::Dns)
                .find_map(|(n, p)| {
                    let ttl = p.ttl.expect("dns ttl") as i64;
                    let view = now - Duration::seconds(ttl * i64::from(lag) / 2);
                    // Seen at its first second even when replaced in it.
                    let seen = p.until.is_none_or(|u| view < u) || view == p.from;
                    (p.from <= view && seen)
                        .then(|| (p.clone(), (i, n + 1), now + Duration::seconds(ttl)))
                })
        });
        let Some(rrset) = rrset else {
            return;
        };
        self.clients[c].rrsets.insert(i, rrset.clone());
        if !client_accepts(&rrset.0, &chain) {
            assert!(
                self.accepted
                    .iter()
                    .any(|(p, s, k)| *p == rrset.1 && *s == i && *k == server.key),
                "step {step}: DANE client {c} of {} at {now} fails: serves {} {chain:?}, its resolver holds RRset {:?}",
                DOMAINS[i],
                server.key,
                rrset.1
            );
        }
    }

    /// Every install of every app release that pins site `i` (its own, or
    /// an ancestor's reaching it) connects, on a device `tz` hours off UTC.
    fn app_visit(&mut self, step: usize, i: usize, tz: i64) {
        if !self.serving[i] {
            return;
        }
        let now = self.now;
        let server = self.servers[i].clone();
        let chain = self.true_chain(i, &server.key, now);
        for j in (0..DOMAINS.len()).filter(|&j| self.exists[j]) {
            for (n, p) in self.sites[j].publications.iter().enumerate() {
                if !p.kind.is_app() || !install_pins(p, now, tz) || !app_reaches(p, i, j) {
                    continue;
                }
                if !client_accepts(p, &chain) {
                    let id = (j, n + 1);
                    assert!(
                        self.accepted
                            .iter()
                            .any(|(a, s, k)| *a == id && *s == i && *k == server.key),
                        "step {step}: an install of {} {:?} (UTC{tz:+}) is locked out of {} at {now}: serves {} {chain:?}",
                        DOMAINS[j],
                        p.release,
                        DOMAINS[i],
                        server.key
                    );
                }
            }
        }
    }

    fn rotate(&mut self, step: usize, i: usize, k: usize, compromised: bool, force: bool) {
        self.load(i);
        let now = self.now;
        let s = &mut self.sites[i];
        let backups: Vec<String> = s.backups().map(|k| k.name.clone()).collect();
        let name = backups[k % backups.len()].clone();
        let before = s.clone();
        match rotate(s, &name, now, compromised, force) {
            Ok(r) => {
                add_backups(s, &r, now);
                let forced = r.forced_over.clone();
                self.accept(i, &name, &forced);
            }
            Err(RotateRefusal::NotSafe { blockers, .. }) => {
                assert_eq!(*s, before);
                for b in &blockers {
                    self.assert_needed(step, i, &name, b);
                }
            }
            Err(e) => panic!("step {step}: unexpected refusal {e:?}"),
        }
    }

    /// A certificate file for key `k` of site `i`: 0 leaf only; 1 and 2
    /// signed by ca1 or ca2 with that CA next; 3 signed by ca2 with ca1
    /// appended (the chain does not link up); 4 signed by ca1 with a root
    /// before it (out of order).
    fn cert(&mut self, i: usize, k: usize, how: u8, force: bool) {
        self.load(i);
        let now = self.now;
        let s = &self.sites[i];
        let key = s.keys[k % s.keys.len()].clone();
        let link = |n: &str, signs| crate::chain::Link {
            pin: pin_of(n),
            subject: n.into(),
            is_ca: true,
            signs_previous: signs,
            names: vec![],
        };
        let leaf = crate::chain::Link {
            pin: key.pin.clone(),
            subject: key.name.clone(),
            is_ca: false,
            signs_previous: false,
            names: vec![],
        };
        let (issuer, links) = match how {
            0 => (ca(0), vec![leaf]),
            1 => (ca(1), vec![leaf, link("ca1", true)]),
            2 => (ca(2), vec![leaf, link("ca2", true)]),
            3 => (ca(2), vec![leaf, link("ca1", false)]),
            _ => (ca(1), vec![leaf, link("root", false), link("ca1", false)]),
        };
        let credit = crate::chain::credit(&links);
        self.certs += 1;
        let cert = crate::state::Cert {
            key: key.name.clone(),
            file: format!("c{}.pem", self.certs),
            subject: String::new(),
            not_before: now,
            not_after: add_secs(now, 90 * 86_400),
            chain_pins: credit.ca_pins,
            issuer_pin: credit.issuer,
            names: vec![],
            added: now,
        };
        let blockers = cert_blockers(s, &cert, now);
        if blockers.is_empty() || force {
            self.issuers.insert(cert.file.clone(), issuer);
            let s = &mut self.sites[i];
            let event = if blockers.is_empty() {
                EventKind::CertAdd
            } else {
                EventKind::CertAddForced
            };
            s.log(now, event, Some(&key.name), None);
            s.certificates.push(cert);
            // The operator deploys a certificate for the active key as
            // soon as pinctl records it, before any header names it.
            if s.active().is_some_and(|a| a.name == key.name) {
                self.servers[i].key = key.name.clone();
                self.serving[i] = true;
            }
            self.accept(i, &key.name, &blockers);
        }
    }
}

/// Runs a sequence of operations with simulated clients; panics (fails the
/// property) when a client is locked out beyond what --force accepted, or
/// when a refusal was needless.
fn simulate(ops: &[Op]) -> World {
    let mut w = World::new();
    for (step, op) in ops.iter().enumerate() {
        w.step(step, op);
    }
    w
}

/// RFC 7671 section 8.1's two TTLs: a resolver that asked a secondary a
/// TTL behind still holds the replaced RRset almost 2×TTL after it left
/// the zone. A promotion after one TTL must be refused, and the client
/// shows why.
#[test]
fn a_replaced_tlsa_rrset_is_held_for_two_ttls() {
    let ops = [
        Op::Ship(0, 0, 0),
        Op::Wait(7_200),
        Op::Rotate(0, 0, false, false),
        Op::Ship(0, 0, 0),
        Op::Wait(1_800),
        Op::Resolve(0, 0, 2),
        Op::Wait(1_900),
        // backup3, 3 700 s after the RRset without it was replaced.
        Op::Rotate(0, 1, false, false),
        Op::Publish(0),
        Op::Resolve(0, 0, 0),
    ];
    let w = simulate(&ops);
    let s = &w.sites[0];
    assert_eq!(s.active().map(|k| k.name.as_str()), Some("backup1"));
    let b3 = s.key("backup3").expect("made by the rotation");
    assert_eq!(
        safe_from(s, b3),
        SafeFrom::At(t("2030-01-01T04:00:00Z")),
        "the RRset replaced at 02:00 with a TTL of 3 600 s"
    );
}

/// An Android pin-set expiring on 2 March still pins on a device at
/// UTC−8 at 06:00 UTC that day (22:00 on 1 March there).
#[test]
fn an_android_pin_set_holds_until_noon_utc_of_its_expiry_date() {
    let ops = [
        Op::Ship(0, 1, 0),
        Op::Rotate(0, 0, false, false),
        Op::Ship(0, 1, 0),
        // 2030-03-02T06:00:00Z
        Op::Wait(60 * 86_400 + 6 * 3_600),
        Op::Rotate(0, 1, false, false),
        Op::Publish(0),
        Op::AppVisit(0, -8),
    ];
    let w = simulate(&ops);
    let s = &w.sites[0];
    assert_eq!(
        s.publications[0].expires,
        Some(t("2030-03-02T00:00:00Z").date_naive())
    );
    assert_eq!(s.active().map(|k| k.name.as_str()), Some("backup1"));
    let b3 = s.key("backup3").expect("made by the rotation");
    assert_eq!(safe_from(s, b3), SafeFrom::At(t("2030-03-02T12:00:00Z")));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]

    #[test]
    fn no_accepted_sequence_locks_a_client_out(ops in proptest::collection::vec(op(), 1..120)) {
        simulate(&ops);
    }

    #[test]
    fn no_channel_sequence_locks_a_client_out(ops in proptest::collection::vec(channel_op(), 1..100)) {
        simulate(&ops);
    }

    #[test]
    fn no_certificate_chain_earns_credit_it_does_not_have(
        ops in proptest::collection::vec(chain_op(), 1..80)
    ) {
        simulate(&ops);
    }
}

/// The trial's lockout: backup3's certificate comes from another CA, and
/// the file appends the pinned intermediate, which never signed it. The
/// rotation must be refused, and the simulator shows a client locked out
/// if it were not.
#[test]
fn an_appended_intermediate_that_did_not_sign_earns_no_credit() {
    let ops = [
        Op::CaPin(0, 1),
        Op::Policy(0, true, 2_592_000, false),
        Op::Publish(0),
        Op::Visit(0, 0),
        Op::Rotate(0, 0, false, false),
        Op::Publish(0),
        Op::Publish(0),
        Op::Wait(86_400),
        Op::Cert(0, 3, 3, false),
    ];
    let mut w = World::new();
    for (i, op) in ops.iter().enumerate() {
        w.step(i, op);
    }
    let s = &w.sites[0];
    assert_eq!(s.certificates.last().unwrap().issuer_pin, None);
    let b3 = s.key("backup3").unwrap();
    assert_eq!(
        blockers(s, b3, w.now).len(),
        1,
        "publication 1 lacks backup3"
    );
    w.step(9, &Op::Rotate(0, 1, false, false));
    assert_eq!(w.sites[0].active().unwrap().name, "backup1", "refused");
    // Forced, the same client is locked out: the refusal was needed.
    w.step(10, &Op::Rotate(0, 1, false, true));
    w.step(11, &Op::Publish(0));
    let server = w.servers[0].clone();
    let chain = w.true_chain(0, &server.key, w.now);
    assert!(w.clients[0].visit(0, &chain, None, w.now).is_err());
}

/// Regression (found by the simulator): a script rotates right after it
/// published, within the same second. Judged by timestamps, the old key
/// looked already replaced, a parent's includeSubDomains header was allowed
/// without it, and clients were locked out of the child that still served
/// it. The history's order decides.
#[test]
fn a_rotation_in_the_second_of_a_publication_is_judged_by_order() {
    let ops = [
        Op::Init(1),
        Op::Policy(1, true, 300, true),
        Op::Init(2),
        Op::Publish(2),
        Op::Rotate(2, 0, true, false),
        Op::CaPin(1, 3),
        Op::Publish(1),
        Op::Visit(5, 1),
        Op::Visit(5, 2),
    ];
    simulate(&ops);
    // The parent's header was refused: x.api.example.com still serves its
    // compromised primary until it publishes.
    let mut w = World::new();
    for (i, op) in ops.iter().take(7).enumerate() {
        w.step(i, op);
    }
    assert!(w.sites[1].publications.is_empty());
}

/// One window for plan, check and renew: 30 days, a third of a short
/// lifetime, or the days given.
#[test]
fn renewal_window() {
    let cert = |from: &str, to: &str| Cert {
        key: "primary".into(),
        file: "c.pem".into(),
        subject: "CN=x".into(),
        not_before: t(from),
        not_after: t(to),
        chain_pins: vec![],
        issuer_pin: None,
        names: vec![],
        added: t(from),
    };
    let long = cert("2030-01-01T00:00:00Z", "2030-04-01T00:00:00Z");
    assert_eq!(renewal_from(&long, None), t("2030-03-02T00:00:00Z"));
    let short = cert("2030-01-01T00:00:00Z", "2030-01-31T00:00:00Z");
    assert_eq!(renewal_from(&short, None), t("2030-01-21T00:00:00Z"));
    assert_eq!(renewal_from(&short, Some(11)), t("2030-01-20T00:00:00Z"));
    // Saturating, never panicking, at the ends.
    assert_eq!(
        renewal_from(&short, Some(i64::MAX)),
        DateTime::<Utc>::MIN_UTC
    );
    let _ = renewal_from(&short, Some(i64::MIN));
    let backwards = cert("2030-01-31T00:00:00Z", "2030-01-01T00:00:00Z");
    assert_eq!(renewal_from(&backwards, None), t("2030-01-01T00:00:00Z"));
}
