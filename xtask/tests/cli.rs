//! `cargo xtask migrate check` as a user runs it: exit codes, one-line errors for bad input,
//! the JSON contract, and the README's generated rule table.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the xtask binary")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "concertina-cli-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn write(&self, rel: &str, contents: &[u8]) -> &Self {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
        self
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CONFIG: &[u8] = b"dialect = \"postgres\"\nserver_version = \"14\"\n";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Bad input: exit 2 and exactly one line that names the path and the fix.
fn assert_bad_input(o: &Output, path_part: &str, fix_part: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(
        err.contains(path_part),
        "names the path `{path_part}`: {err}"
    );
    assert!(err.contains(fix_part), "names the fix `{fix_part}`: {err}");
    assert!(o.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn missing_directory_is_exit_2() {
    let o = xtask(&[
        "migrate",
        "check",
        "--dir",
        "/nonexistent/concertina-migrations",
    ]);
    assert_bad_input(&o, "/nonexistent/concertina-migrations", "--dir");
}

#[test]
fn empty_directory_lacks_config() {
    let t = TempDir::new("empty");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "concertina.toml", "server_version");
}

#[test]
fn unknown_dialect_names_the_choices() {
    let t = TempDir::new("dialect");
    t.write(
        "concertina.toml",
        b"dialect = \"sqlite\"\nserver_version = \"3\"\n",
    );
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "concertina.toml", "\"postgres\"");
}

#[test]
fn unknown_config_key_is_named() {
    let t = TempDir::new("key");
    t.write(
        "concertina.toml",
        b"dialect = \"postgres\"\nserver_version = \"14\"\nlock_timeout = \"1s\"\n",
    );
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "concertina.toml", "lock_timeout");
}

#[test]
fn version_typo_in_directory_name() {
    let t = TempDir::new("typo");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int);")
        .write("00O2_add/expand.sql", b"ALTER TABLE a ADD COLUMN b int;");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "00O2_add", "rename it to <version>_<name>");
}

#[test]
fn duplicate_versions_are_refused() {
    let t = TempDir::new("dup");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int);")
        .write("001_again/expand.sql", b"CREATE TABLE b (id int);");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "001_again", "its own version");
}

#[test]
fn baseline_typo_is_refused() {
    let t = TempDir::new("baseline");
    t.write(
        "concertina.toml",
        b"dialect = \"postgres\"\nserver_version = \"14\"\nbaseline = \"0009\"\n",
    )
    .write("0001_init/expand.sql", b"CREATE TABLE a (id int);");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "concertina.toml", "\"0001\"");
}

#[test]
fn invalid_utf8_names_the_file() {
    let t = TempDir::new("utf8");
    t.write("concertina.toml", CONFIG).write(
        "0001_init/expand.sql",
        b"CREATE TABLE a (note text DEFAULT '\xff\xfe');",
    );
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "0001_init/expand.sql", "UTF-8");
}

#[test]
fn unreadable_file_names_the_file() {
    let t = TempDir::new("unreadable");
    t.write("concertina.toml", CONFIG);
    std::fs::create_dir_all(t.0.join("0001_init")).expect("mkdir");
    // A dangling symlink cannot be read, even by root (file modes do not stop root).
    std::os::unix::fs::symlink(
        Path::new("/nonexistent/concertina.sql"),
        t.0.join("0001_init/expand.sql"),
    )
    .expect("symlink");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "0001_init/expand.sql", "readable");
}

#[test]
fn migration_without_phase_file_is_refused() {
    let t = TempDir::new("nophase");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/notes.txt", b"nothing here");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "0001_init", "expand.sql");
}

#[test]
fn usage_error_is_exit_2() {
    let o = xtask(&["migrate", "check", "--format", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("xml"));
}

#[test]
fn help_is_exit_0_and_lists_commands() {
    let o = xtask(&["migrate", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("check"), "{out}");
    assert!(out.contains("rules"), "{out}");
}

#[test]
fn clean_directory_is_exit_0_and_errors_are_exit_1() {
    let t = TempDir::new("exit");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int);\n");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    t.write(
        "0002_index/expand.sql",
        b"-- a comment\nCREATE INDEX a_id ON a (id);\n",
    );
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("error[index-not-concurrent]"), "{out}");
    assert!(out.contains("--> 0002_index/expand.sql:2:1"), "{out}");
    assert!(out.contains("= help:"), "{out}");
}

#[test]
fn json_has_exactly_the_documented_shape() {
    let t = TempDir::new("json");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int);\n")
        .write("0002_index/expand.sql", b"CREATE INDEX a_id ON a (id);\n");
    let o = xtask(&["migrate", "check", "--dir", t.path(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let diags = v["diagnostics"].as_array().expect("diagnostics array");
    assert_eq!(v.as_object().map(|o| o.len()), Some(1));
    let d = diags
        .iter()
        .find(|d| d["rule"] == "index-not-concurrent")
        .expect("the index diagnostic");
    // Key order as documented: read it from the raw text of the first object.
    let raw = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(raw.starts_with("{\"diagnostics\":[{\"rule\":\""), "{raw}");
    let first = &raw[..raw.find('}').expect("object end")];
    let positions: Vec<usize> = [
        "rule", "severity", "file", "line", "column", "message", "help",
    ]
    .iter()
    .map(|k| first.find(&format!("\"{k}\":")).expect("key present"))
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{first}");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "0002_index/expand.sql");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn readme_rule_table_is_current() {
    let o = xtask(&["readme", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn xtask_env(args: &[&str], url: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args).env("NO_COLOR", "1").env_remove("DATABASE_URL");
    if let Some(u) = url {
        c.env("DATABASE_URL", u);
    }
    c.output().expect("run the xtask binary")
}

#[test]
fn database_commands_need_a_database_and_never_print_its_password() {
    let t = TempDir::new("db");
    t.write("concertina.toml", CONFIG).write(
        "0001_init/expand.sql",
        b"CREATE TABLE a (id int PRIMARY KEY);\n",
    );
    let o = xtask_env(&["migrate", "status", "--dir", t.path()], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("set DATABASE_URL or pass --database-url"),
        "{}",
        stderr(&o)
    );
    let o = xtask_env(
        &["migrate", "up", "--dir", t.path()],
        Some("postgres://app:hunter2@127.0.0.1:1/prod"),
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "unreachable server: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(err.contains("postgres://app:***@127.0.0.1:1/prod"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let o = xtask_env(
        &["migrate", "status", "--dir", t.path(), "--format", "json"],
        Some("postgres://app:hunter2@127.0.0.1:1/prod"),
    );
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON error");
    assert!(v["error"].as_str().is_some_and(|e| !e.contains("hunter2")));
}

#[test]
fn contract_asks_for_confirmation() {
    let o = xtask_env(&["migrate", "contract"], Some("postgres://x@127.0.0.1:1/x"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));
}

#[test]
fn new_scaffolds_the_next_version() {
    let t = TempDir::new("new");
    t.write("concertina.toml", CONFIG).write(
        "0007_init/expand.sql",
        b"CREATE TABLE a (id int PRIMARY KEY);\n",
    );
    let o = xtask(&[
        "migrate",
        "new",
        "add_email",
        "--dir",
        t.path(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(
        v["created"]
            .as_str()
            .is_some_and(|p| p.ends_with("0008_add_email")),
        "{v}"
    );
    assert!(t.0.join("0008_add_email/expand.sql").exists());
    let o = xtask(&["migrate", "new", "add email!", "--dir", t.path()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn diesel_directory_names_check_as_diesel_runs_them() {
    // What current `diesel migration generate` writes, and an unpadded date diesel also runs.
    let t = TempDir::new("diesel-names");
    t.write("concertina.toml", CONFIG)
        .write(
            "2020-12-7-190800_create_things/up.sql",
            b"CREATE TABLE things (id bigint PRIMARY KEY);\n",
        )
        .write(
            "2020-12-7-190800_create_things/down.sql",
            b"DROP TABLE things;\n",
        )
        .write(
            "2025-11-19-091444-0000_add_note/up.sql",
            b"ALTER TABLE things ADD COLUMN note text;\n",
        )
        .write(
            "2025-11-19-091444-0000_add_note/metadata.toml",
            b"run_in_transaction = false\n",
        );
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // `new` keeps diesel's style of name in a diesel directory.
    let o = xtask(&[
        "migrate",
        "new",
        "add_size",
        "--dir",
        t.path(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let created = v["created"].as_str().expect("created path").to_string();
    let name = Path::new(&created)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a name");
    let version = name.strip_suffix("_add_size").expect("named after NAME");
    assert!(
        version.len() == 17
            && version
                .char_indices()
                .all(|(i, c)| if [4, 7, 10].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }),
        "diesel-style YYYY-MM-DD-HHMMSS expected: {name}"
    );
    // …and diesel's files, which diesel_migrations requires; the directory still checks.
    assert_eq!(v["files"], serde_json::json!(["up.sql", "down.sql"]), "{v}");
    assert!(Path::new(&created).join("up.sql").exists());
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn every_bad_directory_name_is_reported_in_one_run() {
    let t = TempDir::new("many-names");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int);");
    for i in 0..24 {
        t.write(&format!("v{i:02}_bad/expand.sql"), b"SELECT 1;");
    }
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(
        lines.len(),
        25,
        "a summary and one line per directory: {err}"
    );
    assert!(lines[0].contains("24 problems"), "{err}");
    for (i, line) in lines[1..].iter().enumerate() {
        assert!(line.contains(&format!("v{i:02}_bad")), "{line}");
        assert!(line.contains("rename it to <version>_<name>"), "{line}");
    }
    assert!(o.stdout.is_empty());
}

#[test]
fn a_fifo_phase_file_is_refused_not_waited_on() {
    let t = TempDir::new("fifo");
    t.write("concertina.toml", CONFIG);
    std::fs::create_dir_all(t.0.join("0001_init")).expect("mkdir");
    let status = Command::new("mkfifo")
        .arg(t.0.join("0001_init/expand.sql"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "0001_init/expand.sql", "named pipe");
}

#[test]
fn an_endless_phase_file_is_refused_not_read() {
    let t = TempDir::new("zero");
    t.write("concertina.toml", CONFIG);
    std::fs::create_dir_all(t.0.join("0001_init")).expect("mkdir");
    std::os::unix::fs::symlink("/dev/zero", t.0.join("0001_init/expand.sql")).expect("symlink");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "0001_init/expand.sql", "regular file");
}

#[test]
fn a_dangling_migration_symlink_is_refused() {
    let t = TempDir::new("dangling-dir");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int);");
    std::os::unix::fs::symlink(t.0.join("gone"), t.0.join("0002_gone")).expect("symlink");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(
        &o,
        "0002_gone",
        "point it at an existing migration directory",
    );
}

#[test]
fn lock_timeout_that_turns_the_timeout_off_is_refused_by_check() {
    for value in ["0ms", "500us"] {
        let t = TempDir::new("lock-timeout");
        t.write(
            "concertina.toml",
            format!("dialect = \"postgres\"\nserver_version = \"14\"\n[runtime]\nlock_timeout = \"{value}\"\n").as_bytes(),
        )
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int);\n");
        let o = xtask(&["migrate", "check", "--dir", t.path()]);
        assert_bad_input(&o, "concertina.toml", "runtime.lock_timeout");
        assert!(stderr(&o).contains("\"1ms\""), "{}", stderr(&o));
    }
}

#[test]
fn server_version_no_server_had_is_refused_and_an_unknown_one_warned() {
    let t = TempDir::new("server-version");
    t.write(
        "concertina.toml",
        b"dialect = \"postgres\"\nserver_version = \"99\"\n",
    )
    .write("0001_init/expand.sql", b"CREATE TABLE a (id int);\n");
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_bad_input(&o, "concertina.toml", "server_version = \"99\"");
    t.write(
        "concertina.toml",
        b"dialect = \"postgres\"\nserver_version = \"9\"\n",
    );
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_eq!(o.status.code(), Some(0), "a warning: {}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("warning[unknown-server-version]"), "{out}");
    assert!(out.contains("--> concertina.toml:2:18"), "{out}");
    assert!(out.contains("2 | server_version = \"9\""), "{out}");
    assert!(out.contains("1 warning"), "{out}");
}

#[test]
fn a_file_with_an_unterminated_token_is_an_error_and_is_never_applied() {
    let t = TempDir::new("unterminated");
    t.write("concertina.toml", CONFIG)
        .write(
            "0001_init/expand.sql",
            b"CREATE TABLE a (id int PRIMARY KEY, b text);\n",
        )
        .write(
            "0002_index/expand.sql",
            b"CREATE INDEX a_b ON a (b);\nDO $$ BEGIN PERFORM 1; END $;\nALTER TABLE a ADD COLUMN c int;\n",
        );
    let o = xtask(&["migrate", "check", "--dir", t.path()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // The earlier statement is still checked, and the broken token is located where it starts.
    assert!(out.contains("error[index-not-concurrent]"), "{out}");
    assert!(out.contains("error[unterminated-token]"), "{out}");
    assert!(out.contains("--> 0002_index/expand.sql:2:4"), "{out}");
    assert!(!out.contains("unparsed-statement"), "{out}");
    // The runtime refuses it before connecting: the server never sees the broken SQL.
    let o = xtask_env(
        &["migrate", "up", "--dir", t.path()],
        Some("postgres://app@127.0.0.1:1/never"),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("do not pass `migrate check`"), "{err}");
    assert!(
        err.contains("0002_index/expand.sql:2:4: error[unterminated-token]"),
        "{err}"
    );
}

#[test]
fn fix_prints_a_diff_writes_with_write_and_then_has_nothing_to_do() {
    let t = TempDir::new("fix");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int, b int);\n")
        .write(
            "0002_index/expand.sql",
            b"-- a comment\nCREATE INDEX a_id ON a (id);\n\nBEGIN;\nCREATE INDEX a_b ON a (b);\nCOMMIT;\n",
        );
    let o = xtask(&["migrate", "fix", "--dir", t.path()]);
    // The index inside BEGIN … COMMIT is an error fix cannot rewrite.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let diff = String::from_utf8_lossy(&o.stdout);
    assert!(
        diff.starts_with("--- a/0002_index/expand.sql\n+++ b/0002_index/expand.sql\n"),
        "{diff}"
    );
    assert!(
        diff.contains(
            "-CREATE INDEX a_id ON a (id);\n+CREATE INDEX CONCURRENTLY a_id ON a (id);\n"
        ),
        "{diff}"
    );
    let err = stderr(&o);
    assert!(
        err.contains("error[index-not-concurrent]: 0002_index/expand.sql:5:1"),
        "{err}"
    );
    assert!(
        err.contains("not fixed: it is inside `BEGIN … COMMIT`"),
        "{err}"
    );
    let unchanged = std::fs::read_to_string(t.0.join("0002_index/expand.sql")).expect("read");
    assert!(
        unchanged.contains("CREATE INDEX a_id"),
        "without --write nothing is written"
    );

    let o = xtask(&["migrate", "fix", "--dir", t.path(), "--write"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(t.0.join("0002_index/expand.sql")).expect("read"),
        "-- a comment\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n\nBEGIN;\nCREATE INDEX a_b ON a (b);\nCOMMIT;\n"
    );
    let o = xtask(&["migrate", "fix", "--dir", t.path()]);
    assert!(o.stdout.is_empty(), "a second fix changes nothing");
    assert!(stderr(&o).contains("nothing to rewrite"), "{}", stderr(&o));
}

#[test]
fn fix_of_malformed_sql_or_an_unknown_migration_never_panics() {
    let t = TempDir::new("fixbad");
    t.write("concertina.toml", CONFIG)
        .write("0001_init/expand.sql", b"CREATE TABLE a (id int);\n")
        .write(
            "0002_x/expand.sql",
            b"CREATE INDEX a_id ON a (id);\nSELECT 'never closed;\n",
        );
    let o = xtask(&["migrate", "fix", "--dir", t.path()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("unterminated-token"), "{}", stderr(&o));
    let o = xtask(&["migrate", "fix", "--dir", t.path(), "--migration", "0042"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no migration `0042`"), "{}", stderr(&o));
    let o = xtask(&["migrate", "fix", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Never touches an applied migration"));
}
