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

/// How deep domain-configs may nest: real files nest once or twice, and
/// each lookup walks up the nesting.
const MAX_NESTING: usize = 32;

/// What `file` (its bytes) pins for `domain`, read the way the platform reads it.
pub fn read(kind: ChannelKind, domain: &str, bytes: &[u8]) -> Result<Shipped, String> {
    // A reason may quote the file (a domain, a key): its control
    // characters are escaped, and it stays on one line.
    read_raw(kind, domain, bytes).map_err(|e| crate::text::printable(&e).into_owned())
}

fn read_raw(kind: ChannelKind, domain: &str, bytes: &[u8]) -> Result<Shipped, String> {
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
    let mut seen = std::collections::HashSet::with_capacity(pins.len());
    pins.into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect()
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
        if off >= end {
            return Err(broken());
        }
        let marker = b[off];
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
    /// The Android framework's own parser.
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
    let mut seen = std::collections::HashSet::new();
    // (name, includeSubdomains as written, its domain-config)
    let mut rules: Vec<(String, Option<bool>, roxmltree::Node)> = Vec::new();
    // Document order visits a domain-config after the one around it.
    let mut depth: std::collections::HashMap<roxmltree::NodeId, usize> = Default::default();
    for c in &configs {
        let parent = c.parent_element();
        let name = parent.map(|p| p.tag_name().name()).unwrap_or("");
        if name != "domain-config" && name != "network-security-config" {
            return Err(format!("<domain-config> is not allowed in <{name}>"));
        }
        let d = 1 + parent
            .and_then(|p| depth.get(&p.id()).copied())
            .unwrap_or(0);
        if d > MAX_NESTING {
            return Err(format!(
                "domain-configs nest more than {MAX_NESTING} deep; pinctl reads no deeper"
            ));
        }
        depth.insert(c.id(), d);
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
            if who == Nsc::Framework && !seen.insert(name.clone()) {
                return Err(format!("{name} has already been specified"));
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
    // TrustKit-Android: one rule per domain-config, found by its node.
    let by_config: std::collections::HashMap<roxmltree::NodeId, Option<bool>> =
        rules.iter().map(|r| (r.2.id(), r.1)).collect();
    let include_of = |rule: &(String, Option<bool>, roxmltree::Node)| -> bool {
        match who {
            Nsc::Framework => rule.1.unwrap_or(false),
            Nsc::TrustKit => rule
                .1
                .or_else(|| {
                    lineage(rule.2)
                        .iter()
                        .skip(1)
                        .find_map(|p| by_config.get(&p.id()).copied().flatten())
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
        let set: std::collections::HashSet<&Pin> = host.iter().collect();
        let same = |v: &[Pin]| v.len() == host.len() && v.iter().all(|p| set.contains(p));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{render, Lang};
    use crate::lifecycle::tests::{channel, pin_of, site_at, t};
    use crate::state::Site;

    const A: &str = "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=";
    const B: &str = "E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=";
    const C: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";

    fn p(s: &str) -> Pin {
        Pin::parse(s).unwrap()
    }

    fn site_with(kind: ChannelKind, include: bool, one_label: bool) -> Site {
        let at = t("2030-01-01T00:00:00Z");
        let mut site = site_at(at);
        let mut c = channel("app", kind, at);
        c.include_subdomains = include;
        c.one_label = one_label;
        site.channels.push(c);
        site.ca_pins.push(crate::state::CaPin {
            name: "root".into(),
            pin: pin_of("root"),
            added: at,
            subject: None,
        });
        site
    }

    /// Every channel's snippet, as pinctl renders it, reads back to the
    /// pinset it was rendered from.
    #[test]
    fn every_rendered_snippet_reads_back_to_its_pinset() {
        let now = t("2030-01-01T00:00:00Z");
        let date = NaiveDate::from_ymd_opt(2030, 6, 1).unwrap();
        let cases = [
            (ChannelKind::Android, None, true),
            (ChannelKind::Trustkit, Some(Lang::Plist), true),
            (ChannelKind::Trustkit, Some(Lang::Xml), true),
            (ChannelKind::Ios, None, false),
            (ChannelKind::Okhttp, Some(Lang::Kotlin), false),
            (ChannelKind::Okhttp, Some(Lang::Java), false),
        ];
        let mut n = 0;
        for (kind, lang, expiring) in cases {
            for include in [false, true] {
                for one_label in [false, true] {
                    if one_label && kind != ChannelKind::Okhttp {
                        continue;
                    }
                    let site = site_with(kind, include, one_label);
                    let expires = expiring.then_some(date);
                    let text = render(&site, "app", now, expires, lang, None).unwrap();
                    let want =
                        crate::lifecycle::desired_publication(&site, "app", now, None, expires)
                            .unwrap();
                    let got = read(kind, "example.com", text.as_bytes())
                        .unwrap_or_else(|e| panic!("{kind} {lang:?}: {e}\n{text}"));
                    let label = format!("{kind} {lang:?} include={include} one_label={one_label}");
                    assert_eq!(got.pins, want.pins, "{label}");
                    assert_eq!(got.ca_pins, want.ca_pins, "{label}");
                    assert_eq!(got.expires, want.expires, "{label}");
                    assert_eq!(got.include_subdomains, include, "{label}");
                    assert_eq!(got.one_label, include && one_label, "{label}");
                    assert!(got.enforced, "{label}");
                    assert!(got.pins.len() >= 3, "{label}: {got:?}");
                    n += 1;
                }
            }
        }
        assert_eq!(n, 16);
    }

    fn to_binary(xml: &[u8]) -> Vec<u8> {
        let v = plist::Value::from_reader_xml(xml).unwrap();
        let mut out = Vec::new();
        v.to_writer_binary(&mut out).unwrap();
        assert!(out.starts_with(b"bplist00"));
        out
    }

    /// An IPA's Info.plist is binary: it reads as the XML one does.
    #[test]
    fn a_binary_plist_reads_as_the_xml_one() {
        let now = t("2030-01-01T00:00:00Z");
        let date = NaiveDate::from_ymd_opt(2030, 6, 1).unwrap();
        for (kind, expires) in [
            (ChannelKind::Ios, None),
            (ChannelKind::Trustkit, Some(date)),
        ] {
            let site = site_with(kind, true, false);
            let text = render(&site, "app", now, expires, None, None).unwrap();
            let xml = read(kind, "example.com", text.as_bytes()).unwrap();
            let bin = read(kind, "example.com", &to_binary(text.as_bytes())).unwrap();
            assert_eq!(xml, bin, "{kind}");
        }
        // A whole Info.plist, binary, with other keys around the pins.
        let info = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>CFBundleIdentifier</key><string>com.example.app</string>
<key>UIRequiredDeviceCapabilities</key><array><string>arm64</string></array>
<key>NSAppTransportSecurity</key><dict>
 <key>NSAllowsArbitraryLoads</key><false/>
 <key>NSPinnedDomains</key><dict>
  <key>Example.COM</key><dict>
   <key>NSIncludesSubdomains</key><true/>
   <key>NSPinnedCAIdentities</key><array><dict><key>SPKI-SHA256-BASE64</key><string>{C}</string></dict></array>
   <key>NSPinnedLeafIdentities</key><array>
    <dict><key>SPKI-SHA256-BASE64</key><string>{A}</string></dict>
    <dict><key>SPKI-SHA256-BASE64</key><string>{B}</string></dict>
   </array></dict>
  <key>other.example.net</key><dict>
   <key>NSPinnedLeafIdentities</key><array><dict><key>SPKI-SHA256-BASE64</key><string>{C}</string></dict></array></dict>
 </dict></dict>
<key>TSKConfiguration</key><dict>
 <key>TSKSwizzleNetworkDelegates</key><true/>
 <key>TSKPinnedDomains</key><dict>
  <key>example.com</key><dict>
   <key>TSKEnforcePinning</key><false/>
   <key>TSKPublicKeyHashes</key><array><string>{A}</string></array>
  </dict></dict></dict>
</dict></plist>"#
        );
        let bin = to_binary(info.as_bytes());
        for bytes in [info.as_bytes(), &bin[..]] {
            let ios = read(ChannelKind::Ios, "example.com", bytes).unwrap();
            assert_eq!(ios.pins, vec![p(A), p(B)]);
            assert_eq!(ios.ca_pins, vec![p(C)]);
            assert!(ios.include_subdomains);
            // NSIncludesSubdomains reaches one label: api. is covered by
            // the parent, its own subdomains are not.
            let api = read(ChannelKind::Ios, "api.example.com", bytes).unwrap();
            assert_eq!(api.pins, vec![p(A), p(B)]);
            assert!(!api.include_subdomains);
            let e = read(ChannelKind::Ios, "a.b.example.com", bytes).unwrap_err();
            assert_eq!(e, "no NSPinnedDomains entry pins a.b.example.com");
            // TrustKit with enforcement off needs one pin and only reports.
            let tk = read(ChannelKind::Trustkit, "example.com", bytes).unwrap();
            assert_eq!((tk.pins, tk.enforced), (vec![p(A)], false));
        }
    }

    /// Several domains, nested domain-configs inheriting the pin-set as
    /// the Android framework does, and the most specific rule winning.
    #[test]
    fn android_nested_domain_configs_inherit_the_pin_set() {
        let xml = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<!-- a comment -->
<network-security-config>
  <base-config cleartextTrafficPermitted="false"/>
  <domain-config>
    <domain includeSubdomains="true">example.com</domain>
    <domain includeSubdomains="false">  EXAMPLE.org </domain>
    <pin-set expiration="2031-02-03">
      <pin digest="sha-256">
        {A}
      </pin>
      <pin digest="SHA-256">{B}</pin><!-- backup -->
      <pin digest="SHA-256">{A}</pin>
    </pin-set>
    <domain-config>
      <domain includeSubdomains="false">inherit.example.com</domain>
      <trust-anchors><certificates src="system"/></trust-anchors>
    </domain-config>
    <domain-config>
      <domain includeSubdomains="true">own.example.com</domain>
      <pin-set><pin digest="SHA-256">{C}</pin><pin digest="SHA-256">{B}</pin></pin-set>
    </domain-config>
  </domain-config>
  <domain-config><domain includeSubdomains="true">bare.example.net</domain></domain-config>
  <debug-overrides><trust-anchors><certificates src="user"/></trust-anchors></debug-overrides>
</network-security-config>"#
        );
        let r = |d: &str| read(ChannelKind::Android, d, xml.as_bytes());
        let date = NaiveDate::from_ymd_opt(2031, 2, 3);
        let top = r("example.com").unwrap();
        assert_eq!(
            (top.pins.clone(), top.expires, top.include_subdomains),
            (vec![p(A), p(B)], date, true)
        );
        assert!(!r("example.org").unwrap().include_subdomains);
        assert_eq!(r("inherit.example.com").unwrap().pins, vec![p(A), p(B)]);
        assert!(!r("inherit.example.com").unwrap().include_subdomains);
        let own = r("own.example.com").unwrap();
        assert_eq!((own.pins, own.expires), (vec![p(C), p(B)], None));
        // Below own.example.com its rule wins; elsewhere the parent's.
        assert_eq!(r("x.y.own.example.com").unwrap().pins, vec![p(C), p(B)]);
        let deep = r("x.y.example.com").unwrap();
        assert_eq!(
            (deep.pins, deep.include_subdomains),
            (vec![p(A), p(B)], true)
        );
        assert_eq!(
            r("api.example.org").unwrap_err(),
            "no domain-config pins api.example.org"
        );
        assert_eq!(
            r("bare.example.net").unwrap_err(),
            "no <pin-set> applies to bare.example.net"
        );
    }

    /// TrustKit-Android reads the same file differently from the framework.
    #[test]
    fn trustkit_android_reads_its_own_way() {
        let xml = |digest: &str, enforce: &str| {
            format!(
                r#"<network-security-config>
  <domain-config>
    <domain includeSubdomains="true">example.com</domain>
    <pin-set expiration="2031-01-01"><pin digest="{digest}">{A}</pin><pin digest="SHA-256">{B}</pin></pin-set>
    <trustkit-config {enforce} disableDefaultReportUri="true"/>
    <domain-config>
      <domain>first.example.com</domain>
      <domain>api.example.com</domain>
      <pin-set><pin digest="SHA-256">{C}</pin><pin digest="SHA-256">{B}</pin></pin-set>
    </domain-config>
  </domain-config>
</network-security-config>"#
            )
        };
        let file = xml("SHA-256", r#"enforcePinning="true""#);
        let tk = |d: &str| read(ChannelKind::Trustkit, d, file.as_bytes());
        let top = tk("example.com").unwrap();
        assert!(top.enforced && top.include_subdomains);
        // The nested config inherits the expiration apart from its pins,
        // and includeSubdomains; only its last <domain> counts.
        let api = tk("api.example.com").unwrap();
        assert_eq!(
            (api.pins, api.expires, api.include_subdomains),
            (vec![p(C), p(B)], NaiveDate::from_ymd_opt(2031, 1, 1), true)
        );
        assert_eq!(tk("first.example.com").unwrap().pins, vec![p(A), p(B)]);
        // The framework keeps every <domain> and the whole inherited pin-set.
        let fw = read(ChannelKind::Android, "first.example.com", file.as_bytes()).unwrap();
        assert_eq!(
            (fw.pins, fw.expires, fw.include_subdomains),
            (vec![p(C), p(B)], None, false)
        );
        // enforcePinning is off unless set.
        let off = xml("SHA-256", "");
        assert!(
            !read(ChannelKind::Trustkit, "example.com", off.as_bytes())
                .unwrap()
                .enforced
        );
        // The framework takes the digest's name in any case, TrustKit not.
        let lower = xml("sha-256", "");
        read(ChannelKind::Android, "example.com", lower.as_bytes()).unwrap();
        let e = read(ChannelKind::Trustkit, "example.com", lower.as_bytes()).unwrap_err();
        assert!(e.contains("pin 1 has digest \"sha-256\""), "{e}");
    }

    const JAVA: &str = r#"
package com.example;

import okhttp3.CertificatePinner; // CertificatePinner.Builder() in a comment
/* .add("example.com", "sha256/not-this") */
class Pins {
    static final String X = "CertificatePinner.Builder().add(\"example.com\")";
    char q = '"';
    CertificatePinner pinner = new CertificatePinner
        .Builder ( )
        .add(  "example.com"  ,
               "sha256/" + "d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=" /* primary */ ,
               "sha256/E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g\u003d")
        .add("**.EXAMPLE.com", "sha256/d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=",
             "sha256/E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=")
        .add("other.example.net", "sha256/LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=")
        .build();
}
"#;

    const KOTLIN: &str = r#"
// Kotlin, trailing commas and a raw string elsewhere
val banner = """CertificatePinner.Builder().add("x", "y")"""
/* block /** kdoc-ish */ nested */
val certificatePinner = CertificatePinner.Builder()
    .add(
        "example.com",
        "sha256/d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=", // primary
        "sha256/E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=",
    )
    .add("*.example.com", "sha256/E9CZ9INDbd+2eRQozYqqbQ2yXLVKB9+xcprMF+44U1g=",
        "sha256/d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM=")
    .build()
"#;

    #[test]
    fn okhttp_calls_are_read_through_comments_and_odd_whitespace() {
        let j = read(ChannelKind::Okhttp, "example.com", JAVA.as_bytes()).unwrap();
        assert_eq!(
            (j.pins.clone(), j.include_subdomains, j.one_label),
            (vec![p(A), p(B)], true, false)
        );
        let deep = read(ChannelKind::Okhttp, "a.b.example.com", JAVA.as_bytes()).unwrap();
        assert_eq!(deep.pins, vec![p(A), p(B)]);
        let other = read(ChannelKind::Okhttp, "other.example.net", JAVA.as_bytes()).unwrap();
        assert_eq!((other.pins, other.include_subdomains), (vec![p(C)], false));
        // Kotlin nests block comments: this file has one and is refused.
        let e = read(ChannelKind::Okhttp, "example.com", KOTLIN.as_bytes()).unwrap_err();
        assert!(e.contains("line 4") && e.contains("/*"), "{e}");
        let kt = KOTLIN.replace("/* block /** kdoc-ish */ nested */", "/** kdoc */");
        let k = read(ChannelKind::Okhttp, "example.com", kt.as_bytes()).unwrap();
        assert_eq!(
            (k.pins, k.include_subdomains, k.one_label),
            (vec![p(A), p(B)], true, true)
        );
        assert_eq!(code::tokens("\"\\u0041\" '\\'' `a b`").unwrap(), 3);
    }

    #[test]
    fn okhttp_refuses_what_it_cannot_read_unambiguously() {
        let one = |body: &str| {
            read(
                ChannelKind::Okhttp,
                "example.com",
                format!("val p = CertificatePinner.Builder()\n{body}\n.build()").as_bytes(),
            )
            .unwrap_err()
        };
        let pa = format!("\"sha256/{A}\"");
        let pb = format!("\"sha256/{B}\"");
        for (body, want) in [
            (
                format!(".add(\"example.com\", PIN, {pb})"),
                "line 2: argument 2 of .add( is not a string literal",
            ),
            (
                format!(".add(\"example.com\", \"sha256/$pin\", {pb})"),
                "Kotlin string template",
            ),
            (
                format!(".add(host, {pa})"),
                "argument 1 of .add( is not a string literal",
            ),
            (
                format!(".add(\"example.com\", \"sha1/{A}\")"),
                "pin 1 is a SHA-1 pin",
            ),
            (
                format!(".add(\"example.com\", \"md5/{A}\")"),
                "starts with neither sha256/ nor sha1/",
            ),
            (
                ".add(\"example.com\", \"sha256/AAAA\")".into(),
                "pin 1 is not base64 of 32 bytes",
            ),
            (
                format!(".add(\"ex*mple.com\", {pa})"),
                "unexpected host pattern",
            ),
            (
                format!(".add(\"example.com\", {pa}).add(\"**.example.com\", {pb})"),
                "pinned to different pins",
            ),
            (
                format!(".add(\"api.example.com\", {pa})"),
                "no CertificatePinner .add( pins example.com",
            ),
            (
                ".add(\"example.com\", *pins)".to_string(),
                "argument 2 of .add( is not a string literal",
            ),
        ] {
            let e = one(&body);
            assert!(e.contains(want), "{body}: {e}");
        }
        let e = read(
            ChannelKind::Okhttp,
            "example.com",
            format!("val b = CertificatePinner.Builder()\nb.add(\"example.com\", {pa})").as_bytes(),
        )
        .unwrap_err();
        assert!(
            e.contains("line 1: this CertificatePinner.Builder() is not one chain"),
            "{e}"
        );
        for (src, want) in [
            ("class A {}", "no CertificatePinner.Builder() in the file"),
            ("/* never closed", "line 1: a block comment never ends"),
            (
                "val a = 1\nval s = \"open\nx",
                "line 2: a string is not closed on its line",
            ),
        ] {
            let e = read(ChannelKind::Okhttp, "example.com", src.as_bytes()).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
    }

    /// Malformed files give one line naming what is wrong.
    #[test]
    fn malformed_files_give_a_one_line_reason() {
        let nsc = |pins: &str, exp: &str| {
            format!(
                "<network-security-config><domain-config><domain includeSubdomains=\"false\">example.com</domain><pin-set{exp}>{pins}</pin-set></domain-config></network-security-config>"
            )
        };
        let two = format!("<pin digest=\"SHA-256\">{A}</pin><pin digest=\"SHA-256\">{B}</pin>");
        let cases: Vec<(ChannelKind, String, &str)> = vec![
            (ChannelKind::Android, nsc(&two, " expiration=\"2027-13-01\""), "expiration \"2027-13-01\" is not yyyy-MM-dd"),
            (ChannelKind::Android, nsc(&two, " expiration=\"2027-1-01\""), "is not yyyy-MM-dd"),
            (ChannelKind::Android, nsc(&format!("<pin digest=\"SHA-256\">{A}</pin><pin digest=\"SHA-256\">AAAA</pin>"), ""), "pin 2 is not base64 of 32 bytes"),
            (ChannelKind::Android, nsc(&format!("<pin digest=\"SHA-1\">{A}</pin>"), ""), "pin 1 has digest \"SHA-1\""),
            (ChannelKind::Android, nsc(&format!("<pin>{A}</pin>"), ""), "pin 1 has no digest attribute"),
            (ChannelKind::Android, nsc("", ""), "the <pin-set> for example.com holds no pin"),
            (ChannelKind::Android, nsc(&two, "").replace("false", "yes"), "includeSubdomains \"yes\" is not true or false"),
            (ChannelKind::Android, nsc(&two, "").replace("<pin-set>", "<pin-set></pin-set><pin-set>"), "more than one <pin-set>"),
            (ChannelKind::Android, nsc(&two, "").replace("</domain-config>", "</domain-config><domain-config><domain>EXAMPLE.com</domain></domain-config>"), "example.com has already been specified"),
            (ChannelKind::Android, nsc(&two, "").replace("example.com", "example.org"), "no domain-config pins example.com"),
            (ChannelKind::Android, "<network-security-config><domain-config>".into(), "not well-formed XML"),
            (ChannelKind::Android, "<manifest/>".into(), "the root element is <manifest>"),
            (ChannelKind::Android, "<!DOCTYPE x [<!ENTITY a \"b\">]><network-security-config/>".into(), "not well-formed XML"),
            (ChannelKind::Ios, "<plist><dict></plist>".into(), "not a property list"),
            (ChannelKind::Ios, "bplist00garbage-garbage-garbage-garbage-garbage".into(), "not a property list"),
            (ChannelKind::Ios, "<plist version=\"1.0\"><array/></plist>".into(), "top level is not a dictionary"),
            (ChannelKind::Ios, "<plist version=\"1.0\"><dict/></plist>".into(), "no NSAppTransportSecurity → NSPinnedDomains"),
            (ChannelKind::Trustkit, format!("<plist version=\"1.0\"><dict><key>TSKPinnedDomains</key><dict><key>example.com</key><dict><key>TSKPublicKeyHashes</key><array><string>{A}</string></array></dict></dict></dict></plist>"), "has 1 distinct pin(s); TrustKit refuses fewer than 2"),
            (ChannelKind::Trustkit, format!("<plist version=\"1.0\"><dict><key>TSKPinnedDomains</key><dict><key>example.com</key><dict><key>TSKExpirationDate</key><string>2031/01/01</string><key>TSKPublicKeyHashes</key><array><string>{A}</string><string>{B}</string></array></dict></dict></dict></plist>"), "expiration \"2031/01/01\" is not yyyy-MM-dd (TrustKit would ignore it"),
            (ChannelKind::Trustkit, "<plist version=\"1.0\"><dict><key>TSKPinnedDomains</key><dict><key>example.com</key><dict><key>kSKExcludeSubdomainFromParentPolicy</key><true/></dict></dict></dict></plist>".to_string(), "TrustKit pins nothing for example.com"),
            (ChannelKind::Android, "\u{3}\u{0}\u{8}\u{0}rest".into(), "compiled Android binary XML"),
            (ChannelKind::Dns, "x".into(), "a dns channel ships no app file"),
        ];
        for (kind, text, want) in cases {
            let e = read(kind, "example.com", text.as_bytes()).unwrap_err();
            assert!(e.contains(want), "{kind} {text}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let escape = "<plist version=\"1.0\"><dict><key>NSPinnedDomains</key><dict><key>example.com</key><dict><key>NSIncludesSubdomains</key><string>\u{1b}[31m</string></dict></dict></dict></plist>";
        let e = read(ChannelKind::Ios, "example.com", escape.as_bytes()).unwrap_err();
        assert_eq!(
            e,
            "NSPinnedDomains → example.com → NSIncludesSubdomains is not a boolean"
        );
        let dup = "<network-security-config><domain-config><domain>\u{1b}[2J</domain></domain-config><domain-config><domain>\u{1b}[2J</domain></domain-config></network-security-config>";
        let e = read(ChannelKind::Android, "example.com", dup.as_bytes()).unwrap_err();
        assert!(
            e.starts_with("not well-formed XML") && !e.contains('\u{1b}'),
            "{e}"
        );
        let e = read(ChannelKind::Android, "example.com", &[0xff, 0xfe, 0x00]).unwrap_err();
        assert!(e.starts_with("not UTF-8 text"), "{e}");
    }

    /// A binary plist whose objects refer to one another many times, or
    /// to themselves, is refused before it is expanded.
    #[test]
    fn a_binary_plist_bomb_is_refused() {
        // Object i is an array holding object i+1 twice; the last is empty,
        // or refers back to the first.
        let bplist = |looped: bool| {
            let n = 40usize;
            let mut b = b"bplist00".to_vec();
            let mut offsets = Vec::new();
            for i in 0..n {
                offsets.push(b.len());
                match (i + 1 == n, looped) {
                    (false, _) => b.extend([0xA2, (i + 1) as u8, (i + 1) as u8]),
                    (true, false) => b.push(0xA0),
                    (true, true) => b.extend([0xA1, 0]),
                }
            }
            let table = b.len();
            for o in &offsets {
                b.extend((*o as u16).to_be_bytes());
            }
            b.extend([0, 0, 0, 0, 0, 0, 2, 1]);
            b.extend((n as u64).to_be_bytes());
            b.extend(0u64.to_be_bytes());
            b.extend((table as u64).to_be_bytes());
            b
        };
        let e = read(ChannelKind::Ios, "example.com", &bplist(false)).unwrap_err();
        assert!(e.contains("expands to more than"), "{e}");
        let e = read(ChannelKind::Ios, "example.com", &bplist(true)).unwrap_err();
        assert_eq!(
            e,
            "not a property list (a binary plist object contains itself)"
        );
        // An object offset at the end of the address space.
        let mut b = b"bplist00".to_vec();
        b.extend(u64::MAX.to_be_bytes());
        b.extend([0, 0, 0, 0, 0, 0, 8, 1]);
        b.extend(1u64.to_be_bytes());
        b.extend(0u64.to_be_bytes());
        b.extend(8u64.to_be_bytes());
        let e = read(ChannelKind::Ios, "example.com", &b).unwrap_err();
        assert_eq!(e, "not a property list (a broken binary plist)");
    }

    /// Many domains, pins and nested configs are read in time that grows
    /// with the file, not its square.
    #[test]
    fn big_files_are_read_quickly() {
        let start = std::time::Instant::now();
        let mut xml = String::from("<network-security-config>");
        for i in 0..20_000 {
            xml.push_str(&format!(
                "<domain-config><domain includeSubdomains=\"true\">d{i}.example.com</domain><pin-set><pin digest=\"SHA-256\">{A}</pin><pin digest=\"SHA-256\">{B}</pin></pin-set></domain-config>"
            ));
        }
        xml.push_str("</network-security-config>");
        let r = read(ChannelKind::Android, "x.d19999.example.com", xml.as_bytes()).unwrap();
        assert_eq!(r.pins, vec![p(A), p(B)]);
        let tk = xml.replace("d1", "example.com\"/><x a=\"");
        let _ = read(ChannelKind::Trustkit, "a.example.com", tk.as_bytes());
        let mut java = String::from("CertificatePinner.Builder().add(\"example.com\"");
        for i in 0..60_000u32 {
            let mut d = [0u8; 32];
            d[..4].copy_from_slice(&i.to_be_bytes());
            java.push_str(&format!(", \"sha256/{}\"", Pin::from_digest(&d)));
        }
        java.push_str(").build()");
        let r = read(ChannelKind::Okhttp, "example.com", java.as_bytes()).unwrap();
        assert_eq!(r.pins.len(), 60_000);
        let open: String = (0..40)
            .map(|i| format!("<domain-config><domain>d{i}.example.com</domain>"))
            .collect();
        let nested = format!(
            "<network-security-config>{open}{}</network-security-config>",
            "</domain-config>".repeat(40)
        );
        let e = read(ChannelKind::Android, "example.com", nested.as_bytes()).unwrap_err();
        assert!(e.contains("nest more than 32 deep"), "{e}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
    }

    /// Deep nesting neither overflows the stack nor panics.
    #[test]
    fn deep_nesting_is_read_without_overflow() {
        let deep = format!(
            "<plist version=\"1.0\">{}{}</plist>",
            "<array>".repeat(200_000),
            "</array>".repeat(200_000)
        );
        assert!(read(ChannelKind::Ios, "example.com", deep.as_bytes()).is_err());
        let xml = format!(
            "<network-security-config>{}</network-security-config>",
            "<domain-config>".repeat(50_000)
        );
        assert!(read(ChannelKind::Android, "example.com", xml.as_bytes()).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// `read` never panics, whatever the bytes and the channel.
        #[test]
        fn read_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512), k in 0usize..6) {
            let _ = read(ChannelKind::ALL[k], "example.com", &bytes);
        }

        /// Nor on a rendered snippet with a few bytes changed, the inputs
        /// most likely to reach deep into each reader.
        #[test]
        fn read_never_panics_on_damaged_snippets(k in 2usize..6, edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 1..6), binary in proptest::bool::ANY) {
            let kind = ChannelKind::ALL[k];
            let site = site_with(kind, true, false);
            let now = t("2030-01-01T00:00:00Z");
            let expires = kind.expires().then(|| NaiveDate::from_ymd_opt(2030, 6, 1).unwrap());
            let text = render(&site, "app", now, expires, None, None).unwrap();
            let mut bytes = if binary && matches!(kind, ChannelKind::Ios | ChannelKind::Trustkit) {
                to_binary(text.as_bytes())
            } else {
                text.into_bytes()
            };
            for (at, v) in edits {
                let len = bytes.len();
                bytes[at % len] = v;
            }
            let _ = read(kind, "example.com", &bytes);
        }
    }
}
