//! The reports of the commands that change the state, one
//! `#[derive(Serialize)]` struct each: `--format json` prints the struct
//! as it is, and the text view is written from the same struct, so the two
//! cannot drift apart. Times are RFC 3339 UTC with `Z`.

use serde::Serialize;

use super::{json, Out};
use crate::error::Result;
use crate::lifecycle::{Blocker, SafeFrom};
use crate::pin::Pin;
use crate::state::Site;
use crate::text::rfc3339;

/// A key as the write commands name it.
#[derive(Debug, Serialize)]
pub struct KeyLine {
    pub name: String,
    pub role: &'static str,
    pub algorithm: &'static str,
    pub pin: Pin,
}

impl KeyLine {
    pub fn of(k: &crate::state::Key) -> KeyLine {
        KeyLine {
            name: k.name.clone(),
            role: k.role.as_str(),
            algorithm: k.key_type.as_str(),
            pin: k.pin.clone(),
        }
    }
}

/// A pinset whose clients stay locked out, and until when.
#[derive(Debug, Serialize)]
pub struct LockedOut {
    /// The site whose publication it is (an ancestor's includeSubDomains
    /// header, or the site's own).
    pub site: String,
    pub publication: usize,
    pub from: String,
    /// When the last such client forgets it; null while it is still served.
    pub until: Option<String>,
}

impl LockedOut {
    pub fn list(site: &str, blockers: &[Blocker]) -> Vec<LockedOut> {
        blockers
            .iter()
            .map(|b| LockedOut {
                site: b.site.clone().unwrap_or_else(|| site.to_string()),
                publication: b.number,
                from: rfc3339(b.from),
                until: b.retained_until.map(rfc3339),
            })
            .collect()
    }

    /// "visitors who saw … are locked out until …"
    pub fn line(&self, own: &str) -> String {
        let whose = if self.site == own {
            format!("publication {}", self.publication)
        } else {
            format!(
                "{}'s includeSubDomains publication {}",
                self.site, self.publication
            )
        };
        let until = self
            .until
            .clone()
            .unwrap_or_else(|| "the live header is replaced, plus its max-age".into());
        format!(
            "visitors who saw {whose} (from {}) are locked out until {until}",
            self.from
        )
    }
}

/// Prints a report: JSON, or the text lines the command wrote from it.
/// The `warning: ` lines go to standard error in both forms: a script
/// reading the JSON gets one document, and still sees the warnings.
pub fn emit<T: Serialize>(
    ctx_json: bool,
    report: &T,
    text: Vec<String>,
    out: &mut Out,
) -> Result<()> {
    for l in text {
        if let Some(w) = l.trim_start().strip_prefix("warning: ") {
            out.warn(w);
        } else if !ctx_json {
            out.line(l);
        }
    }
    if ctx_json {
        out.line(json(report)?);
    }
    Ok(())
}

/// `pinctl publish`.
#[derive(Debug, Serialize)]
pub struct PublishReport {
    pub site: String,
    pub at: String,
    pub channel: String,
    pub kind: crate::state::ChannelKind,
    /// The app release's label.
    pub release: Option<String>,
    /// False when the desired pinset was already the live one.
    pub changed: bool,
    /// The number of the publication now live.
    pub publication: Option<usize>,
    /// The header recorded as served (web only).
    pub header: Option<String>,
    /// The pins recorded (for dns and ios the leaf pins, then CA pins).
    pub pins: Vec<String>,
    /// An app release's pin-set expiration date (YYYY-MM-DD).
    pub expires: Option<String>,
    /// The publication this one replaced, and until when clients hold it.
    pub closed: Option<Closed>,
    /// Lockouts accepted earlier with --force that still last.
    pub still_locked_out: Vec<LockedOut>,
    pub warnings: Vec<String>,
    /// dns with a server: the update sent and the RRset read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_update: Option<super::dns_update::ZoneUpdate>,
}

#[derive(Debug, Serialize)]
pub struct Closed {
    pub publication: usize,
    /// Null when no client holds it (Report-Only, or max-age=0).
    pub retained_until: Option<String>,
    pub why_not_retained: Option<&'static str>,
}

impl PublishReport {
    pub fn text(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(z) = &self.zone_update {
            v.push(z.text());
        }
        if !self.changed {
            v.push(format!(
                "The desired {} pinset is already the live one; nothing changed.",
                self.channel
            ));
            return v;
        }
        if let (Some(n), Some(h)) = (self.publication, &self.header) {
            v.push(format!("Published at {}: publication {n}", self.at));
            v.push(format!("  {h}"));
        } else if let Some(n) = self.publication {
            let what = match &self.release {
                Some(r) => format!("{} release {r}", self.channel),
                None => format!("{} pinset", self.channel),
            };
            v.push(format!(
                "Published at {}: {what} (publication {n})",
                self.at
            ));
            for p in &self.pins {
                v.push(format!("  {p}"));
            }
            if let Some(e) = &self.expires {
                v.push(format!("  pin-set expires {e}"));
            }
        }
        if let Some(c) = &self.closed {
            v.push(match (&c.retained_until, c.why_not_retained) {
                (Some(r), _) => format!(
                    "Publication {} ended; clients may hold its pins until {r}",
                    c.publication
                ),
                (None, why) => format!(
                    "Publication {} ended ({}: retained by no client)",
                    c.publication,
                    why.unwrap_or("not enforced")
                ),
            });
        }
        for l in &self.still_locked_out {
            v.push(format!(
                "warning: accepted earlier with --force: {}",
                l.line(&self.site)
            ));
        }
        for w in &self.warnings {
            v.push(format!("warning: {w}"));
        }
        v
    }
}

/// A plan step as the reports show it.
pub fn plan_lines(steps: &[crate::plan::Step]) -> Vec<String> {
    let mut v = vec!["Plan:".to_string()];
    for s in steps {
        let when = s
            .not_before
            .map(|t| format!(" [not before {}]", rfc3339(t)))
            .unwrap_or_default();
        v.push(format!("  {}. {}{when}", s.n, s.action));
        if let Some(c) = &s.command {
            v.push(format!("       $ {c}"));
        }
    }
    v
}

/// `pinctl rotate`.
#[derive(Debug, Serialize)]
pub struct RotateReport {
    pub site: String,
    pub at: String,
    /// True with --dry-run: nothing was written.
    pub dry_run: bool,
    pub promoted: String,
    pub old_active: Option<String>,
    pub compromised: bool,
    /// With --compromised: until when clients may still accept the old key
    /// (if the new header goes out now).
    pub compromised_trusted_until: Option<String>,
    /// With --compromised: an app release that never expires holds the
    /// old key's pin, so its installs accept it for ever.
    pub compromised_trusted_forever: bool,
    /// The backups made to keep their number (with --dry-run: to be made).
    pub new_backups: Vec<String>,
    /// With --force: who is locked out until when.
    pub locked_out: Vec<LockedOut>,
    /// The header to deploy next (null with --dry-run).
    pub desired_header: Option<String>,
    pub plan: Vec<crate::plan::Step>,
    pub warnings: Vec<String>,
    /// Text only: the type the new backups are made with.
    #[serde(skip)]
    pub new_type: String,
}

impl RotateReport {
    pub fn text(&self) -> Vec<String> {
        let mut v = Vec::new();
        for l in &self.locked_out {
            v.push(format!("warning: forced: {}", l.line(&self.site)));
        }
        for w in &self.warnings {
            v.push(format!("warning: {w}"));
        }
        if self.dry_run {
            v.push(format!(
                "Dry run: nothing was written. At {} pinctl would:",
                self.at
            ));
        } else {
            v.push(format!("Rotated {} at {}:", self.site, self.at));
        }
        v.push(format!("  {} becomes the active key", self.promoted));
        if let Some(old) = &self.old_active {
            if self.compromised {
                v.push(format!(
                    "  {old} is marked compromised; its pin leaves the desired header now"
                ));
                if self.compromised_trusted_forever {
                    v.push(format!(
                        "  warning: an app release that never expires holds {old}'s pin: its installs accept a certificate for {old} for ever; revoke its certificates and make users update"
                    ));
                } else if let Some(t) = &self.compromised_trusted_until {
                    v.push(format!(
                        "  warning: clients that noted a pinset holding {old} may still accept a certificate for it until {t} (if the new pinsets go out now); revoke its certificates"
                    ));
                }
            } else {
                v.push(format!(
                    "  {old} is retired; its pin stays in the header until the new key has been published, so a failed deployment can roll back"
                ));
            }
        }
        for n in &self.new_backups {
            if self.dry_run {
                v.push(format!(
                    "  make {n} ({}) with its CSR and archive",
                    self.new_type
                ));
            } else {
                v.push(format!("  new backup {n}"));
            }
        }
        if let Some(h) = &self.desired_header {
            v.push(format!("  desired header: {h}"));
        }
        v.extend(plan_lines(&self.plan));
        v
    }
}

/// `pinctl cert add`.
#[derive(Debug, Serialize)]
pub struct CertReport {
    pub site: String,
    /// The file the state keeps it in.
    pub file: String,
    pub key: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    /// The verified direct issuer, the one CA key that counts in safety
    /// decisions; null when the chain earns none.
    pub issuer_pin: Option<Pin>,
    /// Every CA certificate's pin in the file, for the record.
    pub ca_pins: Vec<Pin>,
    /// With --force: who is locked out until when.
    pub locked_out: Vec<LockedOut>,
    pub warnings: Vec<String>,
}

impl CertReport {
    pub fn text(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .locked_out
            .iter()
            .map(|l| format!("warning: forced: {}", l.line(&self.site)))
            .collect();
        v.extend(self.warnings.iter().map(|w| format!("warning: {w}")));
        v.push(format!(
            "recorded {} for {} ({}), valid {} to {}; {}",
            self.file,
            self.key,
            crate::text::printable(&self.subject),
            self.not_before,
            self.not_after,
            match &self.issuer_pin {
                Some(p) => format!("its verified direct issuer {p} counts in safety decisions"),
                None => "only its own key counts in safety decisions".into(),
            }
        ));
        v
    }
}

/// `pinctl ca-pin add` and `ca-pin remove`.
#[derive(Debug, Serialize)]
pub struct CaPinReport {
    pub site: String,
    /// "added" or "removed".
    pub action: &'static str,
    pub name: String,
    pub pin: Pin,
    pub subject: Option<String>,
}

impl CaPinReport {
    pub fn text(&self) -> Vec<String> {
        vec![match self.action {
            "added" => format!(
                "added ca-pin {} ({}); publish to serve it",
                self.name, self.pin
            ),
            _ => format!("removed ca-pin {}; publish to stop serving it", self.name),
        }]
    }
}

/// `pinctl archive copy` and `archive verify`.
#[derive(Debug, Serialize)]
pub struct ArchiveReport {
    pub site: String,
    pub key: String,
    /// "copied" or "verified".
    pub action: &'static str,
    pub location: String,
    /// The copy's file.
    pub path: String,
    pub pin: Pin,
    /// How many offline copies are recorded for the key.
    pub copies: usize,
}

impl ArchiveReport {
    pub fn text(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.action == "copied" {
            v.push(format!(
                "copied {}'s archive to {} ({}); {} recorded copies",
                self.key, self.path, self.location, self.copies
            ));
            if self.copies < 2 {
                v.push(format!(
                    "store a second copy in another place: pinctl archive copy {} --to DIR --location LABEL",
                    self.key
                ));
            }
        } else {
            v.push(format!(
                "verified {}'s copy at {} ({}): it decrypts and its pin {} matches",
                self.key, self.path, self.location, self.pin
            ));
        }
        v
    }
}

/// `pinctl key export` and `key destroy`.
#[derive(Debug, Serialize)]
pub struct KeyReport {
    pub site: String,
    pub key: String,
    /// "exported" or "destroyed".
    pub action: &'static str,
    /// The file written (export) or deleted (destroy).
    pub path: String,
    /// With destroy: offline copies that must be destroyed by hand.
    pub copies_to_destroy: Vec<String>,
}

impl KeyReport {
    pub fn text(&self) -> Vec<String> {
        if self.action == "exported" {
            return vec![format!(
                "wrote {}'s private key {} to {} (mode 0600); delete it once deployed",
                self.site, self.key, self.path
            )];
        }
        let mut v = vec![format!(
            "destroyed {}'s archive of {} ({}); the key stays in the history",
            self.site, self.key, self.path
        )];
        v.extend(
            self.copies_to_destroy
                .iter()
                .map(|c| format!("  destroy its offline copy too: {c}")),
        );
        v
    }
}

/// A file a command wrote.
#[derive(Debug, Serialize)]
pub struct FileLine {
    pub path: String,
    /// age-encrypted, mode 0600.
    pub encrypted: bool,
}

/// `pinctl init` and `pinctl import`.
#[derive(Debug, Serialize)]
pub struct InitReport {
    pub site: String,
    pub folder: String,
    pub keys: Vec<KeyLine>,
    pub files: Vec<FileLine>,
    /// The header to serve first (Report-Only).
    pub header: String,
    pub next_steps: Vec<String>,
    pub warnings: Vec<String>,
}

impl InitReport {
    pub fn text(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .warnings
            .iter()
            .map(|w| format!("warning: {w}"))
            .collect();
        v.push(format!("Initialised {} in {}", self.site, self.folder));
        v.push(String::new());
        for k in &self.keys {
            v.push(format!(
                "  {:<9} {:<7} {:<8} {}",
                k.name, k.role, k.algorithm, k.pin
            ));
        }
        v.push(String::new());
        v.push("Files written:".into());
        for f in &self.files {
            let what = if f.encrypted {
                "  (age-encrypted, 0600)"
            } else {
                ""
            };
            v.push(format!("  {}{what}", f.path));
        }
        v.push(String::new());
        v.push("The roll-out starts in Report-Only mode (it blocks nothing and clients do not remember it):".into());
        v.push(format!("  {}", self.header));
        v.push(String::new());
        v.push("Next steps:".into());
        for (i, s) in self.next_steps.iter().enumerate() {
            v.push(format!("  {}. {s}", i + 1));
        }
        v
    }
}

pub fn blocker_lines(site: &Site, key: &str, blockers: &[Blocker]) -> String {
    blockers
        .iter()
        .map(|b| {
            let whose = match &b.site {
                Some(d) if b.kind == crate::state::ChannelKind::Web => {
                    format!("{d}'s includeSubDomains {}", b.label())
                }
                Some(d) => format!("{d}'s {} (reaching its subdomains)", b.label()),
                None => format!("{}'s {}", site.domain, b.label()),
            };
            let served = match (b.until, b.kind.is_app()) {
                (Some(u), false) => format!("served {} to {}", rfc3339(b.from), rfc3339(u)),
                (None, false) => format!("served since {} (live)", rfc3339(b.from)),
                (Some(u), true) => {
                    format!("shipped {}, superseded {}", rfc3339(b.from), rfc3339(u))
                }
                (None, true) => format!("shipped {}, the latest release", rfc3339(b.from)),
            };
            let held = match (b.retained_until, b.forever) {
                (Some(r), _) => format!("clients may hold it until {}", rfc3339(r)),
                (None, true) => "installs hold it for ever (it never expires)".to_string(),
                (None, false) => format!(
                    "clients hold it for as long as it is current, plus its {}",
                    match b.kind {
                        crate::state::ChannelKind::Web => "max-age",
                        crate::state::ChannelKind::Dns => "2 TTLs",
                        _ => "horizon",
                    }
                ),
            };
            format!("{whose} ({served}) lacks {key}'s pin; {held}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn safe_text(sf: SafeFrom, blockers: &[Blocker]) -> String {
    match sf {
        SafeFrom::At(t) => format!("it is safe from {}", rfc3339(t)),
        SafeFrom::Never => {
            let live = blockers.iter().find(|b| b.until.is_none());
            match live.and_then(|b| b.site.as_deref()) {
                Some(d) => format!("it is not safe while {d} serves that header: publish one on {d} that holds it (pinctl --site {d} ca-pin add …) and wait out the older ones"),
                None => "it is not safe while a live publication lacks it: publish a header that holds it and wait out the older ones".into(),
            }
        }
    }
}
