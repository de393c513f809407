//! `--stats-from` on PostgreSQL: `pg_class.reltuples` and `pg_stats` of the rehearsed tables,
//! read in a read-only transaction (any role that may read the tables sees their `pg_stats`
//! rows). Never a row of the tables themselves.

use std::collections::BTreeMap;

use concertina_codegen::change::QualName;

use super::raw::RawPg;
use crate::engine::DbError;
use crate::rehearse::stats::{ColumnStats, TableStats};

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn read(url: &str, tables: &[QualName]) -> Result<BTreeMap<QualName, TableStats>, DbError> {
    let mut conn = RawPg::connect(url)?;
    conn.execute("SET default_transaction_read_only = on")?;
    conn.execute("BEGIN READ ONLY")?;
    let mut out = BTreeMap::new();
    for t in tables {
        let schema = if t.schema.is_empty() {
            "public"
        } else {
            &t.schema
        };
        let (rel, _) = conn.run(&format!(
            "SELECT c.reltuples::bigint::text, (c.relpages::bigint * current_setting('block_size')::bigint / greatest(c.reltuples, 1))::bigint::text
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = {} AND c.relname = {}",
            literal(schema),
            literal(&t.name)
        ))?;
        let Some(row) = rel.into_iter().next() else {
            continue;
        };
        // reltuples is -1 (PostgreSQL 14+) or 0 before the first ANALYZE.
        let rows = row
            .first()
            .cloned()
            .flatten()
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .map(|n| n as u64);
        let avg_row_bytes = row
            .get(1)
            .cloned()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok());
        let (cols, _) = conn.run(&format!(
            "SELECT attname::text, null_frac::text, avg_width::text, n_distinct::text,
                    most_common_vals::text, most_common_freqs::text, histogram_bounds::text,
                    correlation::text
             FROM pg_stats WHERE schemaname = {} AND tablename = {}",
            literal(schema),
            literal(&t.name)
        ))?;
        let mut columns = BTreeMap::new();
        for c in cols {
            let get = |i: usize| c.get(i).cloned().flatten();
            let num = |i: usize| get(i).and_then(|v| v.parse::<f64>().ok());
            let Some(name) = get(0) else { continue };
            let values = get(4).map(|v| parse_array(&v)).unwrap_or_default();
            let freqs: Vec<f64> = get(5)
                .map(|v| parse_array(&v))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.and_then(|f| f.parse().ok()))
                .collect();
            let mcv = values
                .into_iter()
                .zip(freqs)
                .filter_map(|(v, f)| v.map(|v| (v, f)))
                .collect();
            columns.insert(
                name,
                ColumnStats {
                    null_frac: num(1).unwrap_or(0.0),
                    avg_width: num(2).unwrap_or(0.0) as u32,
                    n_distinct: num(3).unwrap_or(0.0),
                    mcv,
                    histogram: get(6)
                        .map(|v| parse_array(&v).into_iter().flatten().collect())
                        .unwrap_or_default(),
                    correlation: num(7),
                },
            );
        }
        out.insert(
            t.clone(),
            TableStats {
                rows,
                avg_row_bytes,
                columns,
            },
        );
    }
    conn.execute("COMMIT")?;
    Ok(out)
}

/// The elements of a one-dimensional array in PostgreSQL's text form (`{a,"b c",NULL}`).
pub fn parse_array(text: &str) -> Vec<Option<String>> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or("");
    let mut out = Vec::new();
    if inner.is_empty() {
        return out;
    }
    let mut chars = inner.chars().peekable();
    loop {
        let mut item = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            item.push(n);
                        }
                    }
                    '"' => break,
                    c => item.push(c),
                }
            }
            out.push(Some(item));
            // Up to the comma.
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
            }
        } else {
            let mut ended = true;
            for c in chars.by_ref() {
                if c == ',' {
                    ended = false;
                    break;
                }
                item.push(c);
            }
            let item = item.trim().to_string();
            out.push((item != "NULL").then_some(item));
            if ended {
                break;
            }
            continue;
        }
        if chars.peek().is_none() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_array;

    #[test]
    fn arrays_in_text_form() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(parse_array("{a,b}"), vec![s("a"), s("b")]);
        assert_eq!(
            parse_array(r#"{"x, y","q\"uote",NULL,7}"#),
            vec![s("x, y"), s("q\"uote"), None, s("7")]
        );
        assert_eq!(parse_array("{}"), Vec::<Option<String>>::new());
        assert_eq!(parse_array("{0.3,0.25}").len(), 2);
        assert_eq!(
            parse_array(r#"{"2024-01-01 00:00:00+00"}"#),
            vec![s("2024-01-01 00:00:00+00")]
        );
    }
}
