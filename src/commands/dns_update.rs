//! The dns channel acting on its zone (docs/design.md#acting): with a
//! server and a TSIG key set on the channel, `publish` replaces the TLSA
//! RRset by one signed RFC 2136 UPDATE and records the publication only
//! once every authoritative server serves exactly the new set, and
//! `check --live` reads the RRset back from each and judges it
//! (`dane::judge_served`). The network client
//! is `pinctl-dns`; this module owns the runtime it runs on.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use serde::Serialize;

use super::{Ctx, Out};
use crate::dane;
use crate::error::{Error, Result};
use crate::finding::{Finding, Severity};
use crate::state::{Channel, ChannelKind, Site};

/// How long `publish` waits for the server to serve the new RRset.
const READ_BACK_WAIT: Duration = Duration::from_secs(20);

/// The channel's server, key and the servers to check, read before
/// anything changes.
pub struct Target {
    server: pinctl_dns::Server,
    key: pinctl_dns::TsigKey,
    /// `channel set --check-server`: checked instead of the NS set.
    checks: Vec<pinctl_dns::Server>,
}

/// The servers to wait on and read: the primary and the channel's
/// `--check-server` list, or else the zone's NS set as reachable from
/// here (an NS without an address is an error, never skipped).
async fn servers_of(
    primary: &pinctl_dns::Server,
    checks: &[pinctl_dns::Server],
    zone: &pinctl_dns::Name,
) -> std::result::Result<Vec<pinctl_dns::Server>, pinctl_dns::Error> {
    if checks.is_empty() {
        return pinctl_dns::zone_servers(primary, zone).await;
    }
    let mut v = vec![primary.clone()];
    for c in checks {
        if !v.contains(c) {
            v.push(c.clone());
        }
    }
    Ok(v)
}

fn parse_checks(c: &Channel) -> Result<Vec<pinctl_dns::Server>> {
    c.check_servers
        .iter()
        .map(|s| pinctl_dns::Server::parse(s).map_err(dns_error))
        .collect()
}

/// What `publish` did to the zone (in its report).
#[derive(Debug, Serialize)]
pub struct ZoneUpdate {
    pub server: String,
    /// Every authoritative server that was seen serving the new RRset.
    pub checked: Vec<String>,
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
            "Updated {} on {} (zone {}): {} TLSA record(s), TTL {} s, served by every authoritative server ({}) at {}",
            self.owner,
            self.server,
            self.zone,
            self.records.len(),
            self.ttl,
            self.checked.join(", "),
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
        // Not a TLS probe: Error::Network's `--connect` hint would mislead.
        other => Error::Refused(other.to_string()),
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
    let checks = parse_checks(c)?;
    Ok(Some(Target {
        server,
        key,
        checks,
    }))
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
    let rt = runtime()?;
    let (zone, checked) = rt
        .block_on(async {
            let zone = pinctl_dns::find_zone(&t.server, &owner).await?;
            // Before anything is sent: a server that cannot be read makes
            // the publication unverifiable (docs/design.md#acting).
            let servers = servers_of(&t.server, &t.checks, &zone).await?;
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
            Ok::<_, pinctl_dns::Error>((zone, servers))
        })
        .map_err(dns_error)?;
    let served = rt
        .block_on(pinctl_dns::wait_on_all(
            &checked,
            &owner,
            pinctl_dns::RecordType::TLSA,
            &want,
            READ_BACK_WAIT,
        ))
        .map_err(|behind| lagging(channel, &t.server, &behind))?;
    // The longest TTL any server serves is how long resolvers may hold it.
    let served = pinctl_dns::Rrset {
        ttl: served.iter().filter_map(|r| r.ttl).max(),
        records: served
            .into_iter()
            .next()
            .map(|r| r.records)
            .unwrap_or_default(),
    };
    let served_ttl = served.ttl.unwrap_or(ttl);
    let at = read_back_time(ctx.now);
    if new {
        stamp(site, channel, at, served_ttl);
    }
    Ok(ZoneUpdate {
        server: t.server.to_string(),
        checked: checked.iter().map(|s| s.to_string()).collect(),
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

/// The one-line error when some authoritative server did not serve the
/// new RRset in time: the zone is updated but nothing is recorded, and a
/// later `publish` (the same set, sent again) verifies and records it.
fn lagging(channel: &str, primary: &pinctl_dns::Server, behind: &[pinctl_dns::Error]) -> Error {
    let what: Vec<String> = behind.iter().map(|e| e.to_string()).collect();
    Error::Refused(format!(
        "the zone on {primary} is updated but not every authoritative server serves it within {}s: {}; nothing recorded (resolvers may still get the old RRset there): run `pinctl publish --channel {channel}` again once they have the zone (a missed NOTIFY waits for the SOA refresh) and it records the publication",
        READ_BACK_WAIT.as_secs(),
        what.join("; ")
    ))
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

/// `check --live` for every dns channel with a server: what each
/// authoritative server (the primary, and the NS set or the channel's
/// `--check-server` list) serves at the owner name, judged against the
/// ledger; a server that does not answer is UNKNOWN for that channel.
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
        // Every authoritative server, not only the primary: a secondary
        // still serving an old RRset is what this check is for.
        let read = rt.block_on(async {
            let server = pinctl_dns::Server::parse(server_text)?;
            let checks = c
                .check_servers
                .iter()
                .map(|s| pinctl_dns::Server::parse(s))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let owner = pinctl_dns::name(&owner_text)?;
            let zone = pinctl_dns::find_zone(&server, &owner).await?;
            let servers = servers_of(&server, &checks, &zone).await?;
            let mut read = Vec::new();
            for s in servers {
                let got = pinctl_dns::read_rrset(&s, &owner, pinctl_dns::RecordType::TLSA).await;
                read.push((s, got));
            }
            Ok::<_, pinctl_dns::Error>(read)
        });
        let read = match read {
            Ok(read) => read,
            Err(e) => {
                out.push(unknown(
                    site,
                    format!("channel {}: {e}; the served RRset is not known", c.name),
                ));
                continue;
            }
        };
        for (server, got) in read {
            match got {
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
                    out.extend(dane::judge_served(site, c, &server.to_string(), &served));
                }
            }
        }
    }
    out
}
