//! Applying phases on PostgreSQL, what only it has: a held lock retried then the blocker
//! named, an INVALID index left by an interrupted build, duplicate keys in a unique index, rows
//! the app locks skipped then revisited, and the app's queue behind a waiting ALTER bounded by
//! lock_timeout. The scenarios both servers share are in apply.rs.

mod both;

use std::time::Duration;

use both::{apply, migrator, Dir, Server};
use concertina_codegen::Phase;
use concertina_runtime::migrator::{MigrateError, Migrator};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// A short lock_timeout: these tests wait on locks on purpose.
const CONFIG: &str = "dialect = \"postgres\"\nserver_version = \"14\"\n[runtime]\nlock_timeout = \"100ms\"\nlock_retries = 2\nbatch_size = 500\nbatch_pause = \"0ms\"\n";

#[test]
fn a_held_lock_is_retried_then_the_blocker_is_named() {
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
    let err = apply(&mut m, &[Phase::Expand], None)
        .expect_err("the app holds a conflicting lock")
        .to_string();
    assert!(err.contains("gave up after 3 attempts"), "{err}");
    assert!(
        err.contains(&format!("pid {pid}")),
        "the blocker is named: {err}"
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

#[test]
fn a_waiting_alter_queues_app_queries_no_longer_than_lock_timeout() {
    let db = Server::pg("queue");
    let config = CONFIG.replace("lock_retries = 2", "lock_retries = 100");
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
        let mut worst = Duration::ZERO;
        let mut queries = 0;
        while !stop_app.load(std::sync::atomic::Ordering::SeqCst) {
            let t = std::time::Instant::now();
            conn.batch_execute("SELECT count(*) FROM users WHERE id < 10")
                .expect("app query");
            worst = worst.max(t.elapsed());
            queries += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        (worst, queries)
    });
    // The long transaction ends after 3 s; without lock_timeout every app query in between
    // would queue behind the waiting ALTER for up to 3 s.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        long_tx.batch_execute("COMMIT").expect("commit");
    });
    let mut retries = 0;
    apply_with(&mut m, &[Phase::Expand], &mut retries).expect("applied once the transaction ended");
    releaser.join().expect("releaser");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (worst, queries) = app.join().expect("app");
    assert!(retries > 0, "the ALTER was retried while the lock was held");
    assert!(queries > 10, "the app kept querying ({queries})");
    // lock_timeout is 100 ms; the bound leaves a wide margin for a slow machine, and is far
    // below the 3 s the app would have queued without it.
    assert!(
        worst < Duration::from_millis(1500),
        "an app query waited {worst:?}"
    );
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
