//! The CLI on MariaDB/MySQL (`CONCERTINA_TEST_MYSQL_URL`, default mysql://root@127.0.0.1:3306/):
//! `plan` names the algorithm each statement runs with, `up`/`status`/`verify` on the example
//! migrations, and the demo runs its workload with no failed app transaction.

use std::process::Command;

use concertina_runtime::testdb_mysql::MySqlTestDb;

fn migrate(url: &str, args: &[&str]) -> std::process::Output {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations-mysql");
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("migrate")
        .args(args)
        .arg("--dir")
        .arg(&dir)
        .env("DATABASE_URL", url)
        .env("NO_COLOR", "1")
        .output()
        .expect("run xtask")
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn plan_up_status_verify_on_the_example_migrations() {
    let db = MySqlTestDb::new("cli").unwrap_or_else(|e| panic!("{e}"));
    let plan = migrate(&db.url, &["plan", "--format", "json"]);
    assert!(plan.status.success());
    let plan = json(&plan);
    let modes: Vec<String> = plan["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .flat_map(|p| p["steps"].as_array().cloned().unwrap_or_default())
        .flat_map(|s| s["locks"].as_array().cloned().unwrap_or_default())
        .map(|l| l["mode"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        modes.iter().any(|m| m.starts_with("ALGORITHM=INSTANT")),
        "{modes:?}"
    );
    assert!(
        modes
            .iter()
            .any(|m| m.starts_with("ALGORITHM=INPLACE, LOCK=NONE")),
        "{modes:?}"
    );
    let up = migrate(&db.url, &["up", "--contract", "--format", "json"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(json(&up)["applied_phases"], 7);
    let status = migrate(&db.url, &["status", "--format", "json"]);
    assert!(status.status.success());
    let status = json(&status);
    assert!(status["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .all(|p| p["status"] == "done"));
    let verify = migrate(&db.url, &["verify", "--format", "json"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    assert_eq!(json(&verify)["ok"], true);
}

#[test]
fn the_demo_runs_with_no_failed_app_transaction() {
    let server = concertina_runtime::testdb_mysql::admin_url();
    let out = migrate(
        &server,
        &[
            "demo",
            "--dialect",
            "mariadb",
            "--rows",
            "5000",
            "--clients",
            "2",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = json(&out);
    let phases = stats["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 7, "{stats}");
    assert!(phases.iter().all(|p| p["failed"] == 0), "{stats}");
    // No app query waited on a lock longer than lock_wait_timeout (1 s in
    // migrations-mysql/concertina.toml): a waiting ALTER gives up and retries instead of
    // queueing the app behind it. The margin covers the 10 ms sampling of the process list.
    for p in phases {
        let waited = p["longest_lock_wait_ms"]
            .as_f64()
            .expect("longest_lock_wait_ms");
        assert!(
            waited <= 1_250.0,
            "{} waited {waited} ms: {stats}",
            p["label"]
        );
    }
}
