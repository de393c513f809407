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
    assert!(
        r.phases[0].load.transactions > 0,
        "the app ran no transaction"
    );
    let total: u64 = r.phases.iter().map(|p| p.load.transactions).sum();
    assert!(
        total > r.phases[0].load.transactions,
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
        build.load.longest_lock_wait > r.lock_timeout,
        "the app waited {:?} (lock_timeout {:?})",
        build.load.longest_lock_wait,
        r.lock_timeout
    );
    assert!(build.load.max > r.lock_timeout, "{:?}", build.load.max);
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

/// The `--stats-from` tests' "production" database: the first migration's expand applied,
/// before the test fills it.
fn expand_first_migration(dir: &std::path::Path, url: &str) {
    let mut m = concertina_runtime::migrator::Migrator::open(dir, url).unwrap();
    m.lock(None, |_| {}).unwrap();
    m.apply_quietly(&[concertina_codegen::Phase::Expand], Some("0001"))
        .unwrap();
}

/// `--stats-from`: a source database with known distributions (a skewed enum, a 30 % NULL
/// column, a sequence correlated with the key); the rehearsal's rows follow its statistics
/// within the tolerances below, and no row of the source appears in it.
#[test]
fn pg_rows_follow_the_source_statistics_and_copy_no_row() {
    use concertina_codegen::change::QualName;
    use concertina_codegen::dialect::DialectKind;
    use concertina_runtime::rehearse::{place, stats};
    use concertina_runtime::testdb::TestDb;

    let dir = repo("tests/fixtures/rehearse/stats");
    // The "production" database: 0001 applied, 50,000 rows of known shape, analyzed.
    let source = TestDb::new("stats_source").unwrap();
    expand_first_migration(&dir, &source.url);
    let mut raw = concertina_runtime::postgres::raw::RawPg::connect(&source.url).unwrap();
    raw.execute(
        "SELECT setseed(0.42);
         INSERT INTO events (kind, note, seq, secret)
         SELECT (CASE WHEN r < 0.7 THEN 'view' WHEN r < 0.9 THEN 'click' ELSE 'buy' END)::event_kind,
                CASE WHEN random() < 0.3 THEN NULL ELSE 'note ' || (g % 500) END,
                g * 10 + (random() * 5)::int,
                'source-secret-' || md5(random()::text)
         FROM (SELECT g, random() AS r FROM generate_series(1, 50000) g) s;
         ANALYZE events;",
    )
    .unwrap();
    let events = QualName::new("public", "events");
    let measured = |url: &str| {
        stats::read(DialectKind::Postgres, url, std::slice::from_ref(&events))
            .unwrap()
            .remove(&events)
            .unwrap()
    };
    let src = measured(&source.url);
    assert_eq!(src.rows, Some(50_000));

    // The rehearsal on a database the test keeps until it has compared the statistics.
    let target = TestDb::new("stats_target").unwrap();
    let mut server = place::server(DialectKind::Postgres, &target.url).unwrap();
    let options = RehearseOptions {
        dir,
        from: Some("0002".into()),
        stats_from: Some(source.url.clone()),
        clients: 1,
        rate: 20.0,
        baseline: Duration::from_millis(300),
        ..Default::default()
    };
    let r = concertina_runtime::rehearse::rehearse(
        &options,
        server.as_mut(),
        &target.url,
        None,
        None,
        &mut |s| eprintln!("{s}"),
    )
    .unwrap();
    assert!(r.failures().is_empty(), "{:?}", r.failures());
    assert_eq!(r.loads[0].source, "statistics");
    assert_eq!(r.loads[0].rows, 50_000);
    drop(server);

    let mut raw_t = concertina_runtime::postgres::raw::RawPg::connect(&target.url).unwrap();
    raw_t.execute("ANALYZE events").unwrap();
    let got = measured(&target.url);
    let rows = got.rows.unwrap() as f64;
    assert!((rows - 50_000.0).abs() / 50_000.0 < 0.05, "{rows} rows");
    // A 30 % NULL column: within 3 points.
    let null_frac = |s: &stats::TableStats| s.columns["note"].null_frac;
    assert!(
        (null_frac(&got) - 0.3).abs() < 0.03,
        "note is {:.3} NULL (source {:.3})",
        null_frac(&got),
        null_frac(&src)
    );
    // The skewed enum: each most common value's frequency within 5 points of the source's.
    let freq = |s: &stats::TableStats, v: &str| {
        s.columns["kind"]
            .mcv
            .iter()
            .find(|(x, _)| x == v)
            .map_or(0.0, |(_, f)| *f)
    };
    for v in ["view", "click", "buy"] {
        assert!(
            (freq(&got, v) - freq(&src, v)).abs() < 0.05,
            "{v}: {:.3} against the source's {:.3}",
            freq(&got, v),
            freq(&src, v)
        );
    }
    // The correlated sequence stays correlated with the rows' order.
    let corr = got.columns["seq"].correlation.unwrap();
    assert!(src.columns["seq"].correlation.unwrap() > 0.99);
    assert!(corr > 0.9, "seq correlation {corr}");
    // Distinct values of `note` of the same order as the source's (500).
    let distinct = |s: &stats::TableStats| {
        let n = s.columns["note"].n_distinct;
        if n < 0.0 {
            -n * 50_000.0
        } else {
            n
        }
    };
    let (d_src, d_got) = (distinct(&src), distinct(&got));
    eprintln!(
        "source → rehearsal: rows 50000 → {rows}; note NULL {:.3} → {:.3}; view {:.3} → {:.3}, click {:.3} → {:.3}, buy {:.3} → {:.3}; seq correlation {:.3} → {corr:.3}; note distinct {d_src:.0} → {d_got:.0}",
        null_frac(&src), null_frac(&got),
        freq(&src, "view"), freq(&got, "view"),
        freq(&src, "click"), freq(&got, "click"),
        freq(&src, "buy"), freq(&got, "buy"),
        src.columns["seq"].correlation.unwrap(),
    );
    assert!(
        d_got > d_src / 1.5 && d_got < d_src * 1.5,
        "note: {d_got} distinct against {d_src}"
    );

    // No row of the source is in the rehearsal database.
    let rows_of = |raw: &mut concertina_runtime::postgres::raw::RawPg| {
        raw.run("SELECT (kind, note, seq, secret)::text FROM events")
            .unwrap()
            .0
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect::<std::collections::BTreeSet<String>>()
    };
    let source_rows = rows_of(&mut raw);
    let target_rows = rows_of(&mut raw_t);
    assert_eq!(source_rows.len(), 50_000);
    assert_eq!(source_rows.intersection(&target_rows).count(), 0);
    let secrets = raw_t
        .value("SELECT count(*) FROM events WHERE secret LIKE 'source-secret-%'")
        .unwrap();
    assert_eq!(secrets.as_deref(), Some("0"));
}

/// `--stats-from` on MariaDB: the row estimate sizes each table, index cardinality and
/// MariaDB's column statistics shape the columns; the source's rows are never read.
#[test]
fn mariadb_stats_from_sizes_the_tables() {
    use concertina_codegen::change::QualName;
    use concertina_codegen::dialect::DialectKind;
    use concertina_runtime::rehearse::stats;
    use concertina_runtime::testdb_mysql::MySqlTestDb;
    use diesel::connection::SimpleConnection;
    use diesel::Connection;

    let dir = repo("migrations-mysql");
    let source = MySqlTestDb::new("stats_source").unwrap();
    expand_first_migration(&dir, &source.url);
    let mut conn = diesel::mysql::MysqlConnection::establish(&source.url).unwrap();
    conn.batch_execute(
        "INSERT INTO users (name, email)
           SELECT CONCAT('user ', seq % 300), CONCAT('u', seq, '@source.example') FROM seq_1_to_8000;
         INSERT INTO orders (user_id, total) SELECT 1 + seq % 8000, 9.99 FROM seq_1_to_4000;
         ANALYZE TABLE users PERSISTENT FOR ALL;
         ANALYZE TABLE orders PERSISTENT FOR ALL;",
    )
    .unwrap();
    let (users, orders) = (QualName::new("", "users"), QualName::new("", "orders"));
    let mut all = stats::read(
        DialectKind::MariaDb,
        &source.url,
        &[users.clone(), orders.clone()],
    )
    .unwrap();
    let read = all.remove(&users).expect("statistics of users");
    let orders_rows = all
        .remove(&orders)
        .and_then(|o| o.rows)
        .expect("orders' estimate");
    let rows = read.rows.expect("a row estimate") as f64;
    // InnoDB's estimate samples pages: within a quarter of the truth.
    assert!((rows - 8000.0).abs() < 2000.0, "{rows}");
    let email = read
        .columns
        .get("email")
        .expect("the unique index's cardinality");
    assert!(email.n_distinct > 4000.0, "{}", email.n_distinct);

    let r = {
        let config = Config::load(&dir).unwrap();
        let options = RehearseOptions {
            dir,
            from: Some("0005".into()),
            stats_from: Some(source.url.clone()),
            clients: 1,
            baseline: Duration::from_millis(300),
            ..Default::default()
        };
        run_on(&options, &config, Some(&my_admin()), &mut |s| {
            eprintln!("{s}")
        })
        .unwrap()
    };
    assert!(r.failures().is_empty(), "{:?}", r.failures());
    for l in &r.loads {
        assert_eq!(l.source, "statistics", "{l:?}");
    }
    // 0005 indexes orders: the table it touches is loaded at the source's size.
    let loaded = r
        .loads
        .iter()
        .find(|l| l.table.ends_with("orders"))
        .unwrap();
    assert_eq!(loaded.rows, orders_rows);
}
