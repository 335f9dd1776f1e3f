//! Server configuration snippets: the templates in `templates/` (embedded,
//! or overridden by the files a [`Templates`] gives), rendered with
//! minijinja, and the quoting filter of each server, written and tested
//! once here. A value a server's syntax cannot carry safely is refused
//! with the reason.

use minijinja::{Environment, ErrorKind};

use crate::error::{Error, Result};
use crate::header::Header;

/// The servers pinctl writes snippets for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Apache,
    Nginx,
    Lighttpd,
    Iis,
    Caddy,
    Haproxy,
}

impl Server {
    pub const ALL: [Server; 6] = [
        Server::Apache,
        Server::Nginx,
        Server::Lighttpd,
        Server::Iis,
        Server::Caddy,
        Server::Haproxy,
    ];

    /// `text` as a comment in this server's configuration language.
    pub fn comment(self, text: &str) -> String {
        let text = text.replace(['\n', '\r'], " ");
        match self {
            // XML comments may not hold "--".
            Server::Iis => format!("<!-- {} -->", text.replace("--", "- -")),
            _ => format!("# {text}"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Server::Apache => "apache",
            Server::Nginx => "nginx",
            Server::Lighttpd => "lighttpd",
            Server::Iis => "iis",
            Server::Caddy => "caddy",
            Server::Haproxy => "haproxy",
        }
    }

    pub fn template_file(self) -> &'static str {
        match self {
            Server::Apache => "apache.conf.j2",
            Server::Nginx => "nginx.conf.j2",
            Server::Lighttpd => "lighttpd.conf.j2",
            Server::Iis => "iis.config.j2",
            Server::Caddy => "caddy.j2",
            Server::Haproxy => "haproxy.cfg.j2",
        }
    }

    fn embedded(self) -> &'static str {
        match self {
            Server::Apache => include_str!("../../../templates/apache.conf.j2"),
            Server::Nginx => include_str!("../../../templates/nginx.conf.j2"),
            Server::Lighttpd => include_str!("../../../templates/lighttpd.conf.j2"),
            Server::Iis => include_str!("../../../templates/iis.config.j2"),
            Server::Caddy => include_str!("../../../templates/caddy.j2"),
            Server::Haproxy => include_str!("../../../templates/haproxy.cfg.j2"),
        }
    }

    pub fn parse(s: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|x| x.name() == s)
    }
}

fn refuse(server: &str, why: &str) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, format!("{server}: {why}"))
}

fn check_common(server: &str, v: &str) -> Result<(), minijinja::Error> {
    if v.chars().any(|c| c.is_control()) {
        return Err(refuse(server, "the value holds a control character"));
    }
    Ok(())
}

// The filters of the app artifacts (`artifact`): their languages' own
// quoting, written here with every other filter.

fn refuse_value(why: String) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, why)
}

/// Text inside an XML element or attribute value.
pub fn xml_text(v: &str) -> Result<String, minijinja::Error> {
    xml_attr(v)
}

/// Text inside an XML comment, which may not hold `--` nor end in `-`.
pub fn xml_comment(v: &str) -> Result<String, minijinja::Error> {
    if v.chars().any(|c| c.is_control()) {
        return Err(refuse_value("a comment holds a control character".into()));
    }
    let mut s = v.replace("--", "- -");
    while s.contains("--") {
        s = s.replace("--", "- -");
    }
    if s.ends_with('-') {
        s.push(' ');
    }
    Ok(s)
}

/// Text after `//` (or inside `/* */`) in Kotlin and Java: one line, no
/// end of a block comment.
pub fn code_comment(v: &str) -> Result<String, minijinja::Error> {
    if v.chars().any(|c| c.is_control()) {
        return Err(refuse_value("a comment holds a control character".into()));
    }
    Ok(v.replace("*/", "* /"))
}

/// A zone-file comment after `;`: one line.
pub fn zone_comment(v: &str) -> Result<String, minijinja::Error> {
    if v.chars().any(|c| c.is_control()) {
        return Err(refuse_value("a comment holds a control character".into()));
    }
    Ok(v.to_string())
}

/// A Java string literal. Only printable ASCII is written as is.
pub fn java_string(v: &str) -> Result<String, minijinja::Error> {
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            ' '..='~' => s.push(c),
            c => {
                let mut b = [0u16; 2];
                for u in c.encode_utf16(&mut b) {
                    s.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    s.push('"');
    Ok(s)
}

/// A Kotlin string literal: as Java's, and `$` starts a template there.
pub fn kotlin_string(v: &str) -> Result<String, minijinja::Error> {
    Ok(java_string(v)?.replace('$', "\\$"))
}

/// The filters of the app artifacts' templates (`artifact`).
fn add_artifact_filters(env: &mut Environment<'_>) {
    env.add_filter("xml_text", |v: String| xml_text(&v));
    env.add_filter("xml_comment", |v: String| xml_comment(&v));
    env.add_filter("code_comment", |v: String| code_comment(&v));
    env.add_filter("zone_comment", |v: String| zone_comment(&v));
    env.add_filter("java_string", |v: String| java_string(&v));
    env.add_filter("kotlin_string", |v: String| kotlin_string(&v));
}

/// Apache: a double-quoted argument of `Header`, where `\"` stands for a
/// quote. mod_headers reads `%` as a format character (`%%` is a literal
/// one) and rewrites backslash sequences (`\n`, and `\\` collapses
/// unpredictably with the config reader's own pass), so a backslash is
/// refused; `${` would be expanded as a Define and has no escape.
pub fn apache_quote(v: &str) -> Result<String, minijinja::Error> {
    check_common("apache", v)?;
    if v.contains("${") {
        return Err(refuse(
            "apache",
            "`${` is expanded as a variable by httpd and cannot be escaped",
        ));
    }
    if v.contains('\\') {
        return Err(refuse(
            "apache",
            "mod_headers rewrites backslash sequences, so a backslash cannot be served as written",
        ));
    }
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '%' => s.push_str("%%"),
            c => s.push(c),
        }
    }
    s.push('"');
    Ok(s)
}

/// nginx: a single-quoted string; `\'` and `\\` are its escapes. `$` starts
/// a variable in add_header and nginx has no escape for it.
pub fn nginx_quote(v: &str) -> Result<String, minijinja::Error> {
    check_common("nginx", v)?;
    if v.contains('$') {
        return Err(refuse(
            "nginx",
            "`$` starts a variable in add_header values and nginx has no escape for it",
        ));
    }
    let mut s = String::from("'");
    for c in v.chars() {
        match c {
            '\'' => s.push_str("\\'"),
            '\\' => s.push_str("\\\\"),
            c => s.push(c),
        }
    }
    s.push('\'');
    Ok(s)
}

/// lighttpd: a double-quoted string where `\"` stands for a quote and
/// every other backslash is kept as it is; a backslash right before a quote
/// or at the end cannot be written.
pub fn lighttpd_quote(v: &str) -> Result<String, minijinja::Error> {
    check_common("lighttpd", v)?;
    if v.contains("\\\"") || v.ends_with('\\') {
        return Err(refuse(
            "lighttpd",
            "a backslash before a quote cannot be written in a lighttpd string",
        ));
    }
    Ok(format!("\"{}\"", v.replace('"', "\\\"")))
}

/// XML attribute content (IIS web.config).
pub fn xml_attr(v: &str) -> Result<String, minijinja::Error> {
    check_common("iis", v)?;
    Ok(xml_escape(v))
}

/// The five XML special characters as entities (for text and quoted
/// attribute values).
pub fn xml_escape(v: &str) -> String {
    let mut s = String::new();
    for c in v.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            c => s.push(c),
        }
    }
    s
}

/// Caddy: a double-quoted token (`\"` escapes a quote); `{…}` would be read
/// as a placeholder.
pub fn caddy_quote(v: &str) -> Result<String, minijinja::Error> {
    check_common("caddy", v)?;
    if v.contains(['{', '}']) {
        return Err(refuse(
            "caddy",
            "`{` and `}` are read as placeholders in Caddy header values",
        ));
    }
    if v.contains('\\') {
        return Err(refuse(
            "caddy",
            "backslashes are not carried reliably by the Caddyfile lexer",
        ));
    }
    Ok(format!("\"{}\"", v.replace('"', "\\\"")))
}

/// HAProxy: single-quoted parts (no expansion inside), a `'` as `\'`
/// between parts, and `%` doubled because set-header takes a log-format.
pub fn haproxy_quote(v: &str) -> Result<String, minijinja::Error> {
    check_common("haproxy", v)?;
    let doubled = v.replace('%', "%%");
    Ok(format!("'{}'", doubled.replace('\'', "'\\''")))
}

/// The appcmd line for IIS, or empty when cmd.exe or appcmd's own syntax
/// could not carry the value (the web.config is still correct).
pub fn appcmd(site: &str, name: &str, v: &str) -> String {
    if v.contains(['\'', '%', ']', '^', '&', '|', '<', '>'])
        || v.contains("--")
        || site.contains("--")
    {
        return String::new();
    }
    format!(
        "%windir%\\system32\\inetsrv\\appcmd.exe set config \"{site}\" -section:system.webServer/httpProtocol /+\"customHeaders.[name='{name}',value='{}']\"",
        v.replace('"', "\\\"")
    )
}

/// The most instructions a template may run.
const TEMPLATE_FUEL: u64 = 100_000;
/// A folder of templates that replace the embedded ones (`--templates`).
/// The binary reads it: this crate reads no file.
pub trait Templates {
    /// How errors name `file`: its path in the folder.
    fn label(&self, file: &str) -> String;
    /// The text of `file`.
    fn read(&self, file: &str) -> Result<String>;
}

/// Renders the snippet for `server`; `templates` overrides the embedded
/// templates with the files of a folder.
pub fn render(
    server: Server,
    header: &Header,
    site: &str,
    templates: Option<&dyn Templates>,
) -> Result<String> {
    let value = header.value();
    let name = header.mode.header_name();
    render_template(
        server.template_file(),
        server.embedded(),
        templates,
        server.name(),
        minijinja::context! {
            name => name,
            value => value,
            site => site,
            appcmd => appcmd(site, name, &value),
        },
    )
}

/// Renders template `file` (from `templates`, else `embedded`) with every
/// quoting filter, bounded by fuel; a value a filter refuses is refused
/// for the artifact `what`.
pub fn render_template(
    file: &str,
    embedded: &str,
    templates: Option<&dyn Templates>,
    what: &str,
    ctx: minijinja::Value,
) -> Result<String> {
    let source = match templates {
        Some(dir) => dir.read(file)?,
        None => embedded.to_string(),
    };
    let mut env = Environment::new();
    // A user's template may loop without end: bound the work, far above
    // what any snippet takes.
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("apache_quote", |v: String| apache_quote(&v));
    env.add_filter("nginx_quote", |v: String| nginx_quote(&v));
    env.add_filter("lighttpd_quote", |v: String| lighttpd_quote(&v));
    env.add_filter("xml_attr", |v: String| xml_attr(&v));
    env.add_filter("caddy_quote", |v: String| caddy_quote(&v));
    env.add_filter("haproxy_quote", |v: String| haproxy_quote(&v));
    add_artifact_filters(&mut env);
    let label = templates
        .map(|d| d.label(file))
        .unwrap_or_else(|| format!("templates/{file} (embedded)"));
    env.add_template_owned(file.to_string(), source)
        .map_err(|e| Error::input(&label, format!("broken template: {}", describe(&e))))?;
    let tmpl = env
        .get_template(file)
        .map_err(|e| Error::input(&label, format!("broken template: {}", describe(&e))))?;
    tmpl.render(ctx).map_err(|e| match e.kind() {
        ErrorKind::OutOfFuel => Error::input(
            &label,
            "the template runs too long (a loop without end?); rendering was stopped",
        ),
        ErrorKind::InvalidOperation => Error::Refused(format!(
            "refused: the {what} snippet cannot carry this safely: {}",
            e.detail().unwrap_or("")
        )),
        _ => Error::input(&label, format!("broken template: {}", describe(&e))),
    })
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(d) = e.detail() {
        s.push_str(": ");
        s.push_str(d);
    }
    if let Some(l) = e.line() {
        s.push_str(&format!(" (line {l})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_escape_what_each_language_would_read() {
        assert_eq!(java_string("a\"b\\c").unwrap(), r#""a\"b\\c""#);
        assert_eq!(java_string("é").unwrap(), r#""\u00e9""#);
        assert_eq!(kotlin_string("$x").unwrap(), r#""\$x""#);
        assert_eq!(
            xml_comment("pinctl publish --channel a-").unwrap(),
            "pinctl publish - -channel a- "
        );
        assert_eq!(xml_comment("---").unwrap(), "- - - ");
        assert!(!xml_comment("----").unwrap().contains("--"));
        assert_eq!(code_comment("a */ b").unwrap(), "a * / b");
        assert_eq!(xml_text("<a&'\">").unwrap(), "&lt;a&amp;&apos;&quot;&gt;");
        for f in [xml_comment, code_comment, zone_comment] {
            assert!(f("a\nb").is_err());
        }
    }

    use crate::header::Mode;

    fn header(uri: Option<&str>) -> Header {
        Header {
            mode: Mode::Enforce,
            pins: vec![
                crate::pin::Pin::parse("d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=").unwrap(),
                crate::pin::Pin::parse("E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=").unwrap(),
            ],
            max_age: Some(600),
            include_subdomains: true,
            report_uri: uri.map(str::to_string),
        }
    }

    #[test]
    fn every_embedded_template_renders_in_both_modes() {
        for s in Server::ALL {
            for mode in [Mode::Enforce, Mode::ReportOnly] {
                let mut h = header(Some("https://r.example/x"));
                h.mode = mode;
                let out = render(s, &h, "example.com", None).unwrap();
                assert!(out.contains(mode.header_name()), "{s:?}");
                assert!(out.contains("max-age=600"), "{s:?}: {out}");
            }
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(apache_quote(r#"a="b"; 5%"#).unwrap(), r#""a=\"b\"; 5%%""#);
        assert!(apache_quote("a${X}").is_err());
        assert!(apache_quote(r"a\b").is_err());
        assert_eq!(nginx_quote(r#"a='b'\c"#).unwrap(), r#"'a=\'b\'\\c'"#);
        assert!(nginx_quote("a$b").is_err());
        assert_eq!(lighttpd_quote(r#"a"\b"#).unwrap(), r#""a\"\b""#);
        assert!(lighttpd_quote(r#"a\"b"#).is_err());
        assert_eq!(
            xml_attr(r#"<a "b" & 'c'>"#).unwrap(),
            "&lt;a &quot;b&quot; &amp; &apos;c&apos;&gt;"
        );
        assert_eq!(haproxy_quote("a'b%c").unwrap(), r"'a'\''b%%c'");
        assert!(caddy_quote("a{b}").is_err());
        assert!(nginx_quote("a\nb").is_err());
    }

    #[test]
    fn a_value_a_server_cannot_carry_is_refused_with_the_reason() {
        let h = header(Some("https://r.example/$x"));
        let e = render(Server::Nginx, &h, "example.com", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nginx") && e.contains("`$`"), "{e}");
    }

    #[test]
    fn appcmd_is_left_out_when_cmd_cannot_carry_the_value() {
        assert!(appcmd("example.com", "Public-Key-Pins", "a'b").is_empty());
        assert!(appcmd("example.com", "Public-Key-Pins", "pin-sha256=\"x\"").contains("\\\"x\\\""));
    }
}
