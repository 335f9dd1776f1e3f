//! Test harness: runs the real binary in a temporary folder with a
//! controlled environment, and finds peers (openssl, age, servers).

#![allow(dead_code)]

pub mod bind;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_pinctl");

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The outcome of one run of pinctl.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts the contract for a failure: exit 1, one `error:` line naming
    /// `needle`, no panic, and nothing on stdout.
    #[track_caller]
    pub fn fails_with(&self, needle: &str) {
        assert_eq!(
            self.code, 1,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "partial output on stdout: {}",
            self.stdout
        );
        let first = self.stderr.lines().next().unwrap_or("");
        assert!(first.starts_with("error: "), "stderr: {}", self.stderr);
        assert!(
            self.stderr.contains(needle),
            "expected {needle:?} in stderr: {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(!self.stderr.contains("RUST_BACKTRACE"), "{}", self.stderr);
        assert!(
            self.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count()
                == 1,
            "{}",
            self.stderr
        );
    }
}

/// A fresh temporary folder to run pinctl in.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temporary folder"),
            vars: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn var(mut self, k: &str, v: &str) -> Env {
        self.vars.push((k.into(), v.into()));
        self
    }

    pub fn set(&mut self, k: &str, v: &str) {
        self.vars.retain(|(n, _)| n != k);
        self.vars.push((k.into(), v.into()));
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).current_dir(self.path());
        for k in [
            "PINCTL_STATE",
            "PINCTL_NOW",
            "PINCTL_PASSPHRASE",
            "PINCTL_SITE",
        ] {
            c.env_remove(k);
        }
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c.stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("run pinctl"))
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut c = self.cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn pinctl");
        child.stdin.take().unwrap().write_all(input).unwrap();
        Run::from(child.wait_with_output().unwrap())
    }
}

/// Whether `tool` is on PATH; when it is not, the test is skipped
/// through [`skip`] (and the caller returns early).
pub fn have(tool: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    if !found {
        skip(test, tool);
    }
    found
}

/// The tests skipped in this run, with the peer each missed.
static SKIPS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The one way a test (or part of one) is skipped for a missing peer
/// (docs/design.md#tests): prints `SKIPPED: <test>: <peer> missing`, or
/// fails under `PINCTL_REQUIRE_SERVERS=1` (which CI sets). The caller
/// then returns early. The skips are counted, and the count is printed
/// when the test binary exits, after libtest's summary.
#[track_caller]
pub fn skip(test: &str, peer: &str) {
    if std::env::var("PINCTL_REQUIRE_SERVERS").as_deref() == Ok("1") {
        panic!("{test}: {peer} missing, and PINCTL_REQUIRE_SERVERS=1 requires it");
    }
    skipped!("SKIPPED: {test}: {peer} missing");
    let mut v = SKIPS.lock().unwrap_or_else(|e| e.into_inner());
    if v.is_empty() {
        at_exit_print_skips();
    }
    v.push(format!("{test} ({peer})"));
}

/// Registers [`print_skips`] to run when the process exits: libtest has
/// no hook after its summary, but it ends through `exit`, which runs the
/// C library's `atexit` handlers.
fn at_exit_print_skips() {
    extern "C" {
        fn atexit(f: extern "C" fn()) -> std::os::raw::c_int;
    }
    // SAFETY: atexit takes a plain function pointer that lives for the
    // whole program; print_skips neither unwinds nor needs Rust's runtime
    // beyond a static mutex and stderr.
    unsafe {
        atexit(print_skips);
    }
}

extern "C" fn print_skips() {
    let v = SKIPS.lock().unwrap_or_else(|e| e.into_inner());
    if !v.is_empty() {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED {} test(s) or parts of tests for missing peers (PINCTL_REQUIRE_SERVERS=1 makes these failures):\n  {}",
            v.len(),
            v.join("\n  ")
        );
    }
}

/// Runs a shell command line and returns its stdout; panics on failure.
#[track_caller]
pub fn sh(dir: &Path, script: &str) -> String {
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh");
    assert!(
        o.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The openssl pipeline's pin of a PEM private key
/// (docs/design.md#domain-facts).
pub fn openssl_pin_of_key(dir: &Path, key: &str) -> String {
    sh(
        dir,
        &format!(
            "openssl pkey -in '{key}' -pubout -outform der | openssl dgst -sha256 -binary | base64"
        ),
    )
    .trim()
    .to_string()
}

/// SHA-256 of every file below `dir`, for "byte-for-byte unchanged" checks.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = all_files(dir)
        .into_iter()
        .map(|(p, b)| (p, <sha2::Sha256 as sha2::Digest>::digest(&b).to_vec()))
        .collect();
    out.sort();
    out
}

pub const PASS: &str = "correct horse battery staple";

/// A folder with PINCTL_PASSPHRASE set and a fixed clock.
pub fn site_env() -> Env {
    Env::new()
        .var("PINCTL_PASSPHRASE", PASS)
        .var("PINCTL_NOW", "2030-03-01T00:00:00Z")
}

/// Runs `age` on a pseudo-terminal (it reads passphrases only from one)
/// through script(1), typing `lines`.
pub fn age_on_pty(dir: &Path, args: &str, lines: &[&str]) -> Output {
    on_pty(dir, &format!("age {args}"), lines, &[])
}

/// Runs a shell command line on a pseudo-terminal through script(1). Each
/// of `lines` is typed once the program has shown one more passphrase
/// prompt and turned the terminal's echo off (typed earlier, it would be
/// echoed on the screen).
pub fn on_pty(dir: &Path, command: &str, lines: &[&str], vars: &[(&str, &str)]) -> Output {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let mut child = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .current_dir(dir)
        .envs(vars.iter().copied())
        .env_remove("PINCTL_PASSPHRASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let screen = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let start = std::time::Instant::now();
    for (i, line) in lines.iter().enumerate() {
        loop {
            let seen = String::from_utf8_lossy(&screen.lock().unwrap())
                .to_lowercase()
                .matches("passphrase")
                .count();
            if (seen > i && echo_off(child.id()))
                || start.elapsed() > std::time::Duration::from_secs(30)
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = stdin.write_all(format!("{line}\n").as_bytes());
    }
    let status = child.wait().expect("script");
    drop(stdin);
    reader.join().unwrap();
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    let stdout = screen.lock().unwrap().clone();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Whether the terminal script(1) (process `script`) gave its command
/// has echo off, as a passphrase prompt sets it: the terminal is the
/// standard input of script's descendants, and stty reads its settings.
fn echo_off(script: u32) -> bool {
    let Some(tty) = terminal_below(script) else {
        return false;
    };
    Command::new("stty")
        .args(["-F", &tty, "-a"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|w| w == "-echo")
        })
        .unwrap_or(false)
}

/// The pseudo-terminal on which a descendant of `pid` reads.
fn terminal_below(pid: u32) -> Option<String> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    for c in children.split_whitespace() {
        if let Ok(l) = std::fs::read_link(format!("/proc/{c}/fd/0")) {
            if l.starts_with("/dev/pts/") {
                return Some(l.display().to_string());
            }
        }
        if let Some(t) = c.parse().ok().and_then(terminal_below) {
            return Some(t);
        }
    }
    None
}

/// Every file below `dir`, with its bytes.
pub fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(d: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    walk(dir, &mut out);
    out
}

pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

pub fn status_json(env: &Env) -> serde_json::Value {
    serde_json::from_str(env.run(&["status", "--format", "json"]).ok()).unwrap()
}

/// A test CA that signs CSRs with chosen validity dates (openssl 3.0's
/// `x509 -req` cannot set a start date).
pub struct TestCa {
    key: rcgen::KeyPair,
    params: rcgen::CertificateParams,
    pub pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2060, 1, 1);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { key, params, pem }
    }

    /// Signs `csr_pem` for other DNS names than it asks for (a CA that
    /// adds names), valid 2029 to 2031.
    pub fn sign_with_names(&self, csr_pem: &str, names: &[&str]) -> String {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem).unwrap();
        csr.params.subject_alt_names = names
            .iter()
            .map(|n| rcgen::SanType::DnsName((*n).try_into().unwrap()))
            .collect();
        csr.params.not_before = rcgen::date_time_ymd(2029, 1, 1);
        csr.params.not_after = rcgen::date_time_ymd(2031, 1, 1);
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        csr.signed_by(&issuer).unwrap().pem()
    }

    /// Signs `csr_pem`; dates as (year, month, day).
    pub fn sign(&self, csr_pem: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> String {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(csr_pem).unwrap();
        csr.params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        csr.params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        csr.signed_by(&issuer).unwrap().pem()
    }
}

/// Records a certificate for `key` of `site`, as an operator does before
/// deploying the key: a header shows a key served only once it has one.
pub fn certify_key(env: &Env, site: &str, key: &str) {
    let ca = TestCa::new("Deploy CA");
    let csr =
        std::fs::read_to_string(env.path().join(format!("state/{site}/{key}.csr.pem"))).unwrap();
    let file = env.path().join(format!("{site}-{key}.cert.pem"));
    std::fs::write(&file, ca.sign(&csr, (2020, 1, 1), (2040, 1, 1)) + &ca.pem).unwrap();
    env.run(&["--site", site, "cert", "add", file.to_str().unwrap()])
        .ok();
}

/// Validates `output` (a command's JSON) against `docs/schema/NAME.json`
/// with a JSON Schema validator; panics with every violation.
#[track_caller]
pub fn assert_schema(name: &str, output: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schema")
        .join(format!("{name}.json"));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let instance: serde_json::Value =
        serde_json::from_str(output).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {output}"));
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()));
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{output}");
    instance
}
