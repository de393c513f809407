//! A MySQL/MariaDB database of its own for tests and benchmarks: created with a unique name on
//! the server of `CONCERTINA_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/`) and
//! dropped when the value is dropped, even when the test fails.

use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

use super::quote_ident;
use crate::error::RuntimeError;

pub struct MySqlTestDb {
    pub name: String,
    pub url: String,
    admin: String,
}

/// The admin URL MySQL tests use (no database, or any: the path is replaced).
pub fn admin_url() -> String {
    std::env::var("CONCERTINA_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".into())
}

/// The server part of a URL: everything before the database path.
fn server_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

impl MySqlTestDb {
    /// Creates `ct_<tag>_<pid>_<nanos>` (MySQL names stop at 64 characters).
    pub fn new(tag: &str) -> Result<MySqlTestDb, RuntimeError> {
        Self::create_on(&admin_url(), &format!("ct_{tag}")).map_err(|e| match e {
            RuntimeError::Connect { url, reason } => RuntimeError::Connect {
                url,
                reason: format!("{reason} (tests use CONCERTINA_TEST_MYSQL_URL)"),
            },
            other => other,
        })
    }

    /// Creates `<prefix>_<pid>_<nanos>` on the server of `admin` (any database of it, or
    /// none; `mariadb://` is read as `mysql://`); dropped with the value.
    pub fn create_on(admin: &str, prefix: &str) -> Result<MySqlTestDb, RuntimeError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() % 1_000_000_000_000)
            .unwrap_or_default();
        let name = super::super::unique_test_name(prefix, nanos, 64);
        let admin = match admin.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                format!("mysql://{rest}")
            }
            _ => admin.to_string(),
        };
        let server = server_of(&admin).to_string();
        let mut conn = MysqlConnection::establish(&format!("{server}/"))
            .map_err(|e| RuntimeError::connect(&admin, e))?;
        conn.batch_execute(&format!(
            "CREATE DATABASE {} CHARACTER SET utf8mb4",
            quote_ident(&name)
        ))
        .map_err(|e| RuntimeError::query(format!("creating the database {name}"), e))?;
        Ok(MySqlTestDb {
            url: format!("{server}/{name}"),
            name,
            admin: server,
        })
    }

    pub fn conn(&self) -> Result<MysqlConnection, RuntimeError> {
        MysqlConnection::establish(&self.url).map_err(|e| RuntimeError::connect(&self.url, e))
    }
}

impl Drop for MySqlTestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = MysqlConnection::establish(&format!("{}/", self.admin)) {
            // Never wait a year (the default) behind a session a test left holding a lock.
            let _ = conn.batch_execute(&format!(
                "SET SESSION lock_wait_timeout = 30; DROP DATABASE IF EXISTS {}",
                quote_ident(&self.name)
            ));
        }
    }
}
