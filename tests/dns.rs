//! The dns channel updating its zone on a real BIND 9 (started on a
//! loopback port by `common::bind`): publish sends one TSIG-signed RFC 2136
//! UPDATE and records the RRset once `named` serves it (read back with
//! `dig`); `check --live` judges what the server serves (tampering through
//! `nsupdate`); a rotation replaces the RRset exactly; a wrong key, a zone
//! the server does not serve and a server that never answers record
//! nothing and change nothing; the TSIG secret never reaches the state or
//! any output.

use std::time::{Duration, Instant};

use crate::common::bind::{self, Bind};
use crate::common::*;

const OWNER: &str = "_443._tcp.example.com";

fn have_bind(test: &str) -> bool {
    have("named", test) && have("dig", test) && have("nsupdate", test)
}

fn secret_of(path: &std::path::Path) -> String {
    let t = std::fs::read_to_string(path).unwrap();
    let i = t.find("secret \"").unwrap() + 8;
    t[i..].split('"').next().unwrap().to_string()
}

/// A site example.com with a dns channel pointed at `server` with `key`.
fn dns_site(server: &str, key: &std::path::Path) -> Env {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    env.run(&[
        "channel",
        "add",
        "dns",
        "--ttl",
        "3600",
        "--server",
        server,
        "--tsig-key",
        key.to_str().unwrap(),
    ])
    .ok();
    env
}

/// The `3 1 1 …` / `2 1 1 …` records `snippet --channel dns` prints.
fn snippet_records(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .run(&["snippet", "--channel", "dns"])
        .ok()
        .lines()
        .filter_map(|l| l.split_once(" IN TLSA ").map(|(_, r)| r.trim().to_string()))
        .map(|r| r.split(';').next().unwrap().trim().to_lowercase())
        .collect();
    v.sort();
    v
}

/// dig's `+short` TLSA lines, normalised: hex in lower case, unsplit.
fn dug(b: &Bind) -> Vec<String> {
    let mut v: Vec<String> = b
        .dig(OWNER, "TLSA")
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {} {}", f[0], f[1], f[2], f[3..].concat()).to_lowercase()
        })
        .collect();
    v.sort();
    v
}

fn dns_codes(env: &Env) -> (i32, Vec<(String, String)>) {
    let r = env.run(&["check", "--live", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let codes = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("dns-"))
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (r.code, codes)
}

fn site_yaml(env: &Env) -> String {
    std::fs::read_to_string(env.path().join("state/example.com/site.yaml")).unwrap()
}

#[test]
fn publish_updates_the_zone_and_check_live_sees_tampering() {
    if !have_bind("publish_updates_the_zone_and_check_live_sees_tampering") {
        return;
    }
    let b = Bind::start("example.com");
    let secret = secret_of(&b.key_file);
    let mut env = dns_site(&b.addr(), &b.key_file);
    assert!(site_yaml(&env).contains(&format!("server: {}", b.addr())));

    // A record someone put there by hand goes: one UPDATE replaces the RRset.
    b.nsupdate(&format!("update add {OWNER}. 600 TLSA 3 1 1 00112233"));
    let r = env.run(&["publish", "--channel", "dns"]);
    let out = r.ok().to_string();
    assert!(
        out.contains(&format!("Updated {OWNER}. on {}", b.addr())),
        "{out}"
    );
    let want = snippet_records(&env);
    assert_eq!(want.len(), 3, "{want:?}"); // primary, backup1, backup2
    assert_eq!(dug(&b), want);
    assert_eq!(b.dig_ttl(OWNER, "TLSA"), Some(3600));
    let yaml = site_yaml(&env);
    assert!(yaml.contains("- channel: dns\n  kind: dns\n"), "{yaml}");
    assert!(yaml.contains("  ttl: 3600\n"), "{yaml}");

    // Publishing again changes nothing and leaves the zone as recorded.
    let again = env.run(&["publish", "--channel", "dns", "--format", "json"]);
    let v = assert_schema("publish", again.ok());
    assert_eq!(v["changed"], false);
    assert_eq!(v["zone_update"]["ttl"], 3600);

    let (code, codes) = dns_codes(&env);
    assert_eq!(
        codes,
        [("OK".to_string(), "dns-live".to_string())],
        "exit {code}"
    );

    // Tampering: a record pinctl never published.
    b.nsupdate(&format!(
        "update add {OWNER}. 3600 TLSA 3 1 1 {}",
        "ab".repeat(32)
    ));
    let (code, codes) = dns_codes(&env);
    assert_eq!(code, 2);
    assert!(
        codes.contains(&("CRITICAL".into(), "dns-unknown-record".into())),
        "{codes:?}"
    );
    let text = env.run(&["check", "--live"]);
    assert!(
        text.stdout.contains("a record pinctl never published"),
        "{}",
        text.stdout
    );

    // A served TTL longer than recorded.
    let records = dug(&b);
    let mut script = format!("update delete {OWNER}. TLSA\n");
    for r in records.iter().filter(|r| !r.contains(&"ab".repeat(32))) {
        script.push_str(&format!("update add {OWNER}. 86400 TLSA {r}\n"));
    }
    b.nsupdate(&script);
    let (code, codes) = dns_codes(&env);
    assert_eq!(code, 2);
    assert_eq!(
        codes,
        [("CRITICAL".to_string(), "dns-ttl-longer".to_string())]
    );

    // The active key's record gone.
    let status = status_json(&env);
    let pin = status["sites"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "primary")
        .unwrap()["pin"]
        .as_str()
        .unwrap()
        .to_string();
    let primary: String = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, pin)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    b.nsupdate(&format!("update delete {OWNER}. TLSA 3 1 1 {primary}"));
    let (_, codes) = dns_codes(&env);
    assert!(
        codes.contains(&("CRITICAL".into(), "dns-lacks-active".into())),
        "{codes:?}"
    );

    // A rotation: publish replaces the RRset exactly with the new one.
    env.set("PINCTL_NOW", "2030-03-01T03:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();
    env.set("PINCTL_NOW", "2030-03-01T03:00:10Z");
    env.run(&["publish", "--channel", "dns"]).ok();
    let want = snippet_records(&env);
    assert_eq!(want.len(), 4, "{want:?}"); // primary still served, backup1, 2, 3
    assert_eq!(dug(&b), want);
    assert_eq!(b.dig_ttl(OWNER, "TLSA"), Some(3600));
    let (_, codes) = dns_codes(&env);
    assert_eq!(codes, [("OK".to_string(), "dns-live".to_string())]);

    // The plan says to publish through the server and counts 2×TTL.
    let plan = env.run(&["plan"]);
    assert!(
        !plan.stdout.contains("snippet --channel dns"),
        "{}",
        plan.stdout
    );

    // The secret is nowhere: not in the state, not in any output.
    for (p, bytes) in all_files(&env.path().join("state")) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&secret),
            "{} holds the TSIG secret",
            p.display()
        );
    }
    for args in [
        &["channel", "list"][..],
        &["channel", "list", "--format", "json"],
        &["status"],
        &["check", "--live", "--verbose"],
        &["publish", "--channel", "dns", "--format", "json"],
    ] {
        let r = env.run(args);
        assert!(
            !r.stdout.contains(&secret) && !r.stderr.contains(&secret),
            "{args:?}"
        );
    }
}

#[test]
fn a_refused_update_records_nothing_and_changes_nothing() {
    if !have_bind("a_refused_update_records_nothing_and_changes_nothing") {
        return;
    }
    let b = Bind::start("example.com");
    // The right key name with another secret: NOTAUTH.
    let wrong = b.dir.path().join("wrong.key");
    bind::keygen("hmac-sha256", &b.key_name, &wrong);
    let env = dns_site(&b.addr(), &wrong);
    let before = snapshot(&env.path().join("state"));
    let r = env.run(&["publish", "--channel", "dns"]);
    r.fails_with("NOTAUTH");
    assert!(r.stderr.contains(&b.addr()), "{}", r.stderr);
    assert!(!r.stderr.contains(&secret_of(&wrong)));
    assert_eq!(snapshot(&env.path().join("state")), before);
    assert!(b.dig(OWNER, "TLSA").is_empty());

    // A site whose zone the server does not serve.
    let other = site_env();
    other.run(&["init", "example.org"]).ok();
    other
        .run(&[
            "channel",
            "add",
            "dns",
            "--ttl",
            "300",
            "--server",
            &b.addr(),
            "--tsig-key",
            b.key_file.to_str().unwrap(),
        ])
        .ok();
    let before = snapshot(&other.path().join("state"));
    other
        .run(&["publish", "--channel", "dns"])
        .fails_with("serves no zone holding _443._tcp.example.org");
    assert_eq!(snapshot(&other.path().join("state")), before);

    // A key file that is not one: refused at channel set, state unchanged.
    let bad = env.path().join("bad.key");
    std::fs::write(
        &bad,
        "key \"x\" { algorithm hmac-md5; secret \"AAAA\"; };\n",
    )
    .unwrap();
    let before = snapshot(&env.path().join("state"));
    env.run(&["channel", "set", "dns", "--tsig-key", bad.to_str().unwrap()])
        .fails_with("hmac-md5 is not supported");
    assert_eq!(snapshot(&env.path().join("state")), before);

    // The right key through channel set, then it publishes.
    env.run(&[
        "channel",
        "set",
        "dns",
        "--tsig-key",
        b.key_file.to_str().unwrap(),
    ])
    .ok();
    env.run(&["publish", "--channel", "dns"]).ok();
    assert_eq!(dug(&b), snippet_records(&env));
}

#[test]
fn a_server_that_never_answers_fails_in_bounded_time() {
    let (_silent, addr) = bind::silent_server();
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("k.key");
    std::fs::write(
        &key,
        "key \"k\" { algorithm hmac-sha256; secret \"c2lsZW50LXNlcnZlci10ZXN0LXNlY3JldC0zMmJ5dGU=\"; };\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let env = dns_site(&addr, &key);
    let before = snapshot(&env.path().join("state"));
    let start = Instant::now();
    env.run(&["publish", "--channel", "dns"])
        .fails_with("did not answer");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(snapshot(&env.path().join("state")), before);
    // check --live: UNKNOWN for that channel.
    let (code, codes) = dns_codes(&env);
    assert_eq!(code, 3);
    assert_eq!(
        codes,
        [("UNKNOWN".to_string(), "dns-unreachable".to_string())]
    );
}

#[test]
fn channel_set_and_the_manual_flow() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    env.run(&["channel", "add", "dns", "--ttl", "600"]).ok();
    let d = env.path().join("update.key");
    std::fs::write(
        &d,
        "key \"k\" { algorithm hmac-sha512; secret \"c2V0LXRlc3Qtc2VjcmV0LTMyLWJ5dGVzLWxvbmctLS0=\"; };\n",
    )
    .unwrap();
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    // Without a server: exactly the manual flow.
    let plan = env.run(&["plan"]).ok().to_string();
    assert!(plan.contains("pinctl snippet --channel dns"), "{plan}");
    // A key others can read: set, with a warning.
    let r = env.run(&[
        "channel",
        "set",
        "dns",
        "--server",
        "127.0.0.1:5399",
        "--tsig-key",
        "update.key",
    ]);
    r.ok();
    assert!(r.stderr.contains("readable by other users"), "{}", r.stderr);
    let yaml = site_yaml(&env);
    assert!(yaml.contains("server: 127.0.0.1:5399"), "{yaml}");
    let abs = std::fs::canonicalize(&d).unwrap();
    assert!(
        yaml.contains(&format!("tsig_key: {}", abs.display())),
        "{yaml}"
    );
    assert!(!yaml.contains("c2V0LXRlc3Q"), "{yaml}");
    let plan = env.run(&["plan"]).ok().to_string();
    assert!(
        plan.contains("Update the TLSA RRset on 127.0.0.1:5399"),
        "{plan}"
    );
    assert!(!plan.contains("snippet --channel dns"), "{plan}");
    // Usage errors, state unchanged.
    let before = snapshot(&env.path().join("state"));
    env.run(&["channel", "set", "dns"])
        .fails_with("--no-server");
    env.run(&["channel", "set", "dns", "--server", "host:0"])
        .fails_with("port");
    env.run(&["channel", "set", "nope", "--no-server"])
        .fails_with("no channel named nope");
    env.run(&[
        "channel",
        "add",
        "android",
        "--server",
        "x",
        "--tsig-key",
        "update.key",
    ])
    .fails_with("server does not apply to a android channel");
    assert_eq!(snapshot(&env.path().join("state")), before);
    // Back to the manual flow.
    env.run(&["channel", "set", "dns", "--no-server"]).ok();
    assert!(!site_yaml(&env).contains("server:"));
    let plan = env.run(&["plan"]).ok().to_string();
    assert!(plan.contains("pinctl snippet --channel dns"), "{plan}");
}

/// Without PINCTL_NOW: the publication starts at the read-back (the
/// plan's 2×TTL runs from there), and the next write at the real clock
/// is not refused as running behind the state.
#[test]
fn on_the_real_clock_the_publication_starts_at_the_read_back() {
    if !have_bind("on_the_real_clock_the_publication_starts_at_the_read_back") {
        return;
    }
    let b = Bind::start("example.com");
    let env = Env::new().var("PINCTL_PASSPHRASE", PASS);
    env.run(&["init", "example.com"]).ok();
    env.run(&[
        "channel",
        "add",
        "dns",
        "--ttl",
        "60",
        "--server",
        &b.addr(),
        "--tsig-key",
        b.key_file.to_str().unwrap(),
    ])
    .ok();
    let before = chrono::Utc::now().timestamp();
    let r = env.run(&["publish", "--channel", "dns", "--format", "json"]);
    let v = assert_schema("publish", r.ok());
    let after = chrono::Utc::now().timestamp();
    let read_back = v["zone_update"]["read_back"].as_str().unwrap().to_string();
    let t = chrono::DateTime::parse_from_rfc3339(&read_back)
        .unwrap()
        .timestamp();
    assert!(before - 1 <= t && t <= after, "{before} {t} {after}");
    assert!(
        site_yaml(&env).contains(&format!("from: {read_back}")),
        "{}",
        site_yaml(&env)
    );
    assert_eq!(v["zone_update"]["ttl"], 60);
    env.run(&["channel", "add", "ios", "--horizon", "30"]).ok();
}

#[test]
fn publish_records_only_once_every_authoritative_server_serves_the_rrset() {
    let t = "publish_records_only_once_every_authoritative_server_serves_the_rrset";
    if !have_bind(t) {
        return;
    }
    // The zone's NS set names a server with no address anywhere: pinctl
    // cannot vouch for it, so publish refuses before sending anything.
    let b = Bind::start_with("example.com", "@ IN NS ns9.nowhere.invalid.");
    let mut sec = Bind::start_secondary(&b);
    let env = dns_site(&b.addr(), &b.key_file);
    let before = snapshot(&env.path().join("state"));
    let r = env.run(&["publish", "--channel", "dns"]);
    r.fails_with("ns9.nowhere.invalid");
    assert!(r.stderr.contains("--check-server"), "{}", r.stderr);
    assert_eq!(snapshot(&env.path().join("state")), before);
    assert!(b.dig(OWNER, "TLSA").is_empty());

    // Named explicitly: the secondary, which missed the NOTIFY.
    env.run(&["channel", "set", "dns", "--check-server", &sec.addr()])
        .ok();
    let list = env.run(&["channel", "list"]);
    assert!(
        list.ok().contains(&format!("check-server={}", sec.addr())),
        "{}",
        list.stdout
    );
    let plan = env.run(&["plan"]);
    assert!(
        plan.ok().contains(&format!(
            "every authoritative server ({} and {})",
            b.addr(),
            sec.addr()
        )),
        "{}",
        plan.stdout
    );
    let before = snapshot(&env.path().join("state"));
    let start = Instant::now();
    let r = env.run(&["publish", "--channel", "dns"]);
    r.fails_with("nothing recorded");
    assert!(start.elapsed() < Duration::from_secs(30));
    let errors = r.stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&sec.addr()), "{}", r.stderr);
    assert!(
        r.stderr.contains("pinctl publish --channel dns"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&env.path().join("state")), before);
    let want = snippet_records(&env);
    assert_eq!(dug(&b), want);
    assert!(sec.dig(OWNER, "TLSA").is_empty());

    // The secondary transfers the zone: publish again verifies and records.
    sec.restart();
    let r = env.run(&["publish", "--channel", "dns"]);
    let out = r.ok().to_string();
    assert!(out.contains(&sec.addr()), "{out}");
    assert_eq!(dug(&sec), want);
    assert!(
        site_yaml(&env).contains("- channel: dns\n  kind: dns\n"),
        "{}",
        site_yaml(&env)
    );
    let (_, codes) = dns_codes(&env);
    assert!(codes.iter().all(|(s, _)| s == "OK"), "{codes:?}");

    // check --live reads the secondary too: stopped, it is UNKNOWN.
    let sec_addr = sec.addr();
    drop(sec);
    let r = env.run(&["check", "--live", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "dns-unreachable"
                && f["message"].as_str().unwrap().contains(&sec_addr)),
        "{}",
        r.stdout
    );
}
