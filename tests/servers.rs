//! Snippets proven on real servers: each is included in a minimal TLS
//! configuration on 127.0.0.1, checked by the server itself, served, and
//! read back with curl; the header must equal `pinctl header` byte for byte,
//! pass `pinctl lint` against the served chain, and pin the served leaf.

use crate::common::*;
use crate::harness::{self, Kind};

/// A site with a long pinset and a report-uri full of characters servers
/// treat specially, its primary key exported and a certificate for it.
struct Deployed {
    env: Env,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

fn deploy(report_uri: &str) -> Deployed {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    env.run(&[
        "policy",
        "--enforce",
        "--max-age",
        "600",
        "--report-uri",
        report_uri,
    ])
    .ok();
    for i in 0..8 {
        use base64::Engine as _;
        use sha2::Digest as _;
        let pin = base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(format!("ca{i}")));
        env.run(&["ca-pin", "add", &format!("ca{i}"), "--pin", &pin])
            .ok();
    }
    let d = env.path();
    env.run(&["key", "export", "primary", "--out", "primary.pem"])
        .ok();
    sh(d, "openssl req -x509 -key primary.pem -subj /CN=example.com -addext subjectAltName=DNS:example.com -addext basicConstraints=critical,CA:FALSE -days 30 -out cert.pem 2>/dev/null");
    Deployed {
        cert: d.join("cert.pem"),
        key: d.join("primary.pem"),
        env,
    }
}

fn prove(kind: Kind, test: &str, report_uri: &str) {
    if !harness::available(kind, test) || !have("openssl", test) || !have("curl", test) {
        return;
    }
    let dep = deploy(report_uri);
    let env = &dep.env;
    let header_line = env.run(&["header"]).ok().trim_end().to_string();
    let (_, value) = header_line.split_once(": ").unwrap();
    assert!(header_line.starts_with("Public-Key-Pins: "));
    for report_only in [false, true] {
        let mut args = vec!["snippet", "--server", kind.name()];
        if report_only {
            args.push("--report-only");
        }
        let snippet = env.run(&args).ok().to_string();
        let dir = tempfile::tempdir().unwrap();
        let server = harness::start(
            kind,
            dir.path(),
            &harness::Site {
                host: "example.com",
                cert: &dep.cert,
                key: &dep.key,
                snippet: &snippet,
            },
        )
        .unwrap_or_else(|e| panic!("{test}: {e}\nsnippet:\n{snippet}"));
        let headers = harness::fetch_headers("example.com", server.port);
        let name = if report_only {
            "Public-Key-Pins-Report-Only"
        } else {
            "Public-Key-Pins"
        };
        let got: Vec<&(String, String)> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .collect();
        assert_eq!(
            got.len(),
            1,
            "{test}: headers {headers:?}\nsnippet:\n{snippet}"
        );
        if kind != Kind::Haproxy {
            assert_eq!(got[0].0, name, "{test}: header name as written");
        }
        assert_eq!(
            got[0].1, value,
            "{test}: value served differs\nsnippet:\n{snippet}"
        );
        let served = env.path().join("served.pem");
        harness::served_chain("example.com", server.port, &served);
        drop(server);
        let line = format!("{name}: {}", got[0].1);
        let lint = env.run(&["lint", &line, "--chain", served.to_str().unwrap()]);
        assert_eq!(lint.code, 0, "{test}: {}", lint.stdout);
        let pins: serde_json::Value = serde_json::from_str(
            env.run(&["pin", "--format", "json", served.to_str().unwrap()])
                .ok(),
        )
        .unwrap();
        let leaf = pins[0]["pin"].as_str().unwrap();
        assert!(
            got[0].1.contains(&format!("pin-sha256=\"{leaf}\"")),
            "{test}: leaf pin missing"
        );
    }
}

const HOSTILE: &str = "https://report.example.net/r;a='b'%25c%d";

#[test]
fn nginx_serves_the_header_exactly() {
    prove(
        Kind::Nginx,
        "nginx_serves_the_header_exactly",
        &format!("{HOSTILE}\\x"),
    );
}

#[test]
fn apache_serves_the_header_exactly() {
    prove(
        Kind::Apache,
        "apache_serves_the_header_exactly",
        &format!("{HOSTILE}$y"),
    );
}

#[test]
fn lighttpd_serves_the_header_exactly() {
    prove(
        Kind::Lighttpd,
        "lighttpd_serves_the_header_exactly",
        &format!("{HOSTILE}\\x$y"),
    );
}

#[test]
fn caddy_serves_the_header_exactly() {
    prove(
        Kind::Caddy,
        "caddy_serves_the_header_exactly",
        &format!("{HOSTILE}$y"),
    );
}

#[test]
fn haproxy_serves_the_header_exactly() {
    prove(
        Kind::Haproxy,
        "haproxy_serves_the_header_exactly",
        &format!("{HOSTILE}\\x$y"),
    );
}

#[test]
fn values_a_server_cannot_carry_are_refused_with_the_reason() {
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    env.run(&["policy", "--report-uri", "https://r.example.net/$x{y}\\z"])
        .ok();
    env.run(&["snippet", "--server", "nginx"]).fails_with("`$`");
    env.run(&["snippet", "--server", "caddy"])
        .fails_with("placeholders");
    env.run(&["snippet", "--server", "apache"])
        .fails_with("backslash");
    let all = env.run(&["snippet", "--server", "all"]);
    let text = all.ok();
    assert!(text.contains("setenv.add-response-header"));
    assert!(text.contains("# ----- nginx -----\n# refused"), "{text}");
    assert!(all.stderr.contains("warning: refused"));
}

#[test]
fn snippet_for_any_header_and_custom_templates() {
    let env = Env::new();
    let v = "pin-sha256=\"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=\"; pin-sha256=\"E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=\"; max-age=600";
    let out = env.run(&["snippet", "--server", "nginx", "--header", v]);
    assert!(out
        .ok()
        .contains(&format!("add_header Public-Key-Pins '{v}' always;")));
    env.run(&["snippet", "--server", "nginx", "--header", "max-age=600"])
        .fails_with("not a valid Public-Key-Pins header");
    assert_eq!(
        env.run(&["snippet", "--server", "tomcat", "--header", v])
            .code,
        2
    );
    let t = env.path().join("tpl");
    std::fs::create_dir(&t).unwrap();
    std::fs::write(
        t.join("nginx.conf.j2"),
        "more_set_headers \"{{ name }}: {{ value | nginx_quote }}\";\n",
    )
    .unwrap();
    let out = env.run(&[
        "snippet",
        "--server",
        "nginx",
        "--header",
        v,
        "--templates",
        "tpl",
    ]);
    assert!(out
        .ok()
        .starts_with("more_set_headers \"Public-Key-Pins: '"));
    env.run(&[
        "snippet",
        "--server",
        "apache",
        "--header",
        v,
        "--templates",
        "tpl",
    ])
    .fails_with("apache.conf.j2");
    std::fs::write(t.join("nginx.conf.j2"), "{{ value | no_such_filter }}").unwrap();
    env.run(&[
        "snippet",
        "--server",
        "nginx",
        "--header",
        v,
        "--templates",
        "tpl",
    ])
    .fails_with("broken template");
}

#[test]
fn iis_web_config_is_well_formed_and_decodes_to_the_header() {
    if !have(
        "xmllint",
        "iis_web_config_is_well_formed_and_decodes_to_the_header",
    ) {
        return;
    }
    let env = site_env();
    env.run(&["init", "example.com"]).ok();
    env.run(&[
        "policy",
        "--enforce",
        "--report-uri",
        "https://r.example.net/a?b=1&c=\"<x>\"'",
    ])
    .ok();
    let value = env
        .run(&["header"])
        .ok()
        .trim_end()
        .split_once(": ")
        .unwrap()
        .1
        .to_string();
    for ro in [false, true] {
        let mut args = vec!["snippet", "--server", "iis"];
        if ro {
            args.push("--report-only");
        }
        let xml = env.run(&args).ok().to_string();
        std::fs::write(env.path().join("web.config"), &xml).unwrap();
        sh(env.path(), "xmllint --noout web.config");
        let decoded = sh(
            env.path(),
            "xmllint --xpath 'string(//customHeaders/add/@value)' web.config",
        );
        assert_eq!(decoded.trim_end_matches('\n'), value);
        let name = sh(
            env.path(),
            "xmllint --xpath 'string(//customHeaders/add/@name)' web.config",
        );
        assert_eq!(
            name.trim_end_matches('\n'),
            if ro {
                "Public-Key-Pins-Report-Only"
            } else {
                "Public-Key-Pins"
            }
        );
    }
    // With no character cmd.exe mangles, the appcmd line is there too.
    env.run(&["policy", "--no-report-uri"]).ok();
    let xml = env.run(&["snippet", "--server", "iis"]).ok().to_string();
    assert!(xml.contains("appcmd.exe set config \"example.com\""));
}
