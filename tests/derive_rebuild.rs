//! Rebuild tracking of `#[derive(Migration)]`: in a crate of its own, editing a phase file,
//! changing `concertina.toml` and adding a migration directory (with the documented
//! `build.rs`) each make cargo run the derive again, so an unsafe change fails the next build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn build(krate: &Path, target: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--offline"])
        .current_dir(krate)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn editing_or_adding_migrations_reruns_the_derive() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let krate = root.join("target/derive-rebuild/app");
    let target = root.join("target/derive-rebuild/target");
    let _ = std::fs::remove_dir_all(&krate);
    write(
        &krate.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"rebuild-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nconcertina-macros = {{ path = {:?} }}\n\n[workspace]\n",
            root.join("macros")
        ),
    );
    write(
        &krate.join("src/lib.rs"),
        "#[derive(concertina_macros::Migration)]\n#[migration(dir = \"migrations\", types = false)]\npub struct Db;\n",
    );
    let config = "dialect = \"postgres\"\nserver_version = \"14\"\n";
    write(&krate.join("migrations/concertina.toml"), config);
    write(
        &krate.join("migrations/0001_users/expand.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    );
    let expand = krate.join("migrations/0002_status/expand.sql");
    write(&expand, "ALTER TABLE users ADD COLUMN status text;\n");

    let (ok, err) = build(&krate, &target);
    assert!(ok, "the safe crate builds: {err}");

    // Editing a phase file: an unsafe statement fails the next build, the fix passes.
    write(&expand, "ALTER TABLE users ADD COLUMN status text;\nCREATE INDEX users_status_idx ON users (status);\n");
    let (ok, err) = build(&krate, &target);
    assert!(!ok, "the edited file is checked again");
    assert!(
        err.contains("migrations/0002_status/expand.sql:2:1"),
        "{err}"
    );
    write(
        &expand,
        "ALTER TABLE users ADD COLUMN status text DEFAULT 'new';\n",
    );
    let (ok, err) = build(&krate, &target);
    assert!(ok, "a constant default is safe on 14: {err}");

    // Changing concertina.toml: on PostgreSQL 10 that default rewrites the table.
    write(
        &krate.join("migrations/concertina.toml"),
        &config.replace("\"14\"", "\"10\""),
    );
    let (ok, err) = build(&krate, &target);
    assert!(!ok, "server_version 10 makes the default unsafe");
    assert!(err.contains("add-column-default-old-server"), "{err}");
    write(&krate.join("migrations/concertina.toml"), config);
    let (ok, err) = build(&krate, &target);
    assert!(ok, "back to 14: {err}");

    // Adding a migration directory: a derive cannot watch a directory on stable Rust, so the
    // documented build.rs does (edits above were seen without it, through include_bytes!).
    write(
        &krate.join("build.rs"),
        "fn main() { println!(\"cargo:rerun-if-changed=migrations\"); }\n",
    );
    let (ok, err) = build(&krate, &target);
    assert!(ok, "with build.rs: {err}");
    write(
        &krate.join("migrations/0003_index/expand.sql"),
        "CREATE INDEX users_email_idx ON users (email);\n",
    );
    let (ok, err) = build(&krate, &target);
    assert!(!ok, "the new unsafe migration fails the build");
    assert!(
        err.contains("index-not-concurrent")
            && err.contains("migrations/0003_index/expand.sql:1:1"),
        "{err}"
    );

    // Fixing the file makes it build again.
    write(
        &krate.join("migrations/0003_index/expand.sql"),
        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
    );
    let (ok, err) = build(&krate, &target);
    assert!(ok, "fixed: {err}");
    let _ = std::fs::remove_dir_all(&krate);
}
