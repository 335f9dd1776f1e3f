//! Where passphrases come from: `--passphrase-file`, else
//! `PINCTL_PASSPHRASE`, else a prompt on the terminal — never a
//! command-line value. Passphrases are held in `SecretString`s, which
//! wipe themselves on drop.

use std::io::IsTerminal as _;
use std::path::Path;

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Gets the passphrase; `confirm` asks twice on a terminal (for new
/// archives, where a typo would lock the keys away).
pub fn passphrase(file: Option<&Path>, confirm: bool) -> Result<SecretString> {
    if let Some(path) = file {
        if let Some(w) = too_open(path) {
            if let Ok(mut pending) = WARNINGS.lock() {
                pending.push(w);
            }
        }
        let raw = crate::fsutil::read_capped(path, 1 << 16)?;
        let text = std::str::from_utf8(&raw).map_err(|_| {
            Error::input(
                path.display().to_string(),
                "passphrase file is not UTF-8 text",
            )
        })?;
        // Editors add one final newline; it is not part of the passphrase.
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.is_empty() {
            return Err(Error::input(
                path.display().to_string(),
                "the passphrase file is empty",
            ));
        }
        return Ok(SecretString::from(text.to_string()));
    }
    if let Ok(p) = std::env::var("PINCTL_PASSPHRASE") {
        let p = Zeroizing::new(p);
        if p.is_empty() {
            return Err(Error::Usage(
                "PINCTL_PASSPHRASE is set but empty; an empty passphrase is refused".into(),
            ));
        }
        return Ok(SecretString::from(p.to_string()));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "a passphrase is needed: set PINCTL_PASSPHRASE, pass --passphrase-file FILE, or run on a terminal".into(),
        ));
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Passphrase for the key archives: ")
            .map_err(|e| Error::Usage(format!("cannot read the passphrase: {e}")))?,
    );
    if first.is_empty() {
        return Err(Error::Usage("an empty passphrase is refused".into()));
    }
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("Same passphrase again: ")
                .map_err(|e| Error::Usage(format!("cannot read the passphrase: {e}")))?,
        );
        if !constant_time_eq(first.as_bytes(), second.as_bytes()) {
            return Err(Error::Usage("the two passphrases differ".into()));
        }
    }
    Ok(SecretString::from(first.to_string()))
}

/// Warnings about where a passphrase came from, for the command's
/// standard error (after its report or its error line).
static WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Takes the warnings [`passphrase`] left.
pub fn take_warnings() -> Vec<String> {
    WARNINGS
        .lock()
        .map(|mut w| std::mem::take(&mut *w))
        .unwrap_or_default()
}

/// A passphrase file that group or others may read, as ssh refuses such
/// a key file: said once a process, with the file and its mode.
fn too_open(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if path == Path::new("-") {
        return None;
    }
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    if mode & 0o044 == 0 || SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    Some(format!(
        "{}: the passphrase file is readable by group or others (mode {mode:04o}); chmod 600 it",
        path.display()
    ))
}

/// Compares without an early exit, so timing does not tell how much of a
/// passphrase matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
