//! A real MariaDB replica named in `runtime.replicas`: the migrator connects to the primary,
//! whose `SHOW REPLICA STATUS` is empty, so only the named replica tells the backfill that
//! replication is stopped. With the replica's SQL thread stopped the backfill waits before
//! its first batch and says which replica and why; it finishes once replication runs again,
//! and the replica ends with every row. (A replica that cannot be reached: the unit tests of
//! `backends/mysql/replicas.rs`.) A throwaway primary (binary log on) and a replica of it, both stopped and removed at the
//! end.

mod both;

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

    // Once the backfill waits: nothing moves for 2 s, the rows changed meanwhile are counted,
    // then the replica's SQL thread starts again.
    let (primary_url, replica_url) = (url.clone(), replica.url("mysql"));
    let (result, wait) = both::backfill_through_a_replica_wait(&mut m, move || {
        let mut p = MysqlConnection::establish(&primary_url).expect("primary");
        let n = scalar_on(
            &mut p,
            "SELECT COUNT(*) AS n FROM users WHERE nick IS NOT NULL",
        );
        let mut r = MysqlConnection::establish(&replica_url).expect("replica");
        r.batch_execute("START SLAVE SQL_THREAD").expect("start");
        n
    });
    result.expect("the backfill finishes once replication runs again");
    let wait = wait.expect("the backfill finished without waiting for the stopped replica");
    let (rows_when_waiting, why) = (wait.rows_done, wait.why);
    eprintln!("waiting after {rows_when_waiting} of {ROWS} rows: {why}");
    // It looks before every batch: the first one already waited.
    assert_eq!(rows_when_waiting, 0, "{why}");
    assert!(
        why.contains(&replica_at) && why.contains("replication is stopped"),
        "{why}"
    );
    assert_eq!(
        wait.changed_meanwhile, 0,
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
