//! pinctl-core: the pure model of an HTTP Public Key Pinning (RFC 7469)
//! deployment (docs/design.md#crates). Time and data in, decisions out:
//! nothing here reads a file, the clock or the network, opens a database
//! or starts a runtime. `pinctl-store` keeps the state on disk,
//! `pinctl-reports` collects violation reports, and the `pinctl` binary
//! reads the clock and runs the commands.
#![forbid(unsafe_code)]

pub mod artifact;
pub mod chain;
pub mod check;
pub mod csr;
pub mod dane;
pub mod dn;
pub mod error;
pub mod finding;
pub mod header;
pub mod keys;
pub mod lifecycle;
pub mod pem_scan;
pub mod pin;
pub mod plan;
pub mod report;
pub mod shipped;
pub mod site_yaml;
pub mod snippet;
pub mod state;
pub mod text;
pub mod timeline;
pub mod wipe;

pub use error::{Error, Result};
