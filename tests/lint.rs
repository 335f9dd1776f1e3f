//! `pinctl lint` from the command line: exit codes and output forms.

use crate::common::*;

const A: &str = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";
const B: &str = "E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=";

#[test]
fn valid_header_exits_zero() {
    let env = Env::new();
    let h = format!("Public-Key-Pins: pin-sha256=\"{A}\"; pin-sha256=\"{B}\"; max-age=600");
    let out = env.run(&["lint", &h]);
    assert!(out.ok().contains("valid: Public-Key-Pins:"));
}

#[test]
fn invalid_header_lists_every_problem_and_exits_one() {
    let env = Env::new();
    let h = format!("pin-sha256=\"{A}\"; max-age=600; max-age=7");
    let out = env.run(&["lint", &h]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("error: max-age appears more than once"));
    assert!(out.stdout.contains("error: 1 valid pin(s)"));
}

#[test]
fn chain_is_checked_for_a_matching_pin_and_a_backup() {
    let env = Env::new();
    let chain = fixtures().join("chain.pem");
    let leaf = "bdhRme+uYVLz59K/0qkq7VFNr9EWq8oNi/t4pzkAWWI=";
    let good = format!("pin-sha256=\"{leaf}\"; pin-sha256=\"{B}\"; max-age=600");
    env.run(&["lint", &good, "--chain", chain.to_str().unwrap()])
        .ok();
    let bad = format!("pin-sha256=\"{A}\"; pin-sha256=\"{B}\"; max-age=600");
    let out = env.run(&["lint", &bad, "--chain", chain.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("no pin matches"));
}

#[test]
fn json_form() {
    let env = Env::new();
    let h = format!("pin-sha256=\"{A}\"; pin-sha256=\"{B}\"; max-age=9999999; report-uri=\"https://example.com/r\"");
    let out = env.run(&["lint", "--format", "json", "--host", "example.com", &h]);
    let v: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["max_age"], 9999999);
    let warnings: Vec<_> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["severity"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 2, "{v}");
}

/// Regression: values clap can judge were errors (exit 1) found late;
/// they are usage errors (exit 2) with the choices listed.
#[test]
fn usage_error_exits_two() {
    let env = Env::new();
    assert_eq!(env.run(&["lint"]).code, 2);
    assert_eq!(env.run(&["pin", "--format", "xml", "x"]).code, 2);
    for args in [
        &["init", "example.com", "--key-type", "foo"][..],
        &["init", "example.com", "--backup-key-type", "rsa1024"],
        &["snippet", "--server", "tomcat"],
        &["schedule", "--cron", "--at", "25:00"],
        &["schedule", "--cron", "--at", "7"],
        &["ca-pin", "add", "x"],
        &["policy", "--max-age", "ten"],
    ] {
        let r = env.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(!env.path().join("state").exists(), "{args:?}");
    }
}

/// Host names are case-insensitive: the state keeps them in lower case
/// and `--site` finds them in any case; IP addresses are refused.
#[test]
fn domain_names_are_normalised_at_the_boundary() {
    let env = site_env();
    env.run(&["init", "Example.COM"]).ok();
    assert!(env.path().join("state/example.com/site.yaml").is_file());
    env.run(&["--site", "EXAMPLE.com", "status"]).ok();
    env.run(&["--site", "example.com.", "status"]).ok();
    env.run(&["init", "192.0.2.7"]).fails_with("IP address");
    env.run(&[
        "archive",
        "copy",
        "backup1",
        "--to",
        ".",
        "--location",
        "safe\nA",
    ])
    .fails_with("control characters");
    // One rule for `init X.` and `--site X.`: the dot is dropped.
    env.run(&["init", "api.example.com."]).ok();
    assert!(env.path().join("state/api.example.com/site.yaml").is_file());
}

#[test]
fn completions_and_manual_page_come_from_the_same_definitions() {
    let env = Env::new();
    let bash = env.run(&["completions", "bash"]);
    assert!(bash.ok().contains("rotate") && bash.stdout.contains("--promote"));
    let man = env.run(&["manpage"]);
    assert!(
        man.ok().starts_with(".ie") || man.stdout.contains(".TH pinctl"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
    assert_eq!(env.run(&["completions", "tcsh"]).code, 2);
}

/// Walks clap's command tree, so that a new command without an example
/// cannot slip through.
#[test]
fn every_command_has_help_with_an_example() {
    fn walk(c: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            out.push(p.clone());
            walk(sub, p, out);
        }
    }
    let mut commands = Vec::new();
    walk(&pinctl::cli::command(), Vec::new(), &mut commands);
    assert!(commands.len() >= 28, "{commands:?}");
    let env = Env::new();
    for c in &commands {
        let mut args: Vec<&str> = c.iter().map(String::as_str).collect();
        args.push("--help");
        let out = env.run(&args);
        assert!(
            out.ok().contains("Example"),
            "{c:?} has no example in --help"
        );
    }
}

/// RFC 7234 section 1.2.1: an overflowing max-age is clamped, not an
/// error; `lint` and `policy` follow the same rule.
#[test]
fn an_overflowing_max_age_is_clamped_with_a_warning() {
    let env = Env::new();
    let h = format!(
        "max-age=999999999999999999999999999999999999999999999; pin-sha256=\"{A}\"; pin-sha256=\"{B}\""
    );
    let out = env.run(&["lint", &h]);
    let text = out.ok();
    assert!(text.contains("at least 2147483648"), "{text}");
    assert!(text.contains("60 days"), "{text}");
    let mut env = site_env();
    env.set("PINCTL_NOW", "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let out = env.run(&["policy", "--max-age", "999999999999999999999999"]);
    out.ok();
    assert!(out.stderr.contains("warning: max-age"), "{}", out.stderr);
    assert!(out.stderr.contains("overflows"), "{}", out.stderr);
    let s = status_json(&env);
    assert_eq!(s["sites"][0]["policy"]["max_age"], u64::MAX);
}

/// RFC 7469 leaves a lone max-age=0 open; pinctl rejects it and says why.
#[test]
fn a_lone_max_age_zero_is_rejected_with_the_reason() {
    let env = Env::new();
    let out = env.run(&["lint", "max-age=0"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("Chromium") && out.stdout.contains("current pins and a backup"),
        "{}",
        out.stdout
    );
}

/// Every flag and argument says what it is for in `--help`.
#[test]
fn every_flag_has_a_help_line() {
    fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in c.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&pinctl::cli::command(), "pinctl", &mut missing);
    assert!(missing.is_empty(), "no help line: {missing:#?}");
}

/// Every write command reports in JSON with `--format json`, with the
/// fields scripts rely on.
#[test]
fn write_commands_report_in_json() {
    let mut env = site_env();
    env.set("PINCTL_NOW", "2030-01-01T00:00:00Z");
    let j = |r: Run| -> serde_json::Value {
        serde_json::from_str(r.ok()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
    };
    let v = j(env.run(&["init", "example.com", "--format", "json"]));
    assert_eq!(v["site"], "example.com");
    assert_eq!(v["keys"].as_array().unwrap().len(), 3);
    assert!(v["header"]
        .as_str()
        .unwrap()
        .starts_with("Public-Key-Pins-Report-Only:"));
    env.run(&["policy", "--enforce", "--max-age", "600"]).ok();
    let v = j(env.run(&["publish", "--format", "json"]));
    assert_eq!(v["changed"], true);
    assert_eq!(v["publication"], 1);
    let v = j(env.run(&["publish", "--format", "json"]));
    assert_eq!(v["changed"], false);
    let v = j(env.run(&[
        "rotate",
        "--promote",
        "backup1",
        "--dry-run",
        "--format",
        "json",
    ]));
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["new_backups"][0], "backup3");
    let v = j(env.run(&["rotate", "--promote", "backup1", "--format", "json"]));
    assert_eq!(v["promoted"], "backup1");
    assert!(v["plan"].as_array().unwrap().len() > 2);
    let pin = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";
    let v = j(env.run(&["ca-pin", "add", "ca", "--pin", pin, "--format", "json"]));
    assert_eq!(
        (v["action"].as_str(), v["pin"].as_str()),
        (Some("added"), Some(pin))
    );
    let v = j(env.run(&["ca-pin", "remove", "ca", "--format", "json"]));
    assert_eq!(v["action"], "removed");
    std::fs::create_dir(env.path().join("usb")).unwrap();
    let v = j(env.run(&[
        "archive",
        "copy",
        "backup2",
        "--to",
        "usb",
        "--location",
        "safe",
        "--format",
        "json",
    ]));
    assert_eq!(
        (v["action"].as_str(), v["copies"].as_u64()),
        (Some("copied"), Some(1))
    );
    let v = j(env.run(&[
        "archive", "verify", "backup2", "--from", "usb", "--format", "json",
    ]));
    assert_eq!(v["action"], "verified");
    let v = j(env.run(&[
        "key", "export", "backup1", "--out", "k.pem", "--format", "json",
    ]));
    assert_eq!(v["action"], "exported");
    let v = j(env.run(&["key", "destroy", "primary", "--force", "--format", "json"]));
    assert_eq!(v["action"], "destroyed");
}

/// `policy` checks what it is given when it is given; snippets end with a
/// newline.
#[test]
fn policy_checks_urls_when_given_and_snippets_end_cleanly() {
    let mut env = site_env();
    env.set("PINCTL_NOW", "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["policy", "--report-uri", "http://r.example.net/"])
        .fails_with("use https");
    env.run(&["policy", "--endpoint", "http://example.com/"])
        .fails_with("https://");
    env.run(&[
        "policy",
        "--endpoint",
        "https://example.com/",
        "--endpoint-ca-file",
        "missing-ca.pem",
    ])
    .fails_with("missing-ca.pem: no such file");
    let out = env.run(&[
        "policy",
        "--include-subdomains",
        "--report-uri",
        "https://reports.example.com/r",
    ]);
    out.ok();
    assert!(
        out.stderr.contains("includeSubDomains pins too"),
        "{}",
        out.stderr
    );
    for server in ["nginx", "apache", "iis"] {
        let text = env.run(&["snippet", "--server", server]).ok().to_string();
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "{server}: {text:?}"
        );
    }
}
