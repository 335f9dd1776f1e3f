//! The JSON that scripts rely on, held to the schemas in `docs/schema/`:
//! every command with `--format json` has a schema, and the real output of
//! each is validated against it (`verify`'s in `check.rs`, against a real
//! nginx).

use crate::common::*;

/// Commands (as `a-b` paths) whose `--format` offers json.
fn json_commands() -> Vec<String> {
    fn walk(c: &clap::Command, path: Vec<String>, out: &mut Vec<String>) {
        let json = c.get_arguments().any(|a| {
            a.get_id() == "format"
                && a.get_possible_values()
                    .iter()
                    .any(|v| v.get_name() == "json")
        });
        if json {
            out.push(path.join("-"));
        }
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, out);
        }
    }
    let mut out = Vec::new();
    walk(&pinctl::cli::command(), Vec::new(), &mut out);
    out
}

#[test]
fn every_json_command_has_a_schema_and_its_output_fits_it() {
    let commands = json_commands();
    for c in &commands {
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("docs/schema/{c}.json"))
                .is_file(),
            "{c} has --format json but no docs/schema/{c}.json"
        );
    }
    // verify is validated against a real nginx (check.rs); acme account
    // and cert issue against a real Pebble (acme.rs).
    let mut validated = vec![
        "verify".to_string(),
        "acme-account".to_string(),
        "cert-issue".to_string(),
    ];
    let mut env = site_env();
    env.set("PINCTL_NOW", "2030-01-01T00:00:00Z");
    let mut run = |name: &str, args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let r = env.run(&a);
        assert!(r.code <= 2, "{a:?}: {}", r.stderr);
        assert_schema(name, &r.stdout);
        validated.push(name.to_string());
    };
    run("init", &["init", "example.com"]);
    let key = fixtures().join("p256.pkcs8.pem");
    run(
        "import",
        &["import", "imported.example", "--key", key.to_str().unwrap()],
    );
    let chain = fixtures().join("chain.pem");
    run(
        "pin",
        &["pin", chain.to_str().unwrap(), key.to_str().unwrap()],
    );
    run("lint", &["lint", "max-age=0"]);
    run(
        "lint",
        &[
            "lint",
            "pin-sha256=\"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=\"; pin-sha256=\"E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=\"; max-age=60",
        ],
    );
    let site = ["--site", "example.com"];
    let with =
        |a: &[&'static str]| -> Vec<&'static str> { site.iter().chain(a).copied().collect() };
    run(
        "policy",
        &with(&["policy", "--enforce", "--max-age", "86400"]),
    );
    run("policy", &with(&["policy"]));
    run("header", &with(&["header"]));
    run("publish", &with(&["publish"]));
    run("publish", &with(&["publish"]));
    run("status", &["status"]);
    run("plan", &with(&["plan"]));
    run("check", &["check"]);
    let ca = TestCa::new("Schema CA");
    let csr =
        std::fs::read_to_string(env.path().join("state/example.com/primary.csr.pem")).unwrap();
    std::fs::write(
        env.path().join("leaf.pem"),
        ca.sign(&csr, (2029, 1, 1), (2031, 1, 1)) + &ca.pem,
    )
    .unwrap();
    run("cert-add", &with(&["cert", "add", "leaf.pem"]));
    let pin = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";
    run(
        "ca-pin-add",
        &with(&["ca-pin", "add", "other", "--pin", pin]),
    );
    run("ca-pin-list", &with(&["ca-pin", "list"]));
    run(
        "channel-add",
        &with(&["channel", "add", "android", "--expires-after", "90"]),
    );
    run(
        "channel-add",
        &with(&["channel", "add", "ios", "--name", "ios-app"]),
    );
    // A release records the file that shipped.
    let nsc = env
        .run(&["--site", "example.com", "snippet", "--channel", "android"])
        .ok()
        .to_string();
    std::fs::write(env.path().join("nsc.xml"), nsc).unwrap();
    run(
        "publish",
        &with(&[
            "publish",
            "--channel",
            "android",
            "--release",
            "1.0",
            "--from",
            "nsc.xml",
        ]),
    );
    run("channel-list", &["channel", "list"]);
    run("reports-list", &["reports", "list"]);
    run("reports-summary", &["reports", "summary", "--since", "7d"]);
    run("channel-retire", &with(&["channel", "retire", "ios-app"]));
    // A dns channel's server and TSIG key (a key file as tsig-keygen
    // writes it; nothing is sent to the server here).
    let key = env.path().join("update.key");
    std::fs::write(
        &key,
        "key \"pinctl\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2NoZW1hLXRlc3Qtc2VjcmV0LTMyLWJ5dGVzLWxvbmc=\";\n};\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    run(
        "channel-add",
        &with(&["channel", "add", "dns", "--ttl", "60"]),
    );
    run(
        "channel-set",
        &with(&[
            "channel",
            "set",
            "dns",
            "--server",
            "127.0.0.1:53",
            "--tsig-key",
            "update.key",
        ]),
    );
    run(
        "channel-set",
        &with(&["channel", "set", "dns", "--no-server"]),
    );
    run("ca-pin-remove", &with(&["ca-pin", "remove", "other"]));
    run(
        "rotate",
        &with(&["rotate", "--promote", "backup1", "--dry-run"]),
    );
    run("rotate", &with(&["rotate", "--promote", "backup1"]));
    let csr1 =
        std::fs::read_to_string(env.path().join("state/example.com/backup1.csr.pem")).unwrap();
    std::fs::write(
        env.path().join("b1.pem"),
        ca.sign(&csr1, (2029, 1, 1), (2031, 1, 1)) + &ca.pem,
    )
    .unwrap();
    env.run(&["--site", "example.com", "cert", "add", "b1.pem"])
        .ok();
    run("deployed", &with(&["deployed", "backup1"]));
    run("publish", &with(&["publish"]));
    run("plan", &with(&["plan", "--promote", "backup2"]));
    std::fs::create_dir(env.path().join("usb")).unwrap();
    run(
        "archive-copy",
        &with(&[
            "archive",
            "copy",
            "backup2",
            "--to",
            "usb",
            "--location",
            "safe",
        ]),
    );
    run(
        "archive-verify",
        &with(&["archive", "verify", "backup2", "--from", "usb"]),
    );
    run(
        "key-export",
        &with(&["key", "export", "backup2", "--out", "k.pem"]),
    );
    run(
        "key-destroy",
        &with(&["key", "destroy", "primary", "--force"]),
    );
    run("status", &["status"]);
    // Without an ACME account nothing is renewed; every site is listed.
    run("renew", &["renew"]);
    run("check", &["check", "--verbose"]);
    validated.sort();
    validated.dedup();
    let mut commands = commands;
    commands.sort();
    assert_eq!(validated, commands, "every JSON command is validated");
}

/// docs/cli.md mentions every command and every flag clap knows, in the
/// command's own section (global flags in "Everywhere").
#[test]
fn docs_cli_md_covers_every_command_and_flag() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md"),
    )
    .unwrap();
    let section = |title: &str| -> Option<String> {
        let head = format!("### `{title}`");
        let start = doc.find(&head)?;
        let rest = &doc[start + head.len()..];
        Some(rest[..rest.find("\n### ").unwrap_or(rest.len())].to_string())
    };
    let root = pinctl::cli::command();
    let globals: Vec<String> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    let everywhere = &doc[..doc.find("## Exit codes").unwrap()];
    for g in &globals {
        assert!(
            everywhere.contains(g.as_str()),
            "global flag {g} is not in docs/cli.md"
        );
    }
    let mut missing = Vec::new();
    fn walk(c: &clap::Command, path: &str, f: &mut dyn FnMut(&clap::Command, &str)) {
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let p = format!("{path} {}", sub.get_name());
            if sub.has_subcommands() {
                walk(sub, &p, f);
            } else {
                f(sub, &p);
            }
        }
    }
    walk(&root, "pinctl", &mut |c, title| {
        let Some(sec) = section(title) else {
            missing.push(format!("{title}: no section"));
            return;
        };
        for a in c.get_arguments() {
            let Some(long) = a.get_long() else { continue };
            let flag = format!("--{long}");
            if long == "help" || globals.contains(&flag) {
                continue;
            }
            if !sec.contains(&flag) {
                missing.push(format!("{title}: {flag}"));
            }
        }
    });
    assert!(missing.is_empty(), "docs/cli.md lacks: {missing:#?}");
}
