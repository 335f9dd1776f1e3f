//! The one integration-test binary (one link on two cores): CLI tests that
//! drive the real `pinctl` in fresh temporary folders, and cross-checks
//! against real peers.

mod check;
mod common;
mod corpus;
mod crash;
mod harness;
mod init;
mod lifecycle;
mod lint;
mod pin;
mod secrets;
mod servers;
