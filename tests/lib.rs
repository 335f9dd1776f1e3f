//! The one integration-test binary (one link on two cores): CLI tests that
//! drive the real `pinctl` in fresh temporary folders, and cross-checks
//! against real peers.

/// Says SKIPPED on the test's output even when cargo captures it: written
/// straight to the process's stderr, which the capture does not intercept.
macro_rules! skipped {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod acme;
mod blackbox;
mod channels;
mod check;
mod common;
mod corpus;
mod crash;
mod dns;
mod edges;
mod edges22;
mod fleet;
mod harness;
mod init;
mod lifecycle;
mod limits;
mod lint;
mod lockouts;
mod pin;
mod reports;
mod schemas;
mod secrets;
mod servers;
