//! The library's error type: every failure a user can cause, with the file
//! or object it concerns, rendered as one lowercase line by `main`.

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
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Crypto(String),
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

    /// An optional hint shown under the error line.
    pub fn hint(&self) -> Option<&'static str> {
        let text = self.to_string();
        if text.contains("state is locked by pid") {
            Some("another pinctl is changing this state folder; run the command again when it has finished")
        } else if text.contains("wrong passphrase") {
            Some("the passphrase comes from PINCTL_PASSPHRASE, --passphrase-file or the terminal, in that order")
        } else if text.contains("newer than this pinctl") {
            Some("the state was written by a newer pinctl; upgrade instead of editing the file")
        } else {
            None
        }
    }
}
