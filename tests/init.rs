//! `init`, `import`, `status`, `key export`, `archive copy|verify`: keys,
//! CSRs and archives checked against openssl and the age CLI; bad input
//! leaves the state byte-for-byte unchanged.

use crate::common::*;

fn der_of_pem(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[test]
fn init_with_a_passphrase_checked_against_openssl_and_age() {
    let env = site_env();
    let out = env.run(&[
        "init",
        "example.com",
        "--san",
        "www.example.com",
        "--san",
        "*.example.com",
    ]);
    let text = out.ok();
    assert!(text.contains("Public-Key-Pins-Report-Only: pin-sha256="));
    assert!(text.contains("pinctl archive copy"));
    let state = env.path().join("state");
    let site = state.join("example.com");
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&site), 0o700);
    let status = status_json(&env);
    let keys = status["sites"][0]["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0]["role"], "active");
    assert_eq!(status["sites"][0]["policy"]["mode"], "report-only");
    let files = all_files(&state);
    let have_openssl = have(
        "openssl",
        "init_with_a_passphrase_checked_against_openssl_and_age",
    );
    let mut ders = Vec::new();
    for k in &keys {
        let name = k["name"].as_str().unwrap();
        let pin = k["pin"].as_str().unwrap();
        assert_eq!(mode(&site.join(format!("{name}.key.age"))), 0o600);
        let exported = env.path().join(format!("{name}.pem"));
        env.run(&["key", "export", name, "--out", exported.to_str().unwrap()])
            .ok();
        assert_eq!(mode(&exported), 0o600);
        let pem = std::fs::read_to_string(&exported).unwrap();
        ders.push(der_of_pem(&pem));
        if have_openssl {
            assert_eq!(
                openssl_pin_of_key(env.path(), exported.to_str().unwrap()),
                pin
            );
            let csr = site.join(format!("{name}.csr.pem"));
            let csr = csr.to_str().unwrap();
            sh(
                env.path(),
                &format!("openssl req -verify -noout -in '{csr}'"),
            );
            let csr_pin = sh(env.path(), &format!(
                "openssl req -in '{csr}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"
            ));
            assert_eq!(csr_pin.trim(), pin);
            let text = sh(env.path(), &format!("openssl req -in '{csr}' -noout -text"));
            assert!(
                text.contains("CN = example.com") || text.contains("CN=example.com"),
                "{text}"
            );
            assert!(text.contains("DNS:www.example.com") && text.contains("DNS:*.example.com"));
        }
    }
    // No private key in the clear anywhere in the state folder.
    for (path, bytes) in &files {
        let s = String::from_utf8_lossy(bytes);
        assert!(!s.contains("PRIVATE KEY"), "{}", path.display());
        for der in &ders {
            assert!(
                !bytes.windows(der.len()).any(|w| w == der.as_slice()),
                "{}",
                path.display()
            );
            // The private scalar/exponent sits at the end of short EC keys.
            let tail = &der[der.len() - 40..];
            assert!(
                !bytes.windows(tail.len()).any(|w| w == tail),
                "{}",
                path.display()
            );
        }
    }
    if have(
        "age",
        "init_with_a_passphrase_checked_against_openssl_and_age",
    ) {
        let o = age_on_pty(
            env.path(),
            "-d -o from-age.pem state/example.com/backup1.key.age",
            &[PASS],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        let from_age = std::fs::read_to_string(env.path().join("from-age.pem")).unwrap();
        assert_eq!(der_of_pem(&from_age), ders[1]);
        // And pinctl reads a passphrase archive the age CLI wrote.
        let o = age_on_pty(env.path(), "-p -o cli.age from-age.pem", &[PASS, PASS]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        let cli = std::fs::read(env.path().join("cli.age")).unwrap();
        let old = std::fs::read(site.join("backup1.key.age")).unwrap();
        std::fs::write(site.join("backup1.key.age"), &cli).unwrap();
        let yaml = std::fs::read_to_string(site.join("site.yaml")).unwrap();
        std::fs::write(
            site.join("site.yaml"),
            yaml.replace(&sha_hex(&old), &sha_hex(&cli)),
        )
        .unwrap();
        env.run(&["key", "export", "backup1", "--out", "again.pem"])
            .ok();
        let again = std::fs::read_to_string(env.path().join("again.pem")).unwrap();
        assert_eq!(der_of_pem(&again), ders[1]);
    }
}

#[test]
fn init_with_recipients_and_archives_written_by_the_age_cli() {
    if !have(
        "age-keygen",
        "init_with_recipients_and_archives_written_by_the_age_cli",
    ) {
        return;
    }
    let env = site_env().var("PINCTL_PASSPHRASE", "");
    let d = env.path();
    sh(
        d,
        "age-keygen -o id.txt 2>/dev/null && age-keygen -y id.txt > rec.txt",
    );
    sh(d, "age-keygen -o id2.txt 2>/dev/null");
    let rec = std::fs::read_to_string(d.join("rec.txt")).unwrap();
    let rec2 = sh(d, "age-keygen -y id2.txt");
    std::fs::write(d.join("recipients"), format!("# team\n{}", rec2)).unwrap();
    env.run(&[
        "init",
        "example.org",
        "--recipient",
        rec.trim(),
        "--recipients-file",
        "recipients",
        "--armor",
    ])
    .ok();
    let site = d.join("state/example.org");
    let armored = std::fs::read_to_string(site.join("primary.key.age")).unwrap();
    assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    // The age CLI opens every archive, with either operator's identity.
    for (name, id) in [
        ("primary", "id.txt"),
        ("backup1", "id2.txt"),
        ("backup2", "id.txt"),
    ] {
        let pem = sh(
            d,
            &format!("age -d -i {id} state/example.org/{name}.key.age"),
        );
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
    // The recipients are remembered (public) in the state.
    let yaml = std::fs::read_to_string(site.join("site.yaml")).unwrap();
    assert!(yaml.contains(rec.trim()) && yaml.contains(rec2.trim()));
    // An archive written by the age CLI is read by pinctl.
    sh(
        d,
        "age -d -i id.txt state/example.org/backup1.key.age > plain.pem",
    );
    sh(d, &format!("age -r {} -o cli.age plain.pem", rec.trim()));
    let cli = std::fs::read(d.join("cli.age")).unwrap();
    let old = std::fs::read(site.join("backup1.key.age")).unwrap();
    std::fs::write(site.join("backup1.key.age"), &cli).unwrap();
    let yaml = yaml.replace(&sha_hex(&old), &sha_hex(&cli));
    std::fs::write(site.join("site.yaml"), yaml).unwrap();
    let out = env.run(&[
        "key",
        "export",
        "backup1",
        "--out",
        "exported.pem",
        "--identity",
        "id.txt",
    ]);
    out.ok();
    let a = std::fs::read_to_string(d.join("exported.pem")).unwrap();
    let b = std::fs::read_to_string(d.join("plain.pem")).unwrap();
    assert_eq!(a, b);
    // Without an identity, a clear error.
    env.run(&["key", "export", "primary", "--out", "p.pem"])
        .fails_with("--identity");
}

fn sha_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn ssh_recipients_are_accepted() {
    if !have("ssh-keygen", "ssh_recipients_are_accepted") {
        return;
    }
    let env = site_env();
    sh(env.path(), "ssh-keygen -q -t ed25519 -N '' -f id_ed25519");
    let pubkey = std::fs::read_to_string(env.path().join("id_ed25519.pub")).unwrap();
    env.run(&["init", "ssh.example.com", "--recipient", pubkey.trim()])
        .ok();
    if have("age", "ssh_recipients_are_accepted") {
        let pem = sh(
            env.path(),
            "age -d -i id_ed25519 state/ssh.example.com/primary.key.age",
        );
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}

#[test]
fn rsa_and_mixed_key_types() {
    let env = site_env();
    env.run(&[
        "init",
        "rsa.example.com",
        "--key-type",
        "rsa2048",
        "--backup-key-type",
        "p384",
        "--backups",
        "3",
    ])
    .ok();
    let v = status_json(&env);
    let types: Vec<&str> = v["sites"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["rsa2048", "p384", "p384", "p384"]);
    if have("openssl", "rsa_and_mixed_key_types") {
        sh(
            env.path(),
            "openssl req -verify -noout -in state/rsa.example.com/primary.csr.pem",
        );
        sh(
            env.path(),
            "openssl req -verify -noout -in state/rsa.example.com/backup3.csr.pem",
        );
    }
}

#[test]
fn an_existing_open_state_folder_is_made_private() {
    let env = site_env();
    let state = env.path().join("state");
    std::fs::create_dir(&state).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    // Others lose everything and the group its write; the group's read
    // and enter is a grant (docs/security.md) and stays.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.run(&["init", "example.com"]).ok();
    assert_eq!(mode(&state), 0o750);
    for (before, after) in [(0o770, 0o750), (0o775, 0o750), (0o750, 0o750)] {
        let env = site_env();
        let state = env.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(before)).unwrap();
        env.run(&["init", "example.com"]).ok();
        assert_eq!(mode(&state), after, "{before:o}");
    }
}

#[test]
fn two_sites_in_one_state_folder() {
    let env = site_env();
    env.run(&["init", "a.example.com"]).ok();
    env.run(&["init", "b.example.com"]).ok();
    let v = status_json(&env);
    let domains: Vec<&str> = v["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["a.example.com", "b.example.com"]);
    env.run(&["key", "export", "primary", "--out", "k.pem"])
        .fails_with("several sites");
    env.run(&[
        "--site",
        "b.example.com",
        "key",
        "export",
        "primary",
        "--out",
        "k.pem",
    ])
    .ok();
}

#[test]
fn import_adopts_a_key_in_service() {
    if !have("openssl", "import_adopts_a_key_in_service") {
        return;
    }
    let env = site_env();
    let d = env.path();
    sh(
        d,
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out live.key 2>/dev/null",
    );
    sh(d, "openssl req -x509 -key live.key -subj /CN=live.example.com -days 90 -addext basicConstraints=critical,CA:FALSE -out live.crt");
    sh(
        d,
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key",
    );
    sh(
        d,
        "openssl req -x509 -key other.key -subj /CN=other -days 90 -out other.crt",
    );
    // A certificate for another key is refused, and nothing is left behind.
    env.run(&[
        "import",
        "live.example.com",
        "--key",
        "live.key",
        "--cert",
        "other.crt",
    ])
    .fails_with("not one of");
    assert!(!d.join("state/live.example.com").exists());
    env.run(&[
        "import",
        "live.example.com",
        "--key",
        "live.key",
        "--cert",
        "live.crt",
    ])
    .ok();
    let v = status_json(&env);
    let site = &v["sites"][0];
    assert_eq!(
        site["keys"][0]["pin"],
        openssl_pin_of_key(d, "live.key").as_str()
    );
    assert_eq!(site["keys"][0]["algorithm"], "rsa2048");
    assert_eq!(site["keys"].as_array().unwrap().len(), 3);
    assert_eq!(site["certificates"][0]["key"], "primary");
    let files = all_files(&d.join("state"));
    assert!(!files
        .iter()
        .any(|(_, b)| String::from_utf8_lossy(b).contains("PRIVATE KEY")));
    sh(
        d,
        "openssl req -verify -noout -in state/live.example.com/primary.csr.pem",
    );
}

#[test]
fn export_is_careful_with_files() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    std::fs::write(env.path().join("taken.pem"), "x").unwrap();
    env.run(&["key", "export", "primary", "--out", "taken.pem"])
        .fails_with("--force");
    assert_eq!(
        std::fs::read_to_string(env.path().join("taken.pem")).unwrap(),
        "x"
    );
    env.run(&["key", "export", "primary", "--out", "taken.pem", "--force"])
        .ok();
    assert_eq!(mode(&env.path().join("taken.pem")), 0o600);
    env.run(&[
        "key",
        "export",
        "primary",
        "--out",
        "state/example.com/clear.pem",
    ])
    .fails_with("inside the state folder");
    env.run(&["key", "export", "nosuch", "--out", "x.pem"])
        .fails_with("no key named nosuch");
}

#[test]
fn archive_copies_are_recorded_and_verified() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    let usb1 = env.path().join("usb1");
    let usb2 = env.path().join("usb2");
    std::fs::create_dir(&usb1).unwrap();
    std::fs::create_dir(&usb2).unwrap();
    let out = env.run(&[
        "archive",
        "copy",
        "backup1",
        "--to",
        "usb1",
        "--location",
        "safe A",
    ]);
    assert!(out.ok().contains("second copy"));
    env.run(&[
        "archive",
        "copy",
        "backup1",
        "--to",
        "usb2",
        "--location",
        "safe B",
    ])
    .ok();
    assert_eq!(mode(&usb1.join("example.com-backup1.key.age")), 0o600);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(usb1.join("example.com-backup1.manifest.json")).unwrap(),
    )
    .unwrap();
    let v = status_json(&env);
    assert_eq!(manifest["pin"], v["sites"][0]["keys"][1]["pin"]);
    let copies = v["sites"][0]["keys"][1]["copies"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(copies.len(), 2);
    assert!(copies[0]["verified"].is_null());
    let mut later = site_env();
    later.set("PINCTL_NOW", "2030-06-01T00:00:00Z");
    let later = Env {
        dir: env.dir,
        vars: later.vars,
    };
    later
        .run(&["archive", "verify", "backup1", "--from", "usb1"])
        .ok();
    let v = status_json(&later);
    assert_eq!(
        v["sites"][0]["keys"][1]["copies"][0]["verified"],
        "2030-06-01T00:00:00Z"
    );
    let text = later.run(&["status"]);
    text.ok();
    assert!(text.stderr.contains("backup2 has 0 of 2"));
    assert!(!text.stderr.contains("backup1 has"));
    // Wrong passphrase on verify: error, state unchanged.
    let before = snapshot(&later.path().join("state"));
    let mut wrong = Env {
        dir: later.dir,
        vars: later.vars,
    };
    wrong.set("PINCTL_PASSPHRASE", "not the passphrase");
    wrong
        .run(&["archive", "verify", "backup1", "--from", "usb2"])
        .fails_with("wrong passphrase");
    wrong
        .run(&["key", "export", "backup1", "--out", "b.pem"])
        .fails_with("wrong passphrase");
    assert!(!wrong.path().join("b.pem").exists());
    // A copy with one byte flipped is caught before decryption.
    let f = usb2.join("example.com-backup1.key.age");
    let mut b = std::fs::read(&f).unwrap();
    let n = b.len() / 2;
    b[n] ^= 0x01;
    std::fs::write(&f, b).unwrap();
    wrong.set("PINCTL_PASSPHRASE", PASS);
    wrong
        .run(&["archive", "verify", "backup1", "--from", "usb2"])
        .fails_with("tampered");
    assert_eq!(snapshot(&wrong.path().join("state")), before);
}

/// Each bad input: exit 1, one `error:` line, the state unchanged.
#[test]
fn bad_input_changes_nothing() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    let state = env.path().join("state");
    std::fs::write(env.path().join("bad-recipients"), "age1nope\n").unwrap();
    let r = env.run(&["init", "x.example.com", "--key-type", "dsa1024"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("possible values"), "{}", r.stderr);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["init", "not a domain"], "invalid domain name"),
        (vec!["init", "bücher.example"], "punycode"),
        (
            vec!["init", "x.example.com", "--backups", "1"],
            "at least 2 backups",
        ),
        (
            vec!["init", "x.example.com", "--recipients-file", "missing-file"],
            "missing-file",
        ),
        (
            vec![
                "init",
                "x.example.com",
                "--recipients-file",
                "bad-recipients",
            ],
            "bad-recipients",
        ),
        (
            vec!["init", "x.example.com", "--recipient", "age1invalid"],
            "invalid age recipient",
        ),
        (
            vec!["init", "x.example.com", "--recipient", "hello"],
            "invalid recipient",
        ),
        (
            vec!["init", "x.example.com", "--report-uri", "/relative"],
            "not an absolute URI",
        ),
        (vec!["init", "example.com"], "already exists"),
    ];
    for (args, needle) in cases {
        let before = snapshot(&state);
        env.run(&args).fails_with(needle);
        assert_eq!(snapshot(&state), before, "{args:?}");
        assert!(!state.join("x.example.com").exists(), "{args:?}");
    }
    // An empty passphrase is refused.
    let mut e2 = Env {
        dir: env.dir,
        vars: env.vars,
    };
    e2.set("PINCTL_PASSPHRASE", "");
    e2.run(&["init", "y.example.com"]).fails_with("empty");
    assert!(!state.join("y.example.com").exists());
    e2.set("PINCTL_PASSPHRASE", PASS);
    let site = state.join("example.com");
    let yaml = std::fs::read_to_string(site.join("site.yaml")).unwrap();
    // Damaged state files: each is refused, naming the file.
    let damaged: Vec<(String, &str)> = vec![
        ("keys: [unclosed".to_string(), "not a valid site file"),
        (
            yaml.replacen("version: 4", "version: 7", 1),
            "newer than this pinctl",
        ),
        (
            yaml.replacen("role: backup", "role: active", 1),
            "active keys",
        ),
        (
            yaml.replacen("key_type: p256", "key_type: 17", 1),
            "not a valid site file",
        ),
        (
            yaml.replacen("domain: example.com", "domain: example.com\nsurprise: 1", 1),
            "unknown field",
        ),
        (
            yaml.replacen("pin: ", "pin: AAAA", 1),
            "a SHA-256 pin is 32",
        ),
    ];
    for (text, needle) in damaged {
        std::fs::write(site.join("site.yaml"), &text).unwrap();
        let before = snapshot(&state);
        let out = e2.run(&["key", "export", "primary", "--out", "k.pem"]);
        out.fails_with(needle);
        assert!(out.stderr.contains("site.yaml"), "{}", out.stderr);
        e2.run(&["status"]).fails_with(needle);
        assert_eq!(snapshot(&state), before);
    }
    // Pins that do not match the archives (the CSR is the witness).
    let v: Vec<&str> = yaml
        .lines()
        .filter(|l| l.trim_start().starts_with("pin: "))
        .collect();
    let swapped = yaml
        .replacen(v[0], "PLACEHOLDER", 1)
        .replacen(v[1], v[0], 1)
        .replacen("PLACEHOLDER", v[1], 1);
    std::fs::write(site.join("site.yaml"), swapped).unwrap();
    e2.run(&["status"]).fails_with("does not match its CSR");
    // An archive with one byte flipped.
    std::fs::write(site.join("site.yaml"), &yaml).unwrap();
    let a = site.join("backup2.key.age");
    let mut b = std::fs::read(&a).unwrap();
    b[100] ^= 0x80;
    std::fs::write(&a, b).unwrap();
    let out = e2.run(&["key", "export", "backup2", "--out", "k.pem"]);
    out.fails_with("backup2.key.age");
    assert!(out.stderr.contains("tampered"));
    assert!(!e2.path().join("k.pem").exists());
}

#[test]
fn passphrase_is_asked_twice_on_a_terminal() {
    if !have("script", "passphrase_is_asked_twice_on_a_terminal") {
        return;
    }
    let env = Env::new();
    let vars = [("PINCTL_NOW", "2030-03-01T00:00:00Z")];
    let o = on_pty(
        env.path(),
        &format!("{BIN} init tty.example.com"),
        &["typed secret", "typed secret"],
        &vars,
    );
    let screen = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert!(
        screen.contains("Passphrase for the key archives:")
            && screen.contains("Same passphrase again:"),
        "{screen}"
    );
    assert!(screen.contains("Initialised tty.example.com"), "{screen}");
    assert!(
        !screen.contains("typed secret"),
        "the passphrase was echoed"
    );
    let o = on_pty(
        env.path(),
        &format!("{BIN} init tty2.example.com"),
        &["one", "two"],
        &vars,
    );
    let screen = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert!(
        screen.contains("error: the two passphrases differ"),
        "{screen}"
    );
    assert!(!env.path().join("state/tty2.example.com").exists());
    // The archive opens with the passphrase typed.
    let e = Env {
        dir: env.dir,
        vars: vec![
            ("PINCTL_PASSPHRASE".into(), "typed secret".into()),
            ("PINCTL_NOW".into(), "2030-03-01T00:00:00Z".into()),
        ],
    };
    e.run(&[
        "--site",
        "tty.example.com",
        "key",
        "export",
        "primary",
        "--out",
        "k.pem",
    ])
    .ok();
}
