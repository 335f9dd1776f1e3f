//! pinctl-store: the state folder on disk (docs/design.md#crates). Loading
//! a site with its neighbours, the lock, atomic and no-clobber writes, age
//! archives, a site's keys as files, and pinning a file. Built on the
//! pure `pinctl-core`; it asks no questions on a terminal (the binary's
//! commands do) and reads no clock.
#![forbid(unsafe_code)]

pub mod archive;
pub mod failpoint;
pub mod fsutil;
pub mod keyring;
pub mod pin_file;
pub mod store;
