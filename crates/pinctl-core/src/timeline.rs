//! `pinctl timeline`'s picture, pure: every channel's publications with
//! how long clients may hold them, each key's roles over time, the
//! promotions, and when each backup becomes safe, laid out on one time
//! axis; drawn as a terminal Gantt chart, an SVG or an HTML page.

use chrono::{DateTime, Utc};

use crate::lifecycle::{self, Retention, SafeFrom};
use crate::snippet::xml_escape as esc;
use crate::state::{Role, Site};
use crate::text::rfc3339;

/// What a stretch of a row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shade {
    /// Served, in the zone, or the channel's latest release.
    Published,
    /// Over, but clients may still hold it.
    Held,
    Active,
    Backup,
    Retired,
    Compromised,
}

impl Shade {
    fn glyph(self) -> char {
        match self {
            Shade::Published => '█',
            Shade::Held => '░',
            Shade::Active => '■',
            Shade::Backup => '·',
            Shade::Retired => '-',
            Shade::Compromised => '×',
        }
    }

    fn color(self) -> &'static str {
        match self {
            Shade::Published => "#2b6cb0",
            Shade::Held => "#90cdf4",
            Shade::Active => "#2f855a",
            Shade::Backup => "#c6f6d5",
            Shade::Retired => "#a0aec0",
            Shade::Compromised => "#e53e3e",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Shade::Published => "published",
            Shade::Held => "held by clients",
            Shade::Active => "active",
            Shade::Backup => "backup",
            Shade::Retired => "retired",
            Shade::Compromised => "compromised",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub shade: Shade,
    /// Runs past the picture's end (held for ever, or still current).
    pub open: bool,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub group: String,
    pub label: String,
    pub spans: Vec<Span>,
}

#[derive(Debug, Clone)]
pub struct Mark {
    pub at: DateTime<Utc>,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    pub site: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub rows: Vec<Row>,
    pub marks: Vec<Mark>,
}

/// The timeline of `site` as it stands at `now`.
pub fn build(site: &Site, now: DateTime<Utc>) -> Timeline {
    let start = site.created;
    let mut last = now;
    for p in &site.publications {
        if let Retention::Until(r) = lifecycle::retention(p) {
            last = last.max(r);
        }
    }
    let mut marks = vec![Mark {
        at: now,
        label: "now".into(),
    }];
    for k in site.backups() {
        if let SafeFrom::At(t) = lifecycle::safe_from(site, k) {
            if t > now {
                last = last.max(t);
                marks.push(Mark {
                    at: t,
                    label: format!("{} safe", k.name),
                });
            }
        }
    }
    for e in site.events.iter().filter(|e| e.event.is_promotion()) {
        marks.push(Mark {
            at: e.at,
            label: format!("promote {}", e.key.as_deref().unwrap_or("?")),
        });
    }
    marks.sort_by_key(|m| m.at);
    let span = (last - start).num_seconds().max(86_400);
    let end = lifecycle::add_secs(last, (span / 12) as u64);
    let mut rows = Vec::new();
    let mut channels = vec![crate::state::WEB.to_string()];
    channels.extend(site.channels.iter().map(|c| c.name.clone()));
    for ch in &channels {
        for (i, p) in site.publications.iter().enumerate() {
            if p.channel_name() != ch {
                continue;
            }
            let mut spans = Vec::new();
            let is_app = p.kind.is_app();
            // An app pin-set that expires pins nothing after it, even
            // while it is the latest release.
            let expiry = match lifecycle::retention(p) {
                Retention::Until(r) if p.kind.expires() => Some(r),
                _ => None,
            };
            let published_to = p.until.unwrap_or(end).min(expiry.unwrap_or(end));
            spans.push(Span {
                from: p.from,
                to: published_to,
                shade: Shade::Published,
                open: p.until.is_none() && expiry.is_none_or(|r| r >= end),
            });
            match lifecycle::retention(p) {
                Retention::Until(r) if r > published_to => spans.push(Span {
                    from: if is_app {
                        published_to.min(r)
                    } else {
                        published_to
                    },
                    to: r,
                    shade: Shade::Held,
                    open: false,
                }),
                Retention::Forever if p.until.is_some() => spans.push(Span {
                    from: published_to,
                    to: end,
                    shade: Shade::Held,
                    open: true,
                }),
                _ => {}
            }
            let mode = if p.mode == crate::header::Mode::ReportOnly {
                " report-only"
            } else {
                ""
            };
            rows.push(Row {
                group: ch.clone(),
                label: format!("{}{mode}", p.label(i + 1)),
                spans,
            });
        }
    }
    for k in &site.keys {
        rows.push(Row {
            group: "keys".into(),
            label: format!("{} ({})", k.name, k.role.as_str()),
            spans: key_spans(site, k, end),
        });
    }
    Timeline {
        site: site.domain.clone(),
        start,
        end,
        now,
        rows,
        marks,
    }
}

/// A key's roles: backup from its creation, active from its promotion,
/// then retired or compromised.
fn key_spans(site: &Site, k: &crate::state::Key, end: DateTime<Utc>) -> Vec<Span> {
    let promoted = site
        .events
        .iter()
        .find(|e| e.event.is_promotion() && e.key.as_deref() == Some(k.name.as_str()))
        .map(|e| e.at);
    let active_from = match (k.role, promoted) {
        (_, Some(t)) => Some(t),
        // Never promoted but active or past it: active from its creation.
        (Role::Active | Role::Retired | Role::Compromised, None) => Some(k.created),
        (Role::Backup, None) => None,
    };
    let ended = matches!(k.role, Role::Retired | Role::Compromised).then_some(k.role_since);
    let mut v = Vec::new();
    let mut push = |from: DateTime<Utc>, to: DateTime<Utc>, shade, open| {
        if to > from || open {
            v.push(Span {
                from,
                to,
                shade,
                open,
            });
        }
    };
    match active_from {
        None => push(k.created, end, Shade::Backup, true),
        Some(a) => {
            push(k.created, a, Shade::Backup, false);
            push(a, ended.unwrap_or(end), Shade::Active, ended.is_none());
        }
    }
    if let Some(r) = ended {
        let shade = if k.role == Role::Compromised {
            Shade::Compromised
        } else {
            Shade::Retired
        };
        let to = k.destroyed.unwrap_or(end);
        push(r, to, shade, k.destroyed.is_none());
    }
    v
}

fn frac(t: &Timeline, at: DateTime<Utc>) -> f64 {
    let total = (t.end - t.start).num_seconds().max(1) as f64;
    ((at - t.start).num_seconds() as f64 / total).clamp(0.0, 1.0)
}

/// A terminal Gantt chart, `width` columns for the bars.
pub fn text(t: &Timeline, width: usize) -> String {
    let lw = t
        .rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let mut out = format!(
        "{} from {} to {} (now {})\n",
        t.site,
        rfc3339(t.start),
        rfc3339(t.end),
        rfc3339(t.now)
    );
    let col = |at| ((frac(t, at) * width as f64).round() as usize).min(width);
    let mut group = "";
    for r in &t.rows {
        if r.group != group {
            group = &r.group;
            out.push_str(&format!("{group}\n"));
        }
        let mut bar = vec![' '; width];
        for s in &r.spans {
            let (a, b) = (col(s.from), col(s.to).max(col(s.from) + 1).min(width));
            for c in bar.iter_mut().take(b).skip(a) {
                *c = s.shade.glyph();
            }
            if s.open && b == width && width > 0 {
                bar[width - 1] = '>';
            }
        }
        let now = col(t.now).min(width.saturating_sub(1));
        if bar[now] == ' ' {
            bar[now] = '|';
        }
        out.push_str(&format!(
            "  {:<lw$} {}\n",
            r.label,
            bar.into_iter().collect::<String>()
        ));
    }
    for m in &t.marks {
        out.push_str(&format!("  {} {}\n", rfc3339(m.at), m.label));
    }
    out.push_str(&format!(
        "  {} published  {} held by clients  {} active  {} backup  {} retired  {} compromised  > goes on\n",
        Shade::Published.glyph(),
        Shade::Held.glyph(),
        Shade::Active.glyph(),
        Shade::Backup.glyph(),
        Shade::Retired.glyph(),
        Shade::Compromised.glyph()
    ));
    out
}

/// An SVG picture.
pub fn svg(t: &Timeline) -> String {
    let (left, top, row_h, width) = (230.0, 60.0, 22.0, 760.0);
    let groups = {
        let mut g: Vec<&str> = t.rows.iter().map(|r| r.group.as_str()).collect();
        g.dedup();
        g.len()
    };
    let height =
        top + (t.rows.len() + groups) as f64 * row_h + 40.0 + t.marks.len() as f64 * 14.0 + 30.0;
    let total_w = left + width + 70.0;
    let x = |at| left + frac(t, at) * width;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{height}\" viewBox=\"0 0 {total_w} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{} — pinsets and keys over time</text>\n<text x=\"10\" y=\"38\" fill=\"#4a5568\">{} to {}</text>\n",
        esc(&t.site),
        rfc3339(t.start),
        rfc3339(t.end)
    );
    // Month ticks.
    let mut tick = t.start;
    let mut n = 0;
    while tick < t.end && n < 60 {
        let tx = x(tick);
        s.push_str(&format!(
            "<line x1=\"{tx:.1}\" y1=\"{top}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#edf2f7\"/>\n<text x=\"{tx:.1}\" y=\"{:.1}\" fill=\"#718096\" font-size=\"10\">{}</text>\n",
            height - 40.0 - t.marks.len() as f64 * 14.0,
            top - 6.0,
            tick.format("%Y-%m-%d")
        ));
        let step = ((t.end - t.start).num_days() / 8).max(1);
        tick = lifecycle::add_days(tick, step);
        n += 1;
    }
    let mut y = top;
    let mut group = "";
    for r in &t.rows {
        if r.group != group {
            group = &r.group;
            y += row_h;
            s.push_str(&format!(
                "<text x=\"10\" y=\"{:.1}\" font-weight=\"bold\">{}</text>\n",
                y - 6.0,
                esc(group)
            ));
        }
        s.push_str(&format!(
            "<text x=\"24\" y=\"{:.1}\">{}</text>\n",
            y + 14.0,
            esc(&r.label)
        ));
        for sp in &r.spans {
            let (a, b) = (x(sp.from), x(sp.to).max(x(sp.from) + 2.0));
            s.push_str(&format!(
                "<rect x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {} to {}</title></rect>\n",
                y + 3.0,
                b - a,
                row_h - 6.0,
                sp.shade.color(),
                sp.shade.name(),
                rfc3339(sp.from),
                if sp.open { "and on".to_string() } else { rfc3339(sp.to) }
            ));
            if sp.open {
                s.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1a202c\">▶</text>\n",
                    b + 2.0,
                    y + 14.0
                ));
            }
        }
        y += row_h;
    }
    let bottom = y;
    for (i, m) in t.marks.iter().enumerate() {
        let mx = x(m.at);
        let color = if m.label == "now" {
            "#e53e3e"
        } else {
            "#805ad5"
        };
        s.push_str(&format!(
            "<line x1=\"{mx:.1}\" y1=\"{top}\" x2=\"{mx:.1}\" y2=\"{bottom:.1}\" stroke=\"{color}\" stroke-dasharray=\"4 3\"/>\n<text x=\"{mx:.1}\" y=\"{:.1}\" fill=\"{color}\" font-size=\"11\">{} {}</text>\n",
            bottom + 16.0 + i as f64 * 14.0,
            esc(&m.label),
            m.at.format("%Y-%m-%d %H:%M")
        ));
    }
    let ly = height - 16.0;
    let mut lx = 10.0;
    for sh in [
        Shade::Published,
        Shade::Held,
        Shade::Active,
        Shade::Backup,
        Shade::Retired,
        Shade::Compromised,
    ] {
        s.push_str(&format!(
            "<rect x=\"{lx}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{ly:.1}\">{}</text>\n",
            ly - 10.0,
            sh.color(),
            lx + 16.0,
            sh.name()
        ));
        lx += 130.0;
    }
    s.push_str("</svg>\n");
    s
}

/// An HTML page holding the SVG, for a change ticket.
pub fn html(t: &Timeline) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{} timeline</title></head>\n<body style=\"font-family: sans-serif\">\n<h1>{}</h1>\n<p>Every channel's publications and until when clients may hold them, each key's roles, promotions and safe-from dates, as of {}.</p>\n{}</body>\n</html>\n",
        esc(&t.site),
        esc(&t.site),
        rfc3339(t.now),
        svg(t)
    )
}
