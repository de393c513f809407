//! concertina reads a diesel migrations directory as diesel_migrations itself does: the same
//! migrations, the same versions, in the order diesel runs them, with the same
//! `run_in_transaction`; and what diesel refuses, concertina refuses.
//!
//! diesel's side is `FileBasedMigrations` listed through `MigrationSource::migrations()`, sorted
//! by `MigrationVersion`'s own `Ord` exactly as `MigrationHarness::pending_migrations` sorts
//! pending migrations before running them.

use std::path::{Path, PathBuf};

use concertina_codegen::layout::{self, Layout};
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_migrations::FileBasedMigrations;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/diesel")
        .join(name)
}

/// (directory name, version, run_in_transaction) in the order diesel runs them.
fn diesel_reading(dir: &Path) -> Result<Vec<(String, String, bool)>, String> {
    let source = FileBasedMigrations::from_path(dir).map_err(|e| e.to_string())?;
    let mut migrations = MigrationSource::<Pg>::migrations(&source).map_err(|e| e.to_string())?;
    // MigrationHarness::pending_migrations: `sort_unstable_by` on `name().version()`.
    migrations.sort_unstable_by(|a, b| a.name().version().cmp(&b.name().version()));
    Ok(migrations
        .iter()
        .map(|m| {
            (
                m.name().to_string(),
                m.name().version().to_string(),
                m.metadata().run_in_transaction(),
            )
        })
        .collect())
}

fn concertina_reading(dir: &Path) -> Result<Vec<(String, String, bool)>, String> {
    let set = layout::discover(dir).map_err(|e| e.to_string())?;
    Ok(set
        .migrations
        .iter()
        .map(|m| (m.dir_name.clone(), m.diesel_version(), m.run_in_transaction))
        .collect())
}

#[test]
fn the_same_migrations_versions_order_and_metadata_as_diesel() {
    let dir = fixture("accepted");
    let diesel = diesel_reading(&dir).expect("diesel_migrations lists the fixture");
    let concertina = concertina_reading(&dir).expect("concertina reads the fixture");
    assert_eq!(concertina, diesel);
    // Spelled out, so that a change in diesel's reading shows here rather than moving both
    // sides silently: text order of the versions with their dashes removed.
    let names: Vec<&str> = diesel.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "00000000000000_diesel_initial_setup",
            "10_longer_digits",
            "2019-03-04-101500_create_widgets",
            "2020-1-15-000000_unpadded_month",
            "2020-12-10-090000_padded_day",
            "2020-12-7-190800_unpadded_day",
            "20210405060708_plain_digits",
            "2025-11-19-091444_no_suffix",
            "2025-11-19-091444-0000_counter_suffix",
            "2025-11-19-091444-0001_same_second",
            "2025-12-01-080000_metadata_without_the_key",
            "9_short_digits",
        ]
    );
    let counter = &diesel[8];
    assert_eq!(counter.1, "202511190914440000");
    assert!(!counter.2, "metadata.toml says run_in_transaction = false");
    assert!(
        !diesel[10].2,
        "a metadata.toml without the key is false for diesel"
    );
    assert!(diesel[9].2 && diesel[0].2);

    let set = layout::discover(&dir).unwrap();
    assert!(set.migrations.iter().all(|m| m.layout == Layout::Diesel));
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
}

#[test]
fn what_diesel_refuses_concertina_refuses() {
    // A migration directory without up.sql.
    let dir = fixture("refused");
    let diesel = diesel_reading(&dir).unwrap_err();
    assert!(diesel.contains("should contain up.sql"), "{diesel}");
    let concertina = concertina_reading(&dir).unwrap_err();
    assert!(
        concertina.contains("2024-01-02-000000_no_up: holds no phase file")
            && concertina.contains("or up.sql for a diesel migration"),
        "{concertina}"
    );
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_is_refused_by_both() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "concertina-diesel-compat-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(dir.join("2024-01-01-000000_fine")).unwrap();
    std::fs::write(dir.join("2024-01-01-000000_fine/up.sql"), "SELECT 1;").unwrap();
    std::os::unix::fs::symlink(dir.join("missing"), dir.join("2024-01-02-000000_dangling"))
        .unwrap();
    let diesel = diesel_reading(&dir);
    let concertina = concertina_reading(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(diesel.is_err(), "{diesel:?}");
    let concertina = concertina.unwrap_err();
    assert!(
        concertina.contains("2024-01-02-000000_dangling: is a symlink that leads nowhere"),
        "{concertina}"
    );
}
