//! pinctl: the life of an HTTP Public Key Pinning (RFC 7469) deployment.
//!
//! `cli` turns the command line into plain option structs; `commands` runs
//! them on the layers below, each a package of the workspace
//! (docs/design.md#crates): `pinctl_core` (the pure model),
//! `pinctl_store` (the state folder) and `pinctl_reports` (the collector).
//! Their modules are re-exported here under their own names, so that a
//! command says `crate::lifecycle` wherever the module lives. What only
//! the binary does is here too: `probe` (TLS to the servers) and `secret`
//! (passphrases from a file, the environment or the terminal).
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod probe;
pub mod secret;

pub use pinctl_core::{
    artifact, chain, check, csr, dane, dn, error, finding, header, keys, lifecycle, pem_scan, pin,
    plan, report, shipped, snippet, state, text, timeline,
};
pub use pinctl_reports as reports;
pub use pinctl_store::{archive, failpoint, fsutil, keyring, pin_file, store};

pub use error::{Error, Result};

/// Runs pinctl with these arguments and returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    cli::run(args)
}
