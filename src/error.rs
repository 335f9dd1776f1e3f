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
        match self {
            Error::Input { message, .. } if message.contains("encrypted") => {
                Some("decrypt it first, e.g. `openssl pkey -in KEY -out plain.pem`, and pin that")
            }
            _ => None,
        }
    }
}
