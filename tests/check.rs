//! `pinctl check` (each finding built at a chosen date, with its exit
//! code), `pinctl schedule`, and `pinctl verify` against a real nginx.

use crate::common::*;
use crate::harness::{self, Kind};

fn at(env: &mut Env, when: &str) {
    env.set("PINCTL_NOW", when);
}

/// A chain for `key` (leaf and test CA), valid between two dates.
fn certify(env: &Env, key: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> String {
    let ca = TestCa::new("Check-CA");
    let csr = std::fs::read_to_string(env.path().join(format!("state/example.com/{key}.csr.pem")))
        .unwrap();
    let out = format!("{key}-chain.pem");
    std::fs::write(env.path().join(&out), ca.sign(&csr, from, to) + &ca.pem).unwrap();
    out
}

/// A site where everything is fine on 2030-01-01: certificate for a year,
/// two copies of each backup, Report-Only published.
fn fine_site() -> Env {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let chain = certify(&env, "primary", (2030, 1, 1), (2031, 1, 1));
    env.run(&["cert", "add", &chain]).ok();
    for b in ["backup1", "backup2"] {
        for place in ["usb1", "usb2"] {
            std::fs::create_dir_all(env.path().join(place)).unwrap();
            env.run(&["archive", "copy", b, "--to", place, "--location", place])
                .ok();
        }
    }
    env.run(&["publish"]).ok();
    env
}

fn findings(env: &Env) -> (i32, serde_json::Value) {
    let r = env.run(&["check", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{}{}", r.stdout, r.stderr));
    (r.code, v)
}

fn has(v: &serde_json::Value, severity: &str, code: &str) -> bool {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["severity"] == severity && f["code"] == code)
}

#[test]
fn check_speaks_the_monitoring_convention() {
    let mut env = fine_site();
    // All fine: exit 0, one summary line.
    let r = env.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .starts_with("PINCTL OK - 1 site(s) checked, all fine"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stdout.lines().count(), 1);
    let verbose = env.run(&["check", "--verbose"]);
    assert!(verbose
        .stdout
        .lines()
        .any(|l| l.starts_with("OK example.com")));
    let (code, v) = findings(&env);
    assert_eq!((code, v["status"].as_str().unwrap()), (0, "OK"));

    // A ramp step due: Report-Only for more than 7 days.
    at(&mut env, "2030-01-09T00:00:00Z");
    let (code, v) = findings(&env);
    assert_eq!(code, 1);
    assert!(has(&v, "WARNING", "ramp-due"));
    let text = env.run(&["check"]);
    assert!(
        text.stdout
            .starts_with("PINCTL WARNING - 0 critical, 1 warning(s)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("WARNING example.com: ramp step due"),
        "{}",
        text.stdout
    );

    // Certificate expiring within 30 days, then expired.
    at(&mut env, "2030-12-15T00:00:00Z");
    let (_, v) = findings(&env);
    assert!(has(&v, "WARNING", "certificate-expiring"));
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "certificate-expiring")
        .unwrap()
        .clone();
    assert_eq!(f["key"], "primary");
    assert_eq!(f["due"], "2031-01-01T00:00:00Z");
    at(&mut env, "2031-01-02T00:00:00Z");
    let (code, v) = findings(&env);
    assert_eq!(code, 2);
    assert!(has(&v, "CRITICAL", "certificate-expired"));
    // Copies made over a year ago and never verified.
    assert!(has(&v, "WARNING", "backup-unverified"));
}

#[test]
fn each_critical_finding() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let (code, v) = findings(&env);
    assert_eq!(code, 2);
    assert!(has(&v, "CRITICAL", "no-certificate"));
    assert!(has(&v, "WARNING", "backup-copies"));

    // Two rotations before any publish: neither new backup is in the
    // enforced pinset clients hold.
    env.run(&["policy", "--enforce", "--max-age", "86400"]).ok();
    env.run(&["publish"]).ok();
    env.run(&["rotate", "--promote", "backup1"]).ok();
    env.run(&["rotate", "--promote", "backup2", "--compromised"])
        .ok();
    let (_, v) = findings(&env);
    assert!(has(&v, "CRITICAL", "no-safe-backup"), "{v}");
    assert!(has(&v, "WARNING", "rotation-unpublished"), "{v}");

    // The live header lacks the active key (a forced promotion).
    let mut env2 = site_env();
    at(&mut env2, "2030-01-01T00:00:00Z");
    env2.run(&["init", "example.com"]).ok();
    env2.run(&["policy", "--enforce", "--max-age", "86400"])
        .ok();
    env2.run(&["publish"]).ok();
    env2.run(&["rotate", "--promote", "backup1"]).ok();
    env2.run(&["rotate", "--promote", "backup3", "--force"])
        .ok();
    let (_, v) = findings(&env2);
    assert!(has(&v, "CRITICAL", "live-lacks-active"), "{v}");

    // Fewer than two backups.
    let yaml_path = env2.path().join("state/example.com/site.yaml");
    let yaml = std::fs::read_to_string(&yaml_path).unwrap();
    let yaml = yaml.replacen("role: backup", "role: retired", 1);
    std::fs::write(&yaml_path, yaml).unwrap();
    let (_, v) = findings(&env2);
    assert!(has(&v, "CRITICAL", "too-few-backups"), "{v}");

    // An unreadable state is UNKNOWN, exit 3.
    std::fs::write(&yaml_path, "version: [").unwrap();
    let r = env2.run(&["check"]);
    assert_eq!(r.code, 3);
    assert!(r.stdout.starts_with("PINCTL UNKNOWN - "), "{}", r.stdout);
    let (code, v) = findings(&env2);
    assert_eq!((code, v["status"].as_str().unwrap()), (3, "UNKNOWN"));
}

#[test]
fn warnings_on_policy() {
    let mut env = fine_site();
    env.run(&[
        "policy",
        "--max-age",
        "9999999",
        "--report-uri",
        "https://example.com/pkp",
    ])
    .ok();
    let (code, v) = findings(&env);
    assert_eq!(code, 1);
    assert!(has(&v, "WARNING", "max-age-high"));
    assert!(has(&v, "WARNING", "report-uri-on-host"));
    // A certificate that ends before the live max-age window would.
    env.run(&[
        "policy",
        "--enforce",
        "--max-age",
        "5184000",
        "--no-report-uri",
    ])
    .ok();
    env.run(&["publish"]).ok();
    at(&mut env, "2030-11-20T00:00:00Z");
    let (_, v) = findings(&env);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "certificate-expiring")
        .cloned();
    assert!(f.unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("before the live max-age window ends"));
}

#[test]
fn schedule_prints_cron_and_systemd_units() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    let cron = env.run(&["schedule", "--cron", "--at", "07:30"]);
    let line = cron
        .ok()
        .lines()
        .find(|l| l.starts_with("30 7 * * * "))
        .unwrap()
        .to_string();
    let state = env.path().join("state").canonicalize().unwrap();
    assert!(
        line.contains(&format!("--state {}", state.display())),
        "{line}"
    );
    assert!(line.ends_with(" check"));
    let r = env.run(&["schedule", "--cron", "--at", "25:00"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("HH:MM"), "{}", r.stderr);
    let units = env.run(&["schedule", "--systemd"]).ok().to_string();
    assert!(units.contains("OnCalendar=*-*-* 06:00:00"));
    let (service, timer) = units
        .split_once("# /etc/systemd/system/pinctl-check.timer")
        .unwrap();
    let d = env.path();
    std::fs::write(d.join("pinctl-check.service"), service).unwrap();
    std::fs::write(d.join("pinctl-check.timer"), timer).unwrap();
    if have(
        "systemd-analyze",
        "schedule_prints_cron_and_systemd_units (systemd-analyze verify)",
    ) {
        let o = std::process::Command::new("systemd-analyze")
            .args(["verify", "pinctl-check.service", "pinctl-check.timer"])
            .current_dir(d)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && !err.contains("pinctl-check"), "{err}");
    }
}

/// Regression: the unit had `renew` and `check` as two ExecStart= lines,
/// and systemd stops a oneshot at the first that fails, so a CA outage
/// kept check from running. The one shell line runs check always and
/// fails the unit when either fails, with check's status first. Run here
/// with sh, pinctl swapped for a stand-in that exits as told.
#[test]
fn the_systemd_unit_runs_check_when_renew_fails() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    let units = env.run(&["schedule", "--systemd"]).ok().to_string();
    let exec: Vec<&str> = units
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert_eq!(exec.len(), 1, "{units}");
    let quoted = exec[0]
        .strip_prefix("ExecStart=/bin/sh -c \"")
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{}", exec[0]));
    // systemd's unquoting (systemd.service(5)): the paths here hold no
    // backslash or double quote.
    assert!(!quoted.contains('\\'), "{quoted}");
    let script = quoted.replace("$$", "$").replace("%%", "%");
    let exe = script.split(" --state ").next().unwrap().to_string();
    let d = env.path();
    let fake = d.join("fake-pinctl");
    std::fs::write(
        &fake,
        "#!/bin/sh\nfor a; do last=$a; done\necho $last >> \"$LOG\"\n\
         case $last in renew) exit $R;; check) exit $C;; esac\nexit 99\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = script.replace(&exe, fake.to_str().unwrap());
    let log = d.join("ran.log");
    for (renew, check, want) in [
        (0, 0, 0),
        (1, 0, 1),
        (0, 2, 2),
        (1, 1, 1),
        (1, 3, 3),
        (0, 1, 1),
    ] {
        let _ = std::fs::remove_file(&log);
        let st = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .env("R", renew.to_string())
            .env("C", check.to_string())
            .env("LOG", &log)
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(want), "renew {renew}, check {check}");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "renew\ncheck\n",
            "renew {renew}, check {check}"
        );
    }
}

/// A site served by a real nginx with a certificate from a test CA.
struct Served {
    env: Env,
    _server: harness::Running,
    port: u16,
}

fn serve(test: &str, snippet_of: &dyn Fn(&Env) -> String, key: &str) -> Option<Served> {
    if !harness::available(Kind::Nginx, test) || !have("openssl", test) {
        return None;
    }
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["policy", "--enforce", "--max-age", "300"]).ok();
    env.run(&["publish"]).ok();
    let d = env.path();
    sh(d, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -subj /CN=Verify-CA -days 400 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out ca.pem 2>/dev/null");
    let keyfile = if key == "stranger" {
        sh(
            d,
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out served.key",
        );
        sh(
            d,
            "openssl req -new -key served.key -subj /CN=example.com -out served.csr",
        );
        "served.csr".to_string()
    } else {
        env.run(&["key", "export", key, "--out", "served.key"]).ok();
        format!("state/example.com/{key}.csr.pem")
    };
    sh(d, &format!("printf 'subjectAltName=DNS:example.com\\nbasicConstraints=critical,CA:FALSE\\n' > ext.cnf; openssl x509 -req -in {keyfile} -CA ca.pem -CAkey ca.key -days 30 -set_serial 9 -extfile ext.cnf -out leaf.pem 2>/dev/null; cat leaf.pem ca.pem > chain.pem"));
    let snippet = snippet_of(&env);
    let dir = d.join("srv");
    std::fs::create_dir(&dir).unwrap();
    let server = harness::start(
        Kind::Nginx,
        &dir,
        &harness::Site {
            host: "example.com",
            cert: &d.join("chain.pem"),
            key: &d.join("served.key"),
            snippet: &snippet,
        },
    )
    .unwrap();
    let port = server.port;
    Some(Served {
        env,
        _server: server,
        port,
    })
}

fn verify(s: &Served) -> (i32, serde_json::Value, Run) {
    let r = s.env.run(&[
        "verify",
        "https://example.com/",
        "--connect",
        &format!("127.0.0.1:{}", s.port),
        "--ca-file",
        "ca.pem",
        "--format",
        "json",
    ]);
    // Every verify run is held to docs/schema/verify.json.
    let v = assert_schema("verify", &r.stdout);
    (r.code, v, r)
}

fn own_snippet(env: &Env) -> String {
    env.run(&["snippet", "--server", "nginx"]).ok().to_string()
}

#[test]
fn verify_a_correct_deployment_and_check_live() {
    let Some(s) = serve(
        "verify_a_correct_deployment_and_check_live",
        &own_snippet,
        "primary",
    ) else {
        return;
    };
    let (code, v, r) = verify(&s);
    assert_eq!(code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(v["ok"], true);
    assert_eq!(v["site"], "example.com");
    assert_eq!(v["chain_pins"].as_array().unwrap().len(), 2);
    // Without the test CA, the chain is not trusted: a clear TLS error.
    let r = s.env.run(&[
        "verify",
        "https://example.com/",
        "--connect",
        &format!("127.0.0.1:{}", s.port),
    ]);
    r.fails_with("TLS failure");
    // A closed port: a clear connection error.
    let closed = harness::free_port();
    s.env
        .run(&[
            "verify",
            "https://example.com/",
            "--connect",
            &format!("127.0.0.1:{closed}"),
        ])
        .fails_with("cannot connect");
    // check --live uses the recorded endpoint.
    s.env
        .run(&[
            "policy",
            "--endpoint",
            "https://example.com/",
            "--connect",
            &format!("127.0.0.1:{}", s.port),
            "--endpoint-ca-file",
            "ca.pem",
        ])
        .ok();
    let r = s.env.run(&["check", "--live", "--verbose"]);
    assert!(
        r.stdout
            .contains("serves the live publication with the active key"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("live-mismatch"), "{}", r.stdout);
}

#[test]
fn verify_a_wrong_key() {
    let Some(s) = serve("verify_a_wrong_key", &own_snippet, "stranger") else {
        return;
    };
    let (code, v, _) = verify(&s);
    assert_eq!(code, 1);
    let problems = v["problems"].to_string();
    assert!(problems.contains("not one of the site's"), "{problems}");
    assert!(problems.contains("no pin matches"), "{problems}");
    s.env
        .run(&[
            "policy",
            "--endpoint",
            "https://example.com/",
            "--connect",
            &format!("127.0.0.1:{}", s.port),
            "--endpoint-ca-file",
            "ca.pem",
        ])
        .ok();
    let r = s.env.run(&["check", "--live"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("[live-mismatch]"), "{}", r.stdout);
}

#[test]
fn verify_no_header() {
    let Some(s) = serve("verify_no_header", &|_| String::new(), "primary") else {
        return;
    };
    let (code, v, _) = verify(&s);
    assert_eq!(code, 1);
    assert!(
        v["problems"].to_string().contains("no Public-Key-Pins"),
        "{v}"
    );
}

#[test]
fn verify_a_header_without_a_backup() {
    let only_leaf = |env: &Env| {
        let leaf = sh(env.path(), "openssl x509 -in leaf.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64");
        let ca = sh(env.path(), "openssl x509 -in ca.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64");
        format!("add_header Public-Key-Pins 'pin-sha256=\"{}\"; pin-sha256=\"{}\"; max-age=300' always;", leaf.trim(), ca.trim())
    };
    let Some(s) = serve("verify_a_header_without_a_backup", &only_leaf, "primary") else {
        return;
    };
    let (code, v, _) = verify(&s);
    assert_eq!(code, 1);
    let problems = v["problems"].to_string();
    assert!(problems.contains("backup pin"), "{problems}");
    assert!(
        problems.contains("differs from the live publication"),
        "{problems}"
    );
}
