//! HTTP-01 answers (RFC 8555 section 8.3): pinctl's own listener, or
//! files under a web server's `.well-known/acme-challenge/`, removed
//! again whatever the outcome.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Error;

const PREFIX: &str = "/.well-known/acme-challenge/";

/// A token names a file and a URL path: only base64url characters
/// (RFC 8555 section 8.3), so it can never climb out of the folder.
pub fn token_ok(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// pinctl's own answering server, for as long as it lives.
pub struct Listener {
    answers: Arc<Mutex<HashMap<String, String>>>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Binds first, so that a taken port fails before anything is ordered.
    pub async fn bind(addr: SocketAddr) -> Result<Listener, Error> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::usage(format!("--http01-listen {addr}: cannot listen: {e}")))?;
        let answers: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let shared = answers.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let answers = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let body = req
                            .uri()
                            .path()
                            .strip_prefix(PREFIX)
                            .and_then(|t| answers.lock().ok()?.get(t).cloned());
                        async move {
                            let rsp = match body {
                                Some(b) => Response::builder()
                                    .header("content-type", "application/octet-stream")
                                    .body(Full::new(Bytes::from(b))),
                                None => Response::builder()
                                    .status(StatusCode::NOT_FOUND)
                                    .body(Full::new(Bytes::new())),
                            };
                            Ok::<_, Infallible>(rsp.unwrap_or_default())
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Listener { answers, task })
    }

    pub fn present(&self, token: &str, key_auth: &str) -> Result<(), Error> {
        if !token_ok(token) {
            return Err(Error::ca(format!(
                "the CA sent a challenge token pinctl refuses to serve: {token:?}"
            )));
        }
        if let Ok(mut a) = self.answers.lock() {
            a.insert(token.to_string(), key_auth.to_string());
        }
        Ok(())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Files written under `<webroot>/.well-known/acme-challenge/`, and the
/// folders pinctl made for them; all removed on drop.
pub struct Webroot {
    dir: PathBuf,
    made: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

impl Webroot {
    /// The folder must exist; `.well-known` and `acme-challenge` are made
    /// when missing, and refused when they are links (pinctl writes only
    /// where the web server serves these URLs from).
    pub fn open(root: &Path) -> Result<Webroot, Error> {
        let meta = std::fs::metadata(root)
            .map_err(|e| Error::usage(format!("--http01-webroot {}: {e}", root.display())))?;
        if !meta.is_dir() {
            return Err(Error::usage(format!(
                "--http01-webroot {}: not a folder",
                root.display()
            )));
        }
        let mut made = Vec::new();
        let mut dir = root.to_path_buf();
        for part in [".well-known", "acme-challenge"] {
            dir.push(part);
            match std::fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    let w = Webroot {
                        dir: dir.clone(),
                        made,
                        files: Vec::new(),
                    };
                    drop(w);
                    return Err(Error::usage(format!(
                        "--http01-webroot: {} is not a plain folder (a link or a file); pinctl writes only into a real .well-known/acme-challenge/",
                        dir.display()
                    )));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&dir).map_err(|e| {
                        Error::usage(format!(
                            "--http01-webroot: cannot make {}: {e}",
                            dir.display()
                        ))
                    })?;
                    made.push(dir.clone());
                }
                Err(e) => {
                    return Err(Error::usage(format!(
                        "--http01-webroot: {}: {e}",
                        dir.display()
                    )))
                }
            }
        }
        Ok(Webroot {
            dir,
            made,
            files: Vec::new(),
        })
    }

    pub fn present(&mut self, token: &str, key_auth: &str) -> Result<(), Error> {
        if !token_ok(token) {
            return Err(Error::ca(format!(
                "the CA sent a challenge token pinctl refuses to write: {token:?}"
            )));
        }
        let path = self.dir.join(token);
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        // create_new: never follows or replaces what is there; 0644 so
        // that the web server, often another user, can read it.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .map_err(|e| Error::usage(format!("cannot write {}: {e}", path.display())))?;
        self.files.push(path.clone());
        f.write_all(key_auth.as_bytes())
            .map_err(|e| Error::usage(format!("cannot write {}: {e}", path.display())))?;
        Ok(())
    }
}

impl Drop for Webroot {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        for d in self.made.iter().rev() {
            // Only if empty: the web server may have put its own files there.
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cannot_name_other_paths() {
        assert!(token_ok("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
        for bad in ["", "../x", "a/b", "a.b", "%2e%2e", "a b"] {
            assert!(!token_ok(bad), "{bad}");
        }
    }

    #[test]
    fn webroot_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        {
            let mut w = Webroot::open(dir.path()).expect("opened");
            w.present("tok_en-1", "tok_en-1.thumb").expect("written");
            let f = dir.path().join(".well-known/acme-challenge/tok_en-1");
            assert_eq!(
                std::fs::read_to_string(&f).expect("written"),
                "tok_en-1.thumb"
            );
            assert!(w.present("../escape", "x").is_err());
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("listed").count(),
            0,
            "the folders pinctl made are gone"
        );
    }

    #[test]
    fn webroot_refuses_a_linked_challenge_folder() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let elsewhere = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(dir.path().join(".well-known")).expect("made");
        std::os::unix::fs::symlink(
            elsewhere.path(),
            dir.path().join(".well-known/acme-challenge"),
        )
        .expect("linked");
        assert!(Webroot::open(dir.path()).is_err());
        assert_eq!(
            std::fs::read_dir(elsewhere.path()).expect("listed").count(),
            0
        );
    }
}
