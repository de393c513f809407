//! Applying phases on a real MariaDB/MySQL (`CONCERTINA_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/`): every phase and a second run, resume after a failure and
//! after a statement that committed without its record, the keyset backfill resuming at its
//! cursor without touching a row twice, the online algorithm clause and a refused one, verify,
//! drift and down.

mod mysql_common;

use concertina_codegen::Phase;
use concertina_runtime::migrator::{MigrateError, Migrator};
use mysql_common::{Dir, TestDb};

const CONFIG: &str = "dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nlock_timeout = \"1s\"\nlock_retries = 2\nbatch_size = 500\nbatch_pause = \"0ms\"\n";

const ALL: [Phase; 3] = [Phase::Expand, Phase::Backfill, Phase::Contract];

fn migrator(dir: &Dir, db: &TestDb) -> Migrator {
    let mut m = Migrator::open(&dir.0, &db.url).unwrap_or_else(|e| panic!("open: {e}"));
    m.lock(None, |_| {}).expect("take the migrator lock");
    m
}

fn apply(m: &mut Migrator, phases: &[Phase]) -> Result<usize, MigrateError> {
    m.apply(phases, None, |_, _, _| {}, |_, _| {}, |_| {})
}

/// `users` with `rows` rows, loaded by the test (the checker rightly flags an unbatched
/// INSERT in a migration).
fn users(dir: &Dir, db: &TestDb, rows: u32) {
    dir.write(
        "0001_users/expand.sql",
        "CREATE TABLE users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL, email varchar(200), n int NOT NULL DEFAULT 0) ENGINE=InnoDB;\n",
    );
    let mut m = migrator(dir, db);
    apply(&mut m, &[Phase::Expand]).expect("create users");
    drop(m);
    db.exec(&format!(
        "INSERT INTO users (name, email) SELECT CONCAT('user ', seq), CONCAT('u', seq, '@x') FROM seq_1_to_{rows}"
    ));
}

fn rename(dir: &Dir) {
    dir.write(
        "0002_rename/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\nCREATE INDEX users_email_idx ON users (email);\nALTER TABLE users MODIFY name varchar(100) NULL;\n",
    )
    .write(
        "0002_rename/backfill.sql",
        "UPDATE users SET full_name = name, n = n + 1 WHERE full_name IS NULL;\n",
    )
    .write("0002_rename/contract.sql", "ALTER TABLE users DROP COLUMN name;\n");
}

#[test]
fn every_phase_applies_and_a_second_run_does_nothing() {
    let db = TestDb::new("all");
    let dir = Dir::new("all", CONFIG);
    users(&dir, &db, 2000);
    rename(&dir);
    let mut m = migrator(&dir, &db);
    assert_eq!(apply(&mut m, &ALL).expect("apply"), 3);
    assert_eq!(
        db.scalar(
            "SELECT COUNT(*) AS n FROM users WHERE full_name = CONCAT('user ', id) AND n = 1"
        ),
        2000
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'name'"),
        0
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'users_email_idx'"),
        1
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
    let v = m.verify().expect("verify");
    assert!(v.is_ok(), "{}", v.diff);
}

#[test]
fn a_failed_phase_resumes_at_the_failing_statement() {
    let db = TestDb::new("resume");
    let dir = Dir::new("resume", CONFIG);
    users(&dir, &db, 10);
    dir.write(
        "0002_org/expand.sql",
        "ALTER TABLE users ADD COLUMN org_id bigint NULL;\nALTER TABLE orgs ADD COLUMN label varchar(20) NULL;\n",
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
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("resume"), 1);
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orgs' AND COLUMN_NAME = 'label'"),
        1
    );
}

#[test]
fn a_statement_that_committed_without_its_record_is_not_run_twice() {
    // What a kill between a DDL statement (it commits implicitly) and the state row's update
    // leaves: the column exists, the state says the statement has not run.
    let db = TestDb::new("committed");
    let dir = Dir::new("committed", CONFIG);
    users(&dir, &db, 10);
    dir.write(
        "0002_more/expand.sql",
        "ALTER TABLE users ADD COLUMN a int NULL;\nALTER TABLE users ADD COLUMN b int NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("expand"), 1);
    db.exec("ALTER TABLE users DROP COLUMN b");
    db.exec("UPDATE concertina_migrations SET status = 'running', statements_done = 0, backfill_cursor = '{\"ddl_started\": 0}' WHERE version = '0002'");
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("rerun"), 1);
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME IN ('a', 'b')"),
        2
    );
}

#[test]
fn a_backfill_resumes_at_its_cursor_and_touches_no_row_twice() {
    let db = TestDb::new("cursor");
    let dir = Dir::new("cursor", CONFIG);
    users(&dir, &db, 3000);
    dir.write("0002_fill/expand.sql", "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\nALTER TABLE users ADD COLUMN bad int NOT NULL DEFAULT 0;\n")
        // Division by zero is an error in strict mode: row 1700 stops the batch it is in.
        .write(
            "0002_fill/backfill.sql",
            "UPDATE users SET full_name = name, n = n + 1 + 0 * (1 DIV (1 - bad)) WHERE full_name IS NULL;\n",
        );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    db.exec("UPDATE users SET bad = 1 WHERE id = 1700");
    let err = apply(&mut m, &[Phase::Backfill])
        .expect_err("row 1700 fails")
        .to_string();
    assert!(err.contains("0002_fill/backfill.sql:1"), "{err}");
    let done_before = db.scalar("SELECT COUNT(*) AS n FROM users WHERE n = 1");
    assert!(
        (1000..1700).contains(&done_before),
        "batches before row 1700 committed: {done_before}"
    );
    let rec = m
        .state()
        .expect("state")
        .into_iter()
        .find(|r| r.phase == Phase::Backfill)
        .expect("row");
    assert_eq!(rec.rows_done, done_before);
    assert!(rec.cursor.is_some());
    // A cursor that does not fit the table's key is an error, not a panic.
    db.exec("UPDATE concertina_migrations SET backfill_cursor = JSON_SET(backfill_cursor, '$.slices[0].key', JSON_ARRAY('1', '2')) WHERE phase = 'backfill'");
    let err = apply(&mut m, &[Phase::Backfill])
        .expect_err("bad cursor")
        .to_string();
    assert!(
        err.contains("saved backfill cursor has 2 key value(s)"),
        "{err}"
    );
    let saved = rec.cursor.clone().expect("cursor");
    db.exec(&format!(
        "UPDATE concertina_migrations SET backfill_cursor = '{saved}' WHERE phase = 'backfill'"
    ));
    db.exec("UPDATE users SET bad = 0");
    assert_eq!(apply(&mut m, &[Phase::Backfill]).expect("resume"), 1);
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM users WHERE n = 1"),
        3000
    );
    assert_eq!(db.scalar("SELECT COUNT(*) AS n FROM users WHERE n <> 1"), 0);
    let rec = m
        .state()
        .expect("state")
        .into_iter()
        .find(|r| r.phase == Phase::Backfill)
        .expect("row");
    assert_eq!(rec.rows_done, 3000);
}

#[test]
fn a_table_without_a_key_is_a_clear_error() {
    let db = TestDb::new("nokey");
    let dir = Dir::new("nokey", CONFIG);
    dir.write(
        "0001_log/expand.sql",
        "CREATE TABLE log (at datetime NULL, msg varchar(100) NULL, tag varchar(10) NULL);\n",
    )
    .write(
        "0002_fill/backfill.sql",
        "-- concertina:allow(backfill-table-without-key): the runtime must refuse it too\nUPDATE log SET tag = 'x' WHERE tag IS NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    let err = apply(&mut m, &[Phase::Expand, Phase::Backfill])
        .expect_err("no key")
        .to_string();
    assert!(err.contains("has no primary key"), "{err}");
    assert!(err.contains("0002_fill/backfill.sql:2"), "{err}");
}

#[test]
fn a_refused_online_alter_is_reported_never_copied() {
    use concertina_runtime::engine::ApplyOptions;
    use concertina_runtime::plan::{checksum, PhasePlan, Step, StepKind};
    let db = TestDb::new("refused");
    db.exec("CREATE TABLE users (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)");
    // A type change needs a table copy on InnoDB: INSTANT and INPLACE are both refused. The
    // checker refuses it too, so the phase goes to the backend directly.
    let sql = "ALTER TABLE users MODIFY n bigint NOT NULL DEFAULT 0";
    let plan = PhasePlan {
        version: "0002".into(),
        name: "widen".into(),
        phase: Phase::Expand,
        file: "0002_widen/expand.sql".into(),
        text: format!("{sql};\n"),
        checksum: checksum(&format!("{sql};\n")),
        steps: vec![Step {
            index: 0,
            line: 1,
            last_line: 1,
            sql: sql.into(),
            kind: StepKind::Transactional,
            change: concertina_runtime::plan::statement_change(
                sql,
                concertina_codegen::dialect::DialectKind::MariaDb,
            ),
        }],
    };
    let mut backend = concertina_runtime::backend::connect(
        concertina_codegen::dialect::DialectKind::MariaDb,
        &db.url,
    )
    .expect("connect");
    backend.ensure_state_table().expect("state table");
    let options = ApplyOptions {
        lock_timeout: std::time::Duration::from_secs(1),
        lock_retries: 1,
    };
    let err = backend
        .apply_ddl_phase(&plan, None, &options, &mut |_, _| {})
        .expect_err("refused")
        .to_string();
    assert!(err.contains("0002_widen/expand.sql:1"), "{err}");
    assert!(err.contains("refused to run it online"), "{err}");
    assert!(err.contains("ALGORITHM=INPLACE, LOCK=NONE"), "{err}");
    assert!(
        err.contains("never lets it fall back to a table copy"),
        "{err}"
    );
    assert!(err.contains("Recipe: add a new column"), "{err}");
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'n' AND DATA_TYPE = 'int'"),
        1
    );
    let state = backend.load_state().expect("state");
    assert_eq!(state[0].status.as_str(), "failed");
}

#[test]
fn plan_shows_the_algorithm_and_row_estimates() {
    let db = TestDb::new("plan");
    let dir = Dir::new("plan", CONFIG);
    users(&dir, &db, 100);
    rename(&dir);
    db.exec("ANALYZE TABLE users");
    let mut m = migrator(&dir, &db);
    let plan = m
        .plans
        .iter()
        .find(|p| p.version == "0002" && p.phase == Phase::Expand)
        .cloned()
        .expect("plan");
    let migration = m.report.migrations[1].clone();
    let parsed = &migration.phase(Phase::Expand).expect("expand").parsed;
    let locks: Vec<_> = plan
        .steps
        .iter()
        .zip(&parsed.statements)
        .flat_map(|(step, stmt)| {
            m.db.step_locks(
                &stmt.change,
                step,
                &concertina_runtime::plan::LockContext::bare(m.project.config.server_version),
            )
        })
        .collect();
    assert!(locks[0].mode.starts_with("ALGORITHM=INSTANT"), "{locks:?}");
    assert!(
        locks[1].mode.starts_with("ALGORITHM=INPLACE, LOCK=NONE"),
        "{locks:?}"
    );
    let rows = m.db.row_estimate(&locks[0].table).expect("estimate");
    assert!((50..=200).contains(&rows), "{rows}");
}

#[test]
fn drift_is_refused() {
    let db = TestDb::new("drift");
    let dir = Dir::new("drift", CONFIG);
    users(&dir, &db, 10);
    dir.write(
        "0002_a/expand.sql",
        "ALTER TABLE users ADD COLUMN a int NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    drop(m);
    dir.write(
        "0002_a/expand.sql",
        "ALTER TABLE users ADD COLUMN a bigint NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    assert!(!m.drift().expect("drift").is_empty());
    let err = apply(&mut m, &ALL).expect_err("drift").to_string();
    assert!(err.contains("changed after it was applied"), "{err}");
    assert!(
        err.contains("+ALTER TABLE users ADD COLUMN a bigint NULL;"),
        "{err}"
    );
}

#[test]
fn down_after_expand_restores_the_previous_schema() {
    let db = TestDb::new("down");
    let dir = Dir::new("down", CONFIG);
    users(&dir, &db, 10);
    dir.write(
        "0002_profile/expand.sql",
        "ALTER TABLE users ADD COLUMN bio varchar(200) NULL;\nCREATE INDEX users_bio_idx ON users (bio);\nCREATE TABLE profiles (user_id bigint PRIMARY KEY, avatar varchar(100));\n",
    );
    let mut m = migrator(&dir, &db);
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("expand"), 1);
    let plan = m.down(|_, _, _| {}).expect("down");
    assert_eq!(plan.version, "0002");
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND (COLUMN_NAME = 'bio' OR TABLE_NAME = 'profiles')"),
        0
    );
    let v = m.verify().expect("verify");
    assert!(v.is_ok(), "{}", v.diff);
    assert_eq!(apply(&mut m, &[Phase::Expand]).expect("expand again"), 1);
}

#[test]
fn the_example_mysql_migrations_apply_and_match_the_model() {
    let db = TestDb::new("example");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations-mysql");
    let mut m = Migrator::open(&dir, &db.url).unwrap_or_else(|e| panic!("open: {e}"));
    m.lock(None, |_| {}).expect("lock");
    m.apply(
        &[Phase::Expand],
        Some("0003"),
        |_, _, _| {},
        |_, _| {},
        |_| {},
    )
    .expect("first migrations");
    db.exec("INSERT INTO users (name, email) SELECT CONCAT('user ', seq), CONCAT('u', seq, '@x') FROM seq_1_to_1500");
    assert!(apply(&mut m, &ALL).expect("the rest") >= 4);
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM users WHERE full_name = CONCAT('user ', id)"),
        1500
    );
    let v = m.verify().expect("verify");
    assert!(v.is_ok(), "{}", v.diff);
}

#[test]
fn verify_reports_an_index_dropped_behind_the_migrators_back() {
    let db = TestDb::new("verify_index");
    let dir = Dir::new("verify_index", CONFIG);
    users(&dir, &db, 10);
    dir.write(
        "0002_index/expand.sql",
        "CREATE INDEX users_name_idx ON users (name);\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    let v = m.verify().expect("verify");
    assert!(v.is_ok(), "{}", v.diff);
    db.exec("DROP INDEX users_name_idx ON users");
    let v = m.verify().expect("verify");
    assert!(!v.is_ok(), "a missing index must be reported");
    assert!(v.diff.to_string().contains("users_name_idx"), "{}", v.diff);
}

#[test]
fn verify_names_nulls_a_pending_contract_would_refuse() {
    let db = TestDb::new("nulls");
    let dir = Dir::new("nulls", CONFIG);
    users(&dir, &db, 20);
    dir.write(
        "0002_full/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\n",
    )
    .write(
        "0002_full/backfill.sql",
        "UPDATE users SET full_name = name WHERE full_name IS NULL;\n",
    )
    .write(
        "0002_full/contract.sql",
        "ALTER TABLE users MODIFY full_name varchar(100) NOT NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("expand");
    let v = m.verify().expect("verify");
    assert_eq!(v.nulls.len(), 1, "{:?}", v.nulls);
    assert!(
        v.nulls[0].contains("0002_full/contract.sql:1") && v.nulls[0].contains("20 row(s)"),
        "{:?}",
        v.nulls
    );
    apply(&mut m, &[Phase::Backfill]).expect("backfill");
    assert!(m.verify().expect("verify").is_ok());
    apply(&mut m, &[Phase::Contract]).expect("contract");
    assert!(m.verify().expect("verify").is_ok());
}

#[test]
fn composite_and_unique_not_null_keys_are_walked_once() {
    let db = TestDb::new("keys");
    let dir = Dir::new("keys", CONFIG);
    dir.write(
        "0001_tables/expand.sql",
        "CREATE TABLE pairs (a int NOT NULL, b varchar(10) NOT NULL, n int NOT NULL DEFAULT 0, tag varchar(10) NULL, PRIMARY KEY (a, b));\n\
         CREATE TABLE codes (code varchar(20) NOT NULL, n int NOT NULL DEFAULT 0, tag varchar(10) NULL, UNIQUE KEY codes_code_key (code));\n",
    )
    .write(
        "0002_tag/backfill.sql",
        "UPDATE pairs SET tag = 'x', n = n + 1 WHERE tag IS NULL;\nUPDATE codes SET tag = 'y', n = n + 1 WHERE tag IS NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand]).expect("tables");
    // 40 values of a, 30 of b each: batches of 500 end in the middle of an `a`.
    db.exec("INSERT INTO pairs (a, b) SELECT s1.seq, CONCAT('k', s2.seq) FROM seq_1_to_40 s1, seq_1_to_30 s2");
    db.exec("INSERT INTO codes (code) SELECT CONCAT('c', seq) FROM seq_1_to_1300");
    apply(&mut m, &[Phase::Backfill]).expect("backfill");
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM pairs WHERE n = 1 AND tag = 'x'"),
        1200
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM codes WHERE n = 1 AND tag = 'y'"),
        1300
    );
    let rec = m
        .state()
        .expect("state")
        .into_iter()
        .find(|r| r.phase == Phase::Backfill)
        .expect("row");
    assert_eq!(rec.rows_done, 2500);
}
