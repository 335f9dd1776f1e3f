//! Real TLS servers on 127.0.0.1 for tests: writes a minimal configuration
//! around a snippet, runs the server's own configuration check, starts it
//! in the foreground with its pid and logs in a temporary folder, and stops
//! it (its whole process group) when dropped. Used by the snippet tests and
//! by `verify`.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Apache,
    Lighttpd,
    Caddy,
    Haproxy,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Apache => "apache",
            Kind::Lighttpd => "lighttpd",
            Kind::Caddy => "caddy",
            Kind::Haproxy => "haproxy",
        }
    }

    pub fn binary(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Apache => "apache2",
            Kind::Lighttpd => "lighttpd",
            Kind::Caddy => "caddy",
            Kind::Haproxy => "haproxy",
        }
    }
}

/// Finds a server binary on PATH or in /usr/sbin.
pub fn find(bin: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/sbin".into());
    dirs.into_iter().map(|d| d.join(bin)).find(|p| p.is_file())
}

/// Whether the server can run here; when not, the test is skipped
/// through `common::skip`.
pub fn available(kind: Kind, test: &str) -> bool {
    let ok = find(kind.binary()).is_some()
        && (kind != Kind::Lighttpd || Path::new("/usr/lib/lighttpd/mod_openssl.so").exists());
    if !ok {
        crate::common::skip(test, kind.name());
    }
    ok
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running server; stopped when dropped.
pub struct Running {
    pub kind: Kind,
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
        let _ = self.child.wait();
    }
}

/// What a server is given: a host name, certificate and key files, and the
/// snippet to include.
pub struct Site<'a> {
    pub host: &'a str,
    pub cert: &'a Path,
    pub key: &'a Path,
    pub snippet: &'a str,
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn config(kind: Kind, dir: &Path, port: u16, s: &Site<'_>) -> PathBuf {
    let d = dir.display();
    let (cert, key) = (s.cert.display(), s.key.display());
    let htdocs = dir.join("htdocs");
    std::fs::create_dir_all(&htdocs).unwrap();
    write(&htdocs.join("index.html"), "ok\n");
    match kind {
        Kind::Nginx => {
            let p = dir.join("nginx.conf");
            write(&p, &format!(
                "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;\n  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name {host};\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n{snippet}\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
                host = s.host, snippet = s.snippet));
            p
        }
        Kind::Apache => {
            let p = dir.join("apache.conf");
            let m = "/usr/lib/apache2/modules";
            write(&p, &format!(
                "ServerRoot {d}\nDefaultRuntimeDir {d}\nPidFile {d}/apache.pid\nErrorLog {d}/error.log\nLogLevel warn\nServerName {host}\nLoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\nLoadModule ssl_module {m}/mod_ssl.so\nLoadModule headers_module {m}/mod_headers.so\nLoadModule dir_module {m}/mod_dir.so\nLoadModule mime_module {m}/mod_mime.so\nTypesConfig /dev/null\nUser root-not-used\nListen 127.0.0.1:{port}\nDocumentRoot {d}/htdocs\n<Directory {d}/htdocs>\n  Require all granted\n</Directory>\n<VirtualHost 127.0.0.1:{port}>\n  ServerName {host}\n  SSLEngine on\n  SSLCertificateFile {cert}\n  SSLCertificateKeyFile {key}\n{snippet}\n</VirtualHost>\n",
                host = s.host, snippet = s.snippet).replace("User root-not-used\n", &apache_user()));
            p
        }
        Kind::Lighttpd => {
            let p = dir.join("lighttpd.conf");
            write(&p, &format!(
                "server.document-root = \"{d}/htdocs\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\nserver.errorlog = \"{d}/error.log\"\nserver.modules += ( \"mod_openssl\" )\nssl.engine = \"enable\"\nssl.pemfile = \"{cert}\"\nssl.privkey = \"{key}\"\n{snippet}\n",
                snippet = s.snippet));
            p
        }
        Kind::Caddy => {
            let p = dir.join("Caddyfile");
            write(&p, &format!(
                "{{\n  admin off\n  auto_https disable_redirects\n  storage file_system {d}/caddy\n  skip_install_trust\n}}\nhttps://{host}:{port} {{\n  bind 127.0.0.1\n  tls {cert} {key}\n{snippet}\n  respond \"ok\"\n}}\n",
                host = s.host, snippet = s.snippet));
            p
        }
        Kind::Haproxy => {
            let pem = dir.join("combined.pem");
            let combined =
                std::fs::read_to_string(s.cert).unwrap() + &std::fs::read_to_string(s.key).unwrap();
            write(&pem, &combined);
            let p = dir.join("haproxy.cfg");
            write(&p, &format!(
                "global\n  pidfile {d}/haproxy.pid\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:{port} ssl crt {pem}\n{snippet}\n  default_backend app\nbackend app\n  server app 127.0.0.1:{app}\nfrontend app\n  bind 127.0.0.1:{app}\n  http-request return status 200 content-type text/plain string ok\n",
                pem = pem.display(), snippet = s.snippet, app = free_port()));
            p
        }
    }
}

fn apache_user() -> String {
    // As root, httpd switches to User/Group for its workers.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if root {
        "User www-data\nGroup www-data\n".to_string()
    } else {
        String::new()
    }
}

fn check_and_run(kind: Kind, conf: &Path, dir: &Path) -> (Command, Command) {
    let bin = find(kind.binary()).expect("server binary");
    let c = conf.to_str().unwrap();
    let d = dir.to_str().unwrap();
    let mut check = Command::new(&bin);
    let mut run = Command::new(&bin);
    match kind {
        Kind::Nginx => {
            check.args(["-t", "-p", d, "-c", c]);
            run.args(["-p", d, "-c", c, "-g", "daemon off;"]);
        }
        Kind::Apache => {
            check.args(["-t", "-f", c]);
            run.args(["-f", c, "-DFOREGROUND"]);
        }
        Kind::Lighttpd => {
            check.args(["-tt", "-f", c]);
            run.args(["-D", "-f", c]);
        }
        Kind::Caddy => {
            check.args(["validate", "--adapter", "caddyfile", "--config", c]);
            run.args(["run", "--adapter", "caddyfile", "--config", c]);
        }
        Kind::Haproxy => {
            check.args(["-c", "-f", c]);
            run.args(["-db", "-f", c]);
        }
    }
    for cmd in [&mut check, &mut run] {
        cmd.env("HOME", d)
            .env("XDG_DATA_HOME", d)
            .env("XDG_CONFIG_HOME", d);
    }
    (check, run)
}

/// Runs the server's configuration check; Err holds its output. lighttpd
/// reports a header it will drop only as a WARNING with exit 0, so a
/// warning fails it too.
fn run_check(kind: Kind, mut check: Command) -> Result<(), String> {
    let o = check.output().map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let warned =
        kind == Kind::Lighttpd && (text.contains("WARNING") || text.contains("DEPRECATED"));
    if !o.status.success() || warned {
        return Err(format!(
            "{} configuration check failed:\n{text}",
            kind.name()
        ));
    }
    Ok(())
}

/// Checks the configuration and starts the server; waits until it accepts
/// connections. The server binds its port itself, so a port picked free
/// may be taken in between by another test: then it starts again on a
/// fresh port, a bounded number of times.
pub fn start(kind: Kind, dir: &Path, s: &Site<'_>) -> Result<Running, String> {
    let mut attempt = 1;
    loop {
        match start_once(kind, dir, s) {
            Err(e) if address_in_use(&e) && attempt < 5 => attempt += 1,
            r => return r,
        }
    }
}

/// Whether a server's failure to start says its port was taken.
pub fn address_in_use(log: &str) -> bool {
    let l = log.to_lowercase();
    l.contains("address already in use") || l.contains("cannot bind socket")
}

fn start_once(kind: Kind, dir: &Path, s: &Site<'_>) -> Result<Running, String> {
    use std::os::unix::fs::PermissionsExt as _;
    // Workers that drop root must reach the document root.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).ok();
    let port = free_port();
    let conf = config(kind, dir, port, s);
    let (check, mut run) = check_and_run(kind, &conf, dir);
    run_check(kind, check)?;
    let log = std::fs::File::create(dir.join("server.out")).unwrap();
    let child = run
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", kind.name()))?;
    let mut running = Running {
        kind,
        port,
        dir: dir.to_path_buf(),
        child,
    };
    let start = Instant::now();
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(running);
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            let out = std::fs::read_to_string(dir.join("server.out")).unwrap_or_default();
            let err = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            return Err(format!("{} exited ({status}):\n{out}\n{err}", kind.name()));
        }
        if start.elapsed() > Duration::from_secs(15) {
            return Err(format!("{} did not listen within 15 s", kind.name()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fetches `/` over HTTPS/1.1 with curl; returns the response header lines.
pub fn fetch_headers(host: &str, port: u16) -> Vec<(String, String)> {
    let o = Command::new("curl")
        .args([
            "-sk",
            "--http1.1",
            "--max-time",
            "10",
            "-D",
            "-",
            "-o",
            "/dev/null",
        ])
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg(format!("https://{host}:{port}/"))
        .output()
        .expect("curl");
    assert!(
        o.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| {
            (
                n.to_string(),
                v.trim_start().trim_end_matches('\r').to_string(),
            )
        })
        .collect()
}

/// The certificate chain the server presents, as PEM, via openssl s_client.
pub fn served_chain(host: &str, port: u16, out: &Path) {
    let o = Command::new("openssl")
        .args(["s_client", "-showcerts", "-servername", host, "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    std::fs::write(out, &o.stdout).unwrap();
}
