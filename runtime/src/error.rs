//! The runtime's errors. Each says what is wrong and how to fix it; none carries a password.

use crate::url::redact;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot connect to {url}: {reason}; check that the server runs and that DATABASE_URL (or --database-url) is right")]
    Connect { url: String, reason: String },
    #[error("{context}: {message}")]
    Query { context: String, message: String },
    #[error("another migrator holds the lock on {database}: {holder}; wait for it to finish (or pass --wait)")]
    Locked { database: String, holder: String },
    #[error("the state table {table} has schema version {found}, newer than this concertina understands ({supported}); upgrade concertina")]
    StateTooNew {
        table: String,
        found: i32,
        supported: i32,
    },
    /// A connection string that cannot be read, already without its password.
    #[error("{0}")]
    BadUrl(String),
    /// This build has no backend for the configured server (a cargo feature left off).
    #[error("this build of concertina has no {server} backend: turn on concertina's `{feature}` cargo feature (`concertina = {{ features = [\"{feature}\"] }}`; in this repository `cargo xtask --features {feature} …` is spelled `cargo run -p xtask --features {feature} -- …`); it links {library}")]
    NoBackend {
        server: &'static str,
        feature: &'static str,
        library: &'static str,
    },
    #[error("no database given: set DATABASE_URL or pass --database-url")]
    NoDatabase,
    #[error("{url} is not a {dialect} server's URL, but concertina.toml says `dialect = \"{dialect}\"`; use a URL like {expected} (or fix the dialect)")]
    WrongScheme {
        url: String,
        dialect: String,
        expected: &'static str,
    },
}

impl RuntimeError {
    /// A connection failure with the password removed from the URL and from the driver's text.
    pub fn connect(url: &str, reason: impl std::fmt::Display) -> Self {
        let mut reason = reason.to_string();
        if let Some(password) = password_of(url) {
            if !password.is_empty() {
                reason = reason.replace(&password, "***");
            }
        }
        RuntimeError::Connect {
            url: redact(url),
            reason: reason.trim().replace('\n', " "),
        }
    }

    /// The error for a dialect whose backend this build leaves out.
    pub fn no_backend(dialect: concertina_codegen::dialect::DialectKind) -> Self {
        use concertina_codegen::dialect::DialectKind;
        match dialect {
            DialectKind::Postgres => RuntimeError::NoBackend {
                server: "PostgreSQL",
                feature: "postgres",
                library: "libpq (Debian: libpq-dev)",
            },
            DialectKind::MySql | DialectKind::MariaDb => RuntimeError::NoBackend {
                server: "MySQL/MariaDB",
                feature: "mysql",
                library: "the MariaDB or MySQL client library (Debian: libmariadb-dev, or the libmariadb3 a MariaDB server installs)",
            },
        }
    }

    pub fn query(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        RuntimeError::Query {
            context: context.into(),
            message: err.to_string().trim().replace('\n', " "),
        }
    }
}

/// The password of a URL or keyword connection string, to scrub it from driver messages.
fn password_of(url: &str) -> Option<String> {
    let redacted = redact(url);
    if redacted == url {
        return None;
    }
    // Find the first difference: the password starts there and ends where `***` resumes.
    let start = url
        .bytes()
        .zip(redacted.bytes())
        .position(|(a, b)| a != b)?;
    let suffix = &redacted[start + 3..];
    let end = url.len() - suffix.len();
    url.get(start..end).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_backend_names_its_feature_and_library() {
        use concertina_codegen::dialect::DialectKind;
        let e = RuntimeError::no_backend(DialectKind::MariaDb).to_string();
        assert!(
            e.contains("`mysql` cargo feature") && e.contains("libmariadb"),
            "{e}"
        );
        let e = RuntimeError::no_backend(DialectKind::Postgres).to_string();
        assert!(
            e.contains("`postgres` cargo feature") && e.contains("libpq"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn connection_errors_never_show_the_password() {
        let e = RuntimeError::connect(
            "postgres://app:hunter2@db/prod",
            "password authentication failed for user \"app\" (hunter2)",
        )
        .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("postgres://app:***@db/prod"), "{e}");
        assert_eq!(
            password_of("host=h password=pw dbname=d").as_deref(),
            Some("pw")
        );
        assert_eq!(password_of("postgres://h/d"), None);
    }
}
