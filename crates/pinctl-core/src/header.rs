//! The `Public-Key-Pins` header (RFC 7469 section 2.1): building it in
//! canonical form, parsing it as a browser would, and judging it. Pure: no
//! I/O, no clock. Snippet quoting for servers is left to `snippet`.

use serde::{Deserialize, Serialize};

use crate::pin::{Pin, EMPTY_INPUT_PIN};

/// RFC 7469 section 4.1 suggests 60 days as a reasonable maximum.
pub const MAX_AGE_ADVISED: u64 = 5_184_000;

/// Enforcing or report-only: which header name is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Enforce,
    #[default]
    ReportOnly,
}

impl Mode {
    pub fn header_name(self) -> &'static str {
        match self {
            Mode::Enforce => "Public-Key-Pins",
            Mode::ReportOnly => "Public-Key-Pins-Report-Only",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::ReportOnly => "report-only",
        }
    }
}

/// A pinning header: what is served, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub mode: Mode,
    pub pins: Vec<Pin>,
    pub max_age: Option<u64>,
    pub include_subdomains: bool,
    pub report_uri: Option<String>,
}

/// Whether two pin lists are the same pinset: RFC 7469 section 2.1.1
/// makes the pins a set, so their order (or a repeat) means nothing to a
/// client.
pub fn same_pins(a: &[Pin], b: &[Pin]) -> bool {
    // Sorted without repeats, the sets compare as lists (a fleet's check
    // compares every pinset it holds).
    fn set(v: &[Pin]) -> Vec<&Pin> {
        let mut v: Vec<&Pin> = v.iter().collect();
        v.sort_unstable();
        v.dedup();
        v
    }
    set(a) == set(b)
}

impl Header {
    /// The header value in canonical order: pins, max-age,
    /// includeSubDomains, report-uri.
    pub fn value(&self) -> String {
        use std::fmt::Write as _;
        // One string, not a part each joined: a fleet's status writes
        // two headers a site.
        let mut v = String::with_capacity(58 * self.pins.len() + 64);
        let part = |v: &mut String| {
            if !v.is_empty() {
                v.push_str("; ");
            }
        };
        for p in &self.pins {
            part(&mut v);
            v.push_str("pin-sha256=\"");
            v.push_str(p.as_str());
            v.push('"');
        }
        if let Some(age) = self.max_age {
            part(&mut v);
            // Writing to a String cannot fail.
            let _ = write!(v, "max-age={age}");
        }
        if self.include_subdomains {
            part(&mut v);
            v.push_str("includeSubDomains");
        }
        if let Some(uri) = &self.report_uri {
            part(&mut v);
            v.push_str("report-uri=\"");
            v.push_str(&quote_escape(uri));
            v.push('"');
        }
        v
    }

    /// `Name: value`, as it appears on the wire.
    pub fn line(&self) -> String {
        format!("{}: {}", self.mode.header_name(), self.value())
    }
}

fn quote_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// How bad a problem is. Errors make a header invalid (browsers ignore it);
/// warnings are valid but risky; notes are informational.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LintSeverity {
    Error,
    Warning,
    Note,
}

impl LintSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            LintSeverity::Error => "error",
            LintSeverity::Warning => "warning",
            LintSeverity::Note => "note",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: LintSeverity,
    pub message: String,
}

/// What `lint` knows besides the header text.
#[derive(Debug, Default, Clone)]
pub struct LintOptions<'a> {
    /// Pins of the certificates the server serves (leaf first).
    pub chain_pins: Option<&'a [Pin]>,
    /// The pinned host, to spot a report-uri that cannot report on itself.
    pub host: Option<&'a str>,
}

/// The outcome of parsing: the header as understood, and every problem.
#[derive(Debug, Clone, Serialize)]
pub struct Lint {
    pub header: Header,
    pub problems: Vec<Problem>,
}

impl Lint {
    pub fn is_valid(&self) -> bool {
        !self
            .problems
            .iter()
            .any(|p| p.severity == LintSeverity::Error)
    }
}

struct Directive {
    name: String,
    value: Option<Value>,
}

enum Value {
    Token(String),
    Quoted(String),
}

/// Parses `input` (a value, or `Name: value`) and judges it.
/// What reading the directives found out besides the header itself.
struct Parsed {
    seen_age: bool,
    report_host: Option<String>,
}

/// Reads each directive into `header` (RFC 7469 section 2.1), reporting
/// what is wrong with each.
fn parse_directives(
    directives: Vec<Directive>,
    header: &mut Header,
    push: &mut impl FnMut(LintSeverity, String),
) -> Parsed {
    let (mut seen_age, mut seen_sub, mut seen_uri) = (false, false, false);
    let mut report_host: Option<String> = None;
    for d in directives {
        let lname = d.name.to_ascii_lowercase();
        match lname.as_str() {
            "pin-sha256" => match d.value {
                Some(Value::Quoted(v)) => match check_pin(&v) {
                    Ok(p) => {
                        if header.pins.contains(&p) {
                            push(LintSeverity::Warning, format!("pin {v} is repeated"));
                        } else {
                            header.pins.push(p);
                        }
                    }
                    Err(m) => push(LintSeverity::Error, m),
                },
                Some(Value::Token(v)) => push(
                    LintSeverity::Error,
                    format!("pin-sha256 value {v} must be a quoted string (pin-sha256=\"...\")"),
                ),
                None => push(LintSeverity::Error, "pin-sha256 without a value".into()),
            },
            name if name.starts_with("pin-") => push(
                LintSeverity::Note,
                format!("{} is ignored: only pin-sha256 pins count", d.name),
            ),
            "max-age" => {
                if seen_age {
                    push(LintSeverity::Error, "max-age appears more than once".into());
                    continue;
                }
                seen_age = true;
                let v = match d.value {
                    Some(Value::Token(v)) => v,
                    Some(Value::Quoted(v)) => {
                        push(
                            LintSeverity::Warning,
                            "max-age value is quoted; write max-age=N".into(),
                        );
                        v
                    }
                    None => {
                        push(LintSeverity::Error, "max-age without a value".into());
                        continue;
                    }
                };
                match parse_max_age(&v) {
                    Ok(MaxAge { value, overflow }) => {
                        header.max_age = Some(value);
                        if let Some(w) = overflow {
                            push(LintSeverity::Warning, w);
                        }
                    }
                    Err(m) => push(LintSeverity::Error, m),
                }
            }
            "includesubdomains" => {
                if seen_sub {
                    push(
                        LintSeverity::Error,
                        "includeSubDomains appears more than once".into(),
                    );
                    continue;
                }
                seen_sub = true;
                if d.value.is_some() {
                    push(
                        LintSeverity::Error,
                        "includeSubDomains takes no value".into(),
                    );
                } else {
                    header.include_subdomains = true;
                }
            }
            "report-uri" => {
                if seen_uri {
                    push(
                        LintSeverity::Error,
                        "report-uri appears more than once".into(),
                    );
                    continue;
                }
                seen_uri = true;
                match d.value {
                    Some(Value::Quoted(uri)) => match check_uri(&uri) {
                        Ok(scheme_host) => {
                            if scheme_host.0 != "https" {
                                push(
                                    LintSeverity::Warning,
                                    format!("report-uri {uri} is not https"),
                                );
                            }
                            report_host = Some(scheme_host.1);
                            header.report_uri = Some(uri);
                        }
                        Err(m) => push(LintSeverity::Error, m),
                    },
                    Some(Value::Token(v)) => push(
                        LintSeverity::Error,
                        format!("report-uri value {v} must be a quoted string"),
                    ),
                    None => push(LintSeverity::Error, "report-uri without a value".into()),
                }
            }
            _ => push(
                LintSeverity::Note,
                format!("unknown directive {} is ignored", d.name),
            ),
        }
    }
    Parsed {
        seen_age,
        report_host,
    }
}

pub fn lint(input: &str, opts: &LintOptions<'_>) -> Lint {
    let mut problems = Vec::new();
    let mut push = |severity, message: String| problems.push(Problem { severity, message });
    let (mode, value) = match split_name(input) {
        Ok(x) => x,
        Err(m) => {
            push(LintSeverity::Error, m);
            (Mode::Enforce, input)
        }
    };
    let mut header = Header {
        mode,
        pins: Vec::new(),
        max_age: None,
        include_subdomains: false,
        report_uri: None,
    };
    let directives = match tokenize(value) {
        Ok(d) => d,
        Err(m) => {
            push(LintSeverity::Error, m);
            return Lint { header, problems };
        }
    };
    let Parsed {
        seen_age,
        report_host,
    } = parse_directives(directives, &mut header, &mut push);
    match (header.mode, header.max_age) {
        (Mode::Enforce, None) if seen_age => {}
        (Mode::Enforce, None) => push(LintSeverity::Error, "max-age is required".into()),
        (_, Some(0)) => push(
            LintSeverity::Note,
            "max-age=0 removes the host's pins from clients that noted them".into(),
        ),
        (_, Some(n)) => {
            if let Some(w) = max_age_warning(n) {
                push(LintSeverity::Warning, w);
            }
        }
        _ => {}
    }
    if let (Some(uri), Some(rh), Some(pinned)) = (&header.report_uri, &report_host, opts.host) {
        if let Some(w) = report_uri_warning(uri, rh, pinned, header.include_subdomains) {
            push(LintSeverity::Warning, w);
        }
    }
    if header.mode == Mode::ReportOnly && header.report_uri.is_none() {
        push(
            LintSeverity::Warning,
            "Report-Only header without report-uri does nothing".into(),
        );
    }
    if header.pins.len() < 2 {
        // RFC 7469 leaves a lone max-age=0 open: Firefox unpinned on any
        // max-age=0, Chromium only on an otherwise valid header.
        let why = if header.max_age == Some(0) {
            "; clients that require a valid pinset (Chromium) ignore this header and keep the old pins. Send max-age=0 with the current pins and a backup"
        } else {
            ""
        };
        push(
            LintSeverity::Error,
            format!(
                "{} valid pin(s): at least two are required (one for the served key, one backup){why}",
                header.pins.len()
            ),
        );
    }
    if let Some(chain) = opts.chain_pins {
        let in_chain = header.pins.iter().filter(|p| chain.contains(p)).count();
        if in_chain == 0 {
            push(
                LintSeverity::Error,
                "no pin matches a key of the served chain: browsers ignore this header".into(),
            );
        }
        if in_chain == header.pins.len() && in_chain > 0 {
            push(
                LintSeverity::Error,
                "every pin is in the served chain: a backup pin outside it is required".into(),
            );
        }
    }
    Lint { header, problems }
}

/// The warning for a max-age above what RFC 7469 suggests, if any.
pub fn max_age_warning(n: u64) -> Option<String> {
    (n > MAX_AGE_ADVISED).then(|| {
        format!(
            "max-age {n} is above 60 days ({MAX_AGE_ADVISED} s), the maximum RFC 7469 suggests; Chromium and Firefox capped HPKP max-age at 60 days, other clients may not"
        )
    })
}

/// The warning for a report-uri that pinning itself cuts off: on the
/// pinned host, or on a subdomain that includeSubDomains pins too (the
/// report connection is pin-checked as well, RFC 7469 section 2.1.4).
pub fn report_uri_warning(
    uri: &str,
    report_host: &str,
    pinned: &str,
    include_subdomains: bool,
) -> Option<String> {
    let host = report_host.to_ascii_lowercase();
    let pinned = pinned.to_ascii_lowercase();
    if host == pinned {
        Some(format!(
            "report-uri {uri} is on the pinned host {pinned}: reports of pin failures cannot reach it"
        ))
    } else if include_subdomains && host.ends_with(&format!(".{pinned}")) {
        Some(format!(
            "report-uri {uri} is on a subdomain that includeSubDomains pins too: reports of pin failures cannot reach it"
        ))
    } else {
        None
    }
}

/// A max-age as clients read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxAge {
    pub value: u64,
    /// Set when the written value overflowed and was clamped: what the
    /// operator must know.
    pub overflow: Option<String>,
}

/// Parses max-age's delta-seconds (RFC 7469 section 2.1.2). A value too
/// large to hold is not an error: RFC 7234 section 1.2.1 says to read it
/// as 2147483648 or the largest value the reader holds, so pinctl holds it
/// as `u64::MAX` (its retention windows then never end: the safe side).
pub fn parse_max_age(v: &str) -> Result<MaxAge, String> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("max-age value '{v}' is not a non-negative integer"));
    }
    match v.parse::<u64>() {
        Ok(value) => Ok(MaxAge {
            value,
            overflow: None,
        }),
        Err(_) => Ok(MaxAge {
            value: u64::MAX,
            overflow: Some(format!(
                "max-age {v} overflows: clients read it as the largest value they hold, at least 2147483648 s (RFC 7234 section 1.2.1), and pinctl as {} s; Chromium and Firefox capped it at 60 days ({MAX_AGE_ADVISED} s), but pinctl plans for the full value",
                u64::MAX
            )),
        }),
    }
}

/// Splits an optional `Public-Key-Pins:` / `Public-Key-Pins-Report-Only:`
/// name off the front.
fn split_name(input: &str) -> Result<(Mode, &str), String> {
    let Some(colon) = input.find(':') else {
        return Ok((Mode::Enforce, input));
    };
    let before = &input[..colon];
    if before.contains(['=', ';', '"']) {
        return Ok((Mode::Enforce, input));
    }
    let name = before.trim();
    let rest = &input[colon + 1..];
    if name.eq_ignore_ascii_case("Public-Key-Pins") {
        Ok((Mode::Enforce, rest))
    } else if name.eq_ignore_ascii_case("Public-Key-Pins-Report-Only") {
        Ok((Mode::ReportOnly, rest))
    } else {
        Err(format!("'{name}' is not a Public-Key-Pins header"))
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 7469 section 2.1: directive *( OWS ";" OWS directive ), with values
/// that are tokens or quoted strings. A `;` inside quotes is data.
fn tokenize(input: &str) -> Result<Vec<Directive>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ows = |i: &mut usize| {
        while *i < chars.len() && is_ows(chars[*i]) {
            *i += 1;
        }
    };
    loop {
        skip_ows(&mut i);
        if i >= chars.len() {
            break;
        }
        if chars[i] == ';' {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_tchar(chars[i]) {
            i += 1;
        }
        if i == start {
            return Err(unexpected(chars[i], i));
        }
        let name: String = chars[start..i].iter().collect();
        skip_ows(&mut i);
        let mut value = None;
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            skip_ows(&mut i);
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                let mut v = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated quoted string in {name}")),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let Some(&c) = chars.get(i + 1) else {
                                return Err(format!("unterminated quoted string in {name}"));
                            };
                            v.push(c);
                            i += 2;
                        }
                        Some(&c) if c.is_control() && c != '\t' => {
                            return Err(format!("control character in quoted value of {name}"));
                        }
                        Some(&c) => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                value = Some(Value::Quoted(v));
            } else {
                let vs = i;
                while i < chars.len() && is_tchar(chars[i]) {
                    i += 1;
                }
                if i == vs {
                    return match chars.get(i) {
                        Some(&c) if "\u{201c}\u{201d}\u{2018}\u{2019}".contains(c) => Err(format!(
                            "{name} value starts with a typographic quote {c}: only the ASCII \" quotes a value"
                        )),
                        Some(&c) => Err(unexpected(c, i)),
                        None => Err(format!("{name}= without a value")),
                    };
                }
                value = Some(Value::Token(chars[vs..i].iter().collect()));
            }
        }
        out.push(Directive { name, value });
        skip_ows(&mut i);
        match chars.get(i) {
            None => break,
            Some(';') => i += 1,
            Some(&c) if "\u{201c}\u{201d}\u{2018}\u{2019}".contains(c) => {
                return Err(format!(
                    "typographic quote {c} at character {}: only the ASCII \" quotes a value",
                    i + 1
                ))
            }
            Some(&c) => return Err(unexpected(c, i)),
        }
    }
    Ok(out)
}

fn unexpected(c: char, i: usize) -> String {
    if "\u{201c}\u{201d}\u{2018}\u{2019}".contains(c) {
        format!(
            "typographic quote {c} at character {}: only the ASCII \" quotes a value",
            i + 1
        )
    } else {
        format!("unexpected character {c:?} at character {}", i + 1)
    }
}

fn check_pin(v: &str) -> Result<Pin, String> {
    let pin = Pin::parse(v)?;
    if v == EMPTY_INPUT_PIN {
        return Err(format!(
            "pin {v} is the SHA-256 of empty input: the key was missing when it was made"
        ));
    }
    Ok(pin)
}

/// Checks that `uri` is absolute; returns its scheme and host.
pub fn check_uri(uri: &str) -> Result<(String, String), String> {
    let bad = || format!("report-uri {uri:?} is not an absolute URI");
    let (scheme, rest) = uri.split_once(':').ok_or_else(bad)?;
    let mut sc = scheme.chars();
    if !sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !sc.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    let host = rest
        .strip_prefix("//")
        .map(|r| {
            let auth = r.split(['/', '?', '#']).next().unwrap_or("");
            let auth = auth.rsplit('@').next().unwrap_or(auth);
            auth.split(':').next().unwrap_or(auth).to_string()
        })
        .unwrap_or_default();
    if (scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"))
        && host.is_empty()
    {
        return Err(bad());
    }
    Ok((scheme.to_ascii_lowercase(), host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: &str = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";
    const B: &str = "E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=";
    const C: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";

    fn errors(l: &Lint) -> Vec<&str> {
        l.problems
            .iter()
            .filter(|p| p.severity == LintSeverity::Error)
            .map(|p| p.message.as_str())
            .collect()
    }

    fn has(l: &Lint, sev: LintSeverity, needle: &str) -> bool {
        l.problems
            .iter()
            .any(|p| p.severity == sev && p.message.contains(needle))
    }

    /// (input, valid?, a substring expected among the problems or "")
    const CASES: &[(&str, bool, &str)] = &[
        // RFC 7469 section 2.1.5 examples (the first lacks a backup and has
        // only one sha256 pin).
        (
            r#"max-age=3000; pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=""#,
            false,
            "at least two",
        ),
        (
            r#"max-age=2592000; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; pin-sha256="LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="; report-uri="https://other.example.net/pkp-report""#,
            true,
            "",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="; includeSubDomains"#,
            false,
            "max-age is required",
        ),
        (
            r#"max-age=259200; pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=""#,
            true,
            "",
        ),
        // Names in front.
        (
            r#"Public-Key-Pins: pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=5184000"#,
            true,
            "",
        ),
        (
            r#"public-key-pins:pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=";max-age=10"#,
            true,
            "",
        ),
        (
            r#"Public-Key-Pins-Report-Only: pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; report-uri="https://r.example.net/""#,
            true,
            "",
        ),
        (
            r#"Public-Key-Pins-Report-Only: pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=""#,
            true,
            "does nothing",
        ),
        (
            r#"Strict-Transport-Security: max-age=31536000"#,
            false,
            "not a Public-Key-Pins",
        ),
        // Case-insensitive directive names.
        (
            r#"PIN-SHA256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; Pin-Sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; MAX-AGE=60; INCLUDESUBDOMAINS"#,
            true,
            "",
        ),
        // Repeated directives.
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; max-age=60"#,
            false,
            "more than once",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; includeSubDomains; includeSubDomains"#,
            false,
            "more than once",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; report-uri="https://a.example/"; report-uri="https://b.example/""#,
            false,
            "more than once",
        ),
        // Pins.
        (
            r#"pin-sha256=d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "unexpected character",
        ),
        (
            r#"pin-sha256=abc; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "must be a quoted string",
        ),
        (
            r#"pin-sha256=“d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=”; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "typographic quote",
        ),
        (
            r#"pin-sha256="not base64!"; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "not valid base64",
        ),
        (
            r#"pin-sha256="AAAA"; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "3 bytes",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM"; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "not valid base64",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; max-age=60"#,
            false,
            "empty input",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; max-age=60"#,
            false,
            "repeated",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha1="ABCDEFGHIJKLMNOPQRSTUVWXYZ0="; max-age=60"#,
            false,
            "only pin-sha256",
        ),
        (
            r#"pin-sha256; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "without a value",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=" ; pin-sha256 = "E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=" ;max-age = 60"#,
            true,
            "",
        ),
        // max-age.
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=-1"#,
            false,
            "not a non-negative integer",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=1.5"#,
            false,
            "not a non-negative integer",
        ),
        // RFC 7469 section 2.1.2 takes delta-seconds from RFC 7234, whose
        // section 1.2.1 clamps an overflowing value instead of rejecting it.
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=99999999999999999999999"#,
            true,
            "at least 2147483648",
        ),
        (
            r#"max-age=999999999999999999999999999999999999999999999; pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=""#,
            true,
            "capped it at 60 days",
        ),
        (
            r#"max-age=18446744073709551615; pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=""#,
            true,
            "capped HPKP max-age at 60 days",
        ),
        // RFC 7469 section 2.5 leaves a lone max-age=0 open; Chromium
        // ignored it (invalid pinset) and kept the old pins.
        (r#"max-age=0"#, false, "Chromium"),
        (
            r#"max-age=0; pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=""#,
            false,
            "Send max-age=0 with the current pins and a backup",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age"#,
            false,
            "without a value",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=31536000"#,
            true,
            "above 60 days",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=0"#,
            true,
            "removes",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age="600""#,
            true,
            "quoted",
        ),
        // includeSubDomains with a value.
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; includeSubDomains=yes"#,
            false,
            "takes no value",
        ),
        // report-uri.
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; report-uri="https://r.example/a;b=c""#,
            true,
            "",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; report-uri=https://r.example/"#,
            false,
            "unexpected character",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; report-uri="/relative""#,
            false,
            "not an absolute URI",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; report-uri="http://r.example/""#,
            true,
            "not https",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; report-uri="https://r.example/"#,
            false,
            "unterminated",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; report-uri="https://r.example/a\"b""#,
            true,
            "",
        ),
        // Unknown directives are ignored.
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60; preload"#,
            true,
            "unknown directive",
        ),
        // Empty and junk.
        ("", false, "at least two"),
        ("   ", false, "at least two"),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60;"#,
            true,
            "",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=" pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "unexpected character",
        ),
        (
            r#"pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=", pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60"#,
            false,
            "unexpected character",
        ),
        // A classic Apache snippet value with its outer quotes pasted in.
        (
            r#""pin-sha256=\"d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=\"; max-age=60""#,
            false,
            "unexpected character",
        ),
        // nginx-style value with single quotes copied in.
        (
            r#"'pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="; pin-sha256="E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g="; max-age=60'"#,
            false,
            "",
        ),
    ];

    #[test]
    fn table() {
        assert!(CASES.len() >= 40);
        for (input, valid, needle) in CASES {
            let l = lint(input, &LintOptions::default());
            assert_eq!(l.is_valid(), *valid, "{input}: {:?}", l.problems);
            if !needle.is_empty() {
                assert!(
                    l.problems.iter().any(|p| p.message.contains(needle)),
                    "{input}: expected {needle:?} in {:?}",
                    l.problems
                );
            }
        }
    }

    #[test]
    fn report_only_mode_is_detected() {
        let l = lint(
            &format!("Public-Key-Pins-Report-Only: pin-sha256=\"{A}\"; pin-sha256=\"{B}\""),
            &LintOptions::default(),
        );
        assert_eq!(l.header.mode, Mode::ReportOnly);
        assert!(l.is_valid());
    }

    #[test]
    fn chain_needs_one_pin_in_and_one_out() {
        let h = format!("pin-sha256=\"{A}\"; pin-sha256=\"{B}\"; max-age=60");
        let chain = vec![pin(A)];
        let ok = lint(
            &h,
            &LintOptions {
                chain_pins: Some(&chain),
                host: None,
            },
        );
        assert!(ok.is_valid(), "{:?}", ok.problems);
        let none = vec![pin(C)];
        let l = lint(
            &h,
            &LintOptions {
                chain_pins: Some(&none),
                host: None,
            },
        );
        assert!(errors(&l).iter().any(|m| m.contains("no pin matches")));
        let both = vec![pin(A), pin(B)];
        let l = lint(
            &h,
            &LintOptions {
                chain_pins: Some(&both),
                host: None,
            },
        );
        assert!(errors(&l).iter().any(|m| m.contains("backup pin")));
    }

    #[test]
    fn report_uri_on_the_pinned_host_is_a_warning() {
        let h = format!("pin-sha256=\"{A}\"; pin-sha256=\"{B}\"; max-age=60; report-uri=\"https://WWW.example.com/r\"");
        let l = lint(
            &h,
            &LintOptions {
                chain_pins: None,
                host: Some("www.example.com"),
            },
        );
        assert!(l.is_valid());
        assert!(has(&l, LintSeverity::Warning, "pinned host"));
    }

    #[test]
    fn canonical_form() {
        let h = Header {
            mode: Mode::Enforce,
            pins: vec![pin(A), pin(B)],
            max_age: Some(2592000),
            include_subdomains: true,
            report_uri: Some("https://r.example/\"x\"".into()),
        };
        assert_eq!(
            h.line(),
            format!("Public-Key-Pins: pin-sha256=\"{A}\"; pin-sha256=\"{B}\"; max-age=2592000; includeSubDomains; report-uri=\"https://r.example/\\\"x\\\"\"")
        );
    }

    fn pin(s: &str) -> Pin {
        Pin::parse(s).unwrap()
    }

    fn arb_pin() -> impl Strategy<Value = Pin> {
        proptest::array::uniform32(any::<u8>()).prop_filter_map("empty pin", |b| {
            let p = Pin::from_digest(&b);
            (p != EMPTY_INPUT_PIN).then_some(p)
        })
    }

    proptest! {
        #[test]
        fn build_then_parse_returns_what_was_built(
            pins in proptest::collection::btree_set(arb_pin(), 2..8),
            max_age in proptest::option::of(0u64..u64::MAX),
            sub in any::<bool>(),
            enforce in any::<bool>(),
            uri in proptest::option::of("https://[a-z]{1,10}\\.example/[ -~&&[^\\s]]{0,20}"),
        ) {
            let mode = if enforce { Mode::Enforce } else { Mode::ReportOnly };
            let max_age = if enforce { Some(max_age.unwrap_or(60)) } else { max_age };
            let h = Header { mode, pins: pins.into_iter().collect(), max_age, include_subdomains: sub, report_uri: uri };
            let l = lint(&h.line(), &LintOptions::default());
            prop_assert!(l.is_valid(), "{:?}", l.problems);
            prop_assert_eq!(&l.header, &h);
            let l2 = lint(&h.value(), &LintOptions::default());
            prop_assert_eq!(l2.header.pins, h.pins);
        }

        #[test]
        fn lint_never_panics(s in "\\PC{0,200}") {
            let _ = lint(&s, &LintOptions::default());
        }
    }

    proptest! {
        /// The value written into one string, and pinsets compared as
        /// sorted lists, are what joining the parts and comparing trees
        /// gave: no pins, no max-age, quotes and backslashes included.
        #[test]
        fn value_and_same_pins_are_what_they_were(
            pins in prop::collection::vec(prop::sample::select(vec![A, B, C]), 0..5),
            others in prop::collection::vec(prop::sample::select(vec![A, B, C]), 0..5),
            max_age in prop::option::of(prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()]),
            include_subdomains in any::<bool>(),
            report_uri in prop::option::of("[a\\\"/:; =]{0,6}"),
        ) {
            let pins: Vec<Pin> = pins.iter().map(|p| Pin::parse(p).unwrap()).collect();
            let others: Vec<Pin> = others.iter().map(|p| Pin::parse(p).unwrap()).collect();
            let h = Header {
                mode: Mode::Enforce,
                pins: pins.clone(),
                max_age,
                include_subdomains,
                report_uri: report_uri.clone(),
            };
            let mut parts: Vec<String> =
                pins.iter().map(|p| format!("pin-sha256=\"{p}\"")).collect();
            if let Some(age) = max_age {
                parts.push(format!("max-age={age}"));
            }
            if include_subdomains {
                parts.push("includeSubDomains".into());
            }
            if let Some(uri) = &report_uri {
                parts.push(format!("report-uri=\"{}\"", quote_escape(uri)));
            }
            prop_assert_eq!(h.value(), parts.join("; "));
            use std::collections::BTreeSet;
            let trees = pins.iter().collect::<BTreeSet<&Pin>>()
                == others.iter().collect::<BTreeSet<&Pin>>();
            prop_assert_eq!(same_pins(&pins, &others), trees);
        }
    }
}
