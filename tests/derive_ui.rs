//! Compile-fail and compile-pass behaviour of `#[derive(Migration)]` (trybuild, reviewed
//! `.stderr` files in tests/ui/): the example migrations, generated types, transition types,
//! `RunsOn`, and every rule's failing fixture (tests/ui/rules/).

use std::path::Path;

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
    t.compile_fail("tests/ui/rules/*.rs");
}

/// A new rule fixture without its derive case would go untested through the compiler.
#[test]
fn every_rule_fixture_has_a_derive_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("tests/fixtures/rules")).expect("rule fixtures") {
        let id = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let case = root.join(format!("tests/ui/rules/{}.rs", id.replace('-', "_")));
        if !case.exists() {
            missing.push(case.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "write these trybuild cases: {missing:#?}"
    );
}
