//! Crash-safety and concurrency testing: `PINCTL_FAILPOINT=write:K` makes
//! pinctl abort the process right before its K-th file write lands, as a
//! crash would; `PINCTL_FAILPOINT=hold-lock:MS` keeps the state lock for MS
//! milliseconds after taking it, so that tests can race a second command.

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

/// Sleeps while holding the lock when the failpoint asks for it.
pub fn hold_lock() {
    if let Ok(spec) = std::env::var("PINCTL_FAILPOINT") {
        if let Some(ms) = spec
            .strip_prefix("hold-lock:")
            .and_then(|m| m.parse::<u64>().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
        }
    }
}
