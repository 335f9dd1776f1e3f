//! The report store: an embedded SQLite database (WAL, synchronous
//! commits) by default, or a PostgreSQL database that several collectors
//! share. Each deduplicated report is one row with a count, first and
//! last seen, and one truncated sample. Batches are written in one
//! transaction, so durability does not cost a commit per report; the
//! upsert keeps counts exact when collectors write the same row at once.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use pinctl_core::error::{Error, Result};
use pinctl_core::report::Class;

pub use crate::conninfo::{has_password, redact};
use crate::row::{join, split};
pub use crate::row::{Incoming, Row};

/// The default database file in the state folder.
pub const FILE: &str = "reports.sqlite";

/// Where reports are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(std::path::PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

impl Location {
    /// How errors name it: never with its password, wherever the URL or
    /// the keyword string holds one.
    pub fn label(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::Postgres(u) => redact(u),
        }
    }
}

#[cfg(feature = "postgres")]
struct PgBackend {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    pg: crate::pg::Pg,
}

enum Backend {
    Sqlite(Connection),
    /// A client driven by a runtime of its own: the commands that read
    /// the store are not async.
    #[cfg(feature = "postgres")]
    Postgres(Box<PgBackend>),
}

pub struct Store {
    backend: Backend,
    label: String,
}

fn db_err(label: &str, e: rusqlite::Error) -> Error {
    Error::input(label, format!("report database: {e}"))
}

// Without the `postgres` feature SQLite is the only backend, and the
// matches on it below have one arm.
#[cfg_attr(
    not(feature = "postgres"),
    allow(clippy::infallible_destructuring_match)
)]
impl Store {
    /// Opens (or creates) the store at `location`.
    pub fn open_at(location: &Location) -> Result<Store> {
        match location {
            Location::File(p) => Store::open(p),
            #[cfg(not(feature = "postgres"))]
            Location::Postgres(_) => Err(Error::input(
                location.label(),
                "this pinctl was built without PostgreSQL (cargo feature `postgres`); use a SQLite file",
            )),
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => Store::open_pg(url, &location.label(), true),
        }
    }

    #[cfg(feature = "postgres")]
    fn open_pg(url: &str, label: &str, create: bool) -> Result<Store> {
        let pg = crate::pg::Pg::parse(url, label)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the runtime: {e}")))?;
        let client = rt.block_on(pg.open(create))?;
        Ok(Store {
            backend: Backend::Postgres(Box::new(PgBackend { rt, client, pg })),
            label: label.to_string(),
        })
    }

    /// Opens an existing store to read it: a SQLite file that is not
    /// there is an error, never created (a mistyped path must not read as
    /// "no reports").
    pub fn open_reader(location: &Location) -> Result<Store> {
        match location {
            Location::File(p) => {
                let label = p.display().to_string();
                if !p.is_file() {
                    return Err(Error::input(
                        &label,
                        "no report database there (nothing was created); check --database or PINCTL_REPORTS_DATABASE",
                    ));
                }
                let conn = Connection::open_with_flags(
                    p,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|e| db_err(&label, e))?;
                conn.execute_batch("PRAGMA busy_timeout=5000;")
                    .map_err(|e| db_err(&label, e))?;
                Ok(Store {
                    backend: Backend::Sqlite(conn),
                    label,
                })
            }
            #[cfg(feature = "postgres")]
            Location::Postgres(url) => Store::open_pg(url, &location.label(), false),
            #[cfg(not(feature = "postgres"))]
            Location::Postgres(_) => Store::open_at(location),
        }
    }

    /// Deletes the reports last seen before `before`; returns how many
    /// rows went.
    pub fn prune(&mut self, before: DateTime<Utc>) -> Result<u64> {
        let before = pinctl_core::text::rfc3339(before);
        let conn = match &mut self.backend {
            Backend::Sqlite(c) => c,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => {
                return b.rt.block_on(b.pg.bounded(
                    crate::pg::PRUNE_TIMEOUT,
                    "prune",
                    crate::pg::prune(&b.client, &before),
                ))
            }
        };
        conn.execute("DELETE FROM reports WHERE last_seen < ?1", params![before])
            .map(|n| n as u64)
            .map_err(|e| db_err(&self.label, e))
    }

    /// Opens (or creates) the SQLite database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let label = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| db_err(&label, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS reports (
               key TEXT PRIMARY KEY,
               site TEXT,
               class TEXT NOT NULL,
               hostname TEXT NOT NULL,
               port INTEGER NOT NULL,
               noted_hostname TEXT,
               source TEXT NOT NULL,
               app TEXT,
               served_pins TEXT NOT NULL,
               served_subjects TEXT NOT NULL,
               validated_pins TEXT NOT NULL,
               known_pins TEXT NOT NULL,
               count INTEGER NOT NULL,
               first_seen TEXT NOT NULL,
               last_seen TEXT NOT NULL,
               sample TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS reports_last_seen ON reports(last_seen);",
        )
        .map_err(|e| db_err(&label, e))?;
        Ok(Store {
            backend: Backend::Sqlite(conn),
            label,
        })
    }

    /// Stores a batch in one transaction: a new key is a new row, a known
    /// one counts once more and moves its last-seen time.
    pub fn insert(&mut self, batch: &[Incoming]) -> Result<()> {
        let label = self.label.clone();
        let conn = match &mut self.backend {
            Backend::Sqlite(c) => c,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => {
                let PgBackend { rt, client, pg } = &mut **b;
                return rt.block_on(pg.bounded(
                    crate::pg::QUERY_TIMEOUT,
                    "insert",
                    crate::pg::insert(client, batch),
                ));
            }
        };
        let tx = conn.transaction().map_err(|e| db_err(&label, e))?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO reports (key, site, class, hostname, port, noted_hostname, source, app,
                       served_pins, served_subjects, validated_pins, known_pins, count, first_seen, last_seen, sample)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13, ?13, ?14)
                     ON CONFLICT(key) DO UPDATE SET count = count + 1,
                       last_seen = max(last_seen, excluded.last_seen),
                       first_seen = min(first_seen, excluded.first_seen)",
                )
                .map_err(|e| db_err(&label, e))?;
            for i in batch {
                let r = &i.report;
                st.execute(params![
                    i.key,
                    i.site,
                    i.class.as_str(),
                    r.hostname,
                    r.port,
                    r.noted_hostname,
                    r.source.as_str(),
                    r.app,
                    join(&r.served),
                    r.served_subjects.join("\n"),
                    join(&r.validated),
                    join(&r.known),
                    pinctl_core::text::rfc3339(i.at),
                    i.sample,
                ])
                .map_err(|e| db_err(&label, e))?;
            }
        }
        tx.commit().map_err(|e| db_err(&label, e))
    }

    /// The reports last seen at or after `since`, of `site` when given,
    /// most frequent first.
    pub fn list(&mut self, since: Option<DateTime<Utc>>, site: Option<&str>) -> Result<Vec<Row>> {
        let since = since.map(pinctl_core::text::rfc3339).unwrap_or_default();
        let conn = match &mut self.backend {
            Backend::Sqlite(c) => c,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => {
                return b.rt.block_on(b.pg.bounded(
                    crate::pg::QUERY_TIMEOUT,
                    "list",
                    crate::pg::list(&b.client, &since, site),
                ))
            }
        };
        let mut st = conn
            .prepare(
                "SELECT site, hostname, port, noted_hostname, class, source, app, count, first_seen,
                        last_seen, served_pins, served_subjects, validated_pins, known_pins
                 FROM reports WHERE last_seen >= ?1 AND (?2 IS NULL OR site = ?2)
                 ORDER BY count DESC, last_seen DESC, key",
            )
            .map_err(|e| db_err(&self.label, e))?;
        let rows = st
            .query_map(params![since, site], |r| {
                let class: String = r.get(4)?;
                let subjects: String = r.get(11)?;
                Ok(Row {
                    site: r.get(0)?,
                    hostname: r.get(1)?,
                    port: r.get(2)?,
                    noted_hostname: r.get(3)?,
                    class: Class::parse(&class).unwrap_or(Class::UnknownHost),
                    source: r.get(5)?,
                    app: r.get(6)?,
                    count: r.get(7)?,
                    first_seen: r.get(8)?,
                    last_seen: r.get(9)?,
                    served_pins: split(&r.get::<_, String>(10)?),
                    served_subjects: subjects
                        .split('\n')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    validated_pins: split(&r.get::<_, String>(12)?),
                    known_pins: split(&r.get::<_, String>(13)?),
                })
            })
            .map_err(|e| db_err(&self.label, e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| db_err(&self.label, e))
    }

    /// The sum of all counts (what the tests and the benchmark compare).
    pub fn total(&mut self) -> Result<u64> {
        let conn = match &mut self.backend {
            Backend::Sqlite(c) => c,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => {
                return b.rt.block_on(b.pg.bounded(
                    crate::pg::QUERY_TIMEOUT,
                    "total",
                    crate::pg::total(&b.client),
                ))
            }
        };
        conn.query_row("SELECT COALESCE(SUM(count), 0) FROM reports", [], |r| {
            r.get(0)
        })
        .optional()
        .map(|v| v.unwrap_or(0))
        .map_err(|e| db_err(&self.label, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_never_hold_the_password() {
        for (conn, want) in [
            ("postgres://u:s3cret@db:5432/x", "postgres://u@db:5432/x"),
            ("postgres://u:s3cret@db", "postgres://u@db"),
            (
                "postgresql://u@db/x?password=s3cret&sslmode=require",
                "postgresql://u@db/x?password=…&sslmode=require",
            ),
            (
                "postgres://db/x?sslmode=require&PASSWORD=s3cret",
                "postgres://db/x?sslmode=require&PASSWORD=…",
            ),
            ("postgres://u:p@ss:s3cret@db/x", "postgres://u@db/x"),
            (
                "host=db password=s3cret dbname=x",
                "host=db password=… dbname=x",
            ),
            (
                "host=db password = 's3 \\'cret' dbname=x",
                "host=db password=… dbname=x",
            ),
            (
                "host=db password='s3cret",
                "a PostgreSQL connection string that cannot be read",
            ),
        ] {
            let l = Location::Postgres(conn.into()).label();
            assert_eq!(l, want, "{conn}");
            assert!(!l.contains("s3"), "{l}");
        }
    }

    #[test]
    fn passwords_with_url_delimiters_never_show() {
        for pw in [
            "se/cret",
            "se?cret",
            "se#cret",
            "se@cret",
            "se:cret",
            "s/e?c#r@e:t",
        ] {
            for conn in [
                format!("postgresql://pinctl:{pw}@127.0.0.1:1/db"),
                format!("postgresql://pinctl:{pw}@127.0.0.1:1/db?sslmode=disable"),
                format!("postgres://pinctl:{pw}@db"),
            ] {
                let l = Location::Postgres(conn.clone()).label();
                assert!(!l.contains("cret") && !l.contains("se"), "{conn} -> {l}");
                assert!(l.starts_with("postgres"), "{l}");
                assert!(has_password(&conn), "{conn}");
            }
        }
        assert_eq!(
            redact("postgresql://pinctl:se/cret@127.0.0.1:1/db"),
            "postgresql://pinctl@127.0.0.1:1/db"
        );
        let l = redact("postgres://u@db/x?pass%77ord=s3cret");
        assert!(!l.contains("s3cret"), "{l}");
        assert!(has_password("postgres://u@db/x?pass%77ord=s3cret"));
        assert!(has_password("host=db password=x"));
        assert!(!has_password("host=db.internal dbname=reports user=pinctl"));
        assert!(!has_password(
            "postgresql://pinctl@127.0.0.1:1/db?sslmode=require"
        ));
        assert!(!has_password("postgresql://127.0.0.1/db"));
    }
}
