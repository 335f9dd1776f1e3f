//! What an app release shipped: the pins, CA pins, expiration and
//! subdomain reach that one channel file (Android Network Security Config,
//! TrustKit plist or TrustKit-Android XML, an iOS Info.plist, OkHttp Java
//! or Kotlin source) holds for one domain, read the way the platform reads
//! it. Pure: bytes in, a [`Shipped`] or a one-line reason out. Reading the
//! file and recording the release are `publish`'s; writing these files is
//! [`crate::artifact`]'s.
//!
//! Only SHA-256 pins count. A file that the platform itself would refuse
//! (the app would fail at start) is refused here too, with the reason: it
//! cannot be a release that pins anything.

use base64::Engine as _;
use chrono::NaiveDate;

use crate::pin::Pin;
use crate::state::ChannelKind;

/// What a release pins for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipped {
    /// The pins that match any certificate of the chain (android, trustkit, okhttp),
    /// or the leaf identities (ios NSPinnedLeafIdentities).
    pub pins: Vec<Pin>,
    /// ios: NSPinnedCAIdentities.
    pub ca_pins: Vec<Pin>,
    /// android <pin-set expiration>, trustkit TSKExpirationDate / expirationDate.
    pub expires: Option<NaiveDate>,
    pub include_subdomains: bool,
    /// okhttp `*.` (one label) rather than `**.`.
    pub one_label: bool,
    /// Whether a chain without a pinned key is refused: TrustKit with
    /// `TSKEnforcePinning` (or TrustKit-Android's `enforcePinning`) false
    /// only reports it. Always true elsewhere.
    pub enforced: bool,
}

/// The largest file read: app configurations are kilobytes.
pub const MAX_BYTES: usize = 8 << 20;

/// Values a binary plist may expand to. One object may be referenced from
/// many places, so a few hundred bytes can stand for billions of values.
const MAX_PLIST_VALUES: u64 = 200_000;

/// XML nodes read from one Network Security Config.
const MAX_XML_NODES: u32 = 200_000;

/// What `file` (its bytes) pins for `domain`, read the way the platform reads it.
pub fn read(kind: ChannelKind, domain: &str, bytes: &[u8]) -> Result<Shipped, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "the file is {} bytes; pinctl reads app configurations up to {} MiB",
            bytes.len(),
            MAX_BYTES >> 20
        ));
    }
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() {
        return Err("no domain to look for".into());
    }
    match kind {
        ChannelKind::Android => nsc(&domain, text(bytes)?, Nsc::Framework),
        ChannelKind::Trustkit if is_plist(bytes) => trustkit_plist(&domain, &plist_tree(bytes)?.0),
        ChannelKind::Trustkit => nsc(&domain, text(bytes)?, Nsc::TrustKit),
        ChannelKind::Ios => ios_plist(&domain, &plist_tree(bytes)?.0),
        ChannelKind::Okhttp => code::read(&domain, text(bytes)?),
        ChannelKind::Web | ChannelKind::Dns => Err(format!(
            "a {kind} channel ships no app file; pinctl reads android, trustkit, ios and okhttp files"
        )),
    }
}

/// The file as text: UTF-8, without a byte-order mark.
fn text(bytes: &[u8]) -> Result<&str, String> {
    // An APK holds its res/xml files compiled to Android's binary XML
    // (chunk type 0x0003, header size 8).
    if bytes.starts_with(&[0x03, 0x00, 0x08, 0x00]) {
        return Err("compiled Android binary XML (as inside an APK): give the source res/xml file, or decode it first (aapt2 dump xmltree, apktool)".into());
    }
    if bytes.starts_with(b"bplist") {
        return Err("a binary property list, not this channel's text file".into());
    }
    let s = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))?;
    Ok(s.strip_prefix('\u{feff}').unwrap_or(s))
}

/// A pin as the platforms decode it: base64 of 32 bytes, blanks around it
/// ignored, padding optional.
fn pin(text: &str, n: usize) -> Result<Pin, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let raw = engine.decode(text.trim()).unwrap_or_default();
    let digest: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| format!("pin {n} is not base64 of 32 bytes"))?;
    Ok(Pin::from_digest(&digest))
}

/// An expiration as Android (`SimpleDateFormat("yyyy-MM-dd")`, not
/// lenient) and TrustKit read it; pinctl takes only the exact form, as
/// Android lint does.
fn date(s: &str) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shaped
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| format!("expiration {s:?} is not yyyy-MM-dd"))
}

/// Keeps the first of equal pins: the platforms hold them in sets.
fn dedup(pins: Vec<Pin>) -> Vec<Pin> {
    let mut out: Vec<Pin> = Vec::with_capacity(pins.len());
    for p in pins {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The name of the first element of an XML text, skipping the
/// declaration, comments and a DOCTYPE: enough to tell a plist from a
/// Network Security Config.
fn root_name(text: &str) -> Option<&str> {
    let mut s = text.strip_prefix('\u{feff}').unwrap_or(text);
    loop {
        s = s.trim_start();
        if let Some(r) = s.strip_prefix("<?") {
            s = &r[r.find("?>")? + 2..];
        } else if let Some(r) = s.strip_prefix("<!--") {
            s = &r[r.find("-->")? + 3..];
        } else if let Some(r) = s.strip_prefix("<!") {
            let gt = r.find('>')?;
            let end = match r.find('[') {
                // A DOCTYPE with an internal subset ends at `]>`.
                Some(a) if a < gt => {
                    let close = a + r[a..].find(']')?;
                    close + r[close..].find('>')?
                }
                _ => gt,
            };
            s = &r[end + 1..];
        } else if let Some(r) = s.strip_prefix('<') {
            let end = r
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(r.len());
            return Some(&r[..end]);
        } else {
            return None;
        }
    }
}

fn is_plist(bytes: &[u8]) -> bool {
    bytes.starts_with(b"bplist")
        || std::str::from_utf8(bytes)
            .ok()
            .and_then(root_name)
            .is_some_and(|n| n == "plist")
}

/// A property list, torn down without recursion when dropped: a deeply
/// nested file would otherwise overflow the stack in `Drop`.
struct Tree(plist::Value);

impl Drop for Tree {
    fn drop(&mut self) {
        let mut stack = vec![std::mem::replace(&mut self.0, plist::Value::Boolean(false))];
        while let Some(v) = stack.pop() {
            match v {
                plist::Value::Array(a) => stack.extend(a),
                plist::Value::Dictionary(d) => stack.extend(d.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
}

/// Reads an XML or binary property list (an IPA's Info.plist is binary).
/// The old ASCII form is not read: Info.plist files are never in it.
fn plist_tree(bytes: &[u8]) -> Result<Tree, String> {
    let v = if bytes.starts_with(b"bplist") {
        bplist_bounds(bytes)?;
        plist::Value::from_reader(std::io::Cursor::new(bytes))
    } else {
        if bytes.starts_with(&[0x03, 0x00, 0x08, 0x00]) {
            return Err("not a property list (compiled Android binary XML)".into());
        }
        plist::Value::from_reader_xml(bytes)
    };
    v.map(Tree).map_err(|e| {
        let e = e.to_string().replace(['\n', '\r'], " ");
        format!("not a property list ({e})")
    })
}

/// Refuses a binary plist whose references expand to more than
/// [`MAX_PLIST_VALUES`] values or loop, before the reader expands them.
fn bplist_bounds(b: &[u8]) -> Result<(), String> {
    let broken = || "not a property list (a broken binary plist)".to_string();
    let be = |s: &[u8]| s.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    if b.len() < 8 + 32 {
        return Err(broken());
    }
    let trailer = &b[b.len() - 32..];
    let offset_size = usize::from(trailer[6]);
    let ref_size = usize::from(trailer[7]);
    if !matches!(offset_size, 1..=4 | 8) || !matches!(ref_size, 1..=4 | 8) {
        return Err(broken());
    }
    let end = b.len() - 32;
    let count = usize::try_from(be(&trailer[8..16])).map_err(|_| broken())?;
    let root = usize::try_from(be(&trailer[16..24])).map_err(|_| broken())?;
    let table = usize::try_from(be(&trailer[24..32])).map_err(|_| broken())?;
    let table_end = count
        .checked_mul(offset_size)
        .and_then(|n| n.checked_add(table))
        .ok_or_else(broken)?;
    if count > end || table_end > end || root >= count {
        return Err(broken());
    }
    let offsets: Vec<usize> = b[table..table_end]
        .chunks(offset_size)
        .map(|c| usize::try_from(be(c)).unwrap_or(usize::MAX))
        .collect();
    // The objects an array or dictionary refers to (keys and values).
    let children = |i: usize| -> Result<Vec<usize>, String> {
        let off = offsets[i];
        let marker = *b.get(off).ok_or_else(broken)?;
        let per = match marker >> 4 {
            0xA => 1,
            0xD => 2,
            _ => return Ok(Vec::new()),
        };
        let (len, header) = if marker & 0xF == 0xF {
            let m = *b.get(off + 1).ok_or_else(broken)?;
            let size = 1usize << (m & 0xF);
            if m >> 4 != 1 || size > 8 {
                return Err(broken());
            }
            let raw = b.get(off + 2..off + 2 + size).ok_or_else(broken)?;
            (usize::try_from(be(raw)).map_err(|_| broken())?, 2 + size)
        } else {
            (usize::from(marker & 0xF), 1)
        };
        let n = len.checked_mul(per).ok_or_else(broken)?;
        let start = off.checked_add(header).ok_or_else(broken)?;
        let stop = n
            .checked_mul(ref_size)
            .and_then(|x| x.checked_add(start))
            .ok_or_else(broken)?;
        let refs = b
            .get(start..stop)
            .filter(|_| stop <= end)
            .ok_or_else(broken)?;
        refs.chunks(ref_size)
            .map(|c| {
                usize::try_from(be(c))
                    .ok()
                    .filter(|&r| r < count)
                    .ok_or_else(broken)
            })
            .collect()
    };
    // Post-order walk with an explicit stack; 1 = on the current path.
    let mut state = vec![0u8; count];
    let mut size = vec![0u64; count];
    let mut stack = vec![(root, false)];
    while let Some((i, done)) = stack.pop() {
        if done {
            let total = children(i)?
                .iter()
                .fold(1u64, |a, &c| a.saturating_add(size[c]));
            size[i] = total.min(MAX_PLIST_VALUES + 1);
            state[i] = 2;
            continue;
        }
        match state[i] {
            2 => continue,
            1 => return Err("not a property list (a binary plist object contains itself)".into()),
            _ => {}
        }
        state[i] = 1;
        stack.push((i, true));
        for c in children(i)? {
            if state[c] == 0 {
                stack.push((c, false));
            } else if state[c] == 1 {
                return Err("not a property list (a binary plist object contains itself)".into());
            }
        }
    }
    if size[root] > MAX_PLIST_VALUES {
        return Err(format!(
            "the binary plist expands to more than {MAX_PLIST_VALUES} values; an Info.plist holds far fewer"
        ));
    }
    Ok(())
}

fn dict<'a>(v: &'a plist::Value, what: &str) -> Result<&'a plist::Dictionary, String> {
    v.as_dictionary()
        .ok_or_else(|| format!("{what} is not a dictionary"))
}

fn boolean(d: &plist::Dictionary, key: &str, what: &str) -> Result<Option<bool>, String> {
    match d.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_boolean()
            .map(Some)
            .ok_or_else(|| format!("{what} → {key} is not a boolean")),
    }
}

/// The entry of `domain` in a dictionary keyed by domain names (compared
/// in lower case), or of the nearest parent that `reaches` it; with
/// whether it was the domain's own.
fn entry<'a>(
    domains: &'a plist::Dictionary,
    domain: &str,
    reaches: impl Fn(&str, &plist::Value) -> bool,
) -> Option<(&'a str, &'a plist::Value, bool)> {
    let mut best: Option<(&str, &plist::Value, bool)> = None;
    for (k, v) in domains {
        let name = k.trim_end_matches('.').to_ascii_lowercase();
        if name == domain {
            return Some((k.as_str(), v, true));
        }
        let parent = domain
            .strip_suffix(name.as_str())
            .is_some_and(|rest| rest.ends_with('.'));
        if parent && reaches(&name, v) && best.is_none_or(|(b, _, _)| b.len() < k.len()) {
            best = Some((k.as_str(), v, false));
        }
    }
    best
}

/// iOS App Transport Security: `NSAppTransportSecurity` →
/// `NSPinnedDomains` → domain, in a whole Info.plist or as the ATS
/// dictionary alone.
fn ios_plist(domain: &str, v: &plist::Value) -> Result<Shipped, String> {
    let top = dict(v, "the property list's top level")?;
    let pinned = match top.get("NSAppTransportSecurity") {
        Some(ats) => dict(ats, "NSAppTransportSecurity")?
            .get("NSPinnedDomains")
            .ok_or("NSAppTransportSecurity has no NSPinnedDomains")?,
        None => top
            .get("NSPinnedDomains")
            .ok_or("no NSAppTransportSecurity → NSPinnedDomains in the property list")?,
    };
    let pinned = dict(pinned, "NSPinnedDomains")?;
    // NSIncludesSubdomains reaches one label below the domain only.
    let (key, e, own) = entry(pinned, domain, |name, v| {
        domain.len() > name.len()
            && !domain[..domain.len() - name.len() - 1].contains('.')
            && v.as_dictionary()
                .and_then(|d| d.get("NSIncludesSubdomains"))
                .and_then(plist::Value::as_boolean)
                == Some(true)
    })
    .ok_or_else(|| format!("no NSPinnedDomains entry pins {domain}"))?;
    let what = format!("NSPinnedDomains → {key}");
    let e = dict(e, &what)?;
    let include = boolean(e, "NSIncludesSubdomains", &what)?.unwrap_or(false);
    let identities = |k: &str| -> Result<Vec<Pin>, String> {
        let Some(list) = e.get(k) else {
            return Ok(Vec::new());
        };
        let list = list
            .as_array()
            .ok_or_else(|| format!("{what} → {k} is not an array"))?;
        if list.is_empty() {
            return Err(format!("{what} → {k} is empty"));
        }
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let s = item
                .as_dictionary()
                .and_then(|d| d.get("SPKI-SHA256-BASE64"))
                .and_then(plist::Value::as_string)
                .ok_or_else(|| {
                    format!(
                        "{what} → {k} item {} has no SPKI-SHA256-BASE64 string",
                        i + 1
                    )
                })?;
            out.push(pin(s, i + 1).map_err(|m| format!("{what} → {k}: {m}"))?);
        }
        Ok(dedup(out))
    };
    let leaf = identities("NSPinnedLeafIdentities")?;
    let ca = identities("NSPinnedCAIdentities")?;
    if leaf.is_empty() && ca.is_empty() {
        return Err(format!(
            "{what} has neither NSPinnedLeafIdentities nor NSPinnedCAIdentities"
        ));
    }
    Ok(Shipped {
        pins: leaf,
        ca_pins: ca,
        expires: None,
        // Through a parent, the domain's own subdomains are two labels
        // below the parent: out of reach.
        include_subdomains: own && include,
        one_label: false,
        enforced: true,
    })
}

/// TrustKit for iOS: `TSKConfiguration` → `TSKPinnedDomains` → domain,
/// in a whole Info.plist or as the configuration dictionary alone.
fn trustkit_plist(domain: &str, v: &plist::Value) -> Result<Shipped, String> {
    let top = dict(v, "the property list's top level")?;
    let cfg = match top.get("TSKConfiguration") {
        Some(c) => dict(c, "TSKConfiguration")?,
        None if top.contains_key("TSKPinnedDomains") => top,
        None => return Err("no TSKConfiguration in the property list".into()),
    };
    let domains = dict(
        cfg.get("TSKPinnedDomains")
            .ok_or("TSKConfiguration has no TSKPinnedDomains")?,
        "TSKPinnedDomains",
    )?;
    // The real key is spelled kSKExcludeSubdomainFromParentPolicy.
    const EXCLUDE: &str = "kSKExcludeSubdomainFromParentPolicy";
    let (key, e, own) = entry(domains, domain, |_, v| {
        v.as_dictionary()
            .and_then(|d| d.get("TSKIncludeSubdomains"))
            .and_then(plist::Value::as_boolean)
            == Some(true)
    })
    .ok_or_else(|| format!("no TSKPinnedDomains entry pins {domain}"))?;
    let what = format!("TSKPinnedDomains → {key}");
    let e = dict(e, &what)?;
    if boolean(e, EXCLUDE, &what)? == Some(true) {
        return Err(format!(
            "{what} sets {EXCLUDE}: TrustKit pins nothing for {domain}"
        ));
    }
    let enforced = boolean(e, "TSKEnforcePinning", &what)?.unwrap_or(true);
    let include = boolean(e, "TSKIncludeSubdomains", &what)?.unwrap_or(false);
    let expires =
        match e.get("TSKExpirationDate") {
            None => None,
            Some(d) => {
                let s = d
                    .as_string()
                    .ok_or_else(|| format!("{what} → TSKExpirationDate is not a string"))?;
                // TrustKit turns an unparsable date into none at all: pinning
                // for ever, silently.
                Some(date(s).map_err(|m| {
                    format!("{what}: {m} (TrustKit would ignore it and pin for ever)")
                })?)
            }
        };
    let mut pins = Vec::new();
    if let Some(list) = e.get("TSKPublicKeyHashes") {
        let list = list
            .as_array()
            .ok_or_else(|| format!("{what} → TSKPublicKeyHashes is not an array"))?;
        for (i, h) in list.iter().enumerate() {
            let s = h
                .as_string()
                .ok_or_else(|| format!("{what}: pin {} is not a string", i + 1))?;
            pins.push(pin(s, i + 1).map_err(|m| format!("{what}: {m}"))?);
        }
    }
    let pins = dedup(pins);
    let needed = if enforced { 2 } else { 1 };
    if pins.len() < needed {
        return Err(format!(
            "{what} has {} distinct pin(s); TrustKit refuses fewer than {needed}{} and the app would not start",
            pins.len(),
            if enforced { " when TSKEnforcePinning is on" } else { "" }
        ));
    }
    Ok(Shipped {
        pins,
        ca_pins: Vec::new(),
        expires,
        include_subdomains: !own || include,
        one_label: false,
        enforced,
    })
}

/// Who reads a Network Security Config file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nsc {
    /// Android's framework (`XmlConfigSource`).
    Framework,
    /// TrustKit-Android's own parser of the same file, which differs:
    /// `digest` must be exactly `SHA-256`, only the last `<domain>` of a
    /// `<domain-config>` counts, includeSubdomains and the expiration are
    /// inherited from a parent on their own, and `enforcePinning` is off
    /// unless set.
    TrustKit,
}

/// One `<pin-set>`, checked as the parser that reads it checks every
/// pin-set of the file (one bad pin-set anywhere and the app fails).
struct PinSet {
    pins: Vec<Pin>,
    expires: Option<NaiveDate>,
}

fn pin_set(ps: roxmltree::Node, who: Nsc) -> Result<PinSet, String> {
    let expires = ps
        .attribute("expiration")
        .map(|e| date(e).map_err(|m| format!("<pin-set>: {m}")))
        .transpose()?;
    let mut pins = Vec::new();
    for (i, p) in ps
        .children()
        .filter(|c| c.is_element() && c.has_tag_name("pin"))
        .enumerate()
    {
        let n = i + 1;
        let digest = p
            .attribute("digest")
            .ok_or_else(|| format!("<pin-set>: pin {n} has no digest attribute"))?;
        // Other digests make the framework throw "Unsupported pin digest
        // algorithm" for the whole file (TrustKit-Android: "Unexpected
        // digest value"): the app would not start, so they are refused,
        // not skipped.
        let supported = match who {
            Nsc::Framework => digest.eq_ignore_ascii_case("SHA-256"),
            Nsc::TrustKit => digest == "SHA-256",
        };
        if !supported {
            return Err(format!(
                "<pin-set>: pin {n} has digest {digest:?}; only SHA-256 is read (the platform refuses the file otherwise)"
            ));
        }
        if p.children().any(|c| c.is_element()) {
            return Err(format!("<pin-set>: pin {n} contains elements"));
        }
        let text: String = p.children().filter_map(|c| c.text()).collect();
        pins.push(pin(&text, n).map_err(|m| format!("<pin-set>: {m}"))?);
    }
    Ok(PinSet {
        pins: dedup(pins),
        expires,
    })
}

fn parse_bool(v: &str, what: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{what} {v:?} is not true or false")),
    }
}

fn is(n: &roxmltree::Node, tag: &str) -> bool {
    n.is_element() && n.tag_name().name() == tag
}

/// A domain-config itself, then its enclosing ones, nearest first.
fn lineage<'a, 'i>(c: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    c.ancestors().filter(|a| is(a, "domain-config")).collect()
}

fn set_of<'a, 'i>(c: &roxmltree::Node<'a, 'i>) -> Option<roxmltree::Node<'a, 'i>> {
    c.children().find(|x| is(x, "pin-set"))
}

/// A Network Security Config (Android's, or TrustKit-Android's reading of
/// it).
fn nsc(domain: &str, text: &str, who: Nsc) -> Result<Shipped, String> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_XML_NODES,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts)
        .map_err(|e| format!("not well-formed XML ({e})"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "network-security-config" {
        return Err(format!(
            "the root element is <{}>, not <network-security-config>",
            root.tag_name().name()
        ));
    }
    let configs: Vec<roxmltree::Node> = root
        .descendants()
        .filter(|n| is(n, "domain-config"))
        .collect();
    // Every rule of the file that the parser enforces while reading it.
    for n in root.descendants().filter(|n| is(n, "pin-set")) {
        let parent = n
            .parent_element()
            .map(|p| p.tag_name().name())
            .unwrap_or("");
        if parent != "domain-config" {
            return Err(format!("<pin-set> is not allowed in <{parent}>"));
        }
        pin_set(n, who)?;
    }
    let mut seen: Vec<String> = Vec::new();
    // (name, includeSubdomains as written, its domain-config)
    let mut rules: Vec<(String, Option<bool>, roxmltree::Node)> = Vec::new();
    for c in &configs {
        let parent = c
            .parent_element()
            .map(|p| p.tag_name().name())
            .unwrap_or("");
        if parent != "domain-config" && parent != "network-security-config" {
            return Err(format!("<domain-config> is not allowed in <{parent}>"));
        }
        if c.children().filter(|x| is(x, "pin-set")).count() > 1 {
            return Err("a <domain-config> holds more than one <pin-set>".into());
        }
        let domains: Vec<roxmltree::Node> = c.children().filter(|x| is(x, "domain")).collect();
        if domains.is_empty() {
            return Err("a <domain-config> has no <domain>".into());
        }
        for d in &domains {
            let name: String = d.children().filter_map(|x| x.text()).collect();
            let name = name.trim().to_ascii_lowercase();
            let include = match (d.attribute("includeSubdomains"), who) {
                (None, _) => None,
                (Some(v), Nsc::Framework) => Some(parse_bool(v, "includeSubdomains")?),
                // Java's Boolean.parseBoolean: "true" in any case, else false.
                (Some(v), Nsc::TrustKit) => Some(v.eq_ignore_ascii_case("true")),
            };
            if who == Nsc::Framework {
                if seen.contains(&name) {
                    return Err(format!("{name} has already been specified"));
                }
                seen.push(name.clone());
            }
            rules.push((name, include, *c));
        }
        if who == Nsc::TrustKit {
            // TrustKit-Android keeps the last <domain> of a domain-config.
            let first = rules.len() - domains.len();
            let last = rules.pop();
            rules.truncate(first);
            rules.extend(last);
        }
    }
    let include_of = |rule: &(String, Option<bool>, roxmltree::Node)| -> bool {
        match who {
            Nsc::Framework => rule.1.unwrap_or(false),
            Nsc::TrustKit => rule
                .1
                .or_else(|| {
                    lineage(rule.2)
                        .iter()
                        .skip(1)
                        .find_map(|p| rules.iter().filter(|r| r.2 == *p).find_map(|r| r.1))
                })
                .unwrap_or(false),
        }
    };
    // The most specific rule: the domain's own, else the longest parent
    // that includes subdomains (any depth).
    let rule = rules
        .iter()
        .find(|r| r.0 == domain)
        .or_else(|| {
            rules
                .iter()
                .filter(|r| {
                    domain
                        .strip_suffix(r.0.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
                        && include_of(r)
                })
                .max_by_key(|r| r.0.len())
        })
        .ok_or_else(|| format!("no domain-config pins {domain}"))?;
    let own = rule.0 == domain;
    let chain = lineage(rule.2);
    let holder = chain
        .iter()
        .find_map(set_of)
        .ok_or_else(|| format!("no <pin-set> applies to {domain}"))?;
    let set = pin_set(holder, who)?;
    let expires = match who {
        // The framework inherits the pin-set whole, expiration with it.
        Nsc::Framework => set.expires,
        Nsc::TrustKit => chain
            .iter()
            .filter_map(set_of)
            .find_map(|ps| ps.attribute("expiration"))
            .map(date)
            .transpose()?,
    };
    if set.pins.is_empty() {
        return Err(format!("the <pin-set> for {domain} holds no pin"));
    }
    let enforced = match who {
        Nsc::Framework => true,
        Nsc::TrustKit => {
            let v = chain
                .iter()
                .filter_map(|c| c.children().find(|x| is(x, "trustkit-config")))
                .find_map(|t| t.attribute("enforcePinning"))
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if v && set.pins.len() < 2 {
                return Err(format!(
                    "the <pin-set> for {domain} has 1 distinct pin; TrustKit-Android refuses fewer than 2 when enforcePinning is true and the app would not start"
                ));
            }
            v
        }
    };
    Ok(Shipped {
        pins: set.pins,
        ca_pins: Vec::new(),
        expires,
        include_subdomains: !own || include_of(rule),
        one_label: false,
        enforced,
    })
}

/// OkHttp `CertificatePinner.Builder()` calls in Java or Kotlin source,
/// found by a tokenizer that knows string literals and comments, never by
/// searching the text.
mod code {
    use super::{dedup, pin, Shipped};
    use crate::pin::Pin;

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        /// A plain string literal, its escapes decoded; `template` when it
        /// holds `$name` or `${`, which Kotlin reads as a template.
        Str {
            value: String,
            template: bool,
        },
        /// A raw (Kotlin) or text-block (Java) string: not read.
        Raw,
        Ident(String),
        Punct(char),
        /// A number or a character literal.
        Other,
    }

    struct Token {
        tok: Tok,
        line: usize,
    }

    fn lex(src: &str) -> Result<Vec<Token>, String> {
        let c: Vec<char> = src.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        let mut line = 1;
        let at = |j: usize| c.get(j).copied();
        while let Some(ch) = at(i) {
            let start = line;
            if ch == '\n' {
                line += 1;
                i += 1;
            } else if ch.is_whitespace() {
                i += 1;
            } else if ch == '/' && at(i + 1) == Some('/') {
                while at(i).is_some_and(|x| x != '\n') {
                    i += 1;
                }
            } else if ch == '/' && at(i + 1) == Some('*') {
                i += 2;
                loop {
                    match (at(i), at(i + 1)) {
                        (Some('*'), Some('/')) => {
                            i += 2;
                            break;
                        }
                        // Java ends a comment at its first `*/`, Kotlin
                        // nests them: the two read on differently.
                        (Some('/'), Some('*')) => {
                            return Err(format!(
                                "line {start}: a block comment holds `/*`, which Java and Kotlin end at different places"
                            ))
                        }
                        (Some(x), _) => {
                            if x == '\n' {
                                line += 1;
                            }
                            i += 1;
                        }
                        (None, _) => {
                            return Err(format!("line {start}: a block comment never ends"))
                        }
                    }
                }
            } else if ch == '"' && at(i + 1) == Some('"') && at(i + 2) == Some('"') {
                i += 3;
                loop {
                    match at(i) {
                        None => return Err(format!("line {start}: a raw string never ends")),
                        Some('"') if at(i + 1) == Some('"') && at(i + 2) == Some('"') => {
                            i += 3;
                            // Kotlin: quotes right before the closing
                            // three belong to the string.
                            while at(i) == Some('"') {
                                i += 1;
                            }
                            break;
                        }
                        Some('\\') => i += 2,
                        Some(x) => {
                            if x == '\n' {
                                line += 1;
                            }
                            i += 1;
                        }
                    }
                }
                out.push(Token {
                    tok: Tok::Raw,
                    line: start,
                });
            } else if ch == '"' {
                i += 1;
                let mut value = String::new();
                let mut template = false;
                loop {
                    let x = at(i).ok_or_else(|| format!("line {start}: a string never ends"))?;
                    i += 1;
                    match x {
                        '"' => break,
                        '\n' => {
                            return Err(format!("line {start}: a string is not closed on its line"))
                        }
                        '\\' => {
                            let e = at(i)
                                .ok_or_else(|| format!("line {start}: a string never ends"))?;
                            i += 1;
                            match e {
                                'n' => value.push('\n'),
                                't' => value.push('\t'),
                                'r' => value.push('\r'),
                                'b' => value.push('\u{8}'),
                                'f' => value.push('\u{c}'),
                                's' => value.push(' '),
                                '"' | '\'' | '\\' | '$' => value.push(e),
                                'u' => {
                                    while at(i) == Some('u') {
                                        i += 1;
                                    }
                                    let hex: String =
                                        c.get(i..i + 4).unwrap_or(&[]).iter().collect();
                                    let ch = u32::from_str_radix(&hex, 16)
                                        .ok()
                                        .filter(|_| hex.len() == 4)
                                        .and_then(char::from_u32)
                                        .ok_or_else(|| {
                                            format!("line {start}: a string holds a bad \\u escape")
                                        })?;
                                    value.push(ch);
                                    i += 4;
                                }
                                '0'..='7' => {
                                    // Java octal escapes, up to \377.
                                    let mut v = e.to_digit(8).unwrap_or(0);
                                    let max = if e <= '3' { 2 } else { 1 };
                                    for _ in 0..max {
                                        match at(i).and_then(|d| d.to_digit(8)) {
                                            Some(d) => {
                                                v = v * 8 + d;
                                                i += 1;
                                            }
                                            None => break,
                                        }
                                    }
                                    value.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                                }
                                _ => {
                                    return Err(format!(
                                        "line {start}: a string holds the unknown escape \\{e}"
                                    ))
                                }
                            }
                        }
                        '$' => {
                            if at(i).is_some_and(|n| n == '{' || n == '_' || n.is_alphabetic()) {
                                template = true;
                            }
                            value.push('$');
                        }
                        x => value.push(x),
                    }
                }
                out.push(Token {
                    tok: Tok::Str { value, template },
                    line: start,
                });
            } else if ch == '\'' {
                i += 1;
                loop {
                    match at(i) {
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => i += 2,
                        Some('\n') | None => {
                            return Err(format!("line {start}: a character literal never ends"))
                        }
                        Some(_) => i += 1,
                    }
                }
                out.push(Token {
                    tok: Tok::Other,
                    line: start,
                });
            } else if ch == '`' {
                let mut name = String::new();
                i += 1;
                loop {
                    match at(i) {
                        Some('`') => {
                            i += 1;
                            break;
                        }
                        Some('\n') | None => {
                            return Err(format!("line {start}: a `name` never ends"))
                        }
                        Some(x) => {
                            name.push(x);
                            i += 1;
                        }
                    }
                }
                out.push(Token {
                    tok: Tok::Ident(name),
                    line: start,
                });
            } else if ch.is_alphabetic() || ch == '_' || ch == '$' {
                let mut name = String::new();
                while let Some(x) = at(i).filter(|x| x.is_alphanumeric() || *x == '_' || *x == '$')
                {
                    name.push(x);
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(name),
                    line: start,
                });
            } else if ch.is_ascii_digit() {
                while at(i).is_some_and(|x| x.is_alphanumeric() || x == '_') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Other,
                    line: start,
                });
            } else {
                out.push(Token {
                    tok: Tok::Punct(ch),
                    line: start,
                });
                i += 1;
            }
        }
        Ok(out)
    }

    /// One `.add(pattern, pins…)` call, its arguments as written.
    struct Add {
        line: usize,
        args: Vec<String>,
    }

    fn calls(t: &[Token]) -> Result<Vec<Add>, String> {
        let ident = |i: usize, s: &str| matches!(t.get(i), Some(Token { tok: Tok::Ident(n), .. }) if n == s);
        let punct = |i: usize, p: char| matches!(t.get(i), Some(Token { tok: Tok::Punct(x), .. }) if *x == p);
        let line = |i: usize| t.get(i).or(t.last()).map_or(1, |x| x.line);
        let mut adds = Vec::new();
        let mut builders = 0;
        let mut i = 0;
        while i < t.len() {
            let builder = ident(i, "CertificatePinner")
                && punct(i + 1, '.')
                && ident(i + 2, "Builder")
                && punct(i + 3, '(')
                && punct(i + 4, ')');
            if !builder {
                i += 1;
                continue;
            }
            builders += 1;
            let opened = line(i);
            i += 5;
            loop {
                if punct(i, '.') && ident(i + 1, "add") && punct(i + 2, '(') {
                    let at = line(i + 1);
                    i += 3;
                    let mut args = Vec::new();
                    loop {
                        if punct(i, ')') {
                            i += 1;
                            break;
                        }
                        let k = args.len() + 1;
                        let mut value = String::new();
                        loop {
                            match t.get(i).map(|x| &x.tok) {
                                Some(Tok::Str { value: v, template: false }) => value.push_str(v),
                                Some(Tok::Str { template: true, .. }) => {
                                    return Err(format!(
                                        "line {at}: argument {k} of .add( holds a Kotlin string template ($); pinctl reads plain string literals only"
                                    ))
                                }
                                _ => {
                                    return Err(format!(
                                        "line {at}: argument {k} of .add( is not a string literal; pinctl reads string literals only"
                                    ))
                                }
                            }
                            i += 1;
                            if punct(i, '+') {
                                i += 1;
                            } else {
                                break;
                            }
                        }
                        args.push(value);
                        if punct(i, ',') {
                            i += 1;
                        } else if !punct(i, ')') {
                            return Err(format!(
                                "line {at}: argument {k} of .add( is not a string literal; pinctl reads string literals only"
                            ));
                        }
                    }
                    adds.push(Add { line: at, args });
                } else if punct(i, '.')
                    && ident(i + 1, "build")
                    && punct(i + 2, '(')
                    && punct(i + 3, ')')
                {
                    i += 4;
                    break;
                } else {
                    return Err(format!(
                        "line {opened}: this CertificatePinner.Builder() is not one chain of .add(…) calls ending in .build(); pinctl reads that form only"
                    ));
                }
            }
        }
        if builders == 0 {
            return Err("no CertificatePinner.Builder() in the file".into());
        }
        Ok(adds)
    }

    /// A host pattern as OkHttp 4 takes it: a host, `*.host` (exactly one
    /// label more) or `**.host` (any number, none included).
    #[derive(Debug)]
    enum Pattern {
        Exact(String),
        OneLabel(String),
        AnyDepth(String),
    }

    impl Pattern {
        fn parse(p: &str, line: usize) -> Result<Pattern, String> {
            let lower = p.to_ascii_lowercase();
            let (make, rest): (fn(String) -> Pattern, &str) =
                if let Some(r) = lower.strip_prefix("**.") {
                    (Pattern::AnyDepth, r)
                } else if let Some(r) = lower.strip_prefix("*.") {
                    (Pattern::OneLabel, r)
                } else {
                    (Pattern::Exact, lower.as_str())
                };
            if rest.is_empty() || rest.contains('*') {
                return Err(format!(
                    "line {line}: unexpected host pattern {p:?} (OkHttp throws)"
                ));
            }
            if !rest.is_ascii() {
                return Err(format!(
                    "line {line}: host pattern {p:?} is not ASCII; write its punycode form"
                ));
            }
            Ok(make(rest.to_string()))
        }

        fn matches(&self, host: &str) -> bool {
            match self {
                Pattern::Exact(h) => host == h,
                Pattern::OneLabel(s) => host
                    .strip_suffix(s.as_str())
                    .and_then(|r| r.strip_suffix('.'))
                    .is_some_and(|label| !label.is_empty() && !label.contains('.')),
                Pattern::AnyDepth(s) => {
                    host == s
                        || host
                            .strip_suffix(s.as_str())
                            .is_some_and(|r| r.len() > 1 && r.ends_with('.'))
                }
            }
        }
    }

    pub(super) fn read(domain: &str, src: &str) -> Result<Shipped, String> {
        let adds = calls(&lex(src)?)?;
        let mut rules: Vec<(Pattern, Vec<Pin>)> = Vec::new();
        for a in &adds {
            let Some((p, pins)) = a.args.split_first() else {
                return Err(format!("line {}: .add() names no host", a.line));
            };
            let pattern = Pattern::parse(p, a.line)?;
            let mut got = Vec::new();
            for (k, s) in pins.iter().enumerate() {
                let n = k + 1;
                if let Some(b64) = s.strip_prefix("sha256/") {
                    got.push(pin(b64, n).map_err(|m| format!("line {}: {m}", a.line))?);
                } else if s.starts_with("sha1/") {
                    // OkHttp still accepts SHA-1 pins; pinctl cannot tell
                    // which key one stands for, so what the release accepts
                    // would be unknown.
                    return Err(format!(
                        "line {}: pin {n} is a SHA-1 pin; pinctl reads SHA-256 pins only",
                        a.line
                    ));
                } else {
                    return Err(format!(
                        "line {}: pin {n} starts with neither sha256/ nor sha1/ (OkHttp throws)",
                        a.line
                    ));
                }
            }
            rules.push((pattern, got));
        }
        // OkHttp checks the union of the pins of every pattern that
        // matches the host.
        let pins_for = |host: &str| -> Vec<Pin> {
            let mut v: Vec<Pin> = rules
                .iter()
                .filter(|(p, _)| p.matches(host))
                .flat_map(|(_, pins)| pins.iter().cloned())
                .collect();
            v = dedup(v);
            v
        };
        let host = pins_for(domain);
        if host.is_empty() {
            return Err(format!("no CertificatePinner .add( pins {domain}"));
        }
        // Two probes tell how far below the domain the pins reach.
        let one = pins_for(&format!("pinctl-probe.{domain}"));
        let two = pins_for(&format!("pinctl-probe.pinctl-probe.{domain}"));
        let same = |v: &[Pin]| v.len() == host.len() && v.iter().all(|p| host.contains(p));
        for (v, depth) in [(&one, "one label"), (&two, "two labels")] {
            if !v.is_empty() && !same(v) {
                return Err(format!(
                    "{domain} and names {depth} below it are pinned to different pins; pinctl records one pinset per release"
                ));
            }
        }
        let include_subdomains = !one.is_empty();
        Ok(Shipped {
            pins: host,
            ca_pins: Vec::new(),
            expires: None,
            include_subdomains,
            one_label: include_subdomains && two.is_empty(),
            enforced: true,
        })
    }

    #[cfg(test)]
    pub(super) fn tokens(src: &str) -> Result<usize, String> {
        lex(src).map(|t| t.len())
    }
}
