//! The violation-report collector through the CLI: real-shaped reports of
//! every class posted with curl and read back with `reports list` and
//! `check`; a corpus of hostile requests, each answered 4xx with the
//! server still serving and the counts unchanged; a SIGKILL under load
//! after which every acknowledged report is in the store; the systemd
//! unit checked by systemd-analyze.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;

/// A running collector and its port.
struct Collector {
    child: Child,
    port: u16,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(env: &Env, extra: &[&str]) -> Collector {
    let mut args = vec!["reports", "serve", "--listen", "127.0.0.1:0"];
    args.extend(extra);
    let mut child = env
        .cmd(&args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port = first
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    // Keep draining the log so the collector never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Collector { child, port }
}

/// A site with an enforced header, its primary's certificate in
/// `cert.pem`, and a stranger's certificate in `other.pem`.
fn reporting_site() -> Env {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    env.run(&["publish"]).ok();
    env.run(&["policy", "--enforce", "--max-age", "600"]).ok();
    env.run(&["publish"]).ok();
    env.run(&["key", "export", "primary", "--out", "primary.pem"])
        .ok();
    sh(env.path(), "openssl req -x509 -key primary.pem -subj /CN=example.com -days 30 -out cert.pem 2>/dev/null && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout o.key -subj /CN=Interceptor -days 30 -out other.pem 2>/dev/null");
    env
}

fn pem(env: &Env, f: &str) -> String {
    std::fs::read_to_string(env.path().join(f)).unwrap()
}

/// RFC 7469 section 3's report (as corrected by the errata).
fn rfc7469(host: &str, chain: &str, known: &[&str]) -> String {
    serde_json::json!({
        "date-time": "2030-03-01T00:00:00Z",
        "hostname": host,
        "port": 443,
        "effective-expiration-date": "2030-03-01T00:10:00Z",
        "include-subdomains": false,
        "noted-hostname": host,
        "served-certificate-chain": [chain],
        "validated-certificate-chain": [chain],
        "known-pins": known.iter().map(|p| format!("pin-sha256=\"{p}\"")).collect::<Vec<_>>(),
    })
    .to_string()
}

/// TrustKit's report (iOS sends the validated chain only; Android adds the
/// served one).
fn trustkit(platform: &str, host: &str, chain: &str, known: &[&str]) -> String {
    let mut v = serde_json::json!({
        "app-bundle-id": "com.example.app",
        "app-version": "4.1",
        "app-platform": platform,
        "app-platform-version": "17.0",
        "app-vendor-id": "A1B2",
        "trustkit-version": "3.0.0",
        "date-time": "2030-03-01T00:00:00Z",
        "hostname": host,
        "port": 443,
        "noted-hostname": host,
        "include-subdomains": false,
        "enforce-pinning": true,
        "validated-certificate-chain": [chain],
        "known-pins": known.iter().map(|p| format!("pin-sha256=\"{p}\"")).collect::<Vec<_>>(),
        "validation-result": 1,
        "known-pins-expiration-date": "2030-06-01"
    });
    if platform == "ANDROID" {
        v["served-certificate-chain"] = serde_json::json!([chain]);
    }
    v.to_string()
}

fn post(port: u16, body: &str) -> u16 {
    let o = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json; charset=utf-8",
            "--data-binary",
            "@-",
            &format!("http://127.0.0.1:{port}/hpkp-report"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&o.stdout).parse().unwrap_or(0)
}

fn pins(env: &Env) -> Vec<String> {
    status_json(env)["sites"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["pin"].as_str().unwrap().to_string())
        .collect()
}

fn list(env: &Env) -> serde_json::Value {
    serde_json::from_str(env.run(&["reports", "list", "--format", "json"]).ok()).unwrap()
}

fn total(env: &Env) -> u64 {
    list(env)["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

/// Reports of every class, from a browser and TrustKit on iOS and
/// Android, are stored, deduplicated, listed and acted on by `check`.
#[test]
fn reports_of_every_class_are_stored_and_checked() {
    if !have("curl", "reports_of_every_class_are_stored_and_checked") {
        return;
    }
    let env = reporting_site();
    let c = start(&env, &[]);
    let (cert, other) = (pem(&env, "cert.pem"), pem(&env, "other.pem"));
    let p = pins(&env);
    let live: Vec<&str> = p.iter().map(String::as_str).collect();
    // The site's own key, but the client noted pins without it.
    let stranger = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";
    assert_eq!(
        post(c.port, &rfc7469("example.com", &cert, &[stranger, live[1]])),
        204
    );
    // Twice the same (another timestamp): one row, count 2.
    let again = rfc7469("example.com", &cert, &[stranger, live[1]])
        .replace("2030-03-01T00:00:00Z", "2030-03-01T00:05:00Z");
    assert_eq!(post(c.port, &again), 204);
    // Interception seen by TrustKit on iOS and on Android.
    assert_eq!(
        post(c.port, &trustkit("IOS", "example.com", &other, &live)),
        204
    );
    assert_eq!(
        post(c.port, &trustkit("ANDROID", "example.com", &other, &live)),
        204
    );
    // A host pinctl does not manage.
    assert_eq!(
        post(c.port, &rfc7469("elsewhere.example", &other, &[])),
        204
    );
    let v = list(&env);
    let rows = v["reports"].as_array().unwrap();
    let find = |class: &str| -> Vec<&serde_json::Value> {
        rows.iter().filter(|r| r["class"] == class).collect()
    };
    let mis = find("misconfiguration");
    assert_eq!(mis.len(), 1, "{v}");
    assert_eq!(mis[0]["count"], 2);
    assert_eq!(mis[0]["source"], "browser");
    assert_eq!(mis[0]["site"], "example.com");
    assert_eq!(mis[0]["served_pins"][0], live[0]);
    let foreign = find("foreign-chain");
    assert_eq!(foreign.len(), 2, "{v}");
    assert!(foreign
        .iter()
        .all(|r| r["source"] == "trustkit" && r["app"] == "com.example.app"));
    assert_eq!(find("unknown-host")[0]["site"], serde_json::Value::Null);
    assert_schema(
        "reports-list",
        &env.run(&["reports", "list", "--format", "json"]).stdout,
    );
    // check: a foreign chain and an enforced misconfiguration are CRITICAL.
    let o = env.cmd(&["check", "--format", "json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let ck: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<(&str, &str)> = ck["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    assert!(
        codes.contains(&("reports-foreign-chain", "CRITICAL")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("reports-misconfiguration", "CRITICAL")),
        "{codes:?}"
    );
    let text = env.cmd(&["check"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("CN=Interceptor"), "{text}");
    // The ramp waits: unexpected reports since the live header.
    let plan = env.run(&["plan"]).ok().to_string();
    assert!(
        plan.contains("unexpected report(s) since this header was published"),
        "{plan}"
    );
}

/// Hostile requests each get a 4xx; the collector keeps serving and the
/// stored counts do not move.
#[test]
fn hostile_requests_get_4xx_and_change_nothing() {
    let env = reporting_site();
    let c = start(&env, &["--body-timeout", "1", "--header-timeout", "1"]);
    let cert = pem(&env, "cert.pem");
    let good = rfc7469("example.com", &cert, &[&pins(&env)[1]]);
    let raw = |bytes: &[u8]| -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(bytes);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        text.split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    };
    let request = |body: &str| {
        format!(
            "POST /r HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let json_with = |k: &str, v: serde_json::Value| {
        let mut o: serde_json::Value = serde_json::from_str(&good).unwrap();
        o[k] = v;
        o.to_string()
    };
    let mut bodies: Vec<(String, String)> = vec![
        ("empty".into(), String::new()),
        ("not json".into(), "hello".into()),
        ("array".into(), "[]".into()),
        ("string".into(), "\"report\"".into()),
        ("number".into(), "42".into()),
        ("truncated".into(), good[..good.len() / 2].to_string()),
        ("deep".into(), "[".repeat(5000) + &"]".repeat(5000)),
        (
            "deep object".into(),
            "{\"a\":".repeat(3000) + "1" + &"}".repeat(3000),
        ),
        (
            "huge array".into(),
            format!("[{}]", vec!["1"; 30000].join(",")),
        ),
        (
            "no hostname".into(),
            json_with("hostname", serde_json::Value::Null),
        ),
        ("hostname number".into(), json_with("hostname", 7.into())),
        (
            "hostname bad".into(),
            json_with("hostname", "exa mple.com".into()),
        ),
        (
            "hostname long".into(),
            json_with("hostname", "a".repeat(300).into()),
        ),
        ("port string".into(), json_with("port", "443".into())),
        ("port big".into(), json_with("port", 70000.into())),
        ("port negative".into(), json_with("port", (-1).into())),
        (
            "chain not array".into(),
            json_with("served-certificate-chain", "x".into()),
        ),
        (
            "chain numbers".into(),
            json_with("served-certificate-chain", serde_json::json!([1, 2])),
        ),
        (
            "chain bad pem".into(),
            json_with(
                "served-certificate-chain",
                serde_json::json!([
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                ]),
            ),
        ),
        (
            "chain a key".into(),
            json_with(
                "served-certificate-chain",
                serde_json::json!([pem(&env, "primary.pem")]),
            ),
        ),
        (
            "chain too long".into(),
            json_with(
                "served-certificate-chain",
                serde_json::json!(vec![cert.clone(); 17]),
            ),
        ),
        ("no chain".into(), {
            let mut o: serde_json::Value = serde_json::from_str(&good).unwrap();
            o.as_object_mut()
                .unwrap()
                .remove("served-certificate-chain");
            o.as_object_mut()
                .unwrap()
                .remove("validated-certificate-chain");
            o.to_string()
        }),
        (
            "known pins not array".into(),
            json_with("known-pins", "x".into()),
        ),
        (
            "known pin bad".into(),
            json_with("known-pins", serde_json::json!(["pin-sha256=\"abc\""])),
        ),
        (
            "known pin other hash".into(),
            json_with("known-pins", serde_json::json!(["pin-sha1=\"abc\""])),
        ),
        (
            "too many pins".into(),
            json_with(
                "known-pins",
                serde_json::json!(vec![format!("pin-sha256=\"{}\"", pins(&env)[0]); 65]),
            ),
        ),
        (
            "include-subdomains string".into(),
            json_with("include-subdomains", "no".into()),
        ),
        ("date-time number".into(), json_with("date-time", 5.into())),
        (
            "validation-result string".into(),
            json_with("validation-result", "1".into()),
        ),
        (
            "bad utf8".into(),
            String::from_utf8_lossy(b"{\"hostname\": \"\xff\"}").into_owned(),
        ),
    ];
    bodies.push((
        "over 64 KiB".into(),
        json_with("x", "a".repeat(70_000).into()),
    ));
    let mut answers = Vec::new();
    for (name, b) in &bodies {
        answers.push((name.clone(), raw(request(b).as_bytes())));
    }
    // Requests that are wrong before the body.
    answers.push((
        "GET".into(),
        raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ));
    answers.push((
        "declared too large".into(),
        raw(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n",
        ),
    ));
    answers.push((
        "chunked without end".into(),
        raw(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n"),
    ));
    answers.push((
        "body never sent".into(),
        raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"),
    ));
    answers.push(("garbage line".into(), raw(b"\x00\x01\x02 nonsense\r\n\r\n")));
    answers.push(("huge header".into(), {
        let mut r = b"POST / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
        r.extend(vec![b'a'; 100_000]);
        r.extend(b"\r\n\r\n");
        raw(&r)
    }));
    for (name, code) in &answers {
        // A slow or oversized head may be closed without an answer; all
        // else must be a 4xx.
        let silent_ok = matches!(name.as_str(), "huge header" | "garbage line");
        assert!(
            (400..500).contains(code) || (silent_ok && *code == 0),
            "{name}: answered {code}"
        );
    }
    assert!(answers.len() >= 30);
    assert_eq!(total(&env), 0, "nothing hostile was stored");
    // Still serving.
    assert_eq!(post(c.port, &good), 204);
    assert_eq!(total(&env), 1);
}

/// Many clients report at once and the collector is killed mid-way:
/// every report it acknowledged is in the store afterwards.
#[test]
fn every_acknowledged_report_survives_a_kill() {
    let env = reporting_site();
    let mut c = start(&env, &["--rate", "100000", "--burst", "100000"]);
    let cert = pem(&env, "cert.pem");
    let port = c.port;
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let acked = acked.clone();
            let cert = cert.clone();
            std::thread::spawn(move || {
                for i in 0..400 {
                    let host = format!("h{t}-{i}.unmanaged.example");
                    let body = rfc7469(&host, &cert, &[]);
                    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                        return;
                    };
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let req = format!(
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(req.as_bytes()).is_err() {
                        return;
                    }
                    let mut out = String::new();
                    let _ = s.read_to_string(&mut out);
                    if out.starts_with("HTTP/1.1 204") {
                        acked.lock().unwrap().push(host);
                    }
                }
            })
        })
        .collect();
    // Kill it while the load runs.
    loop {
        if acked.lock().unwrap().len() >= 300 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300);
    let v = list(&env);
    let stored: std::collections::HashSet<&str> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hostname"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|h| !stored.contains(h.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged reports lost: {lost:?}",
        lost.len()
    );
}

/// The unit is hardened and systemd accepts it.
#[test]
fn the_collector_unit_passes_systemd_analyze() {
    let test = "the_collector_unit_passes_systemd_analyze";
    if !have("systemd-analyze", test) {
        return;
    }
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    let unit = env.run(&["reports", "unit"]).ok().to_string();
    for k in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ReadWritePaths=",
    ] {
        assert!(unit.contains(k), "{k}");
    }
    std::fs::write(env.path().join("pinctl-reports.service"), &unit).unwrap();
    let o = std::process::Command::new("systemd-analyze")
        .args(["verify", "pinctl-reports.service"])
        .current_dir(env.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("pinctl-reports.service:"), "{err}");
}

/// With --tls-cert/--tls-key the collector serves HTTPS itself.
#[test]
fn the_collector_serves_tls_directly() {
    let test = "the_collector_serves_tls_directly";
    if !have("curl", test) || !have("openssl", test) {
        return;
    }
    let env = reporting_site();
    sh(env.path(), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 3 -out tls.pem 2>/dev/null");
    let c = start(&env, &["--tls-cert", "tls.pem", "--tls-key", "tls.key"]);
    let body = rfc7469("example.com", &pem(&env, "other.pem"), &[]);
    std::fs::write(env.path().join("r.json"), &body).unwrap();
    let code = sh(
        env.path(),
        &format!("curl -s -o /dev/null -w '%{{http_code}}' --cacert tls.pem -X POST --data-binary @r.json https://127.0.0.1:{}/report", c.port),
    );
    assert_eq!(code, "204");
    // Plain HTTP to the TLS port is no report.
    assert_ne!(post(c.port, &body), 204);
    assert_eq!(total(&env), 1);
}

/// A PostgreSQL server of Debian's `postgresql`, initialised in a
/// temporary folder and run as an unprivileged user; stopped on drop.
struct Postgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl Postgres {
    fn as_user(&self, tool: &str, args: &str) -> String {
        let root = unsafe { libc::geteuid() } == 0;
        let cmd = format!("'{}/{tool}' {args}", self.bin.display());
        if root {
            format!("runuser -u nobody -- {cmd}")
        } else {
            cmd
        }
    }

    fn start(test: &str) -> Option<Postgres> {
        // The binary speaks PostgreSQL only when built with the feature
        // (docs/design.md#collector); `cargo test --workspace` alone
        // builds it without.
        if !cfg!(feature = "postgres") {
            crate::common::skip(
                test,
                "PostgreSQL support in this build (--features postgres)",
            );
            return None;
        }
        let bin = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path().join("bin"))
                .find(|b| b.join("initdb").is_file())
        });
        let Some(bin) = bin else {
            crate::common::skip(test, "PostgreSQL's initdb (Debian's postgresql)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let mut pg = Postgres {
            port: crate::harness::free_port(),
            dir,
            bin,
        };
        sh(std::path::Path::new("/"), &format!(
            "chmod 0755 '{d}' && mkdir '{d}/data' && if [ $(id -u) = 0 ]; then chown nobody '{d}' '{d}/data'; fi"
        ));
        sh(
            std::path::Path::new("/"),
            &format!(
                "{} >/dev/null",
                pg.as_user("initdb", &format!("-D '{d}/data' -A trust -U pinctl"))
            ),
        );
        // PostgreSQL binds its port itself: if another test took the one
        // picked free meanwhile, start again on a fresh one (bounded).
        for attempt in 1.. {
            let o = std::process::Command::new("sh")
                .arg("-c")
                .arg(pg.as_user(
                    "pg_ctl",
                    &format!(
                        "-D '{d}/data' -l '{d}/log' -w -o \"-p {} -k '{d}' -c listen_addresses=127.0.0.1 -c fsync=on\" start",
                        pg.port
                    ),
                ))
                .current_dir("/")
                .output()
                .unwrap();
            if o.status.success() {
                break;
            }
            let log = std::fs::read_to_string(format!("{d}/log")).unwrap_or_default();
            assert!(
                crate::harness::address_in_use(&log) && attempt < 5,
                "pg_ctl start failed: {}\n{log}",
                String::from_utf8_lossy(&o.stderr)
            );
            pg.port = crate::harness::free_port();
        }
        Some(pg)
    }

    fn url(&self) -> String {
        format!("postgres://pinctl@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let d = self.dir.path().display().to_string();
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(self.as_user("pg_ctl", &format!("-D '{d}/data' -m immediate stop")))
            .output();
    }
}

/// Two collectors behind one load balancer share a PostgreSQL database:
/// concurrent reports, many of them the same, add up exactly.
#[test]
fn two_collectors_share_postgresql_and_the_counts_add_up() {
    let test = "two_collectors_share_postgresql_and_the_counts_add_up";
    let Some(pg) = Postgres::start(test) else {
        return;
    };
    let env = reporting_site();
    let url = pg.url();
    let fast = [
        "--rate",
        "1000000",
        "--burst",
        "1000000",
        "--database",
        url.as_str(),
    ];
    let a = start(&env, &fast);
    let b = start(&env, &fast);
    let cert = pem(&env, "cert.pem");
    let bodies: Vec<String> = (0..10)
        .map(|i| rfc7469(&format!("h{i}.unmanaged.example"), &cert, &[]))
        .collect();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let port = if t % 2 == 0 { a.port } else { b.port };
            let bodies = bodies.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let body = &bodies[(i + t) % bodies.len()];
                    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    let req = format!(
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    s.write_all(req.as_bytes()).unwrap();
                    let mut out = String::new();
                    let _ = s.read_to_string(&mut out);
                    if out.starts_with("HTTP/1.1 204") {
                        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(acked.load(std::sync::atomic::Ordering::SeqCst), 400);
    let v: serde_json::Value = serde_json::from_str(
        env.run(&["reports", "list", "--database", &url, "--format", "json"])
            .ok(),
    )
    .unwrap();
    let rows = v["reports"].as_array().unwrap();
    assert_eq!(rows.len(), 10, "{v}");
    let total: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 400);
    assert!(rows.iter().all(|r| r["count"] == 40), "{v}");
    // Neither collector touched the state folder's SQLite file.
    assert!(!env.path().join("state/reports.sqlite").exists());
}

/// One address sending faster than its rate gets 429 once its burst is
/// spent; a site added to the state while the collector runs is used to
/// classify the next report.
#[test]
fn rate_limits_apply_and_the_state_is_reread() {
    if !have("curl", "rate_limits_apply_and_the_state_is_reread") {
        return;
    }
    let env = reporting_site();
    let c = start(&env, &["--rate", "0.01", "--burst", "3"]);
    let other = pem(&env, "other.pem");
    let body = rfc7469("api.example.org", &other, &[]);
    let codes: Vec<u16> = (0..5).map(|_| post(c.port, &body)).collect();
    assert_eq!(codes, [204, 204, 204, 429, 429]);
    assert_eq!(total(&env), 3, "refused reports are not stored");
    drop(c);
    // A fresh collector, then a new site in the state.
    let c = start(&env, &["--rate", "1000", "--burst", "1000"]);
    assert_eq!(post(c.port, &rfc7469("shop.example.org", &other, &[])), 204);
    env.run(&["init", "shop.example.org"]).ok();
    let mut classes = Vec::new();
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(post(c.port, &rfc7469("shop.example.org", &other, &[])), 204);
        let v = list(&env);
        classes = v["reports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["hostname"] == "shop.example.org")
            .map(|r| r["class"].as_str().unwrap().to_string())
            .collect();
        if classes.iter().any(|c| c == "foreign-chain") {
            break;
        }
    }
    assert!(classes.contains(&"unknown-host".to_string()), "{classes:?}");
    assert!(
        classes.contains(&"foreign-chain".to_string()),
        "the new site was not used: {classes:?}"
    );
}
