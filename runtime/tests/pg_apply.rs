//! Applying phases on PostgreSQL, what only it has: a long transaction on the table waited
//! out without joining the lock queue, then named when max_lock_wait runs out, an INVALID index
//! left by an interrupted build, duplicate keys in a unique index, rows the app locks skipped
//! then revisited. The scenarios both servers share are in apply.rs.

mod both;

use std::time::Duration;

use both::{apply, migrator, Dir, Server};
use concertina_codegen::Phase;
use concertina_runtime::migrator::{MigrateError, Migrator};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// A short lock_timeout: these tests wait on locks on purpose.
const CONFIG: &str = "dialect = \"postgres\"\nserver_version = \"14\"\n[runtime]\nlock_timeout = \"100ms\"\nlock_retries = 2\nbatch_size = 500\nbatch_pause = \"0ms\"\nmax_lock_wait = \"1s\"\nlong_transaction = \"100ms\"\n";

#[test]
fn a_long_transaction_is_waited_out_then_named() {
    let db = Server::pg("blocker");
    let dir = Dir::with_config("blocker", CONFIG);
    db.users(&dir, 10);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand], None).expect("base");
    dir.write(
        "0002_col/expand.sql",
        "ALTER TABLE users ADD COLUMN nickname text;\n",
    );
    let mut m = {
        drop(m);
        migrator(&dir, &db)
    };
    let mut app = db.pg_conn();
    app.batch_execute("BEGIN; SELECT count(*) FROM users;")
        .expect("app transaction");
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut app)
        .expect("pid")
        .pid;
    // Older than long_transaction: the ALTER never asks for its lock while it is open.
    std::thread::sleep(Duration::from_millis(150));
    let started = std::time::Instant::now();
    let err = apply(&mut m, &[Phase::Expand], None)
        .expect_err("the app holds a conflicting lock")
        .to_string();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "max_lock_wait is 1s"
    );
    assert!(err.contains("max_lock_wait"), "{err}");
    assert!(
        err.contains(&format!("pid {pid} has been idle in transaction")),
        "the blocker is named, idle in transaction: {err}"
    );
    assert!(
        err.contains("AccessShare") || err.contains("ACCESS SHARE"),
        "{err}"
    );
    app.batch_execute("COMMIT").expect("commit");
    assert_eq!(
        apply(&mut m, &[Phase::Expand], None).expect("after the app commits"),
        1
    );
}

#[test]
fn an_invalid_index_left_by_an_interrupted_build_is_dropped_and_rebuilt() {
    let db = Server::pg("invalid");
    let dir = Dir::with_config("invalid", CONFIG);
    db.users(&dir, 100);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand], None).expect("base");
    // An earlier build that failed half way: the index exists and is INVALID.
    db.exec("UPDATE users SET phone = 'dup' WHERE id <= 2");
    let _ = db
        .pg_conn()
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY users_phone_key ON users (phone)");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid"),
        1
    );
    db.exec("UPDATE users SET phone = NULL WHERE id <= 2");
    dir.write(
        "0002_phone/expand.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY users_phone_key ON users (phone);\n",
    );
    drop(m);
    let mut m = migrator(&dir, &db);
    assert_eq!(apply(&mut m, &[Phase::Expand], None).expect("rebuilt"), 1);
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid"),
        0
    );
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_index WHERE indexrelid = 'users_phone_key'::regclass AND indisvalid"),
        1
    );
}

#[test]
fn duplicate_keys_fail_the_unique_index_with_the_key_and_leave_nothing_invalid() {
    let db = Server::pg("dupkey");
    let dir = Dir::with_config("dupkey", CONFIG);
    db.users(&dir, 100);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand], None).expect("base");
    db.exec("UPDATE users SET phone = 'same@x' WHERE id IN (7, 8)");
    dir.write(
        "0002_phone/expand.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY users_phone_key ON users (phone);\n",
    );
    drop(m);
    let mut m = migrator(&dir, &db);
    let err = apply(&mut m, &[Phase::Expand], None)
        .expect_err("duplicates")
        .to_string();
    assert!(err.contains("same@x"), "names the offending key: {err}");
    assert!(err.contains("duplicate"), "{err}");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid"),
        0
    );
}

#[test]
fn rows_locked_by_the_app_are_skipped_then_revisited() {
    let db = Server::pg("bf_locked");
    let mut config = CONFIG.replace("lock_retries = 2", "lock_retries = 30");
    config = config.replace("lock_timeout = \"100ms\"", "lock_timeout = \"200ms\"");
    let dir = Dir::with_config("bf_locked", &config);
    db.users(&dir, 3000);
    dir.write(
        "0002_fill/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name text;\n",
    )
    .write(
        "0002_fill/backfill.sql",
        "UPDATE users SET full_name = name WHERE full_name IS NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand], None).expect("expand");
    let mut app = db.pg_conn();
    app.batch_execute("BEGIN; SELECT * FROM users WHERE id = 1234 FOR UPDATE;")
        .expect("app lock");
    // The app commits a little later; the revisit waits for it (lock_timeout + retries).
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        app.batch_execute("COMMIT").expect("commit");
    });
    apply(&mut m, &[Phase::Backfill], None).expect("backfill");
    releaser.join().expect("releaser");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE full_name IS NULL"),
        0
    );
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE id = 1234 AND full_name = name"),
        1
    );
}

/// Look before queueing: while a reader's transaction is open on the table, the ALTER does not
/// join the lock queue at all (no ungranted lock on the table in `pg_locks`), so the app's
/// queries never queue behind it; it takes its lock once the reader ends.
#[test]
fn a_long_reader_is_waited_out_without_queueing_the_app() {
    let db = Server::pg("queue");
    let config = CONFIG
        .replace("lock_retries = 2", "lock_retries = 100")
        .replace("max_lock_wait = \"1s\"", "max_lock_wait = \"30s\"");
    let dir = Dir::with_config("queue", &config);
    db.users(&dir, 100);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand], None).expect("base");
    dir.write(
        "0002_col/expand.sql",
        "ALTER TABLE users ADD COLUMN nickname text;\n",
    );
    drop(m);
    let mut m = migrator(&dir, &db);
    // A long app transaction holds a lock that the ALTER's ACCESS EXCLUSIVE must wait for.
    let mut long_tx = db.pg_conn();
    long_tx
        .batch_execute("BEGIN; SELECT count(*) FROM users;")
        .expect("long transaction");
    // Meanwhile the app keeps querying the table and measures how long each query takes.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = db.url().to_string();
    let stop_app = stop.clone();
    let app = std::thread::spawn(move || {
        let mut conn = PgConnection::establish(&url).expect("app connection");
        let mut watcher = PgConnection::establish(&url).expect("watcher connection");
        let mut worst = Duration::ZERO;
        let mut queries = 0;
        let mut queued = 0;
        while !stop_app.load(std::sync::atomic::Ordering::SeqCst) {
            let t = std::time::Instant::now();
            conn.batch_execute("SELECT count(*) FROM users WHERE id < 10")
                .expect("app query");
            worst = worst.max(t.elapsed());
            queries += 1;
            queued += both::scalar_on(
                &mut watcher,
                "SELECT count(*) AS n FROM pg_locks WHERE relation = 'users'::regclass AND NOT granted",
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        (worst, queries, queued)
    });
    // The long transaction ends after 3 s; without lock_timeout every app query in between
    // would queue behind the waiting ALTER for up to 3 s.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        long_tx.batch_execute("COMMIT").expect("commit");
    });
    // The reader is older than long_transaction (100 ms) when the migrator looks.
    std::thread::sleep(Duration::from_millis(150));
    let mut retries = 0;
    apply_with(&mut m, &[Phase::Expand], &mut retries).expect("applied once the transaction ended");
    releaser.join().expect("releaser");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (worst, queries, queued) = app.join().expect("app");
    assert!(queries > 10, "the app kept querying ({queries})");
    assert_eq!(
        queued, 0,
        "a lock on users was waiting in the queue while the reader was open"
    );
    // Nothing queued: the app's queries take their usual time (the bound is for a slow,
    // loaded machine; without looking, each would queue up to lock_timeout, without
    // lock_timeout for the reader's 3 s).
    assert!(
        worst < Duration::from_millis(300),
        "an app query waited {worst:?}"
    );
    let _ = retries;
}

fn apply_with(
    m: &mut Migrator,
    phases: &[Phase],
    retries: &mut u32,
) -> Result<usize, MigrateError> {
    m.apply(
        phases,
        None,
        |_, _, r| *retries += r.retries,
        |_, _| {},
        |_| {},
    )
}
