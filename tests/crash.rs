//! Crash safety and concurrency: pinctl aborted before each of its file
//! writes (PINCTL_FAILPOINT=write:K) or killed with SIGKILL at random
//! moments leaves a state that loads, whose every archive decrypts to its
//! recorded pin, with no key lost; and the command then completes. Two
//! mutating commands never mix.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// A site encrypted to an X25519 identity (no scrypt: fast trials).
fn team_env() -> (Env, String) {
    let env = Env::new().var("PINCTL_NOW", "2030-01-01T00:00:00Z");
    let id = age::x25519::Identity::generate();
    {
        use age::secrecy::ExposeSecret as _;
        std::fs::write(env.path().join("id.txt"), id.to_string().expose_secret()).unwrap();
    }
    (env, id.to_public().to_string())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The keys of the site in `state` (name, pin), after checking that the
/// state loads and that every archive decrypts to its recorded pin.
fn sound(env: &Env, state: &str) -> Vec<(String, String)> {
    let r = env.run(&["--state", state, "status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    let mut keys = Vec::new();
    for site in v["sites"].as_array().unwrap() {
        for k in site["keys"].as_array().unwrap() {
            let name = k["name"].as_str().unwrap();
            let out = env.path().join("export.pem");
            env.run(&[
                "--state",
                state,
                "key",
                "export",
                name,
                "--out",
                out.to_str().unwrap(),
                "--force",
                "--identity",
                "id.txt",
            ])
            .ok();
            keys.push((name.to_string(), k["pin"].as_str().unwrap().to_string()));
        }
    }
    let _ = std::fs::remove_file(env.path().join("export.pem"));
    keys
}

fn aborted(o: &std::process::Output) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    o.status.signal().is_some()
}

/// Runs `args` with the failpoint at every write K until it completes;
/// after each abort, checks the state, then that a rerun completes.
fn every_failpoint(env: &Env, base: &Path, args: &[&str], label: &str) -> usize {
    every_failpoint_with(env, base, args, label, None)
}

/// As [`every_failpoint`], emptying `fresh` (a target folder) before each run.
fn every_failpoint_with(
    env: &Env,
    base: &Path,
    args: &[&str],
    label: &str,
    fresh: Option<&Path>,
) -> usize {
    let mut k = 1;
    loop {
        if let Some(f) = fresh {
            let _ = std::fs::remove_dir_all(f);
            std::fs::create_dir_all(f).unwrap();
        }
        let dir = env.path().join(format!("{label}-{k}"));
        if base.exists() {
            copy_dir(base, &dir);
        }
        let state = dir.to_str().unwrap().to_string();
        let before = if base.exists() {
            sound(env, &state)
        } else {
            Vec::new()
        };
        let mut full = vec!["--state", state.as_str()];
        full.extend_from_slice(args);
        let o = env
            .cmd(&full)
            .env("PINCTL_FAILPOINT", format!("write:{k}"))
            .output()
            .unwrap();
        if !aborted(&o) {
            assert!(
                o.status.success(),
                "{label} k={k}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return k - 1;
        }
        if dir.join("example.com/site.yaml").exists() {
            let after = sound(env, &state);
            for key in &before {
                assert!(after.contains(key), "{label} k={k}: key {key:?} lost");
            }
        }
        let rerun = env.run(&full);
        assert_eq!(rerun.code, 0, "{label} k={k} rerun: {}", rerun.stderr);
        sound(env, &state);
        k += 1;
        assert!(k < 50, "{label}: no end to the writes");
    }
}

#[test]
fn failpoints_in_every_write() {
    let (env, rec) = team_env();
    let init = ["init", "example.com", "--recipient", rec.as_str()];
    let n = every_failpoint(&env, &env.path().join("none"), &init, "init");
    assert!(n >= 7, "init made {n} writes");
    // A published site to rotate, publish and copy from.
    let base = env.path().join("base");
    env.run(&[
        "--state",
        base.to_str().unwrap(),
        "init",
        "example.com",
        "--recipient",
        &rec,
    ])
    .ok();
    env.run(&["--state", base.to_str().unwrap(), "policy", "--enforce"])
        .ok();
    env.run(&["--state", base.to_str().unwrap(), "publish"])
        .ok();
    assert!(every_failpoint(&env, &base, &["rotate", "--promote", "backup1"], "rotate") >= 3);
    env.run(&[
        "--state",
        base.to_str().unwrap(),
        "policy",
        "--max-age",
        "600",
    ])
    .ok();
    assert!(every_failpoint(&env, &base, &["publish"], "publish") >= 1);
    let usb = env.path().join("usb");
    let n = every_failpoint_with(
        &env,
        &base,
        &[
            "archive",
            "copy",
            "backup1",
            "--to",
            "usb",
            "--location",
            "usb",
        ],
        "copy",
        Some(&usb),
    );
    assert!(n >= 3, "archive copy made {n} writes");
}

#[test]
fn sigkill_at_random_moments() {
    let (env, rec) = team_env();
    let base = env.path().join("base");
    env.run(&[
        "--state",
        base.to_str().unwrap(),
        "init",
        "example.com",
        "--recipient",
        &rec,
    ])
    .ok();
    env.run(&["--state", base.to_str().unwrap(), "publish"])
        .ok();
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // The kills are spread over the time an uninterrupted run takes on
    // this machine, not over a fixed span: on a fast machine a fixed span
    // outlasts the command and no kill lands, on a slow one every kill
    // lands before anything is written.
    let span = |args: &[&str], dir: &Path| {
        let t = std::time::Instant::now();
        env.run(args).ok();
        let _ = std::fs::remove_dir_all(dir);
        u64::try_from(t.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1)
    };
    let init_span = {
        let dir = env.path().join("timing-init");
        let s = dir.to_str().unwrap().to_string();
        span(
            &["--state", &s, "init", "example.com", "--recipient", &rec],
            &dir,
        )
    };
    let rotate_span = {
        let dir = env.path().join("timing-rotate");
        copy_dir(&base, &dir);
        let s = dir.to_str().unwrap().to_string();
        span(&["--state", &s, "rotate", "--promote", "backup1"], &dir)
    };
    let mut killed = 0;
    for trial in 0..100 {
        let rotate = trial % 2 == 1;
        let dir = env.path().join(format!("trial-{trial}"));
        if rotate {
            copy_dir(&base, &dir);
        }
        let state = dir.to_str().unwrap().to_string();
        let before = if rotate {
            sound(&env, &state)
        } else {
            Vec::new()
        };
        let args: Vec<&str> = if rotate {
            vec!["--state", &state, "rotate", "--promote", "backup1"]
        } else {
            vec![
                "--state",
                &state,
                "init",
                "example.com",
                "--recipient",
                &rec,
            ]
        };
        let mut child = env
            .cmd(&args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let span = if rotate { rotate_span } else { init_span };
        std::thread::sleep(std::time::Duration::from_micros(next() % span));
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        if !status.success() {
            killed += 1;
        }
        if dir.join("example.com/site.yaml").exists() {
            let after = sound(&env, &state);
            for key in &before {
                assert!(after.contains(key), "trial {trial}: key {key:?} lost");
            }
        }
        // The interrupted command completes when run again (or was done).
        let again = env.run(&args);
        assert!(
            again.code == 0
                || again.stderr.contains("already exists")
                || again.stderr.contains("not a backup"),
            "trial {trial}: {}",
            again.stderr
        );
        sound(&env, &state);
    }
    assert!(killed > 10, "only {killed} of 100 trials were interrupted");
}

/// Waits until the lock file names `pid` (the holder has the lock).
fn wait_for_lock(env: &Env, pid: u32) {
    let start = std::time::Instant::now();
    while std::fs::read_to_string(env.path().join("state/.lock"))
        .unwrap_or_default()
        .trim()
        != pid.to_string()
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "pid {pid} never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn two_mutating_commands_never_mix() {
    let (env, rec) = team_env();
    env.run(&["init", "example.com", "--recipient", &rec]).ok();
    let mut holder = env
        .cmd(&["policy", "--max-age", "600"])
        .env("PINCTL_FAILPOINT", "hold-lock:60000")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_lock(&env, holder.id());
    // A second writer waits a bounded time, then says who holds the lock.
    let r = env
        .cmd(&["policy", "--max-age", "900"])
        .env("PINCTL_LOCK_WAIT_MS", "200")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        err.starts_with("error: ")
            && err.contains(&format!("state is locked by pid {}", holder.id())),
        "{err}"
    );
    // Readers do not wait and see a whole file: status answers while the
    // holder still holds the lock (it holds it for a minute, then is
    // stopped), with no clock in the judgement.
    let s = env.run(&["status", "--format", "json"]);
    s.ok();
    assert!(
        holder.try_wait().unwrap().is_none(),
        "status waited for the lock"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    // A writer that waits long enough goes after the holder, not with it.
    let mut holder = env
        .cmd(&["policy", "--max-age", "700"])
        .env("PINCTL_FAILPOINT", "hold-lock:500")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_lock(&env, holder.id());
    env.run(&["policy", "--max-age", "800"]).ok();
    assert!(holder.wait().unwrap().success());
    let v = status_json(&env);
    assert_eq!(v["sites"][0]["policy"]["max_age"], 800);
}
