//! The safety rule at its edges, through the CLI as a user types it: each
//! test reproduces one way the adversarial trial bricked a site or broke
//! the state, and shows it is closed.

use crate::common::*;

fn at(env: &mut Env, when: &str) {
    env.set("PINCTL_NOW", when);
}

fn json(r: Run) -> serde_json::Value {
    serde_json::from_str(r.ok()).unwrap()
}

/// A folder whose archives are sealed to a fresh age identity (fast: no
/// scrypt), with `PINCTL_NOW` set.
fn recipient_env() -> (Env, String) {
    let env = Env::new().var("PINCTL_NOW", "2030-01-01T00:00:00Z");
    sh(env.path(), "age-keygen -o id.txt 2>/dev/null");
    let recipient = sh(env.path(), "age-keygen -y id.txt").trim().to_string();
    (env, recipient)
}

/// An openssl CA: a root and an intermediate it signs, in `dir`.
fn make_ca(dir: &std::path::Path, name: &str) {
    sh(
        dir,
        &format!(
            "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=keyCertSign,cRLSign\\n' > ca.ext
             openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {name}-root.key -subj /CN={name}-Root -days 5000 -out {name}-root.pem 2>/dev/null
             openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {name}-int.key -subj /CN={name}-Int -out {name}-int.csr 2>/dev/null
             openssl x509 -req -in {name}-int.csr -CA {name}-root.pem -CAkey {name}-root.key -days 5000 -set_serial 2 -extfile ca.ext -out {name}-int.pem 2>/dev/null"
        ),
    );
}

/// A leaf for `csr`, signed by `ca`'s intermediate.
fn issue(dir: &std::path::Path, ca: &str, csr: &str, out: &str) {
    sh(
        dir,
        &format!("printf 'basicConstraints=critical,CA:FALSE\\n' > leaf.ext; openssl x509 -req -in {csr} -CA {ca}-int.pem -CAkey {ca}-int.key -days 5000 -set_serial $$ -extfile leaf.ext -out {out} 2>/dev/null"),
    );
}

/// Whether openssl verifies `leaf` against `ca`'s intermediate as its
/// direct issuer (the peer's view of "does this file link up").
fn openssl_links(dir: &std::path::Path, leaf: &str, issuer: &str) -> bool {
    std::process::Command::new("openssl")
        .args(["verify", "-partial_chain", "-CAfile", issuer, leaf])
        .current_dir(dir)
        .output()
        .unwrap()
        .status
        .success()
}

/// Item 1: an intermediate appended to a leaf it never signed gave CA
/// credit, and a rotation that locks visitors out was accepted.
#[test]
fn a_chain_that_does_not_link_up_earns_no_ca_credit() {
    if !have(
        "openssl",
        "a_chain_that_does_not_link_up_earns_no_ca_credit",
    ) {
        return;
    }
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let d = env.path().to_path_buf();
    make_ca(&d, "one");
    make_ca(&d, "two");
    issue(
        &d,
        "one",
        "state/example.com/primary.csr.pem",
        "primary.pem",
    );
    sh(&d, "cat primary.pem one-int.pem > primary-chain.pem");
    let out = env.run(&["cert", "add", "primary-chain.pem"]);
    assert!(
        out.ok().contains("verified direct issuer"),
        "{}",
        out.stdout
    );
    env.run(&["ca-pin", "add", "one-int", "--from", "one-int.pem"])
        .ok();
    env.run(&["policy", "--enforce", "--max-age", "2592000"])
        .ok();
    env.run(&["publish"]).ok();
    at(&mut env, "2030-01-02T00:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();
    env.run(&["publish"]).ok();
    env.run(&["publish"]).ok();

    // backup3's leaf comes from the other CA; the file appends the pinned
    // intermediate, which never signed it. openssl agrees it does not link.
    issue(&d, "two", "state/example.com/backup3.csr.pem", "b3.pem");
    assert!(!openssl_links(&d, "b3.pem", "one-int.pem"));
    assert!(openssl_links(&d, "b3.pem", "two-int.pem"));
    sh(&d, "cat b3.pem one-int.pem > b3-lying.pem");
    let out = env.run(&["cert", "add", "b3-lying.pem"]);
    let text = out.ok();
    assert!(
        out.stderr.contains("did not sign the leaf"),
        "{}",
        out.stderr
    );
    assert!(text.contains("only its own key counts"), "{text}");
    let s = status_json(&env);
    let certs = s["sites"][0]["certificates"].as_array().unwrap();
    assert_eq!(certs.last().unwrap()["issuer_pin"], serde_json::Value::Null);

    let state = d.join("state");
    let before = snapshot(&state);
    let refused = env.run(&["rotate", "--promote", "backup3"]);
    refused.fails_with("would lock out visitors");
    assert!(
        refused.stderr.contains("publication 1"),
        "{}",
        refused.stderr
    );
    assert_eq!(snapshot(&state), before);

    // Reordered (root before the intermediate): warned, no credit.
    issue(&d, "one", "state/example.com/backup2.csr.pem", "b2.pem");
    sh(&d, "cat b2.pem one-root.pem one-int.pem > b2-reordered.pem");
    let reordered = env.run(&["cert", "add", "b2-reordered.pem"]);
    reordered.ok();
    assert!(
        reordered.stderr.contains("did not sign the leaf"),
        "{}",
        reordered.stderr
    );
    // In order, with the root: the intermediate counts, the root does not.
    sh(&d, "cat b2.pem one-int.pem one-root.pem > b2-full.pem");
    assert!(openssl_links(&d, "b2.pem", "one-int.pem"));
    let full = env.run(&["cert", "add", "b2-full.pem"]);
    assert!(
        full.ok().contains("verified direct issuer"),
        "{}",
        full.stdout
    );
    assert!(full.stderr.contains("count for nothing"), "{}", full.stderr);
    let int_pin = sh(&d, "openssl x509 -in one-int.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64");
    let s = status_json(&env);
    let certs = s["sites"][0]["certificates"].as_array().unwrap();
    assert_eq!(certs.last().unwrap()["issuer_pin"], int_pin.trim());
}

/// Item 2: includeSubDomains on a parent bound a subdomain site to pins
/// it does not serve, and the subdomain's own checks ignored the parent.
#[test]
fn include_subdomains_binds_subdomain_sites_both_ways() {
    if !have(
        "age-keygen",
        "include_subdomains_binds_subdomain_sites_both_ways",
    ) {
        return;
    }
    let (mut env, r) = recipient_env();
    env.run(&["init", "example.com", "--recipient", &r]).ok();
    // Two labels down, with no site in between.
    env.run(&["init", "a.b.example.com", "--recipient", &r])
        .ok();
    let parent = ["--site", "example.com"];
    let child = ["--site", "a.b.example.com"];
    let with = |site: &[&str; 2], args: &[&str]| -> Vec<String> {
        site.iter().chain(args).map(|s| s.to_string()).collect()
    };
    let run = |env: &Env, v: Vec<String>| {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        env.run(&a)
    };
    run(
        &env,
        with(
            &parent,
            &[
                "policy",
                "--enforce",
                "--max-age",
                "600",
                "--include-subdomains",
            ],
        ),
    )
    .ok();
    let state = env.path().join("state");
    let before = snapshot(&state);
    let refused = run(&env, with(&parent, &["publish"]));
    refused.fails_with("a.b.example.com");
    assert!(refused.stderr.contains("key primary"), "{}", refused.stderr);
    assert_eq!(snapshot(&state), before);

    // The parent's pinset takes the child's key: published, with a warning
    // that unmanaged subdomains are bound too.
    let child_pin = status_json_of(&env, "a.b.example.com")["sites"][0]["keys"][0]["pin"]
        .as_str()
        .unwrap()
        .to_string();
    run(
        &env,
        with(
            &parent,
            &["ca-pin", "add", "ab-primary", "--pin", &child_pin],
        ),
    )
    .ok();
    let out = run(&env, with(&parent, &["publish"]));
    out.ok();
    assert!(
        out.stderr.contains("also those pinctl does not manage"),
        "{}",
        out.stderr
    );

    // The child may no longer promote a backup its parent's pinset lacks.
    at(&mut env, "2030-01-01T00:01:00Z");
    let refused = run(&env, with(&child, &["rotate", "--promote", "backup1"]));
    refused.fails_with("example.com's includeSubDomains publication 1");
    let plan = run(&env, with(&child, &["status", "--format", "json"]));
    let s: serde_json::Value = serde_json::from_str(plan.ok()).unwrap();
    assert_eq!(
        s["sites"][0]["keys"][1]["safe_from"],
        serde_json::Value::Null
    );

    // A subdomain site made later is told, and its first header refused.
    let out = env.run(&["init", "api.example.com", "--recipient", &r]);
    out.ok();
    assert!(
        out.stderr
            .contains("example.com publishes includeSubDomains"),
        "{}",
        out.stderr
    );
    env.run(&["--site", "api.example.com", "publish"])
        .fails_with("example.com's includeSubDomains publication 1");
}

/// The severity of the finding with `code`, if there is one.
fn finding(check: &serde_json::Value, code: &str) -> Option<String> {
    check["findings"]
        .as_array()?
        .iter()
        .find(|f| f["code"] == code)
        .and_then(|f| f["severity"].as_str().map(str::to_string))
}

/// `check --format json`, whatever its exit code.
fn check_json(env: &Env) -> serde_json::Value {
    serde_json::from_str(&env.run(&["check", "--format", "json"]).stdout).unwrap()
}

fn status_json_of(env: &Env, site: &str) -> serde_json::Value {
    serde_json::from_str(
        env.run(&["--site", site, "status", "--format", "json"])
            .ok(),
    )
    .unwrap()
}

/// Item 3, with a compromise: the forced header that drops the leaked pin
/// is recorded at once, saying who stays locked out.
#[test]
fn a_compromise_forced_through_is_published_at_once() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["policy", "--enforce", "--max-age", "2592000"])
        .ok();
    env.run(&["publish"]).ok();
    env.run(&["rotate", "--promote", "backup1"]).ok();
    certify_key(&env, "example.com", "backup1");
    env.run(&["publish"]).ok();
    env.run(&["publish"]).ok();
    at(&mut env, "2030-01-05T00:00:00Z");
    // backup1 leaks; backup3 is the only backup not in use elsewhere, and
    // publication 1 lacks it.
    env.run(&["rotate", "--promote", "backup3", "--compromised"])
        .fails_with("would lock out visitors");
    let forced = env.run(&["rotate", "--promote", "backup3", "--compromised", "--force"]);
    forced.ok();
    assert!(
        forced.stderr.contains("warning: forced"),
        "{}",
        forced.stderr
    );
    let header = env.run(&["header"]).ok().trim().to_string();
    let leaked = status_json(&env)["sites"][0]["keys"][1]["pin"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!header.contains(&leaked));
    let published = env.run(&["publish"]);
    let text = published.ok().to_string();
    assert!(text.contains(&header), "{text}");
    assert!(
        published
            .stderr
            .contains("locked out until 2030-01-31T00:00:00Z"),
        "{}",
        published.stderr
    );
    let s = status_json(&env);
    assert_eq!(s["sites"][0]["live"]["header"], header.as_str());
}

/// Item 4: `header`, `snippet`, `publish` and `status` show one header at
/// every step of the worked example (docs/design.md#a-worked-example).
#[test]
fn every_surface_shows_the_header_that_is_recorded() {
    let mut env = site_env();
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let steps: &[(&str, &[&str])] = &[
        (
            "2030-03-10T00:00:00Z",
            &["policy", "--enforce", "--max-age", "2592000"],
        ),
        ("2030-04-01T00:00:00Z", &["rotate", "--promote", "backup1"]),
        ("2030-04-02T00:00:00Z", &[]),
        (
            "2030-04-20T00:00:00Z",
            &["rotate", "--promote", "backup2", "--compromised"],
        ),
    ];
    for (when, before) in steps {
        at(&mut env, when);
        if !before.is_empty() {
            env.run(before).ok();
            if before[0] == "rotate" {
                certify_key(&env, "example.com", before[2]);
            }
        }
        let header = env.run(&["header"]).ok().trim().to_string();
        let value = header.split_once(": ").unwrap().1.to_string();
        let snippet = env.run(&["snippet", "--server", "nginx"]).ok().to_string();
        assert!(snippet.contains(&value), "{when}: {snippet}");
        let s = status_json(&env);
        assert_eq!(s["sites"][0]["desired_header"], header.as_str(), "{when}");
        let published = env.run(&["publish"]).ok().to_string();
        assert_eq!(
            published.lines().nth(1).unwrap().trim(),
            header,
            "{when}: publish printed another header"
        );
        let s = status_json(&env);
        assert_eq!(s["sites"][0]["live"]["header"], header.as_str(), "{when}");
        let yaml = std::fs::read_to_string(env.path().join("state/example.com/site.yaml")).unwrap();
        for pin in value.split("pin-sha256=\"").skip(1) {
            let pin = pin.split('"').next().unwrap();
            assert!(yaml.contains(pin));
        }
    }
}

/// Item 5: `key destroy` ends a retired key when the plan says so, and a
/// destroyed key is a recorded state, not an error.
#[test]
fn key_destroy_records_the_end_of_a_key() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["policy", "--enforce", "--max-age", "86400"]).ok();
    env.run(&["publish"]).ok();
    env.run(&["rotate", "--promote", "backup1"]).ok();
    env.run(&["key", "destroy", "backup2"])
        .fails_with("only a retired or compromised key");
    certify_key(&env, "example.com", "backup1");
    env.run(&["publish"]).ok();
    env.run(&["publish"]).ok();
    let plan = json(env.run(&["plan", "--format", "json"]));
    let step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "destroy")
        .expect("a destroy step")
        .clone();
    assert_eq!(step["command"], "pinctl key destroy primary");
    assert_eq!(step["not_before"], "2030-01-02T00:00:00Z");
    env.run(&["key", "destroy", "primary"])
        .fails_with("may be destroyed from 2030-01-02T00:00:00Z");
    at(&mut env, "2030-01-02T00:00:00Z");
    let text = env.run(&["key", "destroy", "primary"]).ok().to_string();
    assert!(text.contains("destroyed"), "{text}");
    assert!(!env
        .path()
        .join("state/example.com/primary.key.age")
        .exists());
    let s = status_json(&env);
    assert_eq!(s["sites"][0]["keys"][0]["name"], "primary");
    let check = env.run(&["check"]);
    assert_ne!(check.code, 3, "{}", check.stdout);
    assert!(!env
        .run(&["plan"])
        .ok()
        .contains("pinctl key destroy primary"));
    env.run(&["key", "destroy", "primary"])
        .fails_with("destroyed on 2030-01-02T00:00:00Z already");
    // A live key's archive that goes missing is still an error, with a hint.
    std::fs::remove_file(env.path().join("state/example.com/backup2.key.age")).unwrap();
    let r = env.run(&["status"]);
    r.fails_with("backup2.key.age");
    assert!(r.stderr.contains("offline copy"), "{}", r.stderr);
}

/// Item 6: every plan command is a real pinctl command; messages about
/// max-age=0 are true.
#[test]
fn plan_steps_are_real_commands_and_max_age_zero_is_named_right() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let check_plan = |env: &Env| {
        for args in [
            vec!["plan", "--format", "json"],
            vec!["plan", "--promote", "backup2", "--format", "json"],
        ] {
            let plan = json(env.run(&args));
            for s in plan["steps"].as_array().unwrap() {
                let Some(c) = s["command"].as_str() else {
                    continue;
                };
                for part in c.split("&&").map(|p| p.split('#').next().unwrap().trim()) {
                    if part.is_empty() {
                        continue;
                    }
                    let words: Vec<&str> = part.split_whitespace().collect();
                    assert_eq!(words[0], "pinctl", "{c}");
                    let sub: Vec<&str> = words[1..]
                        .iter()
                        .take_while(|w| {
                            w.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-')
                                && !w.starts_with('-')
                        })
                        .take(2)
                        .copied()
                        .collect();
                    let mut help = sub.clone();
                    help.push("--help");
                    assert_eq!(env.run(&help).code, 0, "{c}: not a pinctl command");
                }
            }
        }
    };
    check_plan(&env);
    env.run(&["policy", "--enforce", "--max-age", "300"]).ok();
    env.run(&["publish"]).ok();
    check_plan(&env);
    env.run(&["rotate", "--promote", "backup1"]).ok();
    check_plan(&env);
    at(&mut env, "2030-01-02T00:00:00Z");
    env.run(&["policy", "--max-age", "0"]).ok();
    env.run(&["publish"]).ok();
    let text = env.run(&["status"]).ok().to_string();
    assert!(
        text.contains("max-age=0: clients that see it forget"),
        "{text}"
    );
    assert!(!text.contains("retained by clients until"), "{text}");
    env.run(&["policy", "--max-age", "300"]).ok();
    let text = env.run(&["publish"]).ok().to_string();
    assert!(
        text.contains("(max-age=0: retained by no client)"),
        "{text}"
    );
    check_plan(&env);
}

/// Item 7: a ca-pin value carrying a header fragment was stored and broke
/// every later command; only a CA certificate is taken from a file.
#[test]
fn ca_pin_add_takes_only_a_pin_or_a_ca_certificate() {
    if !have("openssl", "ca_pin_add_takes_only_a_pin_or_a_ca_certificate") {
        return;
    }
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let d = env.path().to_path_buf();
    let state = d.join("state");
    let before = snapshot(&state);
    let a = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";
    let evil = format!("{a}\"; pin-sha256=\"{a}");
    env.run(&["ca-pin", "add", "evil", "--pin", &evil])
        .fails_with("not valid base64");
    // Valid base64 of 32 bytes but not canonical (trailing bits set).
    env.run(&[
        "ca-pin",
        "add",
        "odd",
        "--pin",
        "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmN=",
    ])
    .fails_with("not valid base64");
    make_ca(&d, "one");
    issue(&d, "one", "state/example.com/primary.csr.pem", "leaf.pem");
    for (file, needle) in [
        ("one-int.key", "private-key"),
        ("state/example.com/backup1.csr.pem", "csr"),
        ("leaf.pem", "not a CA"),
    ] {
        env.run(&["ca-pin", "add", "x", "--from", file])
            .fails_with(needle);
    }
    assert_eq!(snapshot(&state), before);
    env.run(&["ca-pin", "add", "one-int", "--from", "one-int.pem"])
        .ok();
    env.run(&["status"]).ok();
}

/// Item 8: a symbolic link planted as `state/.lock` made pinctl empty the
/// file it points to.
#[test]
fn a_planted_lock_link_is_refused_and_its_target_untouched() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let d = env.path();
    std::fs::write(d.join("precious.txt"), "keep me").unwrap();
    std::fs::remove_file(d.join("state/.lock")).ok();
    std::os::unix::fs::symlink(d.join("precious.txt"), d.join("state/.lock")).unwrap();
    env.run(&["policy", "--max-age", "600"])
        .fails_with("symbolic link");
    assert_eq!(
        std::fs::read_to_string(d.join("precious.txt")).unwrap(),
        "keep me"
    );
    // A hard link is not pinctl's own file either.
    std::fs::remove_file(d.join("state/.lock")).unwrap();
    std::fs::hard_link(d.join("precious.txt"), d.join("state/.lock")).unwrap();
    env.run(&["policy", "--max-age", "600"])
        .fails_with("not pinctl's own lock file");
    assert_eq!(
        std::fs::read_to_string(d.join("precious.txt")).unwrap(),
        "keep me"
    );
    std::fs::remove_file(d.join("state/.lock")).unwrap();
    env.run(&["policy", "--max-age", "600"]).ok();
}

/// Item 9: editing `encryption.recipients` in site.yaml silently sealed the
/// next backups to a stranger.
#[test]
fn edited_recipients_are_refused_until_confirmed() {
    if !have(
        "age-keygen",
        "edited_recipients_are_refused_until_confirmed",
    ) {
        return;
    }
    let (env, r) = recipient_env();
    env.run(&["init", "example.com", "--recipient", &r]).ok();
    sh(env.path(), "age-keygen -o stranger.txt 2>/dev/null");
    let stranger = sh(env.path(), "age-keygen -y stranger.txt")
        .trim()
        .to_string();
    let site = env.path().join("state/example.com/site.yaml");
    let yaml = std::fs::read_to_string(&site).unwrap();
    std::fs::write(
        &site,
        yaml.replacen(&format!("- {r}"), &format!("- {stranger}"), 1),
    )
    .unwrap();
    let state = env.path().join("state");
    let before = snapshot(&state);
    let refused = env.run(&["rotate", "--promote", "backup1"]);
    refused.fails_with("--accept-recipients");
    assert!(refused.stderr.contains(&stranger) && refused.stderr.contains(&r));
    assert_eq!(snapshot(&state), before);
    assert_eq!(
        finding(&check_json(&env), "recipients-changed"),
        Some("WARNING".into())
    );
    let rotated = env.run(&["rotate", "--promote", "backup1", "--accept-recipients"]);
    rotated.ok();
    assert!(rotated.stderr.contains("sealed to"), "{}", rotated.stderr);
    assert_eq!(finding(&check_json(&env), "recipients-changed"), None);
}

/// Item 10: a full disk during `rotate` left new CSRs and archives behind
/// while site.yaml was unchanged.
#[test]
fn a_full_disk_during_rotate_leaves_the_state_as_it_was() {
    if !have(
        "age-keygen",
        "a_full_disk_during_rotate_leaves_the_state_as_it_was",
    ) {
        return;
    }
    let (env, r) = recipient_env();
    env.run(&["init", "example.com", "--recipient", &r]).ok();
    let state = env.path().join("state");
    let before = snapshot(&state);
    // The new CSR and archive fit in 512 bytes each; site.yaml does not.
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 1; exec '{BIN}' rotate --promote backup1"
        ))
        .current_dir(env.path())
        .env("PINCTL_NOW", "2030-01-01T00:00:00Z")
        .output()
        .unwrap();
    Run::from(o).fails_with("cannot write");
    assert_eq!(snapshot(&state), before);
    env.run(&["rotate", "--promote", "backup1"]).ok();
}

/// A version-1 state (before issuer credit, sealing records and key
/// destruction, before channels) is read as it is and written back as
/// the current version.
#[test]
fn a_version_1_state_is_read_and_upgraded_on_the_next_write() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let site = env.path().join("state/example.com/site.yaml");
    let yaml = std::fs::read_to_string(&site).unwrap();
    let v1: String = yaml
        .replacen("version: 4", "version: 1", 1)
        .lines()
        .filter(|l| !l.trim_start().starts_with("sealed_to:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!v1.contains("sealed_to"));
    std::fs::write(&site, &v1).unwrap();
    env.run(&["status"]).ok();
    assert_eq!(
        std::fs::read_to_string(&site).unwrap(),
        v1,
        "read-only commands do not rewrite"
    );
    env.run(&["policy", "--max-age", "600"]).ok();
    let upgraded = std::fs::read_to_string(&site).unwrap();
    assert!(upgraded.starts_with("version: 4\n"), "{upgraded}");
    // Archives from before version 2 recorded no recipients: no warning.
    assert_eq!(finding(&check_json(&env), "recipients-changed"), None);
}
