//! Applying phases on MariaDB/MySQL, what only it has: a DDL statement that committed without
//! its record is not run twice, an ALTER refused online is reported (never copied), the plan
//! shows the algorithm, the example migrations, verify, and composite and unique keys walked
//! once. The scenarios both servers share are in apply.rs.

mod both;

use both::{apply, migrator, Dir, Server, ALL};
use concertina_codegen::Phase;
use concertina_runtime::migrator::Migrator;

/// Batches of 500: composite keys end a batch in the middle of a value of the first column.
const CONFIG: &str = "dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nlock_timeout = \"1s\"\nlock_retries = 2\nbatch_size = 500\nbatch_pause = \"0ms\"\n";

#[test]
fn a_statement_that_committed_without_its_record_is_not_run_twice() {
    // What a kill between a DDL statement (it commits implicitly) and the state row's update
    // leaves: the column exists, the state says the statement has not run.
    let db = Server::my("committed");
    let dir = Dir::with_config("committed", CONFIG);
    db.users(&dir, 10);
    dir.write(
        "0002_more/expand.sql",
        "ALTER TABLE users ADD COLUMN a int NULL;\nALTER TABLE users ADD COLUMN b int NULL;\n",
    );
    let mut m = migrator(&dir, &db);
    // 0001 and 0002.
    assert_eq!(apply(&mut m, &[Phase::Expand], None).expect("expand"), 2);
    db.exec("ALTER TABLE users DROP COLUMN b");
    db.exec("UPDATE concertina_migrations SET status = 'running', statements_done = 0, backfill_cursor = '{\"ddl_started\": 0}' WHERE version = '0002'");
    assert_eq!(apply(&mut m, &[Phase::Expand], None).expect("rerun"), 1);
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME IN ('a', 'b')"),
        2
    );
}

#[test]
fn a_refused_online_alter_is_reported_never_copied() {
    use concertina_runtime::engine::ApplyOptions;
    use concertina_runtime::plan::{checksum, PhasePlan, Step, StepKind};
    let db = Server::my("refused");
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
        db.url(),
    )
    .expect("connect");
    backend.ensure_state_table().expect("state table");
    let config = concertina_codegen::Config::parse(
        "dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nlock_timeout = \"1s\"\nlock_retries = 1\n",
        "concertina.toml".into(),
    )
    .expect("config");
    let options = ApplyOptions::of(&config);
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
    let db = Server::my("plan");
    let dir = Dir::with_config("plan", CONFIG);
    db.users(&dir, 100);
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand], Some("0001")).expect("users");
    drop(m);
    dir.write(
        "0002_phone/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\nCREATE INDEX users_phone_idx ON users (phone);\n",
    );
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
fn the_example_mysql_migrations_apply_and_match_the_model() {
    let db = Server::my("example");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations-mysql");
    let mut m = Migrator::open(&dir, db.url()).unwrap_or_else(|e| panic!("open: {e}"));
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
    assert!(apply(&mut m, &ALL, None).expect("the rest") >= 4);
    assert_eq!(
        db.scalar("SELECT COUNT(*) AS n FROM users WHERE full_name = CONCAT('user ', id)"),
        1500
    );
    let v = m.verify().expect("verify");
    assert!(v.is_ok(), "{}", v.diff);
}

#[test]
fn verify_reports_an_index_dropped_behind_the_migrators_back() {
    let db = Server::my("verify_index");
    let dir = Dir::with_config("verify_index", CONFIG);
    db.users(&dir, 10);
    dir.write(
        "0002_index/expand.sql",
        "CREATE INDEX users_name_idx ON users (name);\n",
    );
    let mut m = migrator(&dir, &db);
    apply(&mut m, &[Phase::Expand], None).expect("expand");
    let v = m.verify().expect("verify");
    assert!(v.is_ok(), "{}", v.diff);
    db.exec("DROP INDEX users_name_idx ON users");
    let v = m.verify().expect("verify");
    assert!(!v.is_ok(), "a missing index must be reported");
    assert!(v.diff.to_string().contains("users_name_idx"), "{}", v.diff);
}

#[test]
fn verify_names_nulls_a_pending_contract_would_refuse() {
    let db = Server::my("nulls");
    let dir = Dir::with_config("nulls", CONFIG);
    db.users(&dir, 20);
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
    apply(&mut m, &[Phase::Expand], None).expect("expand");
    let v = m.verify().expect("verify");
    assert_eq!(v.nulls.len(), 1, "{:?}", v.nulls);
    assert!(
        v.nulls[0].contains("0002_full/contract.sql:1") && v.nulls[0].contains("20 row(s)"),
        "{:?}",
        v.nulls
    );
    apply(&mut m, &[Phase::Backfill], None).expect("backfill");
    assert!(m.verify().expect("verify").is_ok());
    apply(&mut m, &[Phase::Contract], None).expect("contract");
    assert!(m.verify().expect("verify").is_ok());
}

#[test]
fn composite_and_unique_not_null_keys_are_walked_once() {
    let db = Server::my("keys");
    let dir = Dir::with_config("keys", CONFIG);
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
    apply(&mut m, &[Phase::Expand], None).expect("tables");
    // 40 values of a, 30 of b each: batches of 500 end in the middle of an `a`.
    db.exec("INSERT INTO pairs (a, b) SELECT s1.seq, CONCAT('k', s2.seq) FROM seq_1_to_40 s1, seq_1_to_30 s2");
    db.exec("INSERT INTO codes (code) SELECT CONCAT('c', seq) FROM seq_1_to_1300");
    apply(&mut m, &[Phase::Backfill], None).expect("backfill");
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
