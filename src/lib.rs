//! pinctl: the life of an HTTP Public Key Pinning (RFC 7469) deployment.
//!
//! `cli` turns the command line into plain option structs; `commands` runs
//! them on the modules below, which each own one concept.
#![forbid(unsafe_code)]

pub mod archive;
pub mod artifact;
pub mod chain;
pub mod check;
pub mod cli;
pub mod commands;
pub mod csr;
pub mod dn;
pub mod error;
pub mod failpoint;
pub mod fsutil;
pub mod header;
pub mod keyring;
pub mod keys;
pub mod lifecycle;
pub mod pem_scan;
pub mod pin;
pub mod plan;
pub mod probe;
pub mod reports;
pub mod secret;
pub mod shipped;
pub mod snippet;
pub mod state;
pub mod store;
pub mod text;
pub mod timeline;

pub use error::{Error, Result};

/// Runs pinctl with these arguments and returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    cli::run(args)
}
