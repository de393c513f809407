//! Snapshots of the generated types for a small directory (tests/fixtures/typegen): the
//! versions, the window's transition types, reuse of unchanged tables, enums and `RunsOn`.

use std::path::Path;

use concertina_codegen::typegen::{self, Features, Options};
use concertina_codegen::Project;

fn generated(dir: &str, features: Features) -> Result<String, Vec<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let project = Project::load(&dir).expect("fixture loads");
    let report = project.check();
    assert_eq!(report.errors(), 0, "{:#?}", report.diagnostics);
    let options = Options {
        module: "db".into(),
        features,
        versions: None,
    };
    match typegen::generate(&report, &project.config, &options) {
        Ok(tokens) => {
            let file: syn::File = syn::parse2(tokens).expect("generated code parses");
            Ok(prettyplease::unparse(&file))
        }
        Err(errors) => Err(errors.iter().map(|e| e.to_string()).collect()),
    }
}

#[test]
fn generated_code_for_a_small_directory() {
    let code = generated("tests/fixtures/typegen", Features::ALL).expect("maps");
    insta::assert_snapshot!(code);
}

#[test]
fn the_window_reads_a_renamed_column_through_both_names_and_writes_both() {
    let code = generated("tests/fixtures/typegen", Features::ALL).expect("maps");
    let window = &code[code.find("pub mod window").expect("a window module")..];
    assert!(
        window.contains("COALESCE(\\\"users\\\".\\\"full_name\\\", \\\"users\\\".\\\"name\\\")"),
        "{window}"
    );
    // One `full_name` field, required (the old version required `name`), written to both.
    assert!(window.contains("name: &self.full_name"), "{window}");
    assert!(window.contains("full_name: &self.full_name"), "{window}");
}

#[test]
fn a_type_behind_a_disabled_feature_is_an_error_naming_column_and_feature() {
    let features = Features {
        chrono: false,
        ..Features::ALL
    };
    let errors = generated("tests/fixtures/typegen", features).expect_err("needs chrono");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("users.created_at"), "{}", errors[0]);
    assert!(errors[0].contains("`chrono`"), "{}", errors[0]);
}

#[test]
fn versions_limits_the_generated_modules_to_the_last_migrations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/typegen");
    let project = Project::load(&dir).expect("fixture loads");
    let report = project.check();
    let options = Options {
        module: "db".into(),
        features: Features::ALL,
        versions: Some(1),
    };
    let code = typegen::generate(&report, &project.config, &options)
        .expect("maps")
        .to_string();
    assert!(code.contains("pub mod v0003_status_enum"), "{code}");
    assert!(!code.contains("pub mod v0001_create"), "{code}");
    assert!(!code.contains("pub mod v0002_rename_name"), "{code}");
    assert!(
        code.contains("pub use self :: v0003_status_enum as latest"),
        "{code}"
    );
}

#[test]
fn a_table_wider_than_diesel_allows_is_one_error_naming_the_feature() {
    let narrow = Features {
        max_columns: 32,
        ..Features::ALL
    };
    let errors = generated("tests/fixtures/derive/wide", narrow).expect_err("40 columns");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("`site_settings` has 40 columns"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("`64-column-tables`"), "{}", errors[0]);
    let wide = Features {
        max_columns: 64,
        ..Features::ALL
    };
    let code = generated("tests/fixtures/derive/wide", wide).expect("64 columns allowed");
    assert!(code.contains("attr_39"), "{code}");
}

#[test]
fn tables_keyed_to_each_other_get_one_joinable() {
    let code = generated("tests/fixtures/derive/keys", Features::ALL).expect("maps");
    let joinables: Vec<&str> = code.lines().filter(|l| l.contains("joinable!")).collect();
    let between = |a: &str, b: &str| {
        joinables
            .iter()
            .filter(|l| l.contains(a) && l.contains(b))
            .count()
    };
    assert_eq!(between("teams", "members"), 1, "{joinables:#?}");
    assert_eq!(between("comments", "members"), 1, "{joinables:#?}");
    assert!(
        !joinables.iter().any(|l| l.contains("comments -> comments")),
        "{joinables:#?}"
    );
}

#[test]
fn an_untyped_create_table_as_column_asks_for_a_cast() {
    let errors = generated("tests/fixtures/typegen_ctas", Features::ALL).expect_err("untyped");
    // `region` comes from `sales`, `sales` from its cast; `total` is an aggregate.
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("`region_totals.total`") && errors[0].contains("cast it in the query"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_type_change_written_as_a_new_column_writes_each_column_on_its_own() {
    // `SET age_years = age` moves `age` (int4, i32) into `age_years` (int8, i64): one field
    // cannot write both, so the window has a field for each and reads no COALESCE of them.
    let code = generated("tests/fixtures/typegen-type-change", Features::ALL).expect("maps");
    let window = &code[code.find("pub mod window").expect("a window module")..];
    assert!(!window.contains("COALESCE"), "{window}");
    assert!(
        window.contains("pub age: ::core::option::Option<i32>,"),
        "{window}"
    );
    assert!(
        window.contains("pub age_years: ::core::option::Option<i64>,"),
        "{window}"
    );
}
