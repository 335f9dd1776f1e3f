//! Issue 22, through the CLI as a user types it: odd input refused at the
//! door with the reason, warnings kept off standard output, and the
//! state's files handled as promised. Each test names the item it guards.

use crate::common::*;

fn at(env: &mut Env, when: &str) {
    env.set("PINCTL_NOW", when);
}

/// Asserts success, that standard output is exactly one JSON document,
/// and that a `warning:` line holding `needle` is on standard error.
#[track_caller]
fn one_json_document_and_a_warning(r: &Run, needle: &str) -> serde_json::Value {
    r.ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", r.stdout));
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains(needle)),
        "no warning naming {needle:?} on stderr:\n{}",
        r.stderr
    );
    v
}

const HUGE: &str = "99999999999999999999";

/// Item 2: `policy --format json` printed its warning before the JSON and
/// `init` dropped it; every write command's warnings now go to stderr.
#[test]
fn write_commands_print_one_json_document_and_warn_on_stderr() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    let r = env.run(&["init", "example.com", "--max-age", HUGE, "--format", "json"]);
    one_json_document_and_a_warning(&r, "overflows");
    let r = env.run(&["policy", "--max-age", HUGE, "--format", "json"]);
    one_json_document_and_a_warning(&r, "overflows");
    let r = env.run(&["policy", "--max-age", HUGE]);
    r.ok();
    assert!(!r.stdout.contains("warning"), "{}", r.stdout);
    assert!(r.stderr.contains("warning: max-age"), "{}", r.stderr);
    // A read command's warnings too.
    let r = env.run(&["status"]);
    assert!(!r.ok().contains("warning"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("warning: example.com: backup1 has 0 of 2 recorded offline copies"),
        "{}",
        r.stderr
    );
    let r = env.run(&["channel", "add", "okhttp", "--format", "json"]);
    one_json_document_and_a_warning(&r, "without --horizon");
    let pins = env
        .run(&["snippet", "--channel", "okhttp"])
        .ok()
        .to_string();
    std::fs::write(env.path().join("Pins.java"), pins).unwrap();
    let r = env.run(&[
        "publish",
        "--channel",
        "okhttp",
        "--release",
        "1",
        "--from",
        "Pins.java",
        "--format",
        "json",
    ]);
    one_json_document_and_a_warning(&r, "never stops being held");
    let ca = TestCa::new("Test CA");
    let csr =
        std::fs::read_to_string(env.path().join("state/example.com/backup1.csr.pem")).unwrap();
    std::fs::write(
        env.path().join("b1.pem"),
        ca.sign(&csr, (2020, 1, 1), (2021, 1, 1)),
    )
    .unwrap();
    let r = env.run(&["cert", "add", "b1.pem", "--format", "json"]);
    one_json_document_and_a_warning(&r, "already expired");
    let r = env.run(&[
        "rotate",
        "--promote",
        "backup1",
        "--compromised",
        "--format",
        "json",
    ]);
    one_json_document_and_a_warning(&r, "for ever");

    let env = site_env();
    let key = fixtures().join("p256.pkcs8.pem");
    let r = env.run(&[
        "import",
        "example.org",
        "--key",
        key.to_str().unwrap(),
        "--max-age",
        HUGE,
        "--format",
        "json",
    ]);
    one_json_document_and_a_warning(&r, "overflows");
}

/// Item 3: a clamped max-age put `+262142-12-31T23:59:59Z` (not RFC 3339)
/// in `status`, `plan` and `rotate`; such a time is written `forever`.
#[test]
fn times_past_year_9999_are_written_forever() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["policy", "--enforce", "--max-age", HUGE]).ok();
    env.run(&["publish"]).ok();
    at(&mut env, "2030-02-01T00:00:00Z");
    let rotated = env.run(&["rotate", "--promote", "backup1", "--format", "json"]);
    let v = assert_schema("rotate", rotated.ok());
    assert!(
        v["plan"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["not_before"] == "forever"),
        "{}",
        rotated.stdout
    );
    let status = env.run(&["status", "--format", "json"]);
    let v = assert_schema("status", status.ok());
    assert_eq!(v["sites"][0]["live"]["retained_until"], "forever");
    let plan = env.run(&["plan", "--promote", "backup3", "--format", "json"]);
    assert_schema("plan", plan.ok());
    for r in [&rotated, &status, &plan, &env.run(&["status"])] {
        assert!(!r.stdout.contains("+262142"), "{}", r.stdout);
    }
}

/// Item 4: values that mean nothing (or something else than they say)
/// were taken and stored, or silently raised; each is refused with why.
#[test]
fn meaningless_values_are_refused_at_the_door_with_the_reason() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    // One trailing-dot rule for `init X.` and `--site X.`.
    env.run(&["init", "example.com."]).ok();
    assert!(env.path().join("state/example.com/site.yaml").is_file());
    env.run(&["--site", "example.com.", "status"]).ok();
    let state = env.path().join("state");
    let before = snapshot(&state);
    env.run(&["channel", "add", "dns", "--ttl", "2147483648"])
        .fails_with("RFC 2181");
    env.run(&["channel", "add", "ios", "--horizon", "0"])
        .fails_with("horizon");
    assert_eq!(snapshot(&state), before);
    env.run(&["channel", "add", "dns", "--ttl", "2147483647"])
        .ok();
    env.run(&["channel", "add", "okhttp", "--horizon", "30"])
        .ok();
    let before = snapshot(&state);
    for bad in ["", "  ", "4.1\u{1b}[31m", "4.1\n"] {
        env.run(&["publish", "--channel", "okhttp", "--release", bad])
            .fails_with("release label");
    }
    assert_eq!(snapshot(&state), before);
    for (flag, value) in [
        ("--rate", "0"),
        ("--burst", "0"),
        ("--rate", "NaN"),
        ("--max-connections", "0"),
        ("--header-timeout", "0"),
        ("--body-timeout", "0"),
    ] {
        let r = env.run(&["reports", "serve", "--listen", "127.0.0.1:1", flag, value]);
        assert_eq!(r.code, 2, "{flag} {value}: {}", r.stderr);
        assert!(
            r.stderr.contains(flag) && r.stderr.contains("refuse"),
            "{flag} {value}: {}",
            r.stderr
        );
    }
}

/// Item 5: an 80-character ca-pin name reached `Store::save` and printed
/// "internal error … this is a bug"; every name that goes into the state
/// now meets one rule where it comes in.
#[test]
fn names_that_go_into_the_state_are_checked_where_they_come_in() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let state = env.path().join("state");
    let before = snapshot(&state);
    let long = "a".repeat(80);
    let pin = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for (args, needle) in [
        (vec!["ca-pin", "add", &long, "--pin", pin], "ca-pin name"),
        (vec!["ca-pin", "add", "a b", "--pin", pin], "ca-pin name"),
        (
            vec!["channel", "add", "okhttp", "--name", &long],
            "channel name",
        ),
    ] {
        let r = env.run(&args);
        r.fails_with(needle);
        assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
    }
    let long_place = "p".repeat(201);
    for bad in ["", " ", "safe\u{7}", long_place.as_str()] {
        env.run(&["archive", "copy", "backup1", "--to", ".", "--location", bad])
            .fails_with("copy location");
    }
    assert_eq!(snapshot(&state), before);
    env.run(&["ca-pin", "add", &"a".repeat(64), "--pin", pin])
        .ok();
}

/// Item 6: `schedule --help` and docs/cli.md showed `… | crontab -`,
/// which replaces the user's whole crontab; the README warned against it.
#[test]
fn no_example_pipes_into_crontab() {
    let help = Env::new().run(&["schedule", "--help"]);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let cli = std::fs::read_to_string(root.join("docs/cli.md")).unwrap();
    for (what, text) in [
        ("help", help.ok()),
        ("README.md", &readme),
        ("docs/cli.md", &cli),
    ] {
        assert!(text.contains("crontab -e"), "{what}");
        for l in text.lines().filter(|l| l.contains("| crontab -")) {
            assert!(l.contains("never"), "{what} pipes into crontab: {l}");
        }
    }
}

/// Item 7: a passphrase file others may read was used without a word.
/// Item 8: the hint said PINCTL_PASSPHRASE came first; the file wins.
#[test]
fn the_passphrase_file_wins_and_an_open_one_is_named() {
    use std::os::unix::fs::PermissionsExt as _;
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let file = env.path().join("pass.txt");
    std::fs::write(&file, format!("{PASS}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let export = |env: &Env, out: &str| {
        env.run(&[
            "--passphrase-file",
            "pass.txt",
            "key",
            "export",
            "backup1",
            "--out",
            out,
        ])
    };
    let r = export(&env, "k1.pem");
    r.ok();
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("pass.txt") && l.contains("0644")),
        "{}",
        r.stderr
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = export(&env, "k2.pem");
    r.ok();
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    // The file wins over the variable, and the hint says so.
    std::fs::write(&file, "not the passphrase\n").unwrap();
    let r = export(&env, "k3.pem");
    r.fails_with("wrong passphrase");
    let hint = r.stderr.lines().find(|l| l.starts_with("hint:")).unwrap();
    let (f, v) = (
        hint.find("--passphrase-file").unwrap(),
        hint.find("PINCTL_PASSPHRASE").unwrap(),
    );
    assert!(f < v, "{hint}");
}

/// Item 9: a write at a `PINCTL_NOW` ahead of the real clock recorded
/// events from the future without a word; writes at the real time are
/// then refused until that date.
#[test]
fn a_write_ahead_of_the_real_clock_says_until_when_writes_are_refused() {
    let mut env = site_env();
    at(&mut env, "2099-01-01T00:00:00Z");
    let r = env.run(&["init", "example.com", "--format", "json"]);
    one_json_document_and_a_warning(&r, "refused until 2099-01-01T00:00:00Z");
    // A read says nothing; a write at the real time is refused, as warned.
    let r = env.run(&["status"]);
    r.ok();
    assert!(
        !r.stderr.contains("ahead of the real clock"),
        "{}",
        r.stderr
    );
    env.vars.retain(|(k, _)| k != "PINCTL_NOW");
    env.run(&[
        "ca-pin",
        "add",
        "x",
        "--pin",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ])
    .fails_with("before the last recorded event");
}

/// A site whose primary is retired and may be destroyed at 2030-01-02,
/// with one offline copy of its archive in `copies/`.
fn destroyable() -> Env {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    std::fs::create_dir(env.path().join("copies")).unwrap();
    env.run(&[
        "archive",
        "copy",
        "primary",
        "--to",
        "copies",
        "--location",
        "safe A",
    ])
    .ok();
    env.run(&["policy", "--enforce", "--max-age", "86400"]).ok();
    env.run(&["publish"]).ok();
    env.run(&["rotate", "--promote", "backup1"]).ok();
    certify_key(&env, "example.com", "backup1");
    env.run(&["publish"]).ok();
    env.run(&["publish"]).ok();
    at(&mut env, "2030-01-02T00:00:00Z");
    env
}

/// Item 12: the offline copies left to destroy were not shown when the
/// unlink failed, and the unlink was not made durable (no fsync of the
/// folder after it).
#[test]
fn key_destroy_syncs_the_folder_and_names_the_copies_whatever_happens() {
    let mut env = destroyable();
    env.set("PINCTL_FAILPOINT", "unlink");
    let r = env.run(&["key", "destroy", "primary"]);
    r.fails_with("could not be deleted");
    assert!(
        r.stderr.contains("primary.key.age") && r.stderr.contains("safe A"),
        "{}",
        r.stderr
    );

    if !have(
        "strace",
        "key_destroy_syncs_the_folder_and_names_the_copies_whatever_happens",
    ) {
        return;
    }
    let env = destroyable();
    let mut c = std::process::Command::new("strace");
    c.args([
        "-f",
        "-e",
        "trace=unlink,unlinkat,fsync,fdatasync",
        "-o",
        "trace.txt",
        BIN,
        "key",
        "destroy",
        "primary",
    ])
    .current_dir(env.path())
    .env_remove("PINCTL_FAILPOINT");
    for (k, v) in &env.vars {
        c.env(k, v);
    }
    let r = Run::from(c.output().unwrap());
    r.ok();
    let trace = std::fs::read_to_string(env.path().join("trace.txt")).unwrap();
    let unlink = trace
        .lines()
        .position(|l| l.contains("unlink") && l.contains("primary.key.age\""))
        .unwrap_or_else(|| panic!("no unlink of the archive:\n{trace}"));
    assert!(
        trace.lines().skip(unlink + 1).any(|l| l.contains("fsync(")),
        "no fsync after the unlink:\n{trace}"
    );
}

/// Item 13: `Store::add_file` checked `exists()` and then wrote, so a
/// dangling symbolic link in the site folder was replaced (and a file made
/// in between would have been); it now creates the file new or refuses.
#[test]
fn a_new_state_file_never_replaces_what_holds_its_name() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let site = env.path().join("state/example.com");
    let csr = std::fs::read_to_string(site.join("primary.csr.pem")).unwrap();
    let ca = TestCa::new("Test CA");
    std::fs::write(
        env.path().join("p.pem"),
        ca.sign(&csr, (2029, 1, 1), (2031, 1, 1)),
    )
    .unwrap();
    std::os::unix::fs::symlink("/nonexistent/elsewhere", site.join("primary.cert.pem")).unwrap();
    let before = snapshot(&env.path().join("state"));
    env.run(&["cert", "add", "p.pem"])
        .fails_with("refusing to overwrite");
    assert_eq!(snapshot(&env.path().join("state")), before);
    assert!(site
        .join("primary.cert.pem")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Item 14: `Store::sites()` left out site folders it could not read, so
/// `check` said OK about a site it never saw.
#[test]
fn a_site_folder_that_cannot_be_read_is_unknown_not_left_out() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let broken = env.path().join("state/broken.example");
    std::fs::create_dir(&broken).unwrap();
    for make in [
        |p: &std::path::Path| std::fs::create_dir(p.join("site.yaml")).unwrap(),
        |p: &std::path::Path| std::os::unix::fs::symlink("gone.yaml", p.join("site.yaml")).unwrap(),
    ] {
        make(&broken);
        let r = env.run(&["check"]);
        assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.starts_with("PINCTL UNKNOWN"), "{}", r.stdout);
        assert!(r.stdout.contains("broken.example"), "{}", r.stdout);
        let r = env.run(&["check", "--format", "json"]);
        assert_eq!(r.code, 3);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["status"], "UNKNOWN");
        env.run(&["status"]).fails_with("broken.example");
        let p = broken.join("site.yaml");
        if p.is_dir() {
            std::fs::remove_dir(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    // A folder without a site file is not a site.
    env.run(&["status"]).ok();
}

/// Item 15: `check --live` appends its findings after every site's own,
/// and the summary deduplicated the unsorted list: "4 site(s)" for 2.
#[test]
fn check_live_counts_each_site_once() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    for site in ["a.example", "b.example"] {
        env.run(&["init", site]).ok();
        env.run(&[
            "--site",
            site,
            "policy",
            "--endpoint",
            "https://127.0.0.1:1/",
        ])
        .ok();
    }
    let r = env.run(&["check", "--live"]);
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(first.ends_with("in 2 site(s)"), "{}", r.stdout);
    assert!(r.stdout.contains("b.example"), "{}", r.stdout);
}

/// Item 17: `verify https://[::1]/` was refused as "not an https:// URL":
/// URLs were split by hand at the last colon.
#[test]
fn verify_takes_an_ipv6_url() {
    let env = Env::new();
    let r = env.run(&["verify", "https://[::1]:8443/", "--connect", "127.0.0.1:1"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("not an https:// URL"), "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot connect to 127.0.0.1:1"),
        "{}",
        r.stderr
    );
    env.run(&["verify", "https://example.com:99999/"])
        .fails_with("not an https:// URL");
}
