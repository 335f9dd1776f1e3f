//! What the store keeps of a report, whichever database holds it: a
//! classified report on its way in, a deduplicated row on its way out,
//! and how a row's pin lists are written in one column. SQLite's code
//! (`store`) and PostgreSQL's (`pg`) both use it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use pinctl_core::report::{Class, Report, ReportFinding};

/// A classified report ready to store.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub key: String,
    pub site: Option<String>,
    pub class: Class,
    pub report: Report,
    pub at: DateTime<Utc>,
    pub sample: String,
}

/// One deduplicated report as `reports list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    pub site: Option<String>,
    pub hostname: String,
    pub port: u16,
    pub noted_hostname: Option<String>,
    pub class: Class,
    pub source: String,
    pub app: Option<String>,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub served_pins: Vec<String>,
    pub served_subjects: Vec<String>,
    pub validated_pins: Vec<String>,
    pub known_pins: Vec<String>,
}

impl From<&Row> for ReportFinding {
    fn from(r: &Row) -> ReportFinding {
        ReportFinding {
            site: r.site.clone(),
            hostname: r.hostname.clone(),
            port: r.port,
            class: r.class,
            source: r.source.clone(),
            app: r.app.clone(),
            count: r.count,
            first_seen: r.first_seen.clone(),
            last_seen: r.last_seen.clone(),
            served_pins: r.served_pins.clone(),
            served_subjects: r.served_subjects.clone(),
        }
    }
}

/// A pin list as one column: the pins, space-separated.
pub(crate) fn join(v: &[pinctl_core::pin::Pin]) -> String {
    v.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" ")
}

/// A column [`join`] wrote, as its pins' texts.
pub(crate) fn split(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}
