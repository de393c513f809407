//! kill -9 of the migrator at many points of expand, backfill and contract, written once and
//! run on PostgreSQL and MariaDB: the next run completes, no row is lost or written twice, the
//! state table is consistent and the schema is the model's (on PostgreSQL also: no INVALID
//! index and no helper check left). On MariaDB DDL commits implicitly, so a kill can land
//! between a statement and its record in the state table: the rerun must notice the work is
//! done. A parallel backfill (three workers) killed at points of its progress. Two migrators
//! started together: one applies, the other names the holder. The kill points are spread over
//! the whole run; where exactly each one lands does not matter to the assertions.
//! Servers: `CONCERTINA_TEST_PG_URL` (admin URL), default postgres://postgres@127.0.0.1:5432/postgres;
//! `CONCERTINA_TEST_MYSQL_URL`, default mysql://root@127.0.0.1:3306/.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use concertina_runtime::testdb::TestDb as PgDb;
use concertina_runtime::testdb_mysql::MySqlTestDb as MyDb;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Pg,
    My,
}

impl Kind {
    fn pick<T>(self, pg: T, my: T) -> T {
        match self {
            Kind::Pg => pg,
            Kind::My => my,
        }
    }

    /// Rows in `users`: enough for a backfill of many batches on either server.
    fn rows(self) -> i64 {
        self.pick(60_000, 30_000)
    }

    /// The test's migrations, with `runtime` appended to the `[runtime]` table.
    fn migrations_with(self, tag: &str, runtime: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "concertina-kill-{self:?}-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let rows = self.rows();
        let files = match self {
            Kind::Pg => [
                ("concertina.toml", format!("dialect = \"postgres\"\nserver_version = \"14\"\n[runtime]\nlock_timeout = \"200ms\"\nlock_retries = 20\nbatch_size = 2000\nbatch_target = \"50ms\"\nbatch_pause = \"1ms\"\n{runtime}")),
                ("0001_users/expand.sql", format!(
                    "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, touched integer NOT NULL DEFAULT 0);\n\
                     -- concertina:allow(unbatched-data-change): test data\n\
                     INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, {rows}) g;\n")),
                ("0002_rename/expand.sql", "ALTER TABLE users ADD COLUMN full_name text;\nALTER TABLE users ALTER COLUMN name DROP NOT NULL;\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n-- concertina:allow(contract-in-expand): names are unique by construction in this test\nCREATE UNIQUE INDEX CONCURRENTLY users_name_touched_idx ON users (name, touched);\nALTER TABLE users ADD CONSTRAINT users_touched_ok CHECK (touched >= 0) NOT VALID;\n".to_string()),
                ("0002_rename/contract.sql", "ALTER TABLE users VALIDATE CONSTRAINT users_touched_ok;\nALTER TABLE users ALTER COLUMN full_name SET NOT NULL;\nDROP INDEX CONCURRENTLY users_name_touched_idx;\nALTER TABLE users DROP COLUMN name;\n".to_string()),
            ],
            Kind::My => [
                ("concertina.toml", format!("dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nlock_timeout = \"1s\"\nlock_retries = 20\nbatch_size = 1000\nbatch_target = \"30ms\"\nbatch_pause = \"1ms\"\n{runtime}")),
                ("0001_users/expand.sql", format!(
                    "CREATE TABLE users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL, touched int NOT NULL DEFAULT 0) ENGINE=InnoDB;\n\
                     -- concertina:allow(unbatched-data-change): test data\n\
                     INSERT INTO users (name) SELECT CONCAT('user ', seq) FROM seq_1_to_{rows};\n")),
                ("0002_rename/expand.sql", "ALTER TABLE users ADD COLUMN full_name varchar(100) NULL;\nALTER TABLE users MODIFY name varchar(100) NULL;\nCREATE INDEX users_name_idx ON users (name);\nALTER TABLE users ADD COLUMN note varchar(10) NULL;\n".to_string()),
                ("0002_rename/contract.sql", "DROP INDEX users_name_idx ON users;\nALTER TABLE users DROP COLUMN note;\nALTER TABLE users DROP COLUMN name;\n".to_string()),
            ],
        };
        // `touched = touched + 1` shows a row written twice.
        let backfill = (
            "0002_rename/backfill.sql",
            "UPDATE users SET full_name = name, touched = touched + 1 WHERE full_name IS NULL;\n"
                .to_string(),
        );
        for (rel, text) in files.into_iter().chain([backfill]) {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        Dir(dir)
    }

    fn migrations(self, tag: &str) -> Dir {
        self.migrations_with(tag, "")
    }
}

/// A database of its own on the server (see `concertina_runtime::testdb`), dropped at the end.
enum Db {
    Pg(PgDb),
    My(MyDb),
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct S {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    s: Option<String>,
}

/// The first row of `sql` on a connection of its own, or None when the query fails.
fn first<C: Connection, T>(url: &str, sql: &str) -> Option<T>
where
    for<'a> SqlQuery: LoadQuery<'a, C, T>,
{
    let mut conn = C::establish(url).ok()?;
    diesel::sql_query(sql).get_result::<T>(&mut conn).ok()
}

impl Db {
    fn new(kind: Kind, tag: &str) -> Db {
        let tag = format!("{tag}_{kind:?}");
        match kind {
            Kind::Pg => Db::Pg(PgDb::new(&tag).unwrap_or_else(|e| panic!("{e}"))),
            Kind::My => Db::My(MyDb::new(&tag).unwrap_or_else(|e| panic!("{e}"))),
        }
    }

    fn url(&self) -> &str {
        match self {
            Db::Pg(db) => &db.url,
            Db::My(db) => &db.url,
        }
    }

    fn first<T>(&self, sql: &str) -> Option<T>
    where
        for<'a> SqlQuery: LoadQuery<'a, PgConnection, T> + LoadQuery<'a, MysqlConnection, T>,
    {
        match self {
            Db::Pg(_) => first::<PgConnection, T>(self.url(), sql),
            Db::My(_) => first::<MysqlConnection, T>(self.url(), sql),
        }
    }

    /// Like `count`, but 0 when the query fails (the state table may not exist yet).
    fn try_count(&self, sql: &str) -> i64 {
        self.first::<N>(sql).map_or(0, |n| n.n)
    }

    fn count(&self, sql: &str) -> i64 {
        self.first::<N>(sql)
            .unwrap_or_else(|| panic!("query failed: {sql}"))
            .n
    }

    /// The state a killed migrator left: the last phase touched and how far it got.
    fn where_it_stopped(&self) -> String {
        let sql = match self {
            Db::Pg(_) => "SELECT string_agg(version || ' ' || phase || ' ' || status || ' ' || statements_done || ' stmts ' || rows_done || ' rows'
                 || coalesce(' slice keys ' || (SELECT string_agg(coalesce(s->'key'->>0, '-'), ',') FROM jsonb_array_elements(backfill_cursor::jsonb->'slices') s), ''), '; ' ORDER BY version, phase) AS s
             FROM concertina_migrations WHERE version = '0002'",
            Db::My(_) => "SELECT GROUP_CONCAT(CONCAT(version, ' ', phase, ' ', status, ' ', statements_done, ' stmts ', rows_done, ' rows',
                 COALESCE(CONCAT(' slice keys ', JSON_EXTRACT(backfill_cursor, '$.slices[*].key[0]')), '')) ORDER BY version, phase SEPARATOR '; ') AS s
             FROM concertina_migrations WHERE version = '0002'",
        };
        match self.first::<S>(sql) {
            None => "no state table yet".into(),
            Some(S { s }) => s.unwrap_or_else(|| "nothing recorded".into()),
        }
    }
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
    /// As soon as the state table shows at least this many rows backfilled.
    BackfillRows(i64),
}

impl KillAt {
    /// The state-table query that says the point is reached.
    fn reached(&self) -> Option<String> {
        match self {
            KillAt::After(_) => None,
            KillAt::Statements(phase, k) => Some(format!("SELECT count(*) AS n FROM concertina_migrations WHERE version = '0002' AND phase = '{phase}' AND statements_done >= {k}")),
            KillAt::BackfillCursorSaved => Some("SELECT count(*) AS n FROM concertina_migrations WHERE version = '0002' AND phase = 'backfill' AND backfill_cursor IS NOT NULL".into()),
            KillAt::BackfillRows(n) => Some(format!("SELECT count(*) AS n FROM concertina_migrations WHERE version = '0002' AND phase = 'backfill' AND rows_done >= {n}")),
        }
    }
}

/// Every scenario, on both servers.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod pg {
            $(#[test] fn $name() { super::$name(super::Kind::Pg) })*
        }
        mod mariadb {
            $(#[test] fn $name() { super::$name(super::Kind::My) })*
        }
    };
}

on_both!(
    kill_9_at_many_points_then_rerun_completes_exactly,
    kill_9_during_a_parallel_backfill_then_rerun_completes_exactly,
    two_migrators_started_together_one_applies_the_other_names_the_holder,
);

fn kill_9_at_many_points_then_rerun_completes_exactly(kind: Kind) {
    let dir = kind.migrations("k");
    // Points in time over the whole run, then points tied to the progress in the state table:
    // expand and contract are quick, so time alone rarely lands between their statements.
    let times: &[u64] = kind.pick(
        &[
            0, 15, 30, 50, 75, 100, 130, 160, 200, 250, 300, 350, 400, 500, 600, 750, 900, 1000,
            1100, 1400,
        ],
        &[
            0, 20, 40, 70, 100, 150, 200, 300, 400, 550, 700, 900, 1200, 1600,
        ],
    );
    let mut points: Vec<KillAt> = times.iter().copied().map(KillAt::After).collect();
    match kind {
        Kind::Pg => points.extend((0..4).map(|k| KillAt::Statements("contract", k))),
        Kind::My => {
            points.extend((1..4).map(|k| KillAt::Statements("expand", k)));
            points.extend((0..3).map(|k| KillAt::Statements("contract", k)));
            points.extend([1, 8_000, 20_000].map(KillAt::BackfillRows));
        }
    }
    kill_at_each(kind, &dir, "k", &points);
}

fn kill_9_during_a_parallel_backfill_then_rerun_completes_exactly(kind: Kind) {
    // Three workers, so three slices stand at different cursors when the kill lands; the
    // rerun resumes each at its own key (and waits for the killed run's worker connections).
    let dir = kind.migrations_with("p", "backfill_workers = 3\n");
    let rows: &[i64] = kind.pick(
        &[
            1, 3000, 9000, 18_000, 27_000, 36_000, 45_000, 54_000, 59_000,
        ],
        &[1, 2000, 6000, 12_000, 18_000, 24_000, 29_000],
    );
    let mut points = vec![KillAt::BackfillCursorSaved];
    points.extend(rows.iter().copied().map(KillAt::BackfillRows));
    kill_at_each(kind, &dir, "p", &points);
}

/// Runs `up --contract` once per point, kills it there with SIGKILL, runs it again and checks
/// that the run completed exactly.
fn kill_at_each(kind: Kind, dir: &Dir, tag: &str, points: &[KillAt]) {
    let mut landed = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let db = Db::new(kind, &format!("kill{tag}{i}"));
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
        // Run again until done: a server still finishing the killed run's statement holds the
        // migrator lock for a moment, which `--wait` rides out.
        let started = Instant::now();
        let rerun = migrate(dir, db.url(), &["up", "--contract", "--wait", "2m"])
            .output()
            .expect("rerun");
        let context = format!("kill point {i} ({point:?})");
        assert!(
            rerun.status.success(),
            "{context}: rerun failed after {:?}: {}",
            started.elapsed(),
            String::from_utf8_lossy(&rerun.stderr)
        );
        assert_eq!(
            db.count("SELECT count(*) AS n FROM users"),
            kind.rows(),
            "{context}: rows lost"
        );
        assert_eq!(
            db.count("SELECT count(*) AS n FROM users WHERE touched <> 1 OR full_name IS NULL"),
            0,
            "{context}: a row was backfilled twice or not at all"
        );
        assert_eq!(
            db.count("SELECT count(*) AS n FROM concertina_migrations WHERE status <> 'done'"),
            0,
            "{context}: state table not consistent"
        );
        assert_eq!(
            db.count(&format!("SELECT count(*) AS n FROM concertina_migrations WHERE phase = 'backfill' AND rows_done = {}", kind.rows())),
            1,
            "{context}: rows_done must count each row once"
        );
        if let Kind::Pg = kind {
            assert_eq!(
                db.count("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid"),
                0,
                "{context}: INVALID index left"
            );
            assert_eq!(
                db.count(
                    "SELECT count(*) AS n FROM pg_constraint WHERE conname LIKE 'concertina_nn_%'"
                ),
                0,
                "{context}: helper check left"
            );
        }
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

fn two_migrators_started_together_one_applies_the_other_names_the_holder(kind: Kind) {
    let dir = kind.migrations("two");
    let db = Db::new(kind, "two");
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
    let holder = kind.pick("pid ", "connection ");
    for message in &locked {
        assert!(
            message.contains("another migrator holds the lock") && message.contains(holder),
            "{message}"
        );
    }
    assert_eq!(ok + locked.len(), 2, "{codes:?}");
    assert_eq!(
        db.count("SELECT count(*) AS n FROM users WHERE touched <> 1"),
        0
    );
}
