//! `pinctl pin` as a user runs it: a whole process over 72 copies of the
//! Debian CA bundle (10,368 certificates, 15.8 MB of PEM; where it is
//! missing, 144 CA certificates made here stand in), in every output
//! format, next to a Python `cryptography` script doing the same job and
//! the bare bound (read the file, find the blocks, base64-decode, SHA-256,
//! on one core, in this process) measured in the same run. Best of 5
//! wall-clock runs each; the machine's other load moves every figure, the
//! ratios much less.
//! Run with `cargo bench --bench pin_process`.

use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::Digest as _;

const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const COPIES: usize = 72;

fn best<F: FnMut()>(mut f: F) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    // PINCTL_BENCH_BUNDLE names another bundle (a missing one: the made one).
    let bundle = std::env::var("PINCTL_BENCH_BUNDLE").unwrap_or_else(|_| BUNDLE.into());
    let (one, source) = match std::fs::read(&bundle) {
        Ok(one) => (one, bundle),
        Err(_) => (
            made_bundle(),
            "144 certificates made here (no Debian bundle)".into(),
        ),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.pem");
    std::fs::write(&path, one.repeat(COPIES)).unwrap();
    let data = std::fs::read(&path).unwrap();
    let n = memchr::memmem::find_iter(&data, b"-----BEGIN CERTIFICATE-----").count();
    println!(
        "input: {COPIES} copies of {source}: {n} certificates, {:.1} MB",
        data.len() as f64 / 1e6
    );

    // The bound, on one core: read the file, find each block, strip its
    // line breaks a line at a time, decode with the fastest decoder at
    // hand into one reused buffer, hash the whole DER.
    let bound = best(|| {
        let data = std::fs::read(&path).unwrap();
        let mut buf = Vec::with_capacity(4096);
        let mut text = Vec::with_capacity(8192);
        let mut x = 0u8;
        let begin = memchr::memmem::Finder::new(b"-----BEGIN CERTIFICATE-----");
        let end = memchr::memmem::Finder::new(b"-----END CERTIFICATE-----");
        let mut at = 0;
        while let Some(s) = begin.find(&data[at..]) {
            let body = at + s + begin.needle().len();
            let e = body + end.find(&data[body..]).unwrap();
            text.clear();
            for line in data[body..e].split(|b| *b == b'\n') {
                text.extend_from_slice(line.trim_ascii());
            }
            buf.clear();
            base64_simd::STANDARD
                .decode_append(&text, &mut buf)
                .unwrap();
            x ^= sha2::Sha256::digest(&buf)[0];
            at = e + end.needle().len();
        }
        std::hint::black_box(x);
    });
    println!("bare bound (read + find + decode + SHA-256): {bound:.3} s");

    let py = r#"
import sys, hashlib, base64
from cryptography import x509
from cryptography.hazmat.primitives import serialization
certs = x509.load_pem_x509_certificates(open(sys.argv[1], 'rb').read())
pins = []
for c in certs:
    spki = c.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pins.append(base64.b64encode(hashlib.sha256(spki).digest()).decode())
print("; ".join('pin-sha256="%s"' % p for p in dict.fromkeys(pins)))
"#;
    let has_py = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    let python = has_py.then(|| {
        best(|| {
            let ok = Command::new("python3")
                .args(["-c", py])
                .arg(&path)
                .stdout(Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok);
        })
    });
    match python {
        Some(p) => println!("python cryptography (whole process): {p:.3} s"),
        None => println!("python cryptography: SKIPPED (module not installed)"),
    }
    println!(
        "{:<30} {:>9} {:>14} {:>12}",
        "pinctl pin (whole process)", "seconds", "vs python", "vs bound"
    );
    for format in ["header", "tlsa", "text", "json"] {
        let t = best(|| {
            let ok = Command::new(env!("CARGO_BIN_EXE_pinctl"))
                .args(["pin", "--format", format])
                .arg(&path)
                .stdout(Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok);
        });
        let vs_py = python
            .map(|p| format!("{:.1}x faster", p / t))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<30} {t:>9.3} {vs_py:>14} {:>11.2}x",
            format!("--format {format}"),
            t / bound
        );
    }
}

/// Where Debian's bundle is missing: 144 self-signed CA certificates, about
/// its size, made with rcgen.
fn made_bundle() -> Vec<u8> {
    let mut pem = String::new();
    for i in 0..144 {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name.push(rcgen::DnType::CountryName, "ZZ");
        p.distinguished_name.push(
            rcgen::DnType::OrganizationName,
            format!("Bench Trust Services {i}"),
        );
        p.distinguished_name
            .push(rcgen::DnType::CommonName, format!("Bench Root CA {i}"));
        pem.push_str(&p.self_signed(&key).expect("certificate").pem());
    }
    pem.into_bytes()
}
