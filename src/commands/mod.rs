//! The commands: each takes plain options, does its work through the
//! concept modules, and writes its report into an [`Out`] buffer that is
//! printed only when the command finishes (a script never sees half of an
//! answer).

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::header::{self, LintOptions, LintSeverity};
use crate::store::Store;
use crate::text::rfc3339;

pub mod acme;
pub mod archive;
pub mod ca_pin;
pub mod cert;
pub mod channel;
pub mod check;
pub mod deployed;
pub mod dns_update;
pub mod init;
pub mod key;
pub mod plan;
pub mod policy;
pub mod publish;
pub mod renew;
pub mod report;
pub mod reports;
pub mod rotate;
pub mod schedule;
pub mod snippet;
pub mod status;
pub mod terminal;
pub mod timeline;
pub mod verify;

/// What every state command knows: the folder, the chosen site, "now".
pub struct Ctx {
    pub store: Store,
    pub site: Option<String>,
    pub now: DateTime<Utc>,
    pub passphrase_file: Option<std::path::PathBuf>,
    /// The command reports in JSON (`--format json`): the one way the
    /// format reaches a command.
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

/// After a write at a `PINCTL_NOW` ahead of the real clock: the state now
/// holds events from the future, and a write at an earlier "now" is
/// refused (publications would overlap), so say until when.
pub fn clock_ahead_warning() -> Option<String> {
    std::env::var_os("PINCTL_NOW")?;
    let now = Ctx::now_from_env().ok()?;
    let real = Utc::now();
    (now > real).then(|| {
        format!(
            "PINCTL_NOW ({}) is ahead of the real clock ({}): this write is recorded at that time, so writes at the real time will be refused until {}",
            rfc3339(now),
            rfc3339(real),
            rfc3339(now)
        )
    })
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Internal(format!("cannot encode JSON: {e}")))
}

/// `v` as [`json`] writes it where it stands `level`s into a document:
/// a fleet's parts are made on every core and put together as printing
/// the whole would have written them.
fn json_at(v: &impl serde::Serialize, level: usize) -> Result<String> {
    let mut text = Vec::with_capacity(1 << 10);
    let mut ser = serde_json::Serializer::with_formatter(&mut text, Indented::at(level));
    v.serialize(&mut ser)
        .map_err(|e| Error::Internal(format!("cannot encode JSON: {e}")))?;
    String::from_utf8(text).map_err(|e| Error::Internal(format!("cannot encode JSON: {e}")))
}

/// serde_json's pretty form (two spaces a level) for a value that starts
/// `level`s in: what printing the whole document gives its part.
struct Indented {
    level: usize,
    has_value: bool,
}

impl Indented {
    fn at(level: usize) -> Indented {
        Indented {
            level,
            has_value: false,
        }
    }

    fn newline<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.level {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(c)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(c)
    }

    fn item<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl serde_json::ser::Formatter for Indented {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Buffered standard output.
#[derive(Default)]
pub struct Out {
    pub buf: String,
    /// Printed after `buf`, in order.
    pub tail: Vec<String>,
    /// Warnings, printed on standard error as `warning: …` lines (never
    /// on standard output, which holds only the report: with `--format
    /// json`, exactly one JSON document).
    pub warnings: Vec<String>,
}

impl Out {
    pub fn stdout() -> Self {
        Out::default()
    }

    pub fn line(&mut self, s: impl AsRef<str>) {
        self.buf.push_str(s.as_ref());
        self.buf.push('\n');
    }

    /// A warning for standard error; `w` is the text after `warning: `.
    pub fn warn(&mut self, w: impl Into<String>) {
        self.warnings.push(w.into());
    }

    /// Appends whole parts, which are printed after the buffer: copies
    /// of megabytes of output cost more in page faults than they save.
    pub fn push_parts(&mut self, parts: Vec<String>) {
        self.tail.extend(parts);
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

/// `pinctl pin`.
pub fn pin(files: &[std::path::PathBuf], format: PinFormat, out: &mut Out) -> Result<i32> {
    // The header form needs only the pins: no full parse. TLSA needs the
    // CA flag too (a CA is DANE-TA, usage 2), which the summary reads.
    let detail = match format {
        PinFormat::Header => crate::pin::Detail::PinOnly,
        PinFormat::Tlsa | PinFormat::Text | PinFormat::Json => crate::pin::Detail::Summary,
    };
    let mut all = Vec::new();
    for f in files {
        let pins = crate::pin_file::pins_of_file_with(f, detail)?;
        // One file's pins are taken as they are: copying megabytes of them
        // costs page faults.
        if all.is_empty() {
            all = pins;
        } else {
            all.extend(pins);
        }
    }
    match format {
        PinFormat::Json => {
            // Each part is an array of its own; their items joined make
            // exactly the array of the whole. The brackets are changed in
            // place: the parts are megabytes.
            let parts = in_parts(&all, |n, last, part| {
                let mut array = Vec::with_capacity(part.len() * 512);
                serde_json::to_writer_pretty(&mut array, part)
                    .map_err(|e| Error::Internal(format!("cannot encode JSON: {e}")))?;
                if !(array.starts_with(b"[\n") && array.ends_with(b"\n]")) {
                    return Err(Error::Internal("cannot encode JSON: not an array".into()));
                }
                if n > 0 {
                    array[0] = b',';
                }
                if last {
                    array.push(b'\n');
                } else {
                    array.truncate(array.len() - 2);
                }
                String::from_utf8(array)
                    .map_err(|e| Error::Internal(format!("cannot encode JSON: {e}")))
            })?;
            out.push_parts(parts);
        }
        PinFormat::Header => {
            let mut known = std::collections::HashSet::new();
            let mut seen = Vec::new();
            for i in &all {
                if known.insert(&i.pin) {
                    seen.push(i.pin.clone());
                }
            }
            let directives: Vec<String> =
                seen.iter().map(|p| format!("pin-sha256=\"{p}\"")).collect();
            out.line(directives.join("; "));
        }
        PinFormat::Tlsa => {
            out.push_parts(in_parts(&all, |_, _, part| Ok(tlsa_lines(part)))?);
        }
        PinFormat::Text => {
            out.push_parts(in_parts(&all, |_, _, part| Ok(text_lines(part)))?);
        }
    }
    Ok(0)
}

/// `pin --format tlsa`: one line a pin, `2 1 1` (DANE-TA) for a CA
/// certificate and `3 1 1` (DANE-EE) for a leaf or a key (RFC 7218
/// section 2.1), as `danetool --tlsa-rr` writes them.
fn tlsa_lines(pins: &[crate::pin::PinInfo]) -> String {
    let mut s = String::with_capacity(pins.len() * 72);
    for i in pins {
        s.push_str(if i.is_ca == Some(true) {
            "2 1 1 "
        } else {
            "3 1 1 "
        });
        crate::text::push_hex(&mut s, &i.digest);
        s.push('\n');
    }
    s
}

/// `pin --format text`: the pin, kind, algorithm and size, subject, CA.
fn text_lines(pins: &[crate::pin::PinInfo]) -> String {
    let mut s = String::with_capacity(pins.len() * 160);
    for i in pins {
        let _ = write!(s, "{}  {}  {}", i.pin, i.kind.as_str(), i.algorithm);
        if let Some(b) = i.bits {
            let _ = write!(s, " {b}");
        }
        if let Some(subject) = &i.subject {
            s.push_str("  ");
            s.push_str(&crate::text::printable(subject));
        }
        if i.is_ca == Some(true) {
            s.push_str("  (CA)");
        }
        s.push('\n');
    }
    s
}

/// Pins above this many are printed on every core.
const PARALLEL_PRINT_FROM: usize = 2000;

/// `f` over consecutive parts of `items`, one a core for long lists, in
/// order; `f` is told each part's number and whether it is the last.
fn in_parts<T: Sync>(
    items: &[T],
    f: impl Fn(usize, bool, &[T]) -> Result<String> + Sync,
) -> Result<Vec<String>> {
    let cores = if items.len() >= PARALLEL_PRINT_FROM {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    if cores < 2 {
        return Ok(vec![f(0, true, items)?]);
    }
    let f = &f;
    let parts: Vec<&[T]> = items.chunks(items.len().div_ceil(cores)).collect();
    let last = parts.len() - 1;
    std::thread::scope(|s| {
        let workers: Vec<_> = parts
            .into_iter()
            .enumerate()
            .map(|(n, part)| s.spawn(move || f(n, n == last, part)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(Error::Internal("a printing thread failed".into())))
            })
            .collect()
    })
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
        Some(p) => Some(
            crate::pin_file::pins_of_file(p)?
                .into_iter()
                .map(|i| i.pin)
                .collect(),
        ),
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
            .filter(|p| p.severity == LintSeverity::Error)
            .count();
        if valid {
            out.line(format!("valid: {}", l.header.line()));
        } else {
            out.line(format!("invalid: {errors} error(s)"));
        }
    }
    Ok(if valid { 0 } else { 1 })
}

pub fn inside(path: &Path, root: &Path) -> bool {
    let Ok(root) = root.canonicalize() else {
        return false;
    };
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    // The file may not exist yet: resolve its folder.
    let parent = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    match parent.canonicalize() {
        Ok(p) => p.starts_with(&root),
        Err(_) => abs.starts_with(&root),
    }
}

/// A site's folder as the plan names it.
pub fn site_dir(ctx: &Ctx, domain: &str) -> String {
    ctx.store.site_dir(domain).display().to_string()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// JSON values with what the pretty printer treats apart: empty and
    /// nested empty arrays and objects, null, escapes, numbers.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(|n| json!(n)),
            any::<i64>().prop_map(|n| json!(n)),
            prop::sample::select(vec![0.0, -0.0, 1.5, 1e300, -2.5e-10, f64::MIN_POSITIVE])
                .prop_map(|f| json!(f)),
            "[a\"\\\\\n\t\u{0}\u{1f}\u{7f}é\u{2028}/]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a\"\\\\\n]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// A part printed `level`s in is what printing the whole document
        /// gives it there.
        #[test]
        fn json_at_prints_a_part_as_the_whole_prints_it(v in value(), level in 0usize..4) {
            let mut whole = v.clone();
            let mut empty = Value::Null;
            for k in 0..level {
                (whole, empty) = if k % 2 == 0 {
                    (json!([whole]), json!([empty]))
                } else {
                    (json!({ "sites": whole }), json!({ "sites": empty }))
                };
            }
            let part = super::json_at(&v, level).unwrap();
            let text = super::json(&whole).unwrap();
            // The wrappers, printed around `null`, put around the part.
            let around = super::json(&empty).unwrap();
            let at = around.find("null").unwrap();
            let expected = format!("{}{part}{}", &around[..at], &around[at + 4..]);
            prop_assert_eq!(text, expected);
        }
    }
}
