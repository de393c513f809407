//! The lock tracer on a real PostgreSQL: what it observes of known statements (ACCESS
//! EXCLUSIVE, `CREATE INDEX CONCURRENTLY`'s SHARE UPDATE EXCLUSIVE, a rewrite, an opaque
//! statement), and that a wrong verdict of the checker comes out as a disagreement, both ways.

mod both;

use both::Dir;
use concertina_codegen::check::Report;
use concertina_codegen::diag::{Diagnostic, Severity};
use concertina_codegen::Project;
use concertina_runtime::postgres::trace::PgTracer;
use concertina_runtime::testdb::TestDb;
use concertina_runtime::trace::{self, StepTrace, TraceReport};

const CONFIG: &str = "dialect = \"postgres\"\nserver_version = \"15\"\n";

const BASE: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text, n int);\n\
                    INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 500) g;\n";

/// Checks and traces `expand` (after the base migration) on a database of its own;
/// `edit` changes the checker's report first (to make its verdict wrong on purpose).
fn traced(tag: &str, expand: &str, edit: impl FnOnce(&mut Report)) -> TraceReport {
    let dir = Dir::with_config(tag, CONFIG);
    dir.write("0001_base/expand.sql", BASE)
        .write("0002_change/expand.sql", expand);
    let project = Project::load(&dir.0).expect("load");
    let mut report = project.check();
    edit(&mut report);
    let db = TestDb::new(tag).expect("test database");
    let mut tracer = PgTracer::connect(&db.url).expect("connect");
    trace::trace(&report, &project.config, &mut tracer, &mut |_| {}).expect("trace")
}

fn step<'a>(report: &'a TraceReport, starts: &str) -> &'a StepTrace {
    report
        .steps
        .iter()
        .find(|s| s.sql.starts_with(starts))
        .unwrap_or_else(|| panic!("no step `{starts}` in {:#?}", report.steps))
}

fn mode_on(step: &StepTrace, table: &str) -> Option<String> {
    step.observed
        .strongest_app_locks()
        .iter()
        .find(|l| l.relation.name == table)
        .map(|l| l.mode.clone())
}

#[test]
fn add_column_is_seen_taking_access_exclusive_without_a_rewrite() {
    let report = traced("tr_ae", "ALTER TABLE users ADD COLUMN note text;\n", |_| {});
    let s = step(&report, "ALTER TABLE users ADD COLUMN note");
    assert_eq!(mode_on(s, "users").as_deref(), Some("ACCESS EXCLUSIVE"));
    assert!(
        s.observed.rewritten.is_empty() && s.observed.scanned.is_empty(),
        "{s:#?}"
    );
    assert!(s.disagreements.is_empty(), "{:?}", s.disagreements);
    assert!(
        report.server.starts_with("PostgreSQL "),
        "{}",
        report.server
    );
}

#[test]
fn create_index_concurrently_is_seen_taking_share_update_exclusive() {
    let report = traced(
        "tr_cic",
        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
        |_| {},
    );
    let s = step(&report, "CREATE INDEX CONCURRENTLY");
    assert_eq!(
        mode_on(s, "users").as_deref(),
        Some("SHARE UPDATE EXCLUSIVE"),
        "{s:#?}"
    );
    // It reads every row, but under a lock the app does not wait for.
    assert!(s.observed.blocking_work.is_empty(), "{s:#?}");
    assert!(s.observed.invalid_indexes.is_empty(), "{s:#?}");
    assert!(s.disagreements.is_empty(), "{:?}", s.disagreements);
    // Without CONCURRENTLY: SHARE, and the rule's claim (a scan of every row) holds.
    let report = traced(
        "tr_ci",
        "CREATE INDEX users_email_idx ON users (email);\n",
        |_| {},
    );
    let s = step(&report, "CREATE INDEX users_email_idx");
    assert_eq!(mode_on(s, "users").as_deref(), Some("SHARE"), "{s:#?}");
    assert!(s.verdicts.iter().any(|v| v.rule == "index-not-concurrent"));
    assert!(
        s.observed.scanned.iter().any(|t| t.name == "users"),
        "{s:#?}"
    );
    assert!(s.disagreements.is_empty(), "{:?}", s.disagreements);
}

#[test]
fn a_rewrite_is_detected_and_agrees_with_the_rule() {
    let report = traced(
        "tr_rw",
        "ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT clock_timestamp();\n",
        |_| {},
    );
    let s = step(&report, "ALTER TABLE users ADD COLUMN seen");
    assert!(
        s.observed.rewritten.iter().any(|t| t.name == "users"),
        "{s:#?}"
    );
    assert!(s
        .verdicts
        .iter()
        .any(|v| v.rule == "add-column-volatile-default"));
    assert!(s.disagreements.is_empty(), "{:?}", s.disagreements);
}

#[test]
fn an_opaque_statement_is_traced_so_the_user_learns_its_lock() {
    let report = traced(
        "tr_opaque",
        "ALTER TABLE users ALTER COLUMN n SET STATISTICS 500;\n",
        |_| {},
    );
    let s = step(&report, "ALTER TABLE users ALTER COLUMN n SET STATISTICS");
    assert!(
        s.verdicts.iter().any(|v| v.rule == "unparsed-statement"),
        "{:?}",
        s.verdicts
    );
    assert_eq!(
        mode_on(s, "users").as_deref(),
        Some("SHARE UPDATE EXCLUSIVE"),
        "{s:#?}"
    );
    let text = trace::render::human(&report);
    assert!(
        text.contains("server   SHARE UPDATE EXCLUSIVE on users"),
        "{text}"
    );
}

#[test]
fn a_wrong_verdict_is_a_disagreement_both_ways() {
    // The checker made to miss the rewrite: the tracer says the server rewrote `users`.
    let missed = traced(
        "tr_missed",
        "ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT clock_timestamp();\n",
        |report| {
            report
                .diagnostics
                .retain(|d| d.rule != "add-column-volatile-default")
        },
    );
    let s = step(&missed, "ALTER TABLE users ADD COLUMN seen");
    assert!(
        s.disagreements
            .iter()
            .any(|d| d.checker_missed && d.message.contains("rewrote `users`")),
        "{:?}",
        s.disagreements
    );
    // The checker made to claim a rewrite of a safe statement: the tracer says none happened.
    let overstated = traced(
        "tr_over",
        "ALTER TABLE users ADD COLUMN note text;\n",
        |report| {
            let file = "0002_change/expand.sql".to_string();
            report.diagnostics.push(Diagnostic {
                rule: "add-column-volatile-default".into(),
                severity: Severity::Error,
                file,
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
    assert_eq!(overstated.disagreements(), 1, "{:?}", s.disagreements);
}

#[test]
fn a_statement_the_server_refuses_stops_the_trace_and_is_reported() {
    let report = traced(
        "tr_fail",
        "ALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN b int;\n",
        |_| {},
    );
    let failed = report
        .steps
        .iter()
        .find(|s| s.observed.error.is_some())
        .expect("the second ADD COLUMN fails");
    assert_eq!(failed.line, 2);
    assert_eq!(
        failed.observed.error.as_ref().map(|e| e.code.as_str()),
        Some("42701")
    );
    assert!(report.stopped.is_some());
    assert!(!report.steps.iter().any(|s| s.sql.contains("COLUMN b")));
}
