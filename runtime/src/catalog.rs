//! The live schema as PostgreSQL's catalog reports it, and its comparison with the model: what
//! `verify` checks and what the tests use to trust the model.

use std::collections::BTreeSet;

use concertina_codegen::change::ConstraintKind;
use concertina_codegen::model::Schema;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::error::RuntimeError;
use crate::postgres::Postgres;
use crate::state::{META_TABLE, STATE_TABLE};

/// One fact of a schema, comparable between the catalog and the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    Table(String),
    Column {
        table: String,
        column: String,
        ty: String,
        nullable: bool,
    },
    Index {
        table: String,
        name: String,
        unique: bool,
        columns: String,
        valid: bool,
    },
    Constraint {
        table: String,
        name: String,
        kind: &'static str,
        validated: bool,
    },
}

impl std::fmt::Display for Fact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fact::Table(t) => write!(f, "table {t}"),
            Fact::Column {
                table,
                column,
                ty,
                nullable,
            } => write!(
                f,
                "column {table}.{column} {ty}{}",
                if *nullable { "" } else { " NOT NULL" }
            ),
            Fact::Index {
                table,
                name,
                unique,
                columns,
                valid,
            } => write!(
                f,
                "{}index {name} on {table} ({columns}){}",
                if *unique { "unique " } else { "" },
                if *valid { "" } else { " INVALID" }
            ),
            Fact::Constraint {
                table,
                name,
                kind,
                validated,
            } => write!(
                f,
                "{kind} constraint {name} on {table}{}",
                if *validated { "" } else { " NOT VALID" }
            ),
        }
    }
}

fn table_label(schema: &str, name: &str) -> String {
    if schema == "public" || schema.is_empty() {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

/// The facts of the model (tables, columns, indexes, constraints).
pub fn model_facts(schema: &Schema) -> BTreeSet<Fact> {
    let mut out = BTreeSet::new();
    for (name, table) in &schema.tables {
        let t = table_label(&name.schema, &name.name);
        out.insert(Fact::Table(t.clone()));
        for c in &table.columns {
            out.insert(Fact::Column {
                table: t.clone(),
                column: c.name.clone(),
                ty: c.ty.to_string(),
                nullable: c.nullable,
            });
        }
        for c in &table.constraints {
            let kind = match &c.kind {
                ConstraintKind::PrimaryKey { .. } => "primary key",
                ConstraintKind::Unique { .. } => "unique",
                ConstraintKind::Check { .. } => "check",
                ConstraintKind::ForeignKey { .. } => "foreign key",
                ConstraintKind::Exclude => "exclusion",
                // PostgreSQL < 18 has no NOT NULL constraints in pg_constraint.
                ConstraintKind::NotNull { .. } => continue,
            };
            out.insert(Fact::Constraint {
                table: t.clone(),
                name: c.name.clone(),
                kind,
                validated: c.validated,
            });
        }
    }
    for idx in schema.indexes.values() {
        let columns = if idx.expressions.is_empty() {
            idx.columns.join(", ")
        } else {
            "expression".into()
        };
        out.insert(Fact::Index {
            table: table_label(&idx.table.schema, &idx.table.name),
            name: idx.name.name.clone(),
            unique: idx.unique,
            columns,
            valid: idx.valid,
        });
    }
    out
}

#[derive(QueryableByName)]
struct Row4 {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = Text)]
    b: String,
    #[diesel(sql_type = Text)]
    c: String,
    #[diesel(sql_type = Text)]
    d: String,
    #[diesel(sql_type = Bool)]
    x: bool,
    #[diesel(sql_type = Bool)]
    y: bool,
}

const USER_TABLES: &str = "c.relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema', 'pg_toast') OR nspname LIKE 'pg_temp%' OR nspname LIKE 'pg_toast_temp%')";

/// The live facts of the database, without concertina's own state tables.
pub fn live_facts(pg: &mut Postgres) -> Result<BTreeSet<Fact>, RuntimeError> {
    let own = format!("c.relname NOT IN ('{STATE_TABLE}', '{META_TABLE}')");
    let conn = pg.connection();
    let load =
        |conn: &mut PgConnection, sql: String, what: &str| -> Result<Vec<Row4>, RuntimeError> {
            diesel::sql_query(sql)
                .load(conn)
                .map_err(|e| RuntimeError::query(format!("reading the catalog ({what})"), e))
        };
    let mut out = BTreeSet::new();
    for r in load(
        conn,
        format!(
            "SELECT n.nspname::text AS a, c.relname::text AS b, '' AS c, '' AS d, false AS x, false AS y
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND {USER_TABLES} AND {own}"
        ),
        "tables",
    )? {
        out.insert(Fact::Table(table_label(&r.a, &r.b)));
    }
    for r in load(
        conn,
        format!(
            "SELECT n.nspname::text AS a, c.relname::text AS b, a.attname::text AS c,
                    format_type(a.atttypid, a.atttypmod) AS d, NOT a.attnotnull AS x, false AS y
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
               AND {USER_TABLES} AND {own}"
        ),
        "columns",
    )? {
        out.insert(Fact::Column {
            table: table_label(&r.a, &r.b),
            column: r.c,
            ty: r.d,
            nullable: r.x,
        });
    }
    for r in load(
        conn,
        format!(
            "SELECT n.nspname::text AS a, c.relname::text AS b, ic.relname::text AS c,
                    CASE WHEN i.indexprs IS NOT NULL THEN 'expression' ELSE
                      (SELECT string_agg(att.attname::text, ', ' ORDER BY k.ord)
                       FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                       JOIN pg_attribute att ON att.attrelid = i.indrelid AND att.attnum = k.attnum
                       WHERE k.ord <= i.indnkeyatts) END AS d,
                    i.indisunique AS x, i.indisvalid AS y
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {USER_TABLES} AND {own}"
        ),
        "indexes",
    )? {
        out.insert(Fact::Index {
            table: table_label(&r.a, &r.b),
            name: r.c,
            unique: r.x,
            columns: r.d,
            valid: r.y,
        });
    }
    for r in load(
        conn,
        format!(
            "SELECT n.nspname::text AS a, c.relname::text AS b, co.conname::text AS c,
                    co.contype::text AS d, co.convalidated AS x, false AS y
             FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE co.contype IN ('p', 'u', 'c', 'f', 'x') AND {USER_TABLES} AND {own}"
        ),
        "constraints",
    )? {
        let kind = match r.d.as_str() {
            "p" => "primary key",
            "u" => "unique",
            "c" => "check",
            "f" => "foreign key",
            _ => "exclusion",
        };
        out.insert(Fact::Constraint {
            table: table_label(&r.a, &r.b),
            name: r.c,
            kind,
            validated: r.x,
        });
    }
    Ok(out)
}

/// What the database has that the model lacks, and the reverse.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SchemaDiff {
    pub only_live: Vec<Fact>,
    pub only_model: Vec<Fact>,
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.only_live.is_empty() && self.only_model.is_empty()
    }
}

impl std::fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for fact in &self.only_model {
            writeln!(f, "  - {fact} (in the migrations, not in the database)")?;
        }
        for fact in &self.only_live {
            writeln!(f, "  + {fact} (in the database, not in the migrations)")?;
        }
        Ok(())
    }
}

pub fn diff(live: &BTreeSet<Fact>, model: &BTreeSet<Fact>) -> SchemaDiff {
    SchemaDiff {
        only_live: live.difference(model).cloned().collect(),
        only_model: model.difference(live).cloned().collect(),
    }
}
