//! What a judgement of a site says: a [`Finding`] with a [`Severity`] in
//! the monitoring-plugin convention. Its own module so that every judge
//! (`check`, `dane`'s of a served RRset, the live probes) says it in the
//! same words without depending on one another.

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "OK",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
            Severity::Unknown => "UNKNOWN",
        }
    }

    /// The monitoring-plugin exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Critical => 2,
            Severity::Unknown => 3,
        }
    }
}

/// One thing `check` says. The fields are in the order of their names:
/// the JSON's keys come out in that order, as they did when each finding
/// was first made a `serde_json::Value` (whose maps sort their keys), and
/// a fleet's thousands of findings are now written without that copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    #[serde(serialize_with = "crate::text::ser_opt")]
    pub due: Option<DateTime<Utc>>,
    pub key: Option<String>,
    pub message: String,
    pub severity: Severity,
    pub site: String,
}
