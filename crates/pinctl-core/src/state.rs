//! The schema of a site's state: the versioned YAML types, their
//! invariants, parsing and serialising. Reading and writing the folder is
//! `pinctl_store::store`'s; the bytes on disk are `pinctl_store::fsutil`'s.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::header::Mode;
use crate::keys::KeyType;
use crate::pin::Pin;

/// The schema version this pinctl writes and the newest it reads.
/// Version 2 added `issuer_pin` to certificates and `destroyed` and
/// `sealed_to` to keys; a version-1 file is read as it is (the issuer of
/// each certificate judged again from its stored file). Version 3 added
/// channels: `channels`, and a publication's `channel`, `kind` and the
/// fields of its kind; a publication without them is the `web` header,
/// so older files read as they are. Version 4 added the channel of each
/// `publish` and `release` event (read from a version-3 event's detail),
/// the `deployed` event, and the names a certificate covers. Every older
/// file is written back as the current version.
pub const VERSION: u32 = 4;

/// The largest site file pinctl reads: far above any real history.
pub const MAX_SITE_FILE: u64 = 16 << 20;
/// The site file inside each site's folder.
pub const SITE_FILE: &str = "site.yaml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub version: u32,
    pub domain: String,
    #[serde(default)]
    pub sans: Vec<String>,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub created: DateTime<Utc>,
    pub encryption: Encryption,
    pub policy: Policy,
    pub keys: Vec<Key>,
    #[serde(default)]
    pub ca_pins: Vec<CaPin>,
    #[serde(default)]
    pub certificates: Vec<Cert>,
    /// The channels besides `web`, which every site has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    /// How `cert issue` answered the CA's challenges, so that `renew`
    /// answers them the same way (docs/design.md#acting); absent until
    /// a certificate was issued by ACME.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeChallenge>,
    #[serde(default)]
    pub publications: Vec<Publication>,
    #[serde(default)]
    pub events: Vec<Event>,
    /// What the other sites of the state folder mean for this one; never
    /// saved, filled by [`Store::load`] (see `lifecycle::relate`).
    #[serde(skip)]
    pub related: Related,
}

/// Pinsets and keys of other sites that a site's safety depends on
/// (docs/design.md#safety-rule, "includeSubDomains reaches other sites").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Related {
    /// Enforce includeSubDomains publications of ancestor sites: pinsets
    /// that clients of this site may hold if they only saw the ancestor.
    pub inherited: Vec<Inherited>,
    /// Keys that descendant sites serve, or will serve once published:
    /// an includeSubDomains header of this site must accept each.
    pub below: Vec<ServedBelow>,
    /// The newest event of any site related to this one, with its domain:
    /// a step may not be dated before it (docs/design.md#time).
    pub newest: Option<(DateTime<Utc>, String)>,
}

/// A publication of an ancestor site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inherited {
    pub domain: String,
    /// 1-based number among that site's publications.
    pub number: usize,
    pub publication: Publication,
}

/// A key a descendant site serves, with the pins that identify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedBelow {
    pub domain: String,
    /// The name of that site that lies below one of this site's names.
    pub host: String,
    pub key: String,
    pub leaf: Pin,
    /// The verified direct issuer of the certificate it is served with.
    pub issuer: Option<Pin>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Passphrase,
    Recipients,
}

/// How the site's archives are encrypted. Recipients are public keys and
/// are remembered so that later commands can encrypt new backups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    pub method: Method,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub armor: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub mode: Mode,
    pub max_age: u64,
    #[serde(default)]
    pub include_subdomains: bool,
    #[serde(default)]
    pub report_uri: Option<String>,
    /// Where the site is served, for `check --live`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
}

impl Policy {
    /// One line: `enforce max-age=N; includeSubDomains; report-uri=U`.
    pub fn summary(&self) -> String {
        let mut s = format!("{} max-age={}", self.mode.as_str(), self.max_age);
        if self.include_subdomains {
            s.push_str("; includeSubDomains");
        }
        if let Some(u) = &self.report_uri {
            s.push_str(&format!("; report-uri={u}"));
        }
        s
    }
}

/// A URL where the site is served, with an optional address to connect
/// to instead of the URL's host and a CA file to verify it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub url: String,
    #[serde(default)]
    pub connect: Option<String>,
    #[serde(default)]
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Active,
    Backup,
    Retired,
    Compromised,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Active => "active",
            Role::Backup => "backup",
            Role::Retired => "retired",
            Role::Compromised => "compromised",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub name: String,
    pub role: Role,
    pub key_type: KeyType,
    pub pin: Pin,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub created: DateTime<Utc>,
    /// When the key took its current role.
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub role_since: DateTime<Utc>,
    pub archive: String,
    pub archive_sha256: String,
    pub csr: String,
    #[serde(default)]
    pub copies: Vec<OfflineCopy>,
    /// The age recipients the archive was sealed to: empty for a
    /// passphrase; absent for archives made before version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_to: Option<Vec<String>>,
    /// When `key destroy` deleted the archive; the key stays in the
    /// history so that its pin can still be judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroyed: Option<DateTime<Utc>>,
}

/// The ACME challenge a site answers (RFC 8555 section 8), as given to
/// `cert issue`. Paths are absolute; a TSIG key is named by its file,
/// never copied into the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "challenge", rename_all = "kebab-case")]
pub enum AcmeChallenge {
    /// HTTP-01 answered by pinctl listening on `listen` (host:port).
    Http01Listen { listen: String },
    /// HTTP-01 answered with files under `webroot`'s
    /// `.well-known/acme-challenge/`.
    Http01Webroot { webroot: String },
    /// DNS-01 answered by an RFC 2136 update to `server`, signed with
    /// the TSIG key in `tsig_key`.
    Dns01Rfc2136 { server: String, tsig_key: String },
}

/// An offline copy of a key's archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineCopy {
    pub location: String,
    pub path: String,
    pub sha256: String,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub copied: DateTime<Utc>,
    #[serde(default)]
    pub verified: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaPin {
    pub name: String,
    pub pin: Pin,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub added: DateTime<Utc>,
    #[serde(default)]
    pub subject: Option<String>,
}

/// A certificate issued for one of the site's keys, with the pins of the
/// CA certificates that came with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cert {
    pub key: String,
    pub file: String,
    pub subject: String,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub not_before: DateTime<Utc>,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub not_after: DateTime<Utc>,
    /// Pins of every CA certificate in the file, for the record; they
    /// give no credit in safety decisions: only the verified direct
    /// issuer does (docs/design.md#safety-rule).
    #[serde(default)]
    pub chain_pins: Vec<Pin>,
    /// The pin of the certificate that follows the leaf in the file and
    /// whose signature on the leaf was verified: the only CA key every
    /// path a client builds contains.
    #[serde(default)]
    pub issuer_pin: Option<Pin>,
    /// The DNS names the certificate covers (its SANs): a header served
    /// with it is served on each (docs/design.md#where-a-header-is-served).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub added: DateTime<Utc>,
}

/// The kinds of channel a pinset reaches clients through
/// (docs/design.md#channels). Each has its own artifact, retention and
/// matching rule.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// The `Public-Key-Pins` header.
    #[default]
    Web,
    /// DANE TLSA records.
    Dns,
    /// Android's Network Security Config.
    Android,
    /// TrustKit (iOS `TSKConfiguration`, TrustKit-Android).
    Trustkit,
    /// iOS App Transport Security `NSPinnedDomains`.
    Ios,
    /// OkHttp's `CertificatePinner`.
    Okhttp,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::Web,
        ChannelKind::Dns,
        ChannelKind::Android,
        ChannelKind::Trustkit,
        ChannelKind::Ios,
        ChannelKind::Okhttp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Web => "web",
            ChannelKind::Dns => "dns",
            ChannelKind::Android => "android",
            ChannelKind::Trustkit => "trustkit",
            ChannelKind::Ios => "ios",
            ChannelKind::Okhttp => "okhttp",
        }
    }

    /// Whether a publication is an app release: it stays installed after
    /// a newer one ships.
    pub fn is_app(self) -> bool {
        matches!(
            self,
            ChannelKind::Android | ChannelKind::Trustkit | ChannelKind::Ios | ChannelKind::Okhttp
        )
    }

    /// Whether a release's pin-set carries an expiration date.
    pub fn expires(self) -> bool {
        matches!(self, ChannelKind::Android | ChannelKind::Trustkit)
    }

    /// Whether old builds are held until a newer release ships plus the
    /// operator's horizon.
    pub fn has_horizon(self) -> bool {
        matches!(self, ChannelKind::Ios | ChannelKind::Okhttp)
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of the header's channel, which every site has.
pub const WEB: &str = "web";

/// A channel besides `web`, with the options of its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// dns: the RRset's TTL in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// dns: the TLS port of the TLSA owner name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// android, trustkit: how far ahead of its ship date a release's
    /// pin-set expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after_days: Option<u32>,
    /// ios, okhttp: old builds are refused this long after a newer one
    /// ships; without it, a release is held forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_days: Option<u32>,
    /// Whether the pins apply to subdomains; how far is the kind's own
    /// rule, or `one_label`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub include_subdomains: bool,
    /// okhttp: `*.` (one label) instead of `**.` (any depth).
    #[serde(default, skip_serializing_if = "is_false")]
    pub one_label: bool,
    /// trustkit: `TSKSwizzleNetworkDelegates`, whether TrustKit hooks the
    /// app's networking itself; absent (older files too): yes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swizzle: Option<bool>,
    /// dns: the zone's primary server (`HOST[:PORT]`) that `publish`
    /// updates by RFC 2136 and `check --live` queries
    /// (docs/design.md#acting); absent: the operator edits the zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// dns: the path of the BIND key file whose TSIG key signs the
    /// updates; never the secret itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key: Option<String>,
    /// dns: the authoritative servers (`HOST[:PORT]`) `publish` waits on
    /// and `check --live` reads besides the primary, when the zone's NS
    /// addresses are not reachable from pinctl's host; empty: the NS set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_servers: Vec<String>,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub added: DateTime<Utc>,
    /// When pinctl stopped planning for it; its publications still count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<DateTime<Utc>>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_web(k: &ChannelKind) -> bool {
    *k == ChannelKind::Web
}

/// How far below its host a pinset applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The host only.
    Host,
    /// The host and names one label below it (iOS, OkHttp `*.`).
    OneLabel,
    /// The host and every name below it.
    AnyDepth,
}

/// A pinset that was actually published through a channel: a header
/// version served (web), an RRset (dns), or an app release. Served or
/// current from `from` until `until` (open while it is the channel's
/// latest; for an app, `until` is when a newer release shipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// The channel's name; absent for `web`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "is_web")]
    pub kind: ChannelKind,
    /// An app release's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    pub mode: Mode,
    /// The pins that match the leaf or its verified issuer; for dns (3 1 1
    /// records) and ios (leaf identities), the leaf only.
    pub pins: Vec<Pin>,
    /// dns: the issuer pins of `2 1 1` records; ios: the CA identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_pins: Vec<Pin>,
    /// web: max-age; 0 elsewhere.
    #[serde(default)]
    pub max_age: u64,
    #[serde(default)]
    pub include_subdomains: bool,
    /// okhttp `*.`: the subdomains reached are one label deep.
    #[serde(default, skip_serializing_if = "is_false")]
    pub one_label: bool,
    #[serde(default)]
    pub report_uri: Option<String>,
    /// dns: the RRset's TTL when published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// android, trustkit: the pin-set's expiration date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<chrono::NaiveDate>,
    /// ios, okhttp: the channel's horizon when the release shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_days: Option<u32>,
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub from: DateTime<Utc>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

impl Publication {
    /// The channel's name (`web` for the header).
    pub fn channel_name(&self) -> &str {
        self.channel.as_deref().unwrap_or(WEB)
    }

    /// How far below the host its pins apply, by the platform's rule.
    pub fn reach(&self) -> Reach {
        if !self.include_subdomains {
            Reach::Host
        } else if self.kind == ChannelKind::Ios || self.one_label {
            Reach::OneLabel
        } else {
            Reach::AnyDepth
        }
    }

    /// "publication 3 (web)" or "android release 4.1": how refusals and
    /// findings name it.
    pub fn label(&self, number: usize) -> String {
        match (&self.release, self.kind) {
            (Some(r), _) => format!("{} release {r}", self.channel_name()),
            (None, ChannelKind::Web) => format!("publication {number}"),
            (None, _) => format!("publication {number} ({})", self.channel_name()),
        }
    }
}

/// What happened, in the history. Written as the kebab-case names that
/// version-1 files already hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Init,
    Import,
    Policy,
    Publish,
    Promote,
    /// A promotion over a refusal (`rotate --force`): the lockout it
    /// caused was accepted.
    PromoteForced,
    Retire,
    Compromised,
    BackupNew,
    CertAdd,
    /// A certificate recorded over a refusal (`cert add --force`).
    CertAddForced,
    CaPinAdd,
    ChannelAdd,
    ChannelRetire,
    /// An app release shipped (`publish --channel` of an app channel).
    Release,
    CaPinRemove,
    ArchiveCopy,
    ArchiveVerify,
    KeyDestroy,
    /// A publication recorded over a refusal (`publish --force`): it
    /// shipped or is served already, and `key` (the active key) is the
    /// one whose lockout was accepted.
    PublishForced,
    /// Evidence that the servers serve `key` (`pinctl deployed`, or a
    /// probe that saw it): the only sign besides a web publication that
    /// they moved off the previous key (docs/design.md#evidence).
    Deployed,
}

impl EventKind {
    /// A step that accepted a lockout pinctl had refused.
    pub fn is_forced(self) -> bool {
        matches!(
            self,
            EventKind::PromoteForced | EventKind::CertAddForced | EventKind::PublishForced
        )
    }

    /// A change of which key is active or retired.
    pub fn changes_role(self) -> bool {
        matches!(
            self,
            EventKind::Promote
                | EventKind::PromoteForced
                | EventKind::Retire
                | EventKind::Compromised
        )
    }

    pub fn is_promotion(self) -> bool {
        matches!(self, EventKind::Promote | EventKind::PromoteForced)
    }
}

/// One line of the append-only history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    #[serde(deserialize_with = "crate::site_yaml::utc")]
    pub at: DateTime<Utc>,
    pub event: EventKind,
    /// The channel of a `publish` or `release` event; absent for the web
    /// header (and for every other event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

impl Site {
    pub fn key(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The key named `name`, or the error every command gives for it.
    pub fn require_key(&self, name: &str) -> Result<&Key> {
        self.key(name)
            .ok_or_else(|| Error::Usage(format!("{} has no key named {name}", self.domain)))
    }

    pub fn key_mut(&mut self, name: &str) -> Option<&mut Key> {
        self.keys.iter_mut().find(|k| k.name == name)
    }

    pub fn active(&self) -> Option<&Key> {
        self.keys.iter().find(|k| k.role == Role::Active)
    }

    pub fn backups(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter().filter(|k| k.role == Role::Backup)
    }

    /// The live web header.
    pub fn live(&self) -> Option<&Publication> {
        self.live_in(WEB)
    }

    /// The latest publication of a channel while it is open.
    pub fn live_in(&self, channel: &str) -> Option<&Publication> {
        self.latest_in(channel)
            .filter(|(_, p)| p.until.is_none())
            .map(|(_, p)| p)
    }

    /// The latest publication of a channel, with its 0-based index.
    pub fn latest_in(&self, channel: &str) -> Option<(usize, &Publication)> {
        self.publications
            .iter()
            .enumerate()
            .rev()
            .find(|(_, p)| p.channel_name() == channel)
    }

    /// A channel by name; `web` is every site's.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// The kind of a channel by name (None when the site has no such).
    pub fn channel_kind(&self, name: &str) -> Option<ChannelKind> {
        if name == WEB {
            return Some(ChannelKind::Web);
        }
        self.channel(name).map(|c| c.kind)
    }

    pub fn log(
        &mut self,
        at: DateTime<Utc>,
        event: EventKind,
        key: Option<&str>,
        detail: Option<String>,
    ) {
        self.events.push(Event {
            at,
            event,
            channel: None,
            key: key.map(str::to_string),
            detail,
        });
    }

    /// The recipients the newest archive was sealed to (empty for a
    /// passphrase); None when no archive recorded it.
    pub fn sealed_recipients(&self) -> Option<&[String]> {
        self.keys
            .iter()
            .filter(|k| k.destroyed.is_none())
            .filter_map(|k| k.sealed_to.as_deref().map(|s| (k.created, s)))
            .max_by_key(|(c, _)| *c)
            .map(|(_, s)| s)
    }

    /// What a new archive would be sealed to now (empty for a passphrase).
    pub fn sealing_recipients(&self) -> &[String] {
        match self.encryption.method {
            Method::Passphrase => &[],
            Method::Recipients => &self.encryption.recipients,
        }
    }

    /// The old and new recipient sets when `encryption` in the file no
    /// longer matches what sealed the existing archives (an edit of
    /// site.yaml would otherwise redirect every new backup).
    pub fn recipients_changed(&self) -> Option<(Vec<String>, Vec<String>)> {
        let old = self.sealed_recipients()?;
        let new = self.sealing_recipients();
        let norm = |v: &[String]| {
            let mut v: Vec<String> = v.iter().map(|s| s.trim().to_string()).collect();
            v.sort();
            v.dedup();
            v
        };
        let (o, n) = (norm(old), norm(new));
        (o != n).then_some((o, n))
    }

    /// The next free `backupN` name.
    pub fn next_backup_name(&self) -> String {
        let mut n = 1;
        while self.key(&format!("backup{n}")).is_some() {
            n += 1;
        }
        format!("backup{n}")
    }

    /// Checks the invariants every saved state holds.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.version == 0 {
            return Err("version 0 is not a pinctl state".into());
        }
        if self.version > VERSION {
            return Err(format!(
                "state version {} is newer than this pinctl understands ({VERSION}); upgrade pinctl",
                self.version
            ));
        }
        check_domain(&self.domain)?;
        let active = self.keys.iter().filter(|k| k.role == Role::Active).count();
        if active != 1 {
            return Err(format!("{active} active keys (exactly one is required)"));
        }
        self.check_keys()?;
        if self.encryption.method == Method::Recipients && self.encryption.recipients.is_empty() {
            return Err("encryption by recipients with no recipients".into());
        }
        // Copy locations, release labels, a dns TTL above 2^31-1 and a
        // horizon of 0 are refused where they come in (`check_name`,
        // `Channel::check_new`), not here: a state an older pinctl wrote
        // with them still reads, and each errs on the long side.
        for (i, c) in self.ca_pins.iter().enumerate() {
            check_name(NameKind::CaPin, &c.name)?;
            if self.ca_pins[..i].iter().any(|o| o.name == c.name) {
                return Err(format!("repeated ca-pin name {:?}", c.name));
            }
            if self.keys.iter().any(|k| k.pin == c.pin) {
                return Err(format!("ca-pin {} has the pin of a site key", c.name));
            }
        }
        for c in &self.certificates {
            if self.key(&c.key).is_none() {
                return Err(format!(
                    "certificate {} names unknown key {}",
                    c.file, c.key
                ));
            }
            if !valid_file_name(&c.file) {
                return Err(format!("invalid certificate file name {:?}", c.file));
            }
        }
        for (i, c) in self.channels.iter().enumerate() {
            check_name(NameKind::Channel, &c.name)?;
            if c.name == WEB || self.channels[..i].iter().any(|o| o.name == c.name) {
                return Err(format!("invalid or repeated channel name {:?}", c.name));
            }
            c.check().map_err(|m| format!("channel {}: {m}", c.name))?;
        }
        self.check_publications()
    }

    /// The keys' invariants: unique names and pins, valid file names,
    /// dates in order, only a retired or compromised key destroyed.
    fn check_keys(&self) -> std::result::Result<(), String> {
        for (i, k) in self.keys.iter().enumerate() {
            if self.keys[..i].iter().any(|o| o.name == k.name) {
                return Err(format!("key name {} appears twice", k.name));
            }
            if !valid_name(&k.name) {
                return Err(format!("invalid key name {:?}", k.name));
            }
            if self.keys[..i].iter().any(|o| o.pin == k.pin) {
                return Err(format!("key {} has the pin of another key", k.name));
            }
            for f in [&k.archive, &k.csr] {
                if !valid_file_name(f) {
                    return Err(format!("key {}: invalid file name {f:?}", k.name));
                }
            }
            if k.role_since < k.created {
                return Err(format!("key {}: role_since before created", k.name));
            }
            if k.destroyed.is_some() && !matches!(k.role, Role::Retired | Role::Compromised) {
                return Err(format!(
                    "key {} is {} but recorded as destroyed",
                    k.name,
                    k.role.as_str()
                ));
            }
        }
        Ok(())
    }

    /// The publications' invariants: each in a known channel of its kind,
    /// one open at most per channel and last, none overlapping the next,
    /// each with pins in the places its kind has them.
    fn check_publications(&self) -> std::result::Result<(), String> {
        for (i, p) in self.publications.iter().enumerate() {
            let n = i + 1;
            let name = p.channel_name();
            if p.channel.as_deref() == Some(WEB) {
                return Err(format!("publication {n} names the web channel explicitly"));
            }
            match self.channel_kind(name) {
                Some(k) if k == p.kind => {}
                Some(k) => {
                    return Err(format!(
                        "publication {n} is of kind {} but channel {name} is {k}",
                        p.kind
                    ))
                }
                None => return Err(format!("publication {n} names unknown channel {name}")),
            }
            let later = self.publications[n..]
                .iter()
                .find(|q| q.channel_name() == name);
            match p.until {
                None if later.is_some() => {
                    return Err(format!(
                        "publication {n} is open but not the last of channel {name}"
                    ))
                }
                Some(u) if u < p.from => {
                    return Err(format!("publication {n} ends before it starts"))
                }
                _ => {}
            }
            if let Some(q) = later {
                if p.until.is_some_and(|u| u > q.from) {
                    return Err(format!(
                        "publication {n} overlaps the next of channel {name}"
                    ));
                }
            }
            if p.pins.is_empty() && p.ca_pins.is_empty() {
                return Err(format!("publication {n} has no pin"));
            }
            if !p.ca_pins.is_empty() && !matches!(p.kind, ChannelKind::Dns | ChannelKind::Ios) {
                return Err(format!(
                    "publication {n}: ca_pins belong to dns and ios only"
                ));
            }
            if p.kind == ChannelKind::Dns && p.ttl.is_none() {
                return Err(format!("publication {n}: a dns publication needs its ttl"));
            }
        }
        Ok(())
    }
}

impl Channel {
    /// The rules a new channel must pass besides [`Channel::check`]'s,
    /// which every saved one passes.
    pub fn check_new(&self) -> std::result::Result<(), String> {
        self.check()?;
        if self.ttl.is_some_and(|t| t > MAX_TTL) {
            // RFC 2181 section 8: a TTL with the top bit set is read as 0.
            return Err(format!(
                "a TTL above {MAX_TTL} s (2^31-1) is read as 0 by resolvers (RFC 2181 section 8)"
            ));
        }
        if self.horizon_days == Some(0) {
            return Err(
                "horizon_days must be at least 1 (leave --horizon out to hold releases for ever)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The options its kind needs, and none of another kind's.
    pub fn check(&self) -> std::result::Result<(), String> {
        let k = self.kind;
        let only = |set: bool, ok: bool, what: &str| {
            if set && !ok {
                Err(format!("{what} does not apply to a {k} channel"))
            } else {
                Ok(())
            }
        };
        only(self.ttl.is_some(), k == ChannelKind::Dns, "ttl")?;
        only(self.port.is_some(), k == ChannelKind::Dns, "port")?;
        only(
            self.expires_after_days.is_some(),
            k.expires(),
            "expires_after_days",
        )?;
        only(self.horizon_days.is_some(), k.has_horizon(), "horizon_days")?;
        only(self.include_subdomains, k.is_app(), "include_subdomains")?;
        only(self.one_label, k == ChannelKind::Okhttp, "one_label")?;
        only(
            self.swizzle.is_some(),
            k == ChannelKind::Trustkit,
            "swizzle",
        )?;
        only(self.server.is_some(), k == ChannelKind::Dns, "server")?;
        only(self.tsig_key.is_some(), k == ChannelKind::Dns, "tsig_key")?;
        if self.server.is_some() != self.tsig_key.is_some() {
            return Err(
                "a dns channel's server and tsig_key go together (updates are signed)".into(),
            );
        }
        if self
            .server
            .as_deref()
            .is_some_and(|s| s.trim().is_empty() || s.chars().any(char::is_control))
            || self
                .tsig_key
                .as_deref()
                .is_some_and(|s| s.is_empty() || s.chars().any(char::is_control))
        {
            return Err("server and tsig_key must be non-empty, without control characters".into());
        }
        if !self.check_servers.is_empty() && self.server.is_none() {
            return Err("check_servers needs a server (the zone's primary)".into());
        }
        if self
            .check_servers
            .iter()
            .any(|s| s.trim().is_empty() || s.chars().any(char::is_control))
        {
            return Err("check_servers must be non-empty, without control characters".into());
        }
        match k {
            ChannelKind::Web => Err("web is every site's channel; it is not added".into()),
            ChannelKind::Dns if self.ttl.is_none_or(|t| t == 0) => {
                Err("a dns channel needs a TTL of at least 1 second".into())
            }
            _ if self.expires_after_days == Some(0) => {
                Err("expires_after_days must be at least 1".into())
            }
            _ => Ok(()),
        }
    }
}

/// A name a user gives that goes into the state; see [`check_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    CaPin,
    Channel,
    /// An offline copy's place (`archive copy --location`).
    Location,
    /// An app release (`publish --release`).
    Release,
}

impl NameKind {
    fn what(self) -> &'static str {
        match self {
            NameKind::CaPin => "ca-pin name",
            NameKind::Channel => "channel name",
            NameKind::Location => "copy location",
            NameKind::Release => "release label",
        }
    }
}

/// The most characters a location or release label may have.
pub const MAX_LABEL: usize = 200;

/// The one rule for every name a user gives that goes into the state,
/// checked where the name comes in and again by [`Site::check`], so the
/// two never disagree. ca-pin and channel names are typed again on later
/// command lines and printed in commands to paste: 1 to 64 letters,
/// digits, `-` and `_`. Locations and release labels are free text
/// (`bank safe`, `4.1`): 1 to 200 characters, not blank, no control
/// characters (they are printed to terminals and in artifacts).
pub fn check_name(kind: NameKind, s: &str) -> std::result::Result<(), String> {
    let what = kind.what();
    match kind {
        NameKind::CaPin | NameKind::Channel => {
            if valid_name(s) {
                Ok(())
            } else {
                Err(format!(
                    "invalid {what} {s:?}: 1 to 64 letters, digits, - and _"
                ))
            }
        }
        NameKind::Location | NameKind::Release => {
            if s.trim().is_empty() {
                Err(format!("invalid {what} {s:?}: it is empty"))
            } else if s.chars().any(char::is_control) {
                Err(format!(
                    "invalid {what} {s:?}: no control characters (it is stored in site.yaml and printed)"
                ))
            } else if s.chars().count() > MAX_LABEL {
                Err(format!(
                    "invalid {what}: {} characters, at most {MAX_LABEL}",
                    s.chars().count()
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// RFC 2181 section 8: the largest TTL a resolver reads as it is.
pub const MAX_TTL: u64 = (1 << 31) - 1;

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_file_name(n: &str) -> bool {
    valid_name(&n.replace('.', "_")) && !n.starts_with('.')
}

/// RFC 1123 host name (IDNs as punycode), optionally `*.` for SANs.
pub fn check_domain(d: &str) -> std::result::Result<(), String> {
    let bad = |why: &str| Err(format!("invalid domain name {d:?}: {why}"));
    if d.len() > 1 && d.ends_with('.') {
        return bad("write it without the trailing dot (pinctl names hosts as browsers and certificates do)");
    }
    if d.is_empty() || d.len() > 253 {
        return bad("length must be 1 to 253");
    }
    if d.parse::<std::net::IpAddr>().is_ok()
        || d.rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad("an IP address is not a host name (pins are for names; RFC 7469 section 2.3.1 ignores headers of IP hosts)");
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return bad("a fully qualified name has at least two labels");
    }
    for (i, l) in labels.iter().enumerate() {
        if i == 0 && *l == "*" {
            continue;
        }
        if l.is_empty() || l.len() > 63 {
            return bad("each label is 1 to 63 characters");
        }
        if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return bad("only letters, digits and '-' (write IDNs as punycode, xn--…)");
        }
        if l.starts_with('-') || l.ends_with('-') {
            return bad("a label cannot start or end with '-'");
        }
        // RFC 5891: "--" in the third and fourth place is reserved for
        // A-labels ("xn--"); anything else there is not a valid name.
        if l.len() >= 4 && &l[2..4] == "--" && !l[..2].eq_ignore_ascii_case("xn") {
            return bad("only \"xn--\" may have \"--\" in the third and fourth place (RFC 5891)");
        }
        if l.len() >= 4 && l[..4].eq_ignore_ascii_case("xn--") {
            // An A-label must decode (RFC 3492) to a label that needed it.
            match punycode::decode(&l[4..]) {
                Ok(u) if !u.is_empty() && !u.is_ascii() => {}
                _ => return bad("the xn-- label is not valid punycode (RFC 3492)"),
            }
        }
    }
    if d.bytes().any(|b| b.is_ascii_uppercase()) {
        return bad("write it in lower case");
    }
    Ok(())
}

/// A host name as the user typed it, in the form the state keeps: lower
/// case (names are case-insensitive), then checked.
/// A host name as the state keeps it: lower case, without the trailing
/// dot of an absolute DNS name. `init X.` and `--site X.` both go
/// through here, so they agree.
pub fn normalize_domain(d: &str) -> std::result::Result<String, String> {
    let d = d.to_ascii_lowercase();
    let d = match d.strip_suffix('.') {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => d,
    };
    check_domain(&d)?;
    Ok(d)
}

/// A set of archive recipients as the operator reads it.
pub fn describe_recipients(v: &[String]) -> String {
    if v.is_empty() {
        "a passphrase".to_string()
    } else {
        v.join(", ")
    }
}

/// Hex SHA-256, for archive checksums.
pub fn sha256_hex(data: &[u8]) -> String {
    crate::text::hex(&Sha256::digest(data))
}

/// Why a site file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Written by a newer pinctl.
    Newer(u64),
    Invalid(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Newer(n) => write!(
                f,
                "state version {n} is newer than this pinctl understands ({VERSION}); upgrade pinctl"
            ),
            ParseError::Invalid(m) => f.write_str(m),
        }
    }
}

impl From<String> for ParseError {
    fn from(m: String) -> Self {
        ParseError::Invalid(m)
    }
}

impl From<&str> for ParseError {
    fn from(m: &str) -> Self {
        ParseError::Invalid(m.to_string())
    }
}

/// Parses and checks a site file's text.
pub fn parse_site(text: &[u8]) -> std::result::Result<Site, ParseError> {
    let text = std::str::from_utf8(text).map_err(|_| "not UTF-8 text")?;
    // One parse when the file is sound (a fleet's status reads thousands);
    // when it is not, the version decides the message, so that a newer
    // file is refused as such, not as a schema mismatch.
    // Files as pinctl writes them take the fast reader; anything it is
    // not sure of, and every error, is the general parser's.
    let parsed: std::result::Result<Site, _> = match crate::site_yaml::from_str::<Site>(text) {
        Some(site) => {
            // Every debug build (the test suite) checks the fast reader
            // against the general parser on each file it reads.
            #[cfg(debug_assertions)]
            {
                let slow: std::result::Result<Site, _> = serde_yaml::from_str(text);
                assert!(
                    slow.as_ref().ok() == Some(&site),
                    "site_yaml disagrees with serde_yaml on:\n{text}"
                );
            }
            Ok(site)
        }
        None => serde_yaml::from_str(text),
    };
    #[derive(Deserialize)]
    struct Versioned {
        version: Option<serde_yaml::Value>,
    }
    let version = |text: &str| -> std::result::Result<u64, ParseError> {
        let v: Versioned =
            serde_yaml::from_str(text).map_err(|e| format!("not a valid site file: {e}"))?;
        match v.version.as_ref().and_then(|v| v.as_u64()) {
            None => Err("no numeric `version:` field; not a pinctl site file".into()),
            Some(n) if n > VERSION as u64 => Err(ParseError::Newer(n)),
            Some(n) => Ok(n),
        }
    };
    let site = match parsed {
        Ok(site) if site.version as u64 > VERSION as u64 => {
            return Err(ParseError::Newer(site.version.into()))
        }
        Ok(site) => site,
        Err(e) => {
            version(text)?;
            return Err(format!("not a valid site file: {e}").into());
        }
    };
    let mut site = site;
    if site.version < 4 {
        upgrade_events(&mut site);
    }
    site.check()?;
    Ok(site)
}

/// Version 3 recorded a channel's publication only in the event's detail
/// (`channel NAME: release …` or `channel NAME; pins …`); the header's
/// detail is the header line.
fn upgrade_events(site: &mut Site) {
    for e in &mut site.events {
        if !matches!(e.event, EventKind::Publish | EventKind::Release) || e.channel.is_some() {
            continue;
        }
        if let Some(rest) = e.detail.as_deref().and_then(|d| d.strip_prefix("channel ")) {
            let name = rest.split([';', ':']).next().unwrap_or_default().trim();
            if !name.is_empty() && name != WEB {
                e.channel = Some(name.to_string());
            }
        }
    }
}

pub fn to_yaml(site: &Site) -> Result<String> {
    serde_yaml::to_string(site)
        .map_err(|e| Error::Internal(format!("cannot serialise the state: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        for ok in [
            "example.com",
            "a-b.example.co.uk",
            "xn--bcher-kva.example",
            "*.example.com",
        ] {
            assert!(check_domain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "localhost",
            "-a.example.com",
            "a..b",
            "bücher.example",
            "Example.com",
            "a_b.example.com",
            "example.com.",
            "192.168.1.1",
            "10.0.0.300",
            "::1",
            "ab--cd.example.com",
            "xn--.example.com",
            "xn--abc-.example.com",
            "xn--zzzz.example.com",
        ] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_domain("Example.COM").unwrap(), "example.com");
        assert_eq!(normalize_domain("Example.COM.").unwrap(), "example.com");
        assert!(normalize_domain(".").is_err());
        assert!(normalize_domain("example.com..").is_err());
        assert!(check_domain("example.com.")
            .unwrap_err()
            .contains("trailing dot"));
    }

    #[test]
    fn newer_version_is_refused_as_such() {
        let e = parse_site(b"version: 99\ndomain: example.com\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("newer"), "{e}");
        let e = parse_site(b"- a\n- b\n").unwrap_err().to_string();
        assert!(e.contains("not a valid site file"), "{e}");
    }
}
