//! `pinctl schedule`: the cron lines or systemd units that run `pinctl
//! renew` (ACME renewals, docs/design.md#acting) and then `pinctl
//! check`, quoted for each.

use super::{Ctx, Out};
use crate::error::{Error, Result};

/// Quotes a word for sh.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Quotes a word for a systemd ExecStart line.
fn systemd_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        s.to_string()
    } else {
        format!(
            "\"{}\"",
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%")
                .replace('$', "$$")
        )
    }
}

/// cron turns an unescaped `%` in a command into a newline (crontab(5)).
fn cron_escape(s: &str) -> String {
    s.replace('%', "\\%")
}

/// Text for a systemd setting such as `Description=`: `%` starts a
/// specifier (systemd.unit(5)), so it is doubled.
fn systemd_text(s: &str) -> String {
    s.replace('%', "%%")
}

/// `--at HH:MM` (24-hour), parsed where the command line is read.
pub fn parse_at(at: &str) -> std::result::Result<(u32, u32), String> {
    at.split_once(':')
        .filter(|(h, m)| h.len() <= 2 && m.len() == 2)
        .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
        .filter(|(h, m)| *h < 24 && *m < 60)
        .ok_or_else(|| format!("{at:?}: expected HH:MM (24-hour)"))
}

/// `pinctl schedule`.
pub fn schedule(ctx: &Ctx, cron: bool, at: (u32, u32), out: &mut Out) -> Result<i32> {
    let (h, m) = at;
    let exe = std::env::current_exe()
        .map_err(|e| Error::Usage(format!("cannot find the pinctl binary: {e}")))?;
    let state = if ctx.store.root.is_absolute() {
        ctx.store.root.clone()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::Usage(format!("cannot resolve the state folder: {e}")))?
            .join(&ctx.store.root)
    };
    let state = state.canonicalize().unwrap_or(state);
    let exe = exe.display().to_string();
    let state = state.display().to_string();
    let site = ctx.site.as_deref();
    // A line break would end the cron line or the unit setting early.
    for (what, v) in [
        ("the pinctl binary", exe.as_str()),
        ("the state folder", state.as_str()),
    ]
    .into_iter()
    .chain(site.map(|s| ("--site", s)))
    {
        if v.chars().any(char::is_control) {
            return Err(Error::Usage(format!(
                "{what} {v:?} has a control character; a scheduled line cannot carry it"
            )));
        }
    }
    let reports_db = super::reports::schedule_database()?;
    if cron {
        let mut cmd = format!("{} --state {}", sh_quote(&exe), sh_quote(&state));
        if let Some(db) = &reports_db {
            cmd = format!("{}={} {cmd}", super::reports::DATABASE_ENV, sh_quote(db));
        }
        if let Some(s) = site {
            cmd.push_str(&format!(" --site {}", sh_quote(s)));
        }
        out.line(format!(
            "# pinctl: renew and check {state} daily at {h:02}:{m:02}. Add these lines with `crontab -e`"
        ));
        out.line("# (do not pipe them into `crontab -`: that replaces the whole crontab).");
        out.line("# cron mails the output to MAILTO (set it to the operators' address).");
        out.line("MAILTO=root");
        // renew first, so that check sees what it renewed; `;` so that a
        // failed renewal does not keep the reminders from running.
        let cmd = cron_escape(&cmd);
        out.line(format!("{m} {h} * * * {cmd} renew; {cmd} check"));
    } else {
        let mut cmd = format!("{} --state {}", sh_quote(&exe), sh_quote(&state));
        if let Some(s) = site {
            cmd.push_str(&format!(" --site {}", sh_quote(s)));
        }
        out.line("# /etc/systemd/system/pinctl-check.service");
        out.line("[Unit]");
        out.line(format!(
            "Description=pinctl renew and check of {} (ACME renewals, HPKP reminders)",
            systemd_text(&state)
        ));
        out.line("");
        out.line("[Service]");
        out.line("Type=oneshot");
        if let Some(db) = &reports_db {
            out.line(super::reports::systemd_environment(
                super::reports::DATABASE_ENV,
                db,
            ));
        }
        // `renew` first (ACME renewals; nothing happens when none is due),
        // so that check judges what it renewed. One shell, not two
        // ExecStart= lines: systemd stops at the first that fails, and a
        // CA outage must not silence check. The unit exits with check's
        // status (1 warning, 2 critical, 3 unknown) when it is not 0,
        // else with renew's.
        let script = format!(
            "{cmd} renew; r=$?; {cmd} check; c=$?; if [ $c -ne 0 ]; then exit $c; fi; exit $r"
        );
        out.line(format!("ExecStart=/bin/sh -c {}", systemd_quote(&script)));
        out.line(
            "# A failed renewal, or check's exit 1 (warning), 2 (critical) or 3 (unknown), marks the unit failed: hook OnFailure= to mail it.",
        );
        out.line("SuccessExitStatus=0");
        out.line("");
        out.line("# /etc/systemd/system/pinctl-check.timer");
        out.line("[Unit]");
        out.line("Description=Daily pinctl renew and check");
        out.line("");
        out.line("[Timer]");
        out.line(format!("OnCalendar=*-*-* {h:02}:{m:02}:00"));
        out.line("Persistent=true");
        out.line("");
        out.line("[Install]");
        out.line("WantedBy=timers.target");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/usr/bin/pinctl"), "/usr/bin/pinctl");
        assert_eq!(sh_quote("/a b/it's"), "'/a b/it'\\''s'");
        assert_eq!(systemd_quote("/a b/100%"), "\"/a b/100%%\"");
        assert_eq!(cron_escape("/srv/100%/state"), "/srv/100\\%/state");
        assert_eq!(systemd_text("100% sure"), "100%% sure");
        assert_eq!(parse_at("07:30"), Ok((7, 30)));
        for bad in ["7", "24:00", "07:60", "7:3", "x:y", "07:30:00"] {
            assert!(parse_at(bad).is_err(), "{bad}");
        }
    }
}
