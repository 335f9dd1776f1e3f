//! pinctl-dns against a real BIND 9 started on a loopback port: zone
//! lookup, one-message RRset replacement, read-back, TXT for DNS-01, and
//! each refusal the caller must tell apart.

#[path = "../../../tests/common/bind.rs"]
mod bind;

use std::time::{Duration, Instant};

use bind::Bind;
use pinctl_dns::{
    add_txt, delete_txt, find_zone, name, read_rrset, replace_rrset, tlsa, txt, wait_for_records,
    wait_for_rrset, Error, Rcode, RecordType, Server, TsigKey,
};

/// BIND present, or SKIPPED (a panic under PINCTL_REQUIRE_SERVERS=1).
fn have_bind(test: &str) -> bool {
    if bind::bind_installed() {
        return true;
    }
    if std::env::var("PINCTL_REQUIRE_SERVERS").as_deref() == Ok("1") {
        panic!("{test}: named is required (PINCTL_REQUIRE_SERVERS=1) but not installed");
    }
    eprintln!("SKIPPED {test}: named not installed");
    false
}

fn server(b: &Bind) -> Server {
    Server::parse(&b.addr())
        .unwrap()
        .with_timeout(Duration::from_secs(3))
}

#[tokio::test(flavor = "current_thread")]
async fn replaces_a_tlsa_rrset_in_one_update_and_reads_it_back() {
    if !have_bind("replaces_a_tlsa_rrset_in_one_update_and_reads_it_back") {
        return;
    }
    let b = Bind::start("example.test");
    let s = server(&b);
    let key = TsigKey::read(&b.key_file).unwrap();
    assert!(!key.others_can_read());
    assert!(!format!("{key:?}").contains(&secret_of(&b.key_file)));
    let owner = name("_443._tcp.www.example.test").unwrap();
    let zone = find_zone(&s, &owner).await.unwrap();
    assert_eq!(zone.to_ascii(), "example.test.");
    assert_eq!(find_zone(&s, &zone).await.unwrap(), zone);

    b.nsupdate("update add _443._tcp.www.example.test. 600 TLSA 3 1 1 00112233");
    let first = vec![tlsa(3, 1, 1, vec![0xaa; 32]), tlsa(3, 1, 1, vec![0xbb; 32])];
    replace_rrset(&s, &key, &zone, &owner, RecordType::TLSA, &first, 3600)
        .await
        .unwrap();
    let got = wait_for_rrset(&s, &owner, RecordType::TLSA, &first, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got.ttl, Some(3600));
    let dug = b.dig("_443._tcp.www.example.test", "TLSA");
    assert_eq!(dug.len(), 2, "{dug:?}");
    assert!(dug.iter().all(|l| l.starts_with("3 1 1 ")), "{dug:?}");
    assert!(!dug.iter().any(|l| l.contains("00112233")), "{dug:?}");

    let second = vec![tlsa(3, 1, 1, vec![0xcc; 32])];
    replace_rrset(&s, &key, &zone, &owner, RecordType::TLSA, &second, 300)
        .await
        .unwrap();
    let got = read_rrset(&s, &owner, RecordType::TLSA).await.unwrap();
    assert!(got.is_exactly(&second));
    assert_eq!(got.ttl, Some(300));
    assert_eq!(b.dig_ttl("_443._tcp.www.example.test", "TLSA"), Some(300));

    let none = read_rrset(
        &s,
        &name("_25._tcp.nothing.example.test").unwrap(),
        RecordType::TLSA,
    )
    .await
    .unwrap();
    assert!(none.records.is_empty() && none.ttl.is_none());

    let e = wait_for_rrset(
        &s,
        &owner,
        RecordType::TLSA,
        &first,
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::NotServed { .. }), "{e}");
}

#[tokio::test(flavor = "current_thread")]
async fn txt_for_dns01_and_sha512_keys() {
    if !have_bind("txt_for_dns01_and_sha512_keys") {
        return;
    }
    let b = Bind::start("acme.test");
    let s = server(&b);
    let key = TsigKey::read(&b.key_file).unwrap();
    let owner = name("_acme-challenge.www.acme.test").unwrap();
    // Another client's challenge at the same name: pinctl's adds and
    // deletes must leave it alone.
    b.nsupdate("update add _acme-challenge.www.acme.test. 60 TXT \"foreign\"");
    add_txt(
        &s,
        &key,
        &owner,
        &["token-one".into(), "token-two".into()],
        60,
    )
    .await
    .unwrap();
    wait_for_records(
        &s,
        &owner,
        RecordType::TXT,
        &[txt("token-one"), txt("token-two")],
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(
        b.dig("_acme-challenge.www.acme.test", "TXT"),
        vec!["\"foreign\"", "\"token-one\"", "\"token-two\""]
    );
    delete_txt(&s, &key, &owner, &["token-one".into(), "token-two".into()])
        .await
        .unwrap();
    assert_eq!(
        b.dig("_acme-challenge.www.acme.test", "TXT"),
        vec!["\"foreign\""]
    );
    b.nsupdate("update delete _acme-challenge.www.acme.test. TXT");

    // A sha512 key the server does not know: NOTAUTH, nothing changed.
    let other = b.dir.path().join("other.key");
    bind::keygen("hmac-sha512", "pinctl-test", &other);
    let k512 = TsigKey::read(&other).unwrap();
    assert_eq!(k512.algorithm_name(), "hmac-sha512");
    let e = add_txt(&s, &k512, &owner, &["x".into()], 60)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Refused {
                rcode: Rcode::NotAuth,
                ..
            }
        ),
        "{e}"
    );
    assert!(!e.to_string().contains(&secret_of(&other)));
    assert!(b.dig("_acme-challenge.www.acme.test", "TXT").is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn refusals_are_told_apart() {
    if !have_bind("refusals_are_told_apart") {
        return;
    }
    let b = Bind::start("example.test");
    let s = server(&b);
    let key = TsigKey::read(&b.key_file).unwrap();

    // Right name, wrong secret.
    let wrong = b.dir.path().join("wrong.key");
    bind::keygen("hmac-sha256", &b.key_name, &wrong);
    let wrong = TsigKey::read(&wrong).unwrap();
    let zone = name("example.test").unwrap();
    let owner = name("_443._tcp.example.test").unwrap();
    let recs = [tlsa(3, 1, 1, vec![1; 32])];
    let e = replace_rrset(&s, &wrong, &zone, &owner, RecordType::TLSA, &recs, 60)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Refused {
                rcode: Rcode::NotAuth,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("NOTAUTH"), "{e}");

    // A zone the server does not serve.
    let e = replace_rrset(
        &s,
        &key,
        &name("other.test").unwrap(),
        &name("_443._tcp.other.test").unwrap(),
        RecordType::TLSA,
        &recs,
        60,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Refused {
                rcode: Rcode::NotAuth | Rcode::Refused,
                ..
            }
        ),
        "{e}"
    );
    let e = find_zone(&s, &name("www.other.test").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoZone { .. }), "{e}");
    assert!(b.dig("_443._tcp.example.test", "TLSA").is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_that_never_answers_times_out_in_bounded_time() {
    let (_sock, addr) = bind::silent_server();
    let s = Server::parse(&addr)
        .unwrap()
        .with_timeout(Duration::from_millis(1500));
    let start = Instant::now();
    let e = find_zone(&s, &name("example.test").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(e.to_string().contains(&addr), "{e}");
}

#[test]
fn key_files_errors_and_permissions() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("k.key");
    std::fs::write(
        &p,
        "key \"k\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0\"; };\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(TsigKey::read(&p).unwrap().others_can_read());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!TsigKey::read(&p).unwrap().others_can_read());
    }
    std::fs::write(
        &p,
        "key \"k\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0!\"; };\n",
    )
    .unwrap();
    let e = TsigKey::read(&p).unwrap_err().to_string();
    assert!(e.contains("k.key") && e.contains("base64"), "{e}");
    assert!(!e.contains("c2VjcmV0"), "{e}");
    // Bounded read: a huge file is refused by name, not read whole.
    let big = d.path().join("big.key");
    std::fs::write(&big, vec![b' '; 64 * 1024 + 1]).unwrap();
    let e = TsigKey::read(&big).unwrap_err().to_string();
    assert!(e.contains("big.key") && e.contains("64 KiB"), "{e}");
    std::fs::write(&big, vec![b' '; 64 * 1024]).unwrap();
    let e = TsigKey::read(&big).unwrap_err().to_string();
    assert!(!e.contains("KiB"), "{e}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(
            &p,
            "key \"k\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0\"; };\n",
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let w = TsigKey::read(&p).unwrap().permission_warning().unwrap();
        assert!(w.contains("k.key") && w.contains("chmod 600"), "{w}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(TsigKey::read(&p).unwrap().permission_warning().is_none());
    }
    let e = TsigKey::read(d.path().join("missing.key"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.key"), "{e}");
}

fn secret_of(path: &std::path::Path) -> String {
    let t = std::fs::read_to_string(path).unwrap();
    let i = t.find("secret \"").unwrap() + 8;
    t[i..].split('"').next().unwrap().to_string()
}
