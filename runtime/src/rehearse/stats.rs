//! What a production server's statistics say of one column (PostgreSQL's `pg_stats`; MySQL's
//! index cardinality), and the generator that follows them. Statistics only: never a row.

use super::data::Gen;

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
    /// A generator whose values follow the most common values' frequencies, the rest spread
    /// over the histogram's bounds; `None` when the statistics hold neither.
    pub fn generator(&self) -> Option<Gen> {
        if self.mcv.is_empty() && self.histogram.len() < 2 {
            return None;
        }
        if self.mcv.is_empty() {
            return Some(Gen::Histogram {
                bounds: self.histogram.clone(),
            });
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
        // The rest of the rows take the histogram's values, each as likely.
        let rest = (1.0 - acc).max(0.0);
        let others: Vec<&String> = self.histogram.iter().collect();
        if rest > 1e-9 && !others.is_empty() {
            let each = rest / others.len() as f64;
            for v in others {
                acc += each;
                values.push(v.clone());
                cumulative.push(acc.min(1.0));
            }
        }
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Some(Gen::Choice { values, cumulative })
    }
}
