//! Every rule has an unsafe fixture directory `tests/fixtures/rules/<rule-id>/` that must fail
//! with that rule, every PostgreSQL one a safe counterpart `tests/fixtures/rules_safe/<rule-id>/`
//! (the same intent written the way the rule's recipe says) that must pass without it, and the
//! example migrations must pass.

use std::path::{Path, PathBuf};

use concertina_codegen::dialect::DialectKind;
use concertina_codegen::{rules, Project, Severity};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn safe_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules_safe")
}

/// The fixture directories under `root`, by name.
fn fixture_dirs(root: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.is_dir())
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("utf-8 name")
                .to_string();
            (name, path)
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_rule_fixture_reports_its_rule() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).expect("tests/fixtures/rules exists") {
        let dir = entry.expect("dir entry").path();
        if !dir.is_dir() {
            continue;
        }
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_string();
        let project = match Project::load(&dir) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{id}: cannot load: {e}"));
                continue;
            }
        };
        let report = project.check();
        let hit = report.diagnostics.iter().find(|d| d.rule == id);
        match hit {
            None => failures.push(format!(
                "{id}: not reported; got {:?}",
                report
                    .diagnostics
                    .iter()
                    .map(|d| &d.rule)
                    .collect::<Vec<_>>()
            )),
            Some(d) => {
                let rule = rules::all_rules().into_iter().find(|r| r.id == id);
                if let Some(rule) = rule {
                    // Rules whose severity depends on the phase may report a warning.
                    if rule.severity == Severity::Error && d.severity != Severity::Error {
                        failures.push(format!("{id}: reported as a warning"));
                    }
                }
                assert!(!d.help.is_empty(), "{id}: diagnostic without a recipe");
            }
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "fixture failures:\n{}",
        failures.join("\n")
    );
    assert!(checked > 0, "no fixtures found");
}

#[test]
fn every_rule_has_a_fixture() {
    let missing: Vec<&str> = rules::all_rules()
        .iter()
        .map(|r| r.id)
        .filter(|id| !fixtures().join(id).is_dir())
        .collect();
    assert!(missing.is_empty(), "rules without a fixture: {missing:?}");
}

#[test]
fn example_migrations_pass_the_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let report = Project::load(&dir)
        .expect("example migrations load")
        .check();
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}:{}: {} {}", d.file, d.line, d.rule, d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(
        report.migrations.len() >= 6,
        "the examples cover the article's scenarios"
    );
}

#[test]
fn every_safe_fixture_passes_without_its_rule() {
    // Statement rules, and the ids the checker reports itself (`unterminated-token`,
    // `unknown-server-version`, …), which have unsafe fixtures too.
    let ids: Vec<&str> = rules::all_rules()
        .iter()
        .map(|r| r.id)
        .chain(rules::CHECKER_IDS.iter().map(|(id, _, _)| *id))
        .collect();
    let mut failures = Vec::new();
    let dirs = fixture_dirs(&safe_fixtures());
    for (id, dir) in &dirs {
        if !ids.contains(&id.as_str()) {
            failures.push(format!("{id}: no rule has this id"));
            continue;
        }
        let project = match Project::load(dir) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{id}: cannot load: {e}"));
                continue;
            }
        };
        let report = project.check();
        for d in &report.diagnostics {
            if d.is_error() || d.rule == *id {
                failures.push(format!(
                    "{id}: {}:{}: {:?}[{}] {}",
                    d.file, d.line, d.severity, d.rule, d.message
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "safe fixture failures:\n{}",
        failures.join("\n")
    );
    assert!(!dirs.is_empty(), "no safe fixtures found");
}

#[test]
fn every_postgres_rule_fixture_has_a_safe_counterpart() {
    let mut missing = Vec::new();
    let mut postgres = 0;
    for (id, dir) in fixture_dirs(&fixtures()) {
        let project = Project::load(&dir).unwrap_or_else(|e| panic!("{id}: cannot load: {e}"));
        if project.config.dialect != DialectKind::Postgres {
            continue;
        }
        postgres += 1;
        if !safe_fixtures().join(&id).is_dir() {
            missing.push(id);
        }
    }
    assert!(postgres > 0, "no PostgreSQL rule fixtures found");
    assert!(
        missing.is_empty(),
        "PostgreSQL rule fixtures without a safe counterpart in tests/fixtures/rules_safe: {missing:?}"
    );
}
