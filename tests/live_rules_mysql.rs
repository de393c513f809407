//! The mysql-* rules against the server they describe. Each case runs one ALTER on a small
//! table of a live MariaDB or MySQL and checks that the checker and the server agree:
//!
//! - a rule that says the ALTER copies the table (writes blocked) fires exactly when the
//!   server refuses the same ALTER with `ALGORITHM=INPLACE, LOCK=NONE`;
//! - on MariaDB, a rule that says the ALTER rebuilds the table online (`mysql-online-rebuild`,
//!   `mysql-null-to-not-null`, `mysql-combined-alter`) fires exactly where
//!   `ALGORITHM=NOCOPY` is refused, and `mysql-combined-alter` only where `ALGORITHM=INSTANT`
//!   is refused.
//!
//! The dialect and `server_version` the checker gets are the server's own (`SELECT VERSION()`),
//! so version-dependent rules are tested at the version that runs. Each case also names the
//! rule it expects (or none) on MariaDB 10.11, the CI server, so that a case cannot pass by
//! both sides flagging nothing.
//!
//! Server: `CONCERTINA_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/`); the test makes
//! its own database `concertina_r_<pid>_<nanos>` and drops it at the end, failed or not.

use std::collections::BTreeSet;

use concertina_codegen::config::{Config, ServerVersion};
use concertina_codegen::dialect::DialectKind;
use concertina_codegen::layout::{Layout, Migration, MigrationSet, Phase, PhaseFile};
use concertina_codegen::source::SourceFile;
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

/// The rules that say: the server rebuilds the table online (writes go on).
const REBUILD_RULES: &[&str] = &[
    "mysql-online-rebuild",
    "mysql-null-to-not-null",
    "mysql-combined-alter",
];

/// The rules that say: the server copies the table, writes wait.
const COPY_RULES: &[&str] = &[
    "mysql-copy-algorithm",
    "mysql-column-type-copy",
    "mysql-charset-conversion",
    "mysql-drop-primary-key",
    "mysql-add-check",
    "mysql-foreign-key-checked",
    "mysql-fulltext-or-spatial-index",
    "mysql-add-column-computed",
    "mysql-enum-change",
];

const SETUP: &str = "CREATE TABLE p (id int NOT NULL, PRIMARY KEY (id));
CREATE TABLE t (
  id int NOT NULL,
  v varchar(40),
  n varchar(40) NOT NULL DEFAULT '',
  l varchar(40) CHARACTER SET utf8mb3,
  i int,
  e enum('a','b'),
  body text,
  x int,
  PRIMARY KEY (id)
);";

const ROWS: &str = "INSERT INTO p VALUES (1);
INSERT INTO t (id, v, i, e, body, x) VALUES (1, 'a', 1, 'a', 'hello', 1);";

/// `(session settings run first, what follows ALTER TABLE t, the rule MariaDB 10.11 expects)`.
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("", "MODIFY v varchar(63)", None),
    ("", "MODIFY v varchar(100)", Some("mysql-column-type-copy")),
    ("", "MODIFY i bigint", Some("mysql-column-type-copy")),
    ("", "MODIFY i int unsigned", Some("mysql-column-type-copy")),
    ("", "MODIFY e enum('a','b','c')", None),
    ("", "MODIFY e enum('a','c','b')", Some("mysql-enum-change")),
    ("", "MODIFY x int NOT NULL", Some("mysql-null-to-not-null")),
    (
        "",
        "MODIFY n varchar(40) NULL DEFAULT ''",
        Some("mysql-online-rebuild"),
    ),
    ("", "MODIFY x int FIRST", None),
    ("", "MODIFY l varchar(40) CHARACTER SET utf8mb4", None),
    ("", "MODIFY v varchar(40) COLLATE utf8mb4_bin", None),
    (
        "",
        "CONVERT TO CHARACTER SET latin1",
        Some("mysql-charset-conversion"),
    ),
    (
        "",
        "ADD CONSTRAINT ck CHECK (x > 0)",
        Some("mysql-add-check"),
    ),
    ("", "ADD COLUMN z int CHECK (z > 0)", None),
    ("", "ADD COLUMN a int, ADD COLUMN z int CHECK (z > 0)", None),
    (
        "",
        "ADD CONSTRAINT fk FOREIGN KEY (x) REFERENCES p (id)",
        Some("mysql-foreign-key-checked"),
    ),
    (
        "SET foreign_key_checks = 0;",
        "ADD CONSTRAINT fk FOREIGN KEY (x) REFERENCES p (id)",
        None,
    ),
    ("", "DROP PRIMARY KEY", Some("mysql-drop-primary-key")),
    (
        "",
        "DROP PRIMARY KEY, ADD PRIMARY KEY (id, n)",
        Some("mysql-online-rebuild"),
    ),
    (
        "",
        "ADD FULLTEXT INDEX ft (body)",
        Some("mysql-fulltext-or-spatial-index"),
    ),
    (
        "",
        "ADD COLUMN ai int NOT NULL AUTO_INCREMENT UNIQUE",
        Some("mysql-add-column-computed"),
    ),
    (
        "",
        "ADD COLUMN g int AS (x + 1) STORED",
        Some("mysql-add-column-computed"),
    ),
    ("", "ADD COLUMN g int AS (x + 1) VIRTUAL", None),
    (
        "",
        "ADD COLUMN a int, ADD INDEX ix (x)",
        Some("mysql-combined-alter"),
    ),
    ("", "ADD COLUMN a int AFTER id", None),
    ("", "DROP COLUMN x", None),
    ("", "ADD INDEX ix (x)", None),
    ("", "ROW_FORMAT=DYNAMIC", Some("mysql-online-rebuild")),
];

/// The ids the checker reports for `prefix` + `ALTER TABLE t body` on `dialect`/`server`.
fn checker_rules(
    dialect: DialectKind,
    server: ServerVersion,
    prefix: &str,
    body: &str,
) -> BTreeSet<String> {
    let file = |dir: &str, text: String| PhaseFile {
        phase: Phase::Expand,
        source: SourceFile::new(
            format!("{dir}/expand.sql"),
            format!("{dir}/expand.sql").into(),
            text,
        ),
    };
    let migration = |order: u128, dir: &str, text: String| Migration {
        version: format!("{order:04}"),
        order,
        name: dir[5..].to_string(),
        dir_name: dir.to_string(),
        layout: Layout::Concertina,
        run_in_transaction: true,
        phases: vec![file(dir, text)],
    };
    let set = MigrationSet {
        dir: "live".into(),
        migrations: vec![
            migration(1, "0001_base", SETUP.to_string()),
            migration(2, "0002_case", format!("{prefix}\nALTER TABLE t {body};\n")),
        ],
        warnings: Vec::new(),
    };
    // Read from text, as a user's concertina.toml is.
    let toml = format!(
        "dialect = \"{}\"\nserver_version = \"{server}\"\nbaseline = \"0001\"\n",
        dialect.as_str()
    );
    let config = Config::parse(&toml, "live/concertina.toml".into())
        .unwrap_or_else(|e| panic!("concertina.toml for the case: {e}"));
    concertina_codegen::check::check(&set, &config)
        .diagnostics
        .into_iter()
        .map(|d| d.rule)
        .collect()
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    v: String,
}

/// A database of the test's own, dropped when the value is dropped (also on failure).
struct TestDb {
    base: String,
    name: String,
}

impl TestDb {
    fn new() -> TestDb {
        let url = std::env::var("CONCERTINA_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".into());
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let base = match url[after_scheme..].find('/') {
            Some(i) => url[..after_scheme + i].to_string(),
            None => url.clone(),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!("concertina_r_{}_{nanos}", std::process::id());
        let mut admin = MysqlConnection::establish(&format!("{base}/")).unwrap_or_else(|e| {
            panic!(
                "cannot connect to {base}: {e}\nThis test needs a MySQL or MariaDB server: \
                 start one on 127.0.0.1:3306 (user root, empty password) or set \
                 CONCERTINA_TEST_MYSQL_URL"
            )
        });
        admin
            .batch_execute(&format!("CREATE DATABASE `{name}`"))
            .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
        TestDb { base, name }
    }

    fn connect(&self) -> MysqlConnection {
        MysqlConnection::establish(&format!("{}/{}", self.base, self.name))
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = MysqlConnection::establish(&format!("{}/", self.base)) {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
        }
    }
}

/// Whether the server accepts `prefix` + `ALTER TABLE t body, clause` on fresh tables.
fn accepts(db: &TestDb, prefix: &str, body: &str, clause: &str) -> Result<(), String> {
    // A new session per try: `SET foreign_key_checks` must not leak into the next case.
    let mut conn = db.connect();
    conn.batch_execute(&format!("DROP TABLE IF EXISTS t, p;\n{SETUP}\n{ROWS}"))
        .unwrap_or_else(|e| panic!("setting up the table: {e}"));
    let sql = format!("{prefix}\nALTER TABLE t {body}, {clause}");
    conn.batch_execute(&sql).map_err(|e| e.to_string())
}

#[test]
fn copy_rules_agree_with_the_server() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let version: Vec<Version> = diesel::sql_query("SELECT CAST(VERSION() AS CHAR) AS v")
        .load(&mut conn)
        .expect("SELECT VERSION()");
    let version = &version[0].v;
    let mariadb = version.to_ascii_lowercase().contains("mariadb");
    let number: String = version
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let server = ServerVersion::parse(&number)
        .unwrap_or_else(|| panic!("cannot read the server version {version}"));
    let dialect = if mariadb {
        DialectKind::MariaDb
    } else {
        DialectKind::MySql
    };
    let ci_server = mariadb && server.major == 10 && server.minor == 11;
    let mut disagreements = Vec::new();
    for (prefix, body, expected) in CASES {
        let rules = checker_rules(dialect, server, prefix, body);
        if ci_server {
            match expected {
                Some(rule) if !rules.contains(*rule) => disagreements.push(format!(
                    "ALTER TABLE t {body}: expected `{rule}`, the checker reports {rules:?}"
                )),
                None if rules.iter().any(|r| r.starts_with("mysql-")) => disagreements.push(
                    format!("ALTER TABLE t {body}: expected no mysql-* rule, got {rules:?}"),
                ),
                _ => {}
            }
        }
        let copies = rules.iter().any(|r| COPY_RULES.contains(&r.as_str()));
        let online = accepts(&db, prefix, body, "ALGORITHM=INPLACE, LOCK=NONE");
        if copies == online.is_ok() {
            disagreements.push(format!(
                "ALTER TABLE t {body}: the checker says {} ({rules:?}), the server {}",
                if copies {
                    "it copies"
                } else {
                    "it runs online"
                },
                match &online {
                    Ok(()) => "runs it with LOCK=NONE".to_string(),
                    Err(e) => format!("refuses LOCK=NONE: {e}"),
                }
            ));
        }
        if mariadb && !copies {
            let rebuild = rules.iter().any(|r| REBUILD_RULES.contains(&r.as_str()));
            let nocopy = accepts(&db, prefix, body, "ALGORITHM=NOCOPY");
            if rebuild == nocopy.is_ok() {
                disagreements.push(format!(
                    "ALTER TABLE t {body}: the checker says {} ({rules:?}), ALGORITHM=NOCOPY {}",
                    if rebuild { "it rebuilds" } else { "no rebuild" },
                    if nocopy.is_ok() {
                        "accepted"
                    } else {
                        "refused"
                    }
                ));
            }
            if rules.contains("mysql-combined-alter")
                && accepts(&db, prefix, body, "ALGORITHM=INSTANT").is_ok()
            {
                disagreements.push(format!(
                    "ALTER TABLE t {body}: mysql-combined-alter fires, ALGORITHM=INSTANT accepted"
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "the checker and {version} disagree:\n{}",
        disagreements.join("\n")
    );
}
