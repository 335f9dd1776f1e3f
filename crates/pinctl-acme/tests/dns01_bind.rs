//! DNS-01 by RFC 2136 against a real BIND 9 on a loopback port: pinctl's
//! challenge values come and go one by one, and a TXT record another
//! client keeps at the same `_acme-challenge` name survives both the set
//! and the clean-up.

#[path = "../../../tests/common/bind.rs"]
mod bind;

use pinctl_acme::dns01::Rfc2136;
use pinctl_acme::DnsAnswer as _;

#[tokio::test(flavor = "current_thread")]
async fn a_foreign_txt_value_survives_set_and_clean_up() {
    if !bind::bind_installed() {
        if std::env::var("PINCTL_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("named is required (PINCTL_REQUIRE_SERVERS=1) but not installed");
        }
        eprintln!("SKIPPED a_foreign_txt_value_survives_set_and_clean_up: named not installed");
        return;
    }
    let b = bind::Bind::start("acme.test");
    let at = "_acme-challenge.www.acme.test";
    b.nsupdate(&format!("update add {at}. 60 TXT \"foreign\""));
    let mut a = Rfc2136::new(&b.addr(), &b.key_file).unwrap();
    assert!(a.key_warning().is_none());
    a.present("www.acme.test", "pinctl-one").await.unwrap();
    assert_eq!(b.dig(at, "TXT"), vec!["\"foreign\"", "\"pinctl-one\""]);
    // A wildcard and its base share the name: both values stay until
    // the clean-up.
    a.present("www.acme.test", "pinctl-two").await.unwrap();
    assert_eq!(
        b.dig(at, "TXT"),
        vec!["\"foreign\"", "\"pinctl-one\"", "\"pinctl-two\""]
    );
    a.clean_up().await.unwrap();
    assert_eq!(b.dig(at, "TXT"), vec!["\"foreign\""]);

    // A key file others may read gets the dns channels' warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&b.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let a = Rfc2136::new(&b.addr(), &b.key_file).unwrap();
        let w = a.key_warning().unwrap();
        assert!(w.contains("update.key") && w.contains("chmod 600"), "{w}");
    }
}
