//! `pinctl publish`: records that the desired pinset of a channel is
//! published (the header served, the RRset in the zone, an app release
//! shipped), once `lifecycle::publish_in` has judged it.

use chrono::NaiveDate;

use super::report::{blocker_lines, emit, safe_text, Closed, LockedOut, PublishReport};
use super::{Ctx, Out};
use crate::error::{Error, Result};
use crate::header::Mode;
use crate::lifecycle::{self, PublishOutcome, PublishRefusal, Retention};
use crate::state::{ChannelKind, WEB};
use crate::text::rfc3339;

/// What `pinctl publish` records.
#[derive(Debug, Default)]
pub struct PublishOptions {
    pub report_only: bool,
    /// None: the web header.
    pub channel: Option<String>,
    pub release: Option<String>,
    pub expires: Option<NaiveDate>,
    /// The artifact that shipped (app channels; required there).
    pub from: Option<std::path::PathBuf>,
    /// Record it although it is refused: it has shipped or is served.
    pub force: bool,
}

/// `pinctl publish`.
pub fn publish(ctx: &Ctx, opts: &PublishOptions, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let (lock, mut site) = ctx.store.load_for_update(&domain, ctx.now)?;
    let channel = opts.channel.as_deref().unwrap_or(WEB);
    let kind = site.channel_kind(channel).ok_or_else(|| {
        Error::Usage(format!(
            "{domain} has no channel named {channel} (see pinctl channel list)"
        ))
    })?;
    check_options(&domain, &site, channel, kind, opts)?;
    let shipped = shipped(&site.domain, channel, kind, opts)?;
    let zone = super::dns_update::target(&site, channel, out)?;
    let policy_mode = site.policy.mode;
    if opts.report_only {
        site.policy.mode = Mode::ReportOnly;
    }
    let result = lifecycle::publish_in(
        &mut site,
        channel,
        ctx.now,
        opts.release.as_deref(),
        opts.expires,
        shipped.as_ref(),
        opts.force,
    );
    site.policy.mode = policy_mode;
    let mut report = PublishReport {
        site: site.domain.clone(),
        at: rfc3339(ctx.now),
        channel: channel.to_string(),
        kind,
        release: opts.release.clone(),
        changed: false,
        publication: None,
        header: None,
        pins: Vec::new(),
        expires: None,
        closed: None,
        still_locked_out: Vec::new(),
        warnings: Vec::new(),
        zone_update: None,
    };
    match result {
        Ok(PublishOutcome::Unchanged) => {
            if let Some(t) = &zone {
                report.zone_update =
                    Some(super::dns_update::push(ctx, &mut site, channel, t, false)?);
            }
            let text = report.text();
            emit(ctx.json, &report, text, out)?;
            Ok(0)
        }
        Ok(PublishOutcome::Published {
            closed,
            still_locked_out,
            forced,
        }) => {
            if let Some(t) = &zone {
                report.zone_update =
                    Some(super::dns_update::push(ctx, &mut site, channel, t, true)?);
            }
            ctx.store.save(&lock, &site)?;
            published(
                &mut report,
                &site,
                closed,
                &still_locked_out,
                forced.as_ref(),
                opts,
                ctx.now,
            )?;
            let text = report.text();
            emit(ctx.json, &report, text, out)?;
            Ok(0)
        }
        Err(PublishRefusal::UnknownChannel(c)) => {
            Err(Error::Usage(format!("{domain} has no channel named {c}")))
        }
        Err(r) => Err(refused(&site, channel, kind, opts, ctx.now, &r)),
    }
}

/// The usage errors of publish's options for `channel` of `kind`.
fn check_options(
    domain: &str,
    site: &crate::state::Site,
    channel: &str,
    kind: ChannelKind,
    opts: &PublishOptions,
) -> Result<()> {
    if site.channel(channel).is_some_and(|c| c.retired.is_some()) {
        return Err(Error::Usage(format!(
            "channel {channel} of {domain} is retired; nothing is published through it"
        )));
    }
    if opts.report_only && kind != ChannelKind::Web {
        return Err(Error::Usage(
            "--report-only is for the web header only".into(),
        ));
    }
    if opts.release.is_some() != kind.is_app() {
        return Err(Error::Usage(if kind.is_app() {
            format!("the {kind} channel {channel} publishes app releases: name this one with --release LABEL (e.g. the version)")
        } else {
            format!("--release is for app channels; {channel} is a {kind} channel")
        }));
    }
    if opts.expires.is_some() && !kind.expires() {
        return Err(Error::Usage(format!(
            "--expires is for android and trustkit channels; {channel} is a {kind} channel"
        )));
    }
    Ok(())
}

/// What a recorded publication reports: its pinset, the publication it
/// closed and until when that is held, who stays locked out, warnings.
fn published(
    report: &mut PublishReport,
    site: &crate::state::Site,
    closed: Option<usize>,
    still_locked_out: &[lifecycle::Blocker],
    forced: Option<&PublishRefusal>,
    opts: &PublishOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let channel = report.channel.clone();
    let kind = report.kind;
    let Some(live) = site.publications.last() else {
        return Err(Error::Internal("publish opened no publication".into()));
    };
    report.changed = true;
    report.publication = Some(site.publications.len());
    // The recorded pinset, not the desired one: once this is out,
    // the desired pinset may already drop a roll-back pin.
    if kind == ChannelKind::Web {
        report.header = Some(lifecycle::header_of(live).line());
    }
    report.pins = live
        .pins
        .iter()
        .chain(&live.ca_pins)
        .map(|p| p.to_string())
        .collect();
    report.expires = live.expires.map(|d| d.to_string());
    report.closed = closed.map(|n| {
        let prev = &site.publications[n - 1];
        let (retained_until, why) = match lifecycle::retention(prev) {
            Retention::Until(r) => (Some(rfc3339(r)), None),
            Retention::Forever => (None, Some("never expires")),
            _ if prev.mode == Mode::ReportOnly => (None, Some("Report-Only")),
            _ => (None, Some("max-age=0")),
        };
        Closed {
            publication: n,
            retained_until,
            why_not_retained: why,
        }
    });
    report.still_locked_out = LockedOut::list(&site.domain, still_locked_out);
    if let Some(r) = forced {
        report.warnings.push(format!(
            "forced: recorded although {}; pinctl check is CRITICAL while its clients are locked out",
            refusal_text(site, &channel, kind, opts, now, r)
        ));
    }
    if live.reach() != crate::state::Reach::Host && lifecycle::retention(live) != Retention::Nothing
    {
        report.warnings.push(format!(
            "the pinset reaches the subdomains of {} (includeSubDomains), also those pinctl does not manage; each must serve a key it holds",
            site.domain
        ));
    }
    if lifecycle::retention(live) == Retention::Forever {
        report.warnings.push(format!(
            "{} never stops being held: installs that never update keep its pins for ever, so no key outside {{{}}} can ever be served (give the channel --expires-after or --horizon)",
            live.label(site.publications.len()),
            report.pins.join(", ")
        ));
    }
    Ok(())
}

/// A refusal as the error publish exits with.
fn refused(
    site: &crate::state::Site,
    channel: &str,
    kind: ChannelKind,
    opts: &PublishOptions,
    now: chrono::DateTime<chrono::Utc>,
    r: &PublishRefusal,
) -> Error {
    let mut m = format!(
        "refused: {}",
        refusal_text(site, channel, kind, opts, now, r)
    );
    if kind.is_app()
        && !matches!(
            r,
            PublishRefusal::ReleaseExists(_) | PublishRefusal::NoActiveKey
        )
    {
        m.push_str("; if this release has shipped already, record it anyway with --force, so that every later step counts its installs");
    }
    Error::Refused(m)
}

/// Why a publication was refused, in words (after `refused: `, or after
/// `forced: ` when `--force` recorded it anyway).
fn refusal_text(
    site: &crate::state::Site,
    channel: &str,
    kind: ChannelKind,
    opts: &PublishOptions,
    now: chrono::DateTime<chrono::Utc>,
    r: &PublishRefusal,
) -> String {
    let domain = &site.domain;
    let active = site.active().map(|k| k.name.clone()).unwrap_or_default();
    let what = match &opts.from {
        Some(f) => format!("{} as shipped", f.display()),
        None if kind == ChannelKind::Dns => format!("the {channel} RRset"),
        None if kind.is_app() => "this release".to_string(),
        None => format!("the desired {channel} pinset"),
    };
    match r {
        PublishRefusal::SubdomainNotAccepted { domain: sub, key } => format!(
            "the {channel} pinset reaches subdomains (includeSubDomains) but does not hold the pin of key {key} served by {sub}; clients that note it would be locked out of {sub} (add {sub}'s keys to the pinset, e.g. with ca-pin add, or drop includeSubDomains)"
        ),
        PublishRefusal::ServedKeyNotInPinset(k) => format!(
            "the servers may still serve {k} (nothing shows they moved to {active}: no header published since its certificate was recorded, no pinctl deployed), and {what} would not accept it: deploy {active}, record it with pinctl deployed {active} (or pinctl publish once its header is out), then publish this"
        ),
        PublishRefusal::UnknownChannel(c) => format!("{domain} has no channel named {c}"),
        PublishRefusal::ReleaseExists(r) => format!(
            "channel {channel} has shipped a release {r} already; releases are labelled once"
        ),
        PublishRefusal::ExpiresTooSoon(d) => format!(
            "the pin-set would expire on {d}, less than {} days after {} (Android lint PinSetExpiry; an expired pin-set pins nothing)",
            lifecycle::MIN_EXPIRY_DAYS,
            rfc3339(now)
        ),
        PublishRefusal::TooFewPins(n) => format!(
            "{what} holds {n} distinct pin(s) for {domain}; a pinset needs at least two, the served key and a backup (TrustKit refuses fewer: \"this might brick your App\"; Android enforces it, so no key outside it can ever be served)"
        ),
        PublishRefusal::NoActiveKey => "the site has no active key".into(),
        PublishRefusal::ActiveNotInPinset => format!(
            "{what} does not hold the active key {active} (nor a CA key of its chain that the {kind} channel matches); publishing it would be ignored or lock clients out"
        ),
        PublishRefusal::NoBackupPin => format!(
            "{what} has no pin outside the active key's chain (no backup); browsers ignore such a header (RFC 7469 section 4.3) and TrustKit refuses it"
        ),
        PublishRefusal::ActiveNotSafe { blockers, safe_from } => format!(
            "serving the active key {active} would lock out clients: {}; {}",
            blocker_lines(site, &active, blockers),
            safe_text(*safe_from, blockers)
        ),
    }
}

/// What the file that shipped holds, for an app release: `--from` is
/// required there, since a release holds the pins of the file that
/// shipped in it, which may be weeks older than the state
/// (docs/design.md#evidence).
fn shipped(
    domain: &str,
    channel: &str,
    kind: ChannelKind,
    opts: &PublishOptions,
) -> Result<Option<crate::shipped::Shipped>> {
    let Some(path) = &opts.from else {
        if kind.is_app() {
            let label = opts.release.as_deref().unwrap_or("LABEL");
            return Err(Error::Usage(format!(
                "an app release holds the pins of the file that shipped in it, not today's: give that file, e.g. pinctl publish --channel {channel} --release {label} --from {} (the file pinctl snippet --channel {channel} wrote)",
                artifact_hint(kind)
            )));
        }
        return Ok(None);
    };
    if !kind.is_app() {
        return Err(Error::Usage(format!(
            "--from reads an app release's file; {channel} is a {kind} channel, whose publication pinctl records as it desires it"
        )));
    }
    let label = path.display().to_string();
    let data = crate::fsutil::read_input(path)?;
    let got = crate::shipped::read(kind, domain, &data).map_err(|m| Error::input(&label, m))?;
    if let Some(want) = opts.expires {
        if got.expires != Some(want) {
            return Err(Error::input(
                &label,
                match got.expires {
                    Some(d) => format!("the file's pin-set expires {d}, but --expires says {want}"),
                    None => {
                        format!("the file's pin-set has no expiration, but --expires says {want}")
                    }
                },
            ));
        }
    }
    Ok(Some(got))
}

/// Where a channel's file usually lives in an app's source.
fn artifact_hint(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Android => "app/src/main/res/xml/network_security_config.xml",
        ChannelKind::Trustkit => "TrustKit.plist",
        ChannelKind::Ios => "Info.plist",
        ChannelKind::Okhttp => "Pins.kt",
        ChannelKind::Web | ChannelKind::Dns => "FILE",
    }
}
