//! No panics and bounded inputs (each test failed before its fix): a
//! closed pipe, endless input, a runaway template, extreme numbers.

use crate::common::*;

/// Regression: `pinctl status | head -1` panicked with "failed printing
/// to stdout: Broken pipe" and a backtrace.
#[test]
fn a_closed_pipe_ends_pinctl_quietly() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    for cmd in [
        &["status"][..],
        &["plan"],
        &["snippet", "--server", "all"],
        &["header"],
    ] {
        // A pipe whose reader is gone before pinctl writes: EPIPE for sure.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = env
            .cmd(cmd)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{cmd:?}: {err}");
        // Warnings (status's missing offline copies) go to stderr; nothing
        // else may.
        assert!(
            err.lines().all(|l| l.starts_with("warning: ")),
            "{cmd:?}: {err}"
        );
        assert_eq!(o.status.code(), Some(0), "{cmd:?}");
    }
}

/// Regression: `pinctl pin /dev/zero` grew memory without bound.
#[test]
fn endless_input_is_refused_at_a_bound() {
    let env = Env::new();
    env.run(&["pin", "/dev/zero"])
        .fails_with("larger than 256 MiB");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("head -c 300000000 /dev/zero | '{BIN}' pin -"))
        .output()
        .unwrap();
    let r = Run::from(o);
    r.fails_with("<stdin>: is larger than 256 MiB");
}

/// Regression: a `--templates` folder with a runaway loop hung pinctl.
#[test]
fn a_runaway_template_is_stopped() {
    let env = Env::new();
    let dir = env.path().join("tpl");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("nginx.conf.j2"),
        "{% for i in range(10000) %}{% for j in range(10000) %}{{ j }}{% endfor %}{% endfor %}",
    )
    .unwrap();
    let h = "pin-sha256=\"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=\"; pin-sha256=\"E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=\"; max-age=60";
    env.run(&[
        "snippet",
        "--server",
        "nginx",
        "--header",
        h,
        "--templates",
        dir.to_str().unwrap(),
    ])
    .fails_with("runs too long");
}

/// Regression: `check --warn-days 100000000` panicked on date arithmetic
/// once a certificate was recorded.
#[test]
fn extreme_numbers_do_not_panic() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    let ca = TestCa::new("Extreme CA");
    let csr =
        std::fs::read_to_string(env.path().join("state/example.com/primary.csr.pem")).unwrap();
    std::fs::write(
        env.path().join("leaf.pem"),
        ca.sign(&csr, (2029, 1, 1), (2031, 1, 1)),
    )
    .unwrap();
    env.run(&["cert", "add", "leaf.pem"]).ok();
    for days in ["100000000", "9223372036854775807", "-9223372036854775808"] {
        let r = env.run(&["check", "--warn-days", days]);
        assert!(
            r.code <= 3 && !r.stderr.contains("panicked"),
            "{days}: {}",
            r.stderr
        );
    }
    env.run(&["policy", "--max-age", "18446744073709551615"])
        .ok();
    let r = env.run(&["plan"]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}
