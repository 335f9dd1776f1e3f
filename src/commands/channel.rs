//! `pinctl channel add|list|retire|set`: the channels besides the web
//! header through which a site's pinset reaches clients, and (`set`) how
//! pinctl reaches a dns channel's zone.

use serde::Serialize;

use super::report::emit;
use super::{Ctx, Out};
use crate::error::{Error, Result};
use crate::lifecycle::{self, Retention};
use crate::state::{check_name, Channel, ChannelKind, EventKind, NameKind, Site, WEB};
use crate::text::rfc3339;

/// The options of `channel add`.
#[derive(Debug, Clone)]
pub struct ChannelOptions {
    pub kind: ChannelKind,
    pub name: Option<String>,
    pub ttl: Option<u64>,
    pub port: Option<u16>,
    pub expires_after_days: Option<u32>,
    pub horizon_days: Option<u32>,
    pub include_subdomains: bool,
    pub one_label: bool,
    /// trustkit: `TSKSwizzleNetworkDelegates`.
    pub swizzle: Option<bool>,
    /// dns: the zone's primary, `HOST[:PORT]`.
    pub server: Option<String>,
    /// dns: the BIND key file that signs the updates.
    pub tsig_key: Option<std::path::PathBuf>,
}

/// The options of `channel set`.
#[derive(Debug, Clone)]
pub struct ChannelSet {
    pub server: Option<String>,
    pub tsig_key: Option<std::path::PathBuf>,
    pub no_server: bool,
    /// The authoritative servers to wait on and read, replacing the NS
    /// set (docs/design.md#acting); `["none"]` clears the list.
    pub check_servers: Vec<String>,
}

/// One channel as `channel list` shows it.
#[derive(Debug, Serialize)]
pub struct ChannelView {
    pub site: String,
    pub name: String,
    pub kind: ChannelKind,
    /// Until when what the channel published may still be held: RFC 3339,
    /// or null when `held` is `never` (held for ever), `live` (held while
    /// the current publication stays, then for its retention) or `none`.
    pub held_until: Option<String>,
    pub held: &'static str,
    pub options: Vec<String>,
    pub publications: usize,
    pub retired: Option<String>,
}

/// Until when a site's publications in `channel` may be held.
pub fn held(site: &Site, channel: &str) -> Retention {
    lifecycle::held_until(
        site.publications
            .iter()
            .filter(|p| p.channel_name() == channel),
    )
}

fn options(c: &Channel) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(t) = c.ttl {
        v.push(format!("ttl={t}"));
    }
    if c.kind == ChannelKind::Dns {
        v.push(format!("port={}", c.port.unwrap_or(443)));
    }
    if let Some(d) = c.expires_after_days {
        v.push(format!("expires-after={d}d"));
    }
    if let Some(h) = c.horizon_days {
        v.push(format!("horizon={h}d"));
    }
    if c.kind == ChannelKind::Trustkit {
        let yes = c.swizzle.unwrap_or(true);
        v.push(format!("swizzle={}", if yes { "yes" } else { "no" }));
    }
    if let Some(s) = &c.server {
        v.push(format!("server={s}"));
    }
    if let Some(k) = &c.tsig_key {
        v.push(format!("tsig-key={k}"));
    }
    for s in &c.check_servers {
        v.push(format!("check-server={s}"));
    }
    if c.include_subdomains {
        v.push(if c.one_label || c.kind == ChannelKind::Ios {
            "subdomains=one-label".into()
        } else {
            "subdomains=any-depth".into()
        });
    }
    v
}

fn view(site: &Site, name: &str, kind: ChannelKind, c: Option<&Channel>) -> ChannelView {
    let r = held(site, name);
    // The words of `channel list`'s JSON (docs/cli.md), not a value code uses.
    let how = match r {
        Retention::Forever => "never",
        Retention::Open => "live",
        Retention::Until(_) => "until",
        Retention::Nothing => "none",
    };
    ChannelView {
        site: site.domain.clone(),
        name: name.to_string(),
        kind,
        held_until: r.ends().map(rfc3339),
        held: how,
        options: c.map(options).unwrap_or_default(),
        publications: site
            .publications
            .iter()
            .filter(|p| p.channel_name() == name)
            .count(),
        retired: c.and_then(|c| c.retired).map(rfc3339),
    }
}

/// `pinctl channel add`.
pub fn channel_add(ctx: &Ctx, o: &ChannelOptions, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let name = o
        .name
        .clone()
        .unwrap_or_else(|| o.kind.as_str().to_string());
    // The key is read (and its permissions judged) before the state is
    // touched; only its path is recorded.
    let tsig_key = match &o.tsig_key {
        Some(p) if o.kind == ChannelKind::Dns => Some(key_path(p, out)?),
        _ => o.tsig_key.as_ref().map(|p| p.display().to_string()),
    };
    let server = match &o.server {
        Some(s) if o.kind == ChannelKind::Dns => Some(super::dns_update::check_server(s)?),
        other => other.clone(),
    };
    let c = Channel {
        name: name.clone(),
        kind: o.kind,
        ttl: o.ttl,
        port: o.port,
        expires_after_days: o.expires_after_days,
        horizon_days: o.horizon_days,
        include_subdomains: o.include_subdomains,
        one_label: o.one_label,
        swizzle: o.swizzle,
        server,
        tsig_key,
        check_servers: Vec::new(),
        added: ctx.now,
        retired: None,
    };
    if name == WEB {
        return Err(Error::Usage(
            "web is every site's channel (the header); it is not added".into(),
        ));
    }
    check_name(NameKind::Channel, &name).map_err(Error::Usage)?;
    c.check_new()
        .map_err(|m| Error::Usage(format!("channel {name}: {m}")))?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    if site.channel(&name).is_some() {
        return Err(Error::Usage(format!(
            "{domain} has a channel named {name} already"
        )));
    }
    site.channels.push(c.clone());
    site.log(
        ctx.now,
        EventKind::ChannelAdd,
        None,
        Some(format!("{name} ({}) {}", c.kind, options(&c).join(" "))),
    );
    ctx.store.save(&lock, &site)?;
    let v = view(&site, &name, c.kind, Some(&c));
    let mut text = vec![format!(
        "Added channel {name} ({}) to {domain}: {}",
        c.kind,
        v.options.join(", ")
    )];
    if c.kind.has_horizon() && c.horizon_days.is_none() {
        text.push(format!(
            "warning: without --horizon, every release {name} ships is held for ever (installs never have to update): no key outside its pins can ever be served"
        ));
    }
    if c.kind.expires() && c.expires_after_days.is_none() {
        text.push("warning: without --expires-after, releases carry no pin-set expiration unless snippet --expires gives one, and are held for ever".to_string());
    }
    if c.server.is_some() {
        text.push(format!(
            "Next: pinctl publish --channel {name}   # updates the zone on {} and records the RRset once every authoritative server serves it",
            c.server.as_deref().unwrap_or_default()
        ));
    } else {
        text.push(format!(
        "Next: pinctl snippet --channel {name}{}   # then, once it is out: pinctl publish --channel {name}{}",
        if c.kind.is_app() { " > FILE" } else { "" },
        if c.kind.is_app() { " --release LABEL --from FILE" } else { "" }
    ));
    }
    emit(ctx.json, &v, text, out)?;
    Ok(0)
}

/// A key file's absolute path, once it reads as a BIND key (a warning if
/// others may read it): publish runs from any folder.
fn key_path(p: &std::path::Path, out: &mut Out) -> Result<String> {
    super::dns_update::check_key_file(p, out)?;
    let abs = std::fs::canonicalize(p)
        .map_err(|e| Error::input(p.display().to_string(), e.to_string()))?;
    abs.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::input(p.display().to_string(), "the path is not UTF-8"))
}

/// `pinctl channel set`: a dns channel's server and TSIG key, set,
/// changed or removed.
pub fn channel_set(ctx: &Ctx, name: &str, o: &ChannelSet, out: &mut Out) -> Result<i32> {
    if o.server.is_none() && o.tsig_key.is_none() && !o.no_server && o.check_servers.is_empty() {
        return Err(Error::Usage(
            "give --server HOST[:PORT] and/or --tsig-key FILE, --check-server HOST[:PORT], or --no-server".into(),
        ));
    }
    let clear_checks = o.check_servers.iter().any(|s| s == "none");
    if clear_checks && o.check_servers.len() > 1 {
        return Err(Error::Usage(
            "--check-server none clears the list; give it alone".into(),
        ));
    }
    let check_servers = if clear_checks {
        Vec::new()
    } else {
        o.check_servers
            .iter()
            .map(|s| {
                super::dns_update::check_server(s)
                    .map_err(|e| Error::Usage(e.to_string().replace("--server", "--check-server")))
            })
            .collect::<Result<Vec<_>>>()?
    };
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let server = o
        .server
        .as_deref()
        .map(super::dns_update::check_server)
        .transpose()?;
    let key = o
        .tsig_key
        .as_deref()
        .map(|p| key_path(p, out))
        .transpose()?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let Some(c) = site.channels.iter_mut().find(|c| c.name == name) else {
        return Err(Error::Usage(format!(
            "{domain} has no channel named {name}"
        )));
    };
    if c.kind != ChannelKind::Dns {
        return Err(Error::Usage(format!(
            "channel {name} is a {} channel; --server and --tsig-key are for dns channels",
            c.kind
        )));
    }
    if o.no_server {
        if c.server.is_none() {
            return Err(Error::Usage(format!(
                "channel {name} has no server to remove"
            )));
        }
        c.server = None;
        c.tsig_key = None;
        c.check_servers.clear();
    } else {
        if !o.check_servers.is_empty() {
            c.check_servers = check_servers;
        }
        if let Some(s) = server {
            c.server = Some(s);
        }
        if let Some(k) = key {
            c.tsig_key = Some(k);
        }
        if c.server.is_none() || c.tsig_key.is_none() {
            return Err(Error::Usage(format!(
                "channel {name} needs both a server and a TSIG key (updates are signed): give {}",
                if c.server.is_none() {
                    "--server HOST[:PORT]"
                } else {
                    "--tsig-key FILE"
                }
            )));
        }
    }
    let c = c.clone();
    c.check_new()
        .map_err(|m| Error::Usage(format!("channel {name}: {m}")))?;
    ctx.store.save(&lock, &site)?;
    let v = view(&site, name, c.kind, Some(&c));
    let text = vec![match &c.server {
        Some(s) => format!(
            "Channel {name} of {domain} now updates its zone on {s}: pinctl publish --channel {name} sends the RRset and records it once every authoritative server serves it"
        ),
        None => format!(
            "Channel {name} of {domain} has no server now: pinctl snippet --channel {name} prints the records, the operator edits the zone, then pinctl publish --channel {name}"
        ),
    }];
    emit(ctx.json, &v, text, out)?;
    Ok(0)
}

/// `pinctl channel retire`.
pub fn channel_retire(ctx: &Ctx, name: &str, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let Some(c) = site.channels.iter_mut().find(|c| c.name == name) else {
        return Err(Error::Usage(if name == WEB {
            "the web channel is not retired; decommission the header with pinctl policy --max-age 0"
                .into()
        } else {
            format!("{domain} has no channel named {name}")
        }));
    };
    if c.retired.is_some() {
        return Err(Error::Usage(format!("channel {name} is retired already")));
    }
    c.retired = Some(ctx.now);
    let kind = c.kind;
    site.log(
        ctx.now,
        EventKind::ChannelRetire,
        None,
        Some(name.to_string()),
    );
    ctx.store.save(&lock, &site)?;
    let v = view(&site, name, kind, site.channel(name));
    let held = match (v.held, &v.held_until) {
        ("never", _) => "for ever".to_string(),
        ("live", _) => "while its current publication stays out, then for its retention".into(),
        (_, Some(u)) => format!("until {u}"),
        _ => "by no client".into(),
    };
    let text = vec![format!(
        "Retired channel {name} of {domain}: pinctl plans nothing more for it; what it published is still held {held}, and keeps counting in every safety decision"
    )];
    emit(ctx.json, &v, text, out)?;
    Ok(0)
}

/// `pinctl channel list`.
pub fn channel_list(ctx: &Ctx, out: &mut Out) -> Result<i32> {
    let as_json = ctx.json;
    let domains = ctx.store.chosen(ctx.site.as_deref())?;
    let mut all = Vec::new();
    for site in ctx.store.load_many(&domains)? {
        all.push(view(&site, WEB, ChannelKind::Web, None));
        for c in &site.channels {
            all.push(view(&site, &c.name, c.kind, Some(c)));
        }
    }
    if as_json {
        out.line(super::json(&serde_json::json!({ "channels": all }))?);
        return Ok(0);
    }
    for v in &all {
        let held = match (v.held, &v.held_until) {
            ("never", _) => "held for ever".to_string(),
            ("live", _) => "live".into(),
            (_, Some(u)) => format!("held until {u}"),
            _ => "nothing held".into(),
        };
        out.line(format!(
            "{}  {}  {}  {}  {} publication(s), {held}{}",
            v.site,
            v.name,
            v.kind,
            if v.options.is_empty() {
                "-".to_string()
            } else {
                v.options.join(",")
            },
            v.publications,
            if v.retired.is_some() {
                " (retired)"
            } else {
                ""
            }
        ));
    }
    Ok(0)
}
