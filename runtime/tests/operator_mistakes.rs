//! Ordinary operator mistakes on a real server, each scenario written once and run against
//! PostgreSQL and MariaDB: an edited applied file before `down`, a migration with no state
//! row sorting before applied ones, a contract over NULLs, an unknown `--to`, a failed phase
//! fixed in place, a tampered checksum, a URL missing its `@`, progress after a resume.
//! Each failed (lost data, or said nothing useful) before its fix.

mod both;

use both::{apply, migrator, Dir, Server, ALL};
use concertina_codegen::Phase;
use concertina_runtime::engine::Progress;
use concertina_runtime::migrator::{MigrateError, Migrator};

on_both!(
    down_refuses_an_edited_applied_file,
    an_older_pending_migration_is_refused_unless_allowed,
    a_deleted_state_row_is_drift_not_pending,
    a_contract_over_nulls_is_refused_before_it_starts,
    an_unknown_to_applies_nothing,
    a_failed_phase_can_be_fixed_past_what_ran,
    a_tampered_checksum_blames_the_row,
    a_url_missing_its_at_never_shows_the_password,
    progress_resumes_where_the_killed_run_stood,
);

fn down_refuses_an_edited_applied_file(server: Server) {
    let dir = Dir::new(&server, "down");
    server.users(&dir, 1000);
    dir.write(
        "0002_scratch/expand.sql",
        &format!(
            "ALTER TABLE users ADD COLUMN scratch {};\n",
            server.pick("text", "varchar(10)")
        ),
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &ALL, None).expect("apply");
    drop(m);
    server.exec("UPDATE users SET scratch = 'keep'");
    // A column holding data, and the applied file edited to name it: the derived inverse
    // would now drop `important` with its values.
    server.exec(&format!(
        "ALTER TABLE users ADD COLUMN important {}; UPDATE users SET important = '555'",
        server.pick("text", "varchar(10)")
    ));
    dir.write(
        "0002_scratch/expand.sql",
        &format!(
            "ALTER TABLE users ADD COLUMN important {};\n",
            server.pick("text", "varchar(10)")
        ),
    );
    let mut m = migrator(&dir, &server);
    match m.down(|_, _, _| {}) {
        Err(MigrateError::Drift(d)) => {
            assert_eq!(d[0].file, "0002_scratch/expand.sql", "{d:?}");
            assert!(d[0]
                .to_string()
                .contains("+ALTER TABLE users ADD COLUMN important"));
        }
        other => panic!(
            "down must refuse an edited applied file: {:?}",
            other.map(|p| p.file)
        ),
    }
    assert_eq!(
        server
            .scalar("SELECT count(*) AS n FROM users WHERE important = '555' AND scratch = 'keep'"),
        1000
    );
    // Restored, `down` undoes what really ran.
    drop(m);
    dir.write(
        "0002_scratch/expand.sql",
        &format!(
            "ALTER TABLE users ADD COLUMN scratch {};\n",
            server.pick("text", "varchar(10)")
        ),
    );
    let mut m = migrator(&dir, &server);
    m.down(|_, _, _| {})
        .expect("down after the file is restored");
    assert_eq!(
        server.columns("users"),
        5,
        "scratch dropped, important kept"
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE important = '555'"),
        1000
    );
}

fn an_older_pending_migration_is_refused_unless_allowed(server: Server) {
    let dir = Dir::new(&server, "order");
    server.users(&dir, 100);
    dir.write(
        "0003_default_b/expand.sql",
        "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'b';\n",
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &ALL, None).expect("apply 0001 and 0003");
    drop(m);
    // A branch merged late brings 0002, which sorts before the applied 0003.
    dir.write(
        "0002_default_a/expand.sql",
        "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'a';\n",
    );
    let mut m = migrator(&dir, &server);
    let problems = m.order_problems().expect("order");
    assert_eq!(problems.len(), 1, "{problems:?}");
    match apply(&mut m, &ALL, None) {
        Err(MigrateError::Order(p)) => {
            let text = p[0].to_string();
            assert!(
                text.contains("0002_default_a/expand.sql")
                    && text.contains("0003_default_b/expand.sql"),
                "{text}"
            );
            assert!(text.contains("--allow-out-of-order"), "{text}");
        }
        other => panic!("an out-of-order migration must be refused: {other:?}"),
    }
    server.exec("INSERT INTO users (phone) VALUES ('1')");
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE name = 'b'"),
        1,
        "the newer default holds"
    );
    // Explicitly allowed, it runs.
    m.allow_out_of_order = true;
    assert_eq!(apply(&mut m, &ALL, None).expect("allowed"), 1);
    assert!(m.order_problems().expect("order").is_empty());
}

fn a_deleted_state_row_is_drift_not_pending(server: Server) {
    let dir = Dir::new(&server, "rowgone");
    server.users(&dir, 1000);
    dir.write(
        "0002_count/expand.sql",
        &format!(
            "ALTER TABLE users ADD COLUMN seen {};\n",
            server.pick("integer", "int")
        ),
    )
    .write(
        "0002_count/backfill.sql",
        "UPDATE users SET n = n + 1 WHERE seen IS NULL;\n",
    )
    .write(
        "0003_more/expand.sql",
        "CREATE TABLE more_things (id integer PRIMARY KEY);\n",
    )
    .write(
        "0003_more/backfill.sql",
        "UPDATE users SET seen = 1 WHERE seen IS NULL;\n",
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &ALL, None).expect("apply");
    drop(m);
    server.exec("DELETE FROM concertina_migrations WHERE version = '0002' AND phase = 'backfill'");
    let mut m = migrator(&dir, &server);
    m.allow_out_of_order = true;
    match apply(&mut m, &ALL, None) {
        Err(MigrateError::Order(p)) => {
            let text = p[0].to_string();
            assert!(
                text.contains("0002_count/backfill.sql") && text.contains("no row"),
                "{text}"
            );
        }
        other => panic!("a deleted row must never be pending: {other:?}"),
    }
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        1000,
        "the backfill ran once"
    );
}

fn a_contract_over_nulls_is_refused_before_it_starts(server: Server) {
    let dir = Dir::new(&server, "nulls");
    server.users(&dir, 1000);
    dir.write(
        "0002_phone/backfill.sql",
        "UPDATE users SET phone = '555' WHERE phone IS NULL AND id <= 900;\n",
    )
    .write(
        "0002_phone/contract.sql",
        server.pick(
            "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;\n",
            "ALTER TABLE users MODIFY phone varchar(20) NOT NULL;\n",
        ),
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &[Phase::Expand, Phase::Backfill], None).expect("expand and backfill");
    match apply(&mut m, &[Phase::Contract], None) {
        Err(MigrateError::Refused(text)) => {
            assert!(text.contains("100 row(s) hold NULL"), "{text}");
            assert!(text.contains("IS NULL LIMIT 100"), "{text}");
            assert!(text.contains("0002_phone/contract.sql:1"), "{text}");
        }
        other => panic!("a contract over NULLs must be refused: {other:?}"),
    }
    // Nothing changed: no helper check, the app still writes NULL, no contract row.
    if let Server::Pg(_) = server {
        assert_eq!(
            server.scalar(
                "SELECT count(*) AS n FROM pg_constraint WHERE conname LIKE 'concertina_nn_%'"
            ),
            0
        );
    }
    server.exec("INSERT INTO users (name) VALUES ('app')");
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM concertina_migrations WHERE phase = 'contract'"),
        0
    );
    // Had a NULL arrived after the count, the recipe undoes itself (run it past the check).
    let plan = m
        .plans
        .iter()
        .find(|p| p.phase == Phase::Contract)
        .cloned()
        .expect("plan");
    let options = m.options.clone();
    let err =
        m.db.apply_ddl_phase(&plan, None, &options, &mut |_, _| {})
            .expect_err("SET NOT NULL over NULLs fails");
    assert!(!err.to_string().is_empty());
    if let Server::Pg(_) = server {
        assert!(
            err.to_string().contains("helper check was dropped again"),
            "{err}"
        );
        assert_eq!(
            server.scalar(
                "SELECT count(*) AS n FROM pg_constraint WHERE conname LIKE 'concertina_nn_%'"
            ),
            0
        );
    }
    server.exec("INSERT INTO users (name) VALUES ('app again')");
    // Backfilled, it goes through.
    server.exec("UPDATE users SET phone = '1' WHERE phone IS NULL");
    drop(m);
    let mut m = migrator(&dir, &server);
    assert_eq!(
        apply(&mut m, &[Phase::Contract], None).expect("contract"),
        1
    );
}

fn an_unknown_to_applies_nothing(server: Server) {
    let dir = Dir::new(&server, "to");
    server.users(&dir, 10);
    dir.write(
        "0002_a/expand.sql",
        "CREATE TABLE a (id integer PRIMARY KEY);\n",
    )
    .write(
        "0003_b/expand.sql",
        "CREATE TABLE b (id integer PRIMARY KEY);\n",
    );
    let mut m = migrator(&dir, &server);
    match apply(&mut m, &ALL, Some("0002x")) {
        Err(MigrateError::UnknownVersion(e)) => {
            assert_eq!(e.nearest[0], "0002_a", "{e}");
            assert!(e.to_string().contains("--to 0002x"), "{e}");
        }
        other => panic!("an unknown --to must be refused: {other:?}"),
    }
    assert!(m.state().expect("state").is_empty(), "nothing applied");
    assert_eq!(apply(&mut m, &ALL, Some("0002_a")).expect("to 0002"), 2);
    assert_eq!(server.columns("b"), 0);
}

fn a_failed_phase_can_be_fixed_past_what_ran(server: Server) {
    let dir = Dir::new(&server, "fix");
    server.users(&dir, 10);
    server_dup(&server, &dir);
    let mut m = migrator(&dir, &server);
    let err = apply(&mut m, &ALL, None).expect_err("the unique index fails on duplicates");
    assert!(err.to_string().contains("0002_idx/expand.sql:2"), "{err}");
    drop(m);
    // Fixing the statement that failed is not drift: it never changed the database.
    let fixed = server.pick(
        "ALTER TABLE users ADD COLUMN code text;\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
        "ALTER TABLE users ADD COLUMN code varchar(10);\nCREATE INDEX users_name_idx ON users (name);\n",
    );
    dir.write("0002_idx/expand.sql", fixed);
    let mut m = migrator(&dir, &server);
    assert!(m.drift().expect("drift").is_empty());
    assert_eq!(apply(&mut m, &ALL, None).expect("the fixed phase runs"), 1);
    let state = m.state().expect("state");
    let rec = state.iter().find(|r| r.version == "0002").expect("row");
    assert_eq!(rec.applied_sql, fixed, "the text that ran is recorded");
    drop(m);
    // Editing a statement that did run is drift.
    dir.write("0002_idx/expand.sql", &fixed.replace("code", "kode"));
    let mut m = migrator(&dir, &server);
    assert_eq!(m.drift().expect("drift").len(), 1);
}

/// `0002_idx`: a column, then a unique index the data breaks.
fn server_dup(server: &Server, dir: &Dir) {
    dir.write(
        "0002_idx/expand.sql",
        server.pick(
            "ALTER TABLE users ADD COLUMN code text;\nCREATE UNIQUE INDEX CONCURRENTLY users_name_idx ON users (n);\n",
            "ALTER TABLE users ADD COLUMN code varchar(10);\nCREATE UNIQUE INDEX users_name_idx ON users (n);\n",
        ),
    );
}

fn a_tampered_checksum_blames_the_row(server: Server) {
    let dir = Dir::new(&server, "sum");
    server.users(&dir, 10);
    let mut m = migrator(&dir, &server);
    apply(&mut m, &ALL, None).expect("apply");
    server.exec("UPDATE concertina_migrations SET checksum = 'deadbeef' WHERE version = '0001'");
    let drift = m.drift().expect("drift");
    let text = drift[0].to_string();
    assert!(
        text.contains("state row") && text.contains("needs no change"),
        "{text}"
    );
    assert!(!text.contains("restore the applied text"), "{text}");
}

fn a_url_missing_its_at_never_shows_the_password(server: Server) {
    let dir = Dir::new(&server, "url");
    server.users(&dir, 1);
    let url = server.pick(
        "postgres://postgres:secret127.0.0.1:5432/db",
        "mysql://root:secret127.0.0.1:3306/db",
    );
    let err = match Migrator::open(&dir.0, url) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a URL missing its @ must not connect"),
    };
    assert!(!err.contains("secret"), "{err}");
    assert!(err.contains("missing `@`"), "{err}");
}

fn progress_resumes_where_the_killed_run_stood(server: Server) {
    let dir = Dir::new(&server, "progress");
    server.users(&dir, 1000);
    dir.write(
        "0002_n/backfill.sql",
        "UPDATE users SET n = 1 WHERE n = 0;\n",
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &[Phase::Expand], None).expect("expand");
    // What a run killed after 400 keys leaves: the first 400 rows changed, the cursor after
    // them with its count, the phase running.
    server.exec("UPDATE users SET n = 1 WHERE id <= 400");
    let cursor = server.pick(
        r#"{"statement":0,"slices":[{"lo":null,"hi":null,"key":["400"],"skipped":[],"revisiting":false,"scanned":400}]}"#,
        r#"{"statement":0,"key":["400"],"skipped":[],"revisiting":false,"scanned":400}"#,
    );
    let plan = m
        .plans
        .iter()
        .find(|p| p.phase == Phase::Backfill)
        .cloned()
        .expect("plan");
    server.exec(&format!(
        "INSERT INTO concertina_migrations (version, name, phase, status, checksum, applied_sql, statements_done, backfill_cursor, rows_done) VALUES ('0002', 'n', 'backfill', 'running', '{}', '{}', 0, '{cursor}', 400)",
        plan.checksum,
        plan.text.replace('\'', "''")
    ));
    let mut seen: Vec<Progress> = Vec::new();
    m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |p| seen.push(p.clone()),
    )
    .expect("resume");
    let first = seen.first().expect("progress");
    assert_eq!(
        (first.scanned, first.rows_done, first.scanned_before),
        (400, 400, 400),
        "{first:?}"
    );
    let last = seen.last().expect("progress");
    assert_eq!(last.rows_done, 1000, "{last:?}");
    assert!(last.scanned >= 1000, "{last:?}");
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        1000
    );
}
