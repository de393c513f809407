//! `migrate rehearse` on real servers: the example migrations rehearse cleanly on PostgreSQL
//! and MariaDB (data loaded, every phase applied under the app, every down restoring its
//! schema); a suppressed unsafe statement shows the app's stall and fails the rehearsal with
//! exit code 1; bad input is refused with exit code 2. Each rehearsal creates its own
//! databases on the test server and drops them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use concertina_codegen::Config;
use concertina_runtime::rehearse::command::run_on;
use concertina_runtime::rehearse::report::RehearsalReport;
use concertina_runtime::rehearse::RehearseOptions;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn pg_admin() -> String {
    concertina_runtime::testdb::admin_url()
}

fn my_admin() -> String {
    concertina_runtime::testdb_mysql::admin_url()
}

fn rehearse(dir: PathBuf, from: Option<&str>, rows: u64, admin: &str) -> RehearsalReport {
    let config = Config::load(&dir).expect("config");
    let options = RehearseOptions {
        dir,
        from: from.map(String::from),
        default_rows: rows,
        clients: 2,
        baseline: Duration::from_millis(800),
        ..Default::default()
    };
    run_on(&options, &config, Some(admin), &mut |s| eprintln!("{s}"))
        .unwrap_or_else(|e| panic!("the rehearsal could not run: {e}"))
}

/// What a clean rehearsal of `from` onwards must show.
fn assert_clean(r: &RehearsalReport, phases: &[&str], downs: usize, rows: u64) {
    assert!(r.failures().is_empty(), "{:#?}", r.failures());
    let labels: Vec<&str> = r.phases.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels[0], "no migration (baseline)");
    assert_eq!(&labels[1..], phases);
    assert!(r.phases[0].transactions > 0, "the app ran no transaction");
    let total: u64 = r.phases.iter().map(|p| p.transactions).sum();
    assert!(
        total > r.phases[0].transactions,
        "the app stopped at the first phase"
    );
    assert!(!r.loads.is_empty());
    for l in &r.loads {
        assert_eq!(l.rows, rows, "{} got {} rows", l.table, l.rows);
    }
    assert_eq!(r.rollbacks.len(), downs, "{:?}", r.rollbacks);
    assert!(r.rollbacks.iter().all(|b| b.ok), "{:?}", r.rollbacks);
    assert!(!r.timeline.is_empty());
    let html = concertina_runtime::rehearse::html::html(r);
    assert!(html.contains("id=\"verdict\"") && html.contains("passed"));
}

#[test]
fn pg_the_example_migrations_rehearse_cleanly() {
    let r = rehearse(repo("migrations"), Some("0004"), 3_000, &pg_admin());
    assert!(r.server.starts_with("PostgreSQL"), "{}", r.server);
    assert_clean(
        &r,
        &[
            "0004_rename_name_to_full_name expand",
            "0004_rename_name_to_full_name backfill",
            "0004_rename_name_to_full_name contract",
            "0005_orders_user_fk expand",
            "0005_orders_user_fk contract",
            "0006_require_phone expand",
            "0006_require_phone backfill",
            "0006_require_phone contract",
            "0007_backfill_order_status expand",
            "0007_backfill_order_status backfill",
        ],
        4,
        3_000,
    );
    // The app deployed where a deploy switches it: the window's transition app during the
    // backfill, the new app for the contract.
    let app = |label: &str| {
        r.phases
            .iter()
            .find(|p| p.label == label)
            .map(|p| p.app.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        app("0004_rename_name_to_full_name expand"),
        "S(0003_index_users_status)"
    );
    assert_eq!(
        app("0004_rename_name_to_full_name backfill"),
        "E(0004_rename_name_to_full_name) transition"
    );
    assert_eq!(
        app("0004_rename_name_to_full_name contract"),
        "S(0004_rename_name_to_full_name)"
    );
}

#[test]
fn mariadb_the_example_migrations_rehearse_cleanly() {
    let r = rehearse(repo("migrations-mysql"), Some("0002"), 2_000, &my_admin());
    assert!(r.server.starts_with("MariaDB") || r.server.starts_with("MySQL"));
    assert_clean(
        &r,
        &[
            "0002_add_status expand",
            "0003_index_users_status expand",
            "0004_rename_name_to_full_name expand",
            "0004_rename_name_to_full_name backfill",
            "0004_rename_name_to_full_name contract",
            "0005_orders_user_id_index expand",
        ],
        4,
        2_000,
    );
}

#[test]
fn pg_a_suppressed_unsafe_statement_shows_the_stall_and_fails() {
    let dir = repo("tests/fixtures/rehearse/stall");
    let r = rehearse(dir.clone(), None, 400_000, &pg_admin());
    let build = r
        .phases
        .iter()
        .find(|p| p.label == "0002_index_owner expand")
        .expect("the index build phase");
    // CREATE INDEX without CONCURRENTLY holds SHARE: the app's writes queue behind it.
    assert!(
        build.longest_lock_wait > r.lock_timeout,
        "the app waited {:?} (lock_timeout {:?})",
        build.longest_lock_wait,
        r.lock_timeout
    );
    assert!(build.max > r.lock_timeout, "{:?}", build.max);
    let failures = r.failures();
    assert!(
        failures
            .iter()
            .any(|f| f.contains("waited") && f.contains("lock_timeout")),
        "{failures:?}"
    );
    // The checker flagged it (suppressed with a reason) and the server did it: no disagreement.
    assert!(build.disagreements.is_empty(), "{:?}", build.disagreements);
    assert!(r.rollbacks.iter().all(|b| b.ok));
    // The timeline shows the stall inside the phase.
    let end = build.start + build.duration.as_secs_f64() + 0.2;
    assert!(r
        .timeline
        .iter()
        .any(|s| s.t >= build.start - 0.2 && s.t <= end && s.lock_wait_ms > 50.0));

    // The command line exits 1 so CI can gate a deploy on it.
    let code = concertina_runtime::cli::run_from(
        [
            "migrate",
            "rehearse",
            "--dir",
            dir.to_str().unwrap(),
            "--default-rows",
            "400000",
            "--baseline",
            "500ms",
            "--no-rollback",
            "--no-trace",
            "--format",
            "json",
            "--database-url",
            &pg_admin(),
        ]
        .map(String::from)
        .to_vec(),
    );
    assert_eq!(code, ExitCode::from(1));
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let run = |args: &[&str]| {
        let mut all = vec!["migrate".to_string(), "rehearse".to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        all.extend(["--database-url".to_string(), pg_admin()]);
        concertina_runtime::cli::run_from(all)
    };
    let dir = repo("migrations");
    let dir = dir.to_str().unwrap();
    assert_eq!(run(&["--dir", dir, "--scale", "0"]), ExitCode::from(2));
    assert_eq!(run(&["--dir", dir, "--scale", "1.5"]), ExitCode::from(2));
    assert_eq!(
        run(&["--dir", "/nonexistent/migrations"]),
        ExitCode::from(2)
    );
    assert_eq!(run(&["--dir", dir, "--rows", "users"]), ExitCode::from(2));

    let config = Config::load(&repo("migrations")).unwrap();
    let options = RehearseOptions {
        dir: repo("migrations"),
        from: Some("0099".into()),
        ..Default::default()
    };
    let e = run_on(&options, &config, Some(&pg_admin()), &mut |_| {})
        .expect_err("an unknown --from is an error");
    let text = e.to_string();
    assert!(
        text.contains("--from 0099") && text.contains("0001"),
        "{text}"
    );
}
