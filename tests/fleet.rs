//! A fleet's `status` and `check`, whose sites are loaded, judged and
//! printed on every core (benches/fleet.sh), say byte for byte what the
//! same sites' own runs say, in the order of their names.

use crate::common::*;

/// The seed site and `n` copies of it under other names, as
/// benches/fleet.sh makes a fleet.
fn fleet(n: usize) -> (Env, Vec<String>) {
    fleet_named(&[], |i| format!("site{i}.example"), n)
}

/// The seed site (its header published with `policy` options first) and
/// `n` copies of it named `name(1..=n)`.
fn fleet_named(policy: &[&str], name: impl Fn(usize) -> String, n: usize) -> (Env, Vec<String>) {
    let env = site_env();
    env.run(&["init", "seed.example"]).ok();
    env.run(&["channel", "add", "dns", "--ttl", "3600"]).ok();
    env.run(&["publish", "--channel", "dns"]).ok();
    certify_key(&env, "seed.example", "primary");
    if !policy.is_empty() {
        let mut args = vec!["policy"];
        args.extend(policy);
        env.run(&args).ok();
    }
    env.run(&["publish"]).ok();
    let state = env.path().join("state");
    let seed = state.join("seed.example");
    let yaml = std::fs::read_to_string(seed.join("site.yaml")).unwrap();
    let mut names = vec!["seed.example".to_string()];
    for i in 1..=n {
        let d = name(i);
        let dir = state.join(&d);
        std::fs::create_dir(&dir).unwrap();
        for f in std::fs::read_dir(&seed).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.join(f.file_name())).unwrap();
        }
        let text = yaml.replace("\ndomain: seed.example\n", &format!("\ndomain: {d}\n"));
        std::fs::write(dir.join("site.yaml"), text).unwrap();
        names.push(d);
    }
    names.sort();
    (env, names)
}

fn stdout(env: &Env, args: &[&str]) -> String {
    let o = env.cmd(args).output().unwrap();
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn fleet_outputs_are_each_sites_own() {
    // More sites than one core loads.
    let (env, names) = fleet(40);
    same_as_each_sites_own(&env, &names);
}

#[test]
fn fleet_of_related_sites_says_what_each_site_says() {
    // Sites below an includeSubDomains parent are related to it (its
    // pinsets reach them, their keys must be in its header), and so are
    // the copies, which are served on the parent's name through its
    // certificate: a fleet loads those again with their neighbours, and
    // must say what each site's own run says.
    let (env, names) = fleet_named(
        &["--enforce", "--max-age", "86400", "--include-subdomains"],
        |i| {
            if i % 3 == 0 {
                format!("other{i}.example")
            } else {
                format!("c{i}.seed.example")
            }
        },
        40,
    );
    // A child with keys of its own, which the parent's header lacks.
    let (env, mut names) = (env, names);
    env.run(&["init", "own.seed.example"]).ok();
    names.push("own.seed.example".into());
    names.sort();
    let own = stdout(&env, &["--site", "own.seed.example", "check"]);
    assert!(
        own.contains(".example's publication 2 (reaching this site) lacks"),
        "{own}"
    );
    same_as_each_sites_own(&env, &names);
}

/// `status` and `check` of the whole fleet, text and JSON, against each
/// site's own runs.
fn same_as_each_sites_own(env: &Env, names: &[String]) {
    let whole = stdout(env, &["status", "--format", "json"]);
    let each: Vec<serde_json::Value> = names
        .iter()
        .map(|d| {
            let v: serde_json::Value =
                serde_json::from_str(&stdout(env, &["--site", d, "status", "--format", "json"]))
                    .unwrap();
            v["sites"][0].clone()
        })
        .collect();
    let expected = serde_json::to_string_pretty(&serde_json::json!({ "sites": each })).unwrap();
    assert_eq!(whole, expected + "\n");

    let whole = stdout(env, &["status"]);
    let each: Vec<String> = names
        .iter()
        .map(|d| stdout(env, &["--site", d, "status"]))
        .collect();
    assert_eq!(whole, each.join("\n"));

    let whole = stdout(env, &["check", "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_str(&whole).unwrap();
    let mut findings = Vec::new();
    for d in names {
        let v: serde_json::Value =
            serde_json::from_str(&stdout(env, &["--site", d, "check", "--format", "json"]))
                .unwrap();
        findings.extend(v["findings"].as_array().unwrap().iter().cloned());
    }
    assert!(!findings.is_empty());
    let expected = serde_json::to_string_pretty(
        &serde_json::json!({ "status": parsed["status"], "findings": findings }),
    )
    .unwrap();
    assert_eq!(whole, expected + "\n");

    let whole = stdout(env, &["check", "--verbose"]);
    let body: Vec<&str> = whole.lines().skip(1).collect();
    let mut each = Vec::new();
    for d in names {
        let one = stdout(env, &["--site", d, "check", "--verbose"]);
        each.extend(one.lines().skip(1).map(str::to_string));
    }
    assert_eq!(body, each);
    assert!(whole.starts_with(&format!("PINCTL {} - ", parsed["status"].as_str().unwrap())));
}

/// `path`'s CSR with its DER changed by `change`.
fn rewrite_csr(path: &std::path::Path, change: impl FnOnce(&mut Vec<u8>)) {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let text = std::fs::read_to_string(path).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = b64.decode(body).unwrap();
    change(&mut der);
    let b = b64.encode(&der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    std::fs::write(
        path,
        format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            lines.join("\n")
        ),
    )
    .unwrap();
}

/// Where the contents of the DER element at `at` start.
fn after_len(der: &[u8], at: usize) -> usize {
    match der[at + 1] {
        n if n < 0x80 => at + 2,
        n => at + 2 + usize::from(n & 0x7f),
    }
}

/// `path`'s CSR with its version made negative: well formed DER, with
/// the same public key, that no PKCS#10 parser accepts.
pub fn tamper_csr_version(path: &std::path::Path) {
    rewrite_csr(path, |der| {
        let version = after_len(der, after_len(der, 0));
        assert_eq!(&der[version..version + 3], [0x02, 0x01, 0x00]);
        der[version + 2] = 0xff;
    });
}

/// `path`'s CSR with its key's BIT STRING a byte shorter than the key's
/// SEQUENCE says: the CSR's parser skips the byte left over, the key's
/// own parse refuses it.
fn cut_csr_key_short(path: &std::path::Path) {
    rewrite_csr(path, |der| {
        let version = after_len(der, after_len(der, 0));
        let subject = version + 3;
        assert_eq!(der[subject], 0x30);
        // A short subject: its length is one byte.
        assert!(der[subject + 1] < 0x80);
        let spki = subject + 2 + usize::from(der[subject + 1]);
        let algorithm = after_len(der, spki);
        assert!(der[algorithm + 1] < 0x80);
        let bits = algorithm + 2 + usize::from(der[algorithm + 1]);
        assert_eq!(der[bits], 0x03);
        // The last byte of its length, short or long form.
        let len_end = after_len(der, bits) - 1;
        der[len_end] -= 1;
    });
}

#[test]
fn a_tampered_stored_csr_is_the_error_it_was() {
    // A stored CSR that is no CSR any more (its public key intact) is
    // damage or tampering: `status` and `check` say so, as they did
    // before a CSR's pin was read by a lazy walk.
    let (env, _) = fleet(40);
    let csr = env.path().join("state/site7.example/primary.csr.pem");
    tamper_csr_version(&csr);
    let error = "state/site7.example/primary.csr.pem: PEM block 1 (CERTIFICATE REQUEST): not a valid PKCS#10 CSR: Parsing Error: InvalidVersion";
    for args in [&["status"][..], &["--site", "site7.example", "status"]] {
        env.run(args).fails_with(error);
    }
    let o = env.run(&["check"]);
    assert_eq!(o.code, 3, "{}", o.stdout);
    assert_eq!(o.stdout, format!("PINCTL UNKNOWN - {error}\n"));
}

#[test]
fn a_stored_csr_whose_key_is_cut_short_is_the_error_it_was() {
    // The CSR parses but its key does not: the full parse's error, as
    // before (pinctl before #27 said this), not a pin that then fails to
    // match the recorded one.
    let (env, _) = fleet(2);
    let csr = env.path().join("state/site1.example/primary.csr.pem");
    cut_csr_key_short(&csr);
    let error = "state/site1.example/primary.csr.pem: PEM block 1 (CERTIFICATE REQUEST): not a valid SubjectPublicKeyInfo: Parsing Error: NomError(Eof)";
    for args in [&["status"][..], &["--site", "site1.example", "status"]] {
        env.run(args).fails_with(error);
    }
    let o = env.run(&["check"]);
    assert_eq!(o.code, 3, "{}", o.stdout);
    assert_eq!(o.stdout, format!("PINCTL UNKNOWN - {error}\n"));
}

#[test]
fn the_chosen_sites_error_comes_before_another_folders() {
    // `--site X` reads X before it lists the folder (as it did): X's own
    // damage is the error, not another folder's.
    let (env, _) = fleet(2);
    let state = env.path().join("state");
    let archive = state.join("site1.example/primary.key.age");
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(b'x');
    std::fs::write(&archive, bytes).unwrap();
    let other = state.join("site2.example/site.yaml");
    std::fs::remove_file(&other).unwrap();
    std::fs::create_dir(&other).unwrap();
    let error = "error: state/site1.example/primary.key.age: archive of key primary does not match its recorded checksum (damaged or tampered)";
    for args in [
        &["--site", "site1.example", "status"][..],
        &["--site", "site1.example", "status", "--format", "json"],
    ] {
        let o = env.run(args);
        o.fails_with(error);
        assert!(o.stderr.starts_with(&format!("{error}\n")), "{}", o.stderr);
    }
    for args in [
        &["--site", "site1.example", "check"][..],
        &["--site", "site1.example", "check", "--live"],
    ] {
        let o = env.run(args);
        assert_eq!((o.code, o.stderr.lines().next()), (3, Some(error)));
    }
    let o = env.run(&["--site", "site1.example", "channel", "list"]);
    o.fails_with(error);
    assert!(o.stderr.starts_with(&format!("{error}\n")), "{}", o.stderr);
}

#[test]
fn a_sites_error_comes_before_the_report_stores() {
    // `check` reads the sites, then the report store (as it did): a
    // damaged site is the error even when the store is damaged too.
    let (env, _) = fleet(2);
    let state = env.path().join("state");
    let archive = state.join("site2.example/primary.key.age");
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(b'x');
    std::fs::write(&archive, bytes).unwrap();
    std::fs::write(state.join("reports.sqlite"), "not a database\n").unwrap();
    let error = "state/site2.example/primary.key.age: archive of key primary does not match its recorded checksum (damaged or tampered)";
    for args in [&["check"][..], &["--site", "site2.example", "check"]] {
        let o = env.run(args);
        assert_eq!(o.code, 3, "{}", o.stderr);
        assert_eq!(o.stdout, format!("PINCTL UNKNOWN - {error}\n"));
    }
    let o = env.run(&["check", "--database", "/nonexistent/reports.sqlite"]);
    assert_eq!(o.stdout, format!("PINCTL UNKNOWN - {error}\n"));
}
