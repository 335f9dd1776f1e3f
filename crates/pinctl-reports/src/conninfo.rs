//! A PostgreSQL connection string as the user gave it (a URL or libpq
//! keywords): what errors may show of it (never its password), and its
//! keywords read. Used wherever a database is named (`store`, `pg`).

/// A PostgreSQL connection string without its password: a URL's
/// `user:password@` keeps the user, a `password=` parameter or keyword
/// keeps only its name. What cannot be read is not echoed at all.
///
/// The client (tokio-postgres, libpq) ends a URL's userinfo at an `@`,
/// not at the first `/` or `?`: a password may hold `/`, `?`, `#`, `:`
/// or `@`. So everything before the LAST `@` is taken for userinfo and
/// only the user (up to its first `:`) is kept; that hides at least what
/// the client reads as the password, wherever the host then starts.
pub fn redact(conn: &str) -> String {
    if let Some((scheme, rest)) = conn.split_once("://") {
        let (user, after) = match rest.rsplit_once('@') {
            Some((userinfo, after)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                (format!("{user}@"), after)
            }
            None => (String::new(), rest),
        };
        let after = match after.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, _)) if is_password_key(k) => format!("{k}=…"),
                        _ => kv.to_string(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => after.to_string(),
        };
        return format!("{scheme}://{user}{after}");
    }
    match keywords(conn) {
        Some(pairs) => pairs
            .into_iter()
            .map(|(k, v)| {
                if k == "password" {
                    "password=…".to_string()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        None => "a PostgreSQL connection string that cannot be read".to_string(),
    }
}

/// A URL query key that names the password, percent-encoded or not (the
/// client decodes keys before reading them).
fn is_password_key(k: &str) -> bool {
    percent_decode(k).eq_ignore_ascii_case("password")
}

/// `%XX` escapes of a URL part decoded; an escape that is not one stays
/// as it is.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                // Both digits are below 16: the byte fits.
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a PostgreSQL connection string carries a password: a URL's
/// `user:password@` or `password` parameter, a keyword string's
/// `password` keyword. A string that cannot be read counts as holding
/// one (nothing about it may be written out). With the `postgres`
/// feature the client's own parse is asked as well.
pub fn has_password(conn: &str) -> bool {
    #[cfg(feature = "postgres")]
    if let Ok(c) = conn.parse::<tokio_postgres::Config>() {
        if c.get_password().is_some() {
            return true;
        }
    }
    if let Some((_, rest)) = conn.split_once("://") {
        let userinfo_pw = rest
            .split_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'));
        let query_pw = rest.split_once('?').is_some_and(|(_, q)| {
            q.split('&')
                .any(|kv| kv.split_once('=').is_some_and(|(k, _)| is_password_key(k)))
        });
        return userinfo_pw || query_pw;
    }
    match keywords(conn) {
        Some(pairs) => pairs.iter().any(|(k, _)| k == "password"),
        None => true,
    }
}

/// The `keyword=value` pairs of a libpq keyword string (values may be
/// single-quoted with backslash escapes), or None.
pub(crate) fn keywords(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut c = s.chars().peekable();
    loop {
        while c.peek().is_some_and(|x| x.is_whitespace()) {
            c.next();
        }
        if c.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(&x) = c.peek() {
            if x == '=' || x.is_whitespace() {
                break;
            }
            key.push(x);
            c.next();
        }
        while c.peek().is_some_and(|x| x.is_whitespace()) {
            c.next();
        }
        if c.next() != Some('=') || key.is_empty() {
            return None;
        }
        while c.peek().is_some_and(|x| x.is_whitespace()) {
            c.next();
        }
        let mut value = String::new();
        if c.peek() == Some(&'\'') {
            c.next();
            loop {
                match c.next()? {
                    '\\' => value.push(c.next()?),
                    '\'' => break,
                    x => value.push(x),
                }
            }
        } else {
            while let Some(&x) = c.peek() {
                if x.is_whitespace() {
                    break;
                }
                value.push(x);
                c.next();
            }
        }
        out.push((key, value));
    }
}
