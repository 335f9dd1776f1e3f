//! `pinctl reports serve|list|summary|unit`: the violation-report
//! collector, what it stored, and a hardened systemd unit to run it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{json, Ctx, Out};
use crate::error::{Error, Result};
use crate::reports::serve::{self, Options};
use crate::reports::store::{self as db, Location, Row};
use crate::reports::Class;
use crate::state::Site;
use crate::store::Store;

/// The variable that names the report store for `reports`, `check` and
/// `plan` when `--database` is not given (clap reads it).
pub const DATABASE_ENV: &str = "PINCTL_REPORTS_DATABASE";

/// Whether `s` is a libpq keyword/value connection string
/// (`host=db port=5432 …`): its first word is `keyword=`.
fn is_keyword_string(s: &str) -> bool {
    s.split_whitespace().next().is_some_and(|w| {
        w.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
    })
}

/// The database a command uses: `--database` (or `PINCTL_REPORTS_DATABASE`),
/// else `reports.sqlite` in the state folder. A `postgres://` URL or a
/// keyword string (`host=… dbname=…`) is PostgreSQL, never a file name.
pub fn database(ctx: &Ctx, given: Option<&str>) -> Result<Location> {
    match given {
        Some("") => Err(Error::Usage(format!(
            "--database (or {DATABASE_ENV}) is empty; give a SQLite file or a postgres:// URL"
        ))),
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Location::Postgres(u.to_string()))
        }
        Some(u) if is_keyword_string(u) => Ok(Location::Postgres(u.to_string())),
        Some(p) => Ok(Location::File(PathBuf::from(p))),
        None => Ok(Location::File(ctx.store.root.join(db::FILE))),
    }
}

/// `--since`: an RFC 3339 time, a date, or a duration back from now
/// (`90m`, `24h`, `7d`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    // By characters, not bytes: the unit may be any character a user
    // types (`7д` once split a Cyrillic letter in two and panicked).
    let mut chars = s.chars();
    let unit = chars.next_back();
    let n: i64 = chars.as_str().parse().map_err(|_| {
        format!("{s:?} is not a time (RFC 3339), a date (YYYY-MM-DD) or a duration (90m, 24h, 7d)")
    })?;
    let secs = match unit {
        Some('s') => n,
        Some('m') => n.saturating_mul(60),
        Some('h') => n.saturating_mul(3_600),
        Some('d') => n.saturating_mul(86_400),
        _ => return Err(format!("{s:?}: a duration ends in s, m, h or d")),
    };
    Ok(chrono::Duration::try_seconds(secs)
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC))
}

/// The state's sites, for the collector.
struct StateSites(Store);

impl serve::Sites for StateSites {
    fn fingerprint(&self) -> Vec<(String, SystemTime, u64)> {
        self.0
            .sites()
            .unwrap_or_default()
            .into_iter()
            .map(|d| {
                let m = std::fs::metadata(self.0.site_file(&d)).ok();
                let t = m
                    .as_ref()
                    .and_then(|m| m.modified().ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                (d, t, m.map_or(0, |m| m.len()))
            })
            .collect()
    }

    // site.yaml alone: the collector faces the internet and must not need
    // the archives, CSRs or certificates (docs/design.md#limits).
    fn load(&self) -> Result<Vec<Site>> {
        self.0.site_files_only()
    }
}

/// The options of `reports serve`.
pub struct ServeOptions {
    pub listen: std::net::SocketAddr,
    pub database: Option<String>,
    pub header_timeout: u64,
    pub body_timeout: u64,
    pub max_connections: usize,
    pub rate: f64,
    pub burst: f64,
    pub trusted_proxies: Vec<crate::reports::client::Cidr>,
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// `pinctl reports serve`.
pub fn serve(ctx: &Ctx, o: &ServeOptions) -> Result<i32> {
    let database = database(ctx, o.database.as_deref())?;
    serve::serve(
        Options {
            listen: o.listen,
            database,
            header_timeout: Duration::from_secs(o.header_timeout.max(1)),
            body_timeout: Duration::from_secs(o.body_timeout.max(1)),
            max_connections: o.max_connections,
            rate: o.rate,
            burst: o.burst.max(1.0),
            trusted_proxies: o.trusted_proxies.clone(),
            now: std::env::var_os("PINCTL_NOW").map(|_| ctx.now),
            tls: o
                .tls
                .as_ref()
                .map(|(c, k)| serve::tls_config(c, k))
                .transpose()?,
        },
        StateSites(Store::new(ctx.store.root.clone())),
    )?;
    Ok(0)
}

/// The stored reports of `site` (all when None) last seen since `since`.
/// A store named by `--database` (or the variable) must exist; the state
/// folder's default file missing means no reports yet. Neither is
/// created by a read.
pub fn rows(
    ctx: &Ctx,
    given: Option<&str>,
    since: Option<DateTime<Utc>>,
    site: Option<&str>,
) -> Result<Vec<Row>> {
    let at = database(ctx, given)?;
    if given.is_none() && matches!(&at, Location::File(p) if !p.exists()) {
        return Ok(Vec::new());
    }
    db::Store::open_reader(&at)?.list(since, site)
}

/// As [`rows`], as the findings `check` and `plan` judge.
pub fn findings(
    ctx: &Ctx,
    given: Option<&str>,
    site: Option<&str>,
) -> Result<Vec<crate::report::ReportFinding>> {
    Ok(rows(ctx, given, None, site)?
        .iter()
        .map(Into::into)
        .collect())
}

/// `pinctl reports prune --older-than DURATION`: deletes the reports last
/// seen before then (docs/design.md#storage).
pub fn prune(ctx: &Ctx, older_than: &str, given: Option<&str>, out: &mut Out) -> Result<i32> {
    let before = parse_since(older_than, ctx.now).map_err(Error::Usage)?;
    let at = database(ctx, given)?;
    if given.is_none() && matches!(&at, Location::File(p) if !p.exists()) {
        out.line("No reports.");
        return Ok(0);
    }
    let n = db::Store::open_reader(&at)?.prune(before)?;
    out.line(format!(
        "Pruned {n} report row(s) last seen before {}.",
        crate::text::rfc3339(before)
    ));
    Ok(0)
}

/// The rows `list` and `summary` show: of `--site` when given, last seen
/// since `--since`, from `--database` or the state folder's file.
fn selected(ctx: &Ctx, since: Option<&str>, database_arg: Option<&str>) -> Result<Vec<Row>> {
    let since = since
        .map(|s| parse_since(s, ctx.now).map_err(Error::Usage))
        .transpose()?;
    rows(ctx, database_arg, since, ctx.site.as_deref())
}

/// `pinctl reports list`.
pub fn list(
    ctx: &Ctx,
    since: Option<&str>,
    database_arg: Option<&str>,
    out: &mut Out,
) -> Result<i32> {
    let as_json = ctx.json;
    let rows = selected(ctx, since, database_arg)?;
    if as_json {
        out.line(json(&serde_json::json!({ "reports": rows }))?);
        return Ok(0);
    }
    if rows.is_empty() {
        out.line("No reports.");
    }
    for r in &rows {
        out.line(format!(
            "{} x{}  {}  {}:{}  {} {}  first {}  last {}",
            r.class.as_str(),
            r.count,
            r.site.as_deref().unwrap_or("-"),
            r.hostname,
            r.port,
            r.source,
            r.app.as_deref().unwrap_or(""),
            r.first_seen,
            r.last_seen
        ));
        for (p, s) in r.served_pins.iter().zip(
            r.served_subjects
                .iter()
                .chain(std::iter::repeat(&String::new())),
        ) {
            out.line(format!("    served {p}  {s}"));
        }
        if !r.known_pins.is_empty() {
            out.line(format!("    noted  {}", r.known_pins.join(" ")));
        }
    }
    Ok(0)
}

#[derive(Debug, Serialize)]
struct SummaryLine {
    site: Option<String>,
    class: Class,
    reports: u64,
    distinct: u64,
    last_seen: String,
}

/// `pinctl reports summary`.
pub fn summary(
    ctx: &Ctx,
    since: Option<&str>,
    database_arg: Option<&str>,
    out: &mut Out,
) -> Result<i32> {
    let as_json = ctx.json;
    let mut lines: Vec<SummaryLine> = Vec::new();
    for r in selected(ctx, since, database_arg)? {
        match lines
            .iter_mut()
            .find(|l| l.site == r.site && l.class == r.class)
        {
            Some(l) => {
                l.reports += r.count;
                l.distinct += 1;
                if r.last_seen > l.last_seen {
                    l.last_seen = r.last_seen.clone();
                }
            }
            None => lines.push(SummaryLine {
                site: r.site.clone(),
                class: r.class,
                reports: r.count,
                distinct: 1,
                last_seen: r.last_seen.clone(),
            }),
        }
    }
    lines.sort_by(|a, b| (&a.site, a.class).cmp(&(&b.site, b.class)));
    if as_json {
        out.line(json(&serde_json::json!({ "summary": lines }))?);
        return Ok(0);
    }
    if lines.is_empty() {
        out.line("No reports.");
    }
    for l in &lines {
        out.line(format!(
            "{}  {}  {} report(s), {} distinct, last {}",
            l.site.as_deref().unwrap_or("-"),
            l.class.as_str(),
            l.reports,
            l.distinct,
            l.last_seen
        ));
    }
    Ok(0)
}

/// Where `reports unit` keeps the store: its StateDirectory.
pub const UNIT_DATABASE: &str = "/var/lib/pinctl-reports/reports.sqlite";

/// An `Environment=` line for a unit, the assignment in double quotes so
/// that a keyword string's spaces do not split it into several
/// assignments (systemd.syntax(7)); `\\` and `"` escaped, though
/// [`schedulable_database`] refuses both (and `%`, the specifier sign).
pub fn systemd_environment(name: &str, value: &str) -> String {
    let mut q = String::with_capacity(value.len() + name.len() + 16);
    for c in format!("{name}={value}").chars() {
        if c == '\\' || c == '"' {
            q.push('\\');
        }
        q.push(c);
    }
    format!("Environment=\"{q}\"")
}

/// The store a generated unit or cron line may name: refused when it
/// holds a password (a unit file and a crontab are readable; the password
/// belongs in PGPASSFILE) or a character that would end the line.
pub fn schedulable_database(given: &str) -> Result<String> {
    if given
        .chars()
        .any(|c| c.is_control() || c == '%' || c == '"' || c == '\\')
    {
        return Err(Error::Usage(
            "the report store's name holds a control character, %, a quote or a backslash; a unit or a cron line cannot carry it".into(),
        ));
    }
    let probe = Location::Postgres(given.to_string());
    let looks_pg = given.starts_with("postgres://")
        || given.starts_with("postgresql://")
        || is_keyword_string(given);
    if looks_pg && db::has_password(given) {
        return Err(Error::input(
            probe.label(),
            "the connection string holds a password; put it in a PGPASSFILE (0600) instead, so that no unit or crontab shows it",
        ));
    }
    Ok(given.to_string())
}

/// The `PINCTL_REPORTS_DATABASE` line `pinctl schedule` writes for
/// `check`: the variable as set when it runs, so that the daily check
/// reads what the collector stores.
pub fn schedule_database() -> Result<Option<String>> {
    match std::env::var(DATABASE_ENV) {
        Ok(v) if !v.is_empty() => schedulable_database(&v).map(Some),
        _ => Ok(None),
    }
}

/// `pinctl reports unit`: a hardened systemd service for the collector,
/// as an unprivileged user that can only list the state and read its
/// `site.yaml` files, writing only its own StateDirectory.
pub fn unit(
    ctx: &Ctx,
    listen: &str,
    user: &str,
    database: Option<&str>,
    out: &mut Out,
) -> Result<i32> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::Internal(format!("cannot find pinctl's path: {e}")))?;
    let state = std::fs::canonicalize(&ctx.store.root).unwrap_or_else(|_| ctx.store.root.clone());
    let quote = |p: &Path| -> Result<String> {
        let s = p.display().to_string();
        if s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '%' || c.is_control())
        {
            return Err(Error::Usage(format!(
                "{s}: a path with spaces, quotes, backslashes or % cannot be written into the unit"
            )));
        }
        Ok(s)
    };
    let (exe, state) = (quote(&exe)?, quote(&state)?);
    if listen.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Usage("--listen holds white space".into()));
    }
    if user.is_empty()
        || !user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::Usage(format!(
            "--user {user:?}: a user name is letters, digits, - and _"
        )));
    }
    let db = schedulable_database(database.unwrap_or(UNIT_DATABASE))?;
    let env_line = systemd_environment(DATABASE_ENV, &db);
    out.buf.push_str(&format!(
        "# pinctl-reports.service: the violation-report collector. Install as\n\
# /etc/systemd/system/pinctl-reports.service.\n\
#\n\
# It runs as the system user {user}, which may list the state folder and\n\
# read the site.yaml files, and nothing else of it (never the key archives,\n\
# which stay 0600). Grant that once, and again for each new site:\n\
#   useradd --system --no-create-home --shell /usr/sbin/nologin {user}\n\
#   chgrp {user} {state} {state}/*/ && chmod g+rx {state} && chmod g+x {state}/*/\n\
# (site.yaml files are 0644; pinctl keeps a group grant on the state folder).\n\
# Reports go to {db} (PINCTL_REPORTS_DATABASE; give\n\
# `pinctl schedule` the same variable so that the daily check reads them).\n\
# Then: systemctl daemon-reload && systemctl enable --now pinctl-reports\n\
# Put it behind a reverse proxy that terminates TLS (proxy_pass http://{listen}/,\n\
# with X-Forwarded-For: the collector trusts it from loopback only).\n\
[Unit]\n\
Description=pinctl violation-report collector\n\
After=network-online.target\n\
Wants=network-online.target\n\
\n\
[Service]\n\
User={user}\n\
Group={user}\n\
StateDirectory=pinctl-reports\n\
StateDirectoryMode=0700\n\
{env_line}\n\
# Old reports go at each start (the first start has no store yet).\n\
ExecStartPre=-{exe} --state {state} reports prune --older-than 90d\n\
ExecStart={exe} --state {state} reports serve --listen {listen} --trusted-proxy 127.0.0.1 --trusted-proxy ::1\n\
ReadOnlyPaths={state}\n\
ProtectSystem=strict\n\
ProtectHome=read-only\n\
PrivateTmp=yes\n\
PrivateDevices=yes\n\
NoNewPrivileges=yes\n\
ProtectKernelTunables=yes\n\
ProtectKernelModules=yes\n\
ProtectKernelLogs=yes\n\
ProtectControlGroups=yes\n\
ProtectClock=yes\n\
ProtectHostname=yes\n\
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n\
RestrictNamespaces=yes\n\
RestrictRealtime=yes\n\
RestrictSUIDSGID=yes\n\
LockPersonality=yes\n\
MemoryDenyWriteExecute=yes\n\
SystemCallArchitectures=native\n\
SystemCallFilter=@system-service\n\
CapabilityBoundingSet=\n\
UMask=0077\n\
Restart=on-failure\n\
RestartSec=2\n\
\n\
[Install]\n\
WantedBy=multi-user.target\n"
    ));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-03-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// `7д` split a Cyrillic letter in two and panicked.
    #[test]
    fn since_with_a_multibyte_unit_is_an_error_not_a_panic() {
        let e = parse_since("7д", now()).unwrap_err();
        assert!(e.contains("7д"), "{e}");
        assert!(parse_since("д", now()).is_err());
        assert!(parse_since("", now()).is_err());
    }

    proptest! {
        /// Any text at all: an answer or an error, never a panic.
        #[test]
        fn since_never_panics(s in "\\PC{0,12}", d in "[-+]?[0-9]{0,25}[smhdд]?") {
            let _ = parse_since(&s, now());
            let _ = parse_since(&d, now());
        }

        /// A duration written as pinctl documents it reads back as that
        /// many seconds before now.
        #[test]
        fn since_durations_round_trip(n in 0i64..1_000_000, unit in prop::sample::select(vec![('s', 1i64), ('m', 60), ('h', 3_600), ('d', 86_400)])) {
            let t = parse_since(&format!("{n}{}", unit.0), now()).unwrap();
            prop_assert_eq!(now() - t, chrono::Duration::seconds(n * unit.1));
        }

        /// A time printed as pinctl prints times, and a date, read back.
        #[test]
        fn since_dates_and_times_round_trip(secs in -62_135_596_800i64..253_402_300_799) {
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            prop_assert_eq!(parse_since(&crate::text::rfc3339(t), now()).unwrap(), t);
            let day = t.date_naive();
            let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
            prop_assert_eq!(parse_since(&day.format("%Y-%m-%d").to_string(), now()).unwrap(), midnight);
        }
    }
}
