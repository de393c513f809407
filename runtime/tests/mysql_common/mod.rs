//! Shared by the MySQL/MariaDB integration tests: a database of its own per test (dropped at
//! the end, also on failure) on `CONCERTINA_TEST_MYSQL_URL`, and a migrations directory.
#![allow(dead_code)]

use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use std::path::PathBuf;

pub struct TestDb(concertina_runtime::testdb_mysql::MySqlTestDb);

impl std::ops::Deref for TestDb {
    type Target = concertina_runtime::testdb_mysql::MySqlTestDb;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestDb {
    pub fn new(tag: &str) -> TestDb {
        TestDb(
            concertina_runtime::testdb_mysql::MySqlTestDb::new(tag)
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    pub fn conn(&self) -> MysqlConnection {
        MysqlConnection::establish(&self.url).expect("connect to the test database")
    }

    pub fn exec(&self, sql: &str) {
        self.conn().batch_execute(sql).expect(sql);
    }

    pub fn scalar(&self, sql: &str) -> i64 {
        scalar(&mut self.conn(), sql)
    }
}

pub fn scalar(conn: &mut MysqlConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).expect(sql).n
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
            "concertina-my-{tag}-{}-{nanos}",
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
