//! Locks on a real MariaDB/MySQL: two migrators at once (the second names the holder), a
//! session holding the table's metadata lock (the ALTER retries under lock_wait_timeout, the
//! app's queries queue no longer than that, and the final error names the blocker), an
//! unreachable server, a wrong password that is never printed, and a URL of another server.

mod both;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use both::{scalar_on, Dir, Server};
use concertina_codegen::Phase;
use concertina_runtime::error::RuntimeError;
use concertina_runtime::migrator::{MigrateError, Migrator};
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

const CONFIG: &str = "dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nlock_timeout = \"1s\"\nlock_retries = 2\nbatch_size = 500\nbatch_pause = \"0ms\"\nmax_lock_wait = \"2s\"\nlong_transaction = \"100ms\"\n";

fn apply(m: &mut Migrator, phases: &[Phase]) -> Result<usize, MigrateError> {
    m.apply(phases, None, |_, _, _| {}, |_, _| {}, |_| {})
}

fn users(dir: &Dir, db: &Server) {
    dir.write(
        "0001_users/expand.sql",
        "CREATE TABLE users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL) ENGINE=InnoDB;\n",
    );
    let mut m = Migrator::open(&dir.0, db.url()).expect("open");
    m.lock(None, |_| {}).expect("lock");
    apply(&mut m, &[Phase::Expand]).expect("create users");
    db.exec("INSERT INTO users (name) SELECT CONCAT('user ', seq) FROM seq_1_to_100");
}

#[test]
fn a_second_migrator_names_the_holder_and_waits_when_asked() {
    let db = Server::my("twice");
    let dir = Dir::with_config("twice", CONFIG);
    users(&dir, &db);
    let mut first = Migrator::open(&dir.0, db.url()).expect("open");
    first.lock(None, |_| {}).expect("first takes the lock");
    let mut second = Migrator::open(&dir.0, db.url()).expect("open");
    let err = second.lock(None, |_| {}).expect_err("held");
    let text = err.to_string();
    assert!(
        matches!(err, MigrateError::Runtime(RuntimeError::Locked { .. })),
        "{text}"
    );
    assert!(text.contains("another migrator holds the lock"), "{text}");
    assert!(
        text.contains("connection ") && text.contains("root@"),
        "{text}"
    );
    // --wait: polls, reports the holder while waiting, gives up at the limit.
    let mut waits = 0;
    let started = Instant::now();
    let err = second
        .lock(Some(Duration::from_millis(1200)), |_| waits += 1)
        .expect_err("still held");
    assert!(waits >= 1, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(1000));
    // Released when the first migrator goes: the second gets it.
    drop(first);
    second.lock(None, |_| {}).expect("free now");
    // Another database on the same server has a lock of its own.
    let other = Server::my("twice_other");
    let mut third = Migrator::open(&dir.0, other.url()).expect("open");
    third
        .lock(None, |_| {})
        .expect("another database migrates independently");
}

#[test]
fn a_metadata_lock_holder_is_waited_out_without_queueing_the_app_then_named() {
    let db = Server::my("mdl");
    let dir = Dir::with_config("mdl", CONFIG);
    users(&dir, &db);
    dir.write(
        "0002_more/expand.sql",
        "ALTER TABLE users ADD COLUMN bio varchar(100) NULL;\n",
    );
    // An open transaction that read the table holds its metadata lock until it ends.
    let mut holder = db.my_conn();
    holder.batch_execute("START TRANSACTION").expect("begin");
    assert_eq!(
        scalar_on(&mut holder, "SELECT COUNT(*) AS n FROM users"),
        100
    );
    let holder_id = scalar_on(&mut holder, "SELECT CAST(CONNECTION_ID() AS SIGNED) AS n");

    // The app: short queries on the table, each timed, while the migrator tries.
    let stop = Arc::new(AtomicBool::new(false));
    let app = {
        let (url, stop) = (db.url().to_string(), stop.clone());
        std::thread::spawn(move || {
            let mut conn = MysqlConnection::establish(&url).expect("app connects");
            let mut worst = Duration::ZERO;
            let mut queries = 0;
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                scalar_on(&mut conn, "SELECT COUNT(*) AS n FROM users WHERE id < 10");
                worst = worst.max(t.elapsed());
                queries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            (worst, queries)
        })
    };
    let mut m = Migrator::open(&dir.0, db.url()).expect("open");
    m.lock(None, |_| {}).expect("lock");
    // The holder's transaction is older than long_transaction (100 ms) when the migrator looks.
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let err = apply(&mut m, &[Phase::Expand])
        .expect_err("the holder never commits")
        .to_string();
    let tried_for = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (worst, queries) = app.join().expect("app thread");
    // Look before queueing: the ALTER never asked for its metadata lock, waited max_lock_wait
    // (2 s) for the holder, then named it.
    assert!(err.contains("max_lock_wait"), "{err}");
    assert!(
        err.contains(&format!("connection {holder_id} (")) && err.contains("idle in transaction"),
        "the blocker is named, idle in transaction: {err}"
    );
    assert!(tried_for >= Duration::from_secs(2), "{tried_for:?}");
    assert!(queries > 0);
    // Never queued behind a waiting ALTER: the app's queries keep their usual time (a
    // generous bound for a loaded machine; a queued ALTER holds them for lock_wait_timeout,
    // 1 s, at every attempt).
    assert!(
        worst < Duration::from_millis(500),
        "an app query waited {worst:?}"
    );
    let state = m.state().expect("state");
    let rec = state.iter().find(|r| r.version == "0002").expect("row");
    assert_eq!(rec.status.as_str(), "failed");
    assert_eq!(rec.statements_done, 0);
    // Once the holder is done the same phase goes through.
    holder.batch_execute("COMMIT").expect("commit");
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("now it runs"), 1);
}

#[test]
fn an_unreachable_server_is_a_connection_error() {
    let dir = Dir::with_config("unreachable", CONFIG);
    let err = match Migrator::open(&dir.0, "mysql://root@127.0.0.1:1/nothing") {
        Err(e) => e,
        Ok(_) => panic!("nothing listens on port 1"),
    };
    assert!(
        matches!(err, MigrateError::Runtime(RuntimeError::Connect { .. })),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("cannot connect to mysql://root@127.0.0.1:1/nothing"));
}

#[test]
fn a_wrong_password_is_refused_and_never_printed() {
    let db = Server::my("password");
    let dir = Dir::with_config("password", CONFIG);
    let user = format!("ct_pw_{}", std::process::id());
    db.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'right-Secret-1'; GRANT ALL ON `{}`.* TO '{user}'@'%'",
        db.name()
    ));
    let base = db.url().rsplit_once('/').map(|(b, _)| b).expect("path");
    let host = base.rsplit_once('@').map(|(_, h)| h).expect("host");
    let wrong = format!("mysql://{user}:hunter2-Wrong@{host}/{}", db.name());
    let err = match Migrator::open(&dir.0, &wrong) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a wrong password connects"),
    };
    let right = format!("mysql://{user}:right-Secret-1@{host}/{}", db.name());
    let ok = Migrator::open(&dir.0, &right).map(|_| ());
    db.exec(&format!("DROP USER '{user}'@'%'"));
    assert!(!err.contains("hunter2-Wrong"), "{err}");
    assert!(err.contains(&format!("{user}:***@")), "{err}");
    assert!(err.contains("Access denied"), "{err}");
    ok.expect("the right password connects");
}

#[test]
fn a_url_of_another_server_is_refused() {
    let dir = Dir::with_config("scheme", CONFIG);
    let err = match Migrator::open(&dir.0, "postgres://app:hunter2@127.0.0.1:5432/app") {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a PostgreSQL URL for a MariaDB project"),
    };
    assert!(err.contains("not a mariadb server's URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn a_backfill_batch_waits_for_a_row_lock_then_names_the_holder_and_resumes() {
    let db = Server::my("rowlock");
    let dir = Dir::with_config("rowlock", CONFIG);
    users(&dir, &db);
    dir.write(
        "0002_fill/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\n",
    )
    .write(
        "0002_fill/backfill.sql",
        "UPDATE users SET full_name = name WHERE full_name IS NULL;\n",
    );
    let mut m = Migrator::open(&dir.0, db.url()).expect("open");
    m.lock(None, |_| {}).expect("lock");
    apply(&mut m, &[Phase::Expand]).expect("expand");
    // An app transaction holds row 50's lock.
    let mut holder = db.my_conn();
    holder.batch_execute("START TRANSACTION").expect("begin");
    holder
        .batch_execute("UPDATE users SET name = 'held' WHERE id = 50")
        .expect("lock a row");
    let holder_id = scalar_on(&mut holder, "SELECT CAST(CONNECTION_ID() AS SIGNED) AS n");
    let err = apply(&mut m, &[Phase::Backfill])
        .expect_err("row 50 stays locked")
        .to_string();
    assert!(err.contains("gave up after 3 attempts"), "{err}");
    assert!(
        err.contains(&format!("connection {holder_id} ")),
        "the holder is named: {err}"
    );
    holder.batch_execute("COMMIT").expect("commit");
    assert_eq!(apply(&mut m, &[Phase::Backfill]).expect("resume"), 1);
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM users WHERE full_name = name"),
        100
    );
}
