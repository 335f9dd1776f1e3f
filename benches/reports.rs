//! The report collector under load on loopback: `wrk` posts a mix of
//! duplicate and distinct reports to `pinctl reports serve` for 10 s,
//! directly (rate limits off) and through nginx configured with README's
//! block (`--trusted-proxy 127.0.0.1`, the default per-client limits, a
//! random X-Forwarded-For per request); the accepted rates and p99
//! latencies are set against each other and against the bare insert rate
//! of the same SQLite store measured in the same run, and each store's
//! count must equal the reports acknowledged (0 lost).
//! Run with `cargo bench --bench reports` (needs Debian's `wrk`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use pinctl::reports::store::{Incoming, Store};

const CERT: &str = include_str!("../tests/fixtures/leaf.cert.pem");

fn body(host: &str) -> String {
    serde_json::json!({
        "date-time": "2030-03-01T00:00:00Z",
        "hostname": host,
        "port": 443,
        "noted-hostname": host,
        "include-subdomains": false,
        "served-certificate-chain": [CERT],
        "validated-certificate-chain": [CERT],
        "known-pins": ["pin-sha256=\"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=\""],
    })
    .to_string()
}

/// Reports per second stored straight into the store: in batches of
/// `batch`, each batch one transaction.
fn bare(dir: &std::path::Path, n: usize, batch: usize) -> f64 {
    let path = dir.join(format!("bare-{batch}.sqlite"));
    let mut s = Store::open(&path).expect("store");
    let r = pinctl::reports::parse(body("bare.example").as_bytes()).expect("report");
    let items: Vec<Incoming> = (0..n)
        .map(|i| Incoming {
            key: format!("k{}", i % (n / 2).max(1)),
            site: None,
            class: pinctl::reports::Class::UnknownHost,
            report: r.clone(),
            at: chrono::Utc::now(),
            sample: String::new(),
        })
        .collect();
    let t = Instant::now();
    for chunk in items.chunks(batch) {
        s.insert(chunk).expect("insert");
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// What one wrk run measured.
struct Run {
    rate: String,
    p99: String,
    accepted: u64,
    refused: u64,
    stored: u64,
}

/// Starts a collector storing in `db` with `args`; returns it and its port.
fn collector(d: &std::path::Path, db: &str, args: &[&str]) -> (std::process::Child, u16) {
    let bin = env!("CARGO_BIN_EXE_pinctl");
    let mut child = Command::new(bin)
        .args([
            "--state",
            "state",
            "reports",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            db,
        ])
        .args(args)
        .current_dir(d)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("collector");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    std::thread::spawn(move || for _ in lines {});
    let port: u16 = first
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok())
        .expect("port");
    (child, port)
}

/// The wrk script: four duplicates for every distinct report; with
/// `forwarded`, each request from a random client address in 10.0.0.0/8
/// (X-Forwarded-For, as clients far away reach the proxy).
fn script(d: &std::path::Path, name: &str, forwarded: bool) {
    let dup: Vec<String> = (0..5).map(|i| body(&format!("dup{i}.example"))).collect();
    let lua_str = |s: &str| format!("{s:?}");
    let template = body("HOST");
    let xff = if forwarded {
        ", [\"X-Forwarded-For\"] = \"10.\" .. math.random(0, 255) .. \".\" .. math.random(0, 255) .. \".\" .. math.random(1, 254)"
    } else {
        ""
    };
    let script = format!(
        "local dup = {{{}}}\nlocal template = {}\nlocal n = 0\nmath.randomseed(os.time())\nrequest = function()\n  n = n + 1\n  local b\n  if n % 5 == 0 then\n    b = template:gsub(\"HOST\", \"u\" .. math.random(1, 2000000000) .. \".example\")\n  else\n    b = dup[(n % 5)]\n  end\n  return wrk.format(\"POST\", \"/r\", {{[\"Content-Type\"] = \"application/json\"{xff}}}, b)\nend\n",
        dup.iter().map(|b| lua_str(b)).collect::<Vec<_>>().join(", "),
        lua_str(&template)
    );
    std::fs::write(d.join(name), script).expect("script");
}

/// wrk for 10 s against `port` with `lua`; the store `db` counted after.
fn wrk(d: &std::path::Path, port: u16, lua: &str, db: &str) -> Run {
    let out = Command::new("wrk")
        .args(["-t2", "-c64", "-d10s", "--latency", "-s", lua])
        .arg(format!("http://127.0.0.1:{port}/r"))
        .current_dir(d)
        .output()
        .expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |prefix: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    };
    let requests: u64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let refused: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stored = Store::open(&d.join(db))
        .and_then(|mut s| s.total())
        .expect("store");
    let accepted = requests - refused;
    // Accepted per second, refusals not counted.
    let secs = 10.0;
    Run {
        rate: format!("{:.0}", accepted as f64 / secs),
        p99: field("99%").unwrap_or_default(),
        accepted,
        refused,
        stored,
    }
}

/// nginx with README's block, listening on plain HTTP (TLS is nginx's
/// own cost, not the path measured), in front of `upstream`.
fn nginx(d: &std::path::Path, upstream: u16) -> Option<(std::process::Child, u16)> {
    let readme = include_str!("../README.md");
    let block = readme
        .split("```nginx\n")
        .find(|b| b.contains("server 127.0.0.1:8470;"))
        .and_then(|b| b.split("```").next())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let n = d.join("nginx");
    std::fs::create_dir_all(&n).ok()?;
    let nd = n.display();
    let conf = format!(
        "pid {nd}/nginx.pid;\nerror_log {nd}/error.log;\nworker_processes auto;\nevents {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {nd}/t1; proxy_temp_path {nd}/t2; fastcgi_temp_path {nd}/t3; uwsgi_temp_path {nd}/t4; scgi_temp_path {nd}/t5;\n{}}}\n",
        block
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port};"))
            .replace("127.0.0.1:8470", &format!("127.0.0.1:{upstream}"))
    );
    std::fs::write(n.join("nginx.conf"), conf).ok()?;
    let child = Command::new("nginx")
        .args([
            "-p",
            &nd.to_string(),
            "-c",
            &format!("{nd}/nginx.conf"),
            "-g",
            "daemon off;",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((child, port));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("SKIPPED: wrk not found (apt-get install wrk)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("state")).ok();
    let per_commit = bare(d, 2_000, 1);
    let batched = bare(d, 50_000, 256);
    script(d, "post.lua", false);
    script(d, "forwarded.lua", true);
    // Direct, rate limits off.
    let (mut child, port) = collector(
        d,
        "direct.sqlite",
        &["--rate", "1000000000", "--burst", "1000000000"],
    );
    let direct = wrk(d, port, "post.lua", "direct.sqlite");
    child.kill().ok();
    child.wait().ok();
    // Through nginx, with the default per-client limits and the clients
    // told apart by X-Forwarded-For from the trusted proxy.
    let (mut child, port) = collector(d, "proxied.sqlite", &["--trusted-proxy", "127.0.0.1"]);
    let proxied = nginx(d, port).map(|(mut ng, nport)| {
        let r = wrk(d, nport, "forwarded.lua", "proxied.sqlite");
        ng.kill().ok();
        ng.wait().ok();
        r
    });
    child.kill().ok();
    child.wait().ok();
    println!(
        "collector under wrk (2 threads, 64 connections, 10 s; 4 duplicates per distinct report):"
    );
    let show = |what: &str, r: &Run| {
        println!(
            "  {what}: {} reports/s accepted, p99 latency {}, {} refused; acknowledged {}, stored {}: {} lost",
            r.rate,
            r.p99,
            r.refused,
            r.accepted,
            r.stored,
            r.accepted.saturating_sub(r.stored)
        );
    };
    show("direct, limits off", &direct);
    match &proxied {
        Some(p) => {
            show(
                "through nginx, --trusted-proxy, random X-Forwarded-For, default limits",
                p,
            );
            if let (Ok(a), Ok(b)) = (p.rate.parse::<f64>(), direct.rate.parse::<f64>()) {
                println!("  through nginx / direct: {:.2}x", a / b);
            }
        }
        None => println!("  through nginx: SKIPPED (nginx not found or did not start)"),
    }
    println!("  store, 1 per commit  {per_commit:.0} reports/s (bare insert, same run)");
    println!("  store, 256 per commit {batched:.0} reports/s (bare insert, same run)");
    if let Ok(r) = direct.rate.parse::<f64>() {
        println!(
            "  direct collector / 1-per-commit store: {:.1}x; / batched store: {:.2}x",
            r / per_commit,
            r / batched
        );
    }
}
