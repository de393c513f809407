//! Connection strings: where they come from and how they are shown. A password is never
//! printed: every message that mentions a server goes through [`redact`].

/// Replaces the password of a connection string with `***`: URL form
/// (`postgres://user:secret@host/db`, `mysql://…`) and libpq keyword form (`password=secret`).
pub fn redact(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest_start = scheme_end + 3;
        let rest = &url[rest_start..];
        // The authority ends at the first '/', '?' or '#'; the userinfo at its last '@'.
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let mut out = String::with_capacity(url.len());
        out.push_str(&url[..rest_start]);
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None if authority_is_hosts(authority) => out.push_str(authority),
            // No `@`, yet not `host[:port]`: a missing `@` (`user:secret127.0.0.1:5432`).
            // Whatever follows the user part may be the password.
            None => match authority.find(':') {
                Some(colon) => {
                    out.push_str(&authority[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str("***"),
            },
        }
        out.push_str(&redact_query(&rest[authority_end..]));
        return out;
    }
    redact_keywords(url)
}

/// True when a URL's authority (no `@` in it) reads as `host[:port]`, comma-separated as
/// libpq allows, hosts as names, IPv4, `[IPv6]` or percent-encoded socket paths.
pub fn authority_is_hosts(authority: &str) -> bool {
    let host_ok = |h: &str| {
        h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '%'))
    };
    let port_ok = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    authority.split(',').all(|part| {
        if let Some(rest) = part.strip_prefix('[') {
            return match rest.split_once(']') {
                Some((_, "")) => true,
                Some((_, tail)) => tail.strip_prefix(':').is_some_and(port_ok),
                None => false,
            };
        }
        match part.split_once(':') {
            None => host_ok(part),
            Some((host, port)) => host_ok(host) && port_ok(port),
        }
    })
}

/// A URL whose authority has no `@` and is not `host[:port]`: refused before any driver sees
/// it, with the shape to write (the driver's error would quote it, password and all).
pub fn malformed(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') || authority_is_hosts(authority) {
        return None;
    }
    Some(format!(
        "{} is not a valid connection URL: the part after `://` is neither `user:password@host:port` nor `host:port` (a missing `@`?); write it as scheme://user:password@host:port/database",
        redact(url)
    ))
}

/// `?password=x&sslmode=…` → `?password=***&sslmode=…`
fn redact_query(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_string();
    };
    let (path, query) = tail.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}{}", parts.join("&"))
}

/// libpq keyword form: `host=… password='se cret' …`.
fn redact_keywords(conninfo: &str) -> String {
    let mut out = String::with_capacity(conninfo.len());
    let mut rest = conninfo;
    while let Some(pos) = find_keyword(rest, "password") {
        out.push_str(&rest[..pos]);
        let after_key = &rest[pos + "password".len()..];
        let after_eq = after_key.trim_start();
        let Some(value) = after_eq.strip_prefix('=') else {
            out.push_str("password");
            rest = after_key;
            continue;
        };
        let value = value.trim_start();
        let consumed = if let Some(quoted) = value.strip_prefix('\'') {
            // Quoted value: ends at the first unescaped quote.
            let mut end = quoted.len();
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '\'' if !escaped => {
                        end = i + 1;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            1 + end
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        out.push_str("password=***");
        rest = &value[consumed.min(value.len())..];
    }
    out.push_str(rest);
    out
}

fn find_keyword(text: &str, key: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(key) {
        let at = from + i;
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = lower[at + key.len()..].trim_start();
        if before_ok && after.starts_with('=') {
            return Some(at);
        }
        from = at + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn url_passwords_are_hidden() {
        assert_eq!(
            redact("postgres://app:s3cr@t@db.example:5432/prod?sslmode=require"),
            "postgres://app:***@db.example:5432/prod?sslmode=require"
        );
        assert_eq!(redact("postgres://app@db/prod"), "postgres://app@db/prod");
        assert_eq!(
            redact("mysql://root:@127.0.0.1:3306/x"),
            "mysql://root:***@127.0.0.1:3306/x"
        );
        assert_eq!(
            redact("postgresql:///db?user=a&password=hunter2&host=/tmp"),
            "postgresql:///db?user=a&password=***&host=/tmp"
        );
    }

    #[test]
    fn a_url_missing_its_at_hides_what_follows_the_user() {
        let url = "postgres://user:secret127.0.0.1:5432/db";
        assert_eq!(redact(url), "postgres://user:***/db");
        let err = super::malformed(url).expect("refused");
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(redact("mysql://root:pw/x"), "mysql://root:***/x");
        // Hosts without a user stay readable and are not malformed.
        for ok in [
            "postgres://127.0.0.1:5432/db",
            "postgres://db.example/db",
            "postgres://[::1]:5432/db",
            "postgresql://h1:5432,h2:5433/db",
            "postgresql://%2Fvar%2Frun%2Fpostgresql/db",
            "postgres:///db",
        ] {
            assert_eq!(redact(ok), ok);
            assert_eq!(super::malformed(ok), None, "{ok}");
        }
    }

    #[test]
    fn keyword_passwords_are_hidden() {
        assert_eq!(
            redact("host=127.0.0.1 user=app password=hunter2 dbname=prod"),
            "host=127.0.0.1 user=app password=*** dbname=prod"
        );
        assert_eq!(
            redact("host=h password = 'a b\\' c' dbname=d"),
            "host=h password=*** dbname=d"
        );
        assert_eq!(redact("host=h passwordless=1"), "host=h passwordless=1");
    }

    #[test]
    fn nothing_secret_stays_intact() {
        for s in ["", "host=localhost", "postgres://h/d", "not a url at all"] {
            assert_eq!(redact(s), s);
        }
    }
}
