//! Snapshots of what `migrate check` prints for a directory mixing errors, warnings,
//! suppressions and an unparsable statement: the human (rustc-like) and the JSON format.

use std::path::Path;

use concertina_codegen::{render, Project};

fn mixed() -> concertina_codegen::Report {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mixed");
    Project::load(&dir).expect("fixture loads").check()
}

#[test]
fn human_output() {
    insta::assert_snapshot!(render::human(&mixed(), false));
}

#[test]
fn json_output() {
    let report = mixed();
    let json: serde_json::Value =
        serde_json::from_str(&render::json(&report.diagnostics)).expect("valid JSON");
    insta::assert_snapshot!(serde_json::to_string_pretty(&json).expect("pretty JSON"));
}
