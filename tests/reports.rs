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
        "User=pinctl-reports",
        "StateDirectory=pinctl-reports",
        "Environment=\"PINCTL_REPORTS_DATABASE=/var/lib/pinctl-reports/reports.sqlite\"",
        "reports prune --older-than 90d",
        "--trusted-proxy 127.0.0.1",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ReadOnlyPaths=",
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
    assert!(
        !unit.contains("ReadWritePaths="),
        "the collector writes only its StateDirectory"
    );
    // A password is never written into a unit.
    env.run(&["reports", "unit", "--database", "postgres://u:hunter2@db/x"])
        .fails_with("PGPASSFILE");
    let r = env.run(&["reports", "unit", "--database", "host=db password=hunter2"]);
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"));
    // The daily check reads what the collector stores.
    let cron = env
        .cmd(&["schedule", "--cron"])
        .env(
            "PINCTL_REPORTS_DATABASE",
            "/var/lib/pinctl-reports/reports.sqlite",
        )
        .output()
        .unwrap();
    let cron = String::from_utf8_lossy(&cron.stdout);
    assert!(
        cron.contains("PINCTL_REPORTS_DATABASE=/var/lib/pinctl-reports/reports.sqlite "),
        "{cron}"
    );
    let timer = env
        .cmd(&["schedule", "--systemd"])
        .env("PINCTL_REPORTS_DATABASE", "postgres://pinctl@db/reports")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&timer.stdout)
        .contains("Environment=\"PINCTL_REPORTS_DATABASE=postgres://pinctl@db/reports\"\n"));
    // A keyword string's spaces stay inside one assignment: the unit and
    // the timer's service carry it whole, and systemd-analyze accepts both.
    let kw = "host=db.internal dbname=reports user=pinctl";
    let want = format!("Environment=\"PINCTL_REPORTS_DATABASE={kw}\"\n");
    let unit = env
        .run(&["reports", "unit", "--database", kw])
        .ok()
        .to_string();
    assert!(unit.contains(&want), "{unit}");
    std::fs::write(env.path().join("pinctl-reports.service"), &unit).unwrap();
    let o = std::process::Command::new("systemd-analyze")
        .args(["verify", "pinctl-reports.service"])
        .current_dir(env.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("pinctl-reports.service:"), "{err}");
    let timer = env
        .cmd(&["schedule", "--systemd"])
        .env("PINCTL_REPORTS_DATABASE", kw)
        .output()
        .unwrap();
    let timer = String::from_utf8_lossy(&timer.stdout);
    assert!(timer.contains(&want), "{timer}");
    let service: String = timer
        .split("# /etc/systemd/system/pinctl-check.service\n")
        .nth(1)
        .and_then(|t| t.split("# /etc/systemd/system/").next())
        .unwrap_or_else(|| panic!("no service in {timer}"))
        .to_string();
    let sd = tempfile::tempdir().unwrap();
    std::fs::write(sd.path().join("pinctl-check.service"), &service).unwrap();
    let o = std::process::Command::new("systemd-analyze")
        .args(["verify", "pinctl-check.service"])
        .current_dir(sd.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("pinctl-check.service:"), "{err}");
    // cron quotes it for the shell.
    let cron = env
        .cmd(&["schedule", "--cron"])
        .env("PINCTL_REPORTS_DATABASE", kw)
        .output()
        .unwrap();
    let cron = String::from_utf8_lossy(&cron.stdout);
    assert!(
        cron.contains(&format!("PINCTL_REPORTS_DATABASE='{kw}' ")),
        "{cron}"
    );
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
    /// Server options beyond the port and socket (TLS), for a restart too.
    extra: String,
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
        Postgres::start_with(test, None, false)
    }

    /// With `password`, the role `pinctl` must give it (scram-sha-256);
    /// with `tls`, the server speaks TLS with a certificate for 127.0.0.1
    /// from the CA in `ca.pem` of [`Postgres::dir`].
    fn start_with(test: &str, password: Option<&str>, tls: bool) -> Option<Postgres> {
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
        let mut extra = String::new();
        if tls {
            sh(dir.path(), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -subj /CN=Test-PG-CA -days 3 -out ca.pem 2>/dev/null && \
                 openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -subj /CN=127.0.0.1 -out server.csr 2>/dev/null && \
                 printf 'subjectAltName=IP:127.0.0.1\\n' > ext && \
                 openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 -extfile ext -out server.pem 2>/dev/null && \
                 chmod 0600 server.key && if [ $(id -u) = 0 ]; then chown nobody server.key; fi");
            extra = format!(
                " -c ssl=on -c ssl_cert_file='{d}/server.pem' -c ssl_key_file='{d}/server.key'"
            );
        }
        let mut pg = Postgres {
            port: crate::harness::free_port(),
            dir,
            bin,
            extra,
        };
        sh(std::path::Path::new("/"), &format!(
            "chmod 0755 '{d}' && mkdir '{d}/data' && if [ $(id -u) = 0 ]; then chown nobody '{d}' '{d}/data'; fi"
        ));
        let auth = match password {
            None => "-A trust".to_string(),
            Some(pw) => {
                std::fs::write(format!("{d}/pw"), pw).unwrap();
                sh(
                    std::path::Path::new("/"),
                    &format!(
                        "if [ $(id -u) = 0 ]; then chown nobody '{d}/pw'; fi; chmod 0600 '{d}/pw'"
                    ),
                );
                format!("-A scram-sha-256 --pwfile='{d}/pw'")
            }
        };
        sh(
            std::path::Path::new("/"),
            &format!(
                "{} >/dev/null",
                pg.as_user("initdb", &format!("-D '{d}/data' {auth} -U pinctl"))
            ),
        );
        if password.is_some() {
            let _ = std::fs::remove_file(format!("{d}/pw"));
        }
        // PostgreSQL binds its port itself: if another test took the one
        // picked free meanwhile, start again on a fresh one (bounded).
        for attempt in 1.. {
            let o = std::process::Command::new("sh")
                .arg("-c")
                .arg(pg.as_user(
                    "pg_ctl",
                    &format!("-D '{d}/data' -l '{d}/log' -w -o \"{}\" start", pg.opts()),
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

    /// The server's options: its port, socket folder and `extra`.
    fn opts(&self) -> String {
        format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=on{}",
            self.port,
            self.dir.path().display(),
            self.extra
        )
    }

    fn url(&self) -> String {
        format!("postgres://pinctl@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl restart`: the server goes away and comes back.
    fn restart(&self) {
        let d = self.dir.path().display().to_string();
        sh(
            std::path::Path::new("/"),
            &format!(
                "{} >/dev/null",
                self.as_user(
                    "pg_ctl",
                    &format!(
                        "-D '{d}/data' -l '{d}/log' -w -m fast -o \"{}\" restart",
                        self.opts()
                    )
                )
            ),
        );
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

/// nginx configured with the README's block (its `server` on a free
/// loopback port with a test certificate) in front of a collector.
struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn start(env: &Env, upstream: u16) -> Nginx {
        let readme = include_str!("../README.md");
        let block = readme
            .split("```nginx\n")
            .find(|b| b.contains("server 127.0.0.1:8470;"))
            .and_then(|b| b.split("```").next())
            .expect("README's nginx block for the collector");
        let port = crate::harness::free_port();
        let d = env.path().join("nginx");
        std::fs::create_dir_all(&d).unwrap();
        sh(&d, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -subj /CN=reports.example.net -addext subjectAltName=DNS:reports.example.net -days 3 -out tls.pem 2>/dev/null");
        let dd = d.display();
        let server = block
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;\n    ssl_certificate {dd}/tls.pem;\n    ssl_certificate_key {dd}/tls.key;"))
            .replace("127.0.0.1:8470", &format!("127.0.0.1:{upstream}"));
        let conf = format!(
            "pid {dd}/nginx.pid;\nerror_log {dd}/error.log;\nworker_processes 2;\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {dd}/t1; proxy_temp_path {dd}/t2; fastcgi_temp_path {dd}/t3; uwsgi_temp_path {dd}/t4; scgi_temp_path {dd}/t5;\n{server}}}\n"
        );
        std::fs::write(d.join("nginx.conf"), conf).unwrap();
        let child = std::process::Command::new("nginx")
            .args([
                "-p",
                &dd.to_string(),
                "-c",
                &format!("{dd}/nginx.conf"),
                "-g",
                "daemon off;",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Dropped (killed and waited for) on every path.
        let nginx = Nginx { child, port };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(nginx);
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
        );
    }

    /// POSTs `body` through nginx with the client's own forwarding
    /// header (as a client far away, or another proxy, would send it).
    fn post(&self, env: &Env, body: &str, forwarded_for: &str) -> u16 {
        let f = env.path().join("nginx/body.json");
        std::fs::write(&f, body).unwrap();
        let o = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                &env.path().join("nginx/tls.pem").display().to_string(),
                "--resolve",
                &format!("reports.example.net:{}:127.0.0.1", self.port),
                "-H",
                &format!("X-Forwarded-For: {forwarded_for}"),
                "--data-binary",
                &format!("@{}", f.display()),
                &format!("https://reports.example.net:{}/hpkp-report", self.port),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).parse().unwrap_or(0)
    }
}

/// Behind nginx configured as the README says, each client has its own
/// rate limit: many clients are all accepted, one flooding client is
/// limited; without --trusted-proxy forged headers buy nothing.
#[test]
fn behind_nginx_each_client_has_its_own_limit() {
    let test = "behind_nginx_each_client_has_its_own_limit";
    if !have("nginx", test) || !have("curl", test) || !have("openssl", test) {
        return;
    }
    let env = reporting_site();
    let body = rfc7469("example.com", &pem(&env, "other.pem"), &[]);
    let c = start(
        &env,
        &[
            "--rate",
            "0.01",
            "--burst",
            "3",
            "--trusted-proxy",
            "127.0.0.1",
        ],
    );
    let nginx = Nginx::start(&env, c.port);
    // 16 clients, 3 reports each: all within their own burst.
    for i in 0..16 {
        for _ in 0..3 {
            assert_eq!(
                nginx.post(&env, &body, &format!("198.51.100.{i}")),
                204,
                "client {i}"
            );
        }
    }
    // One of them floods.
    let flood: Vec<u16> = (0..5)
        .map(|_| nginx.post(&env, &body, "198.51.100.3"))
        .collect();
    assert_eq!(flood, [429; 5]);
    // IPv6 clients of one /64 share a bucket.
    let v6: Vec<u16> = (0..4)
        .map(|i| nginx.post(&env, &body, &format!("2001:db8:0:1::{i}")))
        .collect();
    assert_eq!(v6, [204, 204, 204, 429]);
    // A client that forges a trusted hop after its own address is still itself.
    assert_eq!(nginx.post(&env, &body, "198.51.100.3, 127.0.0.1"), 429);
    assert_eq!(total(&env), 16 * 3 + 3);
    drop(nginx);
    drop(c);

    // Without --trusted-proxy every client is the proxy.
    let c = start(&env, &["--rate", "0.01", "--burst", "3"]);
    let nginx = Nginx::start(&env, c.port);
    let codes: Vec<u16> = (0..5)
        .map(|i| nginx.post(&env, &body, &format!("203.0.113.{i}")))
        .collect();
    assert_eq!(
        codes,
        [204, 204, 204, 429, 429],
        "forged headers were believed"
    );
}

/// Sends `bodies` over one keep-alive connection; returns the 204s.
fn post_many(port: u16, bodies: &[String]) -> usize {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut ok = 0;
    for body in bodies {
        let req = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut b = vec![0; len];
        r.read_exact(&mut b).unwrap();
        if status.starts_with("HTTP/1.1 204") {
            ok += 1;
        }
    }
    ok
}

/// 3,000 reports that differ only in their port were 3,003 lines of
/// `check` (968 KB of cron mail): now one line per class and host, the
/// detail in `reports list`; `reports prune` deletes what is old.
#[test]
fn check_summarises_a_flood_and_prune_deletes_old_reports() {
    let env = reporting_site().var("PINCTL_NOW", "2030-03-01T00:00:00Z");
    let c = start(&env, &["--rate", "1000000", "--burst", "1000000"]);
    let other = pem(&env, "other.pem");
    let base = rfc7469("example.com", &other, &[]);
    let bodies: Vec<String> = (0..3000)
        .map(|p| base.replace("\"port\":443", &format!("\"port\":{}", 1000 + p)))
        .collect();
    assert_ne!(bodies[0], bodies[1]);
    assert_eq!(post_many(c.port, &bodies), 3000);
    let hosts: Vec<String> = (0..40)
        .map(|i| rfc7469(&format!("h{i}.example.com"), &other, &[]))
        .collect();
    assert_eq!(post_many(c.port, &hosts), 40);
    drop(c);
    assert_eq!(list(&env)["reports"].as_array().unwrap().len(), 3040);
    let o = env.cmd(&["check"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8_lossy(&o.stdout);
    let reports: Vec<&str> = text.lines().filter(|l| l.contains("[reports-")).collect();
    assert_eq!(reports.len(), 6, "{text}");
    assert!(
        reports[0].contains("3000 report(s) (3000 distinct) from example.com"),
        "{text}"
    );
    assert!(
        reports[5].contains("36 report(s) about 36 more host(s)"),
        "{text}"
    );
    assert!(text.len() < 8 << 10, "{} bytes", text.len());
    // Prune: nothing is 90 days old yet; 100 days later, everything is.
    let p = env.run(&["reports", "prune", "--older-than", "90d"]);
    assert!(p.ok().contains("Pruned 0 report row(s)"), "{}", p.stdout);
    let later = env
        .cmd(&["reports", "prune", "--older-than", "90d"])
        .env("PINCTL_NOW", "2030-06-09T00:00:00Z")
        .output()
        .unwrap();
    assert!(later.status.success());
    assert!(String::from_utf8_lossy(&later.stdout).contains("Pruned 3040 report row(s)"));
    assert_eq!(total(&env), 0);
    env.run(&["reports", "prune", "--older-than", "soon"])
        .fails_with("not a time");
}

/// A mistyped --database read as "No reports." and exit 0. Readers never
/// create a store; a keyword connection string is never a file name.
#[test]
fn readers_do_not_create_and_keyword_strings_are_not_files() {
    let env = reporting_site();
    let missing = env.path().join("nope/x.sqlite").display().to_string();
    for args in [
        vec!["reports", "list", "--database", &missing],
        vec!["reports", "summary", "--database", &missing],
        vec![
            "reports",
            "prune",
            "--older-than",
            "1d",
            "--database",
            &missing,
        ],
        vec!["plan", "--database", &missing],
    ] {
        let r = env.run(&args);
        assert_eq!(r.code, 1, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.starts_with("error: ") && r.stderr.contains(&missing),
            "{}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    // The variable is the default for all of them.
    let r = env
        .cmd(&["reports", "list"])
        .env("PINCTL_REPORTS_DATABASE", &missing)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let r = env
        .cmd(&["check"])
        .env("PINCTL_REPORTS_DATABASE", &missing)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(3), "check is UNKNOWN");
    assert!(String::from_utf8_lossy(&r.stdout).starts_with("PINCTL UNKNOWN - "));
    assert!(!env.path().join("nope").exists());
    // The default file missing is no reports yet, and stays missing.
    assert!(env.run(&["reports", "list"]).ok().contains("No reports."));
    assert!(!env.path().join("state/reports.sqlite").exists());
    // A keyword string with a password: PostgreSQL (or refused), no file,
    // and the password nowhere.
    let before = all_files(env.path());
    let kw = "host=127.0.0.1 port=1 dbname=x user=u password=hunter2secret";
    for args in [
        vec!["reports", "list", "--database", kw],
        vec!["check", "--database", kw],
    ] {
        let r = env.run(&args);
        assert_ne!(r.code, 0);
        assert!(
            !r.stdout.contains("hunter2") && !r.stderr.contains("hunter2"),
            "{}{}",
            r.stdout,
            r.stderr
        );
    }
    assert_eq!(all_files(env.path()), before, "no file was created");
}

/// The collector as uid 65534 with nothing of the state readable but the
/// folders' listing and the site.yaml files: it classifies against the
/// state (it never opens an archive, a CSR or a certificate) and writes
/// only its database.
#[test]
fn the_collector_runs_unprivileged_with_only_site_yaml_readable() {
    let test = "the_collector_runs_unprivileged_with_only_site_yaml_readable";
    if unsafe { libc::geteuid() } != 0 {
        crate::common::skip(test, "root (to switch to uid 65534)");
        return;
    }
    if !have("setpriv", test) || !have("curl", test) {
        return;
    }
    let env = reporting_site();
    let d = env.path().display().to_string();
    // The state: root's, 0700 files; others may list the root folder, enter
    // the site folders and read site.yaml (0644), and nothing else.
    sh(
        env.path(),
        &format!(
            "chmod 0711 '{d}' && chmod 0705 state && chmod 0701 state/example.com && \
             mkdir db && chown 65534:65534 db && chmod 0700 db && \
             ls -l state/example.com | grep -v site.yaml | grep -q -- '-rw-------'"
        ),
    );
    let before = snapshot(&env.path().join("state"));
    // A copy of the binary others can run (the build tree may be closed).
    let exe = env.path().join("pinctl");
    std::fs::copy(env!("CARGO_BIN_EXE_pinctl"), &exe).unwrap();
    sh(env.path(), "chmod 0755 pinctl");
    let mut child = std::process::Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(&exe)
        .args([
            "--state",
            &format!("{d}/state"),
            "reports",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PINCTL_REPORTS_DATABASE", format!("{d}/db/reports.sqlite"))
        .current_dir("/")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().map(|l| l.unwrap()).unwrap_or_default();
    let port: Option<u16> = first
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok());
    let c = Collector {
        child,
        port: port.unwrap_or(0),
    };
    let Some(port) = port else {
        let rest: Vec<String> = lines.map_while(|l| l.ok()).collect();
        panic!(
            "the unprivileged collector did not start: {first}\n{}",
            rest.join("\n")
        );
    };
    std::thread::spawn(move || for _ in lines {});
    let p = pins(&env);
    assert_eq!(
        post(port, &rfc7469("example.com", &pem(&env, "other.pem"), &[])),
        204
    );
    assert_eq!(
        post(
            port,
            &rfc7469("example.com", &pem(&env, "cert.pem"), &[&p[1], &p[2]])
        ),
        204
    );
    drop(c);
    let db = format!("{d}/db/reports.sqlite");
    let v: serde_json::Value = serde_json::from_str(
        env.run(&["reports", "list", "--database", &db, "--format", "json"])
            .ok(),
    )
    .unwrap();
    let mut classes: Vec<&str> = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["class"].as_str().unwrap())
        .collect();
    classes.sort();
    assert_eq!(classes, ["foreign-chain", "misconfiguration"], "{v}");
    assert_eq!(
        snapshot(&env.path().join("state")),
        before,
        "the state was not written"
    );
    assert!(!env.path().join("state/reports.sqlite").exists());
}

/// A real PostgreSQL with a password role (scram-sha-256): the collector
/// gets the password from a PGPASSFILE, survives `pg_ctl restart` in the
/// middle of a run by itself (503 with Retry-After while the server is
/// away) and loses nothing it acknowledged; the password appears in no
/// output, wherever the URL holds it; `check --database` is CRITICAL on
/// the foreign chain stored there.
#[test]
fn postgresql_restarts_and_the_collector_recovers_without_losing_reports() {
    let test = "postgresql_restarts_and_the_collector_recovers_without_losing_reports";
    let password = "pg-S3cret-Zq7";
    let Some(pg) = Postgres::start_with(test, Some(password), false) else {
        return;
    };
    let mut env = reporting_site();
    let passfile = env.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!("127.0.0.1:{}:*:pinctl:{password}\n", pg.port),
    )
    .unwrap();
    sh(env.path(), "chmod 0600 pgpass");
    env.set("PGPASSFILE", &passfile.display().to_string());
    let url = pg.url();
    let mut child = env
        .cmd(&[
            "reports",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rate",
            "1000000",
            "--burst",
            "1000000",
            "--database",
            &url,
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port: u16 = first
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    let log = std::sync::Arc::new(std::sync::Mutex::new(first.clone()));
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(|l| l.ok()) {
                log.lock().unwrap().push_str(&format!("\n{l}"));
            }
        });
    }
    let collector = Collector { child, port };
    let body = rfc7469("example.com", &pem(&env, "other.pem"), &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let senders: Vec<_> = (0..3)
        .map(|_| {
            let (stop, acked, refused, body) = (stop.clone(), acked.clone(), refused.clone(), body.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { continue };
                    let req = format!(
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(req.as_bytes()).is_err() {
                        continue;
                    }
                    let mut out = String::new();
                    let _ = s.read_to_string(&mut out);
                    if out.starts_with("HTTP/1.1 204") {
                        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    } else if out.starts_with("HTTP/1.1 503") {
                        assert!(out.to_ascii_lowercase().contains("retry-after: 5"), "{out}");
                        refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let wait_for = |n: u64| {
        for _ in 0..600 {
            if acked.load(std::sync::atomic::Ordering::SeqCst) >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no progress: {}", log.lock().unwrap());
    };
    wait_for(50);
    pg.restart();
    let after_restart = acked.load(std::sync::atomic::Ordering::SeqCst);
    // It recovers by itself: reports are acknowledged again.
    wait_for(after_restart + 100);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for s in senders {
        s.join().unwrap();
    }
    drop(collector);
    let acked = acked.load(std::sync::atomic::Ordering::SeqCst);
    let v: serde_json::Value = serde_json::from_str(
        env.run(&["reports", "list", "--database", &url, "--format", "json"])
            .ok(),
    )
    .unwrap();
    let stored: u64 = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    // A commit whose answer was lost with the connection was refused (503)
    // and may be stored: never fewer than acknowledged.
    assert!(stored >= acked, "stored {stored} < acknowledged {acked}");
    assert!(stored <= acked + refused.load(std::sync::atomic::Ordering::SeqCst));
    let log = log.lock().unwrap().clone();
    assert!(log.contains("connected again"), "{log}");
    // check --database: CRITICAL on the foreign chain stored there.
    let ck = env.run(&["check", "--database", &url]);
    assert_eq!(ck.code, 2, "{}{}", ck.stdout, ck.stderr);
    assert!(
        ck.stdout.contains("[reports-foreign-chain]"),
        "{}",
        ck.stdout
    );
    let plan = env.run(&["plan", "--database", &url]).ok().to_string();
    assert!(plan.contains("unexpected report(s)"), "{plan}");
    // The password in the URL, wherever: never printed.
    let mut outputs = vec![log];
    let in_user = format!(
        "postgres://pinctl:{password}@127.0.0.1:{}/postgres",
        pg.port
    );
    let in_query = format!(
        "postgres://pinctl@127.0.0.1:{}/postgres?password={password}",
        pg.port
    );
    let wrong = format!(
        "postgres://pinctl:{password}x@127.0.0.1:{}/postgres",
        pg.port
    );
    let keyword = format!(
        "host=127.0.0.1 port={} user=pinctl password={password}x dbname=postgres",
        pg.port
    );
    env.set("PGPASSFILE", "/nonexistent");
    for db in [&in_user, &in_query] {
        let r = env.run(&["reports", "summary", "--database", db]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        outputs.push(r.stdout + &r.stderr);
    }
    for db in [&wrong, &keyword] {
        let r = env.run(&["reports", "list", "--database", db]);
        assert_eq!(r.code, 1);
        assert!(
            r.stderr.contains("password authentication failed"),
            "{}",
            r.stderr
        );
        outputs.push(r.stdout + &r.stderr);
        let r = env.run(&["check", "--database", db]);
        assert_eq!(r.code, 3);
        outputs.push(r.stdout + &r.stderr);
    }
    let o = env
        .cmd(&[
            "reports",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &wrong,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    outputs.push(String::from_utf8_lossy(&o.stderr).into_owned());
    for o in &outputs {
        assert!(!o.contains(password), "the password leaked: {o}");
    }
}

/// TLS to PostgreSQL by rustls: `require` encrypts; `verify-full` with
/// the CA file connects, and refuses a server whose certificate another
/// CA signed or that is not for the host named.
#[test]
fn postgresql_over_tls_verify_full_with_a_ca_file() {
    let test = "postgresql_over_tls_verify_full_with_a_ca_file";
    if !have("openssl", test) {
        return;
    }
    let Some(pg) = Postgres::start_with(test, Some("tls-pw-81x"), true) else {
        return;
    };
    let mut env = reporting_site();
    env.set("PGPASSWORD", "tls-pw-81x");
    let d = pg.dir.path().display().to_string();
    sh(env.path(), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -subj /CN=Other-CA -days 3 -out other-ca.pem 2>/dev/null");
    let base = format!("postgres://pinctl@127.0.0.1:{}/postgres", pg.port);
    let good = [
        format!("{base}?sslmode=require"),
        format!("{base}?sslmode=verify-full&sslrootcert={d}/ca.pem"),
        format!("host=127.0.0.1 port={} user=pinctl dbname=postgres sslmode=verify-ca sslrootcert={d}/ca.pem", pg.port),
    ];
    // A reader creates nothing: no table yet is an error.
    env.run(&["reports", "list", "--database", &good[1]])
        .fails_with("no reports table");
    let c = start(&env, &["--database", &good[1]]);
    assert_eq!(
        post(
            c.port,
            &rfc7469("example.com", &pem(&env, "other.pem"), &[])
        ),
        204
    );
    drop(c);
    for db in &good {
        let r = env.run(&["reports", "summary", "--database", db]);
        assert_eq!(r.code, 0, "{db}: {}", r.stderr);
        assert!(
            r.stdout.contains("foreign-chain  1 report(s)"),
            "{}",
            r.stdout
        );
    }
    assert_eq!(env.run(&["check", "--database", &good[1]]).code, 2);
    let other = env.path().join("other-ca.pem").display().to_string();
    let bad = [
        (format!("{base}?sslmode=verify-full&sslrootcert={other}"), "certificate"),
        // The certificate is for 127.0.0.1, not localhost.
        (format!("postgres://pinctl@localhost:{}/postgres?sslmode=verify-full&sslrootcert={d}/ca.pem", pg.port), "certificate"),
        (format!("{base}?sslmode=verify-full"), "needs sslrootcert"),
        (format!("{base}?sslmode=sometimes"), "sslmode=sometimes"),
    ];
    for (db, why) in &bad {
        let r = env.run(&["reports", "list", "--database", db]);
        assert_eq!(r.code, 1, "{db}: {}", r.stdout);
        assert!(r.stderr.contains(why), "{db}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
}

/// A chain served with a key recorded as compromised was classified
/// "misconfiguration", a WARNING under Report-Only: it is its own class,
/// CRITICAL in `check`, and holds the ramp back.
#[test]
fn a_chain_with_a_compromised_key_is_critical() {
    if !have("curl", "a_chain_with_a_compromised_key_is_critical") {
        return;
    }
    let env = reporting_site();
    let before = pins(&env);
    env.run(&["rotate", "--promote", "backup1", "--compromised"])
        .ok();
    let c = start(&env, &[]);
    // The thief serves primary's certificate to a client that still holds
    // the old pinset.
    let known: Vec<&str> = before.iter().map(String::as_str).collect();
    assert_eq!(
        post(
            c.port,
            &rfc7469("example.com", &pem(&env, "cert.pem"), &known[1..])
        ),
        204
    );
    drop(c);
    let v = list(&env);
    assert_eq!(v["reports"][0]["class"], "compromised-key", "{v}");
    let o = env.cmd(&["check"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines().any(|l| l
            .starts_with("CRITICAL example.com: a chain with a key recorded as compromised")
            && l.ends_with("[reports-compromised-key]")),
        "{text}"
    );
}

/// If the writer dies, the collector exits non-zero (so that systemd
/// restarts it) instead of answering 503 for ever.
#[test]
fn the_collector_exits_non_zero_when_its_writer_dies() {
    let env = reporting_site().var("PINCTL_FAILPOINT", "writer-panic");
    let mut c = start(&env, &[]);
    let body = rfc7469("example.com", &pem(&env, "other.pem"), &[]);
    let mut s = TcpStream::connect(("127.0.0.1", c.port)).unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(!out.starts_with("HTTP/1.1 204"), "{out}");
    for _ in 0..100 {
        if let Some(status) = c.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(1), "{status:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the collector kept running without its writer");
}

/// A password holding `/`, `?`, `#`, `@` or `:` ends no earlier than the
/// client's `@` (issue #24): it shows in no error, and no unit or crontab
/// is written with it.
#[test]
fn passwords_with_url_delimiters_never_show_and_are_never_scheduled() {
    let env = reporting_site();
    let before = all_files(env.path());
    for pw in [
        "Zq7/sec",
        "Zq7?sec",
        "Zq7#sec",
        "Zq7@sec",
        "Zq7:sec",
        "Zq7/?#@:sec",
    ] {
        for url in [
            format!("postgresql://pinctl:{pw}@127.0.0.1:1/db"),
            format!("postgres://pinctl:{pw}@127.0.0.1:1/db?sslmode=disable"),
        ] {
            let leaked = |r: &Run| r.stdout.contains("Zq7") || r.stderr.contains("Zq7");
            let r = env.run(&["reports", "list", "--database", &url]);
            assert_eq!(r.code, 1, "{url}: {}{}", r.stdout, r.stderr);
            assert!(!leaked(&r), "{url}: {}{}", r.stdout, r.stderr);
            assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
            let r = env.run(&["reports", "unit", "--database", &url]);
            assert_eq!(r.code, 1, "{url}: {}", r.stdout);
            assert!(r.stderr.contains("PGPASSFILE"), "{}", r.stderr);
            assert!(!leaked(&r), "{url}: {}{}", r.stdout, r.stderr);
            for how in ["--cron", "--systemd"] {
                let o = env
                    .cmd(&["schedule", how])
                    .env("PINCTL_REPORTS_DATABASE", &url)
                    .output()
                    .unwrap();
                let r = Run::from(o);
                assert_eq!(r.code, 1, "{url} {how}: {}", r.stdout);
                assert!(r.stderr.contains("PGPASSFILE"), "{}", r.stderr);
                assert!(!leaked(&r), "{url} {how}: {}{}", r.stdout, r.stderr);
            }
        }
    }
    assert_eq!(all_files(env.path()), before);
}

/// A PostgreSQL address that accepts and never answers (a wedged server,
/// a firewall's tarpit): `reports list` fails with one line and `check`
/// is UNKNOWN, both within bounded time, not hanging for ever (#24).
#[test]
fn a_database_that_never_answers_fails_in_bounded_time() {
    let env = reporting_site();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Hold every connection open, and say nothing.
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let wait = |mut c: std::process::Command| {
        let start = std::time::Instant::now();
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                child.kill().ok();
                panic!("still waiting after 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Run::from(child.wait_with_output().unwrap())
    };
    for url in [
        format!("postgresql://pinctl@127.0.0.1:{port}/db"),
        format!("postgresql://pinctl@127.0.0.1:{port}/db?sslmode=disable"),
    ] {
        let r = wait(env.cmd(&["reports", "list", "--database", &url]));
        assert_eq!(r.code, 1, "{url}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains("no answer"), "{}", r.stderr);
    }
    let url = format!("host=127.0.0.1 port={port} user=pinctl dbname=db");
    let r = wait(env.cmd(&["check", "--database", &url]));
    assert_eq!(r.code, 3, "check is UNKNOWN: {}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("PINCTL UNKNOWN - "), "{}", r.stdout);
}

/// `PGSSLMODE` and `PGSSLROOTCERT` apply as libpq applies them, where the
/// connection string says nothing (#24).
#[test]
fn pgsslmode_from_the_environment_applies_unless_the_string_says() {
    let env = reporting_site();
    let url = "postgresql://pinctl@127.0.0.1:1/db";
    let run = |db: &str, vars: &[(&str, &str)]| {
        let mut c = env.cmd(&["reports", "list", "--database", db]);
        for (k, v) in vars {
            c.env(k, v);
        }
        Run::from(c.output().unwrap())
    };
    let r = run(url, &[("PGSSLMODE", "verify-full")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("needs sslrootcert"), "{}", r.stderr);
    // The string wins.
    let r = run(
        &format!("{url}?sslmode=disable"),
        &[("PGSSLMODE", "verify-full")],
    );
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains("sslrootcert"), "{}", r.stderr);
    // PGSSLROOTCERT is read: a missing file is named.
    let missing = env.path().join("no-ca.pem").display().to_string();
    let r = run(
        url,
        &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &missing)],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no-ca.pem"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}
