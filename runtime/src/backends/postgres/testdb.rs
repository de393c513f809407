//! A database of its own for tests and benchmarks: created with a unique name on the server of
//! `CONCERTINA_TEST_PG_URL` (an admin database URL, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped when the value is dropped, even
//! when the test fails. The servers are shared, so nothing is left behind.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::quote_ident;
use crate::error::RuntimeError;

pub struct TestDb {
    pub name: String,
    pub url: String,
    admin: String,
}

/// The admin URL tests use.
pub fn admin_url() -> String {
    std::env::var("CONCERTINA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    /// Creates `concertina_test_<tag>_<pid>_<nanos>`.
    pub fn new(tag: &str) -> Result<TestDb, RuntimeError> {
        TestDb::create_on(&admin_url(), &format!("concertina_test_{tag}")).map_err(|e| match e {
            RuntimeError::Connect { url, reason } => RuntimeError::Connect {
                url,
                reason: format!("{reason} (tests use CONCERTINA_TEST_PG_URL)"),
            },
            other => other,
        })
    }

    /// Creates `<prefix>_<pid>_<nanos>` on the server of `admin` (a URL of any database the
    /// user may `CREATE DATABASE` from); dropped with the value.
    pub fn create_on(admin: &str, prefix: &str) -> Result<TestDb, RuntimeError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // PostgreSQL cuts names at 63 bytes.
        let name = super::super::unique_test_name(prefix, nanos, 63);
        let mut conn = PgConnection::establish(admin)
            .map_err(|e| RuntimeError::connect(admin, e.to_string()))?;
        conn.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .map_err(|e| RuntimeError::query(format!("creating the database {name}"), e))?;
        Ok(TestDb {
            url: with_database(admin, &name),
            name,
            admin: admin.to_string(),
        })
    }
}

/// `url` with its database replaced by `name`, its query (`?sslmode=…`) kept.
fn with_database(url: &str, name: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let after_scheme = main.find("://").map_or(0, |i| i + 3);
    let base = match main[after_scheme..].find('/') {
        Some(i) => &main[..after_scheme + i],
        None => main,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin) {
            let name = quote_ident(&self.name);
            // `WITH (FORCE)` is PostgreSQL 13+; before, every session is closed by then.
            if conn
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .is_err()
            {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_is_replaced_and_the_query_kept() {
        assert_eq!(
            super::with_database("postgres://u:p@h:5432/app?sslmode=require", "x"),
            "postgres://u:p@h:5432/x?sslmode=require"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }
}
