//! Every rule has an unsafe fixture directory `tests/fixtures/rules/<rule-id>/` that must fail
//! with that rule, and the example migrations must pass.

use std::path::{Path, PathBuf};

use concertina_codegen::{rules, Project, Severity};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
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
