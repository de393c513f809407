//! `migrate fix` end to end, for every rule with a mechanical recipe: its failing fixture
//! (`tests/fixtures/rules/<id>/`, or `tests/fixtures/fix/<id>/` where the rule fixture is a
//! case with no mechanical fix) is copied, fixed and written; the check no longer reports the
//! rule, a second fix changes nothing, the fixed migrations' final model equals the original's
//! (a constraint added `NOT VALID` then validated ends validated; for a domain constraint, once
//! the recipe's table checks are set aside, see [`without_the_domain_recipes_checks`]), and the fixed migration
//! applies on the server (PostgreSQL; MariaDB for a MySQL rule) through the runtime's Migrator (expand, backfill, contract) in a fresh
//! database whose schema `verify` then finds equal to the model. The diffs are snapshots.
//! An applied migration (baseline or state table) is refused.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use concertina_codegen::change::{ConstraintKind, QualName};
use concertina_codegen::dialect::DialectKind;
use concertina_codegen::fix::{fix_project, FixError, FixOptions};
use concertina_codegen::model::Schema;
use concertina_codegen::{rules, Phase, Project};
use concertina_runtime::migrator::Migrator;
use concertina_runtime::testdb::TestDb;
use concertina_runtime::testdb_mysql::MySqlTestDb;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of a fixture directory, removed when dropped.
struct Copy(PathBuf);

impl Copy {
    fn of(fixture: &Path, tag: &str) -> Copy {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let to = std::env::temp_dir().join(format!(
            "concertina_fix_{tag}_{}_{nanos}",
            std::process::id()
        ));
        copy_dir(fixture, &to);
        Copy(to)
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the fixture") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy a file");
        }
    }
}

/// Every phase file of the directory with its text, to see that nothing changed.
fn texts(dir: &Path) -> Vec<(String, String)> {
    let project = Project::load(dir).expect("loads");
    project
        .set
        .migrations
        .iter()
        .flat_map(|m| &m.phases)
        .map(|p| (p.source.rel_path.clone(), p.source.text.clone()))
        .collect()
}

fn fixture(id: &str) -> PathBuf {
    let own = root().join("tests/fixtures/fix").join(id);
    if own.is_dir() {
        own
    } else {
        root().join("tests/fixtures/rules").join(id)
    }
}

/// Errors of other rules the fixed fixture still has, by rule: a constraint validated (or a
/// unique index built) in contract covers rows the old app wrote during the window
/// (`compat-contract-needs-data`, no mechanical fix). The original statement checked the same
/// rows; only the explicit VALIDATE or index makes the compat rule see it.
fn expected_left(id: &str) -> &'static [&'static str] {
    match id {
        "add-foreign-key-validating"
        | "add-check-validating"
        | "add-unique-constraint-building-index" => &["compat-contract-needs-data"],
        _ => &[],
    }
}

#[test]
fn every_rule_with_a_fix_fixes_its_failing_fixture_and_the_result_applies() {
    let fixable: Vec<&str> = rules::all_rules()
        .into_iter()
        .filter(|r| r.fix.is_some())
        .map(|r| r.id)
        .collect();
    assert!(fixable.len() >= 7, "{fixable:?}");
    for id in fixable {
        let copy = Copy::of(&fixture(id), id);
        let dir = copy.0.as_path();
        let original = Project::load(dir).expect("loads").check();
        assert!(
            original
                .diagnostics
                .iter()
                .any(|d| d.rule == id && d.fixable),
            "{id}: the fixture's finding is not fixable: {:?}",
            original.diagnostics
        );

        let outcome = fix_project(&Project::load(dir).expect("loads"), &FixOptions::default())
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        insta::assert_snapshot!(format!("fix_{}", id.replace('-', "_")), outcome.diff());
        outcome.write().unwrap_or_else(|e| panic!("{id}: {e}"));

        let fixed = Project::load(dir).expect("fixed loads").check();
        let left: Vec<&str> = fixed
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.rule.as_str())
            .collect();
        assert!(
            !fixed.diagnostics.iter().any(|d| d.rule == id),
            "{id}: still reported after fix: {:?}",
            fixed.diagnostics
        );
        assert_eq!(left, expected_left(id), "{id}: {:?}", fixed.diagnostics);

        let again = fix_project(&Project::load(dir).expect("loads"), &FixOptions::default())
            .expect("second fix runs");
        assert!(
            again.changes.is_empty(),
            "{id}: a second fix changes:\n{}",
            again.diff()
        );

        let mut fixed_schema = as_the_server_has_it(&fixed.latest());
        if id == "domain-constraint-validating" {
            fixed_schema = without_the_domain_recipes_checks(&original.latest(), fixed_schema);
        }
        assert_eq!(
            as_the_server_has_it(&original.latest()),
            fixed_schema,
            "{id}: the fixed migrations end in another schema than the original"
        );

        apply_on_server(dir, id, &fixed);
    }
}

/// The schema without how a constraint was written: `UNIQUE USING INDEX i` leaves the same
/// constraint and index on the server as `UNIQUE (cols)`, and the model keeps both indexes.
/// Columns compare by name, not position: the rename recipe adds the new column last, where
/// the rename kept its place (only `SELECT *` sees the difference).
fn as_the_server_has_it(schema: &Schema) -> Schema {
    let mut schema = schema.clone();
    for table in schema.tables.values_mut() {
        let table = std::sync::Arc::make_mut(table);
        table.columns.sort_by(|a, b| a.name.cmp(&b.name));
        for c in &mut table.constraints {
            if let ConstraintKind::Unique { using_index, .. }
            | ConstraintKind::PrimaryKey { using_index, .. } = &mut c.kind
            {
                *using_index = None;
            }
        }
    }
    schema
}

/// `domain-constraint-validating`'s recipe ends in another schema that means the same
/// guarantee: the domain constraint stays `NOT VALID` (the model keeps no domain constraint's
/// validity, only that the domain has constraints, so that part compares equal already) and
/// each table column of the domain gets a validated `CHECK` of the same expression over that
/// column. Every stored value of the domain has then passed the check (the table checks are
/// validated) and every new one passes it (the domain's and the table's): what the validated
/// domain constraint said. Exactly those checks are taken out of the fixed schema: validated
/// `CHECK`s the original does not have, over one column whose type is a domain. At least one
/// must be there, and anything else still compares.
fn without_the_domain_recipes_checks(original: &Schema, mut fixed: Schema) -> Schema {
    let mut taken_out = 0;
    for (name, table) in fixed.tables.iter_mut() {
        let before = original.tables.get(name);
        let table = std::sync::Arc::make_mut(table);
        let domain_columns: Vec<String> = table
            .columns
            .iter()
            .filter(|c| {
                c.ty.schema.as_ref().is_some_and(|schema| {
                    fixed
                        .domains
                        .contains_key(&QualName::new(schema.clone(), c.ty.name.clone()))
                })
            })
            .map(|c| c.name.clone())
            .collect();
        table.constraints.retain(|c| {
            let recipes = c.validated
                && before.is_none_or(|t| t.constraint(&c.name).is_none())
                && matches!(&c.kind, ConstraintKind::Check { expr, .. }
                    if matches!(expr.columns.as_slice(), [one] if domain_columns.contains(one)));
            taken_out += usize::from(recipes);
            !recipes
        });
    }
    assert!(taken_out > 0, "the domain recipe added no table check");
    fixed
}

/// Runs the baseline migration as the database's past, then the fixed migration with the
/// Migrator (PostgreSQL, or for a MySQL fixture the test's MariaDB), and compares the live
/// schema with the model.
fn apply_on_server(dir: &Path, id: &str, fixed: &concertina_codegen::Report) {
    // The runtime refuses a migration with errors; those `expected_left` names are allowed
    // here, each with its reason, in the copy (the fixture's tables are empty).
    for d in fixed.diagnostics.iter().filter(|d| d.is_error()) {
        let path = dir.join(&d.file);
        let text = std::fs::read_to_string(&path).expect("read");
        let mut lines: Vec<&str> = text.lines().collect();
        let allow = format!(
            "-- concertina:allow({}): the test's tables are empty",
            d.rule
        );
        lines.insert(d.line - 1, &allow);
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    }
    let base = std::fs::read_to_string(dir.join("0001_base/expand.sql")).expect("baseline");
    let (_pg, _my, url);
    if fixed.migrations.first().map(|m| m.window.after.dialect) == Some(DialectKind::Postgres) {
        let db = TestDb::new("fix").unwrap_or_else(|e| panic!("{id}: {e}"));
        let mut conn = PgConnection::establish(&db.url).expect("connect");
        conn.batch_execute(&base).expect("the baseline runs");
        url = db.url.clone();
        _pg = Some(db);
    } else {
        // The test server is MariaDB: the copy says so, so that the runtime accepts it.
        let config = std::fs::read_to_string(dir.join("concertina.toml")).expect("config");
        let config = config
            .lines()
            .map(|l| match l.split('=').next().map(str::trim) {
                Some("dialect") => "dialect = \"mariadb\"",
                Some("server_version") => "server_version = \"10.11\"",
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.join("concertina.toml"), config + "\n").expect("write config");
        let db = MySqlTestDb::new("fix").unwrap_or_else(|e| panic!("{id}: {e}"));
        db.conn()
            .expect("connect")
            .batch_execute(&base)
            .expect("the baseline runs");
        url = db.url.clone();
        _my = Some(db);
    }
    let mut m = Migrator::open(dir, &url).unwrap_or_else(|e| panic!("{id}: {e}"));
    m.lock(None, |_| {}).expect("the migrator lock");
    m.adopt_baseline().expect("baseline adopted");
    let applied = m
        .apply_quietly(&[Phase::Expand, Phase::Backfill, Phase::Contract], None)
        .unwrap_or_else(|e| panic!("{id}: the fixed migration does not apply: {e}"));
    assert!(applied > 0, "{id}: nothing applied");
    let verification = m.verify().expect("verify runs");
    assert!(
        verification.is_ok(),
        "{id}: the live schema differs from the model: {verification:?}"
    );
}

#[test]
fn a_rule_fixture_with_no_mechanical_fix_says_why_and_changes_nothing() {
    // Before PostgreSQL 12 `SET NOT NULL` scans wherever it runs.
    let copy = Copy::of(
        &root().join("tests/fixtures/rules/set-not-null-unproven"),
        "snn11",
    );
    let before = texts(&copy.0);
    let outcome = fix_project(
        &Project::load(&copy.0).expect("loads"),
        &FixOptions::default(),
    )
    .expect("runs");
    assert!(outcome.changes.is_empty(), "{}", outcome.diff());
    let left = outcome
        .unfixed
        .iter()
        .find(|u| u.diagnostic.rule == "set-not-null-unproven")
        .expect("listed");
    assert!(left.why.contains("before PostgreSQL 12"), "{}", left.why);
    assert!(outcome.errors_left() > 0);
    outcome.write().expect("writing nothing");
    assert_eq!(texts(&copy.0), before);
}

#[test]
fn findings_whose_recipe_is_a_decision_are_listed_with_why_and_left_as_written() {
    for (id, why) in [
        ("compat-required-column-added", "value every old row gets"),
        ("column-type-rewrite", "name of its own"),
        ("compat-type-changed", "name of its own"),
    ] {
        let copy = Copy::of(&fixture(id), "decision");
        let before = texts(&copy.0);
        let outcome = fix_project(
            &Project::load(&copy.0).expect("loads"),
            &FixOptions::default(),
        )
        .expect("runs");
        assert!(outcome.changes.is_empty(), "{id}: {}", outcome.diff());
        let left = outcome
            .unfixed
            .iter()
            .find(|u| u.diagnostic.rule == id)
            .unwrap_or_else(|| panic!("{id}: not listed"));
        assert!(left.why.contains(why), "{id}: {}", left.why);
        assert!(!left.diagnostic.help.is_empty(), "{id}: no recipe");
        let dir = copy.0.to_string_lossy().into_owned();
        let code = concertina_runtime::cli::run_from(
            [
                "migrate",
                "fix",
                "--dir",
                dir.as_str(),
                "--write",
                "--database-url",
                "",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        );
        assert_eq!(code, ExitCode::from(1), "{id}: errors are left");
        assert_eq!(texts(&copy.0), before, "{id}");
    }
}

#[test]
fn a_migration_at_or_below_the_baseline_is_refused() {
    let copy = Copy::of(&fixture("index-not-concurrent"), "baseline");
    let project = Project::load(&copy.0).expect("loads");
    let options = FixOptions {
        migration: Some("0001".into()),
        ..FixOptions::default()
    };
    let err = fix_project(&project, &options).expect_err("refused");
    assert!(matches!(err, FixError::Applied { .. }), "{err}");
    assert!(err.to_string().contains("0001_base"), "{err}");
    assert!(err.to_string().contains("baseline"), "{err}");
    let unknown = FixOptions {
        migration: Some("0009".into()),
        ..FixOptions::default()
    };
    assert!(matches!(
        fix_project(&project, &unknown),
        Err(FixError::UnknownMigration { .. })
    ));
}

#[test]
fn a_migration_the_state_table_records_is_refused_and_left_as_it_is() {
    // A warning-level finding the runtime applies anyway: the migration runs, then fix must
    // leave it alone.
    let copy = Copy::of(&fixture("drop-index-not-concurrent"), "applied");
    let db = TestDb::new("fix_applied").expect("test database");
    let mut conn = PgConnection::establish(&db.url).expect("connect");
    let base = std::fs::read_to_string(copy.0.join("0001_base/expand.sql")).expect("baseline");
    conn.batch_execute(&base).expect("the baseline runs");
    let mut m = Migrator::open(&copy.0, &db.url).expect("open");
    m.lock(None, |_| {}).expect("the migrator lock");
    m.adopt_baseline().expect("baseline adopted");
    m.apply_quietly(&[Phase::Expand, Phase::Backfill, Phase::Contract], None)
        .expect("applies");
    drop(m);
    let project = Project::load(&copy.0).expect("loads");
    let applied = concertina_runtime::cli::fix::applied_migrations(&project, &db.url)
        .expect("the state table reads");
    assert!(
        applied
            .get("0002")
            .is_some_and(|why| why.contains("state table")),
        "{applied:?}"
    );
    let options = FixOptions {
        applied,
        ..FixOptions::default()
    };
    let err = fix_project(&project, &options).expect_err("refused");
    assert!(
        matches!(err, FixError::Applied { ref dir_name, .. } if dir_name == "0002_change"),
        "{err}"
    );
    let before = texts(&copy.0);
    let dir = copy.0.to_string_lossy().into_owned();
    let run = |extra: &[&str]| {
        let mut args = vec!["migrate", "fix", "--dir", dir.as_str(), "--write"];
        args.extend_from_slice(extra);
        concertina_runtime::cli::run_from(args.into_iter().map(String::from).collect())
    };
    assert_eq!(run(&["--database-url", &db.url]), ExitCode::from(2));
    assert_eq!(texts(&copy.0), before, "an applied migration was rewritten");
    // Without the database nothing says it ran: the rewrite goes ahead.
    assert_eq!(run(&["--database-url", ""]), ExitCode::SUCCESS);
    assert_ne!(texts(&copy.0), before);
}

#[test]
fn a_missing_directory_is_exit_2() {
    let code = concertina_runtime::cli::run_from(
        ["migrate", "fix", "--dir", "/nonexistent/concertina/fix"]
            .into_iter()
            .map(String::from)
            .collect(),
    );
    assert_eq!(code, ExitCode::from(2));
}
