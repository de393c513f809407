//! `migrate demo` on MariaDB/MySQL: the example migrations of `migrations-mysql/` applied to a
//! loaded table while the app workload runs, on the server of DATABASE_URL (a database is
//! created and dropped) or, without it, on a throwaway MariaDB. App lock waits are sampled
//! from `information_schema.PROCESSLIST`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concertina_codegen::Phase;
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use super::{App, DemoOptions, DemoServer, PhaseStats, Step, TxnKind};
use crate::mysql::quote_ident;

/// migrations-mysql/: the shared story, then the orders index (0005).
fn steps() -> Vec<Step> {
    let mut steps = super::rename_steps();
    steps.push(Step::Apply("0005", Phase::Expand));
    steps
}

fn worker(url: String, app: Arc<App>, seed: u64) -> Result<(), String> {
    let mut conn = MysqlConnection::establish(&url).map_err(|e| e.to_string())?;
    app.clients_loop(seed, |t| match t.kind {
        TxnKind::Read => {
            let col = if t.new { "full_name" } else { "name" };
            diesel::sql_query(format!(
                "SELECT id, {col} AS n, email FROM users WHERE id = ?"
            ))
            .bind::<BigInt, _>(t.id)
            .execute(&mut conn)
            .map(|_| ())
        }
        TxnKind::Rename => {
            let value = format!("renamed {}", t.n);
            let q = match (t.new, t.dual) {
                (true, _) => diesel::sql_query("UPDATE users SET full_name = ? WHERE id = ?")
                    .into_boxed()
                    .bind::<Text, _>(value),
                (false, true) => {
                    diesel::sql_query("UPDATE users SET name = ?, full_name = ? WHERE id = ?")
                        .into_boxed()
                        .bind::<Text, _>(value.clone())
                        .bind::<Text, _>(value)
                }
                (false, false) => diesel::sql_query("UPDATE users SET name = ? WHERE id = ?")
                    .into_boxed()
                    .bind::<Text, _>(value),
            };
            q.bind::<BigInt, _>(t.id).execute(&mut conn).map(|_| ())
        }
        TxnKind::Signup => {
            let name = format!("new user {}-{}", t.seed, t.n);
            let email = format!("demo-{}-{}@example.com", t.seed, t.n);
            conn.transaction(|c| {
                let q = match (t.new, t.dual) {
                    (true, _) => {
                        diesel::sql_query("INSERT INTO users (full_name, email) VALUES (?, ?)")
                            .into_boxed()
                            .bind::<Text, _>(name)
                    }
                    (false, true) => diesel::sql_query(
                        "INSERT INTO users (name, full_name, email) VALUES (?, ?, ?)",
                    )
                    .into_boxed()
                    .bind::<Text, _>(name.clone())
                    .bind::<Text, _>(name),
                    (false, false) => {
                        diesel::sql_query("INSERT INTO users (name, email) VALUES (?, ?)")
                            .into_boxed()
                            .bind::<Text, _>(name)
                    }
                };
                q.bind::<Text, _>(email).execute(c)?;
                c.batch_execute(
                    "INSERT INTO orders (user_id, total) VALUES (LAST_INSERT_ID(), 9.99)",
                )
            })
        }
    });
    Ok(())
}

/// Samples how long app statements have been waiting for a lock (DDL excluded: that is the
/// migrator's own wait).
fn lock_monitor(url: String, app: Arc<App>) {
    let Ok(mut conn) = MysqlConnection::establish(&url) else {
        return;
    };
    #[derive(QueryableByName)]
    struct W {
        #[diesel(sql_type = Double)]
        s: f64,
    }
    // MariaDB reports milliseconds; MySQL only whole seconds.
    let queries = [
        "SELECT CAST(COALESCE(MAX(TIME_MS), 0) / 1000 AS DOUBLE) AS s FROM information_schema.PROCESSLIST
         WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND STATE LIKE 'Waiting for%lock%'
           AND INFO NOT REGEXP '^[[:space:]]*(ALTER|CREATE|DROP)'",
        "SELECT CAST(COALESCE(MAX(TIME), 0) AS DOUBLE) AS s FROM information_schema.PROCESSLIST
         WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND STATE LIKE 'Waiting for%lock%'
           AND INFO NOT REGEXP '^[[:space:]]*(ALTER|CREATE|DROP)'",
    ];
    let mut which = 0;
    while !app.stop.load(Ordering::SeqCst) {
        let wait = match diesel::sql_query(queries[which]).get_result::<W>(&mut conn) {
            Ok(w) => Duration::from_secs_f64(w.s.max(0.0)),
            Err(_) if which == 0 => {
                which = 1;
                continue;
            }
            Err(_) => Duration::ZERO,
        };
        let phase = app.phase.load(Ordering::SeqCst);
        if let Ok(mut b) = app.buckets.lock() {
            let bucket = b.entry(phase).or_default();
            bucket.longest_lock_wait = bucket.longest_lock_wait.max(wait);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the MySQL demo on the server of `options.database_url`.
pub fn run(options: &DemoOptions, say: &mut dyn FnMut(&str)) -> Result<Vec<PhaseStats>, String> {
    let started = Instant::now();
    let _server;
    let started_url;
    let server_url = match options.database_url.as_deref() {
        Some(url) => url,
        None => {
            let s = super::mariadb_server::MariaDbServer::start(|m| say(m))
                .map_err(|e| e.to_string())?;
            started_url = s.url("mysql");
            _server = s;
            started_url.as_str()
        }
    };
    let after_scheme = server_url.find("://").map_or(0, |i| i + 3);
    let base = match server_url[after_scheme..].find('/') {
        Some(slash) => &server_url[..after_scheme + slash],
        None => server_url,
    };
    super::run_demo::<MariaDbDemo>(options, &format!("{base}/"), base, started, say)
}

/// The demo's SQL and app in MariaDB's terms.
struct MariaDbDemo;

impl DemoServer for MariaDbDemo {
    type Conn = MysqlConnection;
    const LOADS_WITH: &'static str = "MariaDB's sequence engine";
    const STEPS: fn() -> Vec<Step> = steps;
    const WORKER: fn(String, Arc<App>, u64) -> Result<(), String> = worker;
    const LOCK_MONITOR: fn(String, Arc<App>) = lock_monitor;

    fn create(db: &str) -> Vec<String> {
        vec![format!(
            "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db} CHARACTER SET utf8mb4",
            db = quote_ident(db)
        )]
    }

    fn drop(db: &str) -> String {
        format!(
            "SET SESSION lock_wait_timeout = 30; DROP DATABASE IF EXISTS {}",
            quote_ident(db)
        )
    }

    fn load(rows: u64) -> Vec<String> {
        vec![
            format!("INSERT INTO users (name, email) SELECT CONCAT('user ', seq), CONCAT('user', seq, '@example.com') FROM seq_1_to_{rows}"),
            format!("INSERT INTO orders (user_id, total) SELECT 1 + (seq * 7919) % {rows}, (seq % 1000) / 10.0 FROM seq_1_to_{}", (rows / 4).max(1)),
            "ANALYZE TABLE users, orders".to_string(),
        ]
    }
}
