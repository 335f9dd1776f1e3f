//! `pinctl plan`: what is due next, or the steps of a promotion, from
//! the pure `plan` module.

use serde_json::json;

use super::report::plan_lines;
use super::{json, site_dir, Ctx, Out};
use crate::error::{Error, Result};
use crate::plan as planner;
use crate::state::Role;
use crate::text::rfc3339;

/// `pinctl plan`.
pub fn plan(
    ctx: &Ctx,
    promote: Option<&str>,
    database: Option<&str>,
    out: &mut Out,
) -> Result<i32> {
    let as_json = ctx.json;
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    let mut steps = match promote {
        Some(n) => {
            let k = site.require_key(n)?;
            if k.role != Role::Backup {
                return Err(Error::Usage(format!(
                    "{n} is {}, not a backup",
                    k.role.as_str()
                )));
            }
            planner::promotion(&site, &site_dir(ctx, &domain), n, ctx.now)
        }
        None => {
            let rows = super::reports::findings(ctx, database, Some(&domain))?;
            let unexpected = planner::Unexpected::of(&site, &rows);
            planner::next_steps_with(&site, &site_dir(ctx, &domain), ctx.now, unexpected)
        }
    };
    if let Some(k) = promote.or(site.active().map(|k| k.name.as_str())) {
        super::acme::plan_commands(ctx, &mut steps, k);
    }
    if as_json {
        out.line(json(&json!({ "site": domain, "steps": steps }))?);
    } else {
        out.line(format!("{domain} at {}", rfc3339(ctx.now)));
        if steps.is_empty() {
            out.line("Nothing is due.");
        } else {
            for l in plan_lines(&steps) {
                out.line(l);
            }
        }
    }
    Ok(0)
}
