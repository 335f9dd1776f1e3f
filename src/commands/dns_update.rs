//! The dns channel acting on its zone (docs/design.md#acting): with a
//! server and a TSIG key set on the channel, `publish` replaces the TLSA
//! RRset by one signed RFC 2136 UPDATE and records the publication only
//! once the server serves exactly the new set, and `check --live` reads
//! the RRset back and judges it (`dane::judge_served`). The network client
//! is `pinctl-dns`; this module owns the runtime it runs on.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use serde::Serialize;

use super::{Ctx, Out};
use crate::check::{Finding, Severity};
use crate::dane;
use crate::error::{Error, Result};
use crate::state::{Channel, ChannelKind, Site};

/// How long `publish` waits for the server to serve the new RRset.
const READ_BACK_WAIT: Duration = Duration::from_secs(20);

/// The channel's server and key, read before anything changes.
pub struct Target {
    server: pinctl_dns::Server,
    key: pinctl_dns::TsigKey,
}

/// What `publish` did to the zone (in its report).
#[derive(Debug, Serialize)]
pub struct ZoneUpdate {
    pub server: String,
    pub zone: String,
    pub owner: String,
    /// The records the server serves now, as in the zone file.
    pub records: Vec<String>,
    /// The TTL the server serves (recorded on the publication).
    pub ttl: u32,
    /// When the read-back showed the new RRset: the publication's time.
    pub read_back: String,
}

impl ZoneUpdate {
    pub fn text(&self) -> String {
        format!(
            "Updated {} on {} (zone {}): {} TLSA record(s), TTL {} s, read back at {}",
            self.owner,
            self.server,
            self.zone,
            self.records.len(),
            self.ttl,
            self.read_back
        )
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the DNS client: {e}")))
}

fn dns_error(e: pinctl_dns::Error) -> Error {
    match e {
        pinctl_dns::Error::KeyFile { path, problem } => {
            Error::input(path.display().to_string(), problem)
        }
        other => Error::Network(other.to_string()),
    }
}

/// Reads a key file for `channel add`/`channel set`: the path to record,
/// and a warning when others may read it.
pub fn check_key_file(path: &std::path::Path, out: &mut Out) -> Result<String> {
    let key = pinctl_dns::TsigKey::read(path).map_err(dns_error)?;
    if let Some(w) = key.permission_warning() {
        out.warn(w);
    }
    Ok(path.display().to_string())
}

/// Checks `HOST[:PORT]` for `channel add`/`channel set`.
pub fn check_server(s: &str) -> Result<String> {
    pinctl_dns::Server::parse(s)
        .map(|_| s.trim().to_string())
        .map_err(|e| Error::Usage(format!("--server: {e}")))
}

/// The server and key of a dns channel that has them; None for the
/// manual flow. Read before the publication is judged, so that a missing
/// or unreadable key fails before anything is sent or saved.
pub fn target(site: &Site, channel: &str, out: &mut Out) -> Result<Option<Target>> {
    let Some(c) = site.channel(channel).filter(|c| c.kind == ChannelKind::Dns) else {
        return Ok(None);
    };
    let (Some(server), Some(key)) = (&c.server, &c.tsig_key) else {
        return Ok(None);
    };
    let server = pinctl_dns::Server::parse(server).map_err(dns_error)?;
    let key = pinctl_dns::TsigKey::read(PathBuf::from(key)).map_err(dns_error)?;
    if let Some(w) = key.permission_warning() {
        out.warn(w);
    }
    Ok(Some(Target { server, key }))
}

/// After `publish_in` judged the publication (and before the state is
/// saved): replaces the RRset with the channel's live publication, waits
/// until the server serves exactly it, then stamps the publication with
/// the TTL served and the read-back time. `new` says whether a new
/// publication was opened (else the zone is only brought back to the
/// recorded RRset). Any error leaves `site` for the caller to drop.
pub fn push(
    ctx: &Ctx,
    site: &mut Site,
    channel: &str,
    t: &Target,
    new: bool,
) -> Result<ZoneUpdate> {
    let c = site
        .channel(channel)
        .ok_or_else(|| Error::Internal(format!("no channel {channel}")))?;
    let owner_text = dane::owner(site, c);
    let ttl = u32::try_from(c.ttl.unwrap_or(0))
        .map_err(|_| Error::Usage(format!("channel {channel}: the TTL is too large")))?;
    let p = site
        .live_in(channel)
        .ok_or_else(|| Error::Internal(format!("channel {channel} has no live publication")))?;
    let want: Vec<pinctl_dns::RData> = dane::records(p)
        .into_iter()
        .map(|r| pinctl_dns::tlsa(r.usage, r.selector, r.matching, r.data))
        .collect();
    let owner = pinctl_dns::name(&owner_text).map_err(dns_error)?;
    let (zone, served) = runtime()?
        .block_on(async {
            let zone = pinctl_dns::find_zone(&t.server, &owner).await?;
            pinctl_dns::replace_rrset(
                &t.server,
                &t.key,
                &zone,
                &owner,
                pinctl_dns::RecordType::TLSA,
                &want,
                ttl,
            )
            .await?;
            let served = pinctl_dns::wait_for_rrset(
                &t.server,
                &owner,
                pinctl_dns::RecordType::TLSA,
                &want,
                READ_BACK_WAIT,
            )
            .await?;
            Ok::<_, pinctl_dns::Error>((zone, served))
        })
        .map_err(dns_error)?;
    let served_ttl = served.ttl.unwrap_or(ttl);
    let at = read_back_time(ctx.now);
    if new {
        stamp(site, channel, at, served_ttl);
    }
    Ok(ZoneUpdate {
        server: t.server.to_string(),
        zone: zone.to_ascii(),
        owner: owner_text,
        records: served
            .records
            .iter()
            .filter_map(pinctl_dns::tlsa_parts)
            .map(|(usage, selector, matching, data)| {
                dane::Tlsa {
                    usage,
                    selector,
                    matching,
                    data: data.to_vec(),
                }
                .to_string()
            })
            .collect(),
        ttl: served_ttl,
        read_back: crate::text::rfc3339(if new {
            site.live_in(channel).map_or(at, |p| p.from)
        } else {
            at
        }),
    })
}

/// When the read-back showed the RRset, to the second (the state's
/// times are whole seconds; a later second would put the state ahead of
/// the clock the next command reads), or `PINCTL_NOW` when the time is
/// injected. The server applied the update before this.
fn read_back_time(now: DateTime<Utc>) -> DateTime<Utc> {
    if std::env::var_os("PINCTL_NOW").is_some() {
        return now;
    }
    Utc::now().trunc_subsecs(0).max(now)
}

/// The new publication starts at the read-back and carries the served
/// TTL; the one it replaced is held until then too (the old RRset was
/// served up to the update).
fn stamp(site: &mut Site, channel: &str, at: DateTime<Utc>, served_ttl: u32) {
    let idx: Vec<usize> = site
        .publications
        .iter()
        .enumerate()
        .filter(|(_, p)| p.channel_name() == channel)
        .map(|(i, _)| i)
        .collect();
    let Some(&last) = idx.last() else { return };
    let old_from = site.publications[last].from;
    if at > old_from {
        site.publications[last].from = at;
        if let Some(&prev) = idx.iter().rev().nth(1) {
            if site.publications[prev].until == Some(old_from) {
                site.publications[prev].until = Some(at);
            }
        }
    }
    site.publications[last].ttl = Some(u64::from(served_ttl));
}

/// `check --live` for every dns channel with a server: what it serves at
/// the owner name, judged against the ledger; a server that does not
/// answer is UNKNOWN for that channel.
pub fn live_findings(sites: &[Site]) -> Vec<Finding> {
    let jobs: Vec<(&Site, &Channel)> = sites
        .iter()
        .flat_map(|s| s.channels.iter().map(move |c| (s, c)))
        .filter(|(_, c)| c.kind == ChannelKind::Dns && c.retired.is_none() && c.server.is_some())
        .collect();
    if jobs.is_empty() {
        return Vec::new();
    }
    let unknown = |site: &Site, message: String| Finding {
        severity: Severity::Unknown,
        site: site.domain.clone(),
        key: None,
        code: "dns-unreachable",
        message,
        due: None,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return jobs
                .iter()
                .map(|(s, _)| unknown(s, e.to_string()))
                .collect()
        }
    };
    let mut out = Vec::new();
    for (site, c) in jobs {
        let server_text = c.server.as_deref().unwrap_or_default();
        let owner_text = dane::owner(site, c);
        let read = rt.block_on(async {
            let server = pinctl_dns::Server::parse(server_text)?;
            let owner = pinctl_dns::name(&owner_text)?;
            pinctl_dns::read_rrset(&server, &owner, pinctl_dns::RecordType::TLSA).await
        });
        match read {
            Err(e) => out.push(unknown(
                site,
                format!("channel {}: {e}; the served RRset is not known", c.name),
            )),
            Ok(rrset) => {
                let served = dane::Served {
                    records: rrset
                        .records
                        .iter()
                        .filter_map(pinctl_dns::tlsa_parts)
                        .map(|(usage, selector, matching, data)| dane::Tlsa {
                            usage,
                            selector,
                            matching,
                            data: data.to_vec(),
                        })
                        .collect(),
                    ttl: rrset.ttl,
                };
                out.extend(dane::judge_served(site, c, server_text, &served));
            }
        }
    }
    out
}
