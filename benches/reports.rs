//! The report collector under load on loopback: `wrk` posts a mix of
//! duplicate and distinct reports to `pinctl reports serve` for 10 s; the
//! accepted rate and p99 latency are set against the bare insert rate of
//! the same SQLite store measured in the same run, and the store's count
//! must equal the reports acknowledged (0 lost).
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

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("SKIPPED: wrk not found (apt-get install wrk)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let per_commit = bare(d, 2_000, 1);
    let batched = bare(d, 50_000, 256);
    let bin = env!("CARGO_BIN_EXE_pinctl");
    let mut child = Command::new(bin)
        .args([
            "--state",
            "state",
            "reports",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--rate", "1000000000", "--burst", "1000000000"])
        .current_dir(d)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("collector");
    std::fs::create_dir_all(d.join("state")).ok();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    std::thread::spawn(move || for _ in lines {});
    let port: u16 = first
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok())
        .expect("port");
    // Four duplicates for every distinct report.
    let dup: Vec<String> = (0..5).map(|i| body(&format!("dup{i}.example"))).collect();
    let lua_str = |s: &str| format!("{s:?}");
    let template = body("HOST");
    let script = format!(
        "local dup = {{{}}}\nlocal template = {}\nlocal n = 0\nmath.randomseed(os.time())\nrequest = function()\n  n = n + 1\n  local b\n  if n % 5 == 0 then\n    b = template:gsub(\"HOST\", \"u\" .. math.random(1, 2000000000) .. \".example\")\n  else\n    b = dup[(n % 5)]\n  end\n  return wrk.format(\"POST\", \"/r\", {{[\"Content-Type\"] = \"application/json\"}}, b)\nend\n",
        dup.iter().map(|b| lua_str(b)).collect::<Vec<_>>().join(", "),
        lua_str(&template)
    );
    std::fs::write(d.join("post.lua"), script).expect("script");
    let out = Command::new("wrk")
        .args(["-t2", "-c64", "-d10s", "--latency", "-s", "post.lua"])
        .arg(format!("http://127.0.0.1:{port}/r"))
        .current_dir(d)
        .output()
        .expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    child.kill().ok();
    child.wait().ok();
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
    let non2xx: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rate = field("Requests/sec:").unwrap_or_default();
    let p99 = field("99%").unwrap_or_default();
    let stored = Store::open(&d.join("state/reports.sqlite"))
        .and_then(|mut s| s.total())
        .expect("store");
    let accepted = requests - non2xx;
    println!(
        "collector under wrk (2 threads, 64 connections, 10 s; 4 duplicates per distinct report):"
    );
    println!("  accepted           {rate} reports/s, p99 latency {p99}, {non2xx} refused");
    println!("  store, 1 per commit  {per_commit:.0} reports/s (bare insert, same run)");
    println!("  store, 256 per commit {batched:.0} reports/s (bare insert, same run)");
    if let Ok(r) = rate.parse::<f64>() {
        println!(
            "  collector / 1-per-commit store: {:.1}x; collector / batched store: {:.2}x",
            r / per_commit,
            r / batched
        );
    }
    println!(
        "  acknowledged {accepted}, stored {stored}: {} lost",
        accepted.saturating_sub(stored)
    );
}
