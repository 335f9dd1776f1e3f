//! The commands: each takes plain options, does its work through the
//! concept modules, and writes its report into an [`Out`] buffer that is
//! printed only when the command finishes (a script never sees half of an
//! answer).

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use zeroize::Zeroizing;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::{Error, Result};
use crate::header::{self, LintOptions, Severity};
use crate::pin::{self, PinInfo};
use crate::state::Store;

pub mod report;
pub mod rollout;
pub mod site;
pub mod verify;
pub mod watch;

/// What every state command knows: the folder, the chosen site, "now".
pub struct Ctx {
    pub store: Store,
    pub site: Option<String>,
    pub now: DateTime<Utc>,
    pub passphrase_file: Option<std::path::PathBuf>,
    /// The write commands report in JSON (`--format json`).
    pub json: bool,
}

impl Ctx {
    /// The clock: `PINCTL_NOW` (RFC 3339) when set, else the system's;
    /// whole seconds, so that the state reads (and diffs) cleanly.
    pub fn now_from_env() -> Result<DateTime<Utc>> {
        use chrono::SubsecRound as _;
        let now = match std::env::var("PINCTL_NOW") {
            Ok(v) => DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    Error::Usage(format!("PINCTL_NOW={v:?} is not an RFC 3339 time ({e})"))
                })?,
            Err(_) => Utc::now(),
        };
        Ok(now.trunc_subsecs(0))
    }
}

/// Every time pinctl prints: UTC, RFC 3339, `Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Crypto(format!("cannot encode JSON: {e}")))
}

/// Buffered standard output.
#[derive(Default)]
pub struct Out {
    pub buf: String,
}

impl Out {
    pub fn stdout() -> Self {
        Out::default()
    }

    pub fn line(&mut self, s: impl AsRef<str>) {
        self.buf.push_str(s.as_ref());
        self.buf.push('\n');
    }
}

/// Output forms of `pinctl pin`.
#[derive(Clone, Copy, Debug)]
pub enum PinFormat {
    Text,
    Json,
    Header,
    Tlsa,
}

/// The largest input pinctl reads: far above any real bundle (Debian's
/// whole CA bundle is 0.2 MB), far below what would exhaust memory.
pub const MAX_INPUT: u64 = 256 << 20;

/// Reads a whole input file (`-` is standard input), at most [`MAX_INPUT`]
/// bytes, into a buffer that is wiped when dropped, since it may hold a
/// private key.
pub fn read_input(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    read_capped(path, MAX_INPUT)
}

/// As [`read_input`], with a limit of `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    let read = |e| Error::Read {
        path: path.to_path_buf(),
        source: e,
    };
    let label = if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    if path == Path::new("-") {
        std::io::stdin()
            .take(max + 1)
            .read_to_end(&mut buf)
            .map_err(read)?;
    } else {
        let meta = std::fs::metadata(path).map_err(read)?;
        if meta.is_dir() {
            return Err(Error::input(label, "is a directory"));
        }
        std::fs::File::open(path)
            .map_err(read)?
            .take(max + 1)
            .read_to_end(&mut buf)
            .map_err(read)?;
    }
    if buf.len() as u64 > max {
        return Err(Error::input(
            label,
            format!("is larger than {} MiB; pinctl reads no more", max >> 20),
        ));
    }
    Ok(buf)
}

/// Pins of every object in `path`.
pub fn pins_of_file(path: &Path) -> Result<Vec<PinInfo>> {
    let data = read_input(path)?;
    let label = if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    pin::read_pins(&label, &data)
}

/// `pinctl pin`.
pub fn pin(files: &[std::path::PathBuf], format: PinFormat, out: &mut Out) -> Result<i32> {
    let mut all = Vec::new();
    for f in files {
        all.extend(pins_of_file(f)?);
    }
    match format {
        PinFormat::Json => out.line(json(&all)?),
        PinFormat::Header => {
            let mut seen = Vec::new();
            for i in &all {
                if !seen.contains(&i.pin) {
                    seen.push(i.pin.clone());
                }
            }
            let directives: Vec<String> =
                seen.iter().map(|p| format!("pin-sha256=\"{p}\"")).collect();
            out.line(directives.join("; "));
        }
        PinFormat::Tlsa => {
            for i in &all {
                out.line(format!("3 1 1 {}", i.sha256_hex));
            }
        }
        PinFormat::Text => {
            for i in &all {
                let mut line = format!("{}  {}", i.pin, i.kind.as_str());
                let _ = write!(line, "  {}", i.algorithm);
                if let Some(b) = i.bits {
                    let _ = write!(line, " {b}");
                }
                if let Some(s) = &i.subject {
                    let _ = write!(line, "  {s}");
                }
                if i.is_ca == Some(true) {
                    line.push_str("  (CA)");
                }
                out.line(line);
            }
        }
    }
    Ok(0)
}

/// `pinctl lint`: 0 when valid, 1 when invalid.
pub fn lint(
    input: &str,
    chain: Option<&Path>,
    host: Option<&str>,
    as_json: bool,
    out: &mut Out,
) -> Result<i32> {
    let chain_pins: Option<Vec<crate::pin::Pin>> = match chain {
        Some(p) => Some(pins_of_file(p)?.into_iter().map(|i| i.pin).collect()),
        None => None,
    };
    let l = header::lint(
        input,
        &LintOptions {
            chain_pins: chain_pins.as_deref(),
            host,
        },
    );
    let valid = l.is_valid();
    if as_json {
        let v = serde_json::json!({
            "valid": valid,
            "header": if valid { Some(l.header.line()) } else { None },
            "mode": l.header.mode.as_str(),
            "pins": l.header.pins,
            "max_age": l.header.max_age,
            "include_subdomains": l.header.include_subdomains,
            "report_uri": l.header.report_uri,
            "problems": l.problems,
        });
        out.line(json(&v)?);
    } else {
        for p in &l.problems {
            out.line(format!("{}: {}", p.severity.as_str(), p.message));
        }
        let errors = l
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        if valid {
            out.line(format!("valid: {}", l.header.line()));
        } else {
            out.line(format!("invalid: {errors} error(s)"));
        }
    }
    Ok(if valid { 0 } else { 1 })
}
