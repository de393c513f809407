//! The backfill engine (PostgreSQL): each statement of `backfill.sql` runs as keyset batches
//! over the table's primary key (or a unique index over NOT NULL columns). One short
//! transaction per batch: update the rows of the batch's key range and save the cursor and row
//! count in the state table — in the same transaction, so a killed migrator resumes at the
//! cursor and touches no row twice.
//!
//! Locked rows: a batch first runs as a plain range update that may wait at most
//! [`FAST_LOCK_WAIT`] for a row an app transaction holds. When that wait runs out, the batch
//! runs again locking only the rows nobody holds (`FOR UPDATE SKIP LOCKED`) and records its key
//! range; skipped rows are revisited at the end, waiting for their locks. (Always locking with
//! `SKIP LOCKED` first costs a second write of every row: 2.4x a plain UPDATE in our
//! measurements, against 1.15x for the range update.) `SKIP LOCKED` is used only for
//! statements with a `WHERE`, which makes the revisit harmless; others wait, under
//! `lock_timeout` with retries.
//!
//! Between batches: a pause, and a wait while a replica lags. The batch size adapts to a
//! target batch duration.

use std::time::{Duration, Instant};

use concertina_codegen::change::{Change, QualName};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use serde_json::json;

use crate::postgres::{describe_error, quote_ident, Postgres};
use crate::state::STATE_TABLE;

/// How long a batch's plain range update may wait for a row an app transaction holds before
/// the batch switches to `SKIP LOCKED`.
pub const FAST_LOCK_WAIT: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct BackfillOptions {
    pub batch_size: u64,
    pub batch_target: Duration,
    pub batch_pause: Duration,
    pub max_replica_lag: Duration,
    pub lock_timeout: Duration,
    pub lock_retries: u32,
}

/// Where a backfill stands; saved as JSON in the state table after every batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cursor {
    /// Index of the statement among the phase's steps.
    pub statement: usize,
    /// Last key done (text of each key column), `None` before the first batch.
    pub key: Option<Vec<String>>,
    /// Key ranges `(lo, hi]` where rows were skipped because they were locked.
    pub skipped: Vec<(Option<Vec<String>>, Vec<String>)>,
    /// The main pass is done; now revisiting skipped ranges.
    pub revisiting: bool,
}

impl Cursor {
    pub fn to_json(&self) -> String {
        json!({
            "statement": self.statement,
            "key": self.key,
            "skipped": self.skipped.iter().map(|(lo, hi)| json!([lo, hi])).collect::<Vec<_>>(),
            "revisiting": self.revisiting,
        })
        .to_string()
    }

    pub fn from_json(text: &str) -> Option<Cursor> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let strings = |v: &serde_json::Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        let skipped = v["skipped"]
            .as_array()?
            .iter()
            .map(|pair| Some((strings(&pair[0]), strings(&pair[1])?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Cursor {
            statement: v["statement"].as_u64()? as usize,
            key: strings(&v["key"]),
            skipped,
            revisiting: v["revisiting"].as_bool().unwrap_or(false),
        })
    }
}

/// One progress report, after each batch.
#[derive(Debug, Clone)]
pub struct Progress {
    pub table: QualName,
    /// Rows changed so far by this statement.
    pub rows_done: i64,
    /// Keys scanned so far (rows the batches covered), against `estimate`.
    pub scanned: i64,
    /// The table's row estimate from the server's statistics.
    pub estimate: i64,
    pub batch_size: u64,
    pub elapsed: Duration,
    /// Waiting for replicas to catch up.
    pub waiting_for_replicas: bool,
}

#[derive(Debug, Clone)]
struct KeyColumn {
    name: String,
    ty: String,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    ty: String,
    #[diesel(sql_type = BigInt)]
    index_oid: i64,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    candidates: i64,
    #[diesel(sql_type = BigInt)]
    changed: i64,
}

#[derive(QueryableByName)]
struct Estimate {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = Nullable<Double>)]
    seconds: Option<f64>,
}

/// The shape of a batchable statement, rebuilt around a key range.
struct Template {
    table: QualName,
    /// How the statement names its target in other clauses (alias or table).
    reference: String,
    /// `FROM`-part of the candidate query: target as written plus the UPDATE's FROM list.
    source: String,
    filter: Option<String>,
    /// Builds the data change for the rows of `locked`.
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
            let reference = parts
                .alias
                .clone()
                .unwrap_or_else(|| quoted_table(table));
            let source = match &parts.from {
                Some(from) => format!("{}, {from}", parts.target),
                None => parts.target.clone(),
            };
            let from = parts
                .from
                .as_ref()
                .map(|f| format!(" FROM {f}"))
                .unwrap_or_default();
            Ok(Template {
                table: table.clone(),
                change: format!(
                    "UPDATE {} SET {}{from} WHERE {{in_batch}}{}",
                    parts.target,
                    parts.set,
                    filter
                        .as_ref()
                        .map(|f| format!(" AND ({})", f.text))
                        .unwrap_or_default()
                ),
                reference,
                source,
                filter: filter.as_ref().map(|f| f.text.clone()),
            })
        }
        Change::Delete { table, filter } => {
            let t = quoted_table(table);
            Ok(Template {
                table: table.clone(),
                change: format!(
                    "DELETE FROM {t} WHERE {{in_batch}}{}",
                    filter
                        .as_ref()
                        .map(|f| format!(" AND ({})", f.text))
                        .unwrap_or_default()
                ),
                reference: t.clone(),
                source: t,
                filter: filter.as_ref().map(|f| f.text.clone()),
            })
        }
        _ => Err("only UPDATE and DELETE can be batched by the backfill engine; express the data move as an UPDATE of the target table".into()),
    }
}

fn quoted_table(t: &QualName) -> String {
    if t.schema.is_empty() {
        quote_ident(&t.name)
    } else {
        format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name))
    }
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `(k1, k2)` and `('v1'::t1, 'v2'::t2)`.
fn key_tuple(keys: &[KeyColumn], reference: &str) -> String {
    let cols: Vec<String> = keys
        .iter()
        .map(|k| format!("{reference}.{}", quote_ident(&k.name)))
        .collect();
    format!("({})", cols.join(", "))
}

fn value_tuple(keys: &[KeyColumn], values: &[String]) -> String {
    let vals: Vec<String> = keys
        .iter()
        .zip(values)
        .map(|(k, v)| format!("{}::{}", sql_literal(v), k.ty))
        .collect();
    format!("({})", vals.join(", "))
}

pub struct Backfill<'a> {
    pub pg: &'a mut Postgres,
    pub options: BackfillOptions,
    pub version: String,
}

impl Backfill<'_> {
    fn key_of(&mut self, table: &QualName) -> Result<Vec<KeyColumn>, String> {
        // The primary key, else the narrowest unique index over NOT NULL columns.
        let rows: Vec<KeyRow> = diesel::sql_query(
            "SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS ty,
                    i.indexrelid::bigint AS index_oid
             FROM pg_index i
             JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) ON true
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid
               AND i.indpred IS NULL AND i.indexprs IS NULL
               AND NOT EXISTS (
                   SELECT 1 FROM pg_attribute n
                   WHERE n.attrelid = i.indrelid AND n.attnum = ANY(i.indkey) AND NOT n.attnotnull)
             ORDER BY i.indisprimary DESC, i.indnatts, i.indexrelid, k.ord",
        )
        .bind::<Text, _>(quoted_table(table))
        .load(self.pg.connection())
        .map_err(|e| e.to_string())?;
        let Some(first) = rows.first() else {
            return Err(format!(
                "table `{table}` has no primary key and no unique index over NOT NULL columns, so it cannot be batched; give it a key first (a migration of its own)"
            ));
        };
        let oid = first.index_oid;
        Ok(rows
            .into_iter()
            .filter(|r| r.index_oid == oid)
            .map(|r| KeyColumn {
                name: r.name,
                ty: r.ty,
            })
            .collect())
    }

    fn estimate(&mut self, table: &QualName) -> i64 {
        diesel::sql_query(
            "SELECT greatest(reltuples, 0)::bigint AS n FROM pg_class WHERE oid = to_regclass($1)",
        )
        .bind::<Text, _>(quoted_table(table))
        .get_result::<Estimate>(self.pg.connection())
        .map(|e| e.n)
        .unwrap_or(0)
    }

    fn replica_lag(&mut self) -> Duration {
        diesel::sql_query(
            "SELECT max(extract(epoch FROM replay_lag))::float8 AS seconds FROM pg_stat_replication",
        )
        .get_result::<Lag>(self.pg.connection())
        .ok()
        .and_then(|l| l.seconds)
        .map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.max(0.0)))
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
        let texts: Vec<String> = cols.iter().map(|c| format!("{c}::text")).collect();
        let bound = match lo {
            Some(lo) => format!("WHERE ({}) > {}", cols.join(", "), value_tuple(keys, lo)),
            None => String::new(),
        };
        let sql = format!(
            "SELECT json_build_array({})::text AS v FROM {table} {bound} ORDER BY {} OFFSET {} LIMIT 1",
            texts.join(", "),
            cols.join(", "),
            n.saturating_sub(1)
        );
        #[derive(QueryableByName)]
        struct V {
            #[diesel(sql_type = Text)]
            v: String,
        }
        let row: Option<V> = diesel::sql_query(sql)
            .get_result(self.pg.connection())
            .optional()
            .map_err(|e| e.to_string())?;
        match row {
            None => Ok(None),
            Some(V { v }) => {
                let values: Vec<String> = serde_json::from_str::<Vec<Option<String>>>(&v)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect();
                Ok(Some(values))
            }
        }
    }

    /// One batch over `(lo, hi]` (`hi` None: to the end). Returns (candidates, changed).
    #[allow(clippy::too_many_arguments)]
    fn batch(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        lo: Option<&[String]>,
        hi: Option<&[String]>,
        skip_locked: bool,
        state_update: impl Fn(i64, i64) -> String,
    ) -> Result<(i64, i64), String> {
        let key_ref = key_tuple(keys, &t.reference);
        let plain_cols: Vec<String> = keys.iter().map(|k| quote_ident(&k.name)).collect();
        let mut range = Vec::new();
        if let Some(lo) = lo {
            range.push(format!("{key_ref} > {}", value_tuple(keys, lo)));
        }
        if let Some(hi) = hi {
            range.push(format!("{key_ref} <= {}", value_tuple(keys, hi)));
        }
        if let Some(f) = &t.filter {
            range.push(format!("({f})"));
        }
        let where_clause = if range.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", range.join(" AND "))
        };
        let lock = "FOR UPDATE SKIP LOCKED";
        let table = quoted_table(&t.table);
        let in_batch = format!(
            "{key_ref} IN (SELECT {} FROM locked)",
            plain_cols.join(", ")
        );
        let change = t.change.replace("{in_batch}", &in_batch);
        let sql = format!(
            "WITH candidates AS (SELECT DISTINCT {key_ref_sel} FROM {source} {where_clause}),
                  locked AS (SELECT {cols} FROM {table} WHERE ({cols}) IN (SELECT * FROM candidates) {lock}),
                  changed AS ({change} RETURNING 1)
             SELECT (SELECT count(*) FROM candidates) AS candidates,
                    (SELECT count(*) FROM changed) AS changed",
            key_ref_sel = keys
                .iter()
                .map(|k| format!("{}.{}", t.reference, quote_ident(&k.name)))
                .collect::<Vec<_>>()
                .join(", "),
            source = t.source,
            cols = plain_cols.join(", "),
        );
        // Fast path: the range update itself, which locks its rows as it goes. With
        // `skip_locked`, it may wait only FAST_LOCK_WAIT for a row an app transaction holds;
        // then the batch runs again through `SELECT … FOR UPDATE SKIP LOCKED` (slower: it locks
        // each row before updating it) and the skipped rows are left for the revisit.
        let fast = t.change.replace(
            "{in_batch}",
            &if range.len() > usize::from(t.filter.is_some()) {
                range[..range.len() - usize::from(t.filter.is_some())].join(" AND ")
            } else {
                "true".to_string()
            },
        );
        let full_timeout = self.options.lock_timeout;
        let fast_timeout = if skip_locked {
            full_timeout.min(FAST_LOCK_WAIT)
        } else {
            full_timeout
        };
        let mut attempt = 0;
        loop {
            let result = self
                .pg
                .connection()
                .transaction::<_, diesel::result::Error, _>(|c| {
                    // A bitmap heap scan visits the batch's pages in physical order; a plain index
                    // scan of the key range measured 7% slower against one full UPDATE.
                    c.batch_execute(&format!(
                        "SET LOCAL lock_timeout = '{}ms'; SET LOCAL enable_indexscan = off",
                        fast_timeout.as_millis().max(1)
                    ))?;
                    let changed = diesel::sql_query(&fast).execute(c)? as i64;
                    c.batch_execute(&state_update(changed, changed))?;
                    Ok((changed, changed))
                });
            match result {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let message = describe_error(&e);
                    if !message.contains("lock timeout") {
                        return Err(message);
                    }
                    if skip_locked {
                        break;
                    }
                    if attempt >= self.options.lock_retries {
                        return Err(message);
                    }
                    attempt += 1;
                    std::thread::sleep(crate::apply::backoff(attempt, 1.0));
                }
            }
        }
        let timeout = full_timeout.as_millis();
        let mut attempt = 0;
        loop {
            let result = self
                .pg
                .connection()
                .transaction::<_, diesel::result::Error, _>(|c| {
                    c.batch_execute(&format!("SET LOCAL lock_timeout = '{timeout}ms'"))?;
                    let counts: Counts = diesel::sql_query(&sql).get_result(c)?;
                    c.batch_execute(&state_update(counts.candidates, counts.changed))?;
                    Ok((counts.candidates, counts.changed))
                });
            match result {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let message = describe_error(&e);
                    let lock = message.contains("lock timeout");
                    if !lock || attempt >= self.options.lock_retries {
                        return Err(message);
                    }
                    attempt += 1;
                    std::thread::sleep(crate::apply::backoff(attempt, 1.0));
                }
            }
        }
    }

    /// Runs one backfill statement from `cursor` to its end.
    pub fn run_statement(
        &mut self,
        step_index: usize,
        change: &Change,
        mut cursor: Cursor,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<i64, String> {
        let t = template(change)?;
        let keys = self.key_of(&t.table)?;
        let estimate = self.estimate(&t.table);
        let started = Instant::now();
        let mut batch_size = self.options.batch_size.max(1);
        let mut rows_done: i64 = 0;
        let mut scanned: i64 = 0;
        cursor.statement = step_index;
        // SKIP LOCKED only when a predicate makes a second visit harmless.
        let may_skip = t.filter.is_some();
        let state_sql = |cursor: &Cursor, version: &str, changed: i64| {
            format!(
                "UPDATE {} SET backfill_cursor = {}, rows_done = rows_done + {changed}, updated_at = now()
                 WHERE version = {} AND phase = 'backfill'",
                quote_ident(STATE_TABLE),
                sql_literal(&cursor.to_json()),
                sql_literal(version)
            )
        };
        if !cursor.revisiting {
            loop {
                self.wait_for_replicas(
                    &t,
                    rows_done,
                    scanned,
                    estimate,
                    batch_size,
                    started,
                    on_progress,
                );
                let hi = self.upper_key(&t, &keys, cursor.key.as_deref(), batch_size)?;
                let batch_started = Instant::now();
                let mut next = cursor.clone();
                next.key = hi.clone();
                let version = self.version.clone();
                let lo = cursor.key.clone();
                let (candidates, changed) = if let Some(hi) = &hi {
                    // Rows locked by the app were skipped: keep the range for the revisit,
                    // decided and saved inside the batch's transaction.
                    let mut with_skip = next.clone();
                    with_skip.skipped.push((lo.clone(), hi.clone()));
                    let r = self.batch(
                        &t,
                        &keys,
                        lo.as_deref(),
                        Some(hi),
                        may_skip,
                        |candidates, changed| {
                            if may_skip && candidates > changed {
                                state_sql(&with_skip, &version, changed)
                            } else {
                                state_sql(&next, &version, changed)
                            }
                        },
                    )?;
                    if may_skip && r.0 > r.1 {
                        next = with_skip;
                    }
                    r
                } else {
                    let mut done = next.clone();
                    done.key = lo.clone();
                    done.revisiting = true;
                    let r = self.batch(&t, &keys, lo.as_deref(), None, false, |_, changed| {
                        state_sql(&done, &version, changed)
                    })?;
                    next = done;
                    r
                };
                rows_done += changed;
                scanned += if hi.is_some() {
                    batch_size as i64
                } else {
                    candidates
                };
                cursor = next;
                on_progress(&Progress {
                    table: t.table.clone(),
                    rows_done,
                    scanned,
                    estimate,
                    batch_size,
                    elapsed: started.elapsed(),
                    waiting_for_replicas: false,
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
        }
        // Revisit ranges where locked rows were skipped, waiting for the locks this time.
        while let Some((lo, hi)) = cursor.skipped.first().cloned() {
            let mut next = cursor.clone();
            next.skipped.remove(0);
            let version = self.version.clone();
            let (_, changed) =
                self.batch(&t, &keys, lo.as_deref(), Some(&hi), false, |_, changed| {
                    state_sql(&next, &version, changed)
                })?;
            rows_done += changed;
            cursor = next;
        }
        Ok(rows_done)
    }

    #[allow(clippy::too_many_arguments)]
    fn wait_for_replicas(
        &mut self,
        t: &Template,
        rows_done: i64,
        scanned: i64,
        estimate: i64,
        batch_size: u64,
        started: Instant,
        on_progress: &mut dyn FnMut(&Progress),
    ) {
        while self.replica_lag() > self.options.max_replica_lag {
            on_progress(&Progress {
                table: t.table.clone(),
                rows_done,
                scanned,
                estimate,
                batch_size,
                elapsed: started.elapsed(),
                waiting_for_replicas: true,
            });
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Next batch size: toward the target duration, at most doubling or halving per batch.
pub fn adapt(size: u64, took: Duration, target: Duration) -> u64 {
    let took = took.as_secs_f64().max(1e-4);
    let wanted = size as f64 * target.as_secs_f64() / took;
    let bounded = wanted.clamp(size as f64 / 2.0, size as f64 * 2.0);
    (bounded as u64).clamp(100, 200_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_through_json() {
        let c = Cursor {
            statement: 2,
            key: Some(vec!["41".into()]),
            skipped: vec![
                (None, vec!["10".into()]),
                (Some(vec!["20".into()]), vec!["30".into()]),
            ],
            revisiting: false,
        };
        assert_eq!(Cursor::from_json(&c.to_json()), Some(c));
        assert_eq!(Cursor::from_json("not json"), None);
    }

    #[test]
    fn batch_size_moves_toward_the_target() {
        let target = Duration::from_millis(200);
        assert_eq!(adapt(1000, Duration::from_millis(100), target), 2000);
        assert_eq!(adapt(1000, Duration::from_millis(400), target), 500);
        assert_eq!(adapt(1000, Duration::from_secs(10), target), 500);
        assert_eq!(adapt(150, Duration::from_secs(1), target), 100);
    }
}
