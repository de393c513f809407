//! The version matrix in the test suite: every PostgreSQL rule fixture, its safe counterpart
//! and each version feature traced on the oldest and newest supported majors (official builds
//! fetched from the npm registry) and on the machine's own server, and every MySQL/MariaDB rule
//! fixture on the machine's MariaDB, compared with the checker at that version. Any
//! disagreement that is not a documented exception fails the run.

use std::process::Command;

#[test]
fn oldest_newest_and_the_machines_servers_agree_with_the_checker() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["matrix", "--pg", "10,18", "--check"])
        .output()
        .expect("run the xtask binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the matrix disagrees:\n{stderr}\n{stdout}"
    );
    // The table has a column per server and a row per fixture, and it judged something.
    let header = stdout.lines().next().unwrap_or("");
    assert!(
        header.starts_with("| rule | 10 | 18 |") && header.contains("(machine)"),
        "{header}"
    );
    assert!(
        stdout.contains("\n| rule | MariaDB "),
        "no MariaDB table:\n{stdout}"
    );
    for row in [
        "| `mysql-add-check` |",
        "| `index-not-concurrent` |",
        "| `add-column-default-old-server` |",
        "| feature: generated-stored |",
    ] {
        assert!(stdout.contains(row), "no row {row}:\n{stdout}");
    }
    // Version-dependent verdicts, measured: a default rewrites before 11 only.
    let default_row = stdout
        .lines()
        .find(|l| l.starts_with("| `add-column-default-old-server` |"))
        .unwrap_or("");
    assert!(
        default_row.starts_with("| `add-column-default-old-server` | ✓ | ○ |"),
        "{default_row}"
    );
    let generated = stdout
        .lines()
        .find(|l| l.starts_with("| feature: generated-stored |"))
        .unwrap_or("");
    assert!(
        generated.starts_with("| feature: generated-stored | ✓ | ○ |"),
        "{generated}"
    );
}
