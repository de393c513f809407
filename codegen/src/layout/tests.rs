//! Reading directories: both layouts, stray files, every error at once, non-regular files.

use super::*;

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "concertina-layout-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn reads_both_layouts_in_version_order() {
    let dir = temp_dir("layouts");
    write(&dir, "2024-01-02-000000_second/up.sql", "SELECT 2;");
    write(&dir, "2024-01-02-000000_second/down.sql", "SELECT -2;");
    write(
        &dir,
        "2024-01-02-000000_second/metadata.toml",
        "run_in_transaction = false",
    );
    write(&dir, "0001_first/expand.sql", "SELECT 1;");
    write(&dir, "0001_first/contract.sql", "SELECT 1;");
    write(&dir, "concertina.toml", "");
    let set = discover(&dir).unwrap();
    let names: Vec<&str> = set.migrations.iter().map(|m| m.dir_name.as_str()).collect();
    assert_eq!(names, ["0001_first", "2024-01-02-000000_second"]);
    let diesel = &set.migrations[1];
    assert_eq!(diesel.layout, Layout::Diesel);
    assert_eq!(
        diesel.phase(Phase::Expand).unwrap().source.rel_path,
        "2024-01-02-000000_second/up.sql"
    );
    assert!(diesel.phase(Phase::Down).is_some());
    assert!(!diesel.run_in_transaction);
    assert!(set.migrations[0].run_in_transaction);
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stray_files_are_warnings_naming_the_path() {
    let dir = temp_dir("stray");
    write(&dir, "0001_first/expand.sql", "SELECT 1;");
    write(&dir, "0001_first/expnad.sql", "SELECT 1;");
    write(&dir, "notes.txt", "x");
    write(&dir, "README.md", "docs are fine");
    let set = discover(&dir).unwrap();
    let files: Vec<&str> = set.warnings.iter().map(|w| w.file.as_str()).collect();
    assert_eq!(files, ["0001_first/expnad.sql", "notes.txt"]);
    assert!(set.warnings.iter().all(|w| w.rule == "stray-file"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mixed_layout_is_refused() {
    let dir = temp_dir("mixed");
    write(&dir, "0001_first/expand.sql", "SELECT 1;");
    write(&dir, "0001_first/up.sql", "SELECT 1;");
    let err = discover(&dir).unwrap_err().to_string();
    assert!(
        err.contains("0001_first") && err.contains("up.sql"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn numeric_order_without_diesel_migrations_text_order_with_one() {
    let dir = temp_dir("order");
    write(&dir, "9_nine/expand.sql", "SELECT 9;");
    write(&dir, "10_ten/expand.sql", "SELECT 10;");
    let set = discover(&dir).unwrap();
    assert_eq!(set.version_order(), VersionOrder::Numeric);
    let names: Vec<&str> = set.migrations.iter().map(|m| m.dir_name.as_str()).collect();
    assert_eq!(names, ["9_nine", "10_ten"]);
    assert_eq!(set.position("0009"), Some(0));
    assert_eq!(set.position("10_ten"), Some(1));
    assert_eq!(set.position("11"), None);
    assert_eq!(set.position("x"), None);
    // One diesel migration: diesel applied the directory in text order, and so does concertina.
    write(&dir, "2020-12-7-190800_unpadded/up.sql", "SELECT 7;");
    write(&dir, "2020-12-10-090000_padded/up.sql", "SELECT 10;");
    let set = discover(&dir).unwrap();
    assert_eq!(set.version_order(), VersionOrder::Diesel);
    let names: Vec<&str> = set.migrations.iter().map(|m| m.dir_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "10_ten",
            "2020-12-10-090000_padded",
            "2020-12-7-190800_unpadded",
            "9_nine"
        ]
    );
    assert_eq!(set.position("2020127190800"), Some(2));
    assert_eq!(set.position("2020-12-7-190800"), Some(2));
    assert_eq!(set.position("0009"), None, "0009 and 9 differ for diesel");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn duplicates_are_the_same_version_in_the_set_order() {
    let dir = temp_dir("dup");
    write(&dir, "0003_a/expand.sql", "SELECT 1;");
    write(&dir, "3_b/expand.sql", "SELECT 1;");
    let err = discover(&dir).unwrap_err().to_string();
    assert!(err.contains("3_b") && err.contains("0003_a"), "{err}");
    assert!(err.contains("version 3 "), "{err}");
    // diesel: 0003 and 3 are two versions, 2024-01-01-000000 and 20240101000000 one.
    write(&dir, "0003_a/expand.sql", "SELECT 1;");
    std::fs::remove_dir_all(dir.join("3_b")).unwrap();
    write(&dir, "3_b/up.sql", "SELECT 1;");
    assert_eq!(discover(&dir).unwrap().migrations.len(), 2);
    write(&dir, "2024-01-01-000000_c/up.sql", "SELECT 1;");
    write(&dir, "20240101000000_d/up.sql", "SELECT 1;");
    let err = discover(&dir).unwrap_err().to_string();
    assert!(
        err.contains("20240101000000_d") && err.contains("2024-01-01-000000_c"),
        "{err}"
    );
    assert!(err.contains("dashes removed"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn metadata_is_read_as_diesel_reads_it() {
    let dir = temp_dir("metadata");
    write(&dir, "1_none/up.sql", "SELECT 1;");
    write(&dir, "2_false/up.sql", "SELECT 1;");
    write(
        &dir,
        "2_false/metadata.toml",
        "run_in_transaction = false\n",
    );
    write(&dir, "3_true/up.sql", "SELECT 1;");
    write(&dir, "3_true/metadata.toml", "run_in_transaction = true\n");
    // diesel's field is `#[serde(default)]`: a file without the key means false.
    write(&dir, "4_empty/up.sql", "SELECT 1;");
    write(&dir, "4_empty/metadata.toml", "# nothing\nother = 1\n");
    let set = discover(&dir).unwrap();
    let flags: Vec<bool> = set
        .migrations
        .iter()
        .map(|m| m.run_in_transaction)
        .collect();
    assert_eq!(flags, [true, false, true, false]);
    write(&dir, "5_typo/up.sql", "SELECT 1;");
    write(&dir, "5_typo/metadata.toml", "run_in_transaction = flase\n");
    let err = discover(&dir).unwrap_err().to_string();
    assert!(
        err.contains("5_typo/metadata.toml") && err.contains("run_in_transaction = false"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_directory_error_is_reported_at_once() {
    let dir = temp_dir("many");
    write(&dir, "0001_ok/expand.sql", "SELECT 1;");
    for i in 0..24 {
        write(&dir, &format!("v{i:02}_bad/expand.sql"), "SELECT 1;");
    }
    write(&dir, "0002_empty/notes.txt", "x");
    write(&dir, "0003_latin1/expand.sql", "");
    std::fs::write(dir.join("0003_latin1/expand.sql"), b"SELECT '\xff';").unwrap();
    let err = discover(&dir).unwrap_err();
    let LoadError::Many { errors, .. } = &err else {
        panic!("expected every error: {err}");
    };
    assert_eq!(errors.len(), 26, "{err}");
    let text = err.to_string();
    assert_eq!(text.lines().count(), 27, "{text}");
    for i in 0..24 {
        assert!(text.contains(&format!("v{i:02}_bad")), "{text}");
    }
    assert!(text.contains("0002_empty: holds no phase file"), "{text}");
    assert!(
        text.contains("0003_latin1/expand.sql: is not valid UTF-8"),
        "{text}"
    );
    assert!(text.lines().skip(1).all(|l| l.contains("rename")
        || l.contains("add expand.sql")
        || l.contains("save the file as UTF-8")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_name_says_what_is_wrong() {
    let dir = temp_dir("names");
    write(&dir, "add_email/expand.sql", "SELECT 1;");
    let err = discover(&dir).unwrap_err().to_string();
    assert!(err.contains("`add_email`") && err.contains("`a`"), "{err}");
    assert!(err.contains("rename it to <version>_<name>"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
mod special_files {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_symlink_to_a_regular_file_or_directory_is_read() {
        let dir = temp_dir("links");
        let elsewhere = temp_dir("links-target");
        write(&elsewhere, "0001_first/expand.sql", "SELECT 1;");
        write(&elsewhere, "shared.sql", "SELECT 2;");
        symlink(elsewhere.join("0001_first"), dir.join("0001_first")).unwrap();
        std::fs::create_dir_all(dir.join("0002_second")).unwrap();
        symlink(
            elsewhere.join("shared.sql"),
            dir.join("0002_second/expand.sql"),
        )
        .unwrap();
        let set = discover(&dir).unwrap();
        assert_eq!(set.migrations.len(), 2);
        assert_eq!(set.migrations[1].phases[0].source.text, "SELECT 2;");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }

    #[test]
    fn dangling_and_looping_migration_symlinks_are_refused() {
        let dir = temp_dir("dangling");
        write(&dir, "0001_first/expand.sql", "SELECT 1;");
        symlink(dir.join("nowhere"), dir.join("0002_gone")).unwrap();
        symlink(dir.join("0003_loop"), dir.join("0003_loop")).unwrap();
        let err = discover(&dir).unwrap_err();
        let LoadError::Many { errors, .. } = &err else {
            panic!("two errors expected: {err}");
        };
        assert_eq!(errors.len(), 2, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("0002_gone: is a symlink that leads nowhere"),
            "{text}"
        );
        assert!(
            text.contains("0003_loop: is a symlink that leads nowhere"),
            "{text}"
        );
        assert!(
            text.contains("point it at an existing migration directory"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_phase_file_is_refused_without_opening_it() {
        let dir = temp_dir("fifo");
        std::fs::create_dir_all(dir.join("0001_first")).unwrap();
        let fifo = dir.join("0001_first/expand.sql");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        // Opening the FIFO for reading would block this test forever: it must never be opened.
        let err = discover(&dir).unwrap_err().to_string();
        assert!(
            err.contains("0001_first/expand.sql: is a named pipe (FIFO), not a regular file"),
            "{err}"
        );
        assert!(err.contains("replace it with the file itself"), "{err}");
        // A FIFO as concertina.toml (which Config::load would open) is refused here too; a stray
        // FIFO elsewhere is a warning, never opened.
        std::fs::remove_file(&fifo).unwrap();
        write(&dir, "0001_first/expand.sql", "SELECT 1;");
        for name in ["concertina.toml", "notes", "0001_first/notes"] {
            let status = std::process::Command::new("mkfifo")
                .arg(dir.join(name))
                .status()
                .unwrap();
            assert!(status.success());
        }
        let err = discover(&dir).unwrap_err().to_string();
        assert!(err.contains("concertina.toml: is a named pipe"), "{err}");
        std::fs::remove_file(dir.join("concertina.toml")).unwrap();
        let set = discover(&dir).unwrap();
        let stray: Vec<&str> = set.warnings.iter().map(|w| w.file.as_str()).collect();
        assert_eq!(stray, ["0001_first/notes", "notes"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_device_or_a_huge_file_is_refused_before_it_is_read() {
        let dir = temp_dir("huge");
        std::fs::create_dir_all(dir.join("0001_zero")).unwrap();
        symlink("/dev/zero", dir.join("0001_zero/expand.sql")).unwrap();
        let err = discover(&dir).unwrap_err().to_string();
        assert!(
            err.contains("0001_zero/expand.sql: is a character device, not a regular file"),
            "{err}"
        );
        std::fs::remove_dir_all(dir.join("0001_zero")).unwrap();
        // A sparse file one byte over the limit: no disk space, no memory used.
        std::fs::create_dir_all(dir.join("0002_dump")).unwrap();
        let big = std::fs::File::create(dir.join("0002_dump/expand.sql")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = discover(&dir).unwrap_err().to_string();
        assert!(
            err.contains("0002_dump/expand.sql: is 67108865 bytes or more, over the 64 MiB"),
            "{err}"
        );
        // Exactly the limit is read whole (zero bytes are valid UTF-8).
        big.set_len(MAX_FILE_BYTES).unwrap();
        let set = discover(&dir).unwrap();
        assert_eq!(
            set.migrations[0].phases[0].source.text.len() as u64,
            MAX_FILE_BYTES
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_phase_file_that_is_a_directory_is_refused() {
        let dir = temp_dir("phase-dir");
        std::fs::create_dir_all(dir.join("0001_first/expand.sql")).unwrap();
        let err = discover(&dir).unwrap_err().to_string();
        assert!(
            err.contains("0001_first/expand.sql: is a directory, not a regular file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
