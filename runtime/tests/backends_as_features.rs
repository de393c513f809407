//! Backends are cargo features, as diesel's are: a PostgreSQL-only app links no MySQL client
//! library and the reverse. Read from cargo's own dependency resolution (`cargo tree`), for
//! the facade and the runtime, so a dependency that drags the other client in fails here.

use std::process::Command;

/// The normal and build dependencies of `package` with only `features`, one name per line.
fn tree(package: &str, features: &str) -> String {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--manifest-path",
            manifest,
            "-p",
            package,
            "--no-default-features",
            "--features",
            features,
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_postgres_only_build_links_no_mysql_client() {
    for package in ["concertina", "concertina-runtime"] {
        let deps = tree(package, "postgres");
        assert!(deps.contains("pq-sys"), "{package}: {deps}");
        assert!(!deps.contains("mysqlclient-sys"), "{package}: {deps}");
    }
}

#[test]
fn a_mysql_only_build_links_no_libpq() {
    for package in ["concertina", "concertina-runtime"] {
        let deps = tree(package, "mysql");
        assert!(deps.contains("mysqlclient-sys"), "{package}: {deps}");
        assert!(!deps.contains("pq-sys"), "{package}: {deps}");
    }
}
