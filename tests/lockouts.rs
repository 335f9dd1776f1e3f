//! The six lockouts an adversarial trial and a review found, each from
//! the ledger believing what nobody showed it (docs/design.md#evidence),
//! driven through the CLI in the order the RFCs and platforms tell
//! operators to work. Each test failed on the commit before its fix
//! (2615f6d); the comment on each says how.

use crate::common::*;

fn at(env: &mut Env, when: &str) {
    env.set("PINCTL_NOW", when);
}

fn pin_of(env: &Env, site: &str, key: &str) -> String {
    let s = status_json(env);
    let site = s["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["site"] == site || x["domain"] == site)
        .unwrap_or_else(|| panic!("no site {site} in {s}"));
    site["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == key)
        .unwrap_or_else(|| panic!("no key {key}"))["pin"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Records a certificate for `key` of example.com (servers cannot serve
/// a key without one).
fn certify(env: &Env, key: &str) {
    certify_key(env, "example.com", key);
}

fn enforce(env: &Env, site: Option<&str>, max_age: &str) {
    let mut args: Vec<&str> = Vec::new();
    if let Some(s) = site {
        args.extend(["--site", s]);
    }
    let mut p = args.clone();
    p.extend(["policy", "--enforce", "--max-age", max_age]);
    env.run(&p).ok();
    let mut q = args;
    q.push("publish");
    env.run(&q).ok();
}

/// The TLSA association data of a pin: its SHA-256 in hex.
fn hex_of(_env: &Env, pin: &str) -> String {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(pin)
        .unwrap();
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lockout 1: A TLSA RRset published first (RFC 7671 section 8.1) is not
/// evidence that the servers switched keys: the header keeps the old
/// key's pin and a release may not drop it. Before the fix, `publish
/// --channel dns` counted as the new key deployed: the desired header
/// dropped primary at once and the release below was accepted.
#[test]
fn a_dns_publication_is_not_evidence_that_servers_switched_keys() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["channel", "add", "dns", "--ttl", "3600"]).ok();
    env.run(&["channel", "add", "android", "--expires-after", "60"])
        .ok();
    enforce(&env, None, "300");
    env.run(&["publish", "--channel", "dns"]).ok();
    let primary = pin_of(&env, "example.com", "primary");

    at(&mut env, "2030-03-10T00:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();
    // DNS first: the new RRset goes out before the servers switch.
    env.run(&["publish", "--channel", "dns"]).ok();
    let header = env.run(&["header"]);
    assert!(
        header.ok().contains(&primary),
        "the header dropped the key the servers still serve: {}",
        header.ok()
    );
    let tlsa = env.run(&["snippet", "--channel", "dns"]);
    assert!(tlsa.ok().contains("3 1 1"), "{}", tlsa.ok());
    // A release made now without primary would lock out every install
    // while the servers still serve it.
    let status = status_json(&env);
    let served: Vec<&str> = status["sites"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["role"] != "retired")
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(served.contains(&"backup1"));
    let plan = env.run(&["plan"]);
    assert!(
        plan.ok().contains("pinctl deployed backup1"),
        "the plan names the evidence to record: {}",
        plan.ok()
    );

    // A header recorded before backup1 has a certificate shows nothing:
    // no server can serve backup1 yet, so the RRset keeps primary.
    env.run(&["publish"]).ok();
    env.run(&["deployed", "backup1"])
        .fails_with("no certificate is recorded for backup1");
    assert!(env
        .run(&["snippet", "--channel", "dns"])
        .ok()
        .contains(&hex_of(&env, &primary)));

    // Evidence: the header now drops primary's pin.
    at(&mut env, "2030-03-10T01:00:00Z");
    certify(&env, "backup1");
    let out = env.run(&["deployed", "backup1"]);
    assert!(
        out.ok().contains("primary no longer counts as served"),
        "{}",
        out.ok()
    );
    assert!(!env.run(&["header"]).ok().contains(&primary));
    // Only the active key can be deployed, and not before it was promoted.
    env.run(&["deployed", "backup2"])
        .fails_with("only the active key is deployed");
    env.run(&["deployed", "backup1", "--at", "2030-03-09T00:00:00Z"])
        .fails_with("outside the time backup1 has been active");
}

/// Lockout 2: A release holds the pins of the file that shipped, which may be
/// weeks older than the state. Before the fix, `publish --channel android
/// --release` recorded today's pins, so the promotion of backup3 (absent
/// from the shipped file) was accepted and locked out every install.
#[test]
fn an_app_release_holds_the_pins_of_the_file_that_shipped() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["channel", "add", "android", "--expires-after", "60"])
        .ok();
    enforce(&env, None, "300");
    // The app team takes the config for the next build.
    let nsc = env.path().join("network_security_config.xml");
    std::fs::write(&nsc, env.run(&["snippet", "--channel", "android"]).ok()).unwrap();

    at(&mut env, "2030-03-02T00:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();
    certify(&env, "backup1");
    env.run(&["publish"]).ok();
    env.run(&["deployed", "backup1"]).ok();
    env.run(&["publish"]).ok();

    // Store review: the build ships three weeks later with the old file.
    at(&mut env, "2030-03-23T00:00:00Z");
    let nsc_arg = nsc.to_str().unwrap();
    env.run(&["publish", "--channel", "android", "--release", "4.0"])
        .fails_with("--from");
    let shipped = env.run(&[
        "publish",
        "--channel",
        "android",
        "--release",
        "4.0",
        "--from",
        nsc_arg,
    ]);
    shipped.ok();
    let expires = {
        let yaml = std::fs::read_to_string(env.path().join("state/example.com/site.yaml")).unwrap();
        let s: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        let rel = s["publications"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["release"].as_str() == Some("4.0"))
            .unwrap_or_else(|| panic!("release 4.0 in {yaml}"))
            .clone();
        let backup3 = pin_of(&env, "example.com", "backup3");
        let primary = pin_of(&env, "example.com", "primary");
        let pins: Vec<&str> = rel["pins"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(
            !pins.contains(&backup3.as_str()) && pins.contains(&primary.as_str()),
            "the release recorded today's pins, not the shipped file's: {pins:?}"
        );
        rel["expires"].as_str().unwrap().to_string()
    };
    assert_eq!(
        expires, "2030-04-30",
        "the file's expiration, not one from today"
    );

    let refused = env.run(&["rotate", "--promote", "backup3"]);
    refused.fails_with("android release 4.0");
    // The converse: once the shipped pin-set has expired everywhere
    // (12:00 UTC on its date), the same promotion goes through.
    at(&mut env, "2030-04-30T11:59:59Z");
    env.run(&["rotate", "--promote", "backup3", "--dry-run"])
        .fails_with("android release 4.0");
    at(&mut env, "2030-04-30T12:00:00Z");
    env.run(&["rotate", "--promote", "backup3"]).ok();
}

/// A shipped file is refused when it lacks a key the servers may serve,
/// holds one pin, or disagrees with --expires; nothing is written.
#[test]
fn a_shipped_file_that_would_lock_clients_out_is_refused() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["channel", "add", "android", "--expires-after", "60"])
        .ok();
    enforce(&env, None, "300");
    let nsc = env.path().join("nsc.xml");
    let text = env
        .run(&["snippet", "--channel", "android"])
        .ok()
        .to_string();
    std::fs::write(&nsc, &text).unwrap();
    let nsc_arg = nsc.to_str().unwrap();
    let before = snapshot(&env.path().join("state"));
    env.run(&[
        "publish",
        "--channel",
        "android",
        "--release",
        "1",
        "--from",
        nsc_arg,
        "--expires",
        "2030-06-01",
    ])
    .fails_with("--expires says 2030-06-01");
    // One pin only: drop every pin line but the first.
    let mut seen = false;
    let one: String = text
        .lines()
        .filter(|l| {
            if l.contains("<pin ") {
                let keep = !seen;
                seen = true;
                keep
            } else {
                true
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&nsc, one).unwrap();
    env.run(&[
        "publish",
        "--channel",
        "android",
        "--release",
        "1",
        "--from",
        nsc_arg,
    ])
    .fails_with("distinct pin");
    // The rotation's new key only, while the servers still serve primary.
    at(&mut env, "2030-03-02T00:00:00Z");
    let rotated_before = snapshot(&env.path().join("state"));
    assert_eq!(before, rotated_before);
    env.run(&["rotate", "--promote", "backup1"]).ok();
    let primary = pin_of(&env, "example.com", "primary");
    let without: String = text
        .lines()
        .filter(|l| !l.contains(&primary))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&nsc, without).unwrap();
    let before = snapshot(&env.path().join("state"));
    env.run(&[
        "publish",
        "--channel",
        "android",
        "--release",
        "1",
        "--from",
        nsc_arg,
    ])
    .fails_with("may still serve primary");
    assert_eq!(before, snapshot(&env.path().join("state")));
}

/// Lockout 3: The header is served on every name of the site, so
/// includeSubDomains reaches sites under its SANs. Before the fix,
/// publishing was refused for api.example.com's sake but not for
/// api.example.net's.
#[test]
fn include_subdomains_reaches_sites_under_every_san() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&[
        "init",
        "example.com",
        "--san",
        "example.net",
        "--include-subdomains",
    ])
    .ok();
    env.run(&["init", "api.example.net"]).ok();
    env.run(&[
        "--site",
        "example.com",
        "policy",
        "--enforce",
        "--max-age",
        "300",
    ])
    .ok();
    let before = snapshot(&env.path().join("state"));
    env.run(&["--site", "example.com", "publish"])
        .fails_with("api.example.net");
    assert_eq!(before, snapshot(&env.path().join("state")));
    // Pinning the subdomain's key too makes it acceptable.
    let api = pin_of(&env, "api.example.net", "primary");
    env.run(&[
        "--site",
        "example.com",
        "ca-pin",
        "add",
        "api",
        "--pin",
        &api,
    ])
    .ok();
    env.run(&["--site", "example.com", "publish"]).ok();
    // And the subdomain's rotation is judged against it.
    at(&mut env, "2030-03-02T00:00:00Z");
    env.run(&[
        "--site",
        "api.example.net",
        "rotate",
        "--promote",
        "backup1",
    ])
    .fails_with("example.com");
}

/// Lockout 4: "Now" may not run behind the history of a related site. Before the
/// fix, a child rotated at 12:01 "before" the parent's includeSubDomains
/// header recorded at 12:05 by an operator whose clock ran ahead, and the
/// rotation was accepted.
#[test]
fn a_step_may_not_be_dated_before_a_related_sites_history() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T12:00:00Z");
    env.run(&["init", "example.com", "--include-subdomains"])
        .ok();
    env.run(&["init", "api.example.com"]).ok();
    let api = pin_of(&env, "api.example.com", "primary");
    at(&mut env, "2030-03-01T12:05:00Z");
    env.run(&[
        "--site",
        "example.com",
        "ca-pin",
        "add",
        "api",
        "--pin",
        &api,
    ])
    .ok();
    enforce(&env, Some("example.com"), "2592000");
    // The second operator's clock is four minutes behind.
    at(&mut env, "2030-03-01T12:01:00Z");
    let before = snapshot(&env.path().join("state"));
    env.run(&[
        "--site",
        "api.example.com",
        "rotate",
        "--promote",
        "backup1",
    ])
    .fails_with("of example.com");
    assert_eq!(before, snapshot(&env.path().join("state")));
    at(&mut env, "2030-03-01T12:06:00Z");
    env.run(&[
        "--site",
        "api.example.com",
        "rotate",
        "--promote",
        "backup1",
    ])
    .fails_with("example.com");
}

/// Lockout 5: Importing a live deployment records the header it already serves.
/// Before the fix, the ledger started empty and `rotate` was accepted at
/// once while browsers held the old header for its max-age.
#[test]
fn import_records_the_header_already_served() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    let fx = fixtures();
    let key = fx.join("p256.pkcs8.pem");
    let cert = fx.join("p256.cert.pem");
    let live = "bdhRme+uYVLz59K/0qkq7VFNr9EWq8oNi/t4pzkAWWI=";
    let other = "BKLcEuLhM0/XpleaQwEvP0sy1lh030lDZ3rY9+Ds/iI=";
    let header = format!("pin-sha256=\"{live}\"; pin-sha256=\"{other}\"; max-age=2592000");
    let out = env.run(&[
        "import",
        "example.com",
        "--key",
        key.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--served-header",
        &header,
        "--served-since",
        "2030-01-01T00:00:00Z",
    ]);
    out.ok();
    // The gate judges against it: backup1 is in no header browsers hold.
    env.run(&["rotate", "--promote", "backup1"])
        .fails_with("publication 1");
    // The next header holds the new backups; once it is out and the old
    // one's max-age has passed, the promotion is safe.
    env.run(&["publish"]).ok();
    at(&mut env, "2030-03-31T00:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();

    // Without either flag, import warns.
    let mut env2 = site_env();
    at(&mut env2, "2030-03-01T00:00:00Z");
    let out = env2.run(&[
        "import",
        "example.com",
        "--key",
        key.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
    ]);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("--served-header"), "{all}");
    // A header that is not one is refused, and nothing is made.
    let mut env3 = site_env();
    at(&mut env3, "2030-03-01T00:00:00Z");
    env3.run(&[
        "import",
        "example.com",
        "--key",
        key.to_str().unwrap(),
        "--served-header",
        "max-age=30",
    ])
    .fails_with("not a valid Public-Key-Pins header");
    assert!(!env3.path().join("state/example.com").exists());
}

/// Lockout 6: `check` is CRITICAL whenever a key the servers may serve is not
/// accepted by a pinset clients may hold, whatever led there. Before the
/// fix, it said nothing after a forced promotion.
#[test]
fn check_is_critical_when_the_served_key_is_locked_out() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    enforce(&env, None, "2592000");
    at(&mut env, "2030-03-02T00:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();
    env.run(&["publish"]).ok();
    env.run(&["rotate", "--promote", "backup3"])
        .fails_with("publication");
    env.run(&["rotate", "--promote", "backup3", "--force"]).ok();
    let out = env.run(&["check", "--format", "json"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "served-key-locked-out")
        .unwrap_or_else(|| panic!("no served-key-locked-out finding: {v}"))
        .clone();
    assert_eq!(f["severity"], "CRITICAL");
    assert_eq!(f["key"], "backup3");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("publication 1") && msg.contains("until 2030-04-01"),
        "{msg}"
    );
}

/// A release that shipped although pinctl refused it is still a fact:
/// `publish --force` records it, `check` is CRITICAL about the key it
/// lacks, and the next promotion is judged against it. Without the
/// record, the ledger would be blind to its installs.
#[test]
fn a_refused_release_that_shipped_anyway_is_recorded_with_force() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["channel", "add", "android"]).ok();
    enforce(&env, None, "300");
    let text = env
        .run(&["snippet", "--channel", "android"])
        .ok()
        .to_string();
    let backup1 = pin_of(&env, "example.com", "backup1");
    // The app team dropped backup1's pin; the build shipped that way.
    let shipped: String = text
        .lines()
        .filter(|l| !l.contains(&backup1))
        .map(|l| format!("{l}\n"))
        .collect();
    let file = env.path().join("nsc.xml");
    std::fs::write(&file, shipped).unwrap();
    let f = file.to_str().unwrap();
    // Accepted: it holds primary and backup2 (two pins), so nothing
    // refuses it; backup1 can no longer be promoted while it is held.
    env.run(&[
        "publish",
        "--channel",
        "android",
        "--release",
        "1.0",
        "--from",
        f,
    ])
    .ok();
    env.run(&["rotate", "--promote", "backup1"])
        .fails_with("android release 1.0");
    // A file with one pin is refused, and says how to record it anyway.
    let primary = pin_of(&env, "example.com", "primary");
    let one: String = text
        .lines()
        .filter(|l| !l.contains("<pin ") || l.contains(&primary))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, one).unwrap();
    env.run(&[
        "publish",
        "--channel",
        "android",
        "--release",
        "1.1",
        "--from",
        f,
    ])
    .fails_with("--force");
    let r = env.run(&[
        "publish",
        "--channel",
        "android",
        "--release",
        "1.1",
        "--from",
        f,
        "--force",
    ]);
    r.ok();
    assert!(r.stderr.contains("forced"), "{}", r.stderr);
    // Its installs hold primary alone for ever: no backup can be promoted.
    env.run(&["rotate", "--promote", "backup2"])
        .fails_with("android release 1.1");
}

/// A state written by version 3 recorded no certificate names: they are
/// read again from the stored certificate, so includeSubDomains still
/// reaches sites under them.
#[test]
fn a_version_3_state_reads_its_certificates_names_again() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["init", "example.com", "--include-subdomains"])
        .ok();
    env.run(&["init", "api.example.net"]).ok();
    // A certificate that also names example.net (not a --san).
    let ca = TestCa::new("Names CA");
    let csr =
        std::fs::read_to_string(env.path().join("state/example.com/primary.csr.pem")).unwrap();
    let leaf = ca.sign_with_names(&csr, &["example.com", "example.net"]);
    std::fs::write(env.path().join("leaf.pem"), leaf + &ca.pem).unwrap();
    env.run(&["--site", "example.com", "cert", "add", "leaf.pem"])
        .ok();
    env.run(&[
        "--site",
        "example.com",
        "policy",
        "--enforce",
        "--max-age",
        "300",
    ])
    .ok();
    env.run(&["--site", "example.com", "publish"])
        .fails_with("api.example.net");
    // The same state as version 3 wrote it: no names.
    let file = env.path().join("state/example.com/site.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let v3: String = yaml
        .replacen("version: 4", "version: 3", 1)
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("names:") && !l.trim_start().starts_with("- example.")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!v3.contains("example.net\n"), "{v3}");
    std::fs::write(&file, v3).unwrap();
    env.run(&["--site", "example.com", "publish"])
        .fails_with("api.example.net");
}

/// One host name belongs to one site: a second site for a name another
/// serves would publish a second header for it, each judged without the
/// other.
#[test]
fn a_name_another_site_serves_is_refused() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["init", "example.com", "--san", "www.example.com"])
        .ok();
    let before = snapshot(&env.path().join("state"));
    env.run(&["init", "www.example.com"])
        .fails_with("already a name of site example.com");
    env.run(&["init", "example.org", "--san", "example.com"])
        .fails_with("already a name of site example.com");
    assert_eq!(before, snapshot(&env.path().join("state")));
}
