//! The bad-input corpus: hostile PEM/DER, headers, state files, archives,
//! flags, dates, paths and a full disk, across every command. Each case:
//! exit 1 (2 for usage errors), one `error:` line naming the problem, no
//! panic, and the state folder byte-for-byte unchanged.

use std::path::{Path, PathBuf};

use crate::common::*;

struct Corpus {
    env: Env,
    cases: usize,
}

impl Corpus {
    fn new() -> Corpus {
        let env = site_env();
        env.run(&["init", "example.com"]).ok();
        Corpus { env, cases: 0 }
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        std::fs::write(self.env.path().join(name), bytes).unwrap();
        name.to_string()
    }

    /// Runs a case that must fail with exit 1 and `needle` in the error,
    /// leaving `state` (default ./state) unchanged.
    fn fails(&mut self, args: &[&str], vars: &[(&str, &str)], needle: &str) {
        self.fails_in(args, vars, needle, &self.env.path().join("state"));
    }

    fn fails_in(&mut self, args: &[&str], vars: &[(&str, &str)], needle: &str, state: &Path) {
        let before = snapshot(state);
        let mut c = self.env.cmd(args);
        for (k, v) in vars {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let r = Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        r.fails_with(needle);
        assert_eq!(snapshot(state), before, "{args:?} changed the state");
        self.cases += 1;
    }

    /// A usage error: exit 2 from the argument parser, nothing written.
    fn usage(&mut self, args: &[&str]) {
        let before = snapshot(&self.env.path().join("state"));
        let r = self.env.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
        assert_eq!(snapshot(&self.env.path().join("state")), before);
        self.cases += 1;
    }

    /// `lint` of a hostile header: exit 1, problems listed, no panic.
    fn lint_rejects(&mut self, header: &str, needle: &str) {
        let r = self.env.run(&["lint", header]);
        assert_eq!(r.code, 1, "{header:?}: {}", r.stdout);
        assert!(
            r.stdout.contains("error: ") && r.stdout.contains(needle),
            "{header:?}: {}",
            r.stdout
        );
        assert!(!r.stderr.contains("panicked"));
        self.cases += 1;
    }

    /// A copy of the good state with its site.yaml replaced.
    fn bad_state(&self, name: &str, edit: &dyn Fn(&str) -> String) -> PathBuf {
        let src = self.env.path().join("state/example.com");
        let dst = self.env.path().join(name).join("example.com");
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(&src).unwrap().flatten() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        let yaml = std::fs::read_to_string(src.join("site.yaml")).unwrap();
        std::fs::write(dst.join("site.yaml"), edit(&yaml)).unwrap();
        self.env.path().join(name)
    }

    fn yaml_fails(&mut self, name: &str, edit: &dyn Fn(&str) -> String, needle: &str) {
        let state = self.bad_state(name, edit);
        let s = state.to_str().unwrap().to_string();
        for cmd in [
            vec!["status"],
            vec!["publish"],
            vec!["rotate", "--promote", "backup1"],
            vec!["header"],
        ] {
            let mut args = vec!["--state", s.as_str()];
            args.extend(cmd);
            self.fails_in(&args, &[], needle, &state);
        }
    }
}

#[test]
fn bad_input_corpus() {
    let mut c = Corpus::new();
    let f = fixtures();
    let cert = std::fs::read_to_string(f.join("p256.cert.pem")).unwrap();
    let der = std::fs::read(f.join("p256.cert.der")).unwrap();

    // --- PEM and DER for `pin` (and `cert add`, `ca-pin add`, `lint --chain`).
    let pin_cases: Vec<(String, &str)> = vec![
        (c.write("empty.pem", ""), "empty input"),
        (c.write("text.txt", "hello world\n"), "neither PEM nor DER"),
        (
            c.write("utf16.txt", b"\xff\xfeh\x00i\x00"),
            "neither PEM nor DER",
        ),
        (
            c.write("truncated.pem", &cert[..cert.len() / 2]),
            "truncated",
        ),
        (
            c.write("bad64.pem", cert.replacen("MII", "M*I", 1)),
            "malformed PEM",
        ),
        (
            c.write(
                "crl.pem",
                "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
            ),
            "unsupported PEM block type 'X509 CRL'",
        ),
        (
            f.join("fail_pkcs7.pem").display().to_string(),
            "unsupported PEM block type 'PKCS7'",
        ),
        (
            c.write("trailing.der", [der.as_slice(), b"junk"].concat()),
            "trailing data",
        ),
        (c.write("short.der", &der[..der.len() - 1]), "truncated DER"),
        (
            c.write("lying.der", [0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0, 0]),
            "truncated DER",
        ),
        (
            c.write("overlong.der", [0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
            "bad length field",
        ),
        (
            c.write(
                "nested.der",
                [0x30, 0x06, 0x30, 0x04, 0x30, 0x02, 0x30, 0x00],
            ),
            "not a certificate",
        ),
        (
            c.write(
                "mismatch.pem",
                "-----BEGIN CERTIFICATE-----\nMAA=\n-----END PRIVATE KEY-----\n",
            ),
            "malformed PEM",
        ),
        (
            c.write(
                "random-cert.pem",
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    "QUJD".repeat(60)
                ),
            ),
            "not a valid X.509",
        ),
        (
            c.write(
                "garbage-key.pem",
                "-----BEGIN PRIVATE KEY-----\nQUJDRA==\n-----END PRIVATE KEY-----\n",
            ),
            "not a valid PKCS#8",
        ),
        (
            c.write(
                "garbage-ec.pem",
                "-----BEGIN EC PRIVATE KEY-----\nQUJDRA==\n-----END EC PRIVATE KEY-----\n",
            ),
            "SEC1",
        ),
        (
            f.join("fail_encrypted.pkcs8.pem").display().to_string(),
            "decrypt it first",
        ),
        (
            f.join("fail_legacy_encrypted.pem").display().to_string(),
            "encrypted",
        ),
        (
            f.join("fail_secp256k1.sec1.pem").display().to_string(),
            "unsupported elliptic curve",
        ),
        (
            c.write(
                "huge.pem",
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    "QUJD".repeat(1_500_000)
                ),
            ),
            "not a valid X.509",
        ),
        (
            c.write("begins.pem", "-----BEGIN CERTIFICATE-----\n".repeat(1000)),
            "truncated",
        ),
        ("missing.pem".to_string(), "missing.pem"),
        (".".to_string(), "is a directory"),
    ];
    for (file, needle) in &pin_cases {
        c.fails(&["pin", file], &[], needle);
    }
    c.fails(&["cert", "add", "nested.der"], &[], "not a certificate");
    c.fails(
        &["cert", "add", "state/example.com/primary.csr.pem"],
        &[],
        "expected certificates only",
    );
    c.fails(
        &["ca-pin", "add", "x", "--from", "crl.pem"],
        &[],
        "X509 CRL",
    );
    c.fails(
        &["lint", "pin-sha256=\"a\"", "--chain", "truncated.pem"],
        &[],
        "truncated",
    );

    // --- Hostile headers for `lint` and `snippet --header`.
    let a = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";
    let b = "E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=";
    c.lint_rejects(&format!("pin-sha256=\"{a}\"; pin-sha256=\"{b}\"; max-age=60; report-uri=\"https://r.example/\r\nX-Injected: 1\""), "control character");
    c.lint_rejects(&"a;".repeat(50_000), "at least two");
    c.lint_rejects(
        &format!("pin-sha256=\u{201c}{a}\u{201d}; pin-sha256=\"{b}\"; max-age=60"),
        "typographic quote",
    );
    c.lint_rejects(";;;;", "at least two");
    c.lint_rejects(
        &format!("pin-sha256=\"{a}\"; pin-sha256=\"{b}\"; max-age=0x10"),
        "not a non-negative integer",
    );
    c.lint_rejects("Public-Key-Pins:", "max-age is required");
    c.lint_rejects(&format!("pin-sha256=\"{a}\"; pin-sha256=\"{b}\"; max-age=1; report-uri=\"https://a/\"; report-uri=\"https://b/\""), "more than once");
    c.lint_rejects(
        &format!("pin-sha256=\"{a}\"\u{7f}; pin-sha256=\"{b}\"; max-age=1"),
        "unexpected character",
    );
    c.fails(
        &[
            "snippet",
            "--server",
            "nginx",
            "--header",
            &format!("pin-sha256=\"{a}\"; pin-sha256=\"{b}\"; max-age=60\r\nX-Evil: 1"),
        ],
        &[],
        "not a valid Public-Key-Pins header",
    );
    c.fails(
        &["snippet", "--server", "nginx", "--header", "max-age=60"],
        &[],
        "at least two",
    );
    c.fails(&["snippet", "--server", "nginx", "--header", &format!("pin-sha256=\"{a}\"; pin-sha256=\"{b}\"; max-age=60; report-uri=\"https://r.example/$host\"")], &[], "`$`");
    c.usage(&["snippet", "--server", "tomcat"]);

    // --- Malformed state files: refused by every command, never rewritten.
    c.yaml_fails(
        "s-notyaml",
        &|_| "keys: [unclosed\n".into(),
        "not a valid site file",
    );
    c.yaml_fails(
        "s-type",
        &|y| y.replacen("max_age: 300", "max_age: ten", 1),
        "not a valid site file",
    );
    c.yaml_fails(
        "s-missing",
        &|y| y.replacen("policy:", "pollicy:", 1),
        "not a valid site file",
    );
    c.yaml_fails(
        "s-unknown",
        &|y| format!("{y}surprise: true\n"),
        "unknown field",
    );
    c.yaml_fails(
        "s-duplicate",
        &|y| format!("{y}domain: example.com\n"),
        "duplicate",
    );
    c.yaml_fails(
        "s-bomb",
        &|y| {
            let mut s = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
            for i in 1..9 {
                s.push_str(&format!(
                    "a{i}: &a{i} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n",
                    p = if i == 1 {
                        "a".to_string()
                    } else {
                        format!("a{}", i - 1)
                    }
                ));
            }
            format!("{s}{y}")
        },
        "not a valid site file",
    );
    c.yaml_fails(
        "s-newer",
        &|y| y.replacen("version: 4", "version: 5", 1),
        "newer than this pinctl",
    );
    c.yaml_fails(
        "s-zero",
        &|y| y.replacen("version: 4", "version: 0", 1),
        "version 0",
    );
    c.yaml_fails(
        "s-noversion",
        &|y| y.replacen("version: 4", "version: one", 1),
        "no numeric `version:`",
    );
    c.yaml_fails(
        "s-twoactive",
        &|y| y.replacen("role: backup", "role: active", 1),
        "2 active keys",
    );
    c.yaml_fails(
        "s-role",
        &|y| y.replacen("role: backup", "role: superuser", 1),
        "unknown variant",
    );
    c.yaml_fails(
        "s-domain",
        &|y| y.replacen("domain: example.com", "domain: example.org", 1),
        "lies in the folder",
    );
    c.yaml_fails(
        "s-pin",
        &|y| {
            let pins: Vec<&str> = y
                .lines()
                .filter(|l| l.trim_start().starts_with("pin: "))
                .collect();
            y.replacen(pins[0], "XXX", 1)
                .replacen(pins[1], pins[0], 1)
                .replacen("XXX", pins[1], 1)
        },
        "does not match its CSR",
    );
    c.yaml_fails(
        "s-badpin",
        &|y| y.replacen("pin: ", "pin: !", 1),
        "a SHA-256 pin is 32",
    );
    c.yaml_fails("s-pubs", &|y| y.replacen("publications: []", "publications:\n- {mode: enforce, pins: [], max_age: 1, from: 2030-01-02T00:00:00Z, until: 2030-01-01T00:00:00Z}", 1), "ends before it starts");
    c.yaml_fails("s-open", &|y| y.replacen("publications: []", "publications:\n- {mode: enforce, pins: [], max_age: 1, from: 2030-01-01T00:00:00Z}\n- {mode: enforce, pins: [], max_age: 1, from: 2030-01-02T00:00:00Z}", 1), "open but not the last");
    c.yaml_fails(
        "s-utf8",
        &|_| "version: 1\ndomain: \u{0}".into(),
        "not a valid site file",
    );
    c.yaml_fails("s-empty", &|_| String::new(), "version");
    let state = c.bad_state("s-noarchive", &|y| y.to_string());
    std::fs::remove_file(state.join("example.com/backup2.key.age")).unwrap();
    c.fails_in(
        &["--state", state.to_str().unwrap(), "status"],
        &[],
        "archive of key backup2 cannot be read",
        &state,
    );
    let state = c.bad_state("s-flipped", &|y| y.to_string());
    let arch = state.join("example.com/backup1.key.age");
    let mut bytes = std::fs::read(&arch).unwrap();
    bytes[60] ^= 1;
    std::fs::write(&arch, bytes).unwrap();
    c.fails_in(
        &[
            "--state",
            state.to_str().unwrap(),
            "key",
            "export",
            "backup1",
            "--out",
            "x.pem",
        ],
        &[],
        "tampered",
        &state,
    );
    // A truncated archive whose checksum was updated too: age catches it.
    let state = c.bad_state("s-truncated", &|y| y.to_string());
    let arch = state.join("example.com/backup1.key.age");
    let bytes = std::fs::read(&arch).unwrap();
    let short = &bytes[..bytes.len() - 20];
    std::fs::write(&arch, short).unwrap();
    let yaml_path = state.join("example.com/site.yaml");
    let yaml = std::fs::read_to_string(&yaml_path).unwrap();
    use sha2::Digest as _;
    let hex = |b: &[u8]| {
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    std::fs::write(&yaml_path, yaml.replace(&hex(&bytes), &hex(short))).unwrap();
    c.fails_in(
        &[
            "--state",
            state.to_str().unwrap(),
            "key",
            "export",
            "backup1",
            "--out",
            "x.pem",
        ],
        &[],
        "damaged",
        &state,
    );
    assert!(!c.env.path().join("x.pem").exists());

    // --- Passphrases and identities.
    c.fails(
        &["key", "export", "primary", "--out", "k.pem"],
        &[("PINCTL_PASSPHRASE", "wrong")],
        "wrong passphrase",
    );
    c.write("empty-pass", "");
    c.fails(
        &[
            "--passphrase-file",
            "empty-pass",
            "key",
            "export",
            "primary",
            "--out",
            "k.pem",
        ],
        &[],
        "empty",
    );
    c.fails(
        &[
            "--passphrase-file",
            "no-such-file",
            "key",
            "export",
            "primary",
            "--out",
            "k.pem",
        ],
        &[],
        "no-such-file",
    );
    c.fails(
        &["archive", "verify", "backup1", "--from", "."],
        &[],
        "example.com-backup1.key.age",
    );
    let id = age::x25519::Identity::generate();
    let other = age::x25519::Identity::generate();
    {
        use age::secrecy::ExposeSecret as _;
        c.write("other-id.txt", other.to_string().expose_secret());
    }
    c.write("not-an-id.txt", "hello\n");
    c.env
        .run(&[
            "init",
            "team.example.com",
            "--recipient",
            &id.to_public().to_string(),
        ])
        .ok();
    c.fails(
        &[
            "--site",
            "team.example.com",
            "key",
            "export",
            "primary",
            "--out",
            "k.pem",
            "--identity",
            "other-id.txt",
        ],
        &[],
        "none of the identities",
    );
    c.fails(
        &[
            "--site",
            "team.example.com",
            "key",
            "export",
            "primary",
            "--out",
            "k.pem",
            "--identity",
            "not-an-id.txt",
        ],
        &[],
        "not-an-id.txt",
    );
    c.fails(
        &[
            "--site",
            "team.example.com",
            "key",
            "export",
            "primary",
            "--out",
            "k.pem",
        ],
        &[],
        "--identity",
    );
    c.fails(
        &[
            "--site",
            "team.example.com",
            "key",
            "export",
            "primary",
            "--out",
            "k.pem",
            "--identity",
            "missing-id",
        ],
        &[],
        "missing-id",
    );

    // --- Flags and dates.
    let site = ["--site", "example.com"];
    c.fails(
        &[&site[..], &["status"]].concat(),
        &[("PINCTL_NOW", "yesterday")],
        "not an RFC 3339 time",
    );
    c.fails(
        &[&site[..], &["status"]].concat(),
        &[("PINCTL_NOW", "10000-01-01T00:00:00Z")],
        "not an RFC 3339 time",
    );
    c.fails(
        &[&site[..], &["publish"]].concat(),
        &[("PINCTL_NOW", "1970-01-01T00:00:00Z")],
        "before the last recorded event",
    );
    c.fails(
        &[&site[..], &["rotate", "--promote", "backup1"]].concat(),
        &[("PINCTL_NOW", "2000-01-01T00:00:00Z")],
        "before the last recorded event",
    );
    c.fails(
        &["init", "x.example.com", "--backups", "0"],
        &[],
        "at least 2 backups",
    );
    c.usage(&["init", "x.example.com", "--key-type", ""]);
    c.fails(
        &["init", "x.example.com", "--san", "not valid"],
        &[],
        "invalid domain name",
    );
    c.fails(&["init", "*.example.com"], &[], "wildcards");
    c.write("a-file", "x");
    c.fails(&["--state", "a-file", "status"], &[], "a-file");
    c.fails(
        &["--site", "nosuch.example.com", "status"],
        &[],
        "no site nosuch.example.com",
    );
    c.fails(
        &[&site[..], &["rotate", "--promote", "nosuch"]].concat(),
        &[],
        "no key named nosuch",
    );
    c.fails(
        &[
            &site[..],
            &[
                "archive",
                "copy",
                "backup1",
                "--to",
                "no-dir",
                "--location",
                "x",
            ],
        ]
        .concat(),
        &[],
        "not a folder",
    );
    std::os::unix::fs::symlink(
        c.env.path().join("state"),
        c.env.path().join("link-to-state"),
    )
    .unwrap();
    c.fails(
        &[
            &site[..],
            &[
                "archive",
                "copy",
                "backup1",
                "--to",
                "link-to-state",
                "--location",
                "x",
            ],
        ]
        .concat(),
        &[],
        "outside the state folder",
    );
    std::os::unix::fs::symlink("/etc/passwd", c.env.path().join("link.pem")).unwrap();
    c.fails(
        &[
            &site[..],
            &["key", "export", "primary", "--out", "link.pem"],
        ]
        .concat(),
        &[],
        "--force",
    );
    c.fails(
        &[
            &site[..],
            &[
                "key",
                "export",
                "primary",
                "--out",
                "link-to-state/example.com/k.pem",
            ],
        ]
        .concat(),
        &[],
        "inside the state folder",
    );
    c.fails(
        &[
            &site[..],
            &["key", "export", "primary", "--out", "no-dir/k.pem"],
        ]
        .concat(),
        &[],
        "no-dir/k.pem",
    );
    c.usage(&[&site[..], &["ca-pin", "add", "x"]].concat());
    c.fails(
        &[&site[..], &["policy", "--report-uri", "not a uri"]].concat(),
        &[],
        "not an absolute URI",
    );
    c.usage(&["schedule", "--cron", "--at", "99:99"]);
    c.fails(
        &["verify", "http://example.com/"],
        &[],
        "not an https:// URL",
    );
    c.usage(&["init", "x.example.com", "--passphrase", "secret"]);
    c.usage(&["init", "x.example.com", "--max-age", "-5"]);
    c.usage(&["rotate"]);
    c.usage(&["policy", "--enforce", "--report-only"]);
    c.usage(&["no-such-command"]);

    // --- Channels and reports.
    let with =
        |a: &[&'static str]| -> Vec<&'static str> { site.iter().chain(a).copied().collect() };
    c.fails(
        &with(&["channel", "add", "dns", "--ttl", "0"]),
        &[],
        "TTL of at least 1 second",
    );
    c.fails(
        &with(&["channel", "add", "ios", "--ttl", "60"]),
        &[],
        "ttl does not apply",
    );
    c.fails(
        &with(&["channel", "add", "android", "--name", "web"]),
        &[],
        "every site's channel",
    );
    c.fails(
        &with(&["channel", "add", "android", "--name", "a b"]),
        &[],
        "invalid channel name",
    );
    c.fails(
        &with(&["channel", "retire", "nope"]),
        &[],
        "no channel named nope",
    );
    c.fails(
        &with(&["publish", "--channel", "nope"]),
        &[],
        "no channel named nope",
    );
    c.fails(
        &with(&["publish", "--release", "1"]),
        &[],
        "--release is for app channels",
    );
    c.fails(
        &with(&["snippet", "--channel", "nope"]),
        &[],
        "no channel named nope",
    );
    c.fails(
        &with(&["snippet", "--channel", "web"]),
        &[],
        "snippet --server",
    );
    c.usage(&with(&[
        "publish",
        "--channel",
        "android",
        "--expires",
        "2030-13-01",
    ]));
    c.usage(&with(&["channel", "add", "carrier-pigeon"]));
    c.fails(
        &with(&["reports", "list", "--since", "yesterday"]),
        &[],
        "not a time",
    );
    c.write("junk.sqlite", vec![0x5a_u8; 4096]);
    let junk = "junk.sqlite";
    c.fails(
        &with(&["reports", "list", "--database", junk]),
        &[],
        "report database",
    );
    c.fails(
        &with(&[
            "reports",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            junk,
        ]),
        &[],
        "report database",
    );

    // --- A full disk: the file size limit makes every write fail.
    let before = snapshot(&c.env.path().join("state"));
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f 1; exec '{BIN}' --site example.com policy --max-age 600 --report-uri https://r.example.net/{}", "x".repeat(2000)))
        .current_dir(c.env.path())
        .env("PINCTL_NOW", "2030-03-01T00:00:00Z")
        .output()
        .unwrap();
    let r = Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    };
    r.fails_with("site.yaml");
    assert_eq!(snapshot(&c.env.path().join("state")), before);
    c.cases += 1;

    assert!(c.cases >= 60, "only {} cases", c.cases);
    println!("bad-input corpus: {} cases", c.cases);
}

#[test]
fn a_read_only_state_folder_is_refused_cleanly() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    let state = env.path().join("state");
    let before = snapshot(&state);
    // As root, permissions do not bind: mount the folder read-only in a
    // private mount namespace instead.
    let s = state.display();
    let o = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!(
            "mount --bind -o ro '{s}' '{s}' && exec '{BIN}' policy --max-age 600"
        ))
        .current_dir(env.path())
        .env("PINCTL_NOW", "2030-03-01T00:00:00Z")
        .output();
    let o = match o {
        Ok(o)
            if !String::from_utf8_lossy(&o.stderr).contains("unshare:")
                && !String::from_utf8_lossy(&o.stderr).contains("mount:") =>
        {
            o
        }
        _ => {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o500)).unwrap();
            let o = env.cmd(&["policy", "--max-age", "600"]).output().unwrap();
            std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
            o
        }
    };
    let r = Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    };
    if r.code == 0 {
        crate::common::skip(
            "a_read_only_state_folder_is_refused_cleanly",
            "a read-only folder (as root: a mount namespace, unshare -m)",
        );
        return;
    }
    r.fails_with("state");
    assert_eq!(snapshot(&state), before);
}
