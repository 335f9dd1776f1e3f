//! A fleet's `status` and `check`, whose sites are loaded, judged and
//! printed on every core (benches/fleet.sh), say byte for byte what the
//! same sites' own runs say, in the order of their names.

use crate::common::*;

/// The seed site and `n` copies of it under other names, as
/// benches/fleet.sh makes a fleet.
fn fleet(n: usize) -> (Env, Vec<String>) {
    let env = site_env();
    env.run(&["init", "seed.example"]).ok();
    env.run(&["channel", "add", "dns", "--ttl", "3600"]).ok();
    env.run(&["publish", "--channel", "dns"]).ok();
    certify_key(&env, "seed.example", "primary");
    env.run(&["publish"]).ok();
    let state = env.path().join("state");
    let seed = state.join("seed.example");
    let yaml = std::fs::read_to_string(seed.join("site.yaml")).unwrap();
    let mut names = vec!["seed.example".to_string()];
    for i in 1..=n {
        let d = format!("site{i}.example");
        let dir = state.join(&d);
        std::fs::create_dir(&dir).unwrap();
        for f in std::fs::read_dir(&seed).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.join(f.file_name())).unwrap();
        }
        let text = yaml.replace("\ndomain: seed.example\n", &format!("\ndomain: {d}\n"));
        std::fs::write(dir.join("site.yaml"), text).unwrap();
        names.push(d);
    }
    names.sort();
    (env, names)
}

fn stdout(env: &Env, args: &[&str]) -> String {
    let o = env.cmd(args).output().unwrap();
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn fleet_outputs_are_each_sites_own() {
    // More sites than `each_on_every_core` does on one core.
    let (env, names) = fleet(40);

    let whole = stdout(&env, &["status", "--format", "json"]);
    let each: Vec<serde_json::Value> = names
        .iter()
        .map(|d| {
            let v: serde_json::Value =
                serde_json::from_str(&stdout(&env, &["--site", d, "status", "--format", "json"]))
                    .unwrap();
            v["sites"][0].clone()
        })
        .collect();
    let expected = serde_json::to_string_pretty(&serde_json::json!({ "sites": each })).unwrap();
    assert_eq!(whole, expected + "\n");

    let whole = stdout(&env, &["status"]);
    let each: Vec<String> = names
        .iter()
        .map(|d| stdout(&env, &["--site", d, "status"]))
        .collect();
    assert_eq!(whole, each.join("\n"));

    let whole = stdout(&env, &["check", "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_str(&whole).unwrap();
    let mut findings = Vec::new();
    for d in &names {
        let v: serde_json::Value =
            serde_json::from_str(&stdout(&env, &["--site", d, "check", "--format", "json"]))
                .unwrap();
        findings.extend(v["findings"].as_array().unwrap().iter().cloned());
    }
    assert!(!findings.is_empty());
    let expected = serde_json::to_string_pretty(
        &serde_json::json!({ "status": parsed["status"], "findings": findings }),
    )
    .unwrap();
    assert_eq!(whole, expected + "\n");

    let whole = stdout(&env, &["check", "--verbose"]);
    let body: Vec<&str> = whole.lines().skip(1).collect();
    let mut each = Vec::new();
    for d in &names {
        let one = stdout(&env, &["--site", d, "check", "--verbose"]);
        each.extend(one.lines().skip(1).map(str::to_string));
    }
    assert_eq!(body, each);
    assert!(whole.starts_with(&format!("PINCTL {} - ", parsed["status"].as_str().unwrap())));
}
