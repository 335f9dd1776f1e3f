//! pinctl's DNS client (docs/design.md#acting): RFC 2136 dynamic updates
//! signed with TSIG (RFC 8945) sent to a zone's primary, and reading back
//! the RRset that server serves. The TLSA channel (`publish --channel dns`,
//! `check --live`) and ACME DNS-01 (`_acme-challenge` TXT records) use it.
//!
//! Messages, UPDATE sections and TSIG come from `hickory-proto`; this crate
//! only moves the encoded bytes over UDP (TCP when a reply is truncated)
//! with a bounded timeout. It is async on tokio and never starts a runtime:
//! the caller owns it.

mod key;
mod transport;

use std::fmt;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, OpCode, Query, ResponseCode, UpdateMessage as _};
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{TLSA, TXT};
use hickory_proto::rr::{DNSClass, Record};

pub use hickory_proto::rr::{Name, RData, RecordType};
pub use key::TsigKey;

/// How long one exchange with the server may take unless the caller says
/// otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to a DNS server. Messages are one line, name
/// the server or file, and never contain a TSIG secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key file cannot be read or is not a BIND key statement.
    #[error("TSIG key file {}: {problem}", path.display())]
    KeyFile {
        path: std::path::PathBuf,
        problem: String,
    },
    /// `HOST[:PORT]` is not a server address, or the host does not resolve.
    #[error("DNS server {server}: {problem}")]
    Address { server: String, problem: String },
    /// A name is not a valid DNS name, or not inside the zone.
    #[error("DNS name {name:?}: {problem}")]
    Name { name: String, problem: String },
    /// The server answered with an error RCODE.
    #[error("DNS server {server} refused the {what}: {rcode}{}", hint(*rcode))]
    Refused {
        server: String,
        what: &'static str,
        rcode: Rcode,
    },
    /// No answer within the timeout.
    #[error("DNS server {server} did not answer within {}s", after.as_secs_f32())]
    Timeout { server: String, after: Duration },
    /// A socket error (connection refused, unreachable network, …).
    #[error("DNS server {server}: {problem}")]
    Network { server: String, problem: String },
    /// The server's reply is not a DNS reply to our request, or a
    /// successful update reply is not signed by our key.
    #[error("DNS server {server}: {problem}")]
    Malformed { server: String, problem: String },
    /// The server is not authoritative for any zone holding the name.
    #[error("DNS server {server} serves no zone holding {name}")]
    NoZone { server: String, name: String },
    /// `wait_for_rrset` gave up: the server still serves another set.
    #[error("DNS server {server} still serves {served} at {owner} {rtype} after {}s (expected {expected})", waited.as_secs())]
    NotServed {
        server: String,
        owner: String,
        rtype: RecordType,
        waited: Duration,
        served: String,
        expected: String,
    },
}

/// An error RCODE, named as RFC 2136 and dig name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rcode {
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    YxDomain,
    YxRrset,
    NxRrset,
    NotAuth,
    NotZone,
    Other(u16),
}

impl Rcode {
    fn from_hickory(r: ResponseCode) -> Rcode {
        match r {
            ResponseCode::FormErr => Rcode::FormErr,
            ResponseCode::ServFail => Rcode::ServFail,
            ResponseCode::NXDomain => Rcode::NxDomain,
            ResponseCode::NotImp => Rcode::NotImp,
            ResponseCode::Refused => Rcode::Refused,
            ResponseCode::YXDomain => Rcode::YxDomain,
            ResponseCode::YXRRSet => Rcode::YxRrset,
            ResponseCode::NXRRSet => Rcode::NxRrset,
            ResponseCode::NotAuth => Rcode::NotAuth,
            ResponseCode::NotZone => Rcode::NotZone,
            other => Rcode::Other(u16::from(other)),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Rcode::FormErr => "FORMERR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::NotImp => "NOTIMP",
            Rcode::Refused => "REFUSED",
            Rcode::YxDomain => "YXDOMAIN",
            Rcode::YxRrset => "YXRRSET",
            Rcode::NxRrset => "NXRRSET",
            Rcode::NotAuth => "NOTAUTH",
            Rcode::NotZone => "NOTZONE",
            Rcode::Other(n) => return write!(f, "RCODE {n}"),
        };
        f.write_str(s)
    }
}

fn hint(r: Rcode) -> &'static str {
    match r {
        Rcode::NotAuth => " (the server does not accept the TSIG key: check its name, algorithm and secret, and the zone's allow-update or update-policy)",
        Rcode::Refused => " (the key may not update this name: check the zone's allow-update or update-policy)",
        Rcode::NotZone => " (the name is not in the zone the server serves)",
        Rcode::ServFail => " (the server failed: see its log)",
        _ => "",
    }
}

/// An authoritative server: the zone's primary for updates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    host: String,
    port: u16,
    timeout: Duration,
}

impl Server {
    /// Parses `HOST[:PORT]` (`[IPv6]:PORT` for an IPv6 address with a
    /// port); the port defaults to 53, the timeout to [`DEFAULT_TIMEOUT`].
    pub fn parse(s: &str) -> Result<Server, Error> {
        let bad = |problem: &str| Error::Address {
            server: s.to_string(),
            problem: problem.to_string(),
        };
        let s = s.trim();
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(|| bad("no closing `]`"))?;
            match after.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None if after.is_empty() => (h, None),
                None => return Err(bad("expected `:PORT` after `]`")),
            }
        } else if s.matches(':').count() > 1 {
            (s, None) // a bare IPv6 address
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(bad("expected HOST[:PORT]"));
        }
        let port = match port {
            None => 53,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
        };
        Ok(Server {
            host: host.to_string(),
            port,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The same server with another bound on each exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> Server {
        self.timeout = timeout;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// An RRset as the server serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rrset {
    /// The records' data, in the order the server sent them.
    pub records: Vec<RData>,
    /// The TTL served (the smallest, should they differ); `None` when the
    /// RRset does not exist.
    pub ttl: Option<u32>,
}

impl Rrset {
    /// Whether the served records are exactly `expected` (as a set).
    pub fn is_exactly(&self, expected: &[RData]) -> bool {
        same_set(&self.records, expected)
    }
}

fn same_set(a: &[RData], b: &[RData]) -> bool {
    a.len() == b.len() && a.iter().all(|r| b.contains(r)) && b.iter().all(|r| a.contains(r))
}

/// A TLSA record's data (RFC 6698): usage, selector, matching type and the
/// association data (the digest).
pub fn tlsa(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> RData {
    RData::TLSA(TLSA::new(
        CertUsage::from(usage),
        Selector::from(selector),
        Matching::from(matching),
        data,
    ))
}

/// The `(usage, selector, matching, data)` of a TLSA record, `None` for
/// another type.
pub fn tlsa_parts(r: &RData) -> Option<(u8, u8, u8, &[u8])> {
    match r {
        RData::TLSA(t) => Some((
            u8::from(t.cert_usage),
            u8::from(t.selector),
            u8::from(t.matching),
            &t.cert_data,
        )),
        _ => None,
    }
}

/// A TXT record holding one string (an ACME DNS-01 digest).
pub fn txt(value: &str) -> RData {
    RData::TXT(TXT::new(vec![value.to_string()]))
}

/// Parses a DNS name; a name without a trailing dot is taken as absolute.
pub fn name(s: &str) -> Result<Name, Error> {
    let mut n = Name::from_utf8(s).map_err(|e| Error::Name {
        name: s.to_string(),
        problem: e.to_string(),
    })?;
    n.set_fqdn(true);
    Ok(n)
}

fn unix_now() -> u64 {
    // TSIG's time must be the real clock, not PINCTL_NOW: the server
    // rejects a request more than the fudge (300 s) away from its own.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn query_message(owner: &Name, rtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = false;
    m.add_query(Query::query(owner.clone(), rtype));
    m
}

/// Finds the zone holding `name` on `server` by an SOA query: the answer
/// (the name is the apex) or the authority section (any other name in the
/// zone) names it.
pub async fn find_zone(server: &Server, name: &Name) -> Result<Name, Error> {
    let reply = transport::exchange(server, query_message(name, RecordType::SOA), None).await?;
    let soa = reply
        .answers
        .iter()
        .chain(reply.authorities.iter())
        .find(|r| r.record_type() == RecordType::SOA && r.name.zone_of(name));
    match (reply.metadata.response_code, soa) {
        (ResponseCode::NoError | ResponseCode::NXDomain, Some(r)) => Ok(r.name.clone()),
        (ResponseCode::NoError | ResponseCode::NXDomain | ResponseCode::Refused, _) => {
            Err(Error::NoZone {
                server: server.to_string(),
                name: name.to_ascii(),
            })
        }
        (rc, _) => Err(Error::Refused {
            server: server.to_string(),
            what: "SOA query",
            rcode: Rcode::from_hickory(rc),
        }),
    }
}

/// Signs an UPDATE with `key`, sends it, and turns anything but NOERROR
/// into a refusal naming the server and the RCODE.
async fn send_update(server: &Server, key: &TsigKey, m: Message) -> Result<(), Error> {
    let signer = key.signer()?;
    let reply = transport::exchange(server, m, Some(&signer)).await?;
    match reply.metadata.response_code {
        ResponseCode::NoError => Ok(()),
        rc => Err(Error::Refused {
            server: server.to_string(),
            what: "update",
            rcode: Rcode::from_hickory(rc),
        }),
    }
}

/// An empty UPDATE message for `zone` (its zone section), after checking
/// that `owner` is inside it: a server would refuse it with NOTZONE.
fn update_message(zone: &Name, owner: &Name) -> Result<Message, Error> {
    if !zone.zone_of(owner) {
        return Err(Error::Name {
            name: owner.to_ascii(),
            problem: format!("not inside the zone {}", zone.to_ascii()),
        });
    }
    let mut m = Message::query();
    m.metadata.op_code = OpCode::Update;
    m.metadata.recursion_desired = false;
    let mut z = Query::new();
    z.set_name(zone.clone())
        .set_query_class(DNSClass::IN)
        .set_query_type(RecordType::SOA);
    m.add_zone(z);
    Ok(m)
}

/// Replaces the RRset `owner`/`rtype` with `records` in ONE signed UPDATE:
/// a "delete RRset" and the additions in the same message, which the
/// server applies atomically, so no stale record survives and the name is
/// never without records (RFC 2136 section 3.4.2). `records` empty deletes
/// the RRset.
pub async fn replace_rrset(
    server: &Server,
    key: &TsigKey,
    zone: &Name,
    owner: &Name,
    rtype: RecordType,
    records: &[RData],
    ttl: u32,
) -> Result<(), Error> {
    if let Some(r) = records.iter().find(|r| r.record_type() != rtype) {
        return Err(Error::Name {
            name: owner.to_ascii(),
            problem: format!("a {} record in a {rtype} RRset", r.record_type()),
        });
    }
    let mut m = update_message(zone, owner)?;
    // RFC 2136 section 2.5.2: class ANY, TTL 0, empty RDATA deletes the RRset.
    let mut delete = Record::update0(owner.clone(), 0, rtype);
    delete.dns_class = DNSClass::ANY;
    m.add_update(delete.into_record_of_rdata());
    for r in records {
        m.add_update(Record::from_rdata(owner.clone(), ttl, r.clone()));
    }
    send_update(server, key, m).await
}

/// Reads the RRset `owner`/`rtype` the server serves (an authoritative
/// answer; NXDOMAIN and NODATA are an empty set).
pub async fn read_rrset(server: &Server, owner: &Name, rtype: RecordType) -> Result<Rrset, Error> {
    let reply = transport::exchange(server, query_message(owner, rtype), None).await?;
    match reply.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        rc => {
            return Err(Error::Refused {
                server: server.to_string(),
                what: "query",
                rcode: Rcode::from_hickory(rc),
            })
        }
    }
    if !reply.metadata.authoritative {
        return Err(Error::Malformed {
            server: server.to_string(),
            problem: format!(
                "the answer for {} is not authoritative (point --server at the zone's primary)",
                owner.to_ascii()
            ),
        });
    }
    let mut records = Vec::new();
    let mut ttl: Option<u32> = None;
    for r in &reply.answers {
        if r.record_type() == rtype && r.name == *owner {
            ttl = Some(ttl.map_or(r.ttl, |t| t.min(r.ttl)));
            records.push(r.data.clone());
        }
    }
    Ok(Rrset { records, ttl })
}

/// Polls [`read_rrset`] until the server serves exactly `expected`, for at
/// most `max_wait`; the error says what it served last.
pub async fn wait_for_rrset(
    server: &Server,
    owner: &Name,
    rtype: RecordType,
    expected: &[RData],
    max_wait: Duration,
) -> Result<Rrset, Error> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let got = read_rrset(server, owner, rtype).await?;
        if got.is_exactly(expected) {
            return Ok(got);
        }
        if start.elapsed() >= max_wait {
            return Err(Error::NotServed {
                server: server.to_string(),
                owner: owner.to_ascii(),
                rtype,
                waited: start.elapsed(),
                served: show(&got.records),
                expected: show(expected),
            });
        }
        tokio::time::sleep(pause.min(max_wait.saturating_sub(start.elapsed()))).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

fn show(records: &[RData]) -> String {
    if records.is_empty() {
        return "no records".into();
    }
    let v: Vec<String> = records.iter().map(|r| format!("\"{r}\"")).collect();
    v.join(", ")
}

/// Adds and deletes individual records at `owner` in ONE signed UPDATE,
/// leaving every other record of the RRset alone: deletions are RFC 2136
/// section 2.5.4 "delete an RR from an RRset" (class NONE, TTL 0), so
/// records other clients put at the same name survive.
pub async fn change_records(
    server: &Server,
    key: &TsigKey,
    zone: &Name,
    owner: &Name,
    add: &[RData],
    delete: &[RData],
    ttl: u32,
) -> Result<(), Error> {
    let mut m = update_message(zone, owner)?;
    for r in delete {
        let mut d = Record::from_rdata(owner.clone(), 0, r.clone());
        d.dns_class = DNSClass::NONE;
        m.add_update(d);
    }
    for r in add {
        m.add_update(Record::from_rdata(owner.clone(), ttl, r.clone()));
    }
    send_update(server, key, m).await
}

/// Adds TXT records holding `values` at `owner` (ACME DNS-01 at
/// `_acme-challenge.NAME`), finding the zone first; other TXT records
/// there (another client's challenge) stay.
pub async fn add_txt(
    server: &Server,
    key: &TsigKey,
    owner: &Name,
    values: &[String],
    ttl: u32,
) -> Result<(), Error> {
    let zone = find_zone(server, owner).await?;
    let records: Vec<RData> = values.iter().map(|v| txt(v)).collect();
    change_records(server, key, &zone, owner, &records, &[], ttl).await
}

/// Deletes the TXT records holding `values` at `owner`, and only those.
pub async fn delete_txt(
    server: &Server,
    key: &TsigKey,
    owner: &Name,
    values: &[String],
) -> Result<(), Error> {
    let zone = find_zone(server, owner).await?;
    let records: Vec<RData> = values.iter().map(|v| txt(v)).collect();
    change_records(server, key, &zone, owner, &[], &records, 0).await
}

/// Polls [`read_rrset`] until the server serves every record of `wanted`
/// (others may be there too), for at most `max_wait`.
pub async fn wait_for_records(
    server: &Server,
    owner: &Name,
    rtype: RecordType,
    wanted: &[RData],
    max_wait: Duration,
) -> Result<Rrset, Error> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let got = read_rrset(server, owner, rtype).await?;
        if wanted.iter().all(|r| got.records.contains(r)) {
            return Ok(got);
        }
        if start.elapsed() >= max_wait {
            return Err(Error::NotServed {
                server: server.to_string(),
                owner: owner.to_ascii(),
                rtype,
                waited: start.elapsed(),
                served: show(&got.records),
                expected: format!("at least {}", show(wanted)),
            });
        }
        tokio::time::sleep(pause.min(max_wait.saturating_sub(start.elapsed()))).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// The zone's authoritative servers as reachable from here, the primary
/// first: its NS RRset (read from the primary), each name's A and AAAA
/// records from the primary when it serves them (in-zone names), else from
/// the system resolver. An NS address equal to the primary's is the
/// primary (its port kept). A NS name with no address is an error, never
/// skipped: a server pinctl cannot read is one it cannot vouch for.
pub async fn zone_servers(primary: &Server, zone: &Name) -> Result<Vec<Server>, Error> {
    let deadline = tokio::time::Instant::now() + primary.timeout();
    let primary_addr = transport::resolve(primary, deadline).await?;
    let ns = read_rrset(primary, zone, RecordType::NS).await?;
    let mut out = vec![primary.clone()];
    for r in &ns.records {
        let RData::NS(n) = r else { continue };
        let host = n.0.clone();
        let mut addrs: Vec<std::net::IpAddr> = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Ok(got) = read_rrset(primary, &host, rtype).await {
                for a in &got.records {
                    match a {
                        RData::A(a) => addrs.push(std::net::IpAddr::V4(a.0)),
                        RData::AAAA(a) => addrs.push(std::net::IpAddr::V6(a.0)),
                        _ => {}
                    }
                }
            }
        }
        if addrs.is_empty() {
            let text = host.to_ascii();
            let lookup = tokio::time::timeout(
                primary.timeout(),
                tokio::net::lookup_host((text.trim_end_matches('.').to_string(), 53)),
            )
            .await;
            if let Ok(Ok(found)) = lookup {
                addrs.extend(found.map(|a| a.ip()));
            }
        }
        if addrs.is_empty() {
            return Err(Error::Address {
                server: host.to_ascii(),
                problem: format!(
                    "an NS of {} with no address reachable from here (name the servers to check with pinctl channel set NAME --check-server HOST[:PORT])",
                    zone.to_ascii()
                ),
            });
        }
        for ip in addrs {
            let s = if ip == primary_addr.ip() {
                primary.clone()
            } else {
                Server {
                    host: ip.to_string(),
                    port: 53,
                    timeout: primary.timeout,
                }
            };
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Polls every server in `servers` until each serves exactly `expected`
/// at `owner`, all within one bound `max_wait`. Returns each server's
/// RRset; on time-out, the servers still serving another set (or not
/// answering) with what each said last.
pub async fn wait_on_all(
    servers: &[Server],
    owner: &Name,
    rtype: RecordType,
    expected: &[RData],
    max_wait: Duration,
) -> Result<Vec<Rrset>, Vec<Error>> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    let mut done: Vec<Option<Rrset>> = vec![None; servers.len()];
    loop {
        let mut behind = Vec::new();
        for (i, s) in servers.iter().enumerate() {
            if done[i].is_some() {
                continue;
            }
            match read_rrset(s, owner, rtype).await {
                Ok(got) if got.is_exactly(expected) => done[i] = Some(got),
                Ok(got) => behind.push(Error::NotServed {
                    server: s.to_string(),
                    owner: owner.to_ascii(),
                    rtype,
                    waited: start.elapsed(),
                    served: show(&got.records),
                    expected: show(expected),
                }),
                Err(e) => behind.push(e),
            }
        }
        if behind.is_empty() {
            return Ok(done.into_iter().flatten().collect());
        }
        if start.elapsed() >= max_wait {
            return Err(behind);
        }
        tokio::time::sleep(pause.min(max_wait.saturating_sub(start.elapsed()))).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

pub(crate) use unix_now as now;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        let s = Server::parse("ns1.example.net").unwrap();
        assert_eq!((s.host(), s.port()), ("ns1.example.net", 53));
        assert_eq!(Server::parse("127.0.0.1:5353").unwrap().port(), 5353);
        let s = Server::parse("[::1]:5353").unwrap();
        assert_eq!((s.host(), s.port()), ("::1", 5353));
        assert_eq!(s.to_string(), "[::1]:5353");
        assert_eq!(Server::parse("::1").unwrap().port(), 53);
        for bad in ["", ":53", "host:0", "host:x", "a b", "[::1", "[::1]x"] {
            assert!(Server::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tlsa_round_trip() {
        let r = tlsa(3, 1, 1, vec![0xab; 32]);
        assert_eq!(tlsa_parts(&r), Some((3, 1, 1, &[0xab; 32][..])));
        assert!(same_set(&[r.clone(), txt("x")], &[txt("x"), r]));
    }
}
