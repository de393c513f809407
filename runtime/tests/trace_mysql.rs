//! The lock tracer on a real MariaDB (10.11 here): the online mode the server ran a statement
//! with, a rebuild seen as a new InnoDB table id, a wrong verdict of the checker reported both
//! ways, and a statement the server refuses reported with its error number.

mod both;

use both::Dir;
use concertina_codegen::check::Report;
use concertina_codegen::diag::{Diagnostic, Severity};
use concertina_codegen::Project;
use concertina_runtime::mysql::trace::MyTracer;
use concertina_runtime::testdb_mysql::MySqlTestDb;
use concertina_runtime::trace::{self, Blocks, StepTrace, TraceReport};

const CONFIG: &str = "dialect = \"mariadb\"\nserver_version = \"10.11\"\n";

/// 2,000 rows: enough for a rebuild to take a few milliseconds. (`VALUES`, not `SELECT … FROM
/// seq_1_to_2000`: the checker counts MariaDB's sequence tables as tables the insert reads.)
fn base() -> String {
    let rows: Vec<String> = (1..=2000).map(|i| format!("({i}, 'u{i}', {i})")).collect();
    format!(
        "CREATE TABLE users (id bigint NOT NULL PRIMARY KEY, email varchar(100), n int) ENGINE=InnoDB;\n\
         INSERT INTO users (id, email, n) VALUES {};\n",
        rows.join(", ")
    )
}

/// Checks and traces `expand` (after the base migration) on a database of its own; `edit`
/// changes the checker's report first (to make its verdict wrong on purpose).
fn traced(tag: &str, expand: &str, edit: impl FnOnce(&mut Report)) -> TraceReport {
    let dir = Dir::with_config(tag, CONFIG);
    dir.write("0001_base/expand.sql", &base())
        .write("0002_change/expand.sql", expand);
    let project = Project::load(&dir.0).expect("load");
    let mut report = project.check();
    edit(&mut report);
    let db = MySqlTestDb::new(tag).expect("test database");
    let mut tracer = MyTracer::connect(&db.url).expect("connect");
    trace::trace(&report, &project.config, &mut tracer, &mut |_| {}).expect("trace")
}

fn step<'a>(report: &'a TraceReport, starts: &str) -> &'a StepTrace {
    report
        .steps
        .iter()
        .find(|s| s.sql.starts_with(starts))
        .unwrap_or_else(|| panic!("no step `{starts}` in {:#?}", report.steps))
}

fn lock_on(step: &StepTrace, table: &str) -> Option<(String, Blocks)> {
    step.observed
        .strongest_app_locks()
        .iter()
        .find(|l| l.relation.name == table)
        .map(|l| (l.mode.clone(), l.blocks))
}

#[test]
fn add_column_runs_instant_without_a_rebuild() {
    let report = traced(
        "trm_instant",
        "ALTER TABLE users ADD COLUMN note varchar(20) NULL;\n",
        |_| {},
    );
    assert!(report.server.starts_with("MariaDB "), "{}", report.server);
    let s = step(&report, "ALTER TABLE users ADD COLUMN note");
    assert_eq!(
        lock_on(s, "users"),
        Some(("ALGORITHM=INSTANT".into(), Blocks::Nothing)),
        "{s:#?}"
    );
    assert!(
        s.observed.notes.iter().any(|n| n == "accepts INSTANT"),
        "{:?}",
        s.observed.notes
    );
    assert!(s.observed.rewritten.is_empty(), "{s:#?}");
    assert!(s.disagreements.is_empty(), "{:?}", s.disagreements);
}

#[test]
fn a_rebuild_is_seen_and_agrees_with_the_rule() {
    // `NULL` to `NOT NULL` rebuilds the table in place (online) on MariaDB 10.11.
    let report = traced(
        "trm_rebuild",
        "ALTER TABLE users MODIFY n int NOT NULL;\n",
        |_| {},
    );
    let s = step(&report, "ALTER TABLE users MODIFY n");
    assert!(
        s.observed.rewritten.iter().any(|t| t.name == "users"),
        "{s:#?}"
    );
    assert_eq!(
        lock_on(s, "users"),
        Some(("ALGORITHM=INPLACE, LOCK=NONE".into(), Blocks::OtherDdl)),
        "{s:#?}"
    );
    assert!(
        s.observed
            .notes
            .iter()
            .any(|n| n.starts_with("refuses INSTANT")),
        "{:?}",
        s.observed.notes
    );
    assert!(
        s.verdicts
            .iter()
            .any(|v| v.rule == "mysql-null-to-not-null"),
        "{:?}",
        s.verdicts
    );
    assert!(s.disagreements.is_empty(), "{:?}", s.disagreements);
}

#[test]
fn a_wrong_verdict_is_a_disagreement_both_ways() {
    // The checker made to miss a copy: the server rewrote `users` under a blocking lock.
    let missed = traced(
        "trm_missed",
        "ALTER TABLE users ADD COLUMN note varchar(20) NULL, ALGORITHM=COPY;\n",
        |report| {
            report
                .diagnostics
                .retain(|d| d.rule != "mysql-copy-algorithm")
        },
    );
    let s = step(&missed, "ALTER TABLE users ADD COLUMN note");
    assert!(
        s.disagreements
            .iter()
            .any(|d| d.checker_missed && d.message.contains("rewrote `users`")),
        "{s:#?}"
    );
    // The checker made to claim a rebuild of an instant change: none happened.
    let overstated = traced(
        "trm_over",
        "ALTER TABLE users ADD COLUMN note varchar(20) NULL;\n",
        |report| {
            report.diagnostics.push(Diagnostic {
                rule: "mysql-online-rebuild".into(),
                severity: Severity::Warning,
                file: "0002_change/expand.sql".into(),
                line: 1,
                column: 1,
                message: "wrong on purpose".into(),
                help: String::new(),
                fixable: false,
                fix_with: None,
            });
        },
    );
    let s = step(&overstated, "ALTER TABLE users ADD COLUMN note");
    assert!(
        s.disagreements
            .iter()
            .any(|d| !d.checker_missed && d.message.contains("rewrote nothing")),
        "{:?}",
        s.disagreements
    );
    assert_eq!(
        overstated.disagreements(),
        1,
        "{}",
        trace::render::human(&overstated)
    );
}

#[test]
fn a_statement_the_server_refuses_is_reported_with_its_errno() {
    // A column type change: INPLACE is refused (1846) and the runtime never copies.
    let report = traced(
        "trm_refused",
        "ALTER TABLE users MODIFY email int;\nALTER TABLE users ADD COLUMN b int;\n",
        |_| {},
    );
    let failed = report
        .steps
        .iter()
        .find(|s| s.observed.error.is_some())
        .expect("the type change is refused");
    assert_eq!(failed.line, 1);
    assert_eq!(
        failed.observed.error.as_ref().map(|e| e.code.as_str()),
        Some("1846"),
        "{failed:#?}"
    );
    assert!(
        failed
            .observed
            .notes
            .iter()
            .any(|n| n == "refuses INPLACE LOCK=NONE (errno 1846)"),
        "{:?}",
        failed.observed.notes
    );
    assert!(report.stopped.is_some());
    assert!(!report.steps.iter().any(|s| s.sql.contains("COLUMN b")));
}
