//! `pinctl pin`: pins equal the openssl pipeline's, and bad input fails
//! cleanly with nothing on stdout.

use crate::common::*;

#[test]
fn fixture_pins_equal_the_openssl_pipeline() {
    let expected = std::fs::read_to_string(fixtures().join("expected-pins.txt")).unwrap();
    let env = Env::new();
    let mut n = 0;
    for line in expected.lines() {
        let (file, pin) = line.split_once(' ').unwrap();
        let path = fixtures().join(file);
        let out = env.run(&["pin", "--format", "json", path.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(v[0]["pin"], pin, "{file}");
        n += 1;
    }
    assert!(n >= 25);
}

#[test]
fn chain_gives_one_line_per_certificate_with_subject() {
    let env = Env::new();
    let chain = fixtures().join("chain.pem");
    let out = env.run(&["pin", chain.to_str().unwrap()]);
    let text = out.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("CN=p256.pinctl.test") && !lines[0].contains("(CA)"));
    assert!(lines[1].contains("CN=pinctl test CA") && lines[1].contains("(CA)"));
    let json = env.run(&["pin", "--format", "json", chain.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(json.ok()).unwrap();
    assert_eq!(v[0]["kind"], "certificate");
    assert_eq!(v[0]["algorithm"], "ecdsa-p256");
    assert_eq!(v[0]["bits"], 256);
    assert_eq!(v[0]["is_ca"], false);
    assert_eq!(v[1]["is_ca"], true);
    assert_eq!(v[0]["issuer"], "CN=pinctl test CA");
    assert!(v[0]["not_after"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn header_and_tlsa_formats() {
    if !have("openssl", "header_and_tlsa_formats") {
        return;
    }
    let env = Env::new();
    let chain = fixtures().join("chain.pem");
    let out = env.run(&["pin", "--format", "header", chain.to_str().unwrap()]);
    assert_eq!(
        out.ok().trim(),
        "pin-sha256=\"bdhRme+uYVLz59K/0qkq7VFNr9EWq8oNi/t4pzkAWWI=\"; pin-sha256=\"IqbjW5w0YOXYke8dmoQRLF4w1UojNIUEG7SpsLEWg7U=\""
    );
    let der = fixtures().join("p256.pub.der");
    let out = env.run(&["pin", "--format", "tlsa", der.to_str().unwrap()]);
    let hex = sh(
        env.path(),
        &format!(
            "openssl dgst -sha256 -r '{}' | cut -d' ' -f1",
            der.display()
        ),
    );
    assert_eq!(out.ok().trim(), format!("3 1 1 {}", hex.trim()));
}

#[test]
fn standard_input_is_read() {
    let env = Env::new();
    let pem = std::fs::read(fixtures().join("p256.cert.pem")).unwrap();
    let out = env.run_stdin(&["pin", "-"], &pem);
    assert!(out
        .ok()
        .starts_with("bdhRme+uYVLz59K/0qkq7VFNr9EWq8oNi/t4pzkAWWI="));
}

#[test]
fn text_around_pem_blocks_is_ignored() {
    let env = Env::new();
    let cert = std::fs::read_to_string(fixtures().join("p256.cert.pem")).unwrap();
    let key = std::fs::read_to_string(fixtures().join("rsa2048.pkcs1.pem")).unwrap();
    let mixed = format!("subject=CN = x\nissuer=...\n{cert}\nsome words\n{key}trailing text\n");
    std::fs::write(env.path().join("mixed.pem"), mixed).unwrap();
    let out = env.run(&["pin", "mixed.pem"]);
    assert_eq!(out.ok().lines().count(), 2);
}

#[test]
fn fresh_openssl_keys_csrs_and_certificates_of_every_type_match() {
    if !have(
        "openssl",
        "fresh_openssl_keys_csrs_and_certificates_of_every_type_match",
    ) {
        return;
    }
    let env = Env::new();
    let d = env.path();
    let kinds = [
        ("rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"),
        ("p256", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256"),
        ("p384", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384"),
        ("p521", "-algorithm EC -pkeyopt ec_paramgen_curve:P-521"),
        ("ed25519", "-algorithm ED25519"),
    ];
    for (name, opts) in kinds {
        sh(d, &format!("openssl genpkey {opts} -out {name}.key"));
        sh(
            d,
            &format!("openssl req -new -key {name}.key -subj /CN={name} -out {name}.csr"),
        );
        sh(
            d,
            &format!("openssl req -x509 -key {name}.key -subj /CN={name} -days 30 -out {name}.crt"),
        );
        sh(
            d,
            &format!("openssl pkey -in {name}.key -pubout -out {name}.pub"),
        );
        sh(
            d,
            &format!("openssl pkey -in {name}.key -outform der -out {name}.der"),
        );
        let expected = openssl_pin_of_key(d, &format!("{name}.key"));
        for f in ["key", "csr", "crt", "pub", "der"] {
            let file = format!("{name}.{f}");
            let out = env.run(&["pin", "--format", "json", &file]);
            let v: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
            assert_eq!(v[0]["pin"], expected.as_str(), "{file}");
        }
    }
    // Traditional forms: PKCS#1 RSA private and public, SEC1 EC.
    sh(
        d,
        "openssl rsa -in rsa.key -traditional -out rsa.pkcs1 2>/dev/null",
    );
    sh(
        d,
        "openssl rsa -in rsa.key -RSAPublicKey_out -out rsa.pkcs1pub 2>/dev/null",
    );
    sh(d, "openssl ec -in p384.key -out p384.sec1 2>/dev/null");
    for (file, key) in [
        ("rsa.pkcs1", "rsa.key"),
        ("rsa.pkcs1pub", "rsa.key"),
        ("p384.sec1", "p384.key"),
    ] {
        let out = env.run(&["pin", "--format", "json", file]);
        let v: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(v[0]["pin"], openssl_pin_of_key(d, key).as_str(), "{file}");
    }
}

fn write(env: &Env, name: &str, bytes: &[u8]) {
    std::fs::write(env.path().join(name), bytes).unwrap();
}

#[test]
fn bad_inputs_fail_with_one_error_line_naming_the_file() {
    let env = Env::new();
    let cert = std::fs::read_to_string(fixtures().join("p256.cert.pem")).unwrap();
    let der = std::fs::read(fixtures().join("p256.cert.der")).unwrap();
    write(&env, "empty.pem", b"");
    write(&env, "words.txt", b"this is not a certificate\n");
    write(&env, "truncated.pem", &cert.as_bytes()[..cert.len() / 2]);
    let bad64 = cert.replacen("MII", "M!I", 1);
    write(&env, "bad64.pem", bad64.as_bytes());
    write(
        &env,
        "crl.pem",
        b"-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
    );
    let mut trailing = der.clone();
    trailing.extend_from_slice(b"garbage");
    write(&env, "trailing.der", &trailing);
    write(&env, "short.der", &der[..der.len() - 10]);
    std::fs::create_dir(env.path().join("adir")).unwrap();
    let enc = fixtures().join("fail_encrypted.pkcs8.pem");
    let cases: Vec<(&str, &str)> = vec![
        ("empty.pem", "empty input"),
        ("missing.pem", "missing.pem"),
        ("adir", "is a directory"),
        ("words.txt", "neither PEM nor DER"),
        ("truncated.pem", "truncated"),
        ("bad64.pem", "malformed PEM"),
        ("crl.pem", "unsupported PEM block type 'X509 CRL'"),
        ("trailing.der", "trailing data"),
        ("short.der", "truncated DER"),
        (enc.to_str().unwrap(), "decrypt it first"),
    ];
    for (file, needle) in cases {
        let out = env.run(&["pin", file]);
        out.fails_with(needle);
        assert!(out.stderr.contains(file), "{file}: {}", out.stderr);
    }
}

#[test]
fn a_bad_file_after_a_good_one_gives_no_partial_output() {
    let env = Env::new();
    write(&env, "words.txt", b"nope");
    let good = fixtures().join("p256.cert.pem");
    env.run(&["pin", good.to_str().unwrap(), "words.txt"])
        .fails_with("words.txt");
}

#[test]
fn a_large_random_file_is_refused_without_panic() {
    let env = Env::new();
    let mut data = vec![0u8; 100 * 1024 * 1024];
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for chunk in data.chunks_mut(8) {
        // xorshift: fast, deterministic noise
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    data[0] = 0x30; // looks like DER at first glance
    write(&env, "random.bin", &data);
    env.run(&["pin", "random.bin"]).fails_with("random.bin");
}

/// The header and TLSA forms find certificates' keys with a lazy DER walk
/// and read big bundles on every core; they must give exactly the pins of
/// the full parse (and of openssl, via the fixtures' expected pins).
#[test]
fn fast_forms_give_the_same_pins_as_the_full_parse() {
    let env = Env::new();
    // A bundle above the parallel threshold: the fixtures' certificates,
    // again and again, with a bad block at the end to keep the error
    // contract (the whole input is refused, naming the block).
    let mut bundle = String::new();
    for _ in 0..200 {
        for f in [
            "chain.pem",
            "p256.cert.pem",
            "rsa2048.cert.pem",
            "ed25519.cert.pem",
            "p521.cert.pem",
        ] {
            bundle.push_str(&std::fs::read_to_string(fixtures().join(f)).unwrap());
        }
    }
    std::fs::write(env.path().join("bundle.pem"), &bundle).unwrap();
    let full: Vec<serde_json::Value> =
        serde_json::from_str(env.run(&["pin", "--format", "json", "bundle.pem"]).ok()).unwrap();
    let tlsa = env.run(&["pin", "--format", "tlsa", "bundle.pem"]);
    let lines: Vec<&str> = tlsa.ok().lines().collect();
    assert_eq!(lines.len(), full.len());
    let header = env.run(&["pin", "--format", "header", "bundle.pem"]);
    let mut want: Vec<String> = Vec::new();
    for o in &full {
        let p = format!("pin-sha256=\"{}\"", o["pin"].as_str().unwrap());
        if !want.contains(&p) {
            want.push(p);
        }
    }
    assert_eq!(header.ok().trim(), want.join("; "));
    bundle.push_str("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    std::fs::write(env.path().join("bad.pem"), &bundle).unwrap();
    env.run(&["pin", "--format", "header", "bad.pem"])
        .fails_with(&format!("PEM block {}", full.len() + 1));
}

/// The text and JSON forms read certificates by a lazy walk; they must say
/// exactly what a full parse says, on the fixtures and on Debian's whole
/// CA bundle (with its odd certificates) when it is installed.
#[test]
fn the_lazy_summary_says_what_a_full_parse_says() {
    let env = Env::new();
    let mut inputs: Vec<std::path::PathBuf> = [
        "chain.pem",
        "p256.cert.pem",
        "rsa2048.cert.pem",
        "ed25519.cert.pem",
        "p521.cert.pem",
        "dsa.cert.pem",
        "ca.cert.pem",
        "leaf.cert.pem",
        // basicConstraints whose extnID has tag 14, not 6: x509-parser
        // still reads it (found by the fuzzer).
        "odd-extnid-tag.cert.pem",
        // Extensions tagged application [3], cA 0xFE, a private-class
        // signature algorithm: x509-parser reads it all (found by the
        // fuzzer), and so the quick walks leave it to it.
        "odd-tags.cert.pem",
    ]
    .iter()
    .map(|f| fixtures().join(f))
    .collect();
    let debian = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
    if debian.is_file() {
        inputs.push(debian.to_path_buf());
    }
    for path in inputs {
        let data = std::fs::read(&path).unwrap();
        let full = pinctl::pin::read_pins("x", &data).unwrap();
        let want = serde_json::to_value(&full).unwrap();
        let out = env.run(&["pin", "--format", "json", path.to_str().unwrap()]);
        let got: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(got, want, "{}", path.display());
        // The header's lazy walk finds the same keys.
        let header = env.run(&["pin", "--format", "header", path.to_str().unwrap()]);
        let mut pins: Vec<String> = Vec::new();
        for info in &full {
            let p = format!("pin-sha256=\"{}\"", info.pin);
            if !pins.contains(&p) {
                pins.push(p);
            }
        }
        assert_eq!(header.ok().trim(), pins.join("; "), "{}", path.display());
    }
}

/// A file of 4 MiB or more is pinned as it is read, a chunk at a time on
/// every core; standard input is read whole. Both must give the same
/// answer, in every format, and the same error for the same bad text.
#[test]
fn a_big_file_read_in_chunks_answers_as_standard_input_does() {
    let env = Env::new();
    // Every kind of block once (keys and CSRs are slow in a debug build),
    // then certificates up to 5 MiB.
    let mut good = Vec::new();
    for f in ["rsa2048.csr.pem", "p384.sec1-with-params.pem"] {
        good.extend(std::fs::read(fixtures().join(f)).unwrap());
    }
    while good.len() < 5 << 20 {
        for f in ["chain.pem", "p256.cert.pem", "ed25519.cert.pem"] {
            good.extend(std::fs::read(fixtures().join(f)).unwrap());
            good.extend(b"text between blocks\n");
        }
    }
    let block = b"-----BEGIN CERTIFICATE-----\n";
    let middle = memchr_last(&good[..good.len() / 2], block);
    let mut bad_base64 = good.clone();
    bad_base64[middle + block.len() + 10] = b'!';
    let mut no_end = good.clone();
    no_end.splice(
        middle..middle,
        b"-----BEGIN CERTIFICATE-----\nMIIB\n".iter().copied(),
    );
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 40);
    let mut encrypted = good.clone();
    encrypted.extend(std::fs::read(fixtures().join("fail_legacy_encrypted.pem")).unwrap());
    for (name, text) in [
        ("in-1.pem", &good),
        ("in-2.pem", &bad_base64),
        ("in-3.pem", &no_end),
        ("in-4.pem", &truncated),
        ("in-5.pem", &encrypted),
    ] {
        std::fs::write(env.path().join(name), text).unwrap();
        for format in ["header", "tlsa", "text", "json"] {
            let file = env.run(&["pin", "--format", format, name]);
            let stdin = env.run_stdin(&["pin", "--format", format, "-"], text);
            assert_eq!(file.code, stdin.code, "{name} {format}: {}", file.stderr);
            assert_eq!(file.stdout, stdin.stdout, "{name} {format}");
            assert_eq!(
                file.stderr.replace(name, "<stdin>"),
                stdin.stderr,
                "{name} {format}"
            );
            if name == "in-1.pem" {
                file.ok();
            } else {
                file.fails_with(name);
            }
        }
    }
    let json: Vec<serde_json::Value> =
        serde_json::from_str(env.run(&["pin", "--format", "json", "in-1.pem"]).ok()).unwrap();
    let full = pinctl::pin::read_pins("x", &good).unwrap();
    assert_eq!(
        serde_json::to_value(&full).unwrap(),
        serde_json::Value::from(json)
    );
}

/// Where the last `needle` in `hay` starts.
fn memchr_last(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .rposition(|w| w == needle)
        .expect("the needle is there")
}

/// A certificate's name may hold control characters (terminal escapes):
/// the text form prints them escaped, JSON as JSON escapes them.
#[test]
fn control_characters_in_names_are_printed_escaped() {
    let env = Env::new();
    let path = fixtures().join("odd-tags.cert.pem");
    let text = env.run(&["pin", "--format", "text", path.to_str().unwrap()]);
    assert!(
        text.ok().contains("CN=pinctl test C\\u{1}  (CA)"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.chars().any(|c| c.is_control() && c != '\n'));
    let json = env.run(&["pin", "--format", "json", path.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(json.ok()).unwrap();
    assert_eq!(v[0]["subject"], "CN=pinctl test C\u{1}");
}

/// A violation report comes from anyone: the names of its served chain and
/// its app id are stored with their control characters escaped.
#[test]
fn a_report_s_names_are_stored_printable() {
    let cert = std::fs::read_to_string(fixtures().join("odd-tags.cert.pem")).unwrap();
    let body = serde_json::json!({
        "hostname": "example.com",
        "port": 443,
        "served-certificate-chain": [cert],
        "app-bundle-id": "com.example\u{1b}[2J",
        "validation-result": 1,
    });
    let r = pinctl::reports::parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(r.served_subjects, ["CN=pinctl test C\\u{1}"]);
    assert_eq!(r.app.as_deref(), Some("com.example\\u{1b}[2J"));
}

/// `pin --format tlsa` writes what GnuTLS's `danetool --tlsa-rr` writes:
/// DANE-EE `3 1 1` for a leaf certificate and a public key, DANE-TA
/// `2 1 1` for a CA certificate (a CA printed as `3 1 1` matched nothing).
#[test]
fn tlsa_records_match_danetool() {
    let test = "tlsa_records_match_danetool";
    if !have("danetool", test) {
        return;
    }
    let env = Env::new();
    for (file, load, ca) in [
        ("leaf.cert.pem", "--load-certificate", false),
        ("ca.cert.pem", "--load-certificate", true),
        ("rsa2048.pub.pem", "--load-pubkey", false),
    ] {
        let path = fixtures().join(file);
        let theirs = sh(
            env.path(),
            &format!(
                "danetool --tlsa-rr --host example.com {load} '{}'{}",
                path.display(),
                if ca { " --ca" } else { "" }
            ),
        );
        // `_443._tcp.example.com. IN TLSA ( 02 01 01 <hex> )`
        let inner = theirs
            .split('(')
            .nth(1)
            .and_then(|s| s.split(')').next())
            .unwrap_or_else(|| panic!("{file}: {theirs}"));
        let fields: Vec<String> = inner
            .split_whitespace()
            .enumerate()
            .map(|(i, f)| {
                if i < 3 {
                    f.trim_start_matches('0').to_string()
                } else {
                    f.to_lowercase()
                }
            })
            .collect();
        let ours = env.run(&["pin", "--format", "tlsa", path.to_str().unwrap()]);
        assert_eq!(ours.ok().trim(), fields.join(" "), "{file}");
    }
}

#[test]
fn a_damaged_csrs_header_and_tlsa_are_refused_as_its_pin_is() {
    // `--format header|tlsa` read only the pin; a CSR no parser accepts
    // (its key intact) is still refused, with the error `pin` gives.
    let env = Env::new();
    let csr = env.path().join("bad.csr.pem");
    std::fs::copy(fixtures().join("p256.csr.pem"), &csr).unwrap();
    crate::fleet::tamper_csr_version(&csr);
    let error = "bad.csr.pem: PEM block 1 (CERTIFICATE REQUEST): not a valid PKCS#10 CSR: Parsing Error: InvalidVersion";
    env.run(&["pin", "bad.csr.pem"]).fails_with(error);
    for format in ["header", "tlsa"] {
        env.run(&["pin", "--format", format, "bad.csr.pem"])
            .fails_with(error);
    }
}
