//! PostgreSQL through diesel's `PgConnection`: the state table, the single-migrator lock, and
//! the [`Backend`](crate::backend::Backend) that runs phases with `apply` and `backfill`.
//! Every identifier built into SQL is quoted; values are bound, never spliced.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use std::collections::BTreeSet;

use concertina_codegen::change::{Change, QualName};

pub mod apply;
pub mod backfill;
pub mod catalog;
pub mod locks;
pub mod raw;
pub mod rehearse;
pub mod stats;
pub mod testdb;
pub mod trace;

/// The state store's connection: `$n` placeholders, `now()`.
mod state_sql {
    crate::impl_state_sql!(
        diesel::pg::PgConnection,
        diesel::pg::Pg,
        crate::engine::store::Flavour {
            numbered_placeholders: true,
            now: "now()",
            current_schema: "current_schema()",
            quote: super::quote_ident,
            insert_ignore: ("INSERT", " ON CONFLICT DO NOTHING"),
            as_text: |e| format!("({e})::text"),
        }
    );
}

use self::apply::Applier;
use self::backfill::wait_for_earlier_workers;
use crate::backend::LockInfo;
use crate::catalog::Fact;
use crate::engine::{ApplyOptions, StepReport};
use crate::error::RuntimeError;
use crate::plan::{PhasePlan, Step, StepKind};
use crate::state::{PhaseRecord, StateRow, META_TABLE, STATE_SCHEMA_VERSION, STATE_TABLE};
use crate::url::redact;

/// `pg_try_advisory_lock` key of the migrator: the bytes of "concerti".
pub const LOCK_KEY: i64 = i64::from_be_bytes(*b"concerti");

/// Advisory lock key the statements connection holds (shared) while it lives.
pub const STATEMENTS_LOCK_KEY: i64 = i64::from_be_bytes(*b"concstmt");

/// Quotes an identifier for PostgreSQL: `"a""b"`.
pub fn quote_ident(ident: &str) -> String {
    concertina_codegen::dialect::DialectKind::Postgres
        .dialect()
        .quote_ident(ident)
}

pub struct Postgres {
    conn: PgConnection,
    url: String,
    /// The connection that runs the migration's own SQL, opened on first use: a libpq
    /// connection whose errors keep their SQLSTATE, so lock timeouts and deadlocks are told by
    /// code (diesel's connection keeps the state table and the migrator lock).
    raw: Option<raw::RawPg>,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ok: bool,
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = Integer)]
    pid: i32,
    #[diesel(sql_type = Text)]
    application: String,
    #[diesel(sql_type = Text)]
    client: String,
    #[diesel(sql_type = Text)]
    since: String,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Nullable<Integer>)]
    version: Option<i32>,
}

impl Postgres {
    pub fn connect(url: &str) -> Result<Postgres, RuntimeError> {
        if let Some(reason) = crate::url::malformed(url) {
            return Err(RuntimeError::BadUrl(reason));
        }
        let mut conn = PgConnection::establish(url).map_err(|e| RuntimeError::connect(url, e))?;
        conn.batch_execute("SET application_name = 'concertina-migrator'")
            .map_err(|e| RuntimeError::query("setting application_name", e))?;
        // PostgreSQL 14+: if the migrator dies, the server notices within a second and ends
        // what it was running (and releases the migrator lock) instead of finishing it.
        let _ = conn.batch_execute("SET client_connection_check_interval = '1s'");
        Ok(Postgres {
            conn,
            url: url.to_string(),
            raw: None,
        })
    }

    /// The connection string without its password.
    pub fn describe(&self) -> String {
        redact(&self.url)
    }

    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// The connection the migration's statements run on (see the `raw` field). It holds
    /// [`STATEMENTS_LOCK_KEY`] (shared) while it lives; before it opens, this run waits until
    /// the statements connection of a killed run is gone — its backend may still be running
    /// the killed run's statement (a `CREATE INDEX CONCURRENTLY`) after the migrator lock,
    /// held by the other connection, was released.
    pub fn statements(&mut self) -> Result<&mut raw::RawPg, String> {
        let raw = match self.raw.take() {
            Some(raw) => raw,
            None => self.open_statements()?,
        };
        Ok(self.raw.insert(raw))
    }

    fn open_statements(&mut self) -> Result<raw::RawPg, String> {
        self.conn
            .transaction::<_, diesel::result::Error, _>(|c| {
                c.batch_execute(&format!(
                    "SET LOCAL lock_timeout = '10min'; SELECT pg_advisory_xact_lock({STATEMENTS_LOCK_KEY})"
                ))
            })
            .map_err(|e| {
                format!(
                    "waiting for the statement of an earlier, killed run to end on the server: {}",
                    describe_error(&e)
                )
            })?;
        let mut raw = raw::RawPg::connect(&self.url).map_err(|e| e.message)?;
        raw.execute(&format!(
            "SET application_name = 'concertina-migrator'; SELECT pg_advisory_lock_shared({STATEMENTS_LOCK_KEY})"
        ))
        .map_err(|e| e.message)?;
        let _ = raw.execute("SET client_connection_check_interval = '1s'");
        Ok(raw)
    }

    /// Creates the state tables if missing, and refuses a layout newer than this release's.
    pub fn ensure_state_table(&mut self) -> Result<(), RuntimeError> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {meta} (
                 id integer PRIMARY KEY CHECK (id = 1),
                 schema_version integer NOT NULL
             );
             CREATE TABLE IF NOT EXISTS {state} (
                 version text NOT NULL,
                 name text NOT NULL,
                 phase text NOT NULL CHECK (phase IN ('expand', 'backfill', 'contract', 'down')),
                 status text NOT NULL,
                 checksum text NOT NULL,
                 applied_sql text NOT NULL,
                 statements_done integer NOT NULL DEFAULT 0,
                 backfill_cursor text,
                 rows_done bigint NOT NULL DEFAULT 0,
                 started_at timestamptz,
                 finished_at timestamptz,
                 updated_at timestamptz NOT NULL DEFAULT now(),
                 last_error text,
                 PRIMARY KEY (version, phase)
             );
             INSERT INTO {meta} (id, schema_version) VALUES (1, {STATE_SCHEMA_VERSION})
             ON CONFLICT (id) DO NOTHING;",
            meta = quote_ident(META_TABLE),
            state = quote_ident(STATE_TABLE),
        );
        self.conn.batch_execute(&ddl).map_err(|e| {
            RuntimeError::query(format!("creating the state table {STATE_TABLE}"), e)
        })?;
        let found: Version = diesel::sql_query(format!(
            "SELECT schema_version AS version FROM {} WHERE id = 1",
            quote_ident(META_TABLE)
        ))
        .get_result(&mut self.conn)
        .map_err(|e| RuntimeError::query("reading the state table's version", e))?;
        match found.version {
            Some(v) if v > STATE_SCHEMA_VERSION => Err(RuntimeError::StateTooNew {
                table: STATE_TABLE.into(),
                found: v,
                supported: STATE_SCHEMA_VERSION,
            }),
            // Older layouts are upgraded here, one step per version, as they appear.
            _ => Ok(()),
        }
    }

    pub fn load_state(&mut self) -> Result<Vec<PhaseRecord>, RuntimeError> {
        let rows: Vec<StateRow> = diesel::sql_query(format!(
            "SELECT version, name, phase, status, checksum, applied_sql, statements_done,
                    backfill_cursor, rows_done, started_at::text AS started_at,
                    finished_at::text AS finished_at, last_error
             FROM {} ORDER BY version, phase",
            quote_ident(STATE_TABLE)
        ))
        .load(&mut self.conn)
        .map_err(|e| RuntimeError::query("reading the state table", e))?;
        rows.into_iter().map(StateRow::into_record).collect()
    }

    /// Takes the migrator lock without waiting. `Ok(None)` when taken; otherwise who holds it.
    pub fn try_lock(&mut self) -> Result<Option<String>, RuntimeError> {
        let got: Flag = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS ok")
            .bind::<BigInt, _>(LOCK_KEY)
            .get_result(&mut self.conn)
            .map_err(|e| RuntimeError::query("taking the migrator lock", e))?;
        if got.ok {
            return Ok(None);
        }
        let holders: Vec<Holder> = diesel::sql_query(
            "SELECT a.pid, coalesce(a.application_name, '') AS application,
                    coalesce(host(a.client_addr), 'local socket') AS client,
                    date_trunc('second', a.backend_start)::text AS since
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted
               AND l.classid = (($1 >> 32) & 4294967295)::oid
               AND l.objid = ($1 & 4294967295)::oid
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .bind::<BigInt, _>(LOCK_KEY)
        .load(&mut self.conn)
        .map_err(|e| RuntimeError::query("finding the migrator lock's holder", e))?;
        Ok(Some(match holders.first() {
            Some(h) => format!(
                "pid {} ({}) from {}, connected since {}",
                h.pid,
                if h.application.is_empty() {
                    "no application_name"
                } else {
                    &h.application
                },
                h.client,
                h.since
            ),
            None => "a session that has just released it".into(),
        }))
    }

    pub fn unlock(&mut self) -> Result<(), RuntimeError> {
        diesel::sql_query("SELECT pg_advisory_unlock($1) AS ok")
            .bind::<BigInt, _>(LOCK_KEY)
            .get_result::<Flag>(&mut self.conn)
            .map(|_| ())
            .map_err(|e| RuntimeError::query("releasing the migrator lock", e))
    }

    /// The server's row estimate for a table (`pg_class.reltuples`); `None` if unknown.
    pub fn row_estimate(&mut self, table: &concertina_codegen::change::QualName) -> Option<i64> {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = Nullable<BigInt>)]
            n: Option<i64>,
        }
        let qualified = format!(
            "{}.{}",
            quote_ident(&table.schema),
            quote_ident(&table.name)
        );
        diesel::sql_query(
            "SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = to_regclass($1)",
        )
        .bind::<Text, _>(qualified)
        .get_result::<N>(&mut self.conn)
        .ok()
        .and_then(|n| n.n)
    }

    pub fn database_name(&mut self) -> Result<String, RuntimeError> {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = Text)]
            name: String,
        }
        let n: Name = diesel::sql_query("SELECT current_database()::text AS name")
            .get_result(&mut self.conn)
            .map_err(|e| RuntimeError::query("reading the database name", e))?;
        Ok(n.name)
    }
}

impl crate::engine::phase::PhaseServer for Postgres {
    fn state(&mut self) -> &mut dyn crate::engine::store::StateSql {
        &mut self.conn
    }

    fn run_step(
        &mut self,
        plan: &PhasePlan,
        step: &Step,
        options: &ApplyOptions,
        _interrupted: bool,
    ) -> Result<StepReport, String> {
        Applier::new(self, options.clone()).apply_step(plan, step)
    }

    fn wait_for_earlier_workers(&mut self) -> Result<(), String> {
        wait_for_earlier_workers(self)
    }

    type Batch = backfill::PgBatch;

    fn batch_connection(&mut self) -> Result<backfill::PgBatch, String> {
        backfill::PgBatch::connect(&self.url)
    }
}

impl crate::backend::Backend for Postgres {
    fn describe(&self) -> String {
        Postgres::describe(self)
    }

    fn quote_ident(&self, ident: &str) -> String {
        quote_ident(ident)
    }

    fn ensure_state_table(&mut self) -> Result<(), RuntimeError> {
        Postgres::ensure_state_table(self)
    }

    fn load_state(&mut self) -> Result<Vec<PhaseRecord>, RuntimeError> {
        Postgres::load_state(self)
    }

    fn state(&mut self) -> &mut dyn crate::engine::store::StateSql {
        &mut self.conn
    }

    fn try_lock(&mut self) -> Result<Option<String>, RuntimeError> {
        Postgres::try_lock(self)
    }

    fn unlock(&mut self) -> Result<(), RuntimeError> {
        Postgres::unlock(self)
    }

    fn live_facts(&mut self) -> Result<BTreeSet<Fact>, RuntimeError> {
        self::catalog::live_facts(self)
    }

    fn server_version(&mut self) -> Result<String, RuntimeError> {
        #[derive(QueryableByName)]
        struct V {
            #[diesel(sql_type = Text)]
            server_version: String,
        }
        diesel::sql_query("SHOW server_version")
            .get_result::<V>(&mut self.conn)
            .map(|v| v.server_version)
            .map_err(|e| RuntimeError::query("reading the server version", e))
    }

    fn count_nulls(&mut self, table: &QualName, column: &str) -> Result<i64, RuntimeError> {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let sql = format!(
            "SELECT count(*) AS n FROM {}.{} WHERE {} IS NULL",
            quote_ident(&table.schema),
            quote_ident(&table.name),
            quote_ident(column)
        );
        diesel::sql_query(sql)
            .get_result::<N>(&mut self.conn)
            .map(|n| n.n)
            .map_err(|e| RuntimeError::query("counting NULLs", e))
    }

    fn row_estimate(&mut self, table: &QualName) -> Option<i64> {
        Postgres::row_estimate(self, table)
    }

    fn step_locks(
        &self,
        change: &Change,
        _step: &Step,
        ctx: &crate::plan::LockContext,
    ) -> Vec<LockInfo> {
        self::locks::locks(change, ctx)
            .into_iter()
            .map(|(table, mode)| LockInfo {
                table,
                mode: mode.as_str().into(),
                blocks: mode.blocks(),
            })
            .collect()
    }

    fn how(&self, step: &Step) -> String {
        match &step.kind {
            StepKind::Transactional => "own transaction, lock_timeout + retries",
            StepKind::NonTransactional { .. } => "outside a transaction (CONCURRENTLY)",
            StepKind::SafeSetNotNull { .. } => {
                "CHECK NOT VALID, VALIDATE, SET NOT NULL, DROP CHECK"
            }
            StepKind::Transaction { .. } => "the file's explicit transaction",
            StepKind::Session => "session setting",
            StepKind::Backfill { .. } => "keyset batches, resumable",
        }
        .into()
    }

    fn drop_index(&self, table: &QualName, index: &str) -> (String, StepKind) {
        let index = QualName::new(table.schema.clone(), index.to_string());
        let qualified = if index.schema.is_empty() {
            quote_ident(&index.name)
        } else {
            format!(
                "{}.{}",
                quote_ident(&index.schema),
                quote_ident(&index.name)
            )
        };
        (
            format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"),
            StepKind::NonTransactional {
                index: Some(index),
                drops: true,
            },
        )
    }

    fn as_postgres(&mut self) -> Option<&mut Postgres> {
        Some(self)
    }
}

/// A driver error as one line, with the server's DETAIL and HINT (which name the duplicated
/// key, the failing row, …).
pub fn describe_error(e: &diesel::result::Error) -> String {
    match e {
        diesel::result::Error::DatabaseError(_, info) => {
            let mut out = info.message().trim().to_string();
            if let Some(detail) = info.details() {
                out.push_str(&format!(" ({})", detail.trim()));
            }
            if let Some(hint) = info.hint() {
                out.push_str(&format!("; hint: {}", hint.trim()));
            }
            out.replace('\n', " ")
        }
        other => other.to_string().trim().replace('\n', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("users"), "\"users\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
