//! The derive on a schema of a real project's size and shape, compiled as an app would: 70
//! tables, ten of them 53 columns wide (diesel's `64-column-tables`, forwarded by concertina's
//! feature of that name), two tables keyed to each other, a table keyed to itself, a custom
//! type mapped in `[types]`, ten migrations. The app joins, inserts into a wide table and uses
//! the custom type; the build must pass (E0119 for two `joinable!`, or diesel's cascade for a
//! wide table, failed it before).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const WIDE: usize = 10;
const TABLES: usize = 70;
const EXTRA_COLUMNS: usize = 50;

fn schema() -> String {
    let mut sql = String::new();
    for t in 0..TABLES {
        let mut cols = vec![
            "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY".to_string(),
            "name text NOT NULL".to_string(),
            "created_at timestamptz NOT NULL DEFAULT now()".to_string(),
        ];
        if t > 2 {
            cols.push(format!(
                "t{:02}_id bigint REFERENCES t{:02} (id)",
                t - 1,
                t - 1
            ));
        }
        if t < WIDE {
            cols.extend((0..EXTRA_COLUMNS).map(|c| format!("attr_{c:02} text")));
        }
        match t {
            0 => cols.push("t01_id bigint".into()),
            1 => cols.push("t00_id bigint REFERENCES t00 (id)".into()),
            2 => cols.push("parent_id bigint REFERENCES t02 (id)".into()),
            3 => cols.push("last_ip inet".into()),
            _ => {}
        }
        let _ = writeln!(sql, "CREATE TABLE t{t:02} (\n  {}\n);", cols.join(",\n  "));
    }
    sql.push_str(
        "ALTER TABLE t00 ADD CONSTRAINT t00_t01_fk FOREIGN KEY (t01_id) REFERENCES t01 (id);\n",
    );
    sql
}

#[test]
fn a_wide_schema_with_mutual_keys_compiles_with_the_feature_on() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let krate = root.join("target/derive-wide/app");
    let target = root.join("target/derive-wide/target");
    let _ = std::fs::remove_dir_all(&krate);
    write(
        &krate.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"wide-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nconcertina = {{ path = {:?}, default-features = false, features = [\"postgres\", \"chrono\", \"64-column-tables\"] }}\n\
             diesel = {{ version = \"2.3\", default-features = false, features = [\"postgres\", \"chrono\", \"64-column-tables\"] }}\n\n[workspace]\n",
            root
        ),
    );
    write(
        &krate.join("migrations/concertina.toml"),
        "dialect = \"postgres\"\nserver_version = \"14\"\n\n[types]\ninet = { sql = \"::diesel::sql_types::Text\", rust = \"::std::string::String\" }\n",
    );
    write(&krate.join("migrations/0001_schema/expand.sql"), &schema());
    for v in 2..=10 {
        write(
            &krate.join(format!("migrations/{v:04}_note_{v}/expand.sql")),
            &format!("ALTER TABLE t{:02} ADD COLUMN note_{v} text;\n", 20 + v),
        );
    }
    let extras: String = (0..EXTRA_COLUMNS)
        .map(|c| format!("attr_{c:02}: None, "))
        .collect();
    write(
        &krate.join("src/lib.rs"),
        &format!(
            "#[derive(concertina::Migration)]\n#[migration(dir = \"migrations\")]\npub struct Db;\n\n\
             use diesel::prelude::*;\n\n\
             pub fn queries() {{\n\
             use db::latest::{{t00, t01, t02, t03}};\n\
             let _ = t01::table.inner_join(t00::table).select((t01::id, t00::name));\n\
             let _ = t03::table.select(t03::last_ip);\n\
             let _ = t02::table.select(t02::parent_id);\n\
             let _ = diesel::insert_into(t00::table).values(db::latest::NewT00 {{ id: None, name: \"a\".into(), created_at: None, t01_id: None, {extras}}});\n\
             }}\n"
        ),
    );
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--offline"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the wide schema builds: {err}");
    eprintln!("wide app built in {:.1?}", started.elapsed());
}
