//! `pinctl snippet`: the header for a server, rendered by `snippet`.

use std::path::Path;

use super::{Ctx, Out};
use crate::error::{Error, Result};
use crate::header::{self, Mode};
use crate::lifecycle::{self};
use crate::snippet::Templates;

/// The largest template file pinctl reads.
const MAX_TEMPLATE: u64 = 1 << 20;

/// The `--templates` folder, whose files replace the embedded templates.
struct TemplateDir<'a>(&'a Path);

impl Templates for TemplateDir<'_> {
    fn label(&self, file: &str) -> String {
        self.0.join(file).display().to_string()
    }

    fn read(&self, file: &str) -> Result<String> {
        let path = self.0.join(file);
        let data = crate::fsutil::read_capped(&path, MAX_TEMPLATE)?;
        String::from_utf8(data.to_vec())
            .map_err(|_| Error::input(path.display().to_string(), "not UTF-8 text"))
    }
}

/// `pinctl snippet`: for the site's desired header, or any `--header`
/// value (validated as `lint` does).
pub fn snippet(
    ctx: &Ctx,
    server: &str,
    report_only: bool,
    header_value: Option<&str>,
    templates: Option<&Path>,
    out: &mut Out,
) -> Result<i32> {
    use crate::snippet::{render, Server};
    let dir = templates.map(TemplateDir);
    let templates = dir.as_ref().map(|d| d as &dyn Templates);
    let servers: Vec<Server> = if server == "all" {
        Server::ALL.to_vec()
    } else {
        vec![Server::parse(server).ok_or_else(|| {
            Error::Usage(format!(
                "unknown server '{server}' (apache, nginx, lighttpd, iis, caddy, haproxy or all)"
            ))
        })?]
    };
    let (mut h, site_name) = match header_value {
        Some(v) => {
            let l = header::lint(v, &header::LintOptions::default());
            if !l.is_valid() {
                let errors: Vec<String> = l
                    .problems
                    .iter()
                    .filter(|p| p.severity == header::LintSeverity::Error)
                    .map(|p| p.message.clone())
                    .collect();
                return Err(Error::Usage(format!(
                    "--header is not a valid Public-Key-Pins header: {}",
                    errors.join("; ")
                )));
            }
            let name = ctx.site.clone().unwrap_or_else(|| "your site".into());
            (l.header, name)
        }
        None => {
            let domain = ctx.store.pick(ctx.site.as_deref())?;
            let site = ctx.store.load(&domain)?;
            (lifecycle::desired_header(&site), domain)
        }
    };
    if report_only {
        h.mode = Mode::ReportOnly;
    }
    if servers.len() == 1 {
        let text = render(servers[0], &h, &site_name, templates)?;
        out.buf.push_str(&text);
        if !text.ends_with('\n') {
            out.line("");
        }
        return Ok(0);
    }
    for (i, s) in servers.iter().enumerate() {
        if i > 0 {
            out.line("");
        }
        // One separator for every server: the combined output is for
        // reading; each part is pasted into its own file.
        out.line(format!("# ----- {} -----", s.name()));
        match render(*s, &h, &site_name, templates) {
            Ok(text) => {
                out.buf.push_str(&text);
                if !text.ends_with('\n') {
                    out.line("");
                }
            }
            Err(Error::Refused(m)) => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "warning: {m}");
                out.line(s.comment(&m));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}

/// `pinctl snippet --channel NAME`: the channel's artifact for the site's
/// desired pinset.
pub fn channel_artifact(
    ctx: &Ctx,
    channel: &str,
    lang: Option<crate::artifact::Lang>,
    expires: Option<chrono::NaiveDate>,
    templates: Option<&Path>,
    out: &mut Out,
) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    if site.channel_kind(channel).is_none() {
        return Err(Error::Usage(format!(
            "{domain} has no channel named {channel} (see pinctl channel list; add one with pinctl channel add)"
        )));
    }
    if expires.is_some() && !site.channel_kind(channel).is_some_and(|k| k.expires()) {
        return Err(Error::Usage(format!(
            "--expires is for android and trustkit channels; {channel} is not one"
        )));
    }
    let dir = templates.map(TemplateDir);
    let templates = dir.as_ref().map(|d| d as &dyn Templates);
    let text = crate::artifact::render(&site, channel, ctx.now, expires, lang, templates)?;
    let kind = site.channel_kind(channel).unwrap_or_default();
    if !matches!(
        kind,
        crate::state::ChannelKind::Dns | crate::state::ChannelKind::Okhttp
    ) || lang == Some(crate::artifact::Lang::Xml)
    {
        let p = crate::lifecycle::desired_publication(&site, channel, ctx.now, None, expires);
        eprintln!(
            "note: once it is out, record it: {}",
            crate::artifact::publish_command(&site, channel, p.and_then(|p| p.expires))
        );
    }
    out.buf.push_str(&text);
    if !text.ends_with('\n') {
        out.line("");
    }
    Ok(0)
}
