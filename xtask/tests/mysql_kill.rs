//! kill -9 of the migrator at many points of expand, backfill and contract on MariaDB/MySQL:
//! the next run completes, no row is lost or written twice, the state table is consistent and
//! the schema is the model's. DDL commits implicitly there, so a kill can land between a
//! statement and its record in the state table: the rerun must notice the work is done.
//! A parallel backfill (three workers, twelve slices) killed at points of its progress.
//! Two migrators started together: one applies, the other names the holder.
//! Server: `CONCERTINA_TEST_MYSQL_URL`, default mysql://root@127.0.0.1:3306/.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use concertina_runtime::testdb_mysql::MySqlTestDb;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

const ROWS: i64 = 30_000;

fn try_count(url: &str, sql: &str) -> Option<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    MysqlConnection::establish(url)
        .ok()
        .and_then(|mut c| diesel::sql_query(sql).get_result::<N>(&mut c).ok())
        .map(|n| n.n)
}

fn count(url: &str, sql: &str) -> i64 {
    try_count(url, sql).unwrap_or_else(|| panic!("query failed: {sql}"))
}

fn where_it_stopped(url: &str) -> String {
    #[derive(QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        s: Option<String>,
    }
    MysqlConnection::establish(url)
        .ok()
        .and_then(|mut c| {
            diesel::sql_query(
                "SELECT GROUP_CONCAT(CONCAT(version, ' ', phase, ' ', status, ' ', statements_done, ' stmts ', rows_done, ' rows',
                     COALESCE(CONCAT(' slice keys ', JSON_EXTRACT(backfill_cursor, '$.slices[*].key[0]')), '')) ORDER BY version, phase SEPARATOR '; ') AS s
                 FROM concertina_migrations WHERE version = '0002'",
            )
            .get_result::<S>(&mut c)
            .ok()
        })
        .and_then(|s| s.s)
        .unwrap_or_else(|| "nothing recorded".into())
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn migrations(tag: &str) -> Dir {
    migrations_with(tag, "")
}

/// The test's migrations, with `runtime` appended to the `[runtime]` table.
fn migrations_with(tag: &str, runtime: &str) -> Dir {
    let dir = std::env::temp_dir().join(format!("concertina-mykill-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        ("concertina.toml", format!("dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nlock_timeout = \"1s\"\nlock_retries = 20\nbatch_size = 1000\nbatch_target = \"30ms\"\nbatch_pause = \"1ms\"\n{runtime}")),
        ("0001_users/expand.sql", format!(
            "CREATE TABLE users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL, touched int NOT NULL DEFAULT 0) ENGINE=InnoDB;\n\
             -- concertina:allow(unbatched-data-change): test data\n\
             INSERT INTO users (name) SELECT CONCAT('user ', seq) FROM seq_1_to_{ROWS};\n")),
        ("0002_rename/expand.sql", "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\nALTER TABLE users MODIFY name varchar(100) NULL;\nCREATE INDEX users_name_idx ON users (name);\nALTER TABLE users ADD COLUMN note varchar(10) NULL;\n".to_string()),
        // `touched = touched + 1` shows a row written twice.
        ("0002_rename/backfill.sql", "UPDATE users SET full_name = name, touched = touched + 1 WHERE full_name IS NULL;\n".to_string()),
        ("0002_rename/contract.sql", "DROP INDEX users_name_idx ON users;\nALTER TABLE users DROP COLUMN note;\nALTER TABLE users DROP COLUMN name;\n".to_string()),
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
    /// As soon as the state table shows this many statements done in a phase.
    Statements(&'static str, u32),
    /// As soon as the backfill's cursor (its slices) is saved.
    BackfillCursorSaved,
    /// As soon as the backfill has saved this many rows done.
    BackfillRows(i64),
}

impl KillAt {
    /// The state-table query that says the point is reached.
    fn reached(&self) -> Option<String> {
        match self {
            KillAt::After(_) => None,
            KillAt::Statements(phase, k) => Some(format!("SELECT COUNT(*) AS n FROM concertina_migrations WHERE version = '0002' AND phase = '{phase}' AND statements_done >= {k}")),
            KillAt::BackfillCursorSaved => Some("SELECT COUNT(*) AS n FROM concertina_migrations WHERE version = '0002' AND phase = 'backfill' AND backfill_cursor IS NOT NULL".into()),
            KillAt::BackfillRows(n) => Some(format!("SELECT COUNT(*) AS n FROM concertina_migrations WHERE version = '0002' AND phase = 'backfill' AND rows_done >= {n}")),
        }
    }
}

#[test]
fn kill_9_at_many_points_then_rerun_completes_exactly() {
    let dir = migrations("k");
    let mut points: Vec<KillAt> = [
        0u64, 20, 40, 70, 100, 150, 200, 300, 400, 550, 700, 900, 1200, 1600,
    ]
    .into_iter()
    .map(KillAt::After)
    .collect();
    // Expand and contract are quick, so time alone rarely lands between their statements.
    points.extend((1..4).map(|k| KillAt::Statements("expand", k)));
    points.extend((0..3).map(|k| KillAt::Statements("contract", k)));
    points.extend([1, 8_000, 20_000].map(KillAt::BackfillRows));
    kill_at_each(&dir, "k", &points);
}

#[test]
fn kill_9_during_a_parallel_backfill_then_rerun_completes_exactly() {
    // Three workers, so three slices stand at different cursors when the kill lands; the
    // rerun resumes each at its own key (and waits for the killed run's worker connections).
    let dir = migrations_with("p", "backfill_workers = 3\n");
    let mut points = vec![KillAt::BackfillCursorSaved];
    points.extend(
        [1, 2000, 6000, 12_000, 18_000, 24_000, 29_000]
            .into_iter()
            .map(KillAt::BackfillRows),
    );
    kill_at_each(&dir, "p", &points);
}

/// Runs `up --contract` once per point, kills it there with SIGKILL, runs it again and checks
/// that the run completed exactly.
fn kill_at_each(dir: &Dir, tag: &str, points: &[KillAt]) {
    let mut landed = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let db = MySqlTestDb::new(&format!("kill{tag}{i}")).unwrap_or_else(|e| panic!("{e}"));
        let url = db.url.clone();
        let setup = migrate(dir, &url, &["up", "--to", "0001"])
            .output()
            .expect("setup");
        assert!(
            setup.status.success(),
            "setup: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let mut child = migrate(dir, &url, &["up", "--contract"])
            .spawn()
            .expect("spawn");
        match (point, point.reached()) {
            (KillAt::After(ms), _) => std::thread::sleep(Duration::from_millis(*ms)),
            (_, Some(sql)) => {
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline && try_count(&url, &sql).unwrap_or(0) < 1 {
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
        landed.push(format!("{point:?}: {}", where_it_stopped(&url)));
        // A server still finishing the killed run's statement holds the migrator lock until
        // it ends; `--wait` rides that out.
        let rerun = migrate(dir, &url, &["up", "--contract", "--wait", "2m"])
            .output()
            .expect("rerun");
        let context = format!("kill point {i} ({point:?})");
        assert!(
            rerun.status.success(),
            "{context}: rerun failed: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        assert_eq!(
            count(&url, "SELECT COUNT(*) AS n FROM users"),
            ROWS,
            "{context}: rows lost"
        );
        assert_eq!(
            count(
                &url,
                "SELECT COUNT(*) AS n FROM users WHERE touched <> 1 OR full_name IS NULL"
            ),
            0,
            "{context}: a row was backfilled twice or not at all"
        );
        assert_eq!(
            count(
                &url,
                "SELECT COUNT(*) AS n FROM concertina_migrations WHERE status <> 'done'"
            ),
            0,
            "{context}: state table not consistent"
        );
        assert_eq!(
            count(&url, &format!("SELECT COUNT(*) AS n FROM concertina_migrations WHERE phase = 'backfill' AND rows_done = {ROWS}")),
            1,
            "{context}: rows_done must count each row once"
        );
        let verify = migrate(dir, &url, &["verify"]).output().expect("verify");
        assert!(
            verify.status.success(),
            "{context}: verify: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    eprintln!("kill points:\n  {}", landed.join("\n  "));
}

#[test]
fn two_migrators_started_together_one_applies_the_other_names_the_holder() {
    let dir = migrations("two");
    let db = MySqlTestDb::new("two").unwrap_or_else(|e| panic!("{e}"));
    let setup = migrate(&dir, &db.url, &["up", "--to", "0001"])
        .output()
        .expect("setup");
    assert!(setup.status.success());
    let a = migrate(&dir, &db.url, &["up", "--contract"])
        .spawn()
        .expect("a");
    let b = migrate(&dir, &db.url, &["up", "--contract"])
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
            message.contains("another migrator holds the lock") && message.contains("connection "),
            "{message}"
        );
    }
    assert_eq!(ok + locked.len(), 2, "{codes:?}");
    assert_eq!(
        count(
            &db.url,
            "SELECT COUNT(*) AS n FROM users WHERE touched <> 1"
        ),
        0
    );
}
