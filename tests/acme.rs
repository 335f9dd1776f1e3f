//! ACME against real peers: Pebble (the RFC 8555 test CA Let's Encrypt
//! publishes) with nonce rejection left on, resolving names through a
//! real BIND 9 the test starts (`common::bind`, whose zone points every
//! name at 127.0.0.1 and takes TSIG-signed updates for DNS-01), and
//! nginx for webroot answers. Every peer runs on loopback ports picked
//! by binding port 0.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::bind::Bind;
use crate::common::{have, sh, snapshot, Env, PASS};

/// The zone BIND serves; every name in it points at 127.0.0.1.
const ZONE: &str = "pinctl.test";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits (bounded) until something accepts TCP on `port`.
fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port} within 20 s");
}

/// A child process killed when the test ends.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pebble with its own TLS certificate, resolving through `dns_port`,
/// validating HTTP-01 on `http_port`.
struct Pebble {
    directory: String,
    ca_file: PathBuf,
    http_port: u16,
    peer: Option<Peer>,
}

/// A MAC key Pebble requires when external account binding is on.
const EAB_KID: &str = "kid-1";
const EAB_HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

fn start_pebble(dir: &Path, dns_port: u16, nonce_reject: Option<u8>, eab: bool) -> Pebble {
    let d = dir.join("pebble");
    std::fs::create_dir_all(&d).unwrap();
    sh(
        &d,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 -subj '/CN=pebble test CA' 2>/dev/null \
         && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr -subj '/CN=localhost' 2>/dev/null \
         && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=critical,CA:FALSE\\n' > ext.cnf \
         && openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tls.pem -days 30 -extfile ext.cnf 2>/dev/null",
    );
    let (listen, manage, http_port, tls_port) =
        (free_port(), free_port(), free_port(), free_port());
    std::fs::write(
        d.join("pebble.json"),
        serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{manage}"),
            "certificate": d.join("tls.pem"),
            "privateKey": d.join("tls.key"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": eab,
            "externalAccountMACKeys": { EAB_KID: EAB_HMAC }
        }})
        .to_string(),
    )
    .unwrap();
    let mut cmd = Command::new("pebble");
    match nonce_reject {
        Some(p) => cmd.env("PEBBLE_WFE_NONCEREJECT", p.to_string()),
        // Otherwise Pebble's default (5%): pinctl must retry.
        None => cmd.env_remove("PEBBLE_WFE_NONCEREJECT"),
    };
    let mut child = cmd
        .arg("-config")
        .arg(d.join("pebble.json"))
        .arg("-dnsserver")
        .arg(format!("127.0.0.1:{dns_port}"))
        .env("PEBBLE_VA_NOSLEEP", "1")
        .current_dir(&d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pebble");
    wait_for_port(listen, "pebble", &mut child);
    Pebble {
        directory: format!("https://127.0.0.1:{listen}/dir"),
        ca_file: d.join("ca.pem"),
        http_port,
        peer: Some(Peer(child)),
    }
}

/// Pebble and BIND up, or None (SKIPPED) when a tool is missing.
fn peers(test: &str, dir: &Path) -> Option<(Bind, Pebble)> {
    peers_with(test, dir, None, false)
}

fn peers_with(
    test: &str,
    dir: &Path,
    nonce_reject: Option<u8>,
    eab: bool,
) -> Option<(Bind, Pebble)> {
    for tool in [
        "pebble",
        "named",
        "tsig-keygen",
        "dig",
        "nsupdate",
        "openssl",
    ] {
        if !have(tool, test) {
            return None;
        }
    }
    let bind = Bind::start(ZONE);
    let pebble = start_pebble(dir, bind.port, nonce_reject, eab);
    Some((bind, pebble))
}

fn env() -> Env {
    Env::new().var("PINCTL_PASSPHRASE", PASS)
}

fn register(env: &Env, pebble: &Pebble) {
    env.run(&[
        "acme",
        "account",
        "--directory",
        &pebble.directory,
        "--ca-file",
        pebble.ca_file.to_str().unwrap(),
        "--email",
        "ops@pinctl.test",
    ])
    .ok();
}

/// The pin of the leaf of `cert` by the openssl pipeline.
fn openssl_pin(dir: &Path, cert: &Path) -> String {
    sh(
        dir,
        &format!(
            "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
            cert.display()
        ),
    )
    .trim()
    .to_string()
}

/// The pin the state records for `key` of `site`.
fn key_pin(env: &Env, site: &str, key: &str) -> String {
    let yaml =
        std::fs::read_to_string(env.path().join("state").join(site).join("site.yaml")).unwrap();
    let v: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    v["keys"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|k| k["name"].as_str() == Some(key))
        .and_then(|k| k["pin"].as_str())
        .expect("the key's pin")
        .to_string()
}

/// The SAN DNS names of the leaf of `cert`, by openssl.
fn openssl_names(dir: &Path, cert: &Path) -> Vec<String> {
    let text = sh(
        dir,
        &format!(
            "openssl x509 -in '{}' -noout -ext subjectAltName",
            cert.display()
        ),
    );
    let mut names: Vec<String> = text
        .split([',', '\n'])
        .filter_map(|p| p.trim().strip_prefix("DNS:").map(str::to_string))
        .collect();
    names.sort();
    names
}

fn cert_files(env: &Env, site: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(env.path().join("state").join(site))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".cert"))
        .collect();
    v.sort();
    v
}

#[test]
fn http01_on_pinctls_listener_issues_for_the_stored_csr_and_renew_keeps_the_key() {
    let t = "http01_on_pinctls_listener_issues_for_the_stored_csr_and_renew_keeps_the_key";
    let env = env();
    let Some((_bind, pebble)) = peers(t, env.path()) else {
        return;
    };
    let a = format!("a.{ZONE}");
    let b = format!("b.{ZONE}");
    env.run(&["init", &a, "--san", &format!("www.a.{ZONE}")])
        .ok();
    env.run(&["init", &b]).ok();
    register(&env, &pebble);
    let account = env.path().join("state/acme-account.json");
    assert_eq!(crate::common::mode(&account), 0o600);
    // Registering again finds the same account, with the CA file and the
    // address it was given the first time; the file is left as it was.
    let stored = std::fs::read(&account).unwrap();
    let again = env.run(&[
        "acme",
        "account",
        "--directory",
        &pebble.directory,
        "--format",
        "json",
    ]);
    let again = crate::common::assert_schema("acme-account", again.ok());
    assert_eq!(again["created"], false);
    assert_eq!(again["email"], "ops@pinctl.test");
    assert_eq!(stored, std::fs::read(&account).unwrap());

    let listen = format!("127.0.0.1:{}", pebble.http_port);
    for site in [&a, &b] {
        let r = env.run(&[
            "--site",
            site,
            "cert",
            "issue",
            "--http01-listen",
            &listen,
            "--format",
            "json",
        ]);
        let v = crate::common::assert_schema("cert-issue", r.ok());
        assert_eq!(v["key"], "primary", "{v}");
        let file = env
            .path()
            .join("state")
            .join(site)
            .join(v["file"].as_str().unwrap());
        // The certificate carries the pinned key's pin and every name.
        assert_eq!(
            openssl_pin(env.path(), &file),
            key_pin(&env, site, "primary")
        );
        let mut want = vec![site.to_string()];
        if *site == a {
            want.push(format!("www.a.{ZONE}"));
        }
        want.sort();
        assert_eq!(openssl_names(env.path(), &file), want);
    }
    let yaml =
        std::fs::read_to_string(env.path().join("state").join(&a).join("site.yaml")).unwrap();
    assert!(yaml.contains("challenge: http01-listen"), "{yaml}");

    // Nothing due (Pebble's certificates live 5 years): nothing done.
    let before = snapshot(&env.path().join("state"));
    let hook_log = env.path().join("hook.log");
    let hook = format!(
        "echo \"$PINCTL_SITE $PINCTL_KEY $PINCTL_CERT\" >> '{}'",
        hook_log.display()
    );
    let r = env.run(&["renew", "--deploy-hook", &hook, "--format", "json"]);
    let v = crate::common::assert_schema("renew", r.ok());
    assert!(
        v["sites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "skipped"),
        "{v}"
    );
    // Pebble 2.4 offers no renewal information: pinctl's own window
    // judged, and each site says so.
    for s in v["sites"].as_array().unwrap() {
        assert_eq!(s["window"], "local", "{v}");
        assert_eq!(
            s["window_fallback"], "the directory offers no renewal information (RFC 9773)",
            "{v}"
        );
    }
    let r = env.run(&["renew"]);
    assert!(
        r.ok()
            .contains("; window: local (the directory offers no renewal information (RFC 9773))"),
        "{}",
        r.stdout
    );
    assert_eq!(before, snapshot(&env.path().join("state")));
    assert!(!hook_log.exists());

    // --days beyond the lifetime: every site renewed, same key, one hook each.
    let r = env.run(&["renew", "--days", "3000", "--deploy-hook", &hook]);
    let out = r.ok();
    assert_eq!(out.matches("renewed ").count(), 2, "{out}");
    let log = std::fs::read_to_string(&hook_log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    for (line, site) in lines.iter().zip([&a, &b]) {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts[0], site.as_str());
        assert_eq!(parts[1], "primary");
        assert_eq!(
            openssl_pin(env.path(), Path::new(parts[2])),
            key_pin(&env, site, "primary")
        );
    }
    assert_eq!(cert_files(&env, &a).len(), 2);

    // After a rotation, renew certifies the promoted key; plans say so.
    env.run(&["--site", &a, "rotate", "--promote", "backup1"])
        .ok();
    let plan = env.run(&["--site", &a, "plan"]).ok().to_string();
    assert!(plan.contains("pinctl cert issue backup1"), "{plan}");
    assert!(!plan.contains("pinctl cert add"), "{plan}");
    let r = env.run(&["renew", "--format", "json"]);
    let v = crate::common::assert_schema("renew", r.ok());
    let sites = v["sites"].as_array().unwrap();
    let sa = sites.iter().find(|s| s["site"] == a.as_str()).unwrap();
    assert_eq!(sa["status"], "renewed", "{v}");
    assert_eq!(sa["key"], "backup1");
    let file = env
        .path()
        .join("state")
        .join(&a)
        .join(sa["file"].as_str().unwrap());
    assert_eq!(openssl_pin(env.path(), &file), key_pin(&env, &a, "backup1"));
    let sb = sites.iter().find(|s| s["site"] == b.as_str()).unwrap();
    assert_eq!(sb["status"], "skipped");

    // A hook that fails: the certificate is recorded, the hook's output
    // goes to standard error, and renew exits 1 saying so.
    let r = env.run(&[
        "renew",
        "--site",
        &b,
        "--days",
        "3000",
        "--deploy-hook",
        "echo from-the-hook; exit 3",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("renewed {b}")), "{}", r.stdout);
    assert!(
        r.stdout.contains("the deploy hook exited 3"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("from-the-hook"), "{}", r.stdout);
    assert!(r.stderr.contains("from-the-hook"), "{}", r.stderr);

    // Regression: the hook inherited the archive passphrase; it sees
    // none of the secrets pinctl reads.
    let env_log = env.path().join("hook.env");
    let mut c = env.cmd(&[
        "renew",
        "--site",
        &b,
        "--days",
        "3000",
        "--deploy-hook",
        &format!("env > '{}'", env_log.display()),
    ]);
    c.env("PGPASSWORD", "pg-secret-31415").env(
        "PINCTL_REPORTS_DATABASE",
        "postgres://u:db-secret-27182@127.0.0.1:1/x",
    );
    crate::common::Run::from(c.output().unwrap()).ok();
    let seen = std::fs::read_to_string(&env_log).unwrap();
    assert!(seen.contains(&format!("PINCTL_SITE={b}")), "{seen}");
    for secret in [
        PASS,
        "PINCTL_PASSPHRASE",
        "pg-secret",
        "db-secret",
        "PGPASSWORD",
    ] {
        assert!(!seen.contains(secret), "{secret} in the hook's environment");
    }

    // The CA gone: renew fails, says which site, and changes nothing.
    let mut pebble = pebble;
    drop(pebble.peer.take());
    let before = snapshot(&env.path().join("state"));
    let r = env.run(&["renew", "--days", "3000"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains(&format!("failed {a}")), "{}", r.stdout);
    assert_eq!(before, snapshot(&env.path().join("state")));
}

#[test]
fn a_failed_challenge_or_an_unreachable_directory_changes_nothing() {
    let t = "a_failed_challenge_or_an_unreachable_directory_changes_nothing";
    let env = env();
    let Some((_bind, pebble)) = peers(t, env.path()) else {
        return;
    };
    let site = format!("c.{ZONE}");
    env.run(&["init", &site]).ok();

    // No account yet: refused before anything is ordered.
    let before = snapshot(&env.path().join("state"));
    let listen = format!("127.0.0.1:{}", pebble.http_port);
    env.run(&["cert", "issue", "--http01-listen", &listen])
        .fails_with("pinctl acme account");

    // An unreachable directory: no account file, nothing written.
    let closed = free_port();
    let r = env.run(&[
        "acme",
        "account",
        "--directory",
        &format!("https://127.0.0.1:{closed}/dir"),
        "--ca-file",
        pebble.ca_file.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert_eq!(before, snapshot(&env.path().join("state")));

    // A directory whose TLS does not verify against the system roots.
    let r = env.run(&["acme", "account", "--directory", &pebble.directory]);
    assert_eq!(r.code, 1);
    assert_eq!(before, snapshot(&env.path().join("state")));

    register(&env, &pebble);
    // Nobody answers on Pebble's HTTP-01 port: the challenge fails, the
    // error names the site, the name and the challenge; nothing recorded.
    let before = snapshot(&env.path().join("state"));
    let wrong = format!("127.0.0.1:{}", free_port());
    let r = env.run(&["cert", "issue", "--http01-listen", &wrong]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("http-01"), "{}", r.stderr);
    assert!(r.stderr.contains(&site), "{}", r.stderr);
    assert_eq!(before, snapshot(&env.path().join("state")));
}

#[test]
fn http01_webroot_behind_a_real_nginx() {
    let t = "http01_webroot_behind_a_real_nginx";
    let env = env();
    if !have("nginx", t) {
        return;
    }
    let Some((_bind, pebble)) = peers(t, env.path()) else {
        return;
    };
    let root = env.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "hello").unwrap();
    let ngx = env.path().join("nginx");
    std::fs::create_dir_all(ngx.join("logs")).unwrap();
    let n = ngx.display();
    std::fs::write(
        ngx.join("nginx.conf"),
        format!(
            "daemon off;\nmaster_process off;\npid {n}/nginx.pid;\nerror_log {n}/logs/error.log;\nevents {{}}\nhttp {{ access_log off; client_body_temp_path {n}/body; proxy_temp_path {n}/proxy; fastcgi_temp_path {n}/fastcgi; uwsgi_temp_path {n}/uwsgi; scgi_temp_path {n}/scgi;\n server {{ listen 127.0.0.1:{}; root {}; }} }}\n",
            pebble.http_port,
            root.display()
        ),
    )
    .unwrap();
    let mut child = Command::new("nginx")
        .arg("-p")
        .arg(&ngx)
        .arg("-c")
        .arg(ngx.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    wait_for_port(pebble.http_port, "nginx", &mut child);
    let _nginx = Peer(child);

    let site = format!("d.{ZONE}");
    env.run(&["init", &site, "--san", &format!("www.d.{ZONE}")])
        .ok();
    register(&env, &pebble);
    let r = env.run(&[
        "cert",
        "issue",
        "--http01-webroot",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    let file = env
        .path()
        .join("state")
        .join(&site)
        .join(v["file"].as_str().unwrap());
    assert_eq!(
        openssl_pin(env.path(), &file),
        key_pin(&env, &site, "primary")
    );
    // The answers are gone, and so are the folders pinctl made for them.
    let left: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("index.html")]);

    // renew answers the same way, from what the site remembers.
    let r = env.run(&["renew", "--days", "3000"]);
    assert!(r.ok().contains(&format!("renewed {site}")), "{}", r.stdout);
    assert_eq!(cert_files(&env, &site).len(), 2);
}

#[test]
fn dns01_through_rfc2136_and_a_wrong_tsig_key_changes_nothing() {
    let t = "dns01_through_rfc2136_and_a_wrong_tsig_key_changes_nothing";
    let env = env();
    let Some((bind, pebble)) = peers(t, env.path()) else {
        return;
    };
    let site = format!("e.{ZONE}");
    env.run(&["init", &site, "--san", &format!("www.e.{ZONE}")])
        .ok();
    register(&env, &pebble);

    // A key BIND does not know: the update is refused, the error names
    // the site and the challenge, and the state is as it was.
    let wrong = env.path().join("wrong.key");
    crate::common::bind::keygen("hmac-sha256", &bind.key_name, &wrong);
    let before = snapshot(&env.path().join("state"));
    let r = env.run(&[
        "cert",
        "issue",
        "--dns01-rfc2136",
        &bind.addr(),
        "--tsig-key",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(r.stderr.contains("dns-01"), "{}", r.stderr);
    assert!(r.stderr.contains(&site), "{}", r.stderr);
    let secret = |f: &Path| {
        let text = std::fs::read_to_string(f).unwrap();
        text.split('"')
            .nth(3)
            .expect("the key's secret")
            .to_string()
    };
    assert!(!r.stderr.contains(&secret(&wrong)), "{}", r.stderr);
    assert_eq!(before, snapshot(&env.path().join("state")));

    let r = env.run(&[
        "cert",
        "issue",
        "--dns01-rfc2136",
        &bind.addr(),
        "--tsig-key",
        bind.key_file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    let file = env
        .path()
        .join("state")
        .join(&site)
        .join(v["file"].as_str().unwrap());
    assert_eq!(
        openssl_pin(env.path(), &file),
        key_pin(&env, &site, "primary")
    );
    assert_eq!(
        openssl_names(env.path(), &file),
        vec![site.clone(), format!("www.e.{ZONE}")]
    );
    // The TXT records are gone again.
    for n in [site.clone(), format!("www.e.{ZONE}")] {
        assert!(
            bind.dig(&format!("_acme-challenge.{n}"), "TXT").is_empty(),
            "{n}"
        );
    }
    let yaml =
        std::fs::read_to_string(env.path().join("state").join(&site).join("site.yaml")).unwrap();
    assert!(yaml.contains("challenge: dns01-rfc2136"), "{yaml}");
    assert!(!yaml.contains(&secret(&bind.key_file)), "{yaml}");

    // renew answers DNS-01 again from what the site remembers.
    let r = env.run(&["renew", "--days", "3000"]);
    assert!(r.ok().contains(&format!("renewed {site}")), "{}", r.stdout);
    assert_eq!(cert_files(&env, &site).len(), 2);
}

/// RFC 8555 section 6.5: a client retries `badNonce` with the fresh nonce
/// the error carries. instant-acme tries three times; pinctl tries each
/// request again on top. With Pebble rejecting 40% of nonces, one of the
/// ~15 requests of an order fails all three inner tries with odds of
/// about 60%; with pinctl's retries the order goes through.
#[test]
fn bad_nonces_are_retried_even_when_the_ca_rejects_many() {
    let t = "bad_nonces_are_retried_even_when_the_ca_rejects_many";
    let env = env();
    let Some((_bind, pebble)) = peers_with(t, env.path(), Some(40), false) else {
        return;
    };
    let site = format!("f.{ZONE}");
    env.run(&["init", &site, "--san", &format!("www.f.{ZONE}")])
        .ok();
    register(&env, &pebble);
    // Four orders of two names: eight authorization fetches, each of
    // which once failed outside the retry (one in sixteen at 40%).
    for _ in 0..4 {
        let listen = format!("127.0.0.1:{}", pebble.http_port);
        env.run(&["cert", "issue", "--http01-listen", &listen]).ok();
    }
    assert_eq!(cert_files(&env, &site).len(), 4);
}

/// The renewal window: 30 days before expiry, or a third of the lifetime
/// when that is shorter; `--days` overrides it. Judged without a CA: a
/// due site without an ACME account is skipped and says it was due.
#[test]
fn renew_window_is_thirty_days_or_a_third_of_the_lifetime() {
    let mut env = env().var("PINCTL_NOW", "2030-01-02T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let ca = crate::common::TestCa::new("Window CA");
    let csr =
        std::fs::read_to_string(env.path().join("state/example.com/primary.csr.pem")).unwrap();
    // 30 days of life: a third is 10 days, so renewal starts on the 21st.
    std::fs::write(
        env.path().join("leaf.pem"),
        ca.sign(&csr, (2030, 1, 1), (2030, 1, 31)) + &ca.pem,
    )
    .unwrap();
    env.run(&["cert", "add", "leaf.pem"]).ok();
    let status = |env: &Env, extra: &[&str]| -> (String, String) {
        let mut a = vec!["renew", "--format", "json"];
        a.extend(extra);
        let r = env.run(&a);
        let v = crate::common::assert_schema("renew", r.ok());
        let s = &v["sites"][0];
        (
            s["status"].as_str().unwrap().to_string(),
            s["reason"].as_str().unwrap_or_default().to_string(),
        )
    };
    env.set("PINCTL_NOW", "2030-01-20T23:59:59Z");
    let (st, why) = status(&env, &[]);
    assert_eq!(st, "skipped");
    assert!(why.starts_with("not due"), "{why}");
    assert!(why.contains("renewal from 2030-01-21T00:00:00Z"), "{why}");
    // --days 11 moves the start a day earlier.
    let (_, why) = status(&env, &["--days", "11"]);
    assert!(why.contains("no ACME account"), "{why}");
    env.set("PINCTL_NOW", "2030-01-21T00:00:00Z");
    let before = snapshot(&env.path().join("state"));
    let (st, why) = status(&env, &[]);
    assert_eq!(st, "skipped");
    assert!(why.contains("expires 2030-01-31T00:00:00Z"), "{why}");
    assert!(why.contains("no ACME account"), "{why}");
    assert_eq!(before, snapshot(&env.path().join("state")));
    // No account, no CA to ask: the local window judged, and says why.
    let r = env.run(&["renew", "--format", "json"]);
    let v = crate::common::assert_schema("renew", r.ok());
    assert_eq!(v["sites"][0]["window"], "local", "{v}");
    assert_eq!(
        v["sites"][0]["window_fallback"], "the state has no ACME account",
        "{v}"
    );

    // Regression: with an account, a site certified by hand (never by
    // ACME) failed daily; it is skipped, exit 0, saying why.
    let account = env.path().join("state/acme-account.json");
    std::fs::write(&account, "{}").unwrap();
    // As `acme account` leaves it: renew refuses an account file others
    // may read before it asks any CA.
    std::fs::set_permissions(
        &account,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
    )
    .unwrap();
    let before = snapshot(&env.path().join("state"));
    let (st, why) = status(&env, &[]);
    assert_eq!(st, "skipped");
    assert!(why.contains("never issued by ACME"), "{why}");
    let r = env.run(&["renew"]);
    assert!(r.ok().contains("skipped example.com"), "{}", r.stdout);
    assert!(r.stdout.contains("never issued by ACME"), "{}", r.stdout);
    assert_eq!(before, snapshot(&env.path().join("state")));
    std::fs::remove_file(&account).unwrap();

    // Regression: plan and check used 30 days whatever the lifetime, so
    // check warned ten days before renew acted. One window now.
    let expiring = |env: &Env, extra: &[&str]| -> bool {
        let mut a = vec!["check", "--format", "json"];
        a.extend(extra);
        let r = env.run(&a);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "certificate-expiring")
    };
    env.set("PINCTL_NOW", "2030-01-20T23:59:59Z");
    assert!(!expiring(&env, &[]));
    assert!(expiring(&env, &["--warn-days", "11"]));
    let plan = env.run(&["plan", "--format", "json"]).ok().to_string();
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let steps = plan["steps"].as_array().expect("steps");
    let renew = steps
        .iter()
        .find(|s| s["kind"] == "renew")
        .expect("a renew step");
    assert_eq!(renew["not_before"], "2030-01-21T00:00:00Z", "{renew}");
    env.set("PINCTL_NOW", "2030-01-21T00:00:00Z");
    assert!(expiring(&env, &[]));
}

/// RFC 8555 section 7.3.4: a CA that requires external account binding
/// refuses a plain registration and accepts one bound with its key id
/// and MAC key, read from a file (never argv).
#[test]
fn external_account_binding_registers_where_the_ca_requires_it() {
    let t = "external_account_binding_registers_where_the_ca_requires_it";
    let env = env();
    let Some((_bind, pebble)) = peers_with(t, env.path(), None, true) else {
        return;
    };
    let ca = pebble.ca_file.to_str().unwrap();
    let r = env.run(&[
        "acme",
        "account",
        "--directory",
        &pebble.directory,
        "--ca-file",
        ca,
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.starts_with("error: registering at"),
        "{}",
        r.stderr
    );
    assert!(!env.path().join("state/acme-account.json").exists());
    let hmac = env.path().join("eab.key");
    std::fs::write(&hmac, format!("{EAB_HMAC}\n")).unwrap();
    let r = env.run(&[
        "acme",
        "account",
        "--directory",
        &pebble.directory,
        "--ca-file",
        ca,
        "--eab-kid",
        EAB_KID,
        "--eab-hmac-file",
        hmac.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v = crate::common::assert_schema("acme-account", r.ok());
    assert_eq!(v["created"], true);
    let stored = std::fs::read_to_string(env.path().join("state/acme-account.json")).unwrap();
    assert!(!stored.contains(EAB_HMAC), "the MAC key is not stored");
    assert!(!r.stdout.contains(EAB_HMAC) && !r.stderr.contains(EAB_HMAC));
}

/// The RFC 9773 section 4.1 identifier of the leaf of `cert`, computed
/// by openssl's reading of its AKI keyIdentifier and serial.
fn openssl_cert_id(dir: &Path, cert: &Path) -> String {
    use base64::Engine as _;
    let hex = |s: &str| -> Vec<u8> {
        let h: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    let c = cert.display();
    let aki = sh(
        dir,
        &format!("openssl x509 -in '{c}' -noout -ext authorityKeyIdentifier | tail -n 1"),
    );
    let aki = hex(aki.trim().trim_start_matches("keyid:"));
    let serial = sh(dir, &format!("openssl x509 -in '{c}' -noout -serial"));
    let mut serial = hex(serial.trim().trim_start_matches("serial="));
    // The DER INTEGER: a leading zero byte keeps a high first bit positive.
    if serial.first().is_some_and(|b| *b >= 0x80) {
        serial.insert(0, 0);
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}", b64.encode(aki), b64.encode(serial))
}

/// A stand-in for the one resource Debian's Pebble 2.4 lacks: `openssl
/// s_server -HTTP` serves Pebble's own directory with `renewalInfo`
/// added, and the renewal windows as files; every other request goes to
/// Pebble, whose URLs the directory keeps. Its certificate is signed by
/// the CA that signed Pebble's, so the account's `--ca-file` covers both.
struct AriStandIn {
    directory: String,
    root: PathBuf,
    _peer: Peer,
}

fn start_ari_stand_in(dir: &Path, pebble: &Pebble) -> AriStandIn {
    let root = dir.join("ari-stand-in");
    std::fs::create_dir_all(root.join("ari")).unwrap();
    let p = pebble.ca_file.parent().unwrap();
    sh(
        &root,
        &format!(
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr -subj '/CN=localhost' 2>/dev/null \
             && openssl x509 -req -in tls.csr -CA '{p}/ca.pem' -CAkey '{p}/ca.key' -CAcreateserial -out tls.pem -days 30 -extfile '{p}/ext.cnf' 2>/dev/null",
            p = p.display()
        ),
    );
    let port = free_port();
    let body = sh(
        &root,
        &format!(
            "curl -sf --cacert '{}' '{}'",
            pebble.ca_file.display(),
            pebble.directory
        ),
    );
    let mut d: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        d.get("renewalInfo").is_none(),
        "this Pebble offers ARI itself: {d}"
    );
    d["renewalInfo"] = format!("https://127.0.0.1:{port}/ari").into();
    std::fs::write(
        root.join("dir"),
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{d}"),
    )
    .unwrap();
    let mut child = Command::new("openssl")
        .args(["s_server", "-HTTP", "-quiet", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-cert", "tls.pem", "-key", "tls.key"])
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl s_server");
    wait_for_port(port, "openssl s_server", &mut child);
    AriStandIn {
        directory: format!("https://127.0.0.1:{port}/dir"),
        root,
        _peer: Peer(child),
    }
}

impl AriStandIn {
    /// Serves `start`..`end` as the window of the certificate `id`.
    fn window(&self, id: &str, start: &str, end: &str) {
        std::fs::write(
            self.root.join("ari").join(id),
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRetry-After: 21600\r\n\r\n{}",
                serde_json::json!({
                    "suggestedWindow": {"start": start, "end": end},
                    "explanationURL": "https://ca.pinctl.test/why"
                })
            ),
        )
        .unwrap();
    }
}

/// RFC 9773: when the directory offers renewal information, the CA's
/// window decides. Pebble 2.4 has none, so a stand-in serves just that
/// resource (see `AriStandIn`); ordering, validation and issuance are the
/// real Pebble's. A window that has passed renews now (section 4.2) even
/// though the local rule says 5-year certificates are not due; one in the
/// future does nothing; a certificate the CA does not know falls back to
/// the local window and says so.
#[test]
fn the_cas_renewal_window_decides_when_the_directory_offers_one() {
    let t = "the_cas_renewal_window_decides_when_the_directory_offers_one";
    for tool in ["curl"] {
        if !have(tool, t) {
            return;
        }
    }
    let env = env();
    let Some((_bind, pebble)) = peers(t, env.path()) else {
        return;
    };
    let ari = start_ari_stand_in(env.path(), &pebble);
    let site = format!("a.{ZONE}");
    env.run(&["init", &site]).ok();
    let r = env.run(&[
        "acme",
        "account",
        "--directory",
        &ari.directory,
        "--ca-file",
        pebble.ca_file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v = crate::common::assert_schema("acme-account", r.ok());
    assert_eq!(v["renewal_info"], true, "{v}");
    let listen = format!("127.0.0.1:{}", pebble.http_port);
    let r = env.run(&[
        "cert",
        "issue",
        "--http01-listen",
        &listen,
        "--format",
        "json",
    ]);
    let v = crate::common::assert_schema("cert-issue", r.ok());
    let first = env
        .path()
        .join("state")
        .join(&site)
        .join(v["file"].as_str().unwrap());
    let id = openssl_cert_id(env.path(), &first);

    // The CA knows no window for it: the local rule, said.
    let before = snapshot(&env.path().join("state"));
    let r = env.run(&["renew", "--format", "json"]);
    let v = crate::common::assert_schema("renew", r.ok());
    let s = &v["sites"][0];
    assert_eq!(s["status"], "skipped", "{v}");
    assert_eq!(s["window"], "local", "{v}");
    assert!(
        s["window_fallback"]
            .as_str()
            .unwrap()
            .contains("the renewal information request failed"),
        "{v}"
    );
    assert_eq!(before, snapshot(&env.path().join("state")));

    // A window in the future: not due, by the CA's window.
    ari.window(&id, "2099-01-01T00:00:00Z", "2099-01-03T00:00:00Z");
    let r = env.run(&["renew", "--format", "json"]);
    let v = crate::common::assert_schema("renew", r.ok());
    let s = &v["sites"][0];
    assert_eq!(s["status"], "skipped", "{v}");
    assert_eq!(s["window"], "ari", "{v}");
    assert_eq!(s["ari"]["start"], "2099-01-01T00:00:00Z", "{v}");
    assert_eq!(s["ari"]["explanation_url"], "https://ca.pinctl.test/why");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("the CA's renewal time 2099-01-0"),
        "{v}"
    );
    let r = env.run(&["renew"]);
    assert!(r.ok().contains("window: the CA's (ARI)"), "{}", r.stdout);
    assert_eq!(before, snapshot(&env.path().join("state")));

    // --days still forces the local rule.
    let r = env.run(&["renew", "--days", "1", "--format", "json"]);
    let v = crate::common::assert_schema("renew", r.ok());
    assert_eq!(v["sites"][0]["window"], "local", "{v}");
    assert_eq!(v["sites"][0]["window_fallback"], "--days was given", "{v}");
    assert_eq!(before, snapshot(&env.path().join("state")));

    // A window that has passed: renewed now, the same key.
    ari.window(&id, "2001-01-01T00:00:00Z", "2001-01-02T00:00:00Z");
    let r = env.run(&["renew", "--format", "json"]);
    let v = crate::common::assert_schema("renew", r.ok());
    let s = &v["sites"][0];
    assert_eq!(s["status"], "renewed", "{v}");
    assert_eq!(s["window"], "ari", "{v}");
    // pinctl sent `replaces`; Pebble 2.4 does not echo it, so pinctl
    // ordered again without it (RFC 9773 section 5) and claims no link.
    assert!(s.get("replaces").is_none(), "{v}");
    assert_eq!(s["key"], "primary", "{v}");
    let second = env
        .path()
        .join("state")
        .join(&site)
        .join(s["file"].as_str().unwrap());
    assert_eq!(
        openssl_pin(env.path(), &second),
        key_pin(&env, &site, "primary")
    );
    assert_ne!(openssl_cert_id(env.path(), &second), id);
    assert_eq!(cert_files(&env, &site).len(), 2);
}
