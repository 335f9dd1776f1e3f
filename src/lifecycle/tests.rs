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
