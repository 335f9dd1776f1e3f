//! A simulated year of one site through the CLI, at chosen dates: roll-out
//! ramp, rotation, a promotion refused with the right date, a compromise,
//! decommissioning.

use crate::common::*;

fn at(env: &mut Env, when: &str) {
    env.set("PINCTL_NOW", when);
}

fn json(run: Run) -> serde_json::Value {
    serde_json::from_str(run.ok()).unwrap()
}

fn step_date(plan: &serde_json::Value, needle: &str) -> String {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["action"].as_str().unwrap().contains(needle)
                || s["command"].as_str().unwrap_or("").contains(needle)
        })
        .unwrap_or_else(|| panic!("no step with {needle:?} in {plan}"))["not_before"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_year_in_the_life_of_a_site() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let plan = json(env.run(&["plan", "--format", "json"]));
    assert_eq!(plan["site"], "example.com");
    assert!(plan["steps"][0]["action"]
        .as_str()
        .unwrap()
        .contains("certificate"));
    env.run(&["publish"]).ok();
    let h = env.run(&["header"]);
    assert!(h.ok().starts_with("Public-Key-Pins-Report-Only: "));
    let plan = json(env.run(&["plan", "--format", "json"]));
    assert_eq!(
        step_date(&plan, "--enforce --max-age 300"),
        "2030-01-08T00:00:00Z"
    );

    // The ramp.
    at(&mut env, "2030-01-08T00:00:00Z");
    env.run(&["policy", "--enforce", "--max-age", "300"]).ok();
    env.run(&["publish"]).ok();
    let plan = json(env.run(&["plan", "--format", "json"]));
    assert_eq!(step_date(&plan, "--max-age 86400"), "2030-01-08T00:05:00Z");
    for (when, age) in [
        ("2030-01-09T00:00:00Z", "86400"),
        ("2030-01-10T00:00:00Z", "604800"),
        ("2030-01-17T00:00:00Z", "2592000"),
    ] {
        at(&mut env, when);
        env.run(&["policy", "--max-age", age]).ok();
        env.run(&["publish"]).ok();
    }
    let out = env.run(&["publish"]);
    assert!(out.ok().contains("nothing changed"));
    let live = &json(env.run(&["status", "--format", "json"]))["sites"][0]["live"];
    assert_eq!(live["max_age"], 2592000);
    assert_eq!(live["mode"], "enforce");
    assert_eq!(live["from"], "2030-01-17T00:00:00Z");
    assert_eq!(live["retained_until"], "2030-02-16T00:00:00Z");

    // A planned rotation: backup1 is in every pinset, so it is safe now.
    at(&mut env, "2030-03-01T00:00:00Z");
    let dry = env.run(&["rotate", "--promote", "backup1", "--dry-run"]);
    assert!(dry.ok().contains("Dry run: nothing was written"));
    let out = env.run(&["rotate", "--promote", "backup1"]);
    assert!(out.ok().contains("new backup backup3"));
    let s = json(env.run(&["status", "--format", "json"]));
    let keys = s["sites"][0]["keys"].as_array().unwrap();
    let pin = |n: &str| {
        keys.iter().find(|k| k["name"] == n).unwrap()["pin"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let role = |n: &str| {
        keys.iter().find(|k| k["name"] == n).unwrap()["role"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(role("backup1"), "active");
    assert_eq!(role("primary"), "retired");
    // The old pin stays until the new key has been published.
    let header = env.run(&["header"]).ok().to_string();
    assert!(header.contains(&pin("primary")) && header.contains(&pin("backup3")));
    certify_key(&env, "example.com", "backup1");
    env.run(&["publish"]).ok();
    at(&mut env, "2030-03-02T00:00:00Z");
    let header = env.run(&["header"]).ok().to_string();
    assert!(!header.contains(&pin("primary")));
    env.run(&["publish"]).ok();

    // Too early: the pinset served until 2030-03-01 lacks backup3 and is
    // held for 30 days after.
    at(&mut env, "2030-03-10T00:00:00Z");
    let state = env.path().join("state");
    let before = snapshot(&state);
    let refused = env.run(&["rotate", "--promote", "backup3"]);
    refused.fails_with("safe from 2030-03-31T00:00:00Z");
    assert!(
        refused.stderr.contains("publication 5"),
        "{}",
        refused.stderr
    );
    assert_eq!(snapshot(&state), before);
    let s = json(env.run(&["status", "--format", "json"]));
    let b3 = s["sites"][0]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "backup3")
        .unwrap()
        .clone();
    assert_eq!(b3["safe_from"], "2030-03-31T00:00:00Z");
    let plan = json(env.run(&["plan", "--promote", "backup3", "--format", "json"]));
    assert_eq!(plan["steps"][0]["not_before"], "2030-03-31T00:00:00Z");
    assert_eq!(
        plan["steps"][0]["command"],
        "pinctl rotate --promote backup3"
    );
    let plan = json(env.run(&["plan", "--format", "json"]));
    assert_eq!(
        step_date(&plan, "rotate --promote backup3"),
        "2030-03-31T00:00:00Z"
    );
    assert_eq!(
        step_date(&plan, "retired key primary"),
        "2030-04-01T00:00:00Z"
    );
    // One second before, still refused; at the moment, accepted.
    at(&mut env, "2030-03-30T23:59:59Z");
    env.run(&["rotate", "--promote", "backup3"])
        .fails_with("2030-03-31T00:00:00Z");
    at(&mut env, "2030-03-31T00:00:00Z");
    env.run(&["rotate", "--promote", "backup3"]).ok();
    certify_key(&env, "example.com", "backup3");
    env.run(&["publish"]).ok();
    at(&mut env, "2030-04-01T00:00:00Z");
    env.run(&["publish"]).ok();

    // A compromise: backup3 leaked. backup2 (from init) is in every pinset.
    at(&mut env, "2030-04-10T00:00:00Z");
    let out = env.run(&["rotate", "--promote", "backup2", "--compromised"]);
    let text = out.ok();
    assert!(text.contains("backup3 is marked compromised"), "{text}");
    assert!(
        out.stderr.contains("until 2030-05-10T00:00:00Z"),
        "{}",
        out.stderr
    );
    let header = env.run(&["header"]).ok().to_string();
    assert!(!header.contains(&pin("backup3")));
    env.run(&["publish"]).ok();

    // Decommission: max-age=0 until the last retention window ends.
    at(&mut env, "2030-05-01T00:00:00Z");
    env.run(&["policy", "--max-age", "0"]).ok();
    env.run(&["publish"]).ok();
    let plan = json(env.run(&["plan", "--format", "json"]));
    assert_eq!(
        step_date(&plan, "Keep serving max-age=0"),
        "2030-05-31T00:00:00Z"
    );
    let events = std::fs::read_to_string(state.join("example.com/site.yaml")).unwrap();
    assert!(events.contains("event: compromised"));
}

/// Regression: after `rotate --force`, `publish` was refused until the old
/// pinsets expired, which kept the old key's pin served for no one's good.
#[test]
fn forced_promotion_names_who_is_locked_out_and_publish_records_the_next_header() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["policy", "--enforce", "--max-age", "86400"]).ok();
    env.run(&["publish"]).ok();
    env.run(&["rotate", "--promote", "backup1"]).ok();
    env.run(&["publish"]).ok();
    at(&mut env, "2030-01-01T12:00:00Z");
    // backup3 was made after the first publication, which is live until
    // now and held for a day after.
    let out = env.run(&["rotate", "--promote", "backup3", "--force"]);
    out.ok();
    let text = &out.stderr;
    assert!(
        text.contains("warning: forced: visitors who saw publication 1"),
        "{text}"
    );
    assert!(
        text.contains("locked out until 2030-01-02T00:00:00Z"),
        "{text}"
    );
    let header = env.run(&["header"]).ok().trim().to_string();
    let published = env.run(&["publish"]);
    let text = published.ok();
    assert!(text.contains(&header), "{text}");
    let text = &published.stderr;
    assert!(
        text.contains("accepted earlier with --force: visitors who saw publication 1 (from 2030-01-01T00:00:00Z) are locked out until 2030-01-02T00:00:00Z"),
        "{text}"
    );
}

#[test]
fn rotate_and_plan_refuse_what_is_not_a_backup() {
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    env.run(&["rotate", "--promote", "primary"])
        .fails_with("not a backup");
    env.run(&["rotate", "--promote", "backup9"])
        .fails_with("no key named backup9");
    env.run(&["plan", "--promote", "primary"])
        .fails_with("not a backup");
    // A wrong passphrase is caught before new backups are sealed with it.
    let state = env.path().join("state");
    let before = snapshot(&state);
    env.set("PINCTL_PASSPHRASE", "typo");
    env.run(&["rotate", "--promote", "backup1"])
        .fails_with("wrong passphrase");
    assert_eq!(snapshot(&state), before);
}

#[test]
fn ca_pins_and_certificates() {
    if !have("openssl", "ca_pins_and_certificates") {
        return;
    }
    let mut env = site_env();
    at(&mut env, "2030-01-01T00:00:00Z");
    env.run(&["init", "example.com"]).ok();
    let d = env.path();
    sh(d, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -subj /CN=Test-CA -days 3650 -out ca.pem 2>/dev/null");
    sh(d, "openssl x509 -req -in state/example.com/primary.csr.pem -CA ca.pem -CAkey ca.key -days 90 -set_serial 7 -out leaf.pem 2>/dev/null");
    sh(d, "cat leaf.pem ca.pem > chain.pem");
    sh(d, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout stranger.key -subj /CN=stranger -days 30 -out stranger.pem 2>/dev/null");
    env.run(&["cert", "add", "stranger.pem"])
        .fails_with("not one of example.com's keys");
    let out = env.run(&["cert", "add", "chain.pem"]);
    assert!(
        out.ok().contains("recorded primary.cert.pem for primary"),
        "{}",
        out.stdout
    );
    let s = json(env.run(&["status", "--format", "json"]));
    let ca_pin = sh(d, "openssl x509 -in ca.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64");
    assert_eq!(
        s["sites"][0]["certificates"][0]["chain_pins"][0],
        ca_pin.trim()
    );
    env.run(&["ca-pin", "add", "test-ca", "--from", "ca.pem"])
        .ok();
    env.run(&["ca-pin", "add", "again", "--pin", ca_pin.trim()])
        .fails_with("already in");
    env.run(&["ca-pin", "add", "bad", "--pin", "abc"])
        .fails_with("not valid base64");
    let list = json(env.run(&["ca-pin", "list", "--format", "json"]));
    assert_eq!(list[0]["name"], "test-ca");
    assert!(env.run(&["header"]).ok().contains(ca_pin.trim()));
    env.run(&["ca-pin", "remove", "test-ca"]).ok();
    env.run(&["ca-pin", "remove", "test-ca"])
        .fails_with("no ca-pin named");
    let plan = json(env.run(&["plan", "--format", "json"]));
    assert!(!plan["steps"][0]["action"]
        .as_str()
        .unwrap()
        .contains("Get a certificate"));
}
