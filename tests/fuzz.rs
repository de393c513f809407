//! No input makes the front end or the checker panic: random bytes, and random sequences of SQL
//! fragments (valid, truncated and mixed), through both dialects and every phase.
//! Longer runs: `PROPTEST_CASES=200000 cargo test --release --test fuzz`.

use concertina_codegen::config::{Config, RuntimeConfig, ServerVersion};
use concertina_codegen::dialect::DialectKind;
use concertina_codegen::fix::{fix_project, FixOptions};
use concertina_codegen::layout::{Layout, Migration, MigrationSet, Phase, PhaseFile};
use concertina_codegen::source::SourceFile;
use concertina_codegen::{render, sql};
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "CREATE TABLE users (id bigserial PRIMARY KEY, name varchar(255) NOT NULL, email text UNIQUE)",
    "CREATE TABLE t (id int, a int CHECK (a > 0), b text REFERENCES users (email))",
    "CREATE TABLE p (id int, d date) PARTITION BY RANGE (d)",
    "CREATE TABLE c PARTITION OF p FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')",
    "ALTER TABLE users ADD COLUMN status varchar(20) DEFAULT 'active'",
    "ALTER TABLE users ADD COLUMN x int NOT NULL",
    "ALTER TABLE users ADD COLUMN r float DEFAULT random()",
    "ALTER TABLE users ADD COLUMN g int GENERATED ALWAYS AS (id * 2) STORED",
    "ALTER TABLE users ALTER COLUMN name TYPE text",
    "ALTER TABLE users ALTER COLUMN id TYPE bigint USING id::bigint",
    "ALTER TABLE users ALTER COLUMN name SET NOT NULL",
    "ALTER TABLE users ALTER COLUMN name DROP NOT NULL",
    "ALTER TABLE users RENAME COLUMN name TO full_name",
    "ALTER TABLE users RENAME TO people",
    "ALTER TABLE users DROP COLUMN email CASCADE",
    "ALTER TABLE users ADD CONSTRAINT ck CHECK (id > 0) NOT VALID",
    "ALTER TABLE users VALIDATE CONSTRAINT ck",
    "ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX users_name_idx",
    "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES users (id)",
    "ALTER TABLE p ATTACH PARTITION c FOR VALUES FROM (1) TO (2)",
    "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
    "CREATE INDEX users_name_idx ON users (name)",
    // What `migrate fix` rewrites.
    "DROP INDEX users_name_idx, i",
    "REINDEX (VERBOSE) INDEX users_name_idx",
    "ALTER TABLE users ADD CHECK (id > 0)",
    "ALTER TABLE users ADD COLUMN tok uuid NOT NULL DEFAULT gen_random_uuid()",
    "ALTER TABLE `users` ADD COLUMN z int, ALGORITHM = COPY, LOCK=SHARED",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON users (lower(name)) WHERE id > 0",
    "CREATE INDEX pi ON ONLY p (d)",
    "DROP INDEX CONCURRENTLY users_name_idx",
    "REINDEX TABLE CONCURRENTLY users",
    "CREATE TYPE mood AS ENUM ('a', 'b')",
    "ALTER TYPE mood ADD VALUE 'c'",
    "ALTER TYPE mood RENAME VALUE 'a' TO 'z'",
    "CREATE DOMAIN d AS int CHECK (VALUE > 0)",
    "ALTER DOMAIN d ADD CONSTRAINT dc CHECK (VALUE < 10) NOT VALID",
    "CREATE VIEW v AS SELECT id, name FROM users",
    "CREATE MATERIALIZED VIEW mv AS SELECT * FROM users",
    "REFRESH MATERIALIZED VIEW mv",
    "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a; $$",
    "CREATE TRIGGER tr BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION f()",
    "DO $$ BEGIN PERFORM 1; END $$",
    "BEGIN",
    "COMMIT",
    "SET TimeZone = 'UTC'",
    "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
    "TRUNCATE users",
    "VACUUM FULL users",
    "CLUSTER users USING users_name_idx",
    "UPDATE users SET full_name = name WHERE full_name IS NULL",
    "UPDATE users SET x = 1",
    "DELETE FROM users WHERE id = 1",
    "INSERT INTO t SELECT * FROM users",
    "DROP TABLE IF EXISTS t, p CASCADE",
    "DROP TYPE mood",
    "COMMENT ON TABLE users IS 'x;y'",
    "-- concertina:allow(index-not-concurrent): small\nCREATE INDEX q ON users (id)",
    "-- concertina:allow(lock-table)\nSELECT 1",
    "-- concertina:renames(users.name -> users.full_name)\nSELECT 1",
    "-- concertina:bogus",
    "/* nested /* comment */ */ SELECT 1",
    "ALTER TABLE `users` ADD COLUMN s VARCHAR(20), ALGORITHM=INPLACE, LOCK=NONE",
    "ALTER TABLE users MODIFY COLUMN name BIGINT NOT NULL",
    "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END //\nDELIMITER ;",
    "CREATE TABLE `T` (`id` int NOT NULL AUTO_INCREMENT, e enum('a','b,c') DEFAULT 'a', PRIMARY KEY (`id`), KEY (e), UNIQUE KEY u (e), FOREIGN KEY (id) REFERENCES users (id)) ENGINE=InnoDB",
    "ALTER TABLE users CHANGE name full_name varchar(300) CHARACTER SET latin1 NOT NULL FIRST",
    "ALTER TABLE users MODIFY e enum('b','a') AFTER id",
    "ALTER TABLE users ADD COLUMN a int AFTER id, ADD INDEX (a), ALGORITHM=INSTANT",
    "ALTER TABLE users RENAME INDEX a TO b",
    "ALTER TABLE users ROW_FORMAT=DYNAMIC",
    "ALTER TABLE users CONVERT TO CHARACTER SET utf8mb4",
    "ALTER TABLE users DROP PRIMARY KEY, ADD PRIMARY KEY (id, name)",
    "ALTER TABLE users DROP FOREIGN KEY users_ibfk_1, DROP INDEX a",
    "CREATE FULLTEXT INDEX ft ON users (name)",
    "DROP INDEX a ON users",
    "RENAME TABLE users TO people",
    "SET foreign_key_checks = 0",
    "LOCK TABLES users WRITE",
    "OPTIMIZE TABLE users",
    "START TRANSACTION",
    "SELECT 'unterminated",
    "SELECT $$ unterminated",
    "CREATE TABLE (",
    "ALTER TABLE",
    "((((",
    ")",
    "é ✓ \u{0}",
];

fn check_text(files: &[(Phase, String)], dialect: DialectKind, server: &str) {
    let phases = files
        .iter()
        .map(|(phase, text)| PhaseFile {
            phase: *phase,
            source: SourceFile::new(
                format!("0002_fuzz/{}", phase.file_name()),
                format!("0002_fuzz/{}", phase.file_name()).into(),
                text.clone(),
            ),
        })
        .collect::<Vec<_>>();
    let set = MigrationSet {
        dir: "fuzz".into(),
        migrations: vec![
            Migration {
                version: "0001".into(),
                order: 1,
                name: "base".into(),
                dir_name: "0001_base".into(),
                layout: Layout::Concertina,
                run_in_transaction: true,
                phases: vec![PhaseFile {
                    phase: Phase::Expand,
                    source: SourceFile::new(
                        "0001_base/expand.sql",
                        "0001_base/expand.sql".into(),
                        "CREATE TABLE users (id bigint PRIMARY KEY, name text, email text);".into(),
                    ),
                }],
            },
            Migration {
                version: "0002".into(),
                order: 2,
                name: "fuzz".into(),
                dir_name: "0002_fuzz".into(),
                layout: Layout::Concertina,
                run_in_transaction: true,
                phases,
            },
        ],
        warnings: Vec::new(),
    };
    let config = Config {
        types: Default::default(),
        small_tables: Vec::new(),
        dialect,
        server_version: ServerVersion::parse(server).unwrap_or(ServerVersion::new(14, 0, 0)),
        baseline: None,
        runtime: RuntimeConfig::default(),
        path: "fuzz/concertina.toml".into(),
        warnings: Vec::new(),
        source: None,
        fix_decisions: Default::default(),
    };
    let report = concertina_codegen::check::check(&set, &config);
    // Rendering reads spans back from the files: it must not panic either.
    let text = render::human(&report, false);
    assert!(text.contains("checked"));
    for d in &report.diagnostics {
        assert!(d.line >= 1 && d.column >= 1, "{d:?}");
    }
    // `migrate fix` rewrites what it can without a panic, and a second run changes nothing.
    let mut project = concertina_codegen::Project { config, set };
    let outcome = fix_project(&project, &FixOptions::default()).expect("fix runs");
    let fuzzed = &mut project.set.migrations[1];
    for change in &outcome.changes {
        let phase = [Phase::Expand, Phase::Backfill, Phase::Contract, Phase::Down]
            .into_iter()
            .find(|p| change.rel_path.ends_with(p.file_name()))
            .expect("a phase file");
        fuzzed.phases.retain(|p| p.phase != phase);
        if let Some(text) = &change.after {
            fuzzed.phases.push(PhaseFile {
                phase,
                source: SourceFile::new(&change.rel_path, change.path.clone(), text.clone()),
            });
        }
    }
    fuzzed.phases.sort_by_key(|p| p.phase);
    let again = fix_project(&project, &FixOptions::default()).expect("fix runs again");
    assert!(
        again.changes.is_empty(),
        "a second fix changes:\n{}\nafter the first:\n{}",
        again.diff(),
        outcome.diff()
    );
}

fn phase_strategy() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::Expand),
        Just(Phase::Backfill),
        Just(Phase::Contract),
        Just(Phase::Down)
    ]
}

fn dialect_strategy() -> impl Strategy<Value = DialectKind> {
    prop_oneof![
        Just(DialectKind::Postgres),
        Just(DialectKind::MySql),
        Just(DialectKind::MariaDb)
    ]
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), dialect in dialect_strategy()) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let file = SourceFile::new("x.sql", "x.sql".into(), text.clone());
        let parsed = sql::parse_file(&file, dialect.dialect());
        for s in &parsed.statements {
            prop_assert!(s.start <= s.end && s.end <= text.len());
        }
        check_text(&[(Phase::Expand, text)], dialect, "14");
    }

    #[test]
    fn random_fragments_never_panic(
        picks in proptest::collection::vec((0..FRAGMENTS.len(), any::<u8>(), phase_strategy()), 0..24),
        dialect in dialect_strategy(),
        server in prop_oneof![Just("10"), Just("11"), Just("12"), Just("14"), Just("18"), Just("8.0.29"), Just("10.11")],
    ) {
        let mut files: Vec<(Phase, String)> = Vec::new();
        for (i, cut, phase) in picks {
            let fragment = FRAGMENTS[i];
            // Sometimes truncate a fragment at a char boundary, to feed half statements.
            let fragment = if cut % 5 == 0 {
                let n = (cut as usize) % (fragment.len() + 1);
                let n = (0..=n).rev().find(|&k| fragment.is_char_boundary(k)).unwrap_or(0);
                &fragment[..n]
            } else {
                fragment
            };
            let sep = if cut % 7 == 0 { "\n" } else { ";\n" };
            match files.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, text)) => { text.push_str(fragment); text.push_str(sep); }
                None => files.push((phase, format!("{fragment}{sep}"))),
            }
        }
        if files.iter().all(|(p, _)| *p == Phase::Down) {
            files.push((Phase::Expand, "SELECT 1;".into()));
        }
        check_text(&files, dialect, server);
    }
}
