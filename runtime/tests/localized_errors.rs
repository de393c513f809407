//! Retries decided by error code, not message text: MariaDB answers in German
//! (`lc_messages = de_DE`, "Zeitüberschreitung beim Warten auf Sperre" for error 1205), and a
//! DDL statement blocked by a metadata lock and a backfill batch blocked by a row lock are
//! still retried until they go through. (Matching the English text, as earlier releases did,
//! failed both at the first timeout.) PostgreSQL's side: its SQLSTATE classification is unit
//! tested in `backends::postgres::raw`, and the lock tests of pg_apply.rs run through it; this
//! machine's PostgreSQL has no German locale to switch `lc_messages` to.
//!
//! One test in its own binary: it changes the server's global `lc_messages` (new sessions take
//! it) and sets it back when done, whatever happens.

mod both;

use std::time::Duration;

use both::{apply, migrator, Dir, Server};
use concertina_codegen::Phase;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// Sets the server's default message language; restores the previous one when dropped.
struct Language {
    url: String,
    previous: String,
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

fn global(url: &str, sql: &str) {
    MysqlConnection::establish(url)
        .expect("connect")
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl Language {
    fn set(url: &str, lang: &str) -> Language {
        let previous = diesel::sql_query("SELECT CAST(@@GLOBAL.lc_messages AS CHAR) AS v")
            .get_result::<Text>(&mut MysqlConnection::establish(url).expect("connect"))
            .expect("lc_messages")
            .v;
        global(url, &format!("SET GLOBAL lc_messages = '{lang}'"));
        Language {
            url: url.to_string(),
            previous,
        }
    }
}

impl Drop for Language {
    fn drop(&mut self) {
        global(
            &self.url,
            &format!("SET GLOBAL lc_messages = '{}'", self.previous),
        );
    }
}

#[test]
fn lock_timeouts_in_german_are_retried_by_error_number() {
    let server = Server::my("german");
    let url = server.url().to_string();
    let dir = Dir::new(&server, "german");
    dir.write(
        "concertina.toml",
        &server
            .config()
            .replace("lock_retries = 2", "lock_retries = 6"),
    );
    server.users(&dir, 2000);
    dir.write(
        "0002_fill/expand.sql",
        "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\n",
    )
    .write(
        "0002_fill/backfill.sql",
        "UPDATE users SET full_name = name, n = n + 1 WHERE full_name IS NULL;\n",
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &[Phase::Expand], Some("0001")).expect("create users");
    let _german = Language::set(&url, "de_DE");
    // The migrator's sessions are new: they answer in German from here on.
    let mut probe = MysqlConnection::establish(&url).expect("probe");
    let err = probe
        .batch_execute("SELECT * FROM no_such_table")
        .expect_err("no table");
    assert!(err.to_string().contains("existiert nicht"), "{err}");
    drop(m);
    let mut m = migrator(&dir, &server);

    // A metadata lock: an app transaction that read the table holds it for 2.5 s, past two
    // 1 s lock_wait_timeouts; the ALTER is retried until it goes through.
    let hold = |sql: &'static str| {
        let mut app = MysqlConnection::establish(&url).expect("app");
        app.batch_execute(sql).expect("app transaction");
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            app.batch_execute("COMMIT").expect("commit");
        })
    };
    let app = hold("BEGIN; SELECT COUNT(*) FROM users;");
    let mut retries = 0;
    m.apply(
        &[Phase::Expand],
        None,
        |_, _, r| retries += r.retries,
        |_, _| {},
        |_| {},
    )
    .expect("expand goes through after its retries");
    app.join().expect("app");
    assert!(retries >= 1, "the ALTER was retried: {retries}");
    assert_eq!(server.columns("users"), 5);

    // A row lock: the batch holding row 1500 waits out innodb_lock_wait_timeout (error 1205,
    // in German) and is retried.
    let app = hold("BEGIN; SELECT * FROM users WHERE id = 1500 FOR UPDATE;");
    apply(&mut m, &[Phase::Backfill], None).expect("backfill goes through after its retries");
    app.join().expect("app");
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE full_name = name AND n = 1"),
        2000
    );
}
