//! A real MariaDB replica named in `runtime.replicas`: the migrator connects to the primary,
//! whose `SHOW REPLICA STATUS` is empty, so only the named replica tells the backfill that
//! replication is stopped. With the replica's SQL thread stopped the backfill waits before
//! its first batch and says which replica and why; it finishes once replication runs again,
//! and the replica ends with every row. (A replica that cannot be reached: the unit tests of
//! `backends/mysql/replicas.rs`.) A throwaway primary (binary log on) and a replica of it, both stopped and removed at the
//! end.

mod both;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use both::{scalar_on, Dir};
use concertina_codegen::Phase;
use concertina_runtime::demo::mariadb_server::MariaDbServer;
use concertina_runtime::migrator::Migrator;
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

const ROWS: i64 = 20_000;

fn config(replica: &str) -> String {
    format!(
        "dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nbatch_size = 500\nbatch_target = \"20ms\"\nbatch_pause = \"0ms\"\nmax_replica_lag = \"1s\"\nreplicas = [\"{replica}\"]\n"
    )
}

fn write_migrations(dir: &Dir) {
    dir.write(
        "0001_users/expand.sql",
        &format!(
            "CREATE TABLE users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL, nick varchar(100)) ENGINE=InnoDB;\n-- concertina:allow(unbatched-data-change): test data\nINSERT INTO users (name) SELECT CONCAT('user ', seq) FROM seq_1_to_{ROWS};\n"
        ),
    );
    dir.write(
        "0002_nick/backfill.sql",
        "UPDATE users SET nick = name WHERE nick IS NULL;\n",
    );
}

/// Waits until `sql` on `conn` gives `want`, for at most a minute.
fn wait_for(conn: &mut MysqlConnection, sql: &str, want: i64, what: &str) {
    let started = Instant::now();
    loop {
        let got = scalar_on(conn, sql);
        if got == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: {got}, not {want}, after a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_stopped_named_replica_holds_the_backfill_until_it_runs_again() {
    let primary = MariaDbServer::primary(|s| eprintln!("primary: {s}")).expect("a primary");
    let replica =
        MariaDbServer::replica_of(&primary, |s| eprintln!("replica: {s}")).expect("a replica");
    let mut p = MysqlConnection::establish(&primary.url("mysql")).expect("primary");
    p.batch_execute("CREATE DATABASE shop").expect("database");
    let url = primary.url("shop");
    let replica_at = format!("127.0.0.1:{}", replica.port);
    let dir = Dir::with_config("named_replica", &config(&replica_at));
    write_migrations(&dir);
    let mut m = Migrator::open(&dir.0, &url).expect("open");
    m.lock(None, |_| {}).expect("lock");
    m.apply_quietly(&[Phase::Expand], None).expect("the table");

    // The replica has every row, then its SQL thread stops.
    let mut r = MysqlConnection::establish(&replica.url("mysql")).expect("replica");
    wait_for(
        &mut r,
        "SELECT COUNT(*) AS n FROM shop.users",
        ROWS,
        "rows on the replica",
    );
    r.batch_execute("STOP SLAVE SQL_THREAD").expect("stop");
    // The primary itself says nothing of its replica: without the name nothing would wait.
    #[derive(QueryableByName)]
    struct Status {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = Master_Host)]
        host: String,
    }
    let own: Vec<String> = diesel::sql_query("SHOW SLAVE STATUS")
        .load::<Status>(&mut p)
        .expect("SHOW SLAVE STATUS on the primary")
        .into_iter()
        .map(|s| s.host)
        .collect();
    assert!(own.is_empty(), "the primary reports replication: {own:?}");

    // The starter: once the backfill waits, it checks that nothing moves for 2 s, then starts
    // the replica's SQL thread again.
    let waiting_at = Arc::new(AtomicI64::new(-1));
    let why = Arc::new(Mutex::new(String::new()));
    let changed_while_stopped = Arc::new(AtomicI64::new(-1));
    let done = Arc::new(AtomicBool::new(false));
    let starter = {
        let (waiting_at, changed, done) = (
            waiting_at.clone(),
            changed_while_stopped.clone(),
            done.clone(),
        );
        let (url, replica_url) = (url.clone(), replica.url("mysql"));
        std::thread::spawn(move || {
            let started = Instant::now();
            while waiting_at.load(Ordering::SeqCst) < 0 && !done.load(Ordering::SeqCst) {
                if started.elapsed() > Duration::from_secs(120) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_secs(2));
            let mut p = MysqlConnection::establish(&url).expect("primary");
            let n = scalar_on(
                &mut p,
                "SELECT COUNT(*) AS n FROM users WHERE nick IS NOT NULL",
            );
            changed.store(n, Ordering::SeqCst);
            let mut r = MysqlConnection::establish(&replica_url).expect("replica");
            r.batch_execute("START SLAVE SQL_THREAD").expect("start");
        })
    };
    let result = m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |progress| {
            if progress.waiting_for_replicas && waiting_at.load(Ordering::SeqCst) < 0 {
                *why.lock().unwrap() = progress.pace.clone();
                waiting_at.store(progress.rows_done, Ordering::SeqCst);
            }
        },
    );
    done.store(true, Ordering::SeqCst);
    starter.join().expect("starter");
    result.expect("the backfill finishes once replication runs again");
    let rows_when_waiting = waiting_at.load(Ordering::SeqCst);
    let why = why.lock().unwrap().clone();
    eprintln!("waiting after {rows_when_waiting} of {ROWS} rows: {why}");
    assert!(
        rows_when_waiting >= 0,
        "the backfill finished without waiting for the stopped replica"
    );
    // It looks before every batch: the first one already waited.
    assert_eq!(rows_when_waiting, 0, "{why}");
    assert!(
        why.contains(&replica_at) && why.contains("replication is stopped"),
        "{why}"
    );
    assert_eq!(
        changed_while_stopped.load(Ordering::SeqCst),
        0,
        "rows changed while the replica was stopped"
    );
    wait_for(
        &mut p,
        "SELECT COUNT(*) AS n FROM shop.users WHERE nick IS NULL",
        0,
        "rows left on the primary",
    );
    wait_for(
        &mut r,
        "SELECT COUNT(*) AS n FROM shop.users WHERE nick IS NOT NULL",
        ROWS,
        "backfilled rows on the replica",
    );
}
