//! The state table and the single-migrator lock on a real PostgreSQL. Each test creates its own
//! database and drops it. Server: `CONCERTINA_TEST_PG_URL` (an admin database URL), default
//! `postgres://postgres@127.0.0.1:5432/postgres`.

mod both;

use both::Server;
use concertina_runtime::error::RuntimeError;
use concertina_runtime::postgres::Postgres;
use diesel::connection::SimpleConnection;

#[test]
fn state_table_is_created_once_and_read_back() {
    let db = Server::pg("state");
    let mut pg = Postgres::connect(db.url()).expect("connect");
    pg.ensure_state_table().expect("create");
    pg.ensure_state_table().expect("idempotent");
    assert!(pg.load_state().expect("load").is_empty());
    pg.connection()
        .batch_execute(
            "INSERT INTO concertina_migrations (version, name, phase, status, checksum, applied_sql, statements_done)
             VALUES ('0001', 'init', 'expand', 'done', 'abc', 'CREATE TABLE a (id int);', 1)",
        )
        .expect("insert");
    let rows = pg.load_state().expect("load");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].version, "0001");
    assert!(rows[0].status.is_applied());
}

#[test]
fn a_newer_state_layout_is_refused() {
    let db = Server::pg("newer");
    let mut pg = Postgres::connect(db.url()).expect("connect");
    pg.ensure_state_table().expect("create");
    pg.connection()
        .batch_execute("UPDATE concertina_state_meta SET schema_version = 99")
        .expect("bump");
    let err = pg.ensure_state_table().expect_err("too new");
    assert!(
        matches!(err, RuntimeError::StateTooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade concertina"));
}

#[test]
fn one_migrator_at_a_time_and_the_other_learns_who_holds_it() {
    let db = Server::pg("lock");
    let mut first = Postgres::connect(db.url()).expect("connect");
    let mut second = Postgres::connect(db.url()).expect("connect");
    assert_eq!(first.try_lock().expect("lock"), None);
    let holder = second
        .try_lock()
        .expect("query")
        .expect("held by the first");
    assert!(holder.contains("pid "), "{holder}");
    assert!(holder.contains("concertina-migrator"), "{holder}");
    first.unlock().expect("unlock");
    assert_eq!(second.try_lock().expect("lock"), None);
}

#[test]
fn unreachable_server_is_a_clear_error_without_the_password() {
    let err = match Postgres::connect("postgres://app:hunter2@127.0.0.1:1/prod") {
        Ok(_) => panic!("port 1 has no PostgreSQL"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("cannot connect to postgres://app:***@127.0.0.1:1/prod"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn a_wrong_password_is_refused_without_printing_it() {
    use concertina_runtime::demo::server::Server;
    let server = Server::start_with(Some("right-horse-battery"), |_| {}).expect("throwaway server");
    let url = format!(
        "postgres://postgres:wrong-staple-42@127.0.0.1:{}/postgres",
        server.port
    );
    let err = match Postgres::connect(&url) {
        Ok(_) => panic!("a wrong password must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(
        !err.contains("wrong-staple-42"),
        "the password leaked: {err}"
    );
    assert!(err.contains("postgres://postgres:***@127.0.0.1"), "{err}");
    let good = format!(
        "postgres://postgres:right-horse-battery@127.0.0.1:{}/postgres",
        server.port
    );
    Postgres::connect(&good).expect("the right password connects");
}
