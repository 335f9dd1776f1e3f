//! pinctl-reports: the violation report collector (docs/design.md#collector).
//! `serve` is the HTTP server (tokio, hyper, rustls), `store` the database
//! (SQLite; PostgreSQL with the `postgres` feature), `client` who sent a
//! report (proxies, the rate limit). Parsing, classifying
//! and deduplicating reports is pure and lives in `pinctl_core::report`,
//! re-exported here so that `pinctl_reports::parse` and the collector read
//! as one thing.
#![forbid(unsafe_code)]

pub mod client;
mod conninfo;
#[cfg(feature = "postgres")]
pub mod pg;
mod row;
pub mod serve;
pub mod store;

pub use pinctl_core::report::*;
