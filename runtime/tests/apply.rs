//! Applying phases, written once and run on PostgreSQL and MariaDB: every phase and a second run
//! that does nothing, resume at the failing statement, the backfill resuming at its cursor
//! without touching a row twice (and an unfitting cursor refused), a table without a key, an
//! edited applied file refused as drift, and down after expand. What only one server has sits
//! beside: pg_apply.rs (lock waits, INVALID indexes) and mysql_apply.rs (implicit commits,
//! online algorithms, verify).

mod both;

use both::{apply, assert_each_row_written_once, backfill_record, migrator, Dir, Server, ALL};
use concertina_codegen::Phase;

on_both!(
    every_phase_applies_and_a_second_run_does_nothing,
    a_failed_phase_resumes_at_the_failing_statement,
    a_backfill_resumes_at_its_cursor_and_touches_no_row_twice,
    a_table_without_a_key_cannot_be_backfilled,
    an_edited_applied_file_is_refused_as_drift,
    down_after_expand_restores_the_previous_schema,
);

/// How many columns of `table` match `extra` (an SQL condition on information_schema.columns).
fn columns_where(server: &Server, table: &str, extra: &str) -> i64 {
    server.scalar(&format!(
        "SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = {} AND table_name = '{table}' AND {extra}",
        server.pick("'public'", "DATABASE()")
    ))
}

fn every_phase_applies_and_a_second_run_does_nothing(server: Server) {
    let dir = Dir::new(&server, "apply_all");
    server.users(&dir, 2000);
    dir.write(
        "0002_rename/expand.sql",
        server.pick(
            "ALTER TABLE users ADD COLUMN full_name text;\nALTER TABLE users ALTER COLUMN name DROP NOT NULL;\nCREATE INDEX CONCURRENTLY users_full_name_idx ON users (full_name);\n",
            "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\nCREATE INDEX users_full_name_idx ON users (full_name);\nALTER TABLE users MODIFY name varchar(100) NULL;\n",
        ),
    )
    // `n = n + 1` shows a row written twice.
    .write(
        "0002_rename/backfill.sql",
        "UPDATE users SET full_name = name, n = n + 1 WHERE full_name IS NULL;\n",
    )
    .write(
        "0002_rename/contract.sql",
        server.pick(
            "ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;\nALTER TABLE users DROP COLUMN name;\n",
            "ALTER TABLE users DROP COLUMN name;\n",
        ),
    );
    let mut m = migrator(&dir, &server);
    assert_eq!(apply(&mut m, &ALL, None).expect("apply"), 4);
    assert_eq!(
        server.scalar(server.pick(
            "SELECT count(*) AS n FROM users WHERE full_name = 'user ' || id AND n = 1",
            "SELECT count(*) AS n FROM users WHERE full_name = CONCAT('user ', id) AND n = 1"
        )),
        2000
    );
    assert_eq!(columns_where(&server, "users", "column_name = 'name'"), 0);
    assert_eq!(
        server.scalar(server.pick(
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'users_full_name_idx'",
            "SELECT count(*) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'users_full_name_idx'"
        )),
        1
    );
    if let Server::Pg(_) = server {
        assert_eq!(
            columns_where(
                &server,
                "users",
                "column_name = 'full_name' AND is_nullable = 'NO'"
            ),
            1
        );
        // The SET NOT NULL recipe's helper check is gone.
        assert_eq!(
            server.scalar(
                "SELECT count(*) AS n FROM pg_constraint WHERE conname LIKE 'concertina_nn_%'"
            ),
            0
        );
    }
    assert_eq!(apply(&mut m, &ALL, None).expect("second run"), 0);
    let state = m.state().expect("state");
    assert!(state.iter().all(|r| r.status.is_applied()), "{state:?}");
    assert_eq!(backfill_record(&mut m).rows_done, 2000);
    let v = m.verify().expect("verify");
    assert!(v.is_ok(), "{}", v.diff);
}

fn a_failed_phase_resumes_at_the_failing_statement(server: Server) {
    let dir = Dir::new(&server, "resume");
    server.users(&dir, 10);
    // The second statement needs `orgs`, which the test creates after the failure.
    dir.write(
        "0002_org/expand.sql",
        server.pick(
            "ALTER TABLE users ADD COLUMN org_id bigint;\nALTER TABLE users ADD CONSTRAINT users_org_fk FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID;\n",
            "ALTER TABLE users ADD COLUMN org_id bigint NULL;\nALTER TABLE orgs ADD COLUMN label varchar(20) NULL;\n",
        ),
    );
    let mut m = migrator(&dir, &server);
    let err = apply(&mut m, &[Phase::Expand], None)
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
    server.exec("CREATE TABLE orgs (id bigint PRIMARY KEY)");
    // Statement 1 is not run again (it would fail: the column exists).
    assert_eq!(apply(&mut m, &[Phase::Expand], None).expect("resume"), 1);
    match server {
        Server::Pg(_) => assert_eq!(
            server.scalar("SELECT count(*) AS n FROM pg_constraint WHERE conname = 'users_org_fk'"),
            1
        ),
        Server::My(_) => assert_eq!(columns_where(&server, "orgs", "column_name = 'label'"), 1),
    }
}

fn a_backfill_resumes_at_its_cursor_and_touches_no_row_twice(server: Server) {
    let dir = Dir::new(&server, "bf_resume");
    server.users(&dir, 3000);
    dir.write(
        "0002_fill/expand.sql",
        &format!(
            "ALTER TABLE users ADD COLUMN full_name {};\nALTER TABLE users ADD COLUMN bad int NOT NULL DEFAULT 0;\n",
            server.pick("text", "varchar(100) NULL")
        ),
    )
    // Not idempotent on purpose: a row touched twice would show n = 2. A division by zero
    // where `bad = 1` stops the batch holding that row, as a crash in the middle would.
    .write(
        "0002_fill/backfill.sql",
        &format!(
            "UPDATE users SET full_name = name, n = n + 1 + 0 * (1 {} (1 - bad)) WHERE full_name IS NULL;\n",
            server.pick("/", "DIV")
        ),
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &[Phase::Expand], None).expect("expand");
    server.exec("UPDATE users SET bad = 1 WHERE id = 1700");
    let err = apply(&mut m, &[Phase::Backfill], None)
        .expect_err("row 1700 fails")
        .to_string();
    assert!(err.contains("0002_fill/backfill.sql:1"), "{err}");
    assert!(
        err.contains(server.pick("division by zero", "Division by 0")),
        "{err}"
    );
    let done_before = server.scalar("SELECT count(*) AS n FROM users WHERE n = 1");
    assert!(
        (1000..1700).contains(&done_before),
        "batches before row 1700 committed: {done_before}"
    );
    let rec = backfill_record(&mut m);
    assert_eq!(rec.rows_done, done_before);
    let saved = rec.cursor.clone().expect("cursor");
    // A cursor that does not fit the table's key is an error, not a panic.
    server.exec(server.pick(
        "UPDATE concertina_migrations SET backfill_cursor = jsonb_set(backfill_cursor::jsonb, '{slices,0,key}', '[\"1\", \"2\"]') WHERE phase = 'backfill'",
        "UPDATE concertina_migrations SET backfill_cursor = JSON_SET(backfill_cursor, '$.slices[0].key', JSON_ARRAY('1', '2')) WHERE phase = 'backfill'",
    ));
    let err = apply(&mut m, &[Phase::Backfill], None)
        .expect_err("bad cursor")
        .to_string();
    assert!(
        err.contains("saved backfill cursor has 2 key value(s)"),
        "{err}"
    );
    server.exec(&format!(
        "UPDATE concertina_migrations SET backfill_cursor = '{saved}' WHERE phase = 'backfill'"
    ));
    server.exec("UPDATE users SET bad = 0");
    assert_eq!(apply(&mut m, &[Phase::Backfill], None).expect("resume"), 1);
    assert_each_row_written_once(&server, &mut m, 3000);
}

fn a_table_without_a_key_cannot_be_backfilled(server: Server) {
    let dir = Dir::new(&server, "nokey");
    dir.write(
        "0001_log/expand.sql",
        server.pick(
            "CREATE TABLE log (msg text, level text);\n",
            "CREATE TABLE log (msg varchar(100) NULL, level varchar(10) NULL);\n",
        ),
    )
    .write(
        "0002_fill/expand.sql",
        server.pick(
            "ALTER TABLE log ADD COLUMN lvl text;\n",
            "ALTER TABLE log ADD COLUMN lvl varchar(10) NULL;\n",
        ),
    )
    .write(
        "0002_fill/backfill.sql",
        "-- concertina:allow(backfill-table-without-key): testing the runtime's own refusal\nUPDATE log SET lvl = level WHERE lvl IS NULL;\n",
    );
    let mut m = migrator(&dir, &server);
    let err = apply(&mut m, &[Phase::Expand, Phase::Backfill], None)
        .expect_err("no key")
        .to_string();
    assert!(err.contains("has no primary key"), "{err}");
    assert!(err.contains("0002_fill/backfill.sql:2"), "{err}");
}

fn an_edited_applied_file_is_refused_as_drift(server: Server) {
    let dir = Dir::new(&server, "drift");
    server.users(&dir, 10);
    let mut m = migrator(&dir, &server);
    apply(&mut m, &[Phase::Expand], None).expect("apply");
    drop(m);
    server.users(&dir, 11);
    let mut m = migrator(&dir, &server);
    assert!(!m.drift().expect("drift").is_empty());
    let err = apply(&mut m, &ALL, None).expect_err("drift").to_string();
    assert!(
        err.contains("0001_users/expand.sql: changed after it was applied"),
        "{err}"
    );
    let ten = server.pick("generate_series(1, 10)", "seq_1_to_10");
    let eleven = server.pick("generate_series(1, 11)", "seq_1_to_11");
    assert!(
        err.contains("-INSERT INTO users") && err.contains(ten),
        "{err}"
    );
    assert!(
        err.contains("+INSERT INTO users") && err.contains(eleven),
        "{err}"
    );
}

fn down_after_expand_restores_the_previous_schema(server: Server) {
    use concertina_runtime::catalog::diff;
    let dir = Dir::new(&server, "down");
    server.users(&dir, 50);
    dir.write(
        "0002_profile/expand.sql",
        server.pick(
            "ALTER TABLE users ADD COLUMN bio text;\nALTER TABLE users ALTER COLUMN name DROP NOT NULL;\nALTER TABLE users ALTER COLUMN n SET DEFAULT 7;\nCREATE INDEX CONCURRENTLY users_bio_idx ON users (bio);\nALTER TABLE users ADD CONSTRAINT users_bio_len CHECK (length(bio) < 500) NOT VALID;\nCREATE TABLE profiles (user_id bigint PRIMARY KEY, avatar text);\n",
            "ALTER TABLE users ADD COLUMN bio varchar(200) NULL;\nCREATE INDEX users_bio_idx ON users (bio);\nCREATE TABLE profiles (user_id bigint PRIMARY KEY, avatar varchar(100));\n",
        ),
    );
    let mut m = migrator(&dir, &server);
    assert_eq!(apply(&mut m, &[Phase::Expand], None).expect("expand"), 2);
    let plan = m.down(|_, _, _| {}).expect("down");
    assert_eq!(plan.version, "0002");
    let before = m.report.migrations[1].window.before.clone();
    let live = m.db.live_facts().expect("catalog");
    // The backend's model facts: MariaDB names a primary key PRIMARY.
    let d = diff(&live, &m.db.model_facts(&before));
    assert!(
        d.is_empty(),
        "after down the database should be S(N-1):\n{d}"
    );
    assert_eq!(
        columns_where(&server, "users", "column_name = 'bio'")
            + columns_where(&server, "profiles", "true"),
        0
    );
    let v = m.verify().expect("verify");
    assert!(v.is_ok(), "{}", v.diff);
    assert_eq!(server.scalar("SELECT count(*) AS n FROM users"), 50);
    // The expand can run again after it was undone.
    assert_eq!(
        apply(&mut m, &[Phase::Expand], None).expect("expand again"),
        1
    );
    m.down(|_, _, _| {}).expect("down again");
    // Next is 0001, whose INSERT of rows has no derivable inverse.
    let err = m.down(|_, _, _| {}).expect_err("no inverse").to_string();
    assert!(
        err.contains("0001_users/expand.sql:3") && err.contains("write 0001_users/down.sql"),
        "{err}"
    );
}
