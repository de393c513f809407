//! The PostgreSQL catalog as [`Fact`]s, for `verify`.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::Postgres;
use crate::catalog::{table_label, Fact};
use crate::error::RuntimeError;
use crate::state::{META_TABLE, STATE_TABLE};

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
