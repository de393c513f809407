//! The live schema from `information_schema`, compared with the model on what both spell the
//! same way: tables, and columns with their type and nullability. (The model names unnamed
//! indexes and constraints as PostgreSQL does; MySQL names them otherwise, so they are not
//! compared yet.)

use std::collections::BTreeSet;

use concertina_codegen::change::QualName;
use concertina_codegen::model::Schema;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::catalog::Fact;
use crate::error::RuntimeError;
use crate::state::{META_TABLE, STATE_TABLE};

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    column_type: String,
    #[diesel(sql_type = Text)]
    nullable: String,
}

/// One spelling for a type on both sides: lower case, integer display widths dropped
/// (`int(11)` is `int`; `tinyint(1)` stays, it is how booleans are spelled), no spaces after
/// commas.
pub fn normalize_type(ty: &str) -> String {
    let t = ty.trim().to_ascii_lowercase().replace(", ", ",");
    for int in ["tinyint", "smallint", "mediumint", "int", "bigint"] {
        if let Some(rest) = t.strip_prefix(int) {
            if let Some(after) = rest.strip_prefix('(') {
                if let Some((width, tail)) = after.split_once(')') {
                    if int == "tinyint" && width == "1" {
                        return t;
                    }
                    return format!("{int}{tail}");
                }
            }
        }
    }
    match t.as_str() {
        "integer" => "int".into(),
        "bool" | "boolean" => "tinyint(1)".into(),
        _ => t,
    }
}

pub fn live_facts(conn: &mut MysqlConnection) -> Result<BTreeSet<Fact>, RuntimeError> {
    let rows: Vec<ColumnRow> = diesel::sql_query(
        "SELECT CAST(c.TABLE_NAME AS CHAR) AS table_name, CAST(c.COLUMN_NAME AS CHAR) AS column_name,
                CAST(c.COLUMN_TYPE AS CHAR) AS column_type, CAST(c.IS_NULLABLE AS CHAR) AS nullable
         FROM information_schema.COLUMNS c
         JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
         WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
           AND c.TABLE_NAME NOT IN (?, ?)",
    )
    .bind::<Text, _>(STATE_TABLE)
    .bind::<Text, _>(META_TABLE)
    .load(conn)
    .map_err(|e| RuntimeError::query("reading information_schema.COLUMNS", e))?;
    let mut out = BTreeSet::new();
    for r in rows {
        let table = r.table_name.to_lowercase();
        out.insert(Fact::Table(table.clone()));
        out.insert(Fact::Column {
            table,
            column: r.column_name.to_lowercase(),
            ty: normalize_type(&r.column_type),
            nullable: r.nullable == "YES",
        });
    }
    Ok(out)
}

/// The model's tables and columns, spelled as [`live_facts`] spells them.
pub fn model_facts(schema: &Schema) -> BTreeSet<Fact> {
    crate::catalog::model_facts(schema)
        .into_iter()
        .filter_map(|f| match f {
            Fact::Table(t) => Some(Fact::Table(t.to_lowercase())),
            Fact::Column {
                table,
                column,
                ty,
                nullable,
            } => Some(Fact::Column {
                table: table.to_lowercase(),
                column: column.to_lowercase(),
                ty: normalize_type(&ty),
                nullable,
            }),
            _ => None,
        })
        .collect()
}

/// `information_schema.TABLES.TABLE_ROWS`: InnoDB's estimate; `None` for a missing table.
pub fn row_estimate(conn: &mut MysqlConnection, table: &QualName) -> Option<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = Nullable<BigInt>)]
        n: Option<i64>,
    }
    diesel::sql_query(
        "SELECT CAST(TABLE_ROWS AS SIGNED) AS n FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?",
    )
    .bind::<Text, _>(&table.schema)
    .bind::<Text, _>(&table.name)
    .get_result::<N>(conn)
    .ok()
    .and_then(|n| n.n)
}

#[cfg(test)]
mod tests {
    use super::normalize_type;

    #[test]
    fn types_compare_in_one_spelling() {
        assert_eq!(normalize_type("int(11)"), "int");
        assert_eq!(normalize_type("bigint(20) unsigned"), "bigint unsigned");
        assert_eq!(normalize_type("tinyint(1)"), "tinyint(1)");
        assert_eq!(normalize_type("varchar(100)"), "varchar(100)");
        assert_eq!(normalize_type("decimal(10, 2)"), "decimal(10,2)");
    }
}
