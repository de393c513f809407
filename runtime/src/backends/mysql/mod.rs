//! MySQL and MariaDB through diesel's `MysqlConnection`: the state table, the migrator lock
//! (`GET_LOCK`), DDL under `lock_wait_timeout` with retries and an explicit online algorithm,
//! the keyset backfill and the catalog from `information_schema`. Identifiers are quoted with
//! backticks; values are bound, never spliced, except where the server refuses placeholders
//! (`SET SESSION …` takes only integers we computed).

mod apply;
pub mod backfill;
mod catalog;
pub mod rehearse;
mod replicas;
pub mod stats;
pub mod testdb;
pub mod trace;

/// The state store's connection: `?` placeholders, `UTC_TIMESTAMP(6)`.
mod state_sql {
    crate::impl_state_sql!(
        diesel::mysql::MysqlConnection,
        diesel::mysql::Mysql,
        crate::engine::store::Flavour {
            numbered_placeholders: false,
            now: "UTC_TIMESTAMP(6)",
            current_schema: "DATABASE()",
            quote: super::quote_ident,
            insert_ignore: ("INSERT IGNORE", ""),
            as_text: |e| format!("CAST({e} AS CHAR)"),
        }
    );
}

use std::collections::BTreeSet;

use concertina_codegen::change::{Change, QualName};
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::backend::{Backend, LockInfo};
use crate::catalog::Fact;
use crate::engine::{ApplyOptions, StepReport};
use crate::engine::{DbError, DbErrorKind};
use crate::error::RuntimeError;
use crate::plan::{PhasePlan, Step, StepKind};
use crate::state::{PhaseRecord, StateRow, META_TABLE, STATE_SCHEMA_VERSION, STATE_TABLE};
use crate::url::redact;

pub use apply::{online_clauses, Online};
pub use backfill::worker_lock_name;

/// Quotes an identifier for MySQL: `` `a``b` ``.
pub fn quote_ident(ident: &str) -> String {
    concertina_codegen::dialect::DialectKind::MySql
        .dialect()
        .quote_ident(ident)
}

/// `db`.`t`, or `t` in the connection's database.
pub fn quoted_table(t: &QualName) -> String {
    if t.schema.is_empty() {
        quote_ident(&t.name)
    } else {
        format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name))
    }
}

/// A server version as `VERSION()` reports it: `10.11.19-MariaDB-…` or `8.0.36`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let numeric: String = text
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = numeric.split('.').map(|p| p.parse::<u32>().ok());
        Some(Version(
            parts.next()??,
            parts.next().flatten().unwrap_or(0),
            parts.next().flatten().unwrap_or(0),
        ))
    }
}

pub struct MySql {
    conn: MysqlConnection,
    url: String,
    /// The database the URL names (`DATABASE()`).
    database: String,
    pub mariadb: bool,
    pub version: Version,
    lock_name: String,
    jitter: crate::engine::Jitter,
}

/// A MySQL/MariaDB error number's kind (server error reference; MariaDB's own numbers noted).
pub fn classify(errno: u32) -> DbErrorKind {
    match errno {
        // ER_LOCK_WAIT_TIMEOUT: a row lock (innodb_lock_wait_timeout) or a metadata lock
        // (lock_wait_timeout) was not granted in time.
        1205 => DbErrorKind::LockTimeout,
        // ER_LOCK_DEADLOCK: chosen as the victim; the transaction was rolled back.
        1213 => DbErrorKind::Deadlock,
        // ER_QUERY_TIMEOUT (MySQL max_execution_time), ER_STATEMENT_TIMEOUT (MariaDB
        // max_statement_time).
        3024 | 1969 => DbErrorKind::StatementTimeout,
        // ER_ALTER_OPERATION_NOT_SUPPORTED(_REASON): the ALGORITHM/LOCK asked for cannot do it.
        1845 | 1846 => DbErrorKind::Refused,
        // ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED (MariaDB), client: server gone / lost.
        1053 | 1927 | 2006 | 2013 => DbErrorKind::Connection,
        _ => DbErrorKind::Other,
    }
}

/// The error of the statement that just failed on `conn`, classified by its error number,
/// which `GET DIAGNOSTICS` reads while the server's diagnostics area still holds it (diesel
/// keeps only the message text). Call it before anything else runs on the connection.
pub fn db_error(conn: &mut MysqlConnection, e: &diesel::result::Error) -> DbError {
    use diesel::result::{DatabaseErrorKind, Error};
    let message = describe_error(e);
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => DbError {
            kind: DbErrorKind::Connection,
            code: String::new(),
            message,
        },
        Error::DatabaseError(..) => {
            let errno = conn
                .batch_execute("GET DIAGNOSTICS CONDITION 1 @concertina_errno = MYSQL_ERRNO")
                .ok()
                .and_then(|_| {
                    diesel::sql_query("SELECT CAST(@concertina_errno AS SIGNED) AS n")
                        .get_result::<OptInt>(conn)
                        .ok()
                })
                .and_then(|r| r.n)
                .and_then(|n| u32::try_from(n).ok());
            DbError {
                kind: errno.map_or(DbErrorKind::Other, classify),
                code: errno.map(|n| n.to_string()).unwrap_or_default(),
                message,
            }
        }
        _ => DbError::other(message),
    }
}

/// A string literal for the few statements that take no placeholders.
fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

#[derive(QueryableByName)]
struct OptInt {
    #[diesel(sql_type = Nullable<BigInt>)]
    n: Option<i64>,
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = Text)]
    v: String,
}

/// One session as `information_schema.PROCESSLIST` shows it.
#[derive(QueryableByName, Debug)]
struct Session {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    who: String,
    #[diesel(sql_type = Text)]
    command: String,
    #[diesel(sql_type = BigInt)]
    secs: i64,
    #[diesel(sql_type = Text)]
    info: String,
}

/// A session with the age of its open transaction in milliseconds.
#[derive(QueryableByName)]
struct AgedSession {
    #[diesel(embed)]
    session: Session,
    #[diesel(sql_type = BigInt)]
    ms: i64,
}

impl std::fmt::Display for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connection {} ({}, {} for {} s",
            self.id, self.who, self.command, self.secs
        )?;
        if !self.info.is_empty() {
            write!(f, ", running `{}`", self.info)?;
        }
        write!(f, ")")
    }
}

const SESSION_COLUMNS: &str = "CAST(p.ID AS SIGNED) AS id, CAST(CONCAT(p.USER, '@', p.HOST) AS CHAR) AS who, CAST(p.COMMAND AS CHAR) AS command, CAST(p.TIME AS SIGNED) AS secs, CAST(COALESCE(LEFT(REPLACE(p.INFO, '\\n', ' '), 200), '') AS CHAR) AS info";

impl MySql {
    /// Connects; `mariadb://` URLs are accepted as `mysql://`.
    pub fn connect(url: &str, mariadb: bool) -> Result<MySql, RuntimeError> {
        if let Some(reason) = crate::url::malformed(url) {
            return Err(RuntimeError::BadUrl(reason));
        }
        let driver_url = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                format!("mysql://{rest}")
            }
            _ => url.to_string(),
        };
        let mut conn =
            MysqlConnection::establish(&driver_url).map_err(|e| RuntimeError::connect(url, e))?;
        let one = |conn: &mut MysqlConnection, sql: &str, what: &str| {
            diesel::sql_query(sql)
                .get_result::<One>(conn)
                .map(|o| o.v)
                .map_err(|e| RuntimeError::query(what.to_string(), e))
        };
        let database = one(
            &mut conn,
            "SELECT CAST(COALESCE(DATABASE(), '') AS CHAR) AS v",
            "reading the database name",
        )?;
        if database.is_empty() {
            return Err(RuntimeError::connect(
                url,
                "the URL names no database: add it as the path, e.g. mysql://user@host:3306/app",
            ));
        }
        let version_text = one(
            &mut conn,
            "SELECT CAST(VERSION() AS CHAR) AS v",
            "reading the server version",
        )?;
        let version = Version::parse(&version_text).unwrap_or(Version(0, 0, 0));
        // GET_LOCK names are server-wide: one lock per database, like PostgreSQL's advisory
        // locks, so two databases on one server migrate independently. At most 64 characters.
        let mut lock_name = format!("concertina:{database}");
        if lock_name.len() > 64 {
            lock_name = format!("concertina:{}", &crate::plan::checksum(&database)[..40]);
        }
        Ok(MySql {
            conn,
            url: url.to_string(),
            database: database.clone(),
            mariadb: mariadb || version_text.to_ascii_lowercase().contains("mariadb"),
            version,
            lock_name,
            jitter: crate::engine::Jitter::new(),
        })
    }

    pub fn connection(&mut self) -> &mut MysqlConnection {
        &mut self.conn
    }

    fn exec(&mut self, sql: &str, context: &str) -> Result<(), RuntimeError> {
        self.conn
            .batch_execute(sql)
            .map_err(|e| RuntimeError::query(context, e))
    }

    fn lock_holder(&mut self) -> Result<String, RuntimeError> {
        let holder: OptInt = diesel::sql_query("SELECT CAST(IS_USED_LOCK(?) AS SIGNED) AS n")
            .bind::<Text, _>(&self.lock_name)
            .get_result(&mut self.conn)
            .map_err(|e| RuntimeError::query("finding the migrator lock's holder", e))?;
        let Some(id) = holder.n else {
            return Ok("a session that has just released it".into());
        };
        let sessions: Vec<Session> = diesel::sql_query(format!(
            "SELECT {SESSION_COLUMNS} FROM information_schema.PROCESSLIST p WHERE p.ID = ?"
        ))
        .bind::<BigInt, _>(id)
        .load(&mut self.conn)
        .map_err(|e| RuntimeError::query("finding the migrator lock's holder", e))?;
        Ok(match sessions.first() {
            Some(s) => s.to_string(),
            None => format!("connection {id}"),
        })
    }

    /// Look before queueing: sessions whose transaction has been open longer than `older`
    /// and that hold (or wait for) a metadata lock on `table`: an `ALTER`'s exclusive metadata
    /// lock would queue behind them, and every app query on the table behind the `ALTER`.
    /// From MariaDB's `METADATA_LOCK_INFO` or MySQL's `performance_schema.metadata_locks`
    /// where the server has them; else every transaction of this database open that long
    /// (any of them may have read the table), so the look errs on the side of waiting.
    pub(super) fn long_transactions(
        &mut self,
        table: &QualName,
        older: std::time::Duration,
    ) -> Vec<String> {
        let ms = older.as_millis();
        let age = "CAST(COALESCE(TIMESTAMPDIFF(MICROSECOND, x.trx_started, NOW(6)) / 1000, p.TIME * 1000) AS SIGNED)";
        let with_age = format!(
            "SELECT DISTINCT {SESSION_COLUMNS}, {age} AS ms
             FROM information_schema.PROCESSLIST p
             JOIN information_schema.INNODB_TRX x ON x.trx_mysql_thread_id = p.ID"
        );
        let queries = [
            format!(
                "{with_age}
                 JOIN information_schema.METADATA_LOCK_INFO m ON m.THREAD_ID = p.ID
                 WHERE p.ID <> CONNECTION_ID() AND m.TABLE_NAME = ?
                   AND m.TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE())"
            ),
            format!(
                "{with_age}
                 JOIN performance_schema.threads t ON t.PROCESSLIST_ID = p.ID
                 JOIN performance_schema.metadata_locks m ON m.OWNER_THREAD_ID = t.THREAD_ID
                 WHERE p.ID <> CONNECTION_ID() AND m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_NAME = ?
                   AND m.OBJECT_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE())"
            ),
        ];
        // performance_schema.metadata_locks answers (with no rows) even where nothing fills
        // it: performance_schema off (MariaDB's default) or its MDL instrument disabled
        // (MariaDB's default even with it on). Found on a fresh MariaDB 10.11 without the
        // METADATA_LOCK_INFO plugin: the empty answer let the ALTER queue behind the reader.
        let mdl_instrumented = self.performance_schema_sees_metadata_locks();
        let usable = [true, mdl_instrumented];
        let mut rows: Option<Vec<AgedSession>> = None;
        for (q, _) in queries.iter().zip(usable).filter(|(_, usable)| *usable) {
            if let Ok(r) = diesel::sql_query(q)
                .bind::<Text, _>(&table.name)
                .bind::<Text, _>(&table.schema)
                .load::<AgedSession>(&mut self.conn)
            {
                rows = Some(r);
                break;
            }
        }
        let rows = rows.unwrap_or_else(|| {
            diesel::sql_query(format!(
                "{with_age} WHERE p.ID <> CONNECTION_ID() AND p.DB <=> DATABASE()"
            ))
            .load::<AgedSession>(&mut self.conn)
            .unwrap_or_default()
        });
        rows.into_iter()
            .filter(|r| r.ms >= ms as i64)
            .map(|r| {
                let state = if r.session.command == "Sleep" {
                    "idle in transaction"
                } else {
                    "running"
                };
                format!(
                    "connection {} ({}) has been {state} for {:.1} s in a transaction on {table}{}",
                    r.session.id,
                    r.session.who,
                    r.ms as f64 / 1000.0,
                    if r.session.info.is_empty() {
                        String::new()
                    } else {
                        format!(" (`{}`)", r.session.info)
                    }
                )
            })
            .collect()
    }

    /// `performance_schema.metadata_locks` is filled: performance_schema on and its MDL
    /// instrument enabled.
    fn performance_schema_sees_metadata_locks(&mut self) -> bool {
        #[derive(QueryableByName)]
        struct Enabled {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(
            "SELECT CAST(COUNT(*) AS SIGNED) AS n FROM performance_schema.setup_instruments
             WHERE NAME = 'wait/lock/metadata/sql/mdl' AND ENABLED = 'YES'
               AND @@performance_schema = 1",
        )
        .get_result::<Enabled>(&mut self.conn)
        .is_ok_and(|e| e.n > 0)
    }

    /// Sessions that may hold a metadata lock on `table`: MariaDB's `METADATA_LOCK_INFO` when
    /// the plugin is installed, else every other session with an open transaction (a read in
    /// an open transaction holds the table's metadata lock until it ends).
    fn blockers(&mut self, table: Option<&QualName>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(t) = table {
            let mdl: Result<Vec<Session>, _> = diesel::sql_query(format!(
                "SELECT DISTINCT {SESSION_COLUMNS}
                 FROM information_schema.METADATA_LOCK_INFO m
                 JOIN information_schema.PROCESSLIST p ON p.ID = m.THREAD_ID
                 WHERE p.ID <> CONNECTION_ID() AND m.TABLE_NAME = ?
                   AND m.TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE())"
            ))
            .bind::<Text, _>(&t.name)
            .bind::<Text, _>(&t.schema)
            .load(&mut self.conn);
            if let Ok(rows) = mdl {
                out.extend(rows.iter().map(ToString::to_string));
            }
        }
        if out.is_empty() {
            let trx: Vec<Session> = diesel::sql_query(format!(
                "SELECT {SESSION_COLUMNS}
                 FROM information_schema.INNODB_TRX x
                 JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id
                 WHERE p.ID <> CONNECTION_ID()
                 ORDER BY p.DB <=> DATABASE() DESC, x.trx_started"
            ))
            .load(&mut self.conn)
            .unwrap_or_default();
            // Transactions in this database first; a few at most.
            out.extend(
                trx.iter()
                    .take(5)
                    .map(|s| format!("{s} with a transaction open")),
            );
        }
        out
    }
}

/// A driver error as one line.
pub fn describe_error(e: &diesel::result::Error) -> String {
    match e {
        diesel::result::Error::DatabaseError(_, info) => info.message().trim().replace('\n', " "),
        other => other.to_string().trim().replace('\n', " "),
    }
}

/// `lock_timeout` in whole seconds for `lock_wait_timeout`/`innodb_lock_wait_timeout`:
/// rounded up, at least 1.
pub fn timeout_seconds(timeout: std::time::Duration) -> u64 {
    let ms = timeout.as_millis() as u64;
    ms.div_ceil(1000).max(1)
}

impl crate::engine::phase::PhaseServer for MySql {
    fn state(&mut self) -> &mut dyn crate::engine::store::StateSql {
        &mut self.conn
    }

    fn interrupted_statement(&self, existing: Option<&PhaseRecord>) -> Option<usize> {
        apply::interrupted_statement(existing)
    }

    fn run_step(
        &mut self,
        plan: &PhasePlan,
        step: &Step,
        options: &ApplyOptions,
        interrupted: bool,
    ) -> Result<StepReport, String> {
        MySql::run_recorded(self, plan, step, options, interrupted)
    }

    fn wait_for_earlier_workers(&mut self) -> Result<(), String> {
        backfill::wait_for_earlier_workers(self)
    }

    type Batch = backfill::MyBatch;

    fn batch_connection(&mut self) -> Result<backfill::MyBatch, String> {
        backfill::MyBatch::first(self)
    }
}

impl Backend for MySql {
    fn describe(&self) -> String {
        redact(&self.url)
    }

    fn quote_ident(&self, ident: &str) -> String {
        quote_ident(ident)
    }

    fn ensure_state_table(&mut self) -> Result<(), RuntimeError> {
        let meta = quote_ident(META_TABLE);
        let state = quote_ident(STATE_TABLE);
        // One statement at a time: DDL commits implicitly, and each is idempotent.
        self.exec(
            &format!(
                "CREATE TABLE IF NOT EXISTS {meta} (
                     id INT NOT NULL PRIMARY KEY,
                     schema_version INT NOT NULL
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            ),
            "creating the state table's version table",
        )?;
        self.exec(
            &format!(
                "CREATE TABLE IF NOT EXISTS {state} (
                     version VARCHAR(190) NOT NULL,
                     name VARCHAR(255) NOT NULL,
                     phase VARCHAR(16) NOT NULL,
                     status VARCHAR(16) NOT NULL,
                     checksum CHAR(64) NOT NULL,
                     applied_sql LONGTEXT NOT NULL,
                     statements_done INT NOT NULL DEFAULT 0,
                     backfill_cursor LONGTEXT NULL,
                     rows_done BIGINT NOT NULL DEFAULT 0,
                     started_at DATETIME(6) NULL,
                     finished_at DATETIME(6) NULL,
                     updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                     last_error LONGTEXT NULL,
                     PRIMARY KEY (version, phase),
                     CONSTRAINT concertina_phase_known CHECK (phase IN ('expand', 'backfill', 'contract', 'down'))
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
            ),
            &format!("creating the state table {STATE_TABLE}"),
        )?;
        self.exec(
            &format!(
                "INSERT IGNORE INTO {meta} (id, schema_version) VALUES (1, {STATE_SCHEMA_VERSION})"
            ),
            "recording the state table's version",
        )?;
        let found: OptInt = diesel::sql_query(format!(
            "SELECT CAST(schema_version AS SIGNED) AS n FROM {meta} WHERE id = 1"
        ))
        .get_result(&mut self.conn)
        .map_err(|e| RuntimeError::query("reading the state table's version", e))?;
        match found.n {
            Some(v) if v > i64::from(STATE_SCHEMA_VERSION) => Err(RuntimeError::StateTooNew {
                table: STATE_TABLE.into(),
                found: v as i32,
                supported: STATE_SCHEMA_VERSION,
            }),
            _ => Ok(()),
        }
    }

    fn load_state(&mut self) -> Result<Vec<PhaseRecord>, RuntimeError> {
        let rows: Vec<StateRow> = diesel::sql_query(format!(
            "SELECT version, name, phase, status, checksum, applied_sql, statements_done,
                    backfill_cursor, rows_done,
                    CAST(DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s') AS CHAR) AS started_at,
                    CAST(DATE_FORMAT(finished_at, '%Y-%m-%d %H:%i:%s') AS CHAR) AS finished_at,
                    last_error
             FROM {} ORDER BY version, phase",
            quote_ident(STATE_TABLE)
        ))
        .load(&mut self.conn)
        .map_err(|e| RuntimeError::query("reading the state table", e))?;
        rows.into_iter().map(StateRow::into_record).collect()
    }

    fn state(&mut self) -> &mut dyn crate::engine::store::StateSql {
        &mut self.conn
    }

    fn try_lock(&mut self) -> Result<Option<String>, RuntimeError> {
        // GET_LOCK(name, 0) does not wait: 1 taken, 0 held elsewhere; `--wait` polls.
        let got: OptInt = diesel::sql_query("SELECT CAST(GET_LOCK(?, 0) AS SIGNED) AS n")
            .bind::<Text, _>(&self.lock_name)
            .get_result(&mut self.conn)
            .map_err(|e| RuntimeError::query("taking the migrator lock", e))?;
        if got.n == Some(1) {
            return Ok(None);
        }
        self.lock_holder().map(Some)
    }

    fn unlock(&mut self) -> Result<(), RuntimeError> {
        diesel::sql_query("SELECT CAST(RELEASE_LOCK(?) AS SIGNED) AS n")
            .bind::<Text, _>(&self.lock_name)
            .get_result::<OptInt>(&mut self.conn)
            .map(|_| ())
            .map_err(|e| RuntimeError::query("releasing the migrator lock", e))
    }

    fn live_facts(&mut self) -> Result<BTreeSet<Fact>, RuntimeError> {
        catalog::live_facts(&mut self.conn)
    }

    fn model_facts(&self, schema: &concertina_codegen::model::Schema) -> BTreeSet<Fact> {
        catalog::model_facts(schema)
    }

    fn sets_not_null(&self, _step: &Step, change: Option<&Change>) -> Option<(QualName, String)> {
        // `MODIFY c … NOT NULL` / `CHANGE c c … NOT NULL` restate the column whole.
        let Some(Change::AlterTable { table, ops, .. }) = change else {
            return None;
        };
        ops.iter().find_map(|op| match op {
            concertina_codegen::change::AlterOp::ModifyColumn { old_name, column }
                if column.not_null =>
            {
                Some((table.clone(), old_name.clone()))
            }
            _ => None,
        })
    }

    fn server_version(&mut self) -> Result<String, RuntimeError> {
        #[derive(QueryableByName)]
        struct V {
            #[diesel(sql_type = Text)]
            v: String,
        }
        diesel::sql_query("SELECT VERSION() AS v")
            .get_result::<V>(&mut self.conn)
            .map(|v| v.v)
            .map_err(|e| RuntimeError::query("reading the server version", e))
    }

    fn count_nulls(&mut self, table: &QualName, column: &str) -> Result<i64, RuntimeError> {
        let n: OptInt = diesel::sql_query(format!(
            "SELECT CAST(COUNT(*) AS SIGNED) AS n FROM {} WHERE {} IS NULL",
            quoted_table(table),
            quote_ident(column)
        ))
        .get_result(&mut self.conn)
        .map_err(|e| RuntimeError::query("counting NULLs", e))?;
        Ok(n.n.unwrap_or(0))
    }

    fn row_estimate(&mut self, table: &QualName) -> Option<i64> {
        catalog::row_estimate(&mut self.conn, table)
    }

    fn step_locks(
        &self,
        change: &Change,
        step: &Step,
        _ctx: &crate::plan::LockContext,
    ) -> Vec<LockInfo> {
        apply::step_locks(change, step, self.version, self.mariadb)
    }

    fn how(&self, step: &Step) -> String {
        match &step.kind {
            StepKind::Backfill { .. } => "keyset batches, one short transaction each, resumable".into(),
            StepKind::Transaction { .. } => "the file's explicit transaction".into(),
            StepKind::Session => "session setting".into(),
            _ => "alone (DDL commits implicitly), lock_wait_timeout + retries, progress recorded after it".into(),
        }
    }

    fn drop_index(&self, table: &QualName, index: &str) -> (String, StepKind) {
        (
            format!(
                "ALTER TABLE {} DROP INDEX {}",
                quoted_table(table),
                quote_ident(index)
            ),
            StepKind::Transactional,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_versions() {
        assert_eq!(quote_ident("users"), "`users`");
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
        assert_eq!(
            Version::parse("10.11.19-MariaDB-0+deb12u1"),
            Some(Version(10, 11, 19))
        );
        assert_eq!(Version::parse("8.0.36"), Some(Version(8, 0, 36)));
        assert_eq!(Version::parse("garbage"), None);
    }

    #[test]
    fn timeouts_round_up_to_whole_seconds() {
        use std::time::Duration;
        assert_eq!(timeout_seconds(Duration::from_millis(100)), 1);
        assert_eq!(timeout_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(timeout_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(timeout_seconds(Duration::ZERO), 1);
    }
}
