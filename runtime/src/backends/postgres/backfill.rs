//! The backfill engine's PostgreSQL side ([`BatchServer`]): the SQL of each query, on a libpq
//! connection of its own per worker ([`RawPg`], whose errors keep their SQLSTATE). The batches,
//! slices, workers, retries and progress are the shared engine's (`crate::engine::backfill`).
//!
//! A batch first runs as a plain range update (which locks its rows as it goes); when it may
//! skip locked rows it then runs through `SELECT … FOR UPDATE SKIP LOCKED` (slower: it locks
//! each row before updating it). Always locking with `SKIP LOCKED` first costs a second write of
//! every row: 2.4x a plain UPDATE in our measurements, against 1.15x for the range update.
//! `SKIP LOCKED` is used only for statements with a `WHERE`, which makes the revisit harmless.
//! A single PostgreSQL UPDATE uses one core; two workers use two.

use std::time::Duration;

use concertina_codegen::change::{Change, QualName};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::raw::RawPg;
use super::{describe_error, quote_ident, Postgres};
use crate::engine::backfill::{
    key_from_json, Batch, BatchServer, BatchStatement, KeyColumn, LockMode,
};
use crate::engine::{DbError, Slice, Slices};
use crate::state::STATE_TABLE;

/// Advisory lock key every worker connection holds (shared) while it runs: a new run waits for
/// it (exclusive) so that no worker of a killed run can still commit a batch.
pub const WORKER_LOCK_KEY: i64 = i64::from_be_bytes(*b"concwork");

/// Sets a slice in the saved cursor and counts its batch's rows, in the batch's transaction.
fn slice_state_sql(version: &str, index: usize, slice: &Slice, changed: i64) -> String {
    format!(
        "UPDATE {} SET backfill_cursor = jsonb_set(backfill_cursor::jsonb, '{{slices,{index}}}', {}::jsonb)::text,
             rows_done = rows_done + {changed}, updated_at = now()
         WHERE version = {} AND phase = 'backfill'",
        quote_ident(STATE_TABLE),
        sql_literal(&slice.to_value().to_string()),
        sql_literal(version)
    )
}

/// Waits until no worker connection of an earlier (killed) run is left on the server, so none
/// can commit a batch after this run has read the cursor.
pub fn wait_for_earlier_workers(pg: &mut Postgres) -> Result<(), String> {
    pg.connection()
        .transaction::<_, diesel::result::Error, _>(|c| {
            c.batch_execute(&format!(
                "SET LOCAL lock_timeout = '10min'; SELECT pg_advisory_xact_lock({WORKER_LOCK_KEY})"
            ))
        })
        .map_err(|e| {
            format!(
                "waiting for the backfill workers of an earlier run to end on the server: {}",
                describe_error(&e)
            )
        })
}

/// The shape of a batchable statement, rebuilt around a key range.
pub struct Template {
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
    let stmt = BatchStatement::of(change, quoted_table)?;
    let reference = stmt
        .alias
        .map(str::to_string)
        .unwrap_or_else(|| quoted_table(stmt.table));
    let source = match stmt.from {
        Some(from) => format!("{}, {from}", stmt.target),
        None => stmt.target.clone(),
    };
    Ok(Template {
        table: stmt.table.clone(),
        change: stmt.rebuilt("{in_batch}"),
        reference,
        source,
        filter: stmt.filter.map(str::to_string),
    })
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

/// The latency budget's canary: a point read by key on a connection of its own.
struct PgCanary {
    raw: RawPg,
    sql: String,
}

impl crate::engine::pace::Canary for PgCanary {
    fn probe(&mut self) -> Result<Duration, DbError> {
        let started = std::time::Instant::now();
        self.raw.execute(&self.sql)?;
        Ok(started.elapsed())
    }
}

/// One backfill connection to PostgreSQL.
pub struct PgBatch {
    raw: RawPg,
    url: String,
}

impl PgBatch {
    /// A worker connection: named in `pg_stat_activity`, holding the shared worker lock.
    pub fn connect(url: &str) -> Result<PgBatch, String> {
        let mut raw = RawPg::connect(url).map_err(|e| e.message)?;
        // PostgreSQL 14+: the server ends a dead worker's batch within a second.
        let _ = raw.execute("SET client_connection_check_interval = '1s'");
        raw.execute(&format!(
            "SET application_name = 'concertina-backfill'; SELECT pg_advisory_lock_shared({WORKER_LOCK_KEY})"
        ))
        .map_err(|e| format!("starting a backfill worker: {e}"))?;
        Ok(PgBatch {
            raw,
            url: url.to_string(),
        })
    }
}

impl BatchServer for PgBatch {
    type Template = Template;

    fn template(&self, change: &Change) -> Result<Template, String> {
        template(change)
    }

    fn target(t: &Template) -> &QualName {
        &t.table
    }

    fn can_skip_locked(t: &Template) -> bool {
        t.filter.is_some()
    }

    fn key_of(&mut self, table: &QualName) -> Result<Vec<KeyColumn>, String> {
        // The primary key, else the narrowest unique index over NOT NULL columns.
        let (rows, _) = self
            .raw
            .run(&format!(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), i.indexrelid::bigint::text
                 FROM pg_index i
                 JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) ON true
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE i.indrelid = to_regclass({}) AND i.indisunique AND i.indisvalid
                   AND i.indpred IS NULL AND i.indexprs IS NULL
                   AND NOT EXISTS (
                       SELECT 1 FROM pg_attribute n
                       WHERE n.attrelid = i.indrelid AND n.attnum = ANY(i.indkey) AND NOT n.attnotnull)
                 ORDER BY i.indisprimary DESC, i.indnatts, i.indexrelid, k.ord",
                sql_literal(&quoted_table(table))
            ))
            .map_err(|e| e.message)?;
        let Some(first) = rows.first() else {
            return Err(format!(
                "table `{table}` has no primary key and no unique index over NOT NULL columns, so it cannot be batched; give it a key first (a migration of its own)"
            ));
        };
        let index = first[2].clone();
        Ok(rows
            .into_iter()
            .filter(|r| r[2] == index)
            .map(|r| {
                let ty = r[1].clone().unwrap_or_default();
                KeyColumn {
                    name: r[0].clone().unwrap_or_default(),
                    integer: matches!(ty.as_str(), "smallint" | "integer" | "bigint"),
                    ty,
                }
            })
            .collect())
    }

    fn estimate(&mut self, table: &QualName) -> i64 {
        self.raw
            .value(&format!(
                "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass({})",
                sql_literal(&quoted_table(table))
            ))
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    fn replica_lag(&mut self) -> Duration {
        self.raw
            .value("SELECT max(extract(epoch FROM replay_lag))::float8 FROM pg_stat_replication")
            .ok()
            .flatten()
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.max(0.0)))
    }

    fn canary(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        at: &[String],
    ) -> Option<Box<dyn crate::engine::pace::Canary>> {
        let raw = RawPg::connect(&self.url).ok()?;
        let sql = format!(
            "SELECT 1 FROM {} AS c WHERE {} = {}",
            quoted_table(Self::target(t)),
            key_tuple(keys, "c"),
            value_tuple(keys, at)
        );
        Some(Box::new(PgCanary { raw, sql }))
    }

    fn replica_lag_bytes(&mut self) -> u64 {
        // WAL written here that the slowest standby has not replayed; on a standby itself
        // (pg_current_wal_lsn() refuses) nothing.
        self.raw
            .value(
                "SELECT greatest(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint FROM pg_stat_replication",
            )
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
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
        let texts: Vec<String> = cols.iter().map(|c| format!("{c}::text")).collect();
        let mut conditions = Vec::new();
        if let Some(lo) = lo {
            conditions.push(format!("({}) > {}", cols.join(", "), value_tuple(keys, lo)));
        }
        if let Some(hi) = hi {
            conditions.push(format!(
                "({}) <= {}",
                cols.join(", "),
                value_tuple(keys, hi)
            ));
        }
        let bound = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let row = self
            .raw
            .value(&format!(
                "SELECT json_build_array({})::text FROM {table} {bound} ORDER BY {} OFFSET {} LIMIT 1",
                texts.join(", "),
                cols.join(", "),
                n.saturating_sub(1)
            ))
            .map_err(|e| e.message)?;
        row.map(|v| key_from_json(&v)).transpose()
    }

    fn integer_span(
        &mut self,
        t: &Template,
        key: &KeyColumn,
    ) -> Result<Option<(i128, i128)>, String> {
        let col = quote_ident(&key.name);
        let (rows, _) = self
            .raw
            .run(&format!(
                "SELECT min({col})::text, max({col})::text FROM {}",
                quoted_table(&t.table)
            ))
            .map_err(|e| e.message)?;
        let parse = |i: usize| {
            rows.first()
                .and_then(|r| r[i].as_deref())
                .and_then(|v| v.parse::<i128>().ok())
        };
        Ok(parse(0).zip(parse(1)))
    }

    fn sample_keys(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        estimate: i64,
    ) -> Result<Vec<Vec<String>>, String> {
        // A sample of whole pages, cheap on any size.
        let cols: Vec<String> = keys.iter().map(|k| quote_ident(&k.name)).collect();
        let texts: Vec<String> = cols.iter().map(|c| format!("{c}::text")).collect();
        let percent = if estimate > 0 {
            (2_000_000.0 / estimate as f64).clamp(0.001, 100.0)
        } else {
            100.0
        };
        let (rows, _) = self
            .raw
            .run(&format!(
                "SELECT json_build_array({})::text
                 FROM (SELECT {} FROM {} TABLESAMPLE SYSTEM ({percent:.6})) s
                 ORDER BY {} LIMIT 200000",
                texts.join(", "),
                cols.join(", "),
                quoted_table(&t.table),
                cols.join(", ")
            ))
            .map_err(|e| e.message)?;
        rows.into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .map(|v| key_from_json(&v))
            .collect()
    }

    fn batch(
        &mut self,
        t: &Template,
        keys: &[KeyColumn],
        b: &Batch,
    ) -> Result<(i64, i64), DbError> {
        let key_ref = key_tuple(keys, &t.reference);
        let plain_cols: Vec<String> = keys.iter().map(|k| quote_ident(&k.name)).collect();
        let mut range = Vec::new();
        if let Some(lo) = b.lo {
            range.push(format!("{key_ref} > {}", value_tuple(keys, lo)));
        }
        if let Some(hi) = b.hi {
            range.push(format!("{key_ref} <= {}", value_tuple(keys, hi)));
        }
        let full_ms = b.lock_timeout.as_millis().max(1);
        let state = |candidates: i64, changed: i64| {
            slice_state_sql(b.version, b.index, &(b.save)(candidates, changed), changed)
        };
        match b.mode {
            LockMode::Wait(wait) => {
                // The range update itself, which locks its rows as it goes.
                let fast = t.change.replace(
                    "{in_batch}",
                    &if range.is_empty() {
                        "true".to_string()
                    } else {
                        range.join(" AND ")
                    },
                );
                self.raw.transaction(|c| {
                    // A bitmap heap scan visits the batch's pages in physical order; a plain
                    // index scan of the key range measured 7% slower against one full UPDATE.
                    c.execute(&format!(
                        "SET LOCAL lock_timeout = '{}ms'; SET LOCAL enable_indexscan = off",
                        wait.as_millis().max(1)
                    ))?;
                    let changed = c.execute(&fast)? as i64;
                    // The state row is shared by the workers: wait for another's commit with
                    // the full timeout, not the fast path's.
                    c.execute(&format!(
                        "SET LOCAL lock_timeout = '{full_ms}ms'; {}",
                        state(changed, changed)
                    ))?;
                    Ok((changed, changed))
                })
            }
            LockMode::SkipLocked => {
                if let Some(f) = &t.filter {
                    range.push(format!("({f})"));
                }
                let where_clause = if range.is_empty() {
                    String::new()
                } else {
                    format!("WHERE {}", range.join(" AND "))
                };
                let table = quoted_table(&t.table);
                let in_batch = format!(
                    "{key_ref} IN (SELECT {} FROM locked)",
                    plain_cols.join(", ")
                );
                let sql = format!(
                    "WITH candidates AS (SELECT DISTINCT {key_ref_sel} FROM {source} {where_clause}),
                          locked AS (SELECT {cols} FROM {table} WHERE ({cols}) IN (SELECT * FROM candidates) FOR UPDATE SKIP LOCKED),
                          changed AS ({change} RETURNING 1)
                     SELECT (SELECT count(*) FROM candidates), (SELECT count(*) FROM changed)",
                    key_ref_sel = keys
                        .iter()
                        .map(|k| format!("{}.{}", t.reference, quote_ident(&k.name)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    source = t.source,
                    cols = plain_cols.join(", "),
                    change = t.change.replace("{in_batch}", &in_batch),
                );
                self.raw.transaction(|c| {
                    c.execute(&format!("SET LOCAL lock_timeout = '{full_ms}ms'"))?;
                    let (rows, _) = c.run(&sql)?;
                    let count = |i: usize| {
                        rows.first()
                            .and_then(|r| r[i].as_deref())
                            .and_then(|v| v.parse::<i64>().ok())
                            .unwrap_or(0)
                    };
                    let (candidates, changed) = (count(0), count(1));
                    c.execute(&state(candidates, changed))?;
                    Ok((candidates, changed))
                })
            }
        }
    }

    fn save_cursor(&mut self, version: &str, cursor: &Slices) -> Result<(), String> {
        self.raw
            .execute(&format!(
                "UPDATE {} SET backfill_cursor = {}, updated_at = now()
                 WHERE version = {} AND phase = 'backfill'",
                quote_ident(STATE_TABLE),
                sql_literal(&cursor.to_json()),
                sql_literal(version)
            ))
            .map(|_| ())
            .map_err(|e| format!("saving the backfill cursor: {e}"))
    }

    fn worker(&mut self) -> Result<PgBatch, String> {
        PgBatch::connect(&self.url)
    }
}
