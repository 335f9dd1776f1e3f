//! `pinctl timeline`: the picture of a site's pinsets and keys over time.

use super::{Ctx, Out};
use crate::error::Result;

/// What `timeline` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    Text,
    Svg,
    Html,
}

/// `pinctl timeline`.
pub fn timeline(ctx: &Ctx, picture: Picture, out: &mut Out) -> Result<i32> {
    let domain = ctx.store.pick(ctx.site.as_deref())?;
    let site = ctx.store.load(&domain)?;
    let t = crate::timeline::build(&site, ctx.now);
    out.buf.push_str(&match picture {
        Picture::Text => crate::timeline::text(&t, 60),
        Picture::Svg => crate::timeline::svg(&t),
        Picture::Html => crate::timeline::html(&t),
    });
    Ok(0)
}
