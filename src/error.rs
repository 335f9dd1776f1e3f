//! The library's error type: every failure a user can cause, with the file
//! or object it concerns, rendered as one lowercase line by `main`, and the
//! hint each kind of failure carries.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with enough context to name the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("{path}: {message}")]
    State { path: PathBuf, message: String },
    /// Another pinctl holds the state folder's lock.
    #[error("{path}: state is locked by pid {pid}")]
    Locked { path: PathBuf, pid: String },
    /// A state file written by a newer pinctl.
    #[error("{path}: state version {found} is newer than this pinctl understands ({known}); upgrade pinctl")]
    NewerState {
        path: PathBuf,
        found: u64,
        known: u32,
    },
    /// An archive that the passphrase given does not open.
    #[error("{path}: wrong passphrase, or the archive was tampered with")]
    WrongPassphrase { path: String },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Crypto(String),
    /// A server could not be reached or spoke no TLS.
    #[error("{0}")]
    Network(String),
    /// A bug in pinctl: an invariant that should hold did not.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A problem with an input file (or `-` for standard input).
    pub fn input(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A problem with the state folder or one of its files.
    pub fn state(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::State {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The hint shown under the error line, by kind of failure.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Locked { .. } => Some(
                "another pinctl is changing this state folder; run the command again when it has finished",
            ),
            Error::WrongPassphrase { .. } => Some(
                "the passphrase comes from --passphrase-file, else PINCTL_PASSPHRASE, else the terminal",
            ),
            Error::NewerState { .. } => {
                Some("the state was written by a newer pinctl; upgrade instead of editing the file")
            }
            Error::Internal(_) => {
                Some("this is a bug in pinctl; the state was left as it was before the command")
            }
            Error::Network(_) => Some(
                "check the URL, the address given with --connect, and that the server speaks TLS",
            ),
            _ => None,
        }
    }
}
