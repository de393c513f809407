//! kill -9 of the migrator at many points of expand, backfill and contract: the next run
//! completes, no row is lost or written twice, no INVALID index is left, the state table is
//! consistent and the schema is the model's. The kill points are spread over the whole run;
//! where exactly each one lands does not matter to the assertions.
//! Server: `CONCERTINA_TEST_PG_URL` (admin URL), default postgres://postgres@127.0.0.1:5432/postgres.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;

/// A database of its own (see `concertina_runtime::testdb`), with the queries this test asks.
struct TestDb(concertina_runtime::testdb::TestDb);

impl TestDb {
    fn new(tag: &str) -> TestDb {
        TestDb(concertina_runtime::testdb::TestDb::new(tag).unwrap_or_else(|e| panic!("{e}")))
    }

    fn url(&self) -> &str {
        &self.0.url
    }

    /// Like `count`, but 0 when the query fails (the state table may not exist yet).
    fn try_count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        PgConnection::establish(self.url())
            .ok()
            .and_then(|mut c| diesel::sql_query(sql).get_result::<N>(&mut c).ok())
            .map_or(0, |n| n.n)
    }

    fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = PgConnection::establish(self.url()).expect("connect");
        diesel::sql_query(sql)
            .get_result::<N>(&mut conn)
            .expect(sql)
            .n
    }
}

impl TestDb {
    /// The state a killed migrator left: the last phase touched and how far it got.
    fn where_it_stopped(&self) -> String {
        #[derive(QueryableByName)]
        struct S {
            #[diesel(sql_type = diesel::sql_types::Text)]
            s: String,
        }
        let mut conn = PgConnection::establish(self.url()).expect("connect");
        diesel::sql_query(
            "SELECT coalesce(string_agg(version || ' ' || phase || ' ' || status || ' ' || statements_done || ' stmts ' || rows_done || ' rows'
                 || coalesce(' slice keys ' || (SELECT string_agg(coalesce(s->'key'->>0, '-'), ',') FROM jsonb_array_elements(backfill_cursor::jsonb->'slices') s), ''), '; ' ORDER BY version, phase), 'nothing recorded') AS s
             FROM concertina_migrations WHERE version = '0002'",
        )
        .get_result::<S>(&mut conn)
        .map(|s| s.s)
        .unwrap_or_else(|_| "no state table yet".into())
    }
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const ROWS: i64 = 60_000;

fn migrations(tag: &str) -> Dir {
    migrations_with(tag, "")
}

/// The test's migrations, with `runtime` appended to the `[runtime]` table.
fn migrations_with(tag: &str, runtime: &str) -> Dir {
    let dir = std::env::temp_dir().join(format!("concertina-kill-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        ("concertina.toml", format!("dialect = \"postgres\"\nserver_version = \"14\"\n[runtime]\nlock_timeout = \"200ms\"\nlock_retries = 20\nbatch_size = 2000\nbatch_target = \"50ms\"\nbatch_pause = \"1ms\"\n{runtime}")),
        ("0001_users/expand.sql", format!(
            "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, touched integer NOT NULL DEFAULT 0);\n\
             -- concertina:allow(unbatched-data-change): test data\n\
             INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, {ROWS}) g;\n")),
        ("0002_rename/expand.sql", "ALTER TABLE users ADD COLUMN full_name text;\nALTER TABLE users ALTER COLUMN name DROP NOT NULL;\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n-- concertina:allow(contract-in-expand): names are unique by construction in this test\nCREATE UNIQUE INDEX CONCURRENTLY users_name_touched_idx ON users (name, touched);\nALTER TABLE users ADD CONSTRAINT users_touched_ok CHECK (touched >= 0) NOT VALID;\n".to_string()),
        // `touched = touched + 1` shows a row written twice.
        ("0002_rename/backfill.sql", "UPDATE users SET full_name = name, touched = touched + 1 WHERE full_name IS NULL;\n".to_string()),
        ("0002_rename/contract.sql", "ALTER TABLE users VALIDATE CONSTRAINT users_touched_ok;\nALTER TABLE users ALTER COLUMN full_name SET NOT NULL;\nDROP INDEX CONCURRENTLY users_name_touched_idx;\nALTER TABLE users DROP COLUMN name;\n".to_string()),
    ];
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    Dir(dir)
}

fn migrate(dir: &Dir, url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.arg("migrate")
        .args(args)
        .arg("--dir")
        .arg(&dir.0)
        .env("DATABASE_URL", url)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[derive(Debug)]
enum KillAt {
    /// Milliseconds after the migrator started.
    After(u64),
    /// As soon as the state table shows this many contract statements done.
    ContractStatements(u32),
    /// As soon as the backfill's cursor (its slices) is saved.
    BackfillCursorSaved,
    /// As soon as the state table shows at least this many rows backfilled.
    BackfillRows(i64),
}

impl KillAt {
    /// The state-table query that says the point is reached.
    fn reached(&self) -> Option<String> {
        match self {
            KillAt::After(_) => None,
            KillAt::ContractStatements(k) => Some(format!("SELECT count(*) AS n FROM concertina_migrations WHERE phase = 'contract' AND statements_done >= {k}")),
            KillAt::BackfillCursorSaved => Some("SELECT count(*) AS n FROM concertina_migrations WHERE phase = 'backfill' AND backfill_cursor IS NOT NULL".into()),
            KillAt::BackfillRows(n) => Some(format!("SELECT count(*) AS n FROM concertina_migrations WHERE phase = 'backfill' AND rows_done >= {n}")),
        }
    }
}

#[test]
fn kill_9_at_twenty_points_then_rerun_completes_exactly() {
    let dir = migrations("k");
    // Twenty points in time over the whole run, then four points tied to the contract's
    // progress in the state table (contract is quick, so time alone rarely lands there).
    let mut points: Vec<KillAt> = [
        0u64, 15, 30, 50, 75, 100, 130, 160, 200, 250, 300, 350, 400, 500, 600, 750, 900, 1000,
        1100, 1400,
    ]
    .into_iter()
    .map(KillAt::After)
    .collect();
    points.extend((0..4).map(KillAt::ContractStatements));
    kill_at_each(&dir, "k", &points);
}

/// Runs `up --contract` once per point, kills it there with SIGKILL, runs it again and checks
/// that the run completed exactly.
fn kill_at_each(dir: &Dir, tag: &str, points: &[KillAt]) {
    let mut landed = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let db = TestDb::new(&format!("kill{tag}{i}"));
        let setup = migrate(dir, db.url(), &["up", "--to", "0001"])
            .output()
            .expect("setup");
        assert!(
            setup.status.success(),
            "setup: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let mut child = migrate(dir, db.url(), &["up", "--contract"])
            .spawn()
            .expect("spawn");
        match (point, point.reached()) {
            (KillAt::After(ms), _) => std::thread::sleep(Duration::from_millis(*ms)),
            (_, Some(sql)) => {
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline && db.try_count(&sql) < 1 {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            (_, None) => {}
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        landed.push(format!("{point:?}: {}", db.where_it_stopped()));
        let delay = point;
        // Run again until done: a server still finishing the killed run's statement holds the
        // migrator lock for a moment, which `--wait` rides out.
        let started = Instant::now();
        let rerun = migrate(dir, db.url(), &["up", "--contract", "--wait", "2m"])
            .output()
            .expect("rerun");
        assert!(
            rerun.status.success(),
            "kill point {i} ({delay:?}): rerun failed after {:?}: {}",
            started.elapsed(),
            String::from_utf8_lossy(&rerun.stderr)
        );
        let context = format!("kill point {i} ({delay:?})");
        assert_eq!(
            db.count("SELECT count(*) AS n FROM users"),
            ROWS,
            "{context}: rows lost"
        );
        assert_eq!(
            db.count("SELECT count(*) AS n FROM users WHERE touched <> 1 OR full_name IS NULL"),
            0,
            "{context}: a row was backfilled twice or not at all"
        );
        assert_eq!(
            db.count("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid"),
            0,
            "{context}: INVALID index left"
        );
        assert_eq!(
            db.count("SELECT count(*) AS n FROM concertina_migrations WHERE status <> 'done'"),
            0,
            "{context}: state table not consistent"
        );
        assert_eq!(
            db.count("SELECT count(*) AS n FROM concertina_migrations WHERE phase = 'backfill' AND rows_done = 60000"),
            1,
            "{context}: rows_done must count each row once"
        );
        assert_eq!(
            db.count(
                "SELECT count(*) AS n FROM pg_constraint WHERE conname LIKE 'concertina_nn_%'"
            ),
            0,
            "{context}: helper check left"
        );
        let verify = migrate(dir, db.url(), &["verify"])
            .output()
            .expect("verify");
        assert!(
            verify.status.success(),
            "{context}: verify: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    // Where the kills landed (timing decides it; the assertions above hold for any point).
    eprintln!("kill points:\n  {}", landed.join("\n  "));
}

#[test]
fn kill_9_during_a_parallel_backfill_then_rerun_completes_exactly() {
    // Three workers, so three slices stand at different cursors when the kill lands; the
    // rerun resumes each at its own key (and waits for the killed run's worker connections).
    let dir = migrations_with("p", "backfill_workers = 3\n");
    let mut points = vec![KillAt::BackfillCursorSaved];
    points.extend(
        [
            1, 3000, 9000, 18_000, 27_000, 36_000, 45_000, 54_000, 59_000,
        ]
        .into_iter()
        .map(KillAt::BackfillRows),
    );
    kill_at_each(&dir, "p", &points);
}

#[test]
fn two_migrators_started_together_one_applies_the_other_names_the_holder() {
    let dir = migrations("two");
    let db = TestDb::new("two");
    let setup = migrate(&dir, db.url(), &["up", "--to", "0001"])
        .output()
        .expect("setup");
    assert!(setup.status.success());
    let a = migrate(&dir, db.url(), &["up", "--contract"])
        .spawn()
        .expect("a");
    let b = migrate(&dir, db.url(), &["up", "--contract"])
        .spawn()
        .expect("b");
    let a = a.wait_with_output().expect("a");
    let b = b.wait_with_output().expect("b");
    let codes = [a.status.code(), b.status.code()];
    let ok = codes.iter().filter(|c| **c == Some(0)).count();
    let locked: Vec<String> = [&a, &b]
        .iter()
        .filter(|o| o.status.code() == Some(3))
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    // Either one ran while the other was refused, or the second started after the first
    // finished and found nothing to do: never two at once.
    assert!(ok >= 1, "{codes:?}");
    for message in &locked {
        assert!(
            message.contains("another migrator holds the lock") && message.contains("pid "),
            "{message}"
        );
    }
    assert_eq!(ok + locked.len(), 2, "{codes:?}");
    assert_eq!(
        db.count("SELECT count(*) AS n FROM users WHERE touched <> 1"),
        0
    );
}
