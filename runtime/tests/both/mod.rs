//! Shared by the runtime's integration tests, those whose scenarios run on both servers and the
//! backend-specific ones beside them: a database of its own on PostgreSQL or MariaDB (dropped
//! at the end), this server's spelling of a statement, and a migrations directory in a temp dir.
#![allow(dead_code)]

use concertina_codegen::Phase;
use concertina_runtime::migrator::{MigrateError, Migrator};
use concertina_runtime::state::PhaseRecord;
use concertina_runtime::testdb::TestDb as PgDb;
use concertina_runtime::testdb_mysql::MySqlTestDb as MyDb;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::path::PathBuf;

pub const ALL: [Phase; 3] = [Phase::Expand, Phase::Backfill, Phase::Contract];

/// The server a scenario runs on: a database of its own, dropped at the end.
pub enum Server {
    Pg(PgDb),
    My(MyDb),
}

#[derive(QueryableByName)]
pub struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// One `n` (a BIGINT) from a query on a connection the test holds (an app's session).
pub fn scalar_on<C>(conn: &mut C, sql: &str) -> i64
where
    C: Connection,
    for<'a> diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'a, C, N>,
{
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

impl Server {
    pub fn pg(tag: &str) -> Server {
        Server::Pg(PgDb::new(tag).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn my(tag: &str) -> Server {
        Server::My(MyDb::new(tag).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn url(&self) -> &str {
        match self {
            Server::Pg(db) => &db.url,
            Server::My(db) => &db.url,
        }
    }

    pub fn config(&self) -> &'static str {
        match self {
            Server::Pg(_) => "dialect = \"postgres\"\nserver_version = \"15\"\n[runtime]\nlock_timeout = \"1s\"\nlock_retries = 2\nbatch_size = 200\nbatch_pause = \"0ms\"\nmax_lock_wait = \"2s\"\n",
            Server::My(_) => "dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nlock_timeout = \"1s\"\nlock_retries = 2\nbatch_size = 200\nbatch_pause = \"0ms\"\nmax_lock_wait = \"2s\"\n",
        }
    }

    /// This server's spelling of a statement.
    pub fn pick<'a>(&self, pg: &'a str, my: &'a str) -> &'a str {
        match self {
            Server::Pg(_) => pg,
            Server::My(_) => my,
        }
    }

    /// The test database's name.
    pub fn name(&self) -> &str {
        match self {
            Server::Pg(db) => &db.name,
            Server::My(db) => &db.name,
        }
    }

    /// A session of its own on a PostgreSQL test database (an app holding locks).
    pub fn pg_conn(&self) -> PgConnection {
        PgConnection::establish(self.url()).expect("connect")
    }

    /// A session of its own on a MariaDB test database.
    pub fn my_conn(&self) -> MysqlConnection {
        MysqlConnection::establish(self.url()).expect("connect")
    }

    pub fn exec(&self, sql: &str) {
        match self {
            Server::Pg(_) => self.pg_conn().batch_execute(sql),
            Server::My(_) => self.my_conn().batch_execute(sql),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn scalar(&self, sql: &str) -> i64 {
        match self {
            Server::Pg(_) => scalar_on(&mut self.pg_conn(), sql),
            Server::My(_) => scalar_on(&mut self.my_conn(), sql),
        }
    }

    /// `0001_users`: a table of `rows` users with a nullable phone.
    pub fn users(&self, dir: &Dir, rows: u32) {
        let create = self.pick(
            "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, phone text, n integer NOT NULL DEFAULT 0);\n",
            "CREATE TABLE users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL, phone varchar(20), n int NOT NULL DEFAULT 0);\n",
        );
        let fill = match self {
            Server::Pg(_) => format!(
                "INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, {rows}) g;\n"
            ),
            Server::My(_) => format!(
                "INSERT INTO users (name) SELECT CONCAT('user ', seq) FROM seq_1_to_{rows};\n"
            ),
        };
        dir.write(
            "0001_users/expand.sql",
            &format!("{create}-- concertina:allow(unbatched-data-change): test data\n{fill}"),
        );
    }

    pub fn columns(&self, table: &str) -> i64 {
        self.scalar(&format!(
            "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = '{table}' AND table_schema = {}",
            self.pick("'public'", "DATABASE()")
        ))
    }
}

/// A migrations directory in a temp dir, removed at the end.
pub struct Dir(pub PathBuf);

impl Dir {
    /// With the server's test configuration.
    pub fn new(server: &Server, tag: &str) -> Dir {
        Dir::with_config(tag, server.config())
    }

    /// With a configuration of the test's own (a shorter lock_timeout, larger batches).
    pub fn with_config(tag: &str, config: &str) -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "concertina-om-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("concertina.toml"), config).expect("config");
        Dir(dir)
    }

    pub fn write(&self, rel: &str, text: &str) -> &Dir {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        self
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn migrator(dir: &Dir, server: &Server) -> Migrator {
    let mut m = Migrator::open(&dir.0, server.url()).unwrap_or_else(|e| panic!("open: {e}"));
    m.lock(None, |_| {}).expect("lock");
    m
}

/// The backfill phase's state row.
pub fn backfill_record(m: &mut Migrator) -> PhaseRecord {
    m.state()
        .expect("state")
        .into_iter()
        .find(|r| r.phase == Phase::Backfill)
        .expect("backfill row")
}

/// Every one of `rows` users written exactly once (`n = n + 1` backfills show a second write
/// as `n = 2`) and counted once in the state row.
pub fn assert_each_row_written_once(server: &Server, m: &mut Migrator, rows: i64) {
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n = 1"),
        rows
    );
    assert_eq!(
        server.scalar("SELECT count(*) AS n FROM users WHERE n <> 1"),
        0
    );
    assert_eq!(backfill_record(m).rows_done, rows);
}

pub fn apply(m: &mut Migrator, phases: &[Phase], to: Option<&str>) -> Result<usize, MigrateError> {
    m.apply(phases, to, |_, _, _| {}, |_, _| {}, |_| {})
}

/// Every scenario, on both servers.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod pg {
            $(#[test] fn $name() { super::$name(super::both::Server::pg(stringify!($name))) })*
        }
        mod mariadb {
            $(#[test] fn $name() { super::$name(super::both::Server::my(stringify!($name))) })*
        }
    };
}

/// What a backfill saw of its first wait for replicas.
#[derive(Debug)]
pub struct FirstWait {
    /// Rows changed when it began to wait.
    pub rows_done: i64,
    /// The progress line's reason.
    pub why: String,
    /// What `meanwhile` returned: the rows changed 2 s into the wait.
    pub changed_meanwhile: i64,
}

/// Runs the pending backfill of `m` with a replica held back; once the backfill waits for it,
/// `meanwhile` runs on a thread of its own 2 s later: it counts the rows changed so far and
/// lets the replica go on. Returns the backfill's result and its first wait (`None`: it never
/// waited).
pub fn backfill_through_a_replica_wait(
    m: &mut Migrator,
    meanwhile: impl FnOnce() -> i64 + Send + 'static,
) -> (Result<usize, MigrateError>, Option<FirstWait>) {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let waiting_at = Arc::new(AtomicI64::new(-1));
    let done = Arc::new(AtomicBool::new(false));
    let releaser = {
        let (waiting_at, done) = (waiting_at.clone(), done.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while waiting_at.load(Ordering::SeqCst) < 0 && !done.load(Ordering::SeqCst) {
                if started.elapsed() > Duration::from_secs(120) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_secs(2));
            meanwhile()
        })
    };
    let why = Mutex::new(String::new());
    let result = m.apply(
        &[Phase::Backfill],
        None,
        |_, _, _| {},
        |_, _| {},
        |p| {
            if p.waiting_for_replicas && waiting_at.load(Ordering::SeqCst) < 0 {
                *why.lock().unwrap() = p.pace.clone();
                waiting_at.store(p.rows_done, Ordering::SeqCst);
            }
        },
    );
    done.store(true, Ordering::SeqCst);
    let changed_meanwhile = releaser
        .join()
        .expect("the thread that lets the replica go on");
    let rows_done = waiting_at.load(Ordering::SeqCst);
    let wait = (rows_done >= 0).then(|| FirstWait {
        rows_done,
        why: why.into_inner().unwrap(),
        changed_meanwhile,
    });
    (result, wait)
}
