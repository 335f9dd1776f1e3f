//! Crash-safety and concurrency testing: `PINCTL_FAILPOINT=write:K` makes
//! pinctl abort the process right before its K-th file write lands, as a
//! crash would; `PINCTL_FAILPOINT=hold-lock:MS` keeps the state lock for MS
//! milliseconds after taking it, so that tests can race a second command;
//! `PINCTL_FAILPOINT=unlink` makes deleting a file fail;
//! `PINCTL_FAILPOINT=writer-panic` makes the report collector's writer
//! panic on its first batch.
//!
//! Only with the `failpoints` feature, which the test build turns on (the
//! crate's dev-dependency on itself): what users build and run has no
//! such switch, and these functions do nothing.

use pinctl_core::error::Result;
#[cfg(feature = "failpoints")]
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "failpoints")]
static COUNT: AtomicU64 = AtomicU64::new(0);

/// Counts a write and aborts the process when the failpoint says so.
#[cfg(feature = "failpoints")]
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

#[cfg(not(feature = "failpoints"))]
pub fn hit(_kind: &str) -> Result<()> {
    Ok(())
}

#[cfg(not(feature = "failpoints"))]
pub fn hold_lock() {}

/// Deletes a file; `PINCTL_FAILPOINT=unlink` makes the deletion fail, as
/// a read-only mount would.
pub fn remove_file(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(feature = "failpoints")]
    if std::env::var("PINCTL_FAILPOINT").as_deref() == Ok("unlink") {
        return Err(std::io::Error::from_raw_os_error(libc::EROFS));
    }
    std::fs::remove_file(path)
}

/// Sleeps while holding the lock when the failpoint asks for it.
#[cfg(feature = "failpoints")]
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

/// Whether the report collector's writer is to panic (the test that the
/// collector then exits non-zero, docs/design.md#storage).
pub fn writer_panics() -> bool {
    cfg!(feature = "failpoints")
        && std::env::var("PINCTL_FAILPOINT").as_deref() == Ok("writer-panic")
}
