//! What commands ask and show on a terminal around keys: the passphrase
//! that protects a site's archives, and a spinner while RSA keys are made.
//! The store's `keyring` works with what these return.

use std::io::IsTerminal as _;
use std::io::Write as _;
use std::path::Path;

use crate::archive::Protection;
use crate::error::Result;
use crate::keys::{self, KeyType, PrivateKey};
use crate::state::{Encryption, Method};

/// How the site's archives are protected, from the state and the user.
pub fn protection(
    passphrase_file: Option<&Path>,
    enc: &Encryption,
    confirm: bool,
) -> Result<Protection> {
    match enc.method {
        Method::Recipients => Ok(Protection::Recipients(enc.recipients.clone())),
        Method::Passphrase => Ok(Protection::Passphrase(crate::secret::passphrase(
            passphrase_file,
            confirm,
        )?)),
    }
}

/// Generates keys, with a spinner on a terminal while RSA keys are made.
pub fn generate_with_progress(types: &[KeyType]) -> Result<Vec<PrivateKey>> {
    // Only for a person at a terminal: scripts and logs get nothing.
    let show = types.iter().any(|t| t.is_rsa())
        && std::io::stderr().is_terminal()
        && std::io::stdout().is_terminal();
    if !show {
        return keys::generate_all(types);
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let frames = ['|', '/', '-', '\\'];
            let mut i = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                eprint!("\rmaking {} keys {}", types.len(), frames[i % 4]);
                let _ = std::io::stderr().flush();
                i += 1;
                std::thread::sleep(std::time::Duration::from_millis(120));
            }
            eprint!("\r\x1b[K");
        });
        let r = keys::generate_all(types);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    })
}
