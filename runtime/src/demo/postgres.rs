//! The demo on PostgreSQL: a throwaway server (or DATABASE_URL's), the app workload and the
//! lock monitor in PostgreSQL's terms; the phases and the statistics are the shared driver's.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concertina_codegen::Phase;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use super::{server, App, DemoOptions, DemoServer, PhaseStats, Step, TxnKind};
use crate::postgres::quote_ident;

fn worker(url: String, app: Arc<App>, seed: u64) -> Result<(), String> {
    let mut conn = PgConnection::establish(&url).map_err(|e| e.to_string())?;
    conn.batch_execute("SET application_name = 'concertina-demo-app'")
        .map_err(|e| e.to_string())?;
    app.clients_loop(seed, |t| match t.kind {
        TxnKind::Read => {
            let col = if t.new { "full_name" } else { "name" };
            diesel::sql_query(format!(
                "SELECT id, {col} AS n, email FROM users WHERE id = $1"
            ))
            .bind::<BigInt, _>(t.id)
            .execute(&mut conn)
            .map(|_| ())
        }
        TxnKind::Rename => {
            let set = match (t.new, t.dual) {
                (true, _) => "full_name = $2",
                (false, true) => "name = $2, full_name = $2",
                (false, false) => "name = $2",
            };
            diesel::sql_query(format!("UPDATE users SET {set} WHERE id = $1"))
                .bind::<BigInt, _>(t.id)
                .bind::<Text, _>(format!("renamed {}", t.n))
                .execute(&mut conn)
                .map(|_| ())
        }
        TxnKind::Signup => {
            let (cols, vals) = match (t.new, t.dual) {
                (true, _) => ("full_name, email", "$1, $2"),
                (false, true) => ("name, full_name, email", "$1, $1, $2"),
                (false, false) => ("name, email", "$1, $2"),
            };
            let (cols, vals) = if t.phone {
                (format!("{cols}, phone"), format!("{vals}, 'demo'"))
            } else {
                (cols.to_string(), vals.to_string())
            };
            conn.transaction(|c| {
                diesel::sql_query(format!(
                    "WITH u AS (INSERT INTO users ({cols}) VALUES ({vals}) RETURNING id)
                     INSERT INTO orders (user_id, total) SELECT id, 9.99 FROM u"
                ))
                .bind::<Text, _>(format!("new user {}-{}", t.seed, t.n))
                .bind::<Text, _>(format!("demo-{}-{}@example.com", t.seed, t.n))
                .execute(c)
                .map(|_| ())
            })
        }
    });
    Ok(())
}

/// Samples how long app queries have been waiting on locks.
fn lock_monitor(url: String, app: Arc<App>) {
    let Ok(mut conn) = PgConnection::establish(&url) else {
        return;
    };
    #[derive(QueryableByName)]
    struct W {
        #[diesel(sql_type = Double)]
        s: f64,
    }
    while !app.stop.load(Ordering::SeqCst) {
        let wait = diesel::sql_query(
            "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)::float8 AS s
             FROM pg_stat_activity
             WHERE application_name = 'concertina-demo-app' AND wait_event_type = 'Lock'",
        )
        .get_result::<W>(&mut conn)
        .map(|w| Duration::from_secs_f64(w.s.max(0.0)))
        .unwrap_or_default();
        let phase = app.phase.load(Ordering::SeqCst);
        if let Ok(mut b) = app.buckets.lock() {
            let bucket = b.entry(phase).or_default();
            bucket.longest_lock_wait = bucket.longest_lock_wait.max(wait);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// migrations/: the shared story, then the orders foreign key (0005), a required phone
/// (0006) and the orders' status backfill (0007).
fn steps() -> Vec<Step> {
    use Phase::*;
    let mut steps = super::rename_steps();
    steps.extend([
        Step::Apply("0005", Expand),
        Step::Apply("0005", Contract),
        Step::Apply("0006", Expand),
        Step::Deploy("app writes phone", |a| {
            a.writes_phone.store(true, Ordering::SeqCst)
        }),
        Step::Apply("0006", Backfill),
        Step::Apply("0006", Contract),
        Step::Apply("0007", Expand),
        Step::Apply("0007", Backfill),
    ]);
    steps
}

/// Runs the demo; `say` prints progress. Returns the per-phase statistics.
pub fn run(options: &DemoOptions, say: &mut dyn FnMut(&str)) -> Result<Vec<PhaseStats>, String> {
    let started = Instant::now();
    let _server;
    let (admin_url, base) = match &options.database_url {
        Some(url) => {
            let base = url
                .rsplit_once('/')
                .map_or(url.clone(), |(b, _)| b.to_string());
            (url.clone(), base)
        }
        None => {
            let s = server::Server::start(|m| say(m)).map_err(|e| e.to_string())?;
            let url = s.url("postgres");
            let base = url
                .rsplit_once('/')
                .map_or(url.clone(), |(b, _)| b.to_string());
            _server = s;
            (url, base)
        }
    };
    super::run_demo::<PostgresDemo>(options, &admin_url, &base, started, say)
}

/// The demo's SQL and app in PostgreSQL's terms.
struct PostgresDemo;

impl DemoServer for PostgresDemo {
    type Conn = PgConnection;
    const LOADS_WITH: &'static str = "PostgreSQL's generate_series";
    const STEPS: fn() -> Vec<Step> = steps;
    const WORKER: fn(String, Arc<App>, u64) -> Result<(), String> = worker;
    const LOCK_MONITOR: fn(String, Arc<App>) = lock_monitor;

    fn create(db: &str) -> Vec<String> {
        vec![
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(db)),
            format!("CREATE DATABASE {}", quote_ident(db)),
        ]
    }

    fn drop(db: &str) -> String {
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(db))
    }

    fn load(rows: u64) -> Vec<String> {
        vec![
            format!("INSERT INTO users (name, email) SELECT 'user ' || g, 'user' || g || '@example.com' FROM generate_series(1, {rows}) g"),
            format!("INSERT INTO orders (user_id, total) SELECT 1 + (g * 7919) % {rows}, (g % 1000) / 10.0 FROM generate_series(1, {}) g", (rows / 4).max(1)),
            "VACUUM ANALYZE users".to_string(),
            "VACUUM ANALYZE orders".to_string(),
        ]
    }
}
