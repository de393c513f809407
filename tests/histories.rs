//! Real-history shapes (issue 11, item 4): migration histories written for this test in the
//! shapes public diesel projects use (diesel's helper functions and `up.sql`/`down.sql`,
//! trigger functions, enums, views dropped and rebuilt, pg_dump-style constraints and
//! sequences, `metadata.toml`, a MySQL history). `migrate check`'s library path must read every
//! migration without a load error or a panic, and parse or recognise at least 99.5 % of the
//! statements (a statement kept opaque is reported as `unparsed-statement`).

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use concertina_codegen::{Phase, Project};

fn histories() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/histories")
}

struct Measured {
    migrations: usize,
    files: usize,
    statements: usize,
    unparsed: Vec<String>,
}

fn measure(dir: &Path) -> Measured {
    let name = dir.display().to_string();
    let project = Project::load(dir).unwrap_or_else(|e| panic!("{name}: load error: {e}"));
    let report = catch_unwind(AssertUnwindSafe(|| project.check()))
        .unwrap_or_else(|_| panic!("{name}: the check panicked"));

    // Every migration directory on disk is read, with every file it holds.
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let read: BTreeSet<String> = report
        .migrations
        .iter()
        .map(|m| m.dir_name.clone())
        .collect();
    assert_eq!(read, on_disk, "{name}: migrations read");
    let mut files = 0;
    for m in &report.migrations {
        let sql_on_disk = std::fs::read_dir(dir.join(&m.dir_name))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sql")
            })
            .count();
        assert_eq!(
            m.phases.len(),
            sql_on_disk,
            "{name}/{}: files read",
            m.dir_name
        );
        assert!(
            m.phase(Phase::Expand).is_some(),
            "{name}/{}: up.sql read as expand",
            m.dir_name
        );
        files += m.phases.len();
    }

    let unparsed: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.rule == "unparsed-statement")
        .map(|d| format!("{}:{}: {}", d.file, d.line, d.message))
        .collect();
    // No statement is cut short by an unterminated string or dollar quote.
    let unterminated: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.rule == "unterminated-token")
        .map(|d| format!("{}:{}", d.file, d.line))
        .collect();
    assert!(unterminated.is_empty(), "{name}: {unterminated:?}");
    Measured {
        migrations: report.migrations.len(),
        files,
        statements: report.statements,
        unparsed,
    }
}

fn check_history(name: &str, min_migrations: usize) {
    let m = measure(&histories().join(name));
    let parsed = m.statements - m.unparsed.len();
    let share = 100.0 * parsed as f64 / m.statements as f64;
    println!(
        "{name}: {} migrations, {} files, {} statements, {parsed} parsed or recognised ({share:.2} %), {} opaque",
        m.migrations,
        m.files,
        m.statements,
        m.unparsed.len()
    );
    assert!(
        m.migrations >= min_migrations,
        "{name}: {} migrations",
        m.migrations
    );
    assert!(
        share >= 99.5,
        "{name}: {share:.2} % parsed; opaque statements:\n{}",
        m.unparsed.join("\n")
    );
}

#[test]
fn diesel_forum_history_reads_and_parses() {
    check_history("diesel_forum", 20);
}

#[test]
fn mysql_shop_history_reads_and_parses() {
    check_history("mysql_shop", 8);
}
