//! What a production server's statistics say of a table and its columns (PostgreSQL:
//! `pg_class.reltuples` and `pg_stats`; MySQL/MariaDB: the table's row estimate and average
//! row length, its indexes' cardinality, MariaDB's engine-independent `column_stats` where
//! readable), and the generators that follow them. Statistics only: never a row. Read over a
//! read-only session; a read-only role is enough.

use std::collections::BTreeMap;

use concertina_codegen::change::QualName;
use concertina_codegen::dialect::DialectKind;

use super::values::Gen;
pub use super::values::ValueKind;
use crate::engine::DbError;

/// One table's statistics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableStats {
    /// The server's row estimate (`None`: never analyzed).
    pub rows: Option<u64>,
    /// Average row length in bytes, where the server says.
    pub avg_row_bytes: Option<u64>,
    pub columns: BTreeMap<String, ColumnStats>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColumnStats {
    /// The share of NULLs.
    pub null_frac: f64,
    /// Distinct values: positive a count, negative a fraction of the rows (as `pg_stats`).
    pub n_distinct: f64,
    /// Most common values with their frequencies (shares of all rows).
    pub mcv: Vec<(String, f64)>,
    /// Equal-frequency bounds of the values that are not among the most common.
    pub histogram: Vec<String>,
    pub avg_width: u32,
    /// Physical order against logical order, -1 to 1.
    pub correlation: Option<f64>,
}

impl ColumnStats {
    /// A generator whose values follow the statistics, for a table of `rows` rows; `None`
    /// when they say nothing of the values.
    pub fn generator(&self, kind: ValueKind, rows: u64) -> Option<Gen> {
        let correlated = self.correlation.is_some_and(|c| c.abs() >= 0.9);
        let distinct = if self.n_distinct > 0.0 {
            self.n_distinct
        } else {
            -self.n_distinct * rows as f64
        }
        .round() as u64;
        let buckets = self.histogram.len().saturating_sub(1).max(1) as u64;
        // The distinct values the histogram's part holds, spread over its buckets.
        let per_bucket = distinct
            .saturating_sub(self.mcv.len() as u64)
            .div_ceil(buckets)
            .max(1);
        let histogram = (self.histogram.len() >= 2).then(|| Gen::Histogram {
            bounds: if self.correlation.is_some_and(|c| c <= -0.9) {
                self.histogram.iter().rev().cloned().collect()
            } else {
                self.histogram.clone()
            },
            kind,
            rows: if correlated { rows } else { 0 },
            per_bucket: if distinct > 0 { per_bucket } else { 0 },
        });
        if self.mcv.is_empty() {
            if histogram.is_some() {
                return histogram;
            }
            return match (distinct, kind) {
                (0, _) => None,
                (n, ValueKind::Number) => Some(Gen::Int {
                    lo: 0,
                    hi: n as i64 - 1,
                }),
                (n, ValueKind::Text) => Some(Gen::Text {
                    max_len: None,
                    distinct: n,
                }),
                _ => None,
            };
        }
        // Shares of the non-NULL rows: the generator is only asked for non-NULL values.
        let non_null = (1.0 - self.null_frac).max(1e-9);
        let mut values = Vec::new();
        let mut cumulative = Vec::new();
        let mut acc = 0.0;
        for (v, f) in &self.mcv {
            acc += f / non_null;
            values.push(v.clone());
            cumulative.push(acc.min(1.0));
        }
        let rest = (1.0 - acc).max(0.0);
        if rest > 1e-6 {
            if let Some(h) = histogram {
                return Some(Gen::Mix {
                    first: Box::new(Gen::Choice { values, cumulative }),
                    share: acc.min(1.0),
                    rest: Box::new(h),
                });
            }
        }
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Some(Gen::Choice { values, cumulative })
    }
}

/// Reads the statistics of `tables` from the server at `url`, read-only.
pub fn read(
    dialect: DialectKind,
    url: &str,
    tables: &[QualName],
) -> Result<BTreeMap<QualName, TableStats>, DbError> {
    let _ = tables;
    match dialect {
        #[cfg(feature = "postgres")]
        DialectKind::Postgres => crate::postgres::stats::read(url, tables),
        #[cfg(feature = "mysql")]
        DialectKind::MySql | DialectKind::MariaDb => crate::mysql::stats::read(url, tables),
        #[allow(unreachable_patterns)]
        other => {
            let _ = url;
            Err(DbError::other(format!(
                "this build cannot read {} statistics: it needs concertina's `{}` feature",
                other.as_str(),
                if other == DialectKind::Postgres {
                    "postgres"
                } else {
                    "mysql"
                }
            )))
        }
    }
}
