//! TSIG keys as BIND writes them (`tsig-keygen`, `rndc-confgen`,
//! `ddns-confgen`): `key "NAME" { algorithm hmac-sha256; secret "…"; };`.
//!
//! The secret is zeroized when the key is dropped, never printed by
//! `Debug`, and never quoted by an error (docs/security.md).

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigner};
use zeroize::Zeroizing;

use crate::Error;

/// A TSIG key read from a BIND key file.
pub struct TsigKey {
    name: Name,
    algorithm: TsigAlgorithm,
    secret: Zeroizing<Vec<u8>>,
    path: PathBuf,
    others_can_read: bool,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name.to_ascii())
            .field("algorithm", &self.algorithm_name())
            .field("path", &self.path)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The file's contents, zeroized when dropped: the secret is in it.
type Text = Zeroizing<String>;

impl TsigKey {
    /// Reads a key file holding exactly one `key` statement. Errors name
    /// the file and the problem, never the secret.
    pub fn read(path: impl AsRef<Path>) -> Result<TsigKey, Error> {
        let path = path.as_ref();
        let bad = |problem: String| Error::KeyFile {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = read_capped(path).map_err(bad)?;
        let text: Text = Zeroizing::new(
            std::str::from_utf8(&bytes)
                .map_err(|_| bad("not UTF-8 text".into()))?
                .to_owned(),
        );
        let others_can_read = others_can_read(path);
        let (name, algorithm, secret) = parse(&text).map_err(bad)?;
        Ok(TsigKey {
            name,
            algorithm,
            secret,
            path: path.to_path_buf(),
            others_can_read,
        })
    }

    /// The key's name, as the server knows it.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The algorithm as BIND names it (`hmac-sha256`).
    pub fn algorithm_name(&self) -> &'static str {
        match self.algorithm {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
            _ => "unsupported",
        }
    }

    /// The file the key was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the group or others may read the file: the caller warns
    /// (a key anyone on the machine reads lets them rewrite the zone).
    pub fn others_can_read(&self) -> bool {
        self.others_can_read
    }

    /// The warning to give when [`others_can_read`](Self::others_can_read):
    /// one text for every caller (dns channels, ACME DNS-01).
    pub fn permission_warning(&self) -> Option<String> {
        self.others_can_read.then(|| {
            format!(
                "{} is readable by other users: whoever reads it can rewrite the zone (chmod 600 {})",
                self.path.display(),
                self.path.display()
            )
        })
    }

    /// A signer for one request. hickory's signer keeps its own copy of
    /// the secret that it does not zeroize; it lives only as long as the
    /// request it signs.
    pub(crate) fn signer(&self) -> Result<TSigner, Error> {
        TSigner::new(
            self.secret.to_vec(),
            self.algorithm.clone(),
            self.name.clone(),
            300,
        )
        .map_err(|e| Error::KeyFile {
            path: self.path.clone(),
            problem: e.to_string(),
        })
    }
}

/// The most a key file may hold: a `key` statement is under 200 bytes;
/// anything this large is not a key file (docs/security.md: bounded reads).
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// Reads at most [`MAX_KEY_FILE`] bytes; a larger file is an error, not
/// a truncated key.
fn read_capped(path: &Path) -> Result<Zeroizing<Vec<u8>>, String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Zeroizing::new(Vec::new());
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(format!(
            "larger than {} KiB: not a TSIG key file",
            MAX_KEY_FILE / 1024
        ));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn others_can_read(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o044 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn others_can_read(_: &Path) -> bool {
    false
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Word(&'a str),
    Quoted(&'a str),
    Open,
    Close,
    Semi,
}

fn describe(t: Option<&Token<'_>>) -> &'static str {
    match t {
        None => "the end of the file",
        Some(Token::Word(_)) => "a word",
        Some(Token::Quoted(_)) => "a quoted string",
        Some(Token::Open) => "`{`",
        Some(Token::Close) => "`}`",
        Some(Token::Semi) => "`;`",
    }
}

/// Splits named.conf syntax into tokens, dropping `#`, `//` and `/* */`
/// comments.
fn tokens(text: &str) -> Result<Vec<Token<'_>>, String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'#' || (c == b'/' && b.get(i + 1) == Some(&b'/')) {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = text[i + 2..]
                .find("*/")
                .ok_or("a `/*` comment is not closed")?;
            i += 2 + end + 2;
        } else if c == b'"' {
            let end = text[i + 1..]
                .find('"')
                .ok_or("a quoted string is not closed")?;
            out.push(Token::Quoted(&text[i + 1..i + 1 + end]));
            i += end + 2;
        } else if c == b'{' {
            out.push(Token::Open);
            i += 1;
        } else if c == b'}' {
            out.push(Token::Close);
            i += 1;
        } else if c == b';' {
            out.push(Token::Semi);
            i += 1;
        } else {
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !b"{};\"".contains(&b[i]) {
                i += 1;
            }
            out.push(Token::Word(&text[start..i]));
        }
    }
    Ok(out)
}

type Parsed = (Name, TsigAlgorithm, Zeroizing<Vec<u8>>);

fn parse(text: &str) -> Result<Parsed, String> {
    let toks = tokens(text)?;
    let mut it = toks.iter().peekable();
    let mut found: Option<Parsed> = None;
    while let Some(t) = it.next() {
        if *t != Token::Word("key") {
            return Err(format!(
                "expected a `key \"NAME\" {{ … }};` statement, found {}",
                describe(Some(t))
            ));
        }
        let name = match it.next() {
            Some(Token::Quoted(n)) | Some(Token::Word(n)) => *n,
            other => {
                return Err(format!(
                    "expected the key's name, found {}",
                    describe(other)
                ))
            }
        };
        if it.next() != Some(&Token::Open) {
            return Err(format!("expected `{{` after key \"{name}\""));
        }
        let mut algorithm = None;
        let mut secret = None;
        loop {
            match it.next() {
                Some(Token::Close) => break,
                Some(Token::Word("algorithm")) => {
                    let a = match it.next() {
                        Some(Token::Word(a)) | Some(Token::Quoted(a)) => *a,
                        other => {
                            return Err(format!(
                                "expected an algorithm name, found {}",
                                describe(other)
                            ))
                        }
                    };
                    algorithm = Some(match a.to_ascii_lowercase().as_str() {
                        "hmac-sha256" => TsigAlgorithm::HmacSha256,
                        "hmac-sha384" => TsigAlgorithm::HmacSha384,
                        "hmac-sha512" => TsigAlgorithm::HmacSha512,
                        _ => {
                            return Err(format!(
                                "algorithm {a} is not supported (use hmac-sha256, hmac-sha384 or hmac-sha512: tsig-keygen -a hmac-sha256 NAME)"
                            ))
                        }
                    });
                }
                Some(Token::Word("secret")) => {
                    let s = match it.next() {
                        Some(Token::Quoted(s)) | Some(Token::Word(s)) => *s,
                        other => {
                            return Err(format!("expected the secret, found {}", describe(other)))
                        }
                    };
                    // Never echo the secret: say only that it is not base64.
                    let clean: Zeroizing<String> =
                        Zeroizing::new(s.chars().filter(|c| !c.is_whitespace()).collect());
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(clean.as_bytes())
                        .map_err(|_| "the secret is not valid base64".to_string())?;
                    let bytes = Zeroizing::new(bytes);
                    if bytes.is_empty() {
                        return Err("the secret is empty".into());
                    }
                    secret = Some(bytes);
                }
                Some(Token::Word(w)) => {
                    return Err(format!(
                        "unknown statement `{w}` in key \"{name}\" (expected algorithm and secret)"
                    ))
                }
                other => {
                    return Err(format!(
                        "expected algorithm, secret or `}}` in key \"{name}\", found {}",
                        describe(other)
                    ))
                }
            }
            if it.next() != Some(&Token::Semi) {
                return Err(format!("expected `;` in key \"{name}\""));
            }
        }
        if it.next() != Some(&Token::Semi) {
            return Err(format!("expected `;` after key \"{name}\" {{ … }}"));
        }
        let algorithm = algorithm.ok_or(format!("key \"{name}\" has no algorithm"))?;
        let secret = secret.ok_or(format!("key \"{name}\" has no secret"))?;
        let name = Name::from_ascii(name).map_err(|_| format!("\"{name}\" is not a DNS name"))?;
        if found.is_some() {
            return Err("more than one key in the file (pinctl reads one)".into());
        }
        found = Some((name, algorithm, secret));
    }
    found.ok_or_else(|| "no `key \"NAME\" { … };` statement".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "key \"pinctl\" {\n\talgorithm hmac-sha256;\n\tsecret \"5kpNTCbLfQ7/N0cVqcXHpIh5x0PUKA63eiEf/EPbW7s=\";\n};\n";

    #[test]
    fn reads_what_tsig_keygen_writes() {
        let (name, alg, secret) = parse(GOOD).unwrap();
        assert_eq!(name.to_ascii(), "pinctl");
        assert_eq!(alg, TsigAlgorithm::HmacSha256);
        assert_eq!(secret.len(), 32);
    }

    #[test]
    fn comments_and_sha512() {
        let t = "# made by tsig-keygen\n// x\n/* y */ key ddns-key.example { algorithm HMAC-SHA512; secret \"AAAA\"; };";
        let (name, alg, _) = parse(t).unwrap();
        assert_eq!(name.to_ascii(), "ddns-key.example");
        assert_eq!(alg, TsigAlgorithm::HmacSha512);
    }

    #[test]
    fn errors_never_quote_the_secret() {
        let t = GOOD.replace("5kpNTC", "!!!!NOTBASE64");
        let e = parse(&t).unwrap_err();
        assert!(!e.contains("NOTBASE64"), "{e}");
        assert!(e.contains("base64"), "{e}");
        for t in [
            "key \"a\" { algorithm hmac-md5; secret \"AAAA\"; };",
            "key \"a\" { secret \"AAAA\"; };",
            "key \"a\" { algorithm hmac-sha256; };",
            "key \"a\" { algorithm hmac-sha256; secret \"AAAA\" };",
            "",
            "options { };",
            "key \"a\" { algorithm hmac-sha256; secret \"AAAA\"; }; key \"b\" { algorithm hmac-sha256; secret \"AAAA\"; };",
        ] {
            let e = parse(t).unwrap_err();
            assert!(!e.contains("AAAA"), "{e}");
        }
    }
}
