//! The backfill engine on MySQL/MariaDB: each statement of `backfill.sql` runs as keyset
//! batches over the primary key (or a unique index over NOT NULL columns). Both servers refuse
//! `LIMIT` in `IN (SELECT …)`, so a batch's upper key comes first
//! (`SELECT k FROM t WHERE k > ? ORDER BY k LIMIT 1 OFFSET n-1`), then
//! `UPDATE … WHERE k > ? AND k <= ? AND (<the statement's predicate>)` — a range scan of the
//! clustered key. One short transaction per batch holds the update and the saved cursor and
//! row count, so a killed migrator resumes at the cursor and touches no row twice.
//!
//! Rows an app transaction holds: the batch waits at most `innodb_lock_wait_timeout` (the
//! `lock_timeout`, in whole seconds) and is retried with backoff; there is no `SKIP LOCKED`
//! for `UPDATE` on these servers.

use std::time::{Duration, Instant};

use concertina_codegen::change::{Change, QualName};
use diesel::connection::SimpleConnection;
use diesel::mysql::Mysql;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use super::MySql;
use super::{describe_error, is_lock_wait_timeout, quote_ident, quoted_table, timeout_seconds};
use crate::engine::{adapt, BackfillOptions, Cursor, Progress};
use crate::engine::{backoff, ApplyError, ApplyOptions};
use crate::error::RuntimeError;
use crate::plan::{PhasePlan, StepKind};
use crate::state::{PhaseRecord, Status, STATE_TABLE};

#[derive(Debug, Clone)]
struct KeyColumn {
    name: String,
    /// Integer keys are bound as integers (a string would compare as a double).
    integer: bool,
}

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
struct Template {
    table: QualName,
    reference: String,
    change: String,
}

fn template(change: &Change) -> Result<Template, String> {
    match change {
        Change::Update {
            table,
            filter,
            parts,
            ..
        } => {
            if parts.from.is_some() {
                return Err("UPDATE … FROM is PostgreSQL syntax; on MySQL write `UPDATE t JOIN other ON … SET …`".into());
            }
            Ok(Template {
                table: table.clone(),
                reference: parts
                    .alias
                    .as_ref()
                    .map(|a| quote_ident(a))
                    .unwrap_or_else(|| quoted_table(table)),
                change: format!(
                    "UPDATE {} SET {} WHERE {{range}}{}",
                    parts.target,
                    parts.set,
                    filter
                        .as_ref()
                        .map(|f| format!(" AND ({})", f.text))
                        .unwrap_or_default()
                ),
            })
        }
        Change::Delete { table, filter } => {
            let t = quoted_table(table);
            Ok(Template {
                table: table.clone(),
                change: format!(
                    "DELETE FROM {t} WHERE {{range}}{}",
                    filter
                        .as_ref()
                        .map(|f| format!(" AND ({})", f.text))
                        .unwrap_or_default()
                ),
                reference: t,
            })
        }
        _ => Err("only UPDATE and DELETE can be batched by the backfill engine; express the data move as an UPDATE of the target table".into()),
    }
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

struct Engine<'a> {
    db: &'a mut MySql,
    options: BackfillOptions,
    version: String,
    /// The server answers neither `SHOW REPLICA STATUS` nor `SHOW SLAVE STATUS`.
    no_replica_status: bool,
}

impl Engine<'_> {
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
                integer: c.data_type.to_ascii_lowercase().contains("int"),
            })
            .collect())
    }

    /// The upper key of the next batch of `n` keys after `lo`, or `None` past the last row.
    fn upper_key(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        lo: Option<&[String]>,
        n: u64,
    ) -> Result<Option<Vec<String>>, String> {
        let table = quoted_table(&t.table);
        let cols: Vec<String> = keys.iter().map(|k| quote_ident(&k.name)).collect();
        let texts: Vec<String> = cols.iter().map(|c| format!("CAST({c} AS CHAR)")).collect();
        let (bound, order) = match lo {
            Some(_) => {
                let (sql, order) = after(keys, &table);
                (format!("WHERE {sql}"), order)
            }
            None => (String::new(), Vec::new()),
        };
        let sql = format!(
            "SELECT CAST(JSON_ARRAY({}) AS CHAR) AS v FROM {table} {bound} ORDER BY {} LIMIT 1 OFFSET {}",
            texts.join(", "),
            cols.join(", "),
            n.saturating_sub(1)
        );
        let lo_values = lo.map(<[String]>::to_vec).unwrap_or_default();
        let query = bind_all(
            diesel::sql_query(sql).into_boxed(),
            keys,
            &[(&order, &lo_values)],
        );
        let row: Option<OptText> = query
            .get_result(&mut self.db.conn)
            .optional()
            .map_err(|e| describe_error(&e))?;
        let Some(text) = row.and_then(|r| r.v) else {
            return Ok(None);
        };
        let values: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| e.to_string())?;
        Ok(Some(
            values
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
        ))
    }

    /// One batch over `(lo, hi]` (`hi` None: to the end), with the state row in the same
    /// transaction. Returns the rows it changed.
    fn batch(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        lo: Option<&[String]>,
        hi: Option<&[String]>,
        next: &Cursor,
    ) -> Result<i64, String> {
        let mut range = Vec::new();
        let mut groups: Vec<(Vec<usize>, Vec<String>)> = Vec::new();
        if let Some(lo) = lo {
            let (sql, order) = after(keys, &t.reference);
            range.push(sql);
            groups.push((order, lo.to_vec()));
        }
        if let Some(hi) = hi {
            let (sql, order) = at_most(keys, &t.reference);
            range.push(sql);
            groups.push((order, hi.to_vec()));
        }
        if range.is_empty() {
            range.push("TRUE".into());
        }
        let sql = t.change.replace("{range}", &range.join(" AND "));
        let state = format!(
            "UPDATE {} SET backfill_cursor = ?, rows_done = rows_done + ?, updated_at = UTC_TIMESTAMP(6)
             WHERE version = ? AND phase = 'backfill'",
            quote_ident(STATE_TABLE)
        );
        let cursor_json = next.to_json();
        let mut attempt = 0;
        loop {
            let refs: Vec<(&[usize], &[String])> = groups
                .iter()
                .map(|(o, v)| (o.as_slice(), v.as_slice()))
                .collect();
            let version = self.version.clone();
            let result = self
                .db
                .conn
                .transaction::<_, diesel::result::Error, _>(|c| {
                    let changed = bind_all(diesel::sql_query(sql.clone()).into_boxed(), keys, &refs)
                        .execute(c)? as i64;
                    diesel::sql_query(state.clone())
                        .bind::<Text, _>(&cursor_json)
                        .bind::<BigInt, _>(changed)
                        .bind::<Text, _>(&version)
                        .execute(c)?;
                    Ok(changed)
                });
            match result {
                Ok(n) => return Ok(n),
                Err(e) => {
                    let message = describe_error(&e);
                    let retry = is_lock_wait_timeout(&message) || message.contains("Deadlock");
                    if !retry {
                        return Err(message);
                    }
                    if attempt >= self.options.lock_retries {
                        let blockers = self.db.blockers(Some(&t.table));
                        let named = if blockers.is_empty() {
                            String::new()
                        } else {
                            format!(" (held by {})", blockers.join(", "))
                        };
                        return Err(format!(
                            "gave up after {} attempts: rows of this batch stayed locked longer than innodb_lock_wait_timeout ({} s){named}; the cursor is saved, run the backfill again when the long transaction is done, or raise lock_retries",
                            attempt + 1,
                            timeout_seconds(self.options.lock_timeout)
                        ));
                    }
                    attempt += 1;
                    std::thread::sleep(backoff(attempt, self.db.jitter.factor()));
                }
            }
        }
    }

    fn estimate(&mut self, table: &QualName) -> i64 {
        super::catalog::row_estimate(&mut self.db.conn, table).unwrap_or(0)
    }

    /// Seconds the server (as a replica) is behind its primary; zero when it is none.
    fn replica_lag(&mut self) -> Duration {
        #[derive(QueryableByName)]
        struct Master {
            #[diesel(sql_type = Nullable<BigInt>, column_name = Seconds_Behind_Master)]
            seconds: Option<i64>,
        }
        if self.no_replica_status {
            return Duration::ZERO;
        }
        // MariaDB 10.5+ and MySQL 8.0.22+ know SHOW REPLICA STATUS; older ones only the
        // SLAVE spelling. Both name the column Seconds_Behind_Master on MariaDB.
        for sql in ["SHOW REPLICA STATUS", "SHOW SLAVE STATUS"] {
            match diesel::sql_query(sql).load::<Master>(&mut self.db.conn) {
                Ok(rows) => {
                    let worst = rows.iter().filter_map(|r| r.seconds).max().unwrap_or(0);
                    return Duration::from_secs(worst.max(0) as u64);
                }
                Err(_) => continue,
            }
        }
        self.no_replica_status = true;
        Duration::ZERO
    }

    fn run_statement(
        &mut self,
        step_index: usize,
        change: &Change,
        mut cursor: Cursor,
        rows_before: i64,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<i64, String> {
        let t = template(change)?;
        let keys = self.key_of(&t.table)?;
        if cursor.key.as_ref().is_some_and(|k| k.len() != keys.len()) {
            // The key changed since the cursor was saved (or the state row was edited).
            return Err(format!(
                "the saved backfill cursor has {} key value(s) but `{}` is keyed by {} column(s); clear `backfill_cursor` of this phase in {STATE_TABLE} to start the statement over (its predicate skips rows already done)",
                cursor.key.as_ref().map_or(0, Vec::len),
                t.table,
                keys.len()
            ));
        }
        let estimate = self.estimate(&t.table);
        let started = Instant::now();
        let mut batch_size = self.options.batch_size.max(1);
        let mut rows_done: i64 = 0;
        // A resumed statement's progress starts where the interrupted run left it.
        let scanned_before = cursor.scanned;
        let mut scanned: i64 = scanned_before;
        on_progress(&Progress {
            table: t.table.clone(),
            rows_done: rows_before,
            scanned,
            scanned_before,
            estimate,
            batch_size,
            elapsed: Duration::ZERO,
            waiting_for_replicas: false,
            workers: 1,
        });
        cursor.statement = step_index;
        let seconds = timeout_seconds(self.options.lock_timeout);
        self.db
            .conn
            .batch_execute(&format!(
                "SET SESSION innodb_lock_wait_timeout = {seconds}, lock_wait_timeout = {seconds}"
            ))
            .map_err(|e| describe_error(&e))?;
        // `revisiting` marks the last batch done (set in its own transaction).
        while !cursor.revisiting {
            while self.replica_lag() > self.options.max_replica_lag {
                on_progress(&Progress {
                    table: t.table.clone(),
                    rows_done: rows_before + rows_done,
                    scanned,
                    scanned_before,
                    estimate,
                    batch_size,
                    elapsed: started.elapsed(),
                    waiting_for_replicas: true,
                    workers: 1,
                });
                std::thread::sleep(Duration::from_millis(500));
            }
            let hi = self.upper_key(&t, &keys, cursor.key.as_deref(), batch_size)?;
            let batch_started = Instant::now();
            let mut next = cursor.clone();
            match &hi {
                Some(hi) => {
                    next.key = Some(hi.clone());
                    next.scanned += batch_size as i64;
                }
                None => next.revisiting = true,
            }
            let changed = self.batch(&t, &keys, cursor.key.as_deref(), hi.as_deref(), &next)?;
            rows_done += changed;
            scanned += if hi.is_some() {
                batch_size as i64
            } else {
                changed
            };
            cursor = next;
            on_progress(&Progress {
                table: t.table.clone(),
                rows_done: rows_before + rows_done,
                scanned,
                scanned_before,
                estimate,
                batch_size,
                elapsed: started.elapsed(),
                waiting_for_replicas: false,
                workers: 1,
            });
            if hi.is_none() {
                break;
            }
            batch_size = adapt(
                batch_size,
                batch_started.elapsed(),
                self.options.batch_target,
            );
            std::thread::sleep(self.options.batch_pause);
        }
        Ok(rows_done)
    }
}

/// Runs one data change through the batched engine from the start, outside any phase (the
/// state row of `version`, if any, gets the cursor): what `bench backfill` times.
pub fn run_one(
    db: &mut MySql,
    version: &str,
    change: &Change,
    options: &BackfillOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<i64, String> {
    let mut engine = Engine {
        db,
        options: options.clone(),
        version: version.to_string(),
        no_replica_status: false,
    };
    engine.run_statement(0, change, Cursor::default(), 0, on_progress)
}

/// Runs a backfill phase, statement by statement, resuming at the saved cursor.
pub(super) fn run_phase(
    db: &mut MySql,
    plan: &PhasePlan,
    existing: Option<&PhaseRecord>,
    apply: &ApplyOptions,
    options: &BackfillOptions,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<(), ApplyError> {
    let interrupted = super::apply::interrupted_statement(existing);
    let saved = existing
        .filter(|r| r.status != Status::RolledBack)
        .and_then(|r| r.cursor.as_deref())
        .and_then(Cursor::from_json);
    let start_at = db.begin_phase(plan, existing)?;
    let mut rows_before = existing
        .filter(|r| r.status != Status::RolledBack)
        .map_or(0, |r| r.rows_done);
    for step in plan.steps.iter().skip(start_at) {
        let StepKind::Backfill { change, .. } = &step.kind else {
            // Not a data change (the checker's `ddl-in-backfill` refuses these): run as is.
            if let Err(message) = db.run_step(plan, step, apply, interrupted == Some(step.index)) {
                return Err(db.fail_step(plan, step, message));
            }
            continue;
        };
        let cursor = match &saved {
            Some(c) if c.statement == step.index => c.clone(),
            _ => Cursor::default(),
        };
        let mut engine = Engine {
            db,
            options: options.clone(),
            version: plan.version.clone(),
            no_replica_status: false,
        };
        match engine.run_statement(step.index, change, cursor, rows_before, on_progress) {
            Ok(rows) => rows_before += rows,
            Err(message) => return Err(db.fail_step(plan, step, message)),
        }
        diesel::sql_query(format!(
            "UPDATE {} SET statements_done = ?, backfill_cursor = NULL, updated_at = UTC_TIMESTAMP(6)
             WHERE version = ? AND phase = 'backfill'",
            quote_ident(STATE_TABLE)
        ))
        .bind::<Integer, _>(step.index as i32 + 1)
        .bind::<Text, _>(&plan.version)
        .execute(&mut db.conn)
        .map_err(|e| RuntimeError::query("updating the state table", e))?;
    }
    db.finish_phase(plan, Status::Done, None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<KeyColumn> {
        (0..n)
            .map(|i| KeyColumn {
                name: format!("k{i}"),
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
