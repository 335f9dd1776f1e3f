//! Pins a bundle of 10,000 certificates (made here with rcgen) and reports
//! certificates per second, next to the openssl pipeline (per certificate,
//! on a sample), a Python `cryptography` loop when that module is installed,
//! and the bare cost of base64-decoding and hashing the same bytes.
//! Run with `cargo bench --bench pin_bundle`.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use base64::Engine as _;
use sha2::Digest as _;

const N: usize = 10_000;
const SAMPLE: usize = 50;

fn main() {
    let t = Instant::now();
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bench CA");
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let keys: Vec<rcgen::KeyPair> = (0..100)
        .map(|_| rcgen::KeyPair::generate().unwrap())
        .collect();
    let mut bundle = String::new();
    let mut ders = Vec::new();
    for i in 0..N {
        let mut p = rcgen::CertificateParams::new(vec![format!("host{i}.bench.test")]).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, format!("host{i}.bench.test"));
        let cert = p.signed_by(&keys[i % keys.len()], &issuer).unwrap();
        bundle.push_str(&cert.pem());
        ders.push(cert.der().to_vec());
    }
    eprintln!(
        "made {N} certificates in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // pinctl, in-process: the whole bundle as one PEM input.
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let pins = pinctl::pin::read_pins("bundle", bundle.as_bytes()).unwrap();
        assert_eq!(pins.len(), N);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let pinctl_rate = N as f64 / best;

    // Bare cost: find each block, base64-decode it and hash it.
    let mut bare = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut x = 0u8;
        let bodies = bundle
            .split("-----END CERTIFICATE-----")
            .filter_map(|b| b.split("-----BEGIN CERTIFICATE-----").nth(1))
            .map(|b| b.split_whitespace().collect::<String>());
        for b in bodies {
            let der = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
            x ^= sha2::Sha256::digest(&der)[0];
        }
        std::hint::black_box(x);
        bare = bare.min(t.elapsed().as_secs_f64());
    }
    let bare_rate = N as f64 / bare;

    println!("pinctl pin (in-process):   {pinctl_rate:>10.0} certificates/s");
    println!("bare base64 + SHA-256:     {bare_rate:>10.0} certificates/s  (pinctl at {:.2}x of bare cost)", bare_rate / pinctl_rate);

    // The openssl pipeline, one certificate at a time, on a sample.
    let dir = tempfile::tempdir().unwrap();
    let has_openssl = Command::new("openssl").arg("version").output().is_ok();
    if has_openssl {
        for (i, d) in ders.iter().take(SAMPLE).enumerate() {
            std::fs::write(dir.path().join(format!("{i}.der")), d).unwrap();
        }
        let t = Instant::now();
        for i in 0..SAMPLE {
            let o = Command::new("sh")
                .arg("-c")
                .arg(format!("openssl x509 -inform der -in {i}.der -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"))
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(o.status.success());
        }
        let rate = SAMPLE as f64 / t.elapsed().as_secs_f64();
        println!(
            "openssl pipeline:          {rate:>10.1} certificates/s  (pinctl {:.0}x faster)",
            pinctl_rate / rate
        );
    } else {
        println!("openssl pipeline:          SKIPPED (openssl not on PATH)");
    }

    // Python cryptography, one load + hash per certificate, in one process.
    let py = r#"
import sys, time, hashlib, base64
from cryptography import x509
from cryptography.hazmat.primitives import serialization
data = sys.stdin.buffer.read()
certs = x509.load_pem_x509_certificates(data)
t = time.perf_counter()
certs = x509.load_pem_x509_certificates(data)
for c in certs:
    spki = c.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    base64.b64encode(hashlib.sha256(spki).digest())
print(len(certs) / (time.perf_counter() - t))
"#;
    let child = Command::new("python3")
        .arg("-c")
        .arg(py)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let rate = child.ok().and_then(|mut c| {
        c.stdin.take()?.write_all(bundle.as_bytes()).ok()?;
        let o = c.wait_with_output().ok()?;
        if !o.status.success() {
            return None;
        }
        String::from_utf8(o.stdout).ok()?.trim().parse::<f64>().ok()
    });
    match rate {
        Some(r) => println!(
            "python cryptography:       {r:>10.0} certificates/s  (pinctl {:.1}x faster)",
            pinctl_rate / r
        ),
        None => println!("python cryptography:       SKIPPED (module not installed)"),
    }
}
