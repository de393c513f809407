//! The backfill engine's scenarios, written once and run on PostgreSQL and MariaDB (one engine,
//! two backends): slices worked by several connections, each row written once; a run stopped
//! mid-way resumes every slice at its own cursor; a composite text key split by sampling; rows
//! the app holds; an earlier run's worker still on the server; a cursor of an earlier release;
//! an unreadable cursor; the latency budget slowing down under a synthetic load and speeding up
//! when it ends.

mod both;

use std::time::Duration;

use both::{apply, assert_each_row_written_once, backfill_record, migrator, Dir, Server};
use concertina_codegen::Phase;
use concertina_runtime::engine::Slices;
use concertina_runtime::migrator::Migrator;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

on_both!(
    a_parallel_backfill_writes_every_row_once_from_each_workers_connection,
    an_interrupted_parallel_backfill_resumes_every_slice_at_its_own_cursor,
    a_single_cursor_saved_by_an_earlier_release_resumes,
    an_unreadable_saved_cursor_is_an_error_not_a_restart,
    rows_the_app_holds_are_written_once_when_released,
    a_composite_text_key_is_split_by_sampling_and_written_once,
    a_backfill_waits_for_worker_connections_left_by_an_earlier_run,
    a_latency_budget_slows_the_batches_and_says_why,
    the_budget_slows_down_under_a_load_and_speeds_up_when_it_ends,
);

/// `workers` connections, in the server's test configuration.
fn with_workers(server: &Server, dir: &Dir, workers: usize) {
    dir.write(
        "concertina.toml",
        &format!("{}backfill_workers = {workers}\n", server.config()),
    );
}

/// The id of the connection a statement runs on.
fn connection_id(server: &Server) -> &'static str {
    server.pick("pg_backend_pid()", "CONNECTION_ID()")
}

/// `users` with `rows` rows and a backfill that shows a row written twice (`n = 2`) and which
/// connection wrote each row; the expand is applied.
fn parallel_setup(server: &Server, tag: &str, rows: u32, workers: usize) -> (Dir, Migrator) {
    let dir = Dir::new(server, tag);
    with_workers(server, &dir, workers);
    server.users(&dir, rows);
    dir.write(
        "0002_count/expand.sql",
        &format!(
            "ALTER TABLE users ADD COLUMN done {};\nALTER TABLE users ADD COLUMN by_conn bigint;\n",
            server.pick("boolean", "boolean NULL")
        ),
    )
    .write(
        "0002_count/backfill.sql",
        &format!(
            "UPDATE users SET n = n + 1, done = true, by_conn = {} WHERE done IS NULL;\n",
            connection_id(server)
        ),
    );
    let mut m = migrator(&dir, server);
    apply(&mut m, &[Phase::Expand], None).expect("expand");
    (dir, m)
}

/// Fails the update of the given ids while `fail_once.armed`, as a crash mid-batch would.
fn fail_at(server: &Server, ids: &[i64]) {
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    server.exec(&match server {
        Server::Pg(_) => format!(
            "CREATE TABLE fail_once (armed boolean NOT NULL);
             INSERT INTO fail_once VALUES (true);
             CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.id IN ({list}) AND (SELECT armed FROM fail_once) THEN RAISE EXCEPTION 'simulated crash'; END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER boom BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION boom();"
        ),
        Server::My(_) => format!(
            "CREATE TABLE fail_once (armed boolean NOT NULL);
             INSERT INTO fail_once VALUES (true);
             CREATE TRIGGER boom BEFORE UPDATE ON users FOR EACH ROW
             BEGIN
               IF NEW.id IN ({list}) AND (SELECT armed FROM fail_once) THEN
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'simulated crash';
               END IF;
             END;"
        ),
    });
}

fn a_parallel_backfill_writes_every_row_once_from_each_workers_connection(server: Server) {
    let (_dir, mut m) = parallel_setup(&server, "parallel", 8000, 4);
    // One progress stream for the statement: totals over all workers, never going back.
    let mut reports: Vec<(i64, i64, usize)> = Vec::new();
    m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |p| reports.push((p.rows_done, p.scanned, p.workers)),
    )
    .expect("backfill");
    assert!(reports.iter().all(|r| r.2 == 4), "{reports:?}");
    assert!(
        reports
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
        "{reports:?}"
    );
    assert_eq!(reports.last().map(|r| r.0), Some(8000));
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1 AND done"),
        8000
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"),
        0
    );
    // Each worker starts with a slice of its own, on its own connection.
    assert_eq!(
        server.scalar("SELECT count(DISTINCT by_conn) AS n FROM users"),
        4
    );
    let rec = backfill_record(&mut m);
    assert_eq!(rec.rows_done, 8000);
    assert_eq!(rec.cursor, None);
}

fn an_interrupted_parallel_backfill_resumes_every_slice_at_its_own_cursor(server: Server) {
    let (_dir, mut m) = parallel_setup(&server, "slices", 9000, 3);
    // 3 workers, 4 slices each: (…, 750], (750, 1500], … (8250, …). In every slice the row
    // at 700 fails, so the workers stop in their first slices, each at its own key, and the
    // other slices are left untouched.
    let failing: Vec<i64> = (0..12).map(|i| i * 750 + 700).collect();
    fail_at(&server, &failing);
    let err = apply(&mut m, &[Phase::Backfill], None)
        .expect_err("the batches fail")
        .to_string();
    assert!(err.contains("simulated crash"), "{err}");
    let partial = backfill_record(&mut m);
    let cursor = partial.cursor.clone().expect("a saved cursor");
    let saved = Slices::from_json(&cursor).expect("readable");
    assert_eq!(saved.slices.len(), 12, "{cursor}");
    let number = |k: &Option<Vec<String>>| -> i64 {
        k.as_ref()
            .and_then(|k| k.first())
            .map_or(0, |v| v.parse().expect("integer key"))
    };
    let (mut started, mut covered) = (0, 0);
    for (i, slice) in saved.slices.iter().enumerate() {
        let lo = i as i64 * 750;
        assert_eq!(number(&slice.lo), lo, "slice {i}: {cursor}");
        let key = number(&slice.key);
        assert!(
            (lo..lo + 700).contains(&key) && !slice.revisiting,
            "slice {i} stopped before its failing row: {cursor}"
        );
        started += usize::from(key > lo);
        covered += key - lo;
    }
    // The worker that failed first had done its first batches; the others may have been
    // stopped before theirs. Every key a slice passed was written once, and no other.
    assert!((1..=3).contains(&started), "{cursor}");
    assert_eq!(partial.rows_done, covered, "{cursor}");
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        covered
    );
    server.exec("UPDATE fail_once SET armed = false");
    apply(&mut m, &[Phase::Backfill], None).expect("resume");
    assert_each_row_written_once(&server, &mut m, 9000);
}

fn a_single_cursor_saved_by_an_earlier_release_resumes(server: Server) {
    let (dir, mut m) = parallel_setup(&server, "old_cursor", 5000, 1);
    fail_at(&server, &[3210]);
    apply(&mut m, &[Phase::Backfill], None).expect_err("the batch fails");
    // Rewrite the saved cursor in the shape earlier releases wrote: one key for the statement.
    server.exec(server.pick(
        "UPDATE concertina_migrations
         SET backfill_cursor = json_build_object(
             'statement', 0,
             'key', backfill_cursor::json->'slices'->0->'key',
             'skipped', backfill_cursor::json->'slices'->0->'skipped',
             'revisiting', false)::text
         WHERE phase = 'backfill'",
        "UPDATE concertina_migrations
         SET backfill_cursor = JSON_OBJECT(
             'statement', 0,
             'key', JSON_EXTRACT(backfill_cursor, '$.slices[0].key'),
             'skipped', JSON_EXTRACT(backfill_cursor, '$.slices[0].skipped'),
             'revisiting', JSON_EXTRACT('false', '$'))
         WHERE phase = 'backfill'",
    ));
    let partial = backfill_record(&mut m);
    let old = partial.cursor.clone().expect("cursor");
    assert!(!old.contains("slices") && old.contains("\"key\""), "{old}");
    assert!(partial.rows_done > 0 && partial.rows_done < 5000);
    server.exec("UPDATE fail_once SET armed = false");
    // The new release, with more workers configured, picks it up as one slice.
    drop(m);
    with_workers(&server, &dir, 4);
    let mut m = migrator(&dir, &server);
    apply(&mut m, &[Phase::Backfill], None).expect("resume");
    assert_each_row_written_once(&server, &mut m, 5000);
}

fn an_unreadable_saved_cursor_is_an_error_not_a_restart(server: Server) {
    let (_dir, mut m) = parallel_setup(&server, "bad_cursor", 1000, 2);
    fail_at(&server, &[900]);
    apply(&mut m, &[Phase::Backfill], None).expect_err("the batch fails");
    let before = server.scalar("SELECT count(*) AS n FROM users WHERE n = 1");
    server.exec("UPDATE concertina_migrations SET backfill_cursor = '{\"statement\": 0, \"slices\": 7}' WHERE phase = 'backfill'");
    server.exec("UPDATE fail_once SET armed = false");
    let err = apply(&mut m, &[Phase::Backfill], None)
        .expect_err("unreadable cursor")
        .to_string();
    assert!(err.contains("not a cursor this release can read"), "{err}");
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        before
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n > 1"),
        0
    );
}

/// An app transaction holds a row for longer than `lock_timeout`: PostgreSQL skips it and
/// revisits it at the end; MariaDB's batch times out (error 1205) and is retried. Either way
/// every row is written once.
fn rows_the_app_holds_are_written_once_when_released(server: Server) {
    let dir = Dir::new(&server, "locked");
    dir.write(
        "concertina.toml",
        &format!(
            "{}backfill_workers = 3\n",
            server
                .config()
                .replace("lock_retries = 2", "lock_retries = 30")
        ),
    );
    server.users(&dir, 3000);
    dir.write(
        "0002_fill/expand.sql",
        &format!(
            "ALTER TABLE users ADD COLUMN full_name {};\n",
            server.pick("text", "varchar(100)")
        ),
    )
    .write(
        "0002_fill/backfill.sql",
        "UPDATE users SET full_name = name, n = n + 1 WHERE full_name IS NULL;\n",
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &[Phase::Expand], None).expect("expand");
    // Twelve slices of 250 ids: the app holds a row of one of them, past one lock timeout.
    let hold = Duration::from_millis(1500);
    let releaser = match &server {
        Server::Pg(db) => {
            let mut app = PgConnection::establish(&db.url).expect("app");
            app.batch_execute("BEGIN; SELECT * FROM users WHERE id = 1234 FOR UPDATE;")
                .expect("app lock");
            std::thread::spawn(move || {
                std::thread::sleep(hold);
                app.batch_execute("COMMIT").expect("commit");
            })
        }
        Server::My(db) => {
            let mut app = MysqlConnection::establish(&db.url).expect("app");
            app.batch_execute("BEGIN; SELECT * FROM users WHERE id = 1234 FOR UPDATE;")
                .expect("app lock");
            std::thread::spawn(move || {
                std::thread::sleep(hold);
                app.batch_execute("COMMIT").expect("commit");
            })
        }
    };
    apply(&mut m, &[Phase::Backfill], None).expect("backfill");
    releaser.join().expect("releaser");
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE full_name IS NULL"),
        0
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"),
        0
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE id = 1234 AND full_name = name"),
        1
    );
    assert_eq!(backfill_record(&mut m).rows_done, 3000);
}

fn a_composite_text_key_is_split_by_sampling_and_written_once(server: Server) {
    let dir = Dir::new(&server, "composite");
    with_workers(&server, &dir, 3);
    let (create, fill) = match &server {
        Server::Pg(_) => (
            "CREATE TABLE items (tenant integer NOT NULL, code text NOT NULL, n integer NOT NULL DEFAULT 0, PRIMARY KEY (tenant, code));",
            "INSERT INTO items (tenant, code) SELECT g % 7, 'c''' || g FROM generate_series(1, 6000) g;",
        ),
        Server::My(_) => (
            "CREATE TABLE items (tenant int NOT NULL, code varchar(20) NOT NULL, n int NOT NULL DEFAULT 0, PRIMARY KEY (tenant, code));",
            "INSERT INTO items (tenant, code) SELECT seq % 7, CONCAT('c''', seq) FROM seq_1_to_6000;",
        ),
    };
    dir.write(
        "0001_items/expand.sql",
        &format!("{create}\n-- concertina:allow(unbatched-data-change): test data\n{fill}\n"),
    )
    .write(
        "0002_fill/expand.sql",
        &format!(
            "ALTER TABLE items ADD COLUMN done {};\nALTER TABLE items ADD COLUMN by_conn bigint;\n",
            server.pick("boolean", "boolean NULL")
        ),
    )
    .write(
        "0002_fill/backfill.sql",
        &format!(
            "UPDATE items SET n = n + 1, done = true, by_conn = {} WHERE done IS NULL;\n",
            connection_id(&server)
        ),
    );
    let mut m = migrator(&dir, &server);
    apply(&mut m, &[Phase::Expand], None).expect("expand");
    server.exec(server.pick("ANALYZE items", "ANALYZE TABLE items"));
    apply(&mut m, &[Phase::Backfill], None).expect("backfill");
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM items WHERE n = 1 AND done"),
        6000
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM items WHERE n <> 1"),
        0
    );
    assert_eq!(
        server.scalar("SELECT count(DISTINCT by_conn) AS n FROM items"),
        3
    );
    assert_eq!(backfill_record(&mut m).rows_done, 6000);
}

fn a_backfill_waits_for_worker_connections_left_by_an_earlier_run(server: Server) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (_dir, mut m) = parallel_setup(&server, "stale_worker", 2000, 2);
    let released = Arc::new(AtomicBool::new(false));
    let flag = released.clone();
    // A worker connection of a killed run: it holds its worker lock until it ends.
    let releaser = match &server {
        Server::Pg(db) => {
            let mut stale = PgConnection::establish(&db.url).expect("stale");
            stale
                .batch_execute(&format!(
                    "SELECT pg_advisory_lock_shared({})",
                    concertina_runtime::postgres::backfill::WORKER_LOCK_KEY
                ))
                .expect("stale worker lock");
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                // Set before the lock goes: no batch can have run while this is still false.
                flag.store(true, Ordering::SeqCst);
                drop(stale);
            })
        }
        Server::My(db) => {
            let mut stale = MysqlConnection::establish(&db.url).expect("stale");
            let database = db.url.rsplit('/').next().expect("database").to_string();
            stale
                .batch_execute(&format!(
                    "DO GET_LOCK('{}', 0)",
                    concertina_runtime::mysql::worker_lock_name(&database, 1)
                ))
                .expect("stale worker lock");
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                flag.store(true, Ordering::SeqCst);
                drop(stale);
            })
        }
    };
    let mut batch_before_release = false;
    m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |_| batch_before_release |= !released.load(Ordering::SeqCst),
    )
    .expect("backfill");
    releaser.join().expect("releaser");
    assert!(
        !batch_before_release,
        "a batch ran while the stale worker lived"
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        2000
    );
}

/// `app_latency_budget`: a canary's baseline is read before the first batch; a budget the
/// canary cannot meet (100 µs) shrinks the batches and lengthens the pauses, the progress says
/// why, and every row is still written once.
fn a_latency_budget_slows_the_batches_and_says_why(server: Server) {
    let (dir, _) = parallel_setup(&server, "budget", 1200, 1);
    dir.write(
        "concertina.toml",
        &format!("{}app_latency_budget = \"100us\"\n", server.config()),
    );
    let mut m = migrator(&dir, &server);
    let started = std::time::Instant::now();
    let mut paces: Vec<(String, u64)> = Vec::new();
    m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |p| paces.push((p.pace.clone(), p.batch_size)),
    )
    .expect("backfill");
    // The baseline: two seconds of the canary before the first batch.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        paces
            .iter()
            .any(|(why, _)| why.starts_with("budget: the canary's p99")
                && why.contains("over 0.1 ms")),
        "{paces:?}"
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1 AND done"),
        1200
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"),
        0
    );
}

/// `app_latency_budget = "50ms"`: free while the canary reads fast; a synthetic load (another
/// session taking the table's exclusive lock for 150 ms of every 200, for 4 s) makes the
/// canary's reads wait, the controller slows the batches down and says so; once the load ends
/// it steps back up (`recovering`, then `free`), and every row is written once.
fn the_budget_slows_down_under_a_load_and_speeds_up_when_it_ends(server: Server) {
    let (dir, _) = parallel_setup(&server, "budget_load", 8000, 1);
    dir.write(
        "concertina.toml",
        &format!(
            "{}batch_target = \"1ms\"\napp_latency_budget = \"50ms\"\n",
            server
                .config()
                .replace("batch_size = 200", "batch_size = 100")
                .replace("batch_pause = \"0ms\"", "batch_pause = \"250ms\"")
        ),
    );
    let mut load: Box<dyn SimpleConnection + Send> = match &server {
        Server::Pg(_) => Box::new(server.pg_conn()),
        Server::My(_) => Box::new(server.my_conn()),
    };
    let hold = server
        .pick(
            "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(0.15); COMMIT",
            "LOCK TABLES users WRITE; DO SLEEP(0.15); UNLOCK TABLES",
        )
        .to_string();
    let mut m = migrator(&dir, &server);
    let started = std::time::Instant::now();
    // 2 s of baseline, 3 s of reads before the first judgement (free), then the load.
    let (load_from, load_until) = (Duration::from_millis(5500), Duration::from_millis(9500));
    let loader = std::thread::spawn(move || {
        std::thread::sleep(load_from);
        while started.elapsed() < load_until {
            load.batch_execute(&hold).expect("the synthetic load");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let mut paces: Vec<(Duration, String)> = Vec::new();
    m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |p| paces.push((started.elapsed(), p.pace.clone())),
    )
    .expect("backfill");
    loader.join().expect("loader");
    let before: Vec<_> = paces.iter().filter(|(t, _)| *t < load_from).collect();
    assert!(
        !before.is_empty() && before.iter().all(|(_, why)| why == "free"),
        "{paces:?}"
    );
    let slowed = paces
        .iter()
        .position(|(t, why)| {
            *t >= load_from
                && why.starts_with("budget: the canary's p99")
                && why.contains("over 50.0 ms")
        })
        .unwrap_or_else(|| panic!("never slowed down under the load: {paces:?}"));
    let recovered = paces[slowed..]
        .iter()
        .find(|(_, why)| why.starts_with("budget: recovering") || why == "free");
    let (at, _) =
        recovered.unwrap_or_else(|| panic!("never sped up again after the load: {paces:?}"));
    assert!(*at > load_until, "sped up during the load: {paces:?}");
    eprintln!(
        "slowed at {:.1} s, sped up at {:.1} s, done at {:.1} s",
        paces[slowed].0.as_secs_f64(),
        at.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1 AND done"),
        8000
    );
}
