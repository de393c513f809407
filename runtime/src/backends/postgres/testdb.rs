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
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("concertina_test_{tag}_{}_{nanos}", std::process::id());
        let admin = admin_url();
        let mut conn = PgConnection::establish(&admin).map_err(|e| {
            RuntimeError::connect(&admin, format!("{e} (tests use CONCERTINA_TEST_PG_URL)"))
        })?;
        conn.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .map_err(|e| RuntimeError::query(format!("creating the test database {name}"), e))?;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Ok(TestDb {
            url: format!("{base}/{name}"),
            name,
            admin,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&self.name)
            ));
        }
    }
}
