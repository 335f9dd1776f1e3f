//! Times `pinctl init` (three keys: primary and two backups) for each key
//! type against `openssl genpkey` making the same three keys, and splits
//! init's time into key generation and scrypt (passphrase archives).
//! Run with `cargo bench --bench init`.

use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pinctl");

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn init(key_type: &str, recipient: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Command::new(BIN);
    c.current_dir(dir.path())
        .args(["init", "bench.example.com", "--key-type", key_type])
        .env("PINCTL_PASSPHRASE", "benchmark passphrase");
    if let Some(r) = recipient {
        c.args(["--recipient", r]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn openssl(key_type: &str) {
    let opts = match key_type {
        "p256" => "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
        "p384" => "-algorithm EC -pkeyopt ec_paramgen_curve:P-384",
        "rsa2048" => "-algorithm RSA -pkeyopt rsa_keygen_bits:2048",
        "rsa3072" => "-algorithm RSA -pkeyopt rsa_keygen_bits:3072",
        _ => "-algorithm RSA -pkeyopt rsa_keygen_bits:4096",
    };
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("openssl genpkey {opts} -out k{i}.pem"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success());
    }
}

fn main() {
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    println!(
        "{:<8} {:>10} {:>12} {:>12} {:>14} {:>8}",
        "type", "runs", "init (pass)", "init (age1)", "openssl x3", "ratio"
    );
    for (t, runs) in [("p256", 7), ("rsa2048", 5), ("rsa3072", 5), ("rsa4096", 5)] {
        let pass = time(runs, || init(t, None));
        let rec = time(runs, || init(t, Some(&recipient)));
        let ossl = time(runs, || openssl(t));
        println!(
            "{:<8} {:>10} {:>11.2}s {:>11.2}s {:>13.2}s {:>7.2}x",
            t,
            runs,
            pass.as_secs_f64(),
            rec.as_secs_f64(),
            ossl.as_secs_f64(),
            pass.as_secs_f64() / ossl.as_secs_f64()
        );
    }
    // One scrypt (work factor 18) encryption, in-process.
    let secret = age::secrecy::SecretString::from("benchmark passphrase".to_string());
    let scrypt = time(5, || {
        pinctl::archive::encrypt(
            b"x",
            &pinctl::archive::Protection::Passphrase(secret.clone()),
            false,
        )
        .unwrap();
    });
    println!(
        "one scrypt archive (work factor 18): {:.2}s; init seals three, two at a time on two cores",
        scrypt.as_secs_f64()
    );
}
