//! Applying phases on a real PostgreSQL: resume after a failure, lock timeouts with retries
//! and the blocker named, INVALID index cleanup, unique-index failures, and the backfill engine
//! (cursor resume without touching a row twice, locked rows revisited).

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

/// `users` with `rows` rows and a backfill that shows a row written twice (`n = 2`) and which
/// connection wrote each row; the expand is applied.
fn parallel_setup(tag: &str, rows: u32, workers: usize) -> (TestDb, Dir, Migrator) {
    let db = TestDb::new(tag);
    let dir = Dir::new(tag, &format!("{CONFIG}backfill_workers = {workers}\n"));
    users(&dir, rows);
    dir.write(
        "0002_count/expand.sql",
        "ALTER TABLE users ADD COLUMN done boolean;\nALTER TABLE users ADD COLUMN by_pid integer;\n",
    )
    .write(
        "0002_count/backfill.sql",
        "UPDATE users SET n = n + 1, done = true, by_pid = pg_backend_pid() WHERE done IS NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    (db, dir, m)
}

/// The backfill phase's state row.
fn backfill_record(m: &mut Migrator) -> concertina_runtime::state::PhaseRecord {
    m.state()
        .expect("state")
        .into_iter()
        .find(|r| r.phase == Phase::Backfill)
        .expect("backfill row")
}

/// Fails the update of the given ids while `fail_once.armed`, as a crash mid-batch would.
fn fail_at(db: &TestDb, ids: &[i64]) {
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    db.exec(&format!(
        "CREATE TABLE fail_once (armed boolean NOT NULL);
         INSERT INTO fail_once VALUES (true);
         CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.id IN ({list}) AND (SELECT armed FROM fail_once) THEN RAISE EXCEPTION 'simulated crash'; END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER boom BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION boom();"
    ));
}

#[test]
fn a_parallel_backfill_writes_every_row_once_from_each_workers_connection() {
    let (db, _dir, mut m) = parallel_setup("bf_parallel", 20_000, 4);
    // One progress stream for the statement: totals over all workers, never going back.
    let mut reports: Vec<(i64, i64, usize)> = Vec::new();
    m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |p| reports.push((p.rows_done, p.scanned, p.workers)),
    )
    .expect("backfill");
    assert!(reports.iter().all(|r| r.2 == 4), "{reports:?}");
    assert!(
        reports
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
        "{reports:?}"
    );
    assert_eq!(reports.last().map(|r| r.0), Some(20_000));
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE n = 1 AND done"),
        20_000
    );
    assert_eq!(db.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"), 0);
    // Each worker starts with a slice of its own, on its own connection.
    assert_eq!(
        db.scalar("SELECT count(DISTINCT by_pid) AS n FROM users"),
        4
    );
    let rec = backfill_record(&mut m);
    assert_eq!(rec.rows_done, 20_000);
    assert_eq!(rec.cursor, None);
}

#[test]
fn an_interrupted_parallel_backfill_resumes_every_slice_at_its_own_cursor() {
    let (db, _dir, mut m) = parallel_setup("bf_slices", 9000, 3);
    // 3 workers, 4 slices each: (…, 750], (750, 1500], … (8250, …). In every slice the first
    // batch (500 rows) succeeds and the rest fails, so the workers stop in their first slices,
    // each at its own key, and the other slices are left untouched.
    let failing: Vec<i64> = (0..12).map(|i| i * 750 + 700).collect();
    fail_at(&db, &failing);
    let err = apply(&mut m, &[Phase::Backfill])
        .expect_err("the batches fail")
        .to_string();
    assert!(err.contains("simulated crash"), "{err}");
    let partial = backfill_record(&mut m);
    let cursor = partial.cursor.clone().expect("a saved cursor");
    let saved = concertina_runtime::engine::Slices::from_json(&cursor).expect("readable");
    assert_eq!(saved.slices.len(), 12, "{cursor}");
    let number = |k: &Option<Vec<String>>| -> i64 {
        k.as_ref()
            .and_then(|k| k.first())
            .map_or(0, |v| v.parse().expect("integer key"))
    };
    let mut started = 0;
    for (i, slice) in saved.slices.iter().enumerate() {
        let lo = i as i64 * 750;
        assert_eq!(number(&slice.lo), lo, "slice {i}: {cursor}");
        let key = number(&slice.key);
        assert!(
            (key == lo || key == lo + 500) && !slice.revisiting,
            "slice {i} stopped before its failing row: {cursor}"
        );
        started += usize::from(key == lo + 500);
    }
    // The worker that failed first had done its first batch; the others may have been
    // stopped before theirs.
    assert!((1..=3).contains(&started), "{cursor}");
    assert_eq!(partial.rows_done, started as i64 * 500, "{cursor}");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        partial.rows_done
    );
    db.exec("UPDATE fail_once SET armed = false");
    apply(&mut m, &[Phase::Backfill]).expect("resume");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        9000
    );
    assert_eq!(db.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"), 0);
    assert_eq!(backfill_record(&mut m).rows_done, 9000);
}

#[test]
fn a_single_cursor_saved_by_an_earlier_release_resumes() {
    let (db, dir, mut m) = parallel_setup("bf_old_cursor", 5000, 1);
    fail_at(&db, &[3210]);
    apply(&mut m, &[Phase::Backfill]).expect_err("the batch fails");
    // Rewrite the saved cursor in the shape earlier releases wrote: one key for the statement.
    db.exec(
        "UPDATE concertina_migrations
         SET backfill_cursor = json_build_object(
             'statement', 0,
             'key', backfill_cursor::json->'slices'->0->'key',
             'skipped', backfill_cursor::json->'slices'->0->'skipped',
             'revisiting', false)::text
         WHERE phase = 'backfill'",
    );
    let partial = backfill_record(&mut m);
    let old = partial.cursor.clone().expect("cursor");
    assert!(!old.contains("slices") && old.contains("\"key\""), "{old}");
    assert!(partial.rows_done > 0 && partial.rows_done < 5000);
    db.exec("UPDATE fail_once SET armed = false");
    // The new release, with more workers configured, picks it up as one slice.
    drop(m);
    dir.write(
        "concertina.toml",
        &format!("{CONFIG}backfill_workers = 4\n"),
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Backfill]).expect("resume");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        5000
    );
    assert_eq!(db.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"), 0);
    assert_eq!(backfill_record(&mut m).rows_done, 5000);
}

#[test]
fn an_unreadable_saved_cursor_is_an_error_not_a_restart() {
    let (db, _dir, mut m) = parallel_setup("bf_bad_cursor", 1000, 2);
    fail_at(&db, &[900]);
    apply(&mut m, &[Phase::Backfill]).expect_err("the batch fails");
    let before = db.scalar("SELECT count(*) AS n FROM users WHERE n = 1");
    db.exec("UPDATE concertina_migrations SET backfill_cursor = '{\"statement\": 0, \"slices\": 7}' WHERE phase = 'backfill'");
    db.exec("UPDATE fail_once SET armed = false");
    let err = apply(&mut m, &[Phase::Backfill])
        .expect_err("unreadable cursor")
        .to_string();
    assert!(err.contains("not a cursor this release can read"), "{err}");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        before
    );
    assert_eq!(db.scalar("SELECT count(*) AS n FROM users WHERE n > 1"), 0);
}

#[test]
fn rows_locked_in_one_slice_are_skipped_then_revisited() {
    let db = TestDb::new("bf_slice_locked");
    let config = CONFIG
        .replace("lock_retries = 2", "lock_retries = 30")
        .replace("lock_timeout = \"100ms\"", "lock_timeout = \"200ms\"");
    let dir = Dir::new(
        "bf_slice_locked",
        &format!("{config}backfill_workers = 3\n"),
    );
    users(&dir, 3000);
    dir.write(
        "0002_fill/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name text;\n",
    )
    .write(
        "0002_fill/backfill.sql",
        "UPDATE users SET full_name = name, n = n + 1 WHERE full_name IS NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    // Twelve slices of 250 ids: the app holds a row of one of them.
    let mut app = db.conn();
    app.batch_execute("BEGIN; SELECT * FROM users WHERE id = 1234 FOR UPDATE;")
        .expect("app lock");
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
    assert_eq!(db.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"), 0);
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE id = 1234 AND full_name = name"),
        1
    );
    assert_eq!(backfill_record(&mut m).rows_done, 3000);
}

#[test]
fn a_table_with_a_composite_text_key_is_split_by_sampling_and_written_once() {
    let db = TestDb::new("bf_composite");
    let dir = Dir::new("bf_composite", &format!("{CONFIG}backfill_workers = 3\n"));
    dir.write(
        "0001_items/expand.sql",
        "CREATE TABLE items (tenant integer NOT NULL, code text NOT NULL, n integer NOT NULL DEFAULT 0, PRIMARY KEY (tenant, code));\n\
         -- concertina:allow(unbatched-data-change): test data\n\
         INSERT INTO items (tenant, code) SELECT g % 7, 'c''' || g FROM generate_series(1, 6000) g;\n",
    )
    .write(
        "0002_fill/expand.sql",
        "ALTER TABLE items ADD COLUMN done boolean;\nALTER TABLE items ADD COLUMN by_pid integer;\n",
    )
    .write(
        "0002_fill/backfill.sql",
        "UPDATE items SET n = n + 1, done = true, by_pid = pg_backend_pid() WHERE done IS NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    db.exec("ANALYZE items");
    apply(&mut m, &[Phase::Backfill]).expect("backfill");
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM items WHERE n = 1 AND done"),
        6000
    );
    assert_eq!(db.scalar("SELECT count(*) AS n FROM items WHERE n <> 1"), 0);
    assert_eq!(
        db.scalar("SELECT count(DISTINCT by_pid) AS n FROM items"),
        3
    );
    assert_eq!(backfill_record(&mut m).rows_done, 6000);
}

#[test]
fn a_backfill_waits_for_worker_connections_left_by_an_earlier_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (db, _dir, mut m) = parallel_setup("bf_stale_worker", 2000, 2);
    // A worker connection of a killed run: it holds the shared worker lock until it ends.
    let mut stale = db.conn();
    stale
        .batch_execute(&format!(
            "SELECT pg_advisory_lock_shared({})",
            concertina_runtime::postgres::backfill::WORKER_LOCK_KEY
        ))
        .expect("stale worker lock");
    let released = Arc::new(AtomicBool::new(false));
    let flag = released.clone();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        // Set before the lock goes: no batch can have run while this is still false.
        flag.store(true, Ordering::SeqCst);
        drop(stale);
    });
    let mut batch_before_release = false;
    m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |_| batch_before_release |= !released.load(Ordering::SeqCst),
    )
    .expect("backfill");
    releaser.join().expect("releaser");
    assert!(
        !batch_before_release,
        "a batch ran while the stale worker lived"
    );
    assert_eq!(
        db.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        2000
    );
}
