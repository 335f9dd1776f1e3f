//! Who sent a report, for the rate limit (docs/design.md#limits): the TCP
//! peer, or — only when that peer is a proxy named by `--trusted-proxy` —
//! the right-most address in `X-Forwarded-For` (or `Forwarded: for=`)
//! that is not itself a trusted proxy. Without a trusted proxy the
//! forwarding headers are ignored, so a forged one buys nothing. IPv6
//! clients are counted per /64, since anyone with one holds 2^64
//! addresses. The buckets live in a bounded two-generation map.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::HeaderMap;

/// An address or a network (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or ADDRESS/PREFIX"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let mut len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length is not 0 to {max}"))?,
        };
        // An IPv4-mapped network (`::ffff:10.0.0.0/104`) is the IPv4 one
        // (`10.0.0.0/8`): its first 96 bits are the mapping prefix. Peers
        // are compared as IPv4 (see `canonical`), so the length must be too.
        let mut net = net;
        if let IpAddr::V6(v6) = net {
            if let Some(v4) = v6.to_ipv4_mapped() {
                if len < 96 {
                    return Err(format!(
                        "{s:?}: an IPv4-mapped network needs a prefix of 96 to 128 (::ffff:A.B.C.D/96+N is A.B.C.D/N)"
                    ));
                }
                net = IpAddr::V4(v4);
                len -= 96;
            }
        }
        Ok(Cidr {
            net: mask(net, len),
            len,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.net.is_ipv4() && mask(ip, self.len) == self.net
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// The rate-limit key of an address: IPv4 as it is, IPv6 by its /64.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(_) => mask(ip, 64),
        v4 => v4,
    }
}

/// One `for=` node of RFC 7239: `192.0.2.1`, `"[2001:db8::1]:443"`,
/// `192.0.2.1:80`; None for `unknown`, `_hidden` and anything else.
fn node(v: &str) -> Option<IpAddr> {
    let v = v.trim().trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    // IPv4 with a port.
    let (a, _port) = v.rsplit_once(':')?;
    a.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The forwarding chain, nearest hop last: X-Forwarded-For when present,
/// else the `for=` of `Forwarded`. An entry that is no address is None.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !xff.is_empty() {
        return xff.iter().flat_map(|v| v.split(',')).map(node).collect();
    }
    headers
        .get_all(hyper::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|element| {
            element
                .split(';')
                .find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then_some(v)
                })
                .and_then(node)
        })
        .collect()
}

/// The client a request counts against: the peer, unless the peer is a
/// trusted proxy; then the right-most forwarded address that is not a
/// trusted proxy. A chain of trusted proxies only (or none) is the left-most
/// one known; an entry that is no address stops the walk at the proxy
/// that passed it on.
pub fn client(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut last = peer;
    for hop in forwarded_chain(headers).into_iter().rev() {
        match hop.map(canonical) {
            Some(ip) if is_trusted(ip) => last = ip,
            Some(ip) => return ip,
            None => return last,
        }
    }
    last
}

/// Token buckets per client, bounded: a current and a previous generation
/// of at most `cap / 2` entries each. A client found in the previous one
/// moves to the current; when the current fills, or every refill time
/// (`burst / rate`, after which a bucket is full and forgetting it
/// changes nothing), the previous generation is dropped whole. Each
/// request costs one or two hash lookups, never a walk over the map.
pub struct Limiter {
    rate: f64,
    burst: f64,
    half: usize,
    refill: Duration,
    inner: Mutex<Generations>,
}

struct Generations {
    current: HashMap<IpAddr, (f64, Instant)>,
    previous: HashMap<IpAddr, (f64, Instant)>,
    since: Instant,
}

impl Limiter {
    pub fn new(rate: f64, burst: f64, cap: usize) -> Limiter {
        // Not capped at an hour: a bucket forgotten sooner than it
        // refills would come back full (issue #24). Only the map's size
        // bound (`cap`) may forget a bucket early, when more clients than
        // that arrive within one refill time.
        let refill = Duration::try_from_secs_f64((burst / rate).max(1.0)).unwrap_or(Duration::MAX);
        Limiter {
            rate,
            burst,
            half: (cap / 2).max(1),
            refill,
            inner: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
                since: Instant::now(),
            }),
        }
    }

    /// Takes a token from `ip`'s bucket (by [`bucket`]), if it has one.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let key = bucket(ip);
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if g.current.len() >= self.half || now.duration_since(g.since) >= self.refill {
            let full = std::mem::take(&mut g.current);
            g.previous = full;
            g.since = now;
        }
        let old = g.previous.remove(&key);
        let burst = self.burst;
        let (tokens, last) = g.current.entry(key).or_insert(old.unwrap_or((burst, now)));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * self.rate)
            .min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Entries held (for the tests).
    pub fn len(&self) -> usize {
        match self.inner.lock() {
            Ok(g) => g.current.len() + g.previous.len(),
            Err(p) => {
                let g = p.into_inner();
                g.current.len() + g.previous.len()
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("10.1.2.3/8").unwrap();
        assert!(c.contains(ip("10.200.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(Cidr::parse("127.0.0.1")
            .unwrap()
            .contains(ip("::ffff:127.0.0.1")));
        assert!(Cidr::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(!Cidr::parse("fd00::/8").unwrap().contains(ip("10.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        // IPv4-mapped: the prefix counts the 96 mapping bits (#24).
        let c = Cidr::parse("::ffff:10.0.0.0/104").unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.200.0.1")));
        assert!(c.contains(ip("::ffff:10.9.9.9")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert_eq!(
            Cidr::parse("::ffff:192.0.2.7").unwrap().to_string(),
            "192.0.2.7/32"
        );
        assert_eq!(
            Cidr::parse("[::ffff:192.0.2.0]/120").unwrap().to_string(),
            "192.0.2.0/24"
        );
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "x",
            "1.2.3.4/-1",
            "1.2.3.4/",
            "::ffff:10.0.0.0/95",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxy = [Cidr::parse("127.0.0.1").unwrap()];
        let fwd = h(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7")]);
        // No trusted proxy: the peer, whatever the header says.
        assert_eq!(client(ip("127.0.0.1"), &fwd, &[]), ip("127.0.0.1"));
        // An untrusted peer forging the header: the peer.
        assert_eq!(client(ip("192.0.2.1"), &fwd, &proxy), ip("192.0.2.1"));
        // Through the proxy: the right-most, the one the proxy saw.
        assert_eq!(client(ip("127.0.0.1"), &fwd, &proxy), ip("198.51.100.7"));
        // Trusted hops are skipped.
        let two = [proxy[0], Cidr::parse("10.0.0.0/8").unwrap()];
        let f = h(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.0.0.5")]);
        assert_eq!(client(ip("127.0.0.1"), &f, &two), ip("198.51.100.7"));
        // Several header lines are one list.
        let f = h(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.8"),
        ]);
        assert_eq!(client(ip("127.0.0.1"), &f, &proxy), ip("198.51.100.8"));
        // Garbage from the proxy's peer stops at the proxy.
        let f = h(&[("x-forwarded-for", "not-an-address")]);
        assert_eq!(client(ip("127.0.0.1"), &f, &proxy), ip("127.0.0.1"));
        // No header: the proxy itself.
        assert_eq!(client(ip("127.0.0.1"), &h(&[]), &proxy), ip("127.0.0.1"));
    }

    #[test]
    fn forwarded_for_is_read_when_there_is_no_x_forwarded_for() {
        let proxy = [Cidr::parse("127.0.0.1").unwrap()];
        let f = h(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, For=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(client(ip("127.0.0.1"), &f, &proxy), ip("2001:db8:cafe::17"));
        let f = h(&[("forwarded", "for=192.0.2.43:80")]);
        assert_eq!(client(ip("127.0.0.1"), &f, &proxy), ip("192.0.2.43"));
        let f = h(&[("forwarded", "for=unknown")]);
        assert_eq!(client(ip("127.0.0.1"), &f, &proxy), ip("127.0.0.1"));
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let l = Limiter::new(0.001, 2.0, 1000);
        let now = Instant::now();
        assert!(l.allow(ip("2001:db8:1:2::1"), now));
        assert!(l.allow(ip("2001:db8:1:2:ffff::9"), now));
        assert!(!l.allow(ip("2001:db8:1:2:abcd::1"), now));
        assert!(l.allow(ip("2001:db8:1:3::1"), now), "another /64");
        assert!(l.allow(ip("192.0.2.1"), now));
        assert!(l.allow(ip("192.0.2.2"), now), "IPv4 per address");
    }

    /// One report per two hours, a burst of two: a client that spent its
    /// burst and comes back after just over two hours (while others came
    /// and went) has one token, not a full bucket (#24).
    #[test]
    fn a_slow_bucket_is_not_forgotten_before_it_refills() {
        let l = Limiter::new(1.0 / 7_200.0, 2.0, 1_000);
        let t0 = Instant::now();
        let c = ip("198.51.100.1");
        assert!(l.allow(c, t0));
        assert!(l.allow(c, t0));
        assert!(!l.allow(c, t0));
        l.allow(ip("203.0.113.1"), t0 + Duration::from_secs(3_601));
        l.allow(ip("203.0.113.2"), t0 + Duration::from_secs(7_202));
        let back = t0 + Duration::from_secs(7_203);
        assert!(l.allow(c, back));
        assert!(!l.allow(c, back), "the bucket came back full");
    }

    #[test]
    fn the_limiter_stays_bounded_and_keeps_active_clients() {
        let l = Limiter::new(0.001, 3.0, 100);
        let now = Instant::now();
        let hot = ip("198.51.100.1");
        for _ in 0..3 {
            assert!(l.allow(hot, now));
        }
        for i in 0..100_000u32 {
            l.allow(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), now);
            if i % 40 == 0 {
                assert!(!l.allow(hot, now), "the hot client kept its empty bucket");
            }
            assert!(l.len() <= 100);
        }
    }
}
