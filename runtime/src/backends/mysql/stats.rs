//! `--stats-from` on MySQL/MariaDB: the table's row estimate and average row length
//! (`information_schema.TABLES`), its indexes' cardinality (`information_schema.STATISTICS`,
//! the distinct values of each index's first column) and, on MariaDB where the role may read
//! it, the engine-independent `mysql.column_stats` (NULL ratio, minimum and maximum, filled by
//! `ANALYZE TABLE … PERSISTENT FOR ALL`). Read in a read-only transaction; never a row.

use std::collections::BTreeMap;

use concertina_codegen::change::QualName;
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{Double, Nullable, Text};

use crate::engine::{DbError, DbErrorKind};
use crate::rehearse::stats::{ColumnStats, TableStats};

#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Nullable<Double>)]
    rows: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    avg: Option<f64>,
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    col: String,
    #[diesel(sql_type = Nullable<Double>)]
    card: Option<f64>,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    col: String,
    #[diesel(sql_type = Nullable<Double>)]
    nulls: Option<f64>,
    #[diesel(sql_type = Nullable<Text>)]
    lo: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    hi: Option<String>,
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

fn err(e: diesel::result::Error) -> DbError {
    DbError::other(e.to_string())
}

pub fn read(url: &str, tables: &[QualName]) -> Result<BTreeMap<QualName, TableStats>, DbError> {
    let mut conn = MysqlConnection::establish(url).map_err(|e| DbError {
        kind: DbErrorKind::Connection,
        code: String::new(),
        message: e.to_string(),
    })?;
    conn.batch_execute("SET SESSION TRANSACTION READ ONLY; START TRANSACTION READ ONLY")
        .map_err(err)?;
    let mut out = BTreeMap::new();
    for t in tables {
        let schema = if t.schema.is_empty() {
            "DATABASE()".to_string()
        } else {
            literal(&t.schema)
        };
        let where_ = format!(
            "TABLE_SCHEMA = {schema} AND TABLE_NAME = {}",
            literal(&t.name)
        );
        let Some(tr) = diesel::sql_query(format!(
            "SELECT CAST(TABLE_ROWS AS DOUBLE) AS `rows`, CAST(AVG_ROW_LENGTH AS DOUBLE) AS avg
             FROM information_schema.TABLES WHERE {where_}"
        ))
        .load::<TableRow>(&mut conn)
        .map_err(err)?
        .into_iter()
        .next() else {
            continue;
        };
        let mut columns: BTreeMap<String, ColumnStats> = BTreeMap::new();
        let indexes = diesel::sql_query(format!(
            "SELECT COLUMN_NAME AS col, CAST(MAX(CARDINALITY) AS DOUBLE) AS card
             FROM information_schema.STATISTICS WHERE {where_} AND SEQ_IN_INDEX = 1
             GROUP BY COLUMN_NAME"
        ))
        .load::<IndexRow>(&mut conn)
        .map_err(err)?;
        for i in indexes {
            if let Some(card) = i.card.filter(|c| *c > 0.0) {
                columns.entry(i.col).or_default().n_distinct = card;
            }
        }
        // MariaDB's engine-independent statistics, when kept and readable; MySQL has no such
        // table (its histograms need ANALYZE … UPDATE HISTOGRAM, not read here).
        let db = if t.schema.is_empty() {
            "DATABASE()".to_string()
        } else {
            literal(&t.schema)
        };
        if let Ok(rows) = diesel::sql_query(format!(
            "SELECT column_name AS col, CAST(nulls_ratio AS DOUBLE) AS nulls,
                    CAST(min_value AS CHAR) AS lo, CAST(max_value AS CHAR) AS hi
             FROM mysql.column_stats WHERE db_name = {db} AND table_name = {}",
            literal(&t.name)
        ))
        .load::<ColumnRow>(&mut conn)
        {
            for r in rows {
                let c = columns.entry(r.col).or_default();
                c.null_frac = r.nulls.unwrap_or(0.0).clamp(0.0, 1.0);
                if let (Some(lo), Some(hi)) = (r.lo, r.hi) {
                    c.histogram = vec![lo, hi];
                }
            }
        }
        out.insert(
            t.clone(),
            TableStats {
                rows: tr.rows.filter(|r| *r > 0.0).map(|r| r as u64),
                avg_row_bytes: tr.avg.filter(|a| *a > 0.0).map(|a| a as u64),
                columns,
            },
        );
    }
    let _ = conn.batch_execute("COMMIT");
    Ok(out)
}
