//! Production-like rows without production rows: a generator per column, chosen from the
//! model (type, key, unique, foreign key, `NOT NULL`, enum, simple `CHECK`s) and, where the
//! user gave them, the production server's statistics. Values are text in the server's input
//! form, the same for `COPY` and for SQL literals; each is a pure function of (table, column,
//! row number), so a rehearsal is reproducible.
//!
//! Which constraints the rows follow: those of the schema before the first pending migration,
//! and those the pending migrations add over columns that exist already (a foreign key or
//! `CHECK` added `NOT VALID` then validated, a `SET NOT NULL` in contract assert that the
//! existing rows satisfy them). Without statistics the rows satisfy them all; with
//! statistics, NULLs follow the measured null fraction, so a `SET NOT NULL` that production's
//! rows would break fails the rehearsal as it would fail the deploy.

use std::collections::{BTreeMap, BTreeSet};

use concertina_codegen::change::{ConstraintKind, QualName};
use concertina_codegen::dialect::DialectKind;
use concertina_codegen::model::{Schema, Table};
use concertina_codegen::types::SqlType;

use super::stats::ColumnStats;
use super::values::ValueKind;
pub use super::values::{choice, mix, salt, unit, value, Gen, Keys};

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnGen {
    pub name: String,
    pub gen: Gen,
    /// The share of rows that get NULL.
    pub null_frac: f64,
}

/// The rows to make for one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableGen {
    pub table: QualName,
    pub rows: u64,
    /// The columns given values; the others get their default (identity, `DEFAULT`).
    pub columns: Vec<ColumnGen>,
    /// Where the row count came from (`--rows`, `statistics`, `default`).
    pub source: String,
}

impl TableGen {
    /// Row `i`'s values, in the order of `columns` (`None` is NULL).
    pub fn row(&self, i: u64, keys: &Keys) -> Vec<Option<String>> {
        let table_salt = salt(&self.table.to_string());
        self.columns
            .iter()
            .map(|c| {
                let s = table_salt ^ salt(&c.name);
                if c.null_frac > 0.0 && unit(mix(s ^ 0x5555, i)) < c.null_frac {
                    return None;
                }
                value(&c.gen, &c.name, s, i, keys)
            })
            .collect()
    }
}

/// Why a column cannot be given values: the rehearsal says so and how to go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{table}.{column}` has type `{ty}`, for which the rehearsal makes no values; it is NOT NULL without a default, so no row can be made: give the table no rows (`--rows {table}=0`) or a default to the column")]
pub struct NoGenerator {
    pub table: String,
    pub column: String,
    pub ty: String,
}

/// Constraints the pending migrations add to columns that exist before them (see the module
/// comment): foreign keys, `CHECK`s and `NOT NULL`, per table.
#[derive(Debug, Default, Clone)]
pub struct Promised {
    pub not_null: BTreeSet<(QualName, String)>,
    pub foreign_keys: Vec<(QualName, Vec<String>, QualName, Vec<String>)>,
    pub checks: Vec<(QualName, String)>,
}

impl Promised {
    /// Everything the `later` schemas require of `before`'s existing columns.
    pub fn from_later(before: &Schema, later: &[&Schema]) -> Promised {
        let mut p = Promised::default();
        for schema in later {
            for (q, table) in &schema.tables {
                let Some(old) = before.table(q) else { continue };
                for c in &table.columns {
                    if old.column(&c.name).is_some() && table.proves_not_null(&c.name) {
                        p.not_null.insert((q.clone(), c.name.clone()));
                    }
                }
                for con in &table.constraints {
                    if old.constraint(&con.name).is_some() {
                        continue;
                    }
                    let cols = con.kind.columns();
                    if !cols.iter().all(|c| old.column(c).is_some()) {
                        continue;
                    }
                    match &con.kind {
                        ConstraintKind::ForeignKey {
                            columns,
                            ref_table,
                            ref_columns,
                        } => p.foreign_keys.push((
                            q.clone(),
                            columns.clone(),
                            ref_table.clone(),
                            ref_columns.clone(),
                        )),
                        ConstraintKind::Check { expr, .. } => {
                            p.checks.push((q.clone(), expr.text.clone()))
                        }
                        _ => {}
                    }
                }
            }
        }
        p
    }
}

/// The rows to make for `table`: the generator of every column the load gives a value (not
/// identity or generated columns, nor a column with a default unless statistics say what
/// production holds in it), from the model, what the pending migrations promise and the
/// statistics (`stats`, by column name, may be empty).
pub fn plan_table(
    schema: &Schema,
    table: &Table,
    rows: u64,
    source: &str,
    promised: &Promised,
    stats: &BTreeMap<String, ColumnStats>,
) -> Result<TableGen, NoGenerator> {
    let q = &table.name;
    let gens = column_gens(schema, table, promised, stats, rows);
    let mut columns = Vec::new();
    for c in &table.columns {
        if c.generated.is_some() || c.identity {
            continue;
        }
        let st = stats.get(&c.name);
        if c.default.is_some() && st.is_none() {
            continue;
        }
        let required = !c.nullable
            || table.proves_not_null(&c.name)
            || promised.not_null.contains(&(q.clone(), c.name.clone()));
        let Some(gen) = gens.get(&c.name) else {
            if !required {
                continue;
            }
            return Err(NoGenerator {
                table: q.to_string(),
                column: c.name.clone(),
                ty: c.ty.to_string(),
            });
        };
        let null_frac = match st {
            Some(s) if c.nullable && !table.proves_not_null(&c.name) => s.null_frac,
            _ if required => 0.0,
            // No statistics: a tenth of a nullable column's rows are NULL.
            _ => 0.1,
        };
        columns.push(ColumnGen {
            name: c.name.clone(),
            gen: gen.clone(),
            null_frac,
        });
    }
    Ok(TableGen {
        table: q.clone(),
        rows,
        columns,
        source: source.to_string(),
    })
}

/// The generator of each column of `table` that values can be made for (not identity or
/// generated columns): a foreign key's parent keys, distinct values for a key, what the
/// simple `CHECK`s allow, the statistics' values, or the type's.
pub fn column_gens(
    schema: &Schema,
    table: &Table,
    promised: &Promised,
    stats: &BTreeMap<String, ColumnStats>,
    rows: u64,
) -> BTreeMap<String, Gen> {
    let q = &table.name;
    let unique_cols = unique_columns(schema, table);
    let mut fks: Vec<(Vec<String>, QualName, Vec<String>)> = table
        .constraints
        .iter()
        .filter_map(|c| match &c.kind {
            ConstraintKind::ForeignKey {
                columns,
                ref_table,
                ref_columns,
            } => Some((columns.clone(), ref_table.clone(), ref_columns.clone())),
            _ => None,
        })
        .collect();
    fks.extend(
        promised
            .foreign_keys
            .iter()
            .filter(|(t, ..)| t == q)
            .map(|(_, c, r, rc)| (c.clone(), r.clone(), rc.clone())),
    );
    let mut checks: Vec<String> = table
        .constraints
        .iter()
        .filter_map(|c| match &c.kind {
            ConstraintKind::Check { expr, .. } => Some(expr.text.clone()),
            _ => None,
        })
        .collect();
    checks.extend(
        promised
            .checks
            .iter()
            .filter(|(t, _)| t == q)
            .map(|(_, c)| c.clone()),
    );
    let mut out = BTreeMap::new();
    for c in &table.columns {
        if c.generated.is_some() || c.identity {
            continue;
        }
        let fk = fks
            .iter()
            .find(|(cols, ..)| cols.len() == 1 && cols[0] == c.name);
        let gen = if let Some((_, parent, ref_cols)) = fk {
            let parent_key = match ref_cols.first() {
                Some(col) => col.clone(),
                None => schema
                    .table(parent)
                    .and_then(|t| t.primary_key().and_then(|k| k.first().cloned()))
                    .unwrap_or_else(|| "id".into()),
            };
            Some(Gen::Ref {
                parent: parent.clone(),
                column: parent_key,
            })
        } else if unique_cols.contains(&c.name) {
            Some(unique_gen(schema, &c.ty, &c.name))
        } else {
            check_gen(&checks, &c.name)
                .or_else(|| {
                    stats
                        .get(&c.name)
                        .and_then(|s| s.generator(value_kind(schema, &c.ty), rows))
                })
                .or_else(|| type_gen(schema, &c.ty))
        };
        if let Some(g) = gen {
            out.insert(c.name.clone(), g);
        }
    }
    out
}

/// Columns that must be distinct per row: a single-column primary key or unique constraint or
/// index, and the first column of a multi-column one (distinct first columns make the tuple
/// distinct).
fn unique_columns(schema: &Schema, table: &Table) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in &table.constraints {
        if let ConstraintKind::PrimaryKey { columns, .. } | ConstraintKind::Unique { columns, .. } =
            &c.kind
        {
            if let Some(first) = columns.first() {
                out.insert(first.clone());
            }
        }
    }
    for i in schema.indexes_of(&table.name) {
        if i.unique && i.expressions.is_empty() {
            if let Some(first) = i.columns.first() {
                out.insert(first.clone());
            }
        }
    }
    out
}

fn unique_gen(schema: &Schema, ty: &SqlType, column: &str) -> Gen {
    let ty = base_type(schema, ty);
    match ty.name.as_str() {
        n if is_integer(n) => Gen::UniqueInt { offset: 0 },
        "uuid" => Gen::UniqueUuid,
        _ => Gen::UniqueText {
            max_len: text_len(&ty),
            email: column.to_ascii_lowercase().contains("email"),
        },
    }
}

/// How values between two histogram bounds can be made for a column of type `ty`.
pub fn value_kind(schema: &Schema, ty: &SqlType) -> ValueKind {
    let ty = base_type(schema, ty);
    if ty.array_dims > 0 || ty.schema.is_some() {
        return ValueKind::Other;
    }
    let base = ty.name.split_whitespace().next().unwrap_or_default();
    match base {
        n if is_integer(n) => ValueKind::Number,
        "numeric" | "decimal" | "real" | "double" | "float" => ValueKind::Number,
        "text" | "character" | "varchar" | "char" | "bpchar" | "citext" | "tinytext"
        | "mediumtext" | "longtext" => ValueKind::Text,
        _ => ValueKind::Other,
    }
}

fn is_integer(name: &str) -> bool {
    let base = name.split_whitespace().next().unwrap_or(name);
    matches!(
        base,
        "smallint" | "integer" | "bigint" | "int" | "tinyint" | "mediumint"
    )
}

/// A domain's base type; anything else as it is.
fn base_type(schema: &Schema, ty: &SqlType) -> SqlType {
    if let Some(s) = &ty.schema {
        let q = QualName::new(s.clone(), ty.name.clone());
        if let Some(d) = schema.domains.get(&q) {
            return d.base.clone();
        }
    }
    ty.clone()
}

fn text_len(ty: &SqlType) -> Option<usize> {
    ty.arg(0).map(|n| n as usize)
}

/// The generator for a column of type `ty` with nothing else known.
pub fn type_gen(schema: &Schema, ty: &SqlType) -> Option<Gen> {
    if ty.array_dims > 0 {
        return match schema.dialect {
            DialectKind::Postgres => Some(Gen::Fixed("{}".into())),
            _ => None,
        };
    }
    if let Some(s) = &ty.schema {
        let q = QualName::new(s.clone(), ty.name.clone());
        if let Some(labels) = schema.enums.get(&q) {
            return Some(choice(labels.clone()));
        }
        if schema.domains.contains_key(&q) {
            return type_gen(schema, &base_type(schema, ty));
        }
        return None;
    }
    let base = ty.name.split_whitespace().next().unwrap_or_default();
    let unsigned = ty.name.contains("unsigned");
    Some(match base {
        "tinyint" if ty.arg(0) == Some(1) => Gen::Int { lo: 0, hi: 1 },
        "tinyint" => Gen::Int {
            lo: 0,
            hi: if unsigned { 255 } else { 127 },
        },
        "smallint" => Gen::Int { lo: 0, hi: 30_000 },
        "mediumint" | "integer" | "int" | "bigint" => Gen::Int {
            lo: 0,
            hi: 1_000_000,
        },
        "numeric" | "decimal" => {
            let precision = ty.arg(0).unwrap_or(12).clamp(1, 18) as i32;
            let scale = ty.arg(1).unwrap_or(2).min(6) as u32;
            let max = 10f64.powi((precision - scale as i32).clamp(0, 9)) - 1.0;
            Gen::Decimal {
                lo: 0.0,
                hi: max.clamp(0.0, 1000.0),
                scale,
            }
        }
        "real" | "double" | "float" => Gen::Float {
            lo: 0.0,
            hi: 1000.0,
        },
        "boolean" | "bool" => Gen::Bool,
        "text" | "character" | "bpchar" | "varchar" | "char" | "tinytext" | "mediumtext"
        | "longtext" | "citext" | "name" => Gen::Text {
            max_len: text_len(ty),
            distinct: 1000,
        },
        "date" => Gen::Date,
        "timestamp" | "datetime" => Gen::Timestamp,
        "time" => Gen::Time,
        "interval" => Gen::Interval,
        "uuid" => Gen::Uuid,
        "json" | "jsonb" => Gen::Json,
        "bytea" | "blob" | "tinyblob" | "mediumblob" | "longblob" | "binary" | "varbinary" => {
            Gen::Bytes
        }
        "inet" | "cidr" => Gen::Inet,
        "year" => Gen::Int { lo: 2000, hi: 2030 },
        "enum" | "set" => choice(
            ty.args
                .iter()
                .map(|a| a.trim().trim_matches('\'').replace("''", "'"))
                .collect(),
        ),
        _ => return None,
    })
}

/// A generator that satisfies the simple `CHECK`s on `column`: `IN (…)`, comparisons with a
/// number, `BETWEEN`. Others are left to the server (a row it refuses stops the load with
/// the constraint's name).
fn check_gen(checks: &[String], column: &str) -> Option<Gen> {
    let col = column.to_ascii_lowercase();
    let mut lo: Option<f64> = None;
    let mut hi: Option<f64> = None;
    for text in checks {
        let t = text
            .to_ascii_lowercase()
            .replace(['(', ')', '"', '`'], " ")
            .replace("::text", "");
        let words: Vec<&str> = t.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == col) else {
            continue;
        };
        let rest = &words[at + 1..];
        match rest {
            ["in", ..] => {
                let list_text = text.split_once(['(', '['])?.1;
                let values: Vec<String> = list_text
                    .split(',')
                    .filter_map(|v| {
                        let v = v.trim().trim_end_matches([')', ']']).trim();
                        let v = v.split("::").next()?.trim();
                        let v = v.trim_start_matches('(').trim();
                        (v.starts_with('\'') && v.ends_with('\'') && v.len() >= 2)
                            .then(|| v[1..v.len() - 1].replace("''", "'"))
                    })
                    .collect();
                if !values.is_empty() {
                    return Some(choice(values));
                }
            }
            ["between", a, "and", b, ..] => {
                lo = a.parse().ok();
                hi = b.parse().ok();
            }
            [op, n, ..] => {
                let Ok(n) = n.parse::<f64>() else { continue };
                match *op {
                    ">" => lo = Some(lo.map_or(n + 1.0, |l: f64| l.max(n + 1.0))),
                    ">=" => lo = Some(lo.map_or(n, |l: f64| l.max(n))),
                    "<" => hi = Some(hi.map_or(n - 1.0, |h: f64| h.min(n - 1.0))),
                    "<=" => hi = Some(hi.map_or(n, |h: f64| h.min(n))),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    match (lo, hi) {
        (None, None) => None,
        (lo, hi) => {
            let lo = lo.unwrap_or(0.0);
            let hi = hi.unwrap_or(lo + 1000.0).max(lo);
            Some(Gen::Int {
                lo: lo.ceil() as i64,
                hi: hi.floor() as i64,
            })
        }
    }
}

/// Tables in an order where every table comes after the tables its foreign keys (and the
/// pending migrations' promised ones) reference; a cycle is broken where it closes.
pub fn load_order(
    schema: &Schema,
    tables: &BTreeSet<QualName>,
    promised: &Promised,
) -> Vec<QualName> {
    let parents = |q: &QualName| -> Vec<QualName> {
        let mut out: Vec<QualName> = schema
            .table(q)
            .map(|t| {
                t.constraints
                    .iter()
                    .filter_map(|c| match &c.kind {
                        ConstraintKind::ForeignKey { ref_table, .. } => Some(ref_table.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.extend(
            promised
                .foreign_keys
                .iter()
                .filter(|(t, ..)| t == q)
                .map(|(_, _, r, _)| r.clone()),
        );
        out
    };
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    fn visit(
        q: &QualName,
        parents: &dyn Fn(&QualName) -> Vec<QualName>,
        tables: &BTreeSet<QualName>,
        seen: &mut BTreeSet<QualName>,
        order: &mut Vec<QualName>,
    ) {
        if !seen.insert(q.clone()) {
            return;
        }
        for p in parents(q) {
            if tables.contains(&p) && p != *q {
                visit(&p, parents, tables, seen, order);
            }
        }
        order.push(q.clone());
    }
    for q in tables {
        visit(q, &parents, tables, &mut seen, &mut order);
    }
    order
}

/// `tables` and every table their foreign keys reach (parents must be loaded first).
pub fn with_parents(
    schema: &Schema,
    tables: &BTreeSet<QualName>,
    promised: &Promised,
) -> BTreeSet<QualName> {
    let mut out = tables.clone();
    let mut todo: Vec<QualName> = tables.iter().cloned().collect();
    while let Some(q) = todo.pop() {
        let Some(t) = schema.table(&q) else { continue };
        let refs = t
            .constraints
            .iter()
            .filter_map(|c| match &c.kind {
                ConstraintKind::ForeignKey { ref_table, .. } => Some(ref_table.clone()),
                _ => None,
            })
            .chain(
                promised
                    .foreign_keys
                    .iter()
                    .filter(|(c, ..)| *c == q)
                    .map(|(_, _, r, _)| r.clone()),
            )
            .collect::<Vec<_>>();
        for r in refs {
            if schema.table(&r).is_some() && out.insert(r.clone()) {
                todo.push(r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_narrow_the_values() {
        let g = check_gen(&["(total >= 0)".into(), "total < 100".into()], "total").unwrap();
        assert_eq!(g, Gen::Int { lo: 0, hi: 99 });
        let g = check_gen(
            &["((state)::text = ANY ((ARRAY['new'::character varying, 'done'::character varying])::text[]))".into()],
            "state",
        );
        // `= ANY (ARRAY[…])` is PostgreSQL's spelling of IN as the catalog prints it; the
        // migrations' own text says IN.
        assert!(g.is_none() || matches!(g, Some(Gen::Choice { .. })));
        let g = check_gen(&["state IN ('new', 'it''s done')".into()], "state").unwrap();
        let Gen::Choice { values, .. } = g else {
            panic!("not a choice")
        };
        assert_eq!(values, vec!["new".to_string(), "it's done".to_string()]);
        assert_eq!(
            check_gen(&["qty BETWEEN 1 AND 5".into()], "qty"),
            Some(Gen::Int { lo: 1, hi: 5 })
        );
        assert_eq!(check_gen(&["length(x) > 0".into()], "qty"), None);
    }
}
