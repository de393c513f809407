//! The rehearsal on MySQL/MariaDB: rows loaded with multi-row `INSERT`s, app connections whose
//! ids the lock monitor watches in `information_schema.PROCESSLIST`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use concertina_codegen::change::QualName;
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use super::{db_error, quote_ident, quoted_table};
use crate::engine::DbError;
use crate::rehearse::data::{Keys, TableGen};
use crate::rehearse::workload::{AppConn, Flavour};
use crate::rehearse::{LockMonitor, RehearsalServer};

/// Rows per `INSERT` of the load.
const ROWS_PER_INSERT: u64 = 500;

pub struct MyFlavour;

impl Flavour for MyFlavour {
    fn quote_ident(&self, name: &str) -> String {
        quote_ident(name)
    }

    fn table(&self, name: &QualName) -> String {
        quoted_table(name)
    }

    fn literal(&self, value: &str) -> String {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    }
}

pub struct MyRehearsal {
    conn: MysqlConnection,
    url: String,
    /// The app's connection ids, for the lock monitor.
    app_ids: Arc<Mutex<Vec<i64>>>,
}

fn connect(url: &str) -> Result<MysqlConnection, DbError> {
    MysqlConnection::establish(url).map_err(|e| DbError {
        kind: crate::engine::DbErrorKind::Connection,
        code: String::new(),
        message: e.to_string(),
    })
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = Text)]
    v: String,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Seconds {
    #[diesel(sql_type = Double)]
    s: f64,
}

impl MyRehearsal {
    pub fn connect(url: &str) -> Result<MyRehearsal, DbError> {
        Ok(MyRehearsal {
            conn: connect(url)?,
            url: url.to_string(),
            app_ids: Arc::new(Mutex::new(Vec::new())),
        })
    }

    fn exec(&mut self, sql: &str) -> Result<(), DbError> {
        match self.conn.batch_execute(sql) {
            Ok(()) => Ok(()),
            Err(e) => Err(db_error(&mut self.conn, &e)),
        }
    }
}

struct MyApp(MysqlConnection);

impl AppConn for MyApp {
    fn exec(&mut self, sql: &str) -> Result<(), DbError> {
        // Reads as prepared statements (the app's driver does); transaction control and
        // writes as text, which every statement allows.
        let result = if sql.starts_with("SELECT") {
            diesel::sql_query(sql).execute(&mut self.0).map(|_| ())
        } else {
            self.0.batch_execute(sql)
        };
        result.map_err(|e| db_error(&mut self.0, &e))
    }
}

struct MyMonitor {
    conn: MysqlConnection,
    app_ids: Arc<Mutex<Vec<i64>>>,
    /// MariaDB reports milliseconds (`TIME_MS`); MySQL only whole seconds.
    whole_seconds: bool,
}

impl LockMonitor for MyMonitor {
    fn longest_app_wait(&mut self) -> Duration {
        let ids = match self.app_ids.lock() {
            Ok(ids) if !ids.is_empty() => ids
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(","),
            _ => return Duration::ZERO,
        };
        let time = if self.whole_seconds {
            "TIME"
        } else {
            "TIME_MS / 1000"
        };
        let sql = format!(
            "SELECT CAST(COALESCE(MAX({time}), 0) AS DOUBLE) AS s FROM information_schema.PROCESSLIST
             WHERE ID IN ({ids}) AND STATE LIKE 'Waiting for%lock%'"
        );
        match diesel::sql_query(sql).get_result::<Seconds>(&mut self.conn) {
            Ok(w) => Duration::from_secs_f64(w.s.max(0.0)),
            Err(_) if !self.whole_seconds => {
                self.whole_seconds = true;
                Duration::ZERO
            }
            Err(_) => Duration::ZERO,
        }
    }
}

impl RehearsalServer for MyRehearsal {
    fn flavour(&self) -> Arc<dyn Flavour> {
        Arc::new(MyFlavour)
    }

    fn server_version(&mut self) -> Result<String, DbError> {
        let v = diesel::sql_query("SELECT VERSION() AS v")
            .get_result::<One>(&mut self.conn)
            .map_err(|e| DbError::other(e.to_string()))?
            .v;
        Ok(if v.to_ascii_lowercase().contains("mariadb") {
            format!("MariaDB {}", v.split('-').next().unwrap_or(&v))
        } else {
            format!("MySQL {v}")
        })
    }

    fn load(
        &mut self,
        gen: &TableGen,
        keys: &Keys,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, DbError> {
        let table = quoted_table(&gen.table);
        let cols: Vec<String> = gen.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let mut i = 0u64;
        while i < gen.rows {
            let end = (i + ROWS_PER_INSERT).min(gen.rows);
            let rows: Vec<String> = (i..end)
                .map(|r| {
                    let vals: Vec<String> = gen
                        .row(r, keys)
                        .iter()
                        .map(|v| v.as_deref().map_or("NULL".into(), |v| MyFlavour.literal(v)))
                        .collect();
                    format!("({})", vals.join(", "))
                })
                .collect();
            self.exec(&format!(
                "INSERT INTO {table} ({}) VALUES {}",
                cols.join(", "),
                rows.join(", ")
            ))?;
            i = end;
            progress(i);
        }
        Ok(gen.rows)
    }

    fn sample(
        &mut self,
        table: &QualName,
        columns: &[String],
        limit: usize,
    ) -> Result<Vec<Vec<String>>, DbError> {
        let cols: Vec<String> = columns
            .iter()
            .map(|c| format!("CAST({} AS CHAR)", quote_ident(c)))
            .collect();
        let sql = format!(
            "SELECT CONCAT_WS(CHAR(31), {}) AS v FROM {} LIMIT {limit}",
            cols.join(", "),
            quoted_table(table)
        );
        let rows = match diesel::sql_query(sql).load::<One>(&mut self.conn) {
            Ok(r) => r,
            Err(e) => return Err(db_error(&mut self.conn, &e)),
        };
        Ok(rows
            .into_iter()
            .map(|r| r.v.split('\u{1f}').map(str::to_string).collect())
            .collect())
    }

    fn analyze(&mut self, table: &QualName) -> Result<(), DbError> {
        match diesel::sql_query(format!("ANALYZE TABLE {}", quoted_table(table)))
            .execute(&mut self.conn)
        {
            Ok(_) => Ok(()),
            Err(e) => Err(db_error(&mut self.conn, &e)),
        }
    }

    fn app_conn(&self) -> Result<Box<dyn AppConn>, DbError> {
        let mut conn = connect(&self.url)?;
        let id = diesel::sql_query("SELECT CAST(CONNECTION_ID() AS SIGNED) AS id")
            .get_result::<Id>(&mut conn)
            .map_err(|e| DbError::other(e.to_string()))?
            .id;
        if let Ok(mut ids) = self.app_ids.lock() {
            ids.push(id);
        }
        Ok(Box::new(MyApp(conn)))
    }

    fn lock_monitor(&self) -> Result<Box<dyn LockMonitor>, DbError> {
        Ok(Box::new(MyMonitor {
            conn: connect(&self.url)?,
            app_ids: self.app_ids.clone(),
            whole_seconds: false,
        }))
    }
}
