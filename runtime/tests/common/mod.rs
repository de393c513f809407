//! Shared by the runtime's integration tests: a database of its own per test, dropped at the
//! end, and a migrations directory in a temp dir.
#![allow(dead_code)]

use concertina_runtime::postgres::quote_ident;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::path::PathBuf;

pub fn admin_url() -> String {
    std::env::var("CONCERTINA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own, dropped when the test ends (even on failure).
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new(tag: &str) -> TestDb {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("concertina_test_{tag}_{}_{nanos}", std::process::id());
        let admin = admin_url();
        let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
            panic!("PostgreSQL must be reachable at {admin} (set CONCERTINA_TEST_PG_URL): {e}")
        });
        conn.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .expect("create test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&admin_url()) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&self.name)
            ));
        }
    }
}

impl TestDb {
    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }

    pub fn exec(&self, sql: &str) {
        self.conn().batch_execute(sql).expect(sql);
    }

    pub fn scalar(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(sql)
            .get_result::<N>(&mut self.conn())
            .expect(sql)
            .n
    }
}

/// A migrations directory in a temp dir, removed at the end.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(tag: &str, config: &str) -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "concertina-rt-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("concertina.toml"), config).expect("write config");
        Dir(dir)
    }

    pub fn write(&self, rel: &str, text: &str) -> &Dir {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        self
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
