//! Crash-safety testing: `PINCTL_FAILPOINT=write:K` makes pinctl abort the
//! process right before its K-th atomic file replacement, as a crash would.

use crate::error::Result;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNT: AtomicU64 = AtomicU64::new(0);

/// Counts a write and aborts the process when the failpoint says so.
pub fn hit(kind: &str) -> Result<()> {
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if let Ok(spec) = std::env::var("PINCTL_FAILPOINT") {
        if let Some(k) = spec.strip_prefix(&format!("{kind}:")) {
            if k.parse::<u64>().ok() == Some(n) {
                std::process::abort();
            }
        }
    }
    Ok(())
}
