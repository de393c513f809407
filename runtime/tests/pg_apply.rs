//! Applying phases on a real PostgreSQL: resume after a failure, lock timeouts with retries
//! and the blocker named, INVALID index cleanup, unique-index failures, and the backfill engine
//! (cursor resume without touching a row twice; the slice and worker scenarios run on both
//! servers in backfill_engine.rs).

mod common;

use std::time::Duration;

use common::{Dir, TestDb};
use concertina_codegen::Phase;
use concertina_runtime::migrator::{MigrateError, Migrator};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

const CONFIG: &str = "dialect = \"postgres\"\nserver_version = \"14\"\n[runtime]\nlock_timeout = \"100ms\"\nlock_retries = 2\nbatch_size = 500\nbatch_pause = \"0ms\"\n";

fn migrator(dir: &Dir, db: &TestDb) -> Migrator {
    let mut m = Migrator::open(&dir.0, &db.url).expect("open the migrator");
    m.lock(None, |_| {}).expect("take the migrator lock");
    m
}

fn apply(m: &mut Migrator, phases: &[Phase]) -> Result<usize, MigrateError> {
    m.apply(phases, None, |_, _, _| {}, |_, _| {}, |_| {})
}

const ALL: [Phase; 3] = [Phase::Expand, Phase::Backfill, Phase::Contract];

fn users(dir: &Dir, rows: u32) {
    dir.write(
        "0001_users/expand.sql",
        &format!(
            "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, email text, n integer NOT NULL DEFAULT 0);\n\
             -- concertina:allow(unbatched-data-change): test data\n\
             INSERT INTO users (name, email) SELECT 'user ' || g, 'u' || g || '@x' FROM generate_series(1, {rows}) g;\n"
        ),
    );
}

#[test]
fn every_phase_applies_and_a_second_run_does_nothing() {
    let db = TestDb::new("apply_all");
    let dir = Dir::new("apply_all", CONFIG);
    users(&dir, 2000);
    dir.write(
        "0002_rename/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name text;\nALTER TABLE users ALTER COLUMN name DROP NOT NULL;\nCREATE INDEX CONCURRENTLY users_full_name_idx ON users (full_name);\n",
    )
    .write("0002_rename/backfill.sql", "UPDATE users SET full_name = name WHERE full_name IS NULL;\n")
    .write(
        "0002_rename/contract.sql",
        "ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;\nALTER TABLE users DROP COLUMN name;\n",
    );
    let mut m = migrator(&dir, &db);
    assert_eq!(apply(&mut m, &ALL).expect("apply"), 4);
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE full_name = 'user ' || id"),
        2000
    );
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'name'"),
        0
    );
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'full_name' AND is_nullable = 'NO'"),
        1
    );
    // The SET NOT NULL recipe's helper check is gone.
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_constraint WHERE conname LIKE 'concertina_nn_%'"),
        0
    );
    assert_eq!(apply(&mut m, &ALL).expect("second run"), 0);
    let state = m.state().expect("state");
    assert!(state.iter().all(|r| r.status.is_applied()), "{state:?}");
    assert_eq!(
        state
            .iter()
            .find(|r| r.phase == Phase::Backfill)
            .map(|r| r.rows_done),
        Some(2000)
    );
}

#[test]
fn a_failed_phase_resumes_at_the_failing_statement() {
    let db = TestDb::new("resume");
    let dir = Dir::new("resume", CONFIG);
    users(&dir, 10);
    dir.write(
        "0002_org/expand.sql",
        "ALTER TABLE users ADD COLUMN org_id bigint;\nALTER TABLE users ADD CONSTRAINT users_org_fk FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID;\n",
    );
    let mut m = migrator(&dir, &db);
    let err = apply(&mut m, &[Phase::Expand])
        .expect_err("orgs does not exist yet")
        .to_string();
    assert!(err.contains("0002_org/expand.sql:2"), "{err}");
    assert!(err.contains("orgs"), "{err}");
    let failed = m
        .state()
        .expect("state")
        .into_iter()
        .find(|r| r.version == "0002")
        .expect("row");
    assert_eq!(failed.statements_done, 1);
    assert!(failed
        .last_error
        .as_deref()
        .unwrap_or_default()
        .contains("orgs"));
    db.exec("CREATE TABLE orgs (id bigint PRIMARY KEY)");
    // Statement 1 is not run again (it would fail: the column exists).
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("resume"), 1);
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_constraint WHERE conname = 'users_org_fk'"),
        1
    );
}

#[test]
fn a_held_lock_is_retried_then_the_blocker_is_named() {
    let db = TestDb::new("blocker");
    let dir = Dir::new("blocker", CONFIG);
    users(&dir, 10);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("base");
    dir.write(
        "0002_col/expand.sql",
        "ALTER TABLE users ADD COLUMN nickname text;\n",
    );
    let mut m = {
        drop(m);
        migrator(&dir, &db)
    };
    let mut app = db.conn();
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
    let err = apply(&mut m, &[Phase::Expand])
        .expect_err("the app holds a conflicting lock")
        .to_string();
    assert!(err.contains("gave up after 3 attempts"), "{err}");
    assert!(
        err.contains(&format!("pid {pid}")),
        "the blocker is named: {err}"
    );
    app.batch_execute("COMMIT").expect("commit");
    assert_eq!(
        apply(&mut m, &[Phase::Expand]).expect("after the app commits"),
        1
    );
}

#[test]
fn an_invalid_index_left_by_an_interrupted_build_is_dropped_and_rebuilt() {
    let db = TestDb::new("invalid");
    let dir = Dir::new("invalid", CONFIG);
    users(&dir, 100);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("base");
    // An earlier build that failed half way: the index exists and is INVALID.
    db.exec("UPDATE users SET email = 'dup@x' WHERE id <= 2");
    let _ = db
        .conn()
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid"),
        1
    );
    db.exec("UPDATE users SET email = 'u' || id || '@x' WHERE id <= 2");
    dir.write(
        "0002_email/expand.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n",
    );
    drop(m);
    let mut m = migrator(&dir, &db);
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("rebuilt"), 1);
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid"),
        0
    );
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM pg_index WHERE indexrelid = 'users_email_key'::regclass AND indisvalid"),
        1
    );
}

#[test]
fn duplicate_keys_fail_the_unique_index_with_the_key_and_leave_nothing_invalid() {
    let db = TestDb::new("dupkey");
    let dir = Dir::new("dupkey", CONFIG);
    users(&dir, 100);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("base");
    db.exec("UPDATE users SET email = 'same@x' WHERE id IN (7, 8)");
    dir.write(
        "0002_email/expand.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n",
    );
    drop(m);
    let mut m = migrator(&dir, &db);
    let err = apply(&mut m, &[Phase::Expand])
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
fn a_backfill_resumes_at_its_cursor_and_touches_no_row_twice() {
    let db = TestDb::new("bf_resume");
    let dir = Dir::new("bf_resume", CONFIG);
    users(&dir, 5000);
    dir.write(
        "0002_count/expand.sql",
        "ALTER TABLE users ADD COLUMN done boolean;\n",
    )
    // Not idempotent on purpose: a row touched twice would show n = 2.
    .write(
        "0002_count/backfill.sql",
        "UPDATE users SET n = n + 1, done = true WHERE done IS NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    // Make the batch holding id 3210 fail once, as a crash in the middle would.
    db.exec(
        "CREATE TABLE fail_once (armed boolean NOT NULL);
         INSERT INTO fail_once VALUES (true);
         CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.id = 3210 AND (SELECT armed FROM fail_once) THEN RAISE EXCEPTION 'simulated crash'; END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER boom BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION boom();",
    );
    let err = apply(&mut m, &[Phase::Backfill])
        .expect_err("the batch fails")
        .to_string();
    assert!(err.contains("simulated crash"), "{err}");
    let partial = m
        .state()
        .expect("state")
        .into_iter()
        .find(|r| r.phase == Phase::Backfill)
        .expect("row");
    assert!(
        partial.rows_done > 0 && partial.rows_done < 5000,
        "{partial:?}"
    );
    assert!(partial.cursor.is_some());
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        partial.rows_done
    );
    db.exec("UPDATE fail_once SET armed = false");
    apply(&mut m, &[Phase::Backfill]).expect("resume");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        5000
    );
    assert_eq!(db.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"), 0);
    let done = m
        .state()
        .expect("state")
        .into_iter()
        .find(|r| r.phase == Phase::Backfill)
        .expect("row");
    assert_eq!(done.rows_done, 5000);
}

#[test]
fn rows_locked_by_the_app_are_skipped_then_revisited() {
    let db = TestDb::new("bf_locked");
    let mut config = CONFIG.replace("lock_retries = 2", "lock_retries = 30");
    config = config.replace("lock_timeout = \"100ms\"", "lock_timeout = \"200ms\"");
    let dir = Dir::new("bf_locked", &config);
    users(&dir, 3000);
    dir.write(
        "0002_fill/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name text;\n",
    )
    .write(
        "0002_fill/backfill.sql",
        "UPDATE users SET full_name = name WHERE full_name IS NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    let mut app = db.conn();
    app.batch_execute("BEGIN; SELECT * FROM users WHERE id = 1234 FOR UPDATE;")
        .expect("app lock");
    // The app commits a little later; the revisit waits for it (lock_timeout + retries).
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        app.batch_execute("COMMIT").expect("commit");
    });
    apply(&mut m, &[Phase::Backfill]).expect("backfill");
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
fn an_edited_applied_file_is_refused_as_drift() {
    let db = TestDb::new("drift");
    let dir = Dir::new("drift", CONFIG);
    users(&dir, 10);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("apply");
    drop(m);
    users(&dir, 11);
    let mut m = migrator(&dir, &db);
    let err = apply(&mut m, &[Phase::Expand])
        .expect_err("drift")
        .to_string();
    assert!(
        err.contains("0001_users/expand.sql: changed after it was applied"),
        "{err}"
    );
    assert!(
        err.contains("-INSERT INTO users") && err.contains("generate_series(1, 10)"),
        "{err}"
    );
    assert!(
        err.contains("+INSERT INTO users") && err.contains("generate_series(1, 11)"),
        "{err}"
    );
}

#[test]
fn a_table_without_a_key_cannot_be_backfilled() {
    let db = TestDb::new("nokey");
    let dir = Dir::new("nokey", CONFIG);
    dir.write("0001_log/expand.sql", "CREATE TABLE log (msg text, level text);\n")
        .write("0002_fill/expand.sql", "ALTER TABLE log ADD COLUMN lvl text;\n")
        .write(
            "0002_fill/backfill.sql",
            "-- concertina:allow(backfill-table-without-key): testing the runtime's own refusal\nUPDATE log SET lvl = level WHERE lvl IS NULL;\n",
        );
    let mut m = migrator(&dir, &db);
    let err = apply(&mut m, &[Phase::Expand, Phase::Backfill])
        .expect_err("no key")
        .to_string();
    assert!(err.contains("has no primary key"), "{err}");
    assert!(err.contains("0002_fill/backfill.sql:2"), "{err}");
}

#[test]
fn down_after_expand_restores_the_previous_schema() {
    use concertina_runtime::catalog::{diff, model_facts};
    let db = TestDb::new("down");
    let dir = Dir::new("down", CONFIG);
    users(&dir, 50);
    dir.write(
        "0002_profile/expand.sql",
        "ALTER TABLE users ADD COLUMN bio text;\nALTER TABLE users ALTER COLUMN name DROP NOT NULL;\nALTER TABLE users ALTER COLUMN n SET DEFAULT 7;\nCREATE INDEX CONCURRENTLY users_bio_idx ON users (bio);\nALTER TABLE users ADD CONSTRAINT users_bio_len CHECK (length(bio) < 500) NOT VALID;\nCREATE TABLE profiles (user_id bigint PRIMARY KEY, avatar text);\n",
    );
    let mut m = migrator(&dir, &db);
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("expand"), 2);
    let plan = m.down(|_, _, _| {}).expect("down");
    assert_eq!(plan.version, "0002");
    let before = m.report.migrations[1].window.before.clone();
    let live = m.db.live_facts().expect("catalog");
    let d = diff(&live, &model_facts(&before));
    assert!(
        d.is_empty(),
        "after down the database should be S(N-1):\n{d}"
    );
    assert_eq!(db.scalar("SELECT count(*) AS n FROM users"), 50);
    // The expand can run again after it was undone.
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("expand again"), 1);
    m.down(|_, _, _| {}).expect("down again");
    // Next is 0001, whose INSERT of rows has no derivable inverse.
    let err = m.down(|_, _, _| {}).expect_err("no inverse").to_string();
    assert!(
        err.contains("0001_users/expand.sql:3") && err.contains("write 0001_users/down.sql"),
        "{err}"
    );
}

#[test]
fn a_waiting_alter_queues_app_queries_no_longer_than_lock_timeout() {
    let db = TestDb::new("queue");
    let config = CONFIG.replace("lock_retries = 2", "lock_retries = 100");
    let dir = Dir::new("queue", &config);
    users(&dir, 100);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("base");
    dir.write(
        "0002_col/expand.sql",
        "ALTER TABLE users ADD COLUMN nickname text;\n",
    );
    drop(m);
    let mut m = migrator(&dir, &db);
    // A long app transaction holds a lock that the ALTER's ACCESS EXCLUSIVE must wait for.
    let mut long_tx = db.conn();
    long_tx
        .batch_execute("BEGIN; SELECT count(*) FROM users;")
        .expect("long transaction");
    // Meanwhile the app keeps querying the table and measures how long each query takes.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = db.url.clone();
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
