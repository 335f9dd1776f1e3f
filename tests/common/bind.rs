//! A real BIND 9 for tests: `named` started unprivileged on a free
//! loopback port with one primary zone that a TSIG key may update, killed
//! when dropped. Self-contained (std and tempfile only) so that other test
//! binaries include it by path (`crates/pinctl-dns/tests/`).
//!
//! The zone has the apex SOA and NS, and A records for the apex and
//! `*.ZONE` pointing at 127.0.0.1 (so an ACME server resolving through
//! this BIND reaches loopback for HTTP-01).

#![allow(dead_code)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `named`.
pub struct Bind {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The zone, without the trailing dot (`example.test`).
    pub zone: String,
    /// The key `allow-update` accepts, as `tsig-keygen` wrote it (0600).
    pub key_file: PathBuf,
    pub key_name: String,
    child: Child,
}

/// Whether `named`, `tsig-keygen`, `dig` and `nsupdate` are all installed.
pub fn bind_installed() -> bool {
    ["named", "tsig-keygen", "dig", "nsupdate"].iter().all(|t| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
            .unwrap_or(false)
            || Path::new("/usr/sbin").join(t).is_file()
    })
}

fn tool(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.is_file() {
        sbin
    } else {
        PathBuf::from(name)
    }
}

/// Writes a fresh key made by `tsig-keygen -a ALG NAME` to `path`, mode 0600.
pub fn keygen(alg: &str, name: &str, path: &Path) {
    let o = Command::new(tool("tsig-keygen"))
        .args(["-a", alg, name])
        .output()
        .expect("tsig-keygen");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(path, &o.stdout).expect("write key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

/// A port free on 127.0.0.1 for both UDP and TCP right now (named binds
/// both; a race with another process is retried by `start`).
fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = u.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Bind {
    /// Starts `named` with the zone `zone` (e.g. `example.test`).
    pub fn start(zone: &str) -> Bind {
        Self::start_with(zone, "")
    }

    /// Starts `named` with extra zone-file lines after the defaults.
    pub fn start_with(zone: &str, extra: &str) -> Bind {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(zone, extra) {
                Ok(b) => return b,
                Err(e) => last = e,
            }
        }
        panic!("named did not start: {last}");
    }

    fn try_start(zone: &str, extra: &str) -> Result<Bind, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let port = free_port();
        let key_name = "pinctl-test".to_string();
        let key_file = d.join("update.key");
        keygen("hmac-sha256", &key_name, &key_file);
        let zone_file = d.join("zone.db");
        std::fs::write(
            &zone_file,
            format!(
                "$TTL 300\n\
                 @ IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n\
                 @ IN NS ns1.{zone}.\n\
                 @ IN A 127.0.0.1\n\
                 * IN A 127.0.0.1\n\
                 {extra}\n"
            ),
        )
        .expect("zone");
        let conf = d.join("named.conf");
        std::fs::write(
            &conf,
            format!(
                "options {{\n\
                   directory \"{dir}\";\n\
                   pid-file \"{dir}/named.pid\";\n\
                   session-keyfile \"{dir}/session.key\";\n\
                   managed-keys-directory \"{dir}\";\n\
                   listen-on port {port} {{ 127.0.0.1; }};\n\
                   listen-on-v6 {{ none; }};\n\
                   recursion no;\n\
                   dnssec-validation no;\n\
                   notify no;\n\
                 }};\n\
                 controls {{ }};\n\
                 include \"{key}\";\n\
                 zone \"{zone}\" {{\n\
                   type primary;\n\
                   file \"{zfile}\";\n\
                   allow-update {{ key \"{key_name}\"; }};\n\
                   allow-transfer {{ 127.0.0.1; }};\n\
                 }};\n",
                dir = d.display(),
                key = key_file.display(),
                zfile = zone_file.display(),
            ),
        )
        .expect("conf");
        let child = spawn(d, &conf)?;
        // From here Drop kills named on every early return.
        let mut bind = Bind {
            dir,
            port,
            zone: zone.to_string(),
            key_file,
            key_name,
            child,
        };
        bind.wait_up()?;
        Ok(bind)
    }

    /// Polls until named answers the zone's SOA (bounded).
    fn wait_up(&mut self) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("named exited ({status}):\n{}", self.log()));
            }
            let soa = self.dig_args(&[&format!("{}.", self.zone), "SOA", "+short"]);
            if soa.contains("hostmaster") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("named did not answer within 20s:\n{}", self.log()))
    }

    /// Starts a secondary for `primary`'s zone on its own loopback port.
    /// The primary sends no NOTIFY and the SOA refresh is an hour, so the
    /// secondary keeps the zone it transferred at start until
    /// [`restart`](Self::restart)ed: a secondary that missed a NOTIFY.
    pub fn start_secondary(primary: &Bind) -> Bind {
        let mut last = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let d = dir.path();
            let port = free_port();
            let conf = d.join("named.conf");
            std::fs::write(
                &conf,
                format!(
                    "options {{\n\
                       directory \"{dir}\";\n\
                       pid-file \"{dir}/named.pid\";\n\
                       session-keyfile \"{dir}/session.key\";\n\
                       managed-keys-directory \"{dir}\";\n\
                       listen-on port {port} {{ 127.0.0.1; }};\n\
                       listen-on-v6 {{ none; }};\n\
                       recursion no;\n\
                       dnssec-validation no;\n\
                       notify no;\n\
                     }};\n\
                     controls {{ }};\n\
                     zone \"{zone}\" {{\n\
                       type secondary;\n\
                       primaries {{ 127.0.0.1 port {pport}; }};\n\
                     }};\n",
                    dir = d.display(),
                    zone = primary.zone,
                    pport = primary.port,
                ),
            )
            .expect("conf");
            let child = match spawn(d, &conf) {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let mut b = Bind {
                dir,
                port,
                zone: primary.zone.clone(),
                key_file: primary.key_file.clone(),
                key_name: primary.key_name.clone(),
                child,
            };
            match b.wait_up() {
                Ok(()) => return b,
                Err(e) => last = e,
            }
        }
        panic!("the secondary named did not start: {last}");
    }

    /// Stops and starts named again on the same port and configuration:
    /// a secondary (which keeps no zone file) transfers the zone afresh.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let conf = self.dir.path().join("named.conf");
        let mut last = String::new();
        for _ in 0..20 {
            match spawn(self.dir.path(), &conf) {
                Ok(c) => {
                    self.child = c;
                    match self.wait_up() {
                        Ok(()) => return,
                        Err(e) => last = e,
                    }
                }
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("named did not restart: {last}");
    }

    /// `127.0.0.1:PORT`, as `--server` takes it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// named's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }

    fn dig_args(&self, args: &[&str]) -> String {
        let o = Command::new(tool("dig"))
            .arg("@127.0.0.1")
            .args([
                "-p",
                &self.port.to_string(),
                "+time=1",
                "+tries=1",
                "+norec",
            ])
            .args(args)
            .output()
            .expect("dig");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `dig +short` for `name` (absolute, no trailing dot needed) and
    /// `rtype`: one record's data per line, sorted.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .dig_args(&[&format!("{}.", name.trim_end_matches('.')), rtype, "+short"])
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
            .collect();
        v.sort();
        v
    }

    /// The TTL `dig` shows for the RRset, if it exists.
    pub fn dig_ttl(&self, name: &str, rtype: &str) -> Option<u32> {
        self.dig_args(&[
            &format!("{}.", name.trim_end_matches('.')),
            rtype,
            "+noall",
            "+answer",
        ])
        .lines()
        .find_map(|l| l.split_whitespace().nth(1)?.parse().ok())
    }

    /// Runs `nsupdate -k KEY` with `commands` (the `server` line and the
    /// final `send` are added); panics if nsupdate fails.
    pub fn nsupdate(&self, commands: &str) {
        use std::io::Write as _;
        let mut c = Command::new(tool("nsupdate"))
            .arg("-k")
            .arg(&self.key_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsupdate");
        let script = format!("server 127.0.0.1 {}\n{commands}\nsend\n", self.port);
        c.stdin
            .take()
            .expect("stdin is piped")
            .write_all(script.as_bytes())
            .expect("write");
        let o = c.wait_with_output().expect("nsupdate");
        assert!(
            o.status.success(),
            "nsupdate failed:\n{script}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Runs `named -g -c CONF` with its log in `dir/named.log` (appended).
fn spawn(d: &Path, conf: &Path) -> Result<Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.join("named.log"))
        .expect("log");
    Command::new(tool("named"))
        .arg("-g")
        .arg("-c")
        .arg(conf)
        .args(["-u", "root", "-n", "1"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run named: {e}"))
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A UDP socket bound on loopback that never replies: a DNS server that
/// does not answer. Keep it alive while the test runs.
pub fn silent_server() -> (UdpSocket, String) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = format!("127.0.0.1:{}", s.local_addr().expect("addr").port());
    (s, addr)
}
