//! The backfill engine's MySQL/MariaDB side ([`BatchServer`]): the SQL of each query, one
//! connection per worker. The batches, slices, workers, retries and progress are the shared
//! engine's (`crate::engine::backfill`).
//!
//! Both servers refuse `LIMIT` in `IN (SELECT …)`, so a batch's upper key comes first
//! (`SELECT k FROM t WHERE k > ? ORDER BY k LIMIT 1 OFFSET n-1`), then
//! `UPDATE … WHERE k > ? AND k <= ? AND (<the statement's predicate>)` — a range scan of the
//! clustered key. Rows an app transaction holds: the batch waits at most
//! `innodb_lock_wait_timeout` (the `lock_timeout`, in whole seconds) and the engine retries it
//! with backoff; there is no `SKIP LOCKED` for `UPDATE` on these servers.
//!
//! The saved cursor is rewritten per slice with `JSON_SET` in the batch's transaction. Worker
//! `i` holds the named lock [`worker_lock_name`] while it lives, so that a new run waits until
//! no worker of a killed run can still commit a batch.

use std::time::Duration;

use concertina_codegen::change::{Change, QualName};
use diesel::connection::SimpleConnection;
use diesel::mysql::Mysql;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::replicas::Replicas;
use super::MySql;
use super::{db_error, describe_error, quote_ident, quoted_table, timeout_seconds};
use crate::engine::backfill::{key_from_json, Batch, BatchServer, BatchStatement, KeyColumn};
use crate::engine::MAX_WORKERS;
use crate::engine::{BackfillOptions, DbError, Slices};
use crate::state::STATE_TABLE;

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    idx: String,
    #[diesel(sql_type = Text)]
    col: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    nullable: String,
}

#[derive(QueryableByName)]
struct OptText {
    #[diesel(sql_type = Nullable<Text>)]
    v: Option<String>,
}

#[derive(QueryableByName)]
struct OptInt {
    #[diesel(sql_type = Nullable<BigInt>)]
    n: Option<i64>,
}

/// The statement rebuilt around a key range: `{range}` is replaced per batch.
pub struct Template {
    table: QualName,
    reference: String,
    change: String,
}

fn template(change: &Change) -> Result<Template, String> {
    let stmt = BatchStatement::of(change, quoted_table)?;
    if stmt.from.is_some() {
        return Err(
            "UPDATE … FROM is PostgreSQL syntax; on MySQL write `UPDATE t JOIN other ON … SET …`"
                .into(),
        );
    }
    Ok(Template {
        table: stmt.table.clone(),
        reference: stmt
            .alias
            .map(quote_ident)
            .unwrap_or_else(|| quoted_table(stmt.table)),
        change: stmt.rebuilt("{range}"),
    })
}

/// `k > ?` over a composite key, spelled so the optimizer sees a range:
/// `(a > ? OR (a = ? AND b > ?))`. Returns the SQL and, per placeholder, the key position.
fn after(keys: &[KeyColumn], reference: &str) -> (String, Vec<usize>) {
    let col = |i: usize| format!("{reference}.{}", quote_ident(&keys[i].name));
    let mut alternatives = Vec::new();
    let mut order = Vec::new();
    for i in 0..keys.len() {
        let mut parts = Vec::new();
        for j in 0..i {
            parts.push(format!("{} = ?", col(j)));
            order.push(j);
        }
        parts.push(format!("{} > ?", col(i)));
        order.push(i);
        alternatives.push(parts.join(" AND "));
    }
    if alternatives.len() == 1 {
        (alternatives.remove(0), order)
    } else {
        (format!("(({}))", alternatives.join(") OR (")), order)
    }
}

/// `k <= ?` over a composite key, expanded like [`after`].
fn at_most(keys: &[KeyColumn], reference: &str) -> (String, Vec<usize>) {
    let col = |i: usize| format!("{reference}.{}", quote_ident(&keys[i].name));
    let mut alternatives = Vec::new();
    let mut order = Vec::new();
    for i in 0..keys.len() {
        let mut parts = Vec::new();
        for j in 0..i {
            parts.push(format!("{} = ?", col(j)));
            order.push(j);
        }
        let op = if i + 1 == keys.len() { "<=" } else { "<" };
        parts.push(format!("{} {op} ?", col(i)));
        order.push(i);
        alternatives.push(parts.join(" AND "));
    }
    if alternatives.len() == 1 {
        (alternatives.remove(0), order)
    } else {
        (format!("(({}))", alternatives.join(") OR (")), order)
    }
}

fn bind_all<'f>(
    mut q: BoxedSqlQuery<'f, Mysql, diesel::query_builder::SqlQuery>,
    keys: &[KeyColumn],
    groups: &[(&[usize], &'f [String])],
) -> BoxedSqlQuery<'f, Mysql, diesel::query_builder::SqlQuery> {
    for (order, values) in groups {
        for &i in order.iter() {
            let v = &values[i];
            match v.parse::<i64>() {
                Ok(n) if keys[i].integer => q = q.bind::<BigInt, _>(n),
                _ => q = q.bind::<Text, _>(v.clone()),
            }
        }
    }
    q
}

/// The named lock worker `slot` holds: server-wide names, so the database is part of it
/// (hashed when the name would pass MySQL's 64 characters).
pub fn worker_lock_name(database: &str, slot: usize) -> String {
    let name = format!("concertina-worker-{slot}:{database}");
    if name.len() <= 64 {
        name
    } else {
        format!(
            "concertina-worker-{slot}:{}",
            &crate::plan::checksum(database)[..32]
        )
    }
}

/// One backfill connection to MySQL/MariaDB.
pub struct MyBatch {
    db: MySql,
    database: String,
    /// This connection's worker slot (its named lock).
    slot: usize,
    /// The next slot to give a new worker.
    next_slot: usize,
    /// The replicas this connection watches between batches.
    replicas: Replicas,
}

impl MyBatch {
    /// The first worker of a statement, on a connection of its own to `db`'s database.
    pub fn first(db: &MySql) -> Result<MyBatch, String> {
        MyBatch::connect(&db.url, db.mariadb, 0)
    }

    fn connect(url: &str, mariadb: bool, slot: usize) -> Result<MyBatch, String> {
        let mut db = MySql::connect(url, mariadb).map_err(|e| e.to_string())?;
        let database = db.database.clone();
        let got: OptInt = diesel::sql_query("SELECT CAST(GET_LOCK(?, 0) AS SIGNED) AS n")
            .bind::<Text, _>(worker_lock_name(&database, slot))
            .get_result(&mut db.conn)
            .map_err(|e| format!("starting a backfill worker: {}", describe_error(&e)))?;
        if got.n != Some(1) {
            return Err(format!(
                "starting a backfill worker: its lock `{}` is held by another session",
                worker_lock_name(&database, slot)
            ));
        }
        Ok(MyBatch {
            db,
            database,
            slot,
            next_slot: slot + 1,
            replicas: Replicas::new(url, &[]),
        })
    }

    /// Runs one statement of the batch's transaction, classifying a failure while the
    /// server's diagnostics still describe it.
    fn exec(
        c: &mut diesel::MysqlConnection,
        q: BoxedSqlQuery<'_, Mysql, diesel::query_builder::SqlQuery>,
    ) -> Result<usize, DbError> {
        q.execute(c).map_err(|e| db_error(c, &e))
    }
}

/// Waits until no worker of an earlier (killed) run holds its lock on the server, so none can
/// commit a batch after this run has read the cursor.
pub(super) fn wait_for_earlier_workers(db: &mut MySql) -> Result<(), String> {
    let database = db.database.clone();
    let names: Vec<String> = (0..MAX_WORKERS)
        .map(|slot| worker_lock_name(&database, slot))
        .collect();
    let any_held = format!(
        "SELECT CAST(COALESCE({}) AS SIGNED) AS n",
        names
            .iter()
            .map(|n| format!("IS_USED_LOCK({})", super::sql_literal(n)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let started = std::time::Instant::now();
    loop {
        let held: OptInt = diesel::sql_query(&any_held)
            .get_result(&mut db.conn)
            .map_err(|e| describe_error(&e))?;
        if held.n.is_none() {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "a backfill worker of an earlier run (connection {}) is still on the server after 10 minutes; end it (KILL {}) and run again",
                held.n.unwrap_or_default(),
                held.n.unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl BatchServer for MyBatch {
    type Template = Template;

    fn template(&self, change: &Change) -> Result<Template, String> {
        template(change)
    }

    fn target(t: &Template) -> &QualName {
        &t.table
    }

    fn key_of(&mut self, table: &QualName) -> Result<Vec<KeyColumn>, String> {
        let exists: OptInt = diesel::sql_query(
            "SELECT CAST(COUNT(*) AS SIGNED) AS n FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?",
        )
        .bind::<Text, _>(&table.schema)
        .bind::<Text, _>(&table.name)
        .get_result(&mut self.db.conn)
        .map_err(|e| describe_error(&e))?;
        if exists.n.unwrap_or(0) == 0 {
            return Err(format!("table `{table}` does not exist"));
        }
        let rows: Vec<KeyRow> = diesel::sql_query(
            "SELECT CAST(s.INDEX_NAME AS CHAR) AS idx, CAST(s.COLUMN_NAME AS CHAR) AS col,
                    CAST(c.DATA_TYPE AS CHAR) AS data_type, CAST(c.IS_NULLABLE AS CHAR) AS nullable
             FROM information_schema.STATISTICS s
             JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA
                  AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
             WHERE s.TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND s.TABLE_NAME = ?
               AND s.NON_UNIQUE = 0 AND s.SUB_PART IS NULL
             ORDER BY s.INDEX_NAME, s.SEQ_IN_INDEX",
        )
        .bind::<Text, _>(&table.schema)
        .bind::<Text, _>(&table.name)
        .load(&mut self.db.conn)
        .map_err(|e| describe_error(&e))?;
        let mut indexes: Vec<(String, Vec<&KeyRow>)> = Vec::new();
        for r in &rows {
            match indexes.iter_mut().find(|(name, _)| *name == r.idx) {
                Some((_, cols)) => cols.push(r),
                None => indexes.push((r.idx.clone(), vec![r])),
            }
        }
        // The primary key, else the narrowest unique index over NOT NULL columns.
        indexes.retain(|(_, cols)| cols.iter().all(|c| c.nullable == "NO"));
        indexes.sort_by_key(|(name, cols)| (name != "PRIMARY", cols.len()));
        let Some((_, cols)) = indexes.first() else {
            return Err(format!(
                "table `{table}` has no primary key and no unique index over NOT NULL columns, so it cannot be batched; give it a key first (a migration of its own)"
            ));
        };
        Ok(cols
            .iter()
            .map(|c| KeyColumn {
                name: c.col.clone(),
                ty: c.data_type.to_ascii_lowercase(),
                // Integer keys are bound as integers (a string would compare as a double).
                integer: c.data_type.to_ascii_lowercase().contains("int"),
            })
            .collect())
    }

    fn estimate(&mut self, table: &QualName) -> i64 {
        super::catalog::row_estimate(&mut self.db.conn, table).unwrap_or(0)
    }

    fn canary(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        at: &[String],
    ) -> Option<Box<dyn crate::engine::pace::Canary>> {
        let db = MySql::connect(&self.db.url, self.db.mariadb).ok()?;
        let cond: Vec<String> = keys
            .iter()
            .zip(at)
            .map(|(k, v)| format!("{} = {}", quote_ident(&k.name), super::sql_literal(v)))
            .collect();
        let sql = format!(
            "SELECT 1 FROM {} WHERE {}",
            quoted_table(Self::target(t)),
            cond.join(" AND ")
        );
        Some(Box::new(MyCanary { db, sql }))
    }

    fn replica_lag(&mut self) -> Duration {
        self.replicas.lag(&mut self.db.conn)
    }

    fn replica_lag_note(&mut self) -> Option<String> {
        self.replicas.note.clone()
    }

    fn prepare_session(&mut self, options: &BackfillOptions) -> Result<(), String> {
        self.replicas = Replicas::new(&self.db.url, &options.replicas);
        let seconds = timeout_seconds(options.lock_timeout);
        self.db
            .conn
            .batch_execute(&format!(
                "SET SESSION innodb_lock_wait_timeout = {seconds}, lock_wait_timeout = {seconds}"
            ))
            .map_err(|e| describe_error(&e))
    }

    fn upper_key(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        lo: Option<&[String]>,
        hi: Option<&[String]>,
        n: u64,
    ) -> Result<Option<Vec<String>>, String> {
        let table = quoted_table(&t.table);
        let cols: Vec<String> = keys.iter().map(|k| quote_ident(&k.name)).collect();
        let texts: Vec<String> = cols.iter().map(|c| format!("CAST({c} AS CHAR)")).collect();
        let (mut conditions, mut groups) = (Vec::new(), Vec::new());
        let lo_values = lo.map(<[String]>::to_vec).unwrap_or_default();
        let hi_values = hi.map(<[String]>::to_vec).unwrap_or_default();
        if lo.is_some() {
            let (sql, order) = after(keys, &table);
            conditions.push(sql);
            groups.push(order);
        }
        if hi.is_some() {
            let (sql, order) = at_most(keys, &table);
            conditions.push(sql);
            groups.push(order);
        }
        let bound = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT CAST(JSON_ARRAY({}) AS CHAR) AS v FROM {table} {bound} ORDER BY {} LIMIT 1 OFFSET {}",
            texts.join(", "),
            cols.join(", "),
            n.saturating_sub(1)
        );
        let mut values: Vec<(&[usize], &[String])> = Vec::new();
        let mut g = groups.iter();
        if lo.is_some() {
            values.push((g.next().map_or(&[][..], Vec::as_slice), &lo_values));
        }
        if hi.is_some() {
            values.push((g.next().map_or(&[][..], Vec::as_slice), &hi_values));
        }
        let query = bind_all(diesel::sql_query(sql).into_boxed(), keys, &values);
        let row: Option<OptText> = query
            .get_result(&mut self.db.conn)
            .optional()
            .map_err(|e| describe_error(&e))?;
        let Some(text) = row.and_then(|r| r.v) else {
            return Ok(None);
        };
        key_from_json(&text).map(Some)
    }

    fn integer_span(
        &mut self,
        t: &Template,
        key: &KeyColumn,
    ) -> Result<Option<(i128, i128)>, String> {
        #[derive(QueryableByName)]
        struct MinMax {
            #[diesel(sql_type = Nullable<Text>)]
            lo: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            hi: Option<String>,
        }
        let col = quote_ident(&key.name);
        let m: MinMax = diesel::sql_query(format!(
            "SELECT CAST(MIN({col}) AS CHAR) AS lo, CAST(MAX({col}) AS CHAR) AS hi FROM {}",
            quoted_table(&t.table)
        ))
        .get_result(&mut self.db.conn)
        .map_err(|e| describe_error(&e))?;
        let parse = |v: Option<String>| v.and_then(|v| v.parse::<i128>().ok());
        Ok(parse(m.lo).zip(parse(m.hi)))
    }

    fn sample_keys(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        estimate: i64,
    ) -> Result<Vec<Vec<String>>, String> {
        // Every n-th key in key order (an index-only scan of the clustered key), about 20,000.
        let cols: Vec<String> = keys.iter().map(|k| quote_ident(&k.name)).collect();
        let texts: Vec<String> = cols.iter().map(|c| format!("CAST({c} AS CHAR)")).collect();
        let every = (estimate / 20_000).max(1);
        let rows: Vec<OptText> = diesel::sql_query(format!(
            "SELECT v FROM (SELECT CAST(JSON_ARRAY({}) AS CHAR) AS v,
                                   ROW_NUMBER() OVER (ORDER BY {}) AS r
                            FROM {}) s
             WHERE MOD(r, {every}) = 0 ORDER BY r",
            texts.join(", "),
            cols.join(", "),
            quoted_table(&t.table)
        ))
        .load(&mut self.db.conn)
        .map_err(|e| describe_error(&e))?;
        rows.into_iter()
            .filter_map(|r| r.v)
            .map(|v| key_from_json(&v))
            .collect()
    }

    fn batch(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        b: &Batch,
    ) -> Result<(i64, i64), DbError> {
        let mut range = Vec::new();
        let mut groups: Vec<(Vec<usize>, Vec<String>)> = Vec::new();
        if let Some(lo) = b.lo {
            let (sql, order) = after(keys, &t.reference);
            range.push(sql);
            groups.push((order, lo.to_vec()));
        }
        if let Some(hi) = b.hi {
            let (sql, order) = at_most(keys, &t.reference);
            range.push(sql);
            groups.push((order, hi.to_vec()));
        }
        if range.is_empty() {
            range.push("TRUE".into());
        }
        let sql = t.change.replace("{range}", &range.join(" AND "));
        // Only this slice's entry of the cursor: the workers share the state row.
        let state = format!(
            "UPDATE {} SET backfill_cursor = JSON_SET(backfill_cursor, '$.slices[{}]', JSON_EXTRACT(?, '$')),
                 rows_done = rows_done + ?, updated_at = UTC_TIMESTAMP(6)
             WHERE version = ? AND phase = 'backfill'",
            quote_ident(STATE_TABLE),
            b.index
        );
        let refs: Vec<(&[usize], &[String])> = groups
            .iter()
            .map(|(o, v)| (o.as_slice(), v.as_slice()))
            .collect();
        let mut failure: Option<DbError> = None;
        let result = self
            .db
            .conn
            .transaction::<_, diesel::result::Error, _>(|c| {
                let changed = match Self::exec(
                    c,
                    bind_all(diesel::sql_query(sql.clone()).into_boxed(), keys, &refs),
                ) {
                    Ok(n) => n as i64,
                    Err(e) => {
                        failure = Some(e);
                        return Err(diesel::result::Error::RollbackTransaction);
                    }
                };
                let slice = (b.save)(changed, changed).to_value().to_string();
                let save = diesel::sql_query(state.clone())
                    .into_boxed()
                    .bind::<Text, _>(slice)
                    .bind::<BigInt, _>(changed)
                    .bind::<Text, _>(b.version.to_string());
                if let Err(e) = Self::exec(c, save) {
                    failure = Some(e);
                    return Err(diesel::result::Error::RollbackTransaction);
                }
                Ok((changed, changed))
            });
        match (result, failure) {
            (Ok(r), _) => Ok(r),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(db_error(&mut self.db.conn, &e)),
        }
    }

    fn save_cursor(&mut self, version: &str, cursor: &Slices) -> Result<(), String> {
        diesel::sql_query(format!(
            "UPDATE {} SET backfill_cursor = ?, updated_at = UTC_TIMESTAMP(6)
             WHERE version = ? AND phase = 'backfill'",
            quote_ident(STATE_TABLE)
        ))
        .bind::<Text, _>(cursor.to_json())
        .bind::<Text, _>(version)
        .execute(&mut self.db.conn)
        .map(|_| ())
        .map_err(|e| format!("saving the backfill cursor: {}", describe_error(&e)))
    }

    fn worker(&mut self) -> Result<MyBatch, String> {
        let slot = self.next_slot;
        self.next_slot += 1;
        MyBatch::connect(&self.db.url, self.db.mariadb, slot)
    }

    fn blockers(&mut self, table: &QualName) -> Vec<String> {
        self.db.blockers(Some(table))
    }
}

/// The latency budget's canary: a point read by key on a connection of its own.
struct MyCanary {
    db: MySql,
    sql: String,
}

impl crate::engine::pace::Canary for MyCanary {
    fn probe(&mut self) -> Result<Duration, DbError> {
        let started = std::time::Instant::now();
        match diesel::sql_query(&self.sql).execute(&mut self.db.conn) {
            Ok(_) => Ok(started.elapsed()),
            Err(e) => Err(db_error(&mut self.db.conn, &e)),
        }
    }
}

impl Drop for MyBatch {
    fn drop(&mut self) {
        let _ = self.db.conn.batch_execute(&format!(
            "DO RELEASE_LOCK({})",
            super::sql_literal(&worker_lock_name(&self.database, self.slot))
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<KeyColumn> {
        (0..n)
            .map(|i| KeyColumn {
                name: format!("k{i}"),
                ty: "int".into(),
                integer: true,
            })
            .collect()
    }

    #[test]
    fn key_ranges_expand_for_composite_keys() {
        assert_eq!(after(&keys(1), "t"), ("t.`k0` > ?".into(), vec![0]));
        assert_eq!(
            after(&keys(2), "t"),
            (
                "((t.`k0` > ?) OR (t.`k0` = ? AND t.`k1` > ?))".into(),
                vec![0, 0, 1]
            )
        );
        assert_eq!(
            at_most(&keys(2), "t"),
            (
                "((t.`k0` < ?) OR (t.`k0` = ? AND t.`k1` <= ?))".into(),
                vec![0, 0, 1]
            )
        );
    }
}
