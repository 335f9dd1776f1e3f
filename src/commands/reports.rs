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

/// The database a command uses: `--database`, else `reports.sqlite` in
/// the state folder.
pub fn database(ctx: &Ctx, given: Option<&str>) -> Result<Location> {
    match given {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Location::Postgres(u.to_string()))
        }
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

    fn load(&self) -> Result<Vec<Site>> {
        let d = self.0.sites()?;
        self.0.load_many(&d)
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

/// The store, when there is one (a missing default file means no reports
/// yet, and is not created by a read).
fn open_existing(at: &Location) -> Result<Option<db::Store>> {
    if let Location::File(p) = at {
        if !p.is_file() {
            return Ok(None);
        }
    }
    db::Store::open_at(at).map(Some)
}

/// The stored reports of `site` (all when None) last seen since `since`.
pub fn rows(at: &Location, since: Option<DateTime<Utc>>, site: Option<&str>) -> Result<Vec<Row>> {
    match open_existing(at)? {
        None => Ok(Vec::new()),
        Some(mut s) => s.list(since, site),
    }
}

/// As [`rows`], as the findings `check` and `plan` judge.
pub fn findings(
    at: &Location,
    since: Option<DateTime<Utc>>,
    site: Option<&str>,
) -> Result<Vec<crate::report::ReportFinding>> {
    Ok(rows(at, since, site)?.iter().map(Into::into).collect())
}

/// The rows `list` and `summary` show: of `--site` when given, last seen
/// since `--since`, from `--database` or the state folder's file.
fn selected(ctx: &Ctx, since: Option<&str>, database_arg: Option<&str>) -> Result<Vec<Row>> {
    let since = since
        .map(|s| parse_since(s, ctx.now).map_err(Error::Usage))
        .transpose()?;
    rows(&database(ctx, database_arg)?, since, ctx.site.as_deref())
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

/// `pinctl reports unit`: a hardened systemd service for the collector.
pub fn unit(ctx: &Ctx, listen: &str, out: &mut Out) -> Result<i32> {
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
    out.buf.push_str(&format!(
        "# pinctl-reports.service: the violation-report collector. Install as\n\
# /etc/systemd/system/pinctl-reports.service, then:\n\
#   systemctl daemon-reload && systemctl enable --now pinctl-reports\n\
# Put it behind a reverse proxy that terminates TLS (proxy_pass http://{listen}/).\n\
[Unit]\n\
Description=pinctl violation-report collector\n\
After=network-online.target\n\
Wants=network-online.target\n\
\n\
[Service]\n\
ExecStart={exe} --state {state} reports serve --listen {listen}\n\
DynamicUser=yes\n\
ReadWritePaths={state}\n\
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
RestrictAddressFamilies=AF_INET AF_INET6\n\
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
