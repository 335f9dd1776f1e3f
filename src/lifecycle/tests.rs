//! The worked example of DESIGN.md, step by step, without any file.

use super::*;
use crate::keys::KeyType;
use crate::state::{Encryption, Method, Policy, VERSION};

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn pin_of(name: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(name.as_bytes()))
}

pub fn key(name: &str, role: Role, at: DateTime<Utc>) -> Key {
    Key {
        name: name.into(),
        role,
        key_type: KeyType::P256,
        pin: pin_of(name),
        created: at,
        role_since: at,
        archive: format!("{name}.key.age"),
        archive_sha256: String::new(),
        csr: format!("{name}.csr.pem"),
        copies: vec![],
    }
}

/// A site as `init` leaves it: primary active, backup1 and backup2.
pub fn site_at(at: DateTime<Utc>) -> Site {
    Site {
        version: VERSION,
        domain: "example.com".into(),
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
            key("primary", Role::Active, at),
            key("backup1", Role::Backup, at),
            key("backup2", Role::Backup, at),
        ],
        ca_pins: vec![],
        certificates: vec![],
        publications: vec![],
        events: vec![],
    }
}

/// Adds the backups a rotation asked for, as `rotate` does after making keys.
pub fn add_backups(site: &mut Site, r: &Rotation, at: DateTime<Utc>) {
    for n in &r.new_backups {
        site.keys.push(key(n, Role::Backup, at));
    }
}

fn pins(names: &[&str]) -> Vec<String> {
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
        Ok(PublishOutcome::Published { closed: None })
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
    // A new key outside every pinset becomes active by force.
    s.keys
        .push(key("backup3", Role::Backup, t("2030-01-03T00:00:00Z")));
    let r = rotate(&mut s, "backup3", t("2030-01-03T00:00:00Z"), false, true).unwrap();
    assert_eq!(r.forced_over.len(), 1);
    match publish(&mut s, t("2030-01-04T00:00:00Z")) {
        Err(PublishRefusal::ActiveNotSafe { safe_from, .. }) => {
            assert_eq!(safe_from, SafeFrom::Never)
        }
        other => panic!("{other:?}"),
    }
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

/// A browser's pin store for one host, as RFC 7469 section 2.3 describes.
#[derive(Clone, Debug, Default)]
struct Client {
    noted: Option<(Vec<String>, DateTime<Utc>)>,
}

/// What the server sends: the key deployed at the last publication, its
/// certificate chain, and the live header.
#[derive(Clone, Debug)]
struct Server {
    key: String,
    header: Option<Publication>,
}

fn served_chain(site: &Site, server: &Server) -> Vec<String> {
    let key = site.key(&server.key).expect("served key exists");
    identity_pins(site, key)
        .into_iter()
        .map(str::to_string)
        .collect()
}

impl Client {
    /// A visit at `t`: pin validation against what the client holds, then
    /// noting the header. Returns false when the client is locked out.
    fn visit(&mut self, chain: &[String], header: Option<&Publication>, t: DateTime<Utc>) -> bool {
        if let Some((pins, exp)) = &self.noted {
            if t < *exp && !chain.iter().any(|c| pins.contains(c)) {
                return false;
            }
            if t >= *exp {
                self.noted = None;
            }
        }
        if let Some(h) = header.filter(|h| h.mode == Mode::Enforce) {
            let matches = h.pins.iter().any(|p| chain.contains(p));
            let backup = h.pins.iter().any(|p| !chain.contains(p));
            if matches && backup {
                self.noted = if h.max_age == 0 {
                    None
                } else {
                    Some((h.pins.clone(), add_secs(t, h.max_age)))
                };
            }
        }
        true
    }
}

#[derive(Clone, Debug)]
enum Op {
    Wait(u64),
    Policy(bool, u64),
    Publish,
    Rotate(usize, bool),
    CaPin(bool),
    Cert(usize, u8),
    Visit(usize),
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
    prop_oneof![
        3 => secs.prop_map(Op::Wait),
        1 => (any::<bool>(), ages).prop_map(|(e, a)| Op::Policy(e, a)),
        3 => Just(Op::Publish),
        2 => (0usize..4, prop::bool::weighted(0.3)).prop_map(|(i, c)| Op::Rotate(i, c)),
        1 => any::<bool>().prop_map(Op::CaPin),
        1 => (0usize..6, 0u8..3).prop_map(|(k, c)| Op::Cert(k, c)),
        4 => (0usize..6).prop_map(Op::Visit),
    ]
}

/// Runs a sequence of operations with simulated clients; panics (fails the
/// property) when a client is locked out, or when a refusal was needless.
fn simulate(ops: &[Op]) {
    let mut now = t("2030-01-01T00:00:00Z");
    let mut s = site_at(now);
    let mut server = Server {
        key: "primary".into(),
        header: None,
    };
    let mut clients = vec![Client::default(); 6];
    let ca = |i: u8| pin_of(&format!("ca{i}"));
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Wait(d) => now = add_secs(now, *d),
            Op::Policy(enforce, age) => {
                s.policy.mode = if *enforce {
                    Mode::Enforce
                } else {
                    Mode::ReportOnly
                };
                s.policy.max_age = *age;
            }
            Op::Publish => {
                if let Ok(PublishOutcome::Published { .. }) = publish(&mut s, now) {
                    server = Server {
                        key: s.active().unwrap().name.clone(),
                        header: s.live().cloned(),
                    };
                }
            }
            Op::Rotate(i, compromised) => {
                let backups: Vec<String> = s.backups().map(|k| k.name.clone()).collect();
                let name = &backups[i % backups.len()];
                let before = s.clone();
                match rotate(&mut s, name, now, *compromised, false) {
                    Ok(r) => add_backups(&mut s, &r, now),
                    Err(RotateRefusal::NotSafe { blockers, .. }) => {
                        assert_eq!(s, before);
                        // The converse: a client that visited at the last
                        // moment of a blocking publication would be locked
                        // out by this key now.
                        let b = &blockers[0];
                        let p = &s.publications[b.number - 1];
                        let last = p
                            .until
                            .map(|u| u - Duration::seconds(1))
                            .unwrap_or(now)
                            .max(p.from);
                        let mut c = Client::default();
                        let served = Server {
                            key: server_key_at(&s, b.number),
                            header: Some(p.clone()),
                        };
                        assert!(c.visit(&served_chain(&s, &served), Some(p), last));
                        assert!(
                            c.noted.is_some(),
                            "step {step}: blocker {} was never noted",
                            b.number
                        );
                        let k = s.key(name).unwrap();
                        let chain: Vec<String> = identity_pins(&s, k)
                            .into_iter()
                            .map(str::to_string)
                            .collect();
                        assert!(
                            !c.visit(&chain, None, now),
                            "step {step}: refusal of {name} was needless"
                        );
                    }
                    Err(e) => panic!("step {step}: unexpected refusal {e:?}"),
                }
            }
            Op::CaPin(add) => {
                if *add && s.ca_pins.is_empty() {
                    s.ca_pins.push(crate::state::CaPin {
                        name: "ca1".into(),
                        pin: ca(1),
                        added: now,
                        subject: None,
                    });
                } else if !*add {
                    s.ca_pins.clear();
                }
            }
            Op::Cert(k, c) => {
                let name = s.keys[k % s.keys.len()].name.clone();
                let cert = crate::state::Cert {
                    key: name,
                    file: "x.pem".into(),
                    subject: String::new(),
                    not_before: now,
                    not_after: add_secs(now, 90 * 86_400),
                    chain_pins: if *c == 0 { vec![] } else { vec![ca(*c)] },
                    added: now,
                };
                if cert_blockers(&s, &cert, now).is_empty() {
                    s.certificates.push(cert);
                }
            }
            Op::Visit(i) => {
                let chain = served_chain(&s, &server);
                assert!(
                    clients[*i].visit(&chain, server.header.as_ref(), now),
                    "step {step}: client {i} locked out at {now}: serves {} {chain:?}, client holds {:?}",
                    server.key,
                    clients[*i].noted
                );
            }
        }
    }
}

/// Which key the server deployed with publication `n` (1-based).
fn server_key_at(s: &Site, n: usize) -> String {
    let p = &s.publications[n - 1];
    // The key served with a publication is the one whose pin it holds and
    // that was active then: the first pin that belongs to a key active at
    // its start, by the history's promote events.
    let mut active = "primary".to_string();
    for e in &s.events {
        if e.at > p.from {
            break;
        }
        if e.event.starts_with("promote") {
            active = e.key.clone().unwrap_or_default();
        }
    }
    active
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

    #[test]
    fn no_accepted_sequence_locks_a_client_out(ops in proptest::collection::vec(op(), 1..80)) {
        simulate(&ops);
    }
}
