//! Channels through the CLI: one site whose header, TLSA RRset and app
//! releases publish and rotate across months, refusals that name the
//! channel and release, artifacts read by the platforms' own parsers
//! (xmllint, Python's plistlib, named-checkzone), and a version-2 state
//! upgraded on its next write.

use crate::common::*;
use crate::harness;

fn at(env: &mut Env, when: &str) {
    env.set("PINCTL_NOW", when);
}

fn channels_env() -> Env {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["channel", "add", "dns", "--ttl", "3600"]).ok();
    env.run(&[
        "channel",
        "add",
        "android",
        "--expires-after",
        "60",
        "--include-subdomains",
    ])
    .ok();
    env.run(&["channel", "add", "ios", "--horizon", "30"]).ok();
    env
}

fn pins_of(env: &Env) -> Vec<(String, String)> {
    let s = status_json(env);
    s["sites"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_string(),
                k["pin"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Ships app release `release` through `channel` as an app team does: the
/// file `snippet --channel` writes now is the one that ships, recorded
/// with `publish --from`. A snippet that fails is the answer.
fn ship_release(env: &Env, channel: &str, release: &str, extra: &[&str]) -> Run {
    let mut s = vec!["snippet", "--channel", channel];
    s.extend(extra);
    let r = env.run(&s);
    if r.code != 0 {
        return r;
    }
    let file = env.path().join(format!("{channel}-{release}.artifact"));
    std::fs::write(&file, &r.stdout).unwrap();
    let f = file.to_str().unwrap().to_string();
    let mut p = vec![
        "publish",
        "--channel",
        channel,
        "--release",
        release,
        "--from",
        &f,
    ];
    p.extend(extra);
    env.run(&p)
}

/// Months of one site: a TLSA RRset and two app channels publish; a
/// promotion is refused while an app release or RRset without the key is
/// held, naming it and the date, and goes through on that date.
#[test]
fn a_site_rotates_under_a_tlsa_rrset_and_two_app_channels() {
    let mut env = channels_env();
    env.run(&["publish", "--channel", "dns"]).ok();
    ship_release(&env, "android", "4.0", &[]).ok();
    ship_release(&env, "ios", "3.0", &[]).ok();
    // A release without a label, and a label twice, are refused.
    env.run(&["publish", "--channel", "ios"])
        .fails_with("--release");
    ship_release(&env, "ios", "3.0", &[]).fails_with("shipped a release 3.0 already");
    // backup1 is in every pinset: promoting it is safe now.
    at(&mut env, "2030-01-10T00:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();
    // The new backup3 is in no RRset nor release yet.
    at(&mut env, "2030-01-10T01:00:00Z");
    env.run(&["publish", "--channel", "dns"]).ok();
    ship_release(&env, "android", "4.1", &[]).ok();
    ship_release(&env, "ios", "3.1", &[]).ok();
    let r = env.run(&["rotate", "--promote", "backup3", "--dry-run"]);
    // Android 4.0 (expiring 2030-03-02) and iOS 3.0 (held to 30 days
    // after 3.1 shipped) lack backup3, and so does the first RRset.
    r.fails_with("android release 4.0");
    r.fails_with("ios release 3.0");
    r.fails_with("2030-03-02T12:00:00Z");
    // After the last of them: iOS 3.0 until 2030-02-09T01:00, Android
    // 4.0 until noon UTC of 2 March.
    at(&mut env, "2030-03-02T11:59:59Z");
    env.run(&["rotate", "--promote", "backup3", "--dry-run"])
        .fails_with("android release 4.0");
    at(&mut env, "2030-03-02T12:00:00Z");
    env.run(&["rotate", "--promote", "backup3"]).ok();
    let list: serde_json::Value =
        serde_json::from_str(env.run(&["channel", "list", "--format", "json"]).ok()).unwrap();
    let names: Vec<&str> = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "dns", "android", "ios"]);
}

/// A release whose pins never expire is published with a warning saying
/// what it costs; an expiration within 10 days is refused.
#[test]
fn forever_and_too_soon_are_said_before_they_ship() {
    let env = channels_env();
    env.run(&["channel", "add", "okhttp"]).ok();
    let r = ship_release(&env, "okhttp", "1", &[]);
    r.ok();
    assert!(r.stderr.contains("never stops being held"), "{}", r.stderr);
    ship_release(&env, "android", "9", &["--expires", "2030-01-05"]).fails_with("PinSetExpiry");
    env.run(&["snippet", "--channel", "android", "--expires", "2030-01-05"])
        .fails_with("PinSetExpiry");
    let o = env
        .cmd(&[
            "publish",
            "--channel",
            "android",
            "--release",
            "9",
            "--expires",
            "2030-1-5",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("YYYY-MM-DD"));
}

/// Each artifact is read by the platform's parser or a real checker, and
/// holds exactly the desired pins.
#[test]
fn artifacts_pass_the_platforms_parsers() {
    let env = channels_env();
    env.run(&["channel", "add", "trustkit", "--expires-after", "45"])
        .ok();
    env.run(&[
        "channel",
        "add",
        "okhttp",
        "--horizon",
        "30",
        "--include-subdomains",
        "--one-label",
    ])
    .ok();
    let pins: Vec<String> = pins_of(&env).into_iter().map(|(_, p)| p).collect();
    let write = |name: &str, args: &[&str]| {
        let text = env.run(args).ok().to_string();
        std::fs::write(env.path().join(name), &text).unwrap();
        text
    };
    let android = write("nsc.xml", &["snippet", "--channel", "android"]);
    assert!(android.contains(r#"<domain includeSubdomains="true">example.com</domain>"#));
    assert!(android.contains(r#"<pin-set expiration="2030-03-02">"#));
    for p in &pins {
        assert!(android.contains(&format!(r#"<pin digest="SHA-256">{p}</pin>"#)));
    }
    write(
        "tk.xml",
        &["snippet", "--channel", "trustkit", "--lang", "xml"],
    );
    write("ios.plist", &["snippet", "--channel", "ios"]);
    write("tk.plist", &["snippet", "--channel", "trustkit"]);
    let kt = write("pinner.kt", &["snippet", "--channel", "okhttp"]);
    assert!(kt.contains(r#""*.example.com","#) && kt.contains(r#""example.com","#));
    let java = write(
        "Pinner.java",
        &["snippet", "--channel", "okhttp", "--lang", "java"],
    );
    assert!(java.contains(&format!(r#""sha256/{}""#, pins[0])));
    let zone = write("tlsa.txt", &["snippet", "--channel", "dns"]);
    if have("xmllint", "artifacts_pass_the_platforms_parsers") {
        sh(
            env.path(),
            "xmllint --noout nsc.xml tk.xml ios.plist tk.plist",
        );
    }
    if have("python3", "artifacts_pass_the_platforms_parsers") {
        let got = sh(
            env.path(),
            "python3 -c '
import plistlib, json
i = plistlib.load(open(\"ios.plist\", \"rb\"))[\"NSAppTransportSecurity\"][\"NSPinnedDomains\"]
t = plistlib.load(open(\"tk.plist\", \"rb\"))[\"TSKConfiguration\"][\"TSKPinnedDomains\"]
print(json.dumps({\"ios\": i, \"tk\": t}))'",
        );
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        let ios = &v["ios"]["example.com"];
        assert_eq!(ios["NSIncludesSubdomains"], false);
        let leaf: Vec<&str> = ios["NSPinnedLeafIdentities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["SPKI-SHA256-BASE64"].as_str().unwrap())
            .collect();
        assert_eq!(leaf, pins.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(ios.as_object().unwrap().len(), 2, "{ios}");
        let tk = &v["tk"]["example.com"];
        assert_eq!(tk["TSKEnforcePinning"], true);
        assert_eq!(tk["TSKExpirationDate"], "2030-02-15");
        assert_eq!(
            tk["TSKPublicKeyHashes"].as_array().unwrap().len(),
            pins.len()
        );
    }
    // The records' digests are the pins in hex, and a zone with them
    // loads in BIND's checker.
    for p in &pins {
        let hex = sh(
            env.path(),
            &format!("echo '{p}' | base64 -d | od -An -tx1 | tr -d ' \\n'"),
        );
        assert!(zone.contains(&format!("_443._tcp.example.com. 3600 IN TLSA 3 1 1 {hex}")));
    }
    if have("named-checkzone", "artifacts_pass_the_platforms_parsers") {
        std::fs::write(
            env.path().join("zone"),
            format!(
                "$TTL 3600\n@ IN SOA ns.example.com. admin.example.com. 1 3600 600 86400 3600\n@ IN NS ns.example.com.\nns IN A 192.0.2.1\n{zone}"
            ),
        )
        .unwrap();
        sh(env.path(), "named-checkzone example.com zone");
    }
}

/// A version-2 state (before channels) reads as it is, with its
/// publications as the web channel's, and is written as version 4 on the
/// next change, its publications unchanged.
#[test]
fn a_version_2_state_is_read_and_upgraded_on_the_next_write() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["publish"]).ok();
    let site = env.path().join("state/example.com/site.yaml");
    let v3 = std::fs::read_to_string(&site).unwrap();
    let v2 = v3.replacen("version: 4", "version: 2", 1);
    std::fs::write(&site, &v2).unwrap();
    env.run(&["status"]).ok();
    env.run(&["channel", "list"]).ok();
    assert_eq!(
        std::fs::read_to_string(&site).unwrap(),
        v2,
        "reads do not rewrite"
    );
    env.run(&["channel", "add", "dns", "--ttl", "600"]).ok();
    let upgraded = std::fs::read_to_string(&site).unwrap();
    assert!(upgraded.starts_with("version: 4\n"));
    let pubs =
        |y: &str| y[y.find("publications:").unwrap()..y.find("events:").unwrap()].to_string();
    assert_eq!(
        pubs(&upgraded),
        pubs(&v2),
        "web publications keep their form"
    );
    assert!(upgraded.contains("channels:\n- name: dns\n  kind: dns\n  ttl: 600\n"));
}

fn codes(env: &Env) -> Vec<(String, String)> {
    let o = env.cmd(&["check", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `check` and `plan` learn the channels: an RRset to add after a
/// rotation, an Android pin-set about to expire, a release held for ever.
#[test]
fn check_and_plan_speak_for_every_channel() {
    let mut env = channels_env();
    env.run(&["publish", "--channel", "dns"]).ok();
    ship_release(&env, "android", "4.1", &[]).ok();
    env.run(&["channel", "add", "okhttp"]).ok();
    ship_release(&env, "okhttp", "2.0", &[]).ok();
    let c = codes(&env);
    let has = |c: &[(String, String)], code: &str, needle: &str| {
        c.iter().any(|(k, m)| k == code && m.contains(needle))
    };
    assert!(
        has(
            &c,
            "release-held-forever",
            "okhttp release 2.0 is held for ever"
        ),
        "{c:?}"
    );
    assert!(has(&c, "channel-current", "channel dns"), "{c:?}");
    // Nine days before 2030-03-02.
    at(&mut env, "2030-02-21T12:00:00Z");
    let c = codes(&env);
    assert!(
        has(
            &c,
            "release-expiring",
            "android release 4.1's pin-set expires in 9 days"
        ),
        "{c:?}"
    );
    env.run(&["rotate", "--promote", "backup1"]).ok();
    let c = codes(&env);
    assert!(has(&c, "channel-unpublished", "TLSA records"), "{c:?}");
    let plan = env.run(&["plan"]).ok().to_string();
    assert!(plan.contains("Add the TLSA records"), "{plan}");
    assert!(
        plan.contains("Ship a release through channel android with pins"),
        "{plan}"
    );
    // The okhttp release pins backup3 out for ever: never safe.
    let plan = env.run(&["plan", "--promote", "backup3"]).ok().to_string();
    assert!(
        plan.contains("can never be promoted safely: okhttp release 2.0"),
        "{plan}"
    );
}

/// A site with a dns channel whose active key serves a self-signed
/// certificate from a real nginx on loopback.
fn dane_site() -> Option<(Env, harness::Running, tempfile::TempDir)> {
    let env = channels_env();
    let d = env.path();
    env.run(&["key", "export", "primary", "--out", "primary.pem"])
        .ok();
    sh(d, "openssl req -x509 -key primary.pem -subj /CN=example.com -addext subjectAltName=DNS:example.com,DNS:api.example.com -addext basicConstraints=critical,CA:FALSE -days 30 -out cert.pem 2>/dev/null");
    let dir = tempfile::tempdir().unwrap();
    let server = harness::start(
        harness::Kind::Nginx,
        dir.path(),
        &harness::Site {
            host: "example.com",
            cert: &d.join("cert.pem"),
            key: &d.join("primary.pem"),
            snippet: "",
        },
    )
    .unwrap_or_else(|e| panic!("nginx: {e}"));
    Some((env, server, dir))
}

/// DANE against a real server: the RRset pinctl prints verifies the
/// active key's certificate with openssl's DANE client; the backups'
/// records alone do not.
#[test]
fn the_tlsa_rrset_verifies_the_served_key_with_openssl_dane() {
    let test = "the_tlsa_rrset_verifies_the_served_key_with_openssl_dane";
    if !harness::available(harness::Kind::Nginx, test) || !have("openssl", test) {
        return;
    }
    let Some((env, server, _dir)) = dane_site() else {
        return;
    };
    let zone = env.run(&["snippet", "--channel", "dns"]).ok().to_string();
    let records: Vec<(String, String)> = zone
        .lines()
        .filter(|l| l.contains(" IN TLSA "))
        .map(|l| {
            let (rr, label) = l.split_once(" ; ").unwrap();
            let rdata = rr.split(" IN TLSA ").nth(1).unwrap().to_string();
            (rdata, label.to_string())
        })
        .collect();
    assert_eq!(records.len(), 3, "{zone}");
    let dane = |rrset: &[&(String, String)]| -> (bool, String) {
        let args: String = rrset
            .iter()
            .map(|(r, _)| format!(" -dane_tlsa_rrdata '{r}'"))
            .collect();
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect 127.0.0.1:{} -servername example.com -dane_tlsa_domain example.com{args} -verify_return_error </dev/null 2>&1",
                server.port
            ))
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        (o.status.success() && out.contains("Verification: OK"), out)
    };
    let all: Vec<&(String, String)> = records.iter().collect();
    let (ok, out) = dane(&all);
    assert!(ok, "{out}");
    assert!(out.contains("DANE TLSA 3 1 1"), "{out}");
    let backups: Vec<&(String, String)> = records
        .iter()
        .filter(|(_, l)| l.contains("(backup)"))
        .collect();
    assert_eq!(backups.len(), 2);
    let (ok, out) = dane(&backups);
    assert!(
        !ok,
        "the backups' records alone must not verify the active key:\n{out}"
    );
}

/// A Java program for the JDK's single-file launcher that fetches
/// `https://HOST:PORT/` through 127.0.0.1 with OkHttp, trusting `ca` and
/// pinning with exactly pinctl's `CertificatePinner` code.
fn okhttp_program(pinner: &str) -> String {
    format!(
        r#"import okhttp3.*;
import javax.net.ssl.*;
import java.io.FileInputStream;
import java.net.InetAddress;
import java.security.KeyStore;
import java.security.cert.*;
import java.util.Collections;

public class Fetch {{
  public static void main(String[] a) throws Exception {{
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    ks.setCertificateEntry("ca", cf.generateCertificate(new FileInputStream(a[0])));
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    X509TrustManager tm = (X509TrustManager) tmf.getTrustManagers()[0];
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, new TrustManager[] {{ tm }}, null);
{pinner}
    OkHttpClient client = new OkHttpClient.Builder()
        .sslSocketFactory(ctx.getSocketFactory(), tm)
        .certificatePinner(certificatePinner)
        .dns(h -> Collections.singletonList(InetAddress.getByName("127.0.0.1")))
        .build();
    Request r = new Request.Builder().url("https://" + a[1] + ":" + a[2] + "/").build();
    try (Response resp = client.newCall(r).execute()) {{
      System.out.println("fetched " + resp.code());
    }} catch (SSLPeerUnverifiedException e) {{
      System.out.println("SSLPeerUnverifiedException: " + e.getMessage().split("\n")[0]);
      System.exit(3);
    }}
  }}
}}
"#
    )
}

/// OkHttp 3.13 (Debian's libokhttp-java) with pinctl's Java snippet: the
/// served key pinned fetches, for the host and (with `*.`) one label
/// below; a key outside the pins fails with OkHttp's own
/// SSLPeerUnverifiedException.
#[test]
fn okhttp_pins_exactly_what_the_snippet_says() {
    let test = "okhttp_pins_exactly_what_the_snippet_says";
    let jars = "/usr/share/java/okhttp.jar:/usr/share/java/okio.jar";
    if !harness::available(harness::Kind::Nginx, test) || !have("java", test) {
        return;
    }
    if !std::path::Path::new("/usr/share/java/okhttp.jar").is_file() {
        crate::common::skip(test, "/usr/share/java/okhttp.jar (libokhttp-java)");
        return;
    }
    let Some((env, server, _dir)) = dane_site() else {
        return;
    };
    env.run(&[
        "channel",
        "add",
        "okhttp",
        "--horizon",
        "30",
        "--include-subdomains",
        "--one-label",
    ])
    .ok();
    let pinner = env
        .run(&["snippet", "--channel", "okhttp", "--lang", "java"])
        .ok()
        .to_string();
    assert!(pinner.contains(r#".add("*.example.com""#), "{pinner}");
    let d = env.path();
    std::fs::write(d.join("Fetch.java"), okhttp_program(&pinner)).unwrap();
    let fetch = |host: &str, ca: &str| {
        std::process::Command::new("java")
            .current_dir(d)
            .args([
                "-cp",
                jars,
                "Fetch.java",
                ca,
                host,
                &server.port.to_string(),
            ])
            .output()
            .unwrap()
    };
    for host in ["example.com", "api.example.com"] {
        let o = fetch(host, "cert.pem");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && out.contains("fetched 200"),
            "{host}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The same program against a key outside the pins.
    drop(server);
    sh(d, "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.pem 2>/dev/null && openssl req -x509 -key other.pem -subj /CN=example.com -addext subjectAltName=DNS:example.com,DNS:api.example.com -addext basicConstraints=critical,CA:FALSE -days 30 -out other.crt 2>/dev/null");
    let dir = tempfile::tempdir().unwrap();
    let other = harness::start(
        harness::Kind::Nginx,
        dir.path(),
        &harness::Site {
            host: "example.com",
            cert: &d.join("other.crt"),
            key: &d.join("other.pem"),
            snippet: "",
        },
    )
    .unwrap();
    for host in ["example.com", "api.example.com"] {
        let o = std::process::Command::new("java")
            .current_dir(d)
            .args([
                "-cp",
                jars,
                "Fetch.java",
                "other.crt",
                host,
                &other.port.to_string(),
            ])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(3), "{host}: {out}");
        assert!(
            out.contains("SSLPeerUnverifiedException: Certificate pinning failure!"),
            "{host}: {out}"
        );
    }
    // `**.` (any depth) is what the snippet says it is: OkHttp 3.13
    // takes it without a word and pins nothing below the host.
    env.run(&[
        "channel",
        "add",
        "okhttp",
        "--name",
        "deep",
        "--include-subdomains",
    ])
    .ok();
    let deep = env
        .run(&["snippet", "--channel", "deep", "--lang", "java"])
        .ok()
        .to_string();
    assert!(deep.contains("needs OkHttp 4"), "{deep}");
    std::fs::create_dir(d.join("deep")).unwrap();
    std::fs::write(d.join("deep/Fetch.java"), okhttp_program(&deep)).unwrap();
    let run = |host: &str| {
        let o = std::process::Command::new("java")
            .current_dir(d)
            .args([
                "-cp",
                jars,
                "deep/Fetch.java",
                "other.crt",
                host,
                &other.port.to_string(),
            ])
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
        )
    };
    assert_eq!(run("example.com").0, Some(3), "the exact host is pinned");
    let (code, out) = run("api.example.com");
    assert_eq!(code, Some(0), "OkHttp 3.13 ignores **.: {out}");
}

/// The rules of AOSP's `XmlConfigSource` and of Android lint's
/// `NetworkSecurityConfig`, `PinSetExpiry` and `MissingBackupPin` checks
/// (docs/design.md#lint-rules), applied with Python's XML parser.
/// Prints one line per violation; `today` is YYYY-MM-DD.
const ANDROID_RULES: &str = r#"
import base64, datetime, sys, xml.etree.ElementTree as ET
path, today, strict = sys.argv[1], datetime.date.fromisoformat(sys.argv[2]), sys.argv[3] == "trustkit"
bad = []
root = ET.parse(path).getroot()
known = {"network-security-config", "base-config", "domain-config", "debug-overrides", "domain",
         "pin-set", "pin", "trust-anchors", "certificates"} | ({"trustkit-config", "report-uri"} if strict else set())
for e in root.iter():
    if e.tag not in known:
        bad.append("Unexpected element <%s>" % e.tag)
if root.tag != "network-security-config":
    bad.append("root is <%s>" % root.tag)
for tag in ("base-config", "debug-overrides"):
    if len(root.findall(tag)) > 1:
        bad.append("Expecting at most 1 <%s>" % tag)
    for c in root.findall(tag):
        for no in ("domain", "pin-set"):
            if c.find(no) is not None:
                bad.append("<%s> element not allowed in <%s>" % (no, tag))
seen = set()
for dc in root.iter("domain-config"):
    domains = dc.findall("domain")
    if not domains:
        bad.append("No <domain> elements in <domain-config>")
    for d in domains:
        name = (d.text or "").strip().lower()
        if name in seen:
            bad.append("%s has already been specified" % name)
        seen.add(name)
        inc = d.get("includeSubdomains")
        if inc is None:
            bad.append("Missing includeSubdomains attribute")
        elif inc not in ("true", "false"):
            bad.append("includeSubdomains is %r" % inc)
    if len(dc.findall("pin-set")) > 1:
        bad.append("Multiple <pin-set> elements not allowed")
    if len(dc.findall("trust-anchors")) > 1:
        bad.append("Multiple <trust-anchors> elements are not allowed")
    for ps in dc.findall("pin-set"):
        exp = ps.get("expiration")
        if exp is not None:
            try:
                if len(exp) != 10:
                    raise ValueError(exp)
                d = datetime.date.fromisoformat(exp)
                if d < today:
                    bad.append("pin-set has already expired")
                elif d < today + datetime.timedelta(days=10):
                    bad.append("pin-set is expiring soon")
            except ValueError:
                bad.append("Invalid expiration date in pin-set")
        pins = ps.findall("pin")
        if not pins:
            bad.append("Missing <pin> element(s)")
        if len(pins) == 1:
            bad.append("A backup <pin> declaration is highly recommended")
        for p in pins:
            dg = p.get("digest")
            if dg is None:
                bad.append("Missing digest attribute")
            elif (dg != "SHA-256") if strict else (dg.upper() != "SHA-256"):
                bad.append("Unsupported pin digest algorithm: %s" % dg)
            if len(p):
                bad.append("pin contains additional elements")
            try:
                raw = base64.b64decode((p.text or "").strip(), validate=True)
            except Exception:
                bad.append("Invalid pin digest")
                continue
            if len(raw) != 32:
                bad.append("digest length %d does not match expected length for SHA-256 of 32" % len(raw))
        if strict and len(set((p.text or "").strip() for p in pins)) < 2:
            bad.append("Less than two pins were supplied")
print("\n".join(bad))
"#;

/// The Network Security Config and TrustKit-Android files pass every rule
/// the framework's parser and Android lint apply, and the checker catches
/// each kind of violation in a broken file.
#[test]
fn android_configs_pass_the_framework_and_lint_rules() {
    let test = "android_configs_pass_the_framework_and_lint_rules";
    if !have("python3", test) {
        return;
    }
    let env = channels_env();
    env.run(&["channel", "add", "trustkit", "--expires-after", "45"])
        .ok();
    let d = env.path();
    std::fs::write(d.join("rules.py"), ANDROID_RULES).unwrap();
    let check = |file: &str, strict: &str| {
        sh(d, &format!("python3 rules.py {file} 2030-01-01 {strict}"))
            .trim()
            .to_string()
    };
    let nsc = env
        .run(&["snippet", "--channel", "android"])
        .ok()
        .to_string();
    std::fs::write(d.join("nsc.xml"), &nsc).unwrap();
    assert_eq!(check("nsc.xml", "android"), "");
    let tk = env
        .run(&["snippet", "--channel", "trustkit", "--lang", "xml"])
        .ok()
        .to_string();
    std::fs::write(d.join("tk.xml"), &tk).unwrap();
    assert_eq!(check("tk.xml", "trustkit"), "");
    // The checker is not blind: a broken file trips each rule.
    let broken = nsc
        .replace(r#"includeSubdomains="true""#, "")
        .replace("2030-03-02", "2030-01-05")
        .replace(r#"digest="SHA-256""#, r#"digest="SHA-1""#)
        .replace("</domain-config>", "<pin-set/><bogus/></domain-config>");
    std::fs::write(d.join("broken.xml"), broken).unwrap();
    let found = check("broken.xml", "android");
    for rule in [
        "Missing includeSubdomains attribute",
        "pin-set is expiring soon",
        "Unsupported pin digest algorithm: SHA-1",
        "Multiple <pin-set> elements not allowed",
        "Unexpected element <bogus>",
        "Missing <pin> element(s)",
    ] {
        assert!(found.contains(rule), "{rule} not caught:\n{found}");
    }
}

/// `timeline` draws every channel, the keys and the marks; the SVG is
/// well-formed XML and renders with librsvg to a non-empty PNG.
#[test]
fn the_timeline_draws_every_channel_and_renders() {
    let test = "the_timeline_draws_every_channel_and_renders";
    let mut env = channels_env();
    env.run(&["publish", "--channel", "dns"]).ok();
    ship_release(&env, "android", "4.0", &[]).ok();
    at(&mut env, "2030-01-10T00:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();
    env.run(&["publish", "--channel", "dns"]).ok();
    let text = env.run(&["timeline"]).ok().to_string();
    for needle in [
        "android release 4.0",
        "publication 1 (dns)",
        "publication 3 (dns)",
        "primary (retired)",
        "backup1 (active)",
        "2030-01-10T00:00:00Z promote backup1",
        "2030-03-02T12:00:00Z backup3 safe",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    let d = env.path();
    std::fs::write(
        d.join("t.svg"),
        env.run(&["timeline", "--format", "svg"]).ok(),
    )
    .unwrap();
    std::fs::write(
        d.join("t.html"),
        env.run(&["timeline", "--format", "html"]).ok(),
    )
    .unwrap();
    if have("xmllint", test) {
        sh(d, "xmllint --noout t.svg && xmllint --html --noout t.html");
    }
    if have("rsvg-convert", test) {
        sh(d, "rsvg-convert t.svg -o t.png");
        let png = std::fs::read(d.join("t.png")).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{} bytes",
            png.len()
        );
    }
}

/// The committed version-1 and version-2 states (tests/fixtures) load
/// as they are, take a channel, publish through it, and are written back
/// as version 4 with their history intact.
#[test]
fn the_version_1_and_2_fixtures_upgrade_to_channels() {
    for v in ["1", "2"] {
        let mut env = Env::new();
        at(&mut env, "2030-02-01T00:00:00Z");
        let d = env.path();
        sh(
            d,
            &format!("cp -r '{}/state-v{v}' state", fixtures().display()),
        );
        let site = d.join("state/example.com/site.yaml");
        let before = std::fs::read_to_string(&site).unwrap();
        assert!(before.starts_with(&format!("version: {v}\n")));
        let s = status_json(&env);
        assert_eq!(s["sites"][0]["live"]["max_age"], 86400, "v{v}");
        env.run(&["timeline"]).ok();
        assert_eq!(
            std::fs::read_to_string(&site).unwrap(),
            before,
            "v{v}: reads write nothing"
        );
        env.run(&["channel", "add", "dns", "--ttl", "300"]).ok();
        env.run(&["publish", "--channel", "dns"]).ok();
        let after = std::fs::read_to_string(&site).unwrap();
        assert!(after.starts_with("version: 4\n"), "v{v}");
        let web = |y: &str| {
            let p = &y[y.find("publications:").unwrap()..y.find("\nevents:").unwrap()];
            p[..p.find("- channel: dns").unwrap_or(p.len())]
                .trim_end()
                .to_string()
        };
        assert_eq!(
            web(&after),
            web(&before),
            "v{v}: the header's publication is kept as it was"
        );
        assert!(
            after.contains("- channel: dns\n  kind: dns\n"),
            "v{v}: {after}"
        );
        // The old header still binds: backup3 does not exist, backup1 is
        // in it, so promoting it is safe.
        env.run(&["rotate", "--promote", "backup1", "--dry-run"])
            .ok();
    }
}

/// After a compromise the old key leaves the header at once, but an app
/// release (or an RRset) must keep it until something shows the new key
/// served — a header published, or `pinctl deployed` — since before that
/// installs could meet the old key. An RRset is no such evidence: RFC
/// 7671 section 8.1 publishes it before the switch.
#[test]
fn an_app_release_waits_for_the_server_after_a_compromise() {
    let env = channels_env();
    env.run(&["publish", "--channel", "dns"]).ok();
    ship_release(&env, "android", "4.0", &[]).ok();
    let r = env.run(&["rotate", "--promote", "backup1", "--compromised"]);
    assert!(
        r.ok().contains("The new backup(s) become safe to promote"),
        "{}",
        r.ok()
    );
    ship_release(&env, "android", "4.1", &[]).fails_with("may still serve primary");
    env.run(&["publish", "--channel", "dns"]).ok();
    ship_release(&env, "android", "4.1", &[]).fails_with("may still serve primary");
    certify_key(&env, "example.com", "backup1");
    env.run(&["deployed", "backup1"]).ok();
    let r = ship_release(&env, "android", "4.1", &[]);
    assert!(
        !r.ok().contains(&pins_of(&env)[0].1),
        "primary's pin is gone"
    );
}

/// A year of one site in which the web header, a TLSA RRset and two app
/// channels each publish and rotate, at the dates pinctl gives.
#[test]
fn a_year_of_the_header_a_tlsa_rrset_and_two_app_channels() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["channel", "add", "dns", "--ttl", "3600"]).ok();
    env.run(&[
        "channel",
        "add",
        "android",
        "--expires-after",
        "120",
        "--include-subdomains",
    ])
    .ok();
    env.run(&["channel", "add", "ios", "--horizon", "30"]).ok();
    let ship = |env: &Env, v: &str| {
        env.run(&["publish", "--channel", "dns"]).ok();
        ship_release(env, "android", v, &[]).ok();
        ship_release(env, "ios", v, &[]).ok();
    };
    env.run(&["publish"]).ok();
    ship(&env, "1.0");
    at(&mut env, "2030-01-08T00:00:00Z");
    env.run(&["policy", "--enforce", "--max-age", "86400"]).ok();
    env.run(&["publish"]).ok();
    at(&mut env, "2030-02-01T00:00:00Z");
    env.run(&["policy", "--max-age", "2592000"]).ok();
    env.run(&["publish"]).ok();
    // A planned rotation: backup1 is in every pinset.
    at(&mut env, "2030-03-01T00:00:00Z");
    env.run(&["rotate", "--promote", "backup1"]).ok();
    certify_key(&env, "example.com", "backup1");
    env.run(&["publish"]).ok();
    at(&mut env, "2030-03-01T01:00:00Z");
    env.run(&["publish"]).ok();
    ship(&env, "1.1");
    // backup3 waits for the last pinset without it: Android 1.0 expires
    // on 1 May (120 days after New Year), held to noon UTC.
    at(&mut env, "2030-03-02T00:00:00Z");
    let refused = env.run(&["rotate", "--promote", "backup3", "--dry-run"]);
    refused.fails_with("android release 1.0");
    refused.fails_with("ios release 1.0");
    refused.fails_with("it is safe from 2030-05-01T12:00:00Z");
    let plan: serde_json::Value = serde_json::from_str(
        env.run(&["plan", "--promote", "backup3", "--format", "json"])
            .ok(),
    )
    .unwrap();
    assert_eq!(
        plan["steps"][0]["not_before"], "2030-05-01T12:00:00Z",
        "{plan}"
    );
    at(&mut env, "2030-05-01T12:00:00Z");
    env.run(&["rotate", "--promote", "backup3"]).ok();
    certify_key(&env, "example.com", "backup3");
    env.run(&["publish"]).ok();
    at(&mut env, "2030-05-01T13:00:00Z");
    env.run(&["publish"]).ok();
    ship(&env, "1.2");
    // Android 1.2 expires on 29 August: check warns within 30 days.
    at(&mut env, "2030-08-10T00:00:00Z");
    let c = codes(&env);
    assert!(
        c.iter()
            .any(|(k, m)| k == "release-expiring" && m.contains("android release 1.2")),
        "{c:?}"
    );
    ship(&env, "1.3");
    at(&mut env, "2030-12-31T00:00:00Z");
    let c = codes(&env);
    assert!(
        !c.iter()
            .any(|(k, _)| k == "channel-unpublished" || k == "channel-lacks-active"),
        "{c:?}"
    );
    // Android 1.3 (shipped 10 August) stopped pinning on 8 December.
    assert!(
        c.iter()
            .any(|(k, m)| k == "release-expired" && m.contains("2030-12-08")),
        "{c:?}"
    );
    let list: serde_json::Value =
        serde_json::from_str(env.run(&["channel", "list", "--format", "json"]).ok()).unwrap();
    let pubs: Vec<u64> = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["publications"].as_u64().unwrap())
        .collect();
    // web: report-only, 2 ramp steps, 2 per rotation; dns: 4 RRsets
    // (the one of 1.3 unchanged); android and ios: 4 releases each.
    assert_eq!(pubs, [7, 3, 4, 4], "{list}");
}

/// The Kotlin snippet compiles with Debian's kotlinc 1.3 against its
/// OkHttp 3.13, which refuses a trailing comma in an argument list.
#[test]
fn the_kotlin_snippet_compiles_with_kotlinc() {
    let test = "the_kotlin_snippet_compiles_with_kotlinc";
    if !have("kotlinc", test) {
        return;
    }
    let jar = "/usr/share/java/okhttp.jar";
    if !std::path::Path::new(jar).is_file() {
        crate::common::skip(test, &format!("{jar} (libokhttp-java)"));
        return;
    }
    let env = channels_env();
    env.run(&["channel", "add", "okhttp", "--include-subdomains"])
        .ok();
    let snippet = env
        .run(&["snippet", "--channel", "okhttp"])
        .ok()
        .to_string();
    let program = format!(
        "import okhttp3.CertificatePinner\n\nfun main() {{\n{snippet}    println(certificatePinner.hashCode())\n}}\n"
    );
    std::fs::write(env.path().join("Pins.kt"), program).unwrap();
    sh(
        env.path(),
        &format!(
            "kotlinc Pins.kt -cp {jar} -d out 2>kotlinc.err || {{ cat kotlinc.err >&2; exit 1; }}"
        ),
    );
    assert!(env.path().join("out/PinsKt.class").is_file());
}

/// TrustKit's own rules for a configuration (what it checks when the app
/// starts, raising "TrustKit configuration invalid"), and pinctl's
/// two additions (TSKSwizzleNetworkDelegates and TSKDisableDefaultReportUri
/// written out), applied with Python's plistlib. One line per violation.
const TRUSTKIT_RULES: &str = r#"
import base64, datetime, plistlib, re, sys, urllib.parse
bad = []
top = plistlib.load(open(sys.argv[1], "rb"))
cfg = top.get("TSKConfiguration", top)
def boolean(d, k, where):
    if k in d and not isinstance(d[k], bool):
        bad.append("%s: %s is not a boolean" % (where, k))
if not isinstance(cfg.get("TSKSwizzleNetworkDelegates"), bool):
    bad.append("TSKSwizzleNetworkDelegates is not set (TrustKit 1.3 and 1.4 require it)")
domains = cfg.get("TSKPinnedDomains")
if not isinstance(domains, dict) or not domains:
    bad.append("no pinned domains")
    domains = {}
# A registrable domain: two labels at least; includeSubdomains not on a
# public suffix (the few that tests could meet).
suffixes = {"com", "net", "org", "appspot.com", "co.uk", "github.io"}
for name, policy in domains.items():
    if name.count(".") < 1 or not re.fullmatch(r"[a-z0-9.-]+", name):
        bad.append("%s: invalid domain" % name)
    if policy.get("kSKExcludeSubdomainFromParentPolicy") is True:
        if len(policy) > 1:
            bad.append("%s: kSKExcludeSubdomainFromParentPolicy with other keys" % name)
        continue
    for k in ("TSKIncludeSubdomains", "TSKEnforcePinning", "TSKDisableDefaultReportUri"):
        boolean(policy, k, name)
    if policy.get("TSKIncludeSubdomains") is True and name in suffixes:
        bad.append("%s: includeSubdomains for a domain suffix" % name)
    if "TSKExpirationDate" in policy:
        d = policy["TSKExpirationDate"]
        try:
            if not (isinstance(d, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", d)):
                raise ValueError(d)
            datetime.date.fromisoformat(d)
        except ValueError:
            bad.append("%s: expiration date %r is not yyyy-MM-dd" % (name, d))
    for uri in policy.get("TSKReportUris", []):
        u = urllib.parse.urlsplit(uri) if isinstance(uri, str) else None
        if u is None or not u.scheme or not u.netloc or re.search(r"\s", uri):
            bad.append("%s: invalid report URI %r" % (name, uri))
    if policy.get("TSKDisableDefaultReportUri") is not True:
        bad.append("%s: reports also go to TrustKit's default server" % name)
    pins = set()
    for p in policy.get("TSKPublicKeyHashes", []):
        try:
            raw = base64.b64decode(p, validate=True)
        except Exception:
            raw = b""
        if len(raw) != 32:
            bad.append("%s: invalid pin %r" % (name, p))
        else:
            pins.add(raw)
    need = 2 if policy.get("TSKEnforcePinning", True) else 1
    if len(pins) < need:
        bad.append("%s: less than %d pins" % (name, need))
print("\n".join(bad))
"#;

/// The TrustKit plist passes TrustKit's rules with either swizzling
/// choice, and the checker catches each broken rule.
#[test]
fn trustkit_plists_pass_trustkits_own_rules() {
    let test = "trustkit_plists_pass_trustkits_own_rules";
    if !have("python3", test) {
        return;
    }
    let env = channels_env();
    env.run(&["policy", "--report-uri", "https://reports.example.com/r"])
        .ok();
    env.run(&["channel", "add", "trustkit", "--expires-after", "45"])
        .ok();
    env.run(&[
        "channel",
        "add",
        "trustkit",
        "--name",
        "tk-manual",
        "--include-subdomains",
        "--swizzle",
        "no",
    ])
    .ok();
    env.run(&[
        "channel",
        "add",
        "ios",
        "--name",
        "ios2",
        "--swizzle",
        "yes",
    ])
    .fails_with("swizzle does not apply to a ios channel");
    let list = env.run(&["channel", "list"]).ok().to_string();
    assert!(
        list.contains("swizzle=yes") && list.contains("swizzle=no"),
        "{list}"
    );
    let d = env.path();
    std::fs::write(d.join("rules.py"), TRUSTKIT_RULES).unwrap();
    let check = |file: &str| {
        sh(d, &format!("python3 rules.py {file}"))
            .trim()
            .to_string()
    };
    for (channel, swizzle) in [("trustkit", "<true/>"), ("tk-manual", "<false/>")] {
        let plist = env.run(&["snippet", "--channel", channel]).ok().to_string();
        assert!(
            plist.contains(&format!(
                "<key>TSKSwizzleNetworkDelegates</key>\n    {swizzle}"
            )),
            "{plist}"
        );
        std::fs::write(d.join("tk.plist"), &plist).unwrap();
        assert_eq!(check("tk.plist"), "", "{channel}");
    }
    let plist = env
        .run(&["snippet", "--channel", "trustkit"])
        .ok()
        .to_string();
    let first = plist
        .lines()
        .find(|l| l.trim().starts_with("<string>") && l.contains('='))
        .unwrap()
        .trim()
        .to_string();
    let broken = plist
        .replace("<key>TSKSwizzleNetworkDelegates</key>\n    <true/>", "")
        .replace("<key>TSKDisableDefaultReportUri</key>\n        <true/>", "")
        .replace("2030-02-15", "2030/02/15")
        .replace("https://reports.example.com/r", "not a uri")
        .replacen(&first, "<string>AAAA</string>", 1)
        .replace(
            "<key>TSKEnforcePinning</key>\n        <true/>",
            "<key>TSKEnforcePinning</key>\n        <string>yes</string>",
        );
    std::fs::write(d.join("broken.plist"), &broken).unwrap();
    let found = check("broken.plist");
    for rule in [
        "TSKSwizzleNetworkDelegates is not set",
        "reports also go to TrustKit's default server",
        "expiration date '2030/02/15' is not yyyy-MM-dd",
        "invalid report URI 'not a uri'",
        "invalid pin 'AAAA'",
        "TSKEnforcePinning is not a boolean",
    ] {
        assert!(found.contains(rule), "{rule} not caught:\n{found}");
    }
    // The domain rules, on the channel that includes subdomains.
    let manual = env
        .run(&["snippet", "--channel", "tk-manual"])
        .ok()
        .to_string();
    for (name, text, rules) in [
        (
            "suffix.plist",
            manual.replace("<key>example.com</key>", "<key>com</key>"),
            &[
                "com: invalid domain",
                "com: includeSubdomains for a domain suffix",
            ][..],
        ),
        (
            "exclude.plist",
            manual.replace(
                "<key>TSKEnforcePinning</key>",
                "<key>kSKExcludeSubdomainFromParentPolicy</key><true/><key>TSKEnforcePinning</key>",
            ),
            &["kSKExcludeSubdomainFromParentPolicy with other keys"],
        ),
        (
            "none.plist",
            manual.replace("<key>TSKPinnedDomains</key>", "<key>TSKPinnedDomainz</key>"),
            &["no pinned domains"],
        ),
    ] {
        std::fs::write(d.join(name), &text).unwrap();
        let found = check(name);
        for rule in rules {
            assert!(
                found.contains(rule),
                "{rule} not caught in {name}:\n{found}"
            );
        }
    }
    // Fewer than two distinct pins while enforcing.
    let pins: Vec<&str> = plist
        .lines()
        .filter(|l| l.trim().starts_with("<string>") && l.contains('='))
        .collect();
    let mut one = plist.clone();
    for p in &pins[1..] {
        one = one.replace(p, pins[0]);
    }
    std::fs::write(d.join("one.plist"), &one).unwrap();
    assert!(check("one.plist").contains("example.com: less than 2 pins"));
}
