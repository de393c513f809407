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
use concertina_codegen::fix::{fix_project, ColumnDecision, Decisions, FixError, FixOptions};
use concertina_codegen::model::Schema;
use concertina_codegen::{rules, Phase, Project};
use concertina_runtime::migrator::Migrator;
use concertina_runtime::testdb::TestDb;
use concertina_runtime::testdb_mysql::MySqlTestDb;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};

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

/// One fixture through `migrate fix`: the rule, its fixture, the snapshot's name and what
/// `fix` is told.
struct FixCase {
    rule: &'static str,
    fixture: PathBuf,
    snapshot: String,
    options: FixOptions,
}

/// What a rule's recipe needs to be told for its fixture (`--fill`, `--new-column`).
fn decisions_for(id: &str) -> Decisions {
    let parse = |given: &[&str]| -> Vec<ColumnDecision> {
        given
            .iter()
            .map(|g| ColumnDecision::parse(g).expect("a decision"))
            .collect()
    };
    let (fills, new_columns): (&[&str], &[&str]) = match id {
        "compat-required-column-added" => (&["users.tenant_id=1"], &[]),
        "compat-type-changed" => (&[], &["users.age=age_years"]),
        "column-type-rewrite" => (&[], &["payments.amount_cents=amount"]),
        "mysql-column-type-copy" => (&[], &["users.name=display_name"]),
        "mysql-null-to-not-null" => (&["users.name='(none)'"], &[]),
        _ => (&[], &[]),
    };
    Decisions {
        fills: parse(fills),
        new_columns: parse(new_columns),
    }
}

/// Every rule with a fix on its own fixture, and the other dialect's shape of a recipe where
/// it has its own fixture (`tests/fixtures/fix/<id>-mysql/`).
fn fix_cases() -> Vec<FixCase> {
    let mut cases = Vec::new();
    for id in rules::all_rules()
        .into_iter()
        .filter(|r| r.fix.is_some())
        .map(|r| r.id)
    {
        let options = FixOptions {
            decisions: decisions_for(id),
            ..FixOptions::default()
        };
        let mysql = root()
            .join("tests/fixtures/fix")
            .join(format!("{id}-mysql"));
        if mysql.is_dir() {
            cases.push(FixCase {
                rule: id,
                fixture: mysql,
                snapshot: format!("fix_{}_mysql", id.replace('-', "_")),
                options: options.clone(),
            });
        }
        cases.push(FixCase {
            rule: id,
            fixture: fixture(id),
            snapshot: format!("fix_{}", id.replace('-', "_")),
            options,
        });
    }
    cases
}

#[test]
fn every_rule_with_a_fix_fixes_its_failing_fixture_and_the_result_applies() {
    let cases = fix_cases();
    assert!(cases.len() >= 17, "{}", cases.len());
    for case in cases {
        let id = case.rule;
        let copy = Copy::of(&case.fixture, id);
        let dir = copy.0.as_path();
        let original = Project::load(dir).expect("loads").check();
        assert!(
            original
                .diagnostics
                .iter()
                .any(|d| d.rule == id && (d.fixable || has_decisions(&case.options))),
            "{id}: the fixture's finding is not fixable: {:?}",
            original.diagnostics
        );

        let outcome = fix_project(&Project::load(dir).expect("loads"), &case.options)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        insta::assert_snapshot!(case.snapshot.as_str(), outcome.diff());
        outcome.write().unwrap_or_else(|e| panic!("{id}: {e}"));

        let fixed = Project::load(dir).expect("fixed loads").check();
        let left: Vec<&str> = fixed
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.rule.as_str())
            .collect();
        // `mysql-null-to-not-null` in contract is the expected step: the rebuild it warns of
        // is left.
        let warns_in_contract = id == "mysql-null-to-not-null";
        assert!(
            !fixed
                .diagnostics
                .iter()
                .any(|d| d.rule == id && (d.is_error() || !warns_in_contract)),
            "{id}: still reported after fix: {:?}",
            fixed.diagnostics
        );
        assert_eq!(left, expected_left(id), "{id}: {:?}", fixed.diagnostics);

        let again = fix_project(&Project::load(dir).expect("loads"), &case.options)
            .expect("second fix runs");
        assert!(
            again.changes.is_empty(),
            "{id}: a second fix changes:\n{}",
            again.diff()
        );

        // A type change's recipe ends with the new column under the name it was given.
        let mut meant = original.latest();
        for d in &case.options.decisions.new_columns {
            rename_column(
                std::sync::Arc::make_mut(&mut meant),
                &d.table,
                &d.column,
                &d.value,
            );
        }
        let mut fixed_schema = as_the_server_has_it(&fixed.latest());
        if id == "domain-constraint-validating" {
            fixed_schema = without_the_domain_recipes_checks(&meant, fixed_schema);
        }
        assert_eq!(
            as_the_server_has_it(&meant),
            fixed_schema,
            "{id}: the fixed migrations end in another schema than the original"
        );

        apply_on_server(dir, id, &fixed, data_for(&case.snapshot));
    }
}

/// Rows in the baseline before the fixed migration runs, a query over them after it, and what
/// it reads: the recipe's backfill moved the data (the fixture tables are empty otherwise).
/// The query reads one text column named `text`.
fn data_for(snapshot: &str) -> Option<[&'static str; 3]> {
    Some(match snapshot {
        // The original fails here on PostgreSQL: a NOT NULL column without default.
        "fix_compat_required_column_added" => [
            "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b')",
            "SELECT string_agg(tenant_id::text, ',' ORDER BY id) AS text FROM users",
            "1,1",
        ],
        "fix_compat_type_changed" => [
            "INSERT INTO users (id, name, age) VALUES (1, 'a', 41)",
            "SELECT age_years::text AS text FROM users",
            "41",
        ],
        "fix_column_type_rewrite" => [
            "INSERT INTO payments (id, amount_cents) VALUES (1, 1234)",
            "SELECT amount::text AS text FROM payments",
            "12.34",
        ],
        "fix_compat_column_removed" => [
            "INSERT INTO users (id, name) VALUES (1, 'Al')",
            "SELECT full_name AS text FROM users",
            "Al",
        ],
        "fix_compat_column_removed_mysql" => [
            "INSERT INTO customers (name) VALUES ('Bo')",
            "SELECT full_name AS text FROM customers",
            "Bo",
        ],
        "fix_compat_required_column_added_mysql" => [
            "INSERT INTO users (name) VALUES ('a'), ('b')",
            "SELECT CAST(group_concat(tenant_id ORDER BY id) AS CHAR) AS text FROM users",
            "1,1",
        ],
        "fix_data_change_outside_backfill" => [
            "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b')",
            "SELECT string_agg(status, ',' ORDER BY id) AS text FROM users",
            "active,active",
        ],
        "fix_data_change_outside_backfill_mysql" => [
            "INSERT INTO users (name) VALUES ('a'), ('b')",
            "SELECT CAST(group_concat(status ORDER BY id) AS CHAR) AS text FROM users",
            "active,active",
        ],
        "fix_unbatched_data_change" => [
            "INSERT INTO users (id, name, email) VALUES (1, 'a', 'Ann@Example.COM')",
            "SELECT email_lower AS text FROM users",
            "ann@example.com",
        ],
        "fix_unbatched_data_change_mysql" => [
            "INSERT INTO users (name, email) VALUES ('a', 'Ann@Example.COM')",
            "SELECT email_lower AS text FROM users",
            "ann@example.com",
        ],
        "fix_mysql_null_to_not_null" => [
            "INSERT INTO users (email, name) VALUES ('a@example.com', NULL), ('b@example.com', 'Bea')",
            "SELECT group_concat(name ORDER BY id SEPARATOR ',') AS text FROM users",
            "(none),Bea",
        ],
        "fix_mysql_column_type_copy" => [
            "INSERT INTO users (email, name) VALUES ('ann@example.com', 'Ann')",
            "SELECT display_name AS text FROM users",
            "Ann",
        ],
        _ => return None,
    })
}

#[derive(diesel::QueryableByName)]
struct OneText {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    text: Option<String>,
}

fn has_decisions(options: &FixOptions) -> bool {
    options.decisions != Decisions::default()
}

fn rename_column(schema: &mut Schema, table: &str, from: &str, to: &str) {
    for (name, t) in schema.tables.iter_mut() {
        if name.name == table {
            let t = std::sync::Arc::make_mut(t);
            for c in &mut t.columns {
                if c.name == from {
                    c.name = to.to_string();
                }
            }
        }
    }
}

/// The schema without how a constraint was written: `UNIQUE USING INDEX i` leaves the same
/// constraint and index on the server as `UNIQUE (cols)`, and the model keeps both indexes.
/// Columns compare by name, not position: the rename recipe adds the new column last, where
/// the rename kept its place (only `SELECT *` sees the difference).
/// MySQL's count of INSTANT column changes per table is how the schema was reached, not what
/// it is: the recipes take more steps (a column added, then dropped).
fn as_the_server_has_it(schema: &Schema) -> Schema {
    let mut schema = schema.clone();
    schema.instant_row_versions.clear();
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
fn apply_on_server(
    dir: &Path,
    id: &str,
    fixed: &concertina_codegen::Report,
    data: Option<[&str; 3]>,
) {
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
    let (mut pg, mut my) = (None, None);
    let url;
    if fixed.migrations.first().map(|m| m.window.after.dialect) == Some(DialectKind::Postgres) {
        let db = TestDb::new("fix").unwrap_or_else(|e| panic!("{id}: {e}"));
        let mut conn = PgConnection::establish(&db.url).expect("connect");
        conn.batch_execute(&base).expect("the baseline runs");
        if let Some([rows, ..]) = data {
            conn.batch_execute(rows).expect("the rows go in");
        }
        url = db.url.clone();
        pg = Some(db);
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
        let mut conn = db.conn().expect("connect");
        conn.batch_execute(&base).expect("the baseline runs");
        if let Some([rows, ..]) = data {
            conn.batch_execute(rows).expect("the rows go in");
        }
        url = db.url.clone();
        my = Some(db);
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
    if let Some([_, query, expected]) = data {
        let read: Vec<OneText> = match (&pg, &my) {
            (Some(db), _) => diesel::sql_query(query)
                .load(&mut PgConnection::establish(&db.url).expect("connect"))
                .expect("read back"),
            (_, Some(db)) => diesel::sql_query(query)
                .load(&mut db.conn().expect("connect"))
                .expect("read back"),
            _ => unreachable!("one server"),
        };
        assert_eq!(read.len(), 1, "{id}");
        assert_eq!(read[0].text.as_deref(), Some(expected), "{id}: {query}");
    }
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
    for (id, why, flag) in [
        (
            "compat-required-column-added",
            "--fill users.tenant_id=EXPR",
            "--fill=users.tenant_id=1",
        ),
        (
            "column-type-rewrite",
            "--new-column payments.amount_cents=NAME",
            "--new-column=payments.amount_cents=amount",
        ),
        (
            "compat-type-changed",
            "--new-column users.age=NAME",
            "--new-column=users.age=age_years",
        ),
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
        // `migrate check` says which flag applies the recipe.
        let report = Project::load(&copy.0).expect("loads").check();
        let shown = concertina_codegen::render::human(&report, false);
        assert!(
            shown.contains(&format!(
                "`cargo xtask migrate fix {why}` applies this recipe"
            )),
            "{id}: {shown}"
        );
        let dir = copy.0.to_string_lossy().into_owned();
        let code = run_fix(&dir, &["--write"]);
        assert_eq!(code, ExitCode::from(1), "{id}: errors are left");
        assert_eq!(texts(&copy.0), before, "{id}");

        // Told what it needs, the same command writes the recipe and leaves no error.
        let code = run_fix(&dir, &["--write", flag]);
        assert_eq!(code, ExitCode::SUCCESS, "{id}: {flag}");
        assert_ne!(texts(&copy.0), before, "{id}: {flag} wrote nothing");
        let report = Project::load(&copy.0).expect("loads").check();
        assert!(
            !report.diagnostics.iter().any(|d| d.is_error()),
            "{id}: {:?}",
            report.diagnostics
        );
    }
}

/// `migrate fix --dir DIR ARGS…` through the CLI, with no database (an empty
/// `--database-url`, whatever the environment says).
fn run_fix(dir: &str, args: &[&str]) -> ExitCode {
    let mut all = vec!["migrate", "fix", "--dir", dir];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", ""]);
    concertina_runtime::cli::run_from(all.into_iter().map(String::from).collect())
}

#[test]
fn a_decision_that_is_not_a_column_is_a_usage_error() {
    let copy = Copy::of(&fixture("compat-required-column-added"), "baddecision");
    let before = texts(&copy.0);
    let dir = copy.0.to_string_lossy().into_owned();
    let code = run_fix(&dir, &["--write", "--fill", "tenant_id=1"]);
    assert_eq!(code, ExitCode::from(2));
    assert_eq!(texts(&copy.0), before);
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

#[test]
fn the_rename_recipe_rewrites_its_down_and_both_run_on_the_server() {
    let copy = Copy::of(&root().join("tests/fixtures/fix/rename-with-down"), "down");
    let dir = copy.0.as_path();
    let outcome =
        fix_project(&Project::load(dir).expect("loads"), &FixOptions::default()).expect("fix runs");
    insta::assert_snapshot!("fix_rename_with_down", outcome.diff());
    outcome.write().expect("writes");
    let fixed = Project::load(dir).expect("loads").check();
    assert_eq!(fixed.errors(), 0, "{:?}", fixed.diagnostics);

    let db = TestDb::new("fixdown").expect("test database");
    let mut conn = PgConnection::establish(&db.url).expect("connect");
    let base = std::fs::read_to_string(dir.join("0001_base/expand.sql")).expect("baseline");
    conn.batch_execute(&base).expect("the baseline runs");
    conn.batch_execute("INSERT INTO articles (id, title) VALUES (1, 'Hello'), (2, 'World')")
        .expect("rows");
    let mut m = Migrator::open(dir, &db.url).expect("opens");
    m.lock(None, |_| {}).expect("the migrator lock");
    m.adopt_baseline().expect("baseline adopted");
    m.apply_quietly(&[Phase::Expand, Phase::Backfill], None)
        .expect("expand and backfill apply");
    let copied: Vec<(i64, Option<String>)> =
        diesel::sql_query("SELECT id, headline AS text FROM articles ORDER BY id")
            .load::<IdText>(&mut conn)
            .expect("read back")
            .into_iter()
            .map(|r| (r.id, r.text))
            .collect();
    assert_eq!(
        copied,
        [
            (1, Some("Hello".to_string())),
            (2, Some("World".to_string()))
        ]
    );
    m.down(|_, _, _| {}).expect("the rewritten down runs");
    let columns: Vec<String> = diesel::sql_query(
        "SELECT 0::bigint AS id, column_name::text AS text FROM information_schema.columns \
         WHERE table_name = 'articles' ORDER BY ordinal_position",
    )
    .load::<IdText>(&mut conn)
    .expect("columns")
    .into_iter()
    .filter_map(|r| r.text)
    .collect();
    assert_eq!(columns, ["id", "title", "body"]);
    let title_required: Vec<IdText> = diesel::sql_query(
        "SELECT 0::bigint AS id, is_nullable::text AS text FROM information_schema.columns \
         WHERE table_name = 'articles' AND column_name = 'title'",
    )
    .load(&mut conn)
    .expect("nullability");
    assert_eq!(title_required[0].text.as_deref(), Some("NO"));
}

#[derive(diesel::QueryableByName)]
struct IdText {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    text: Option<String>,
}
