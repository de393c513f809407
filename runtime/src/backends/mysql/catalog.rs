//! The live schema from `information_schema`, compared with the model: tables, columns with
//! their type and nullability, and indexes (name as MySQL gives it — `PRIMARY`, an unnamed
//! key after its first column, a foreign key's implicit index —, uniqueness, columns in
//! order; `tests/live_model_mysql.rs` holds the model to these names). Constraints are not
//! compared: CHECK names differ between MySQL and MariaDB.

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
    let indexes: Vec<IndexRow> = diesel::sql_query(
        "SELECT CAST(TABLE_NAME AS CHAR) AS table_name, CAST(INDEX_NAME AS CHAR) AS index_name,
                CAST(MAX(NON_UNIQUE) AS SIGNED) AS non_unique,
                CAST(GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ', ') AS CHAR)
                  AS columns
         FROM information_schema.STATISTICS
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT IN (?, ?)
         GROUP BY TABLE_NAME, INDEX_NAME",
    )
    .bind::<Text, _>(STATE_TABLE)
    .bind::<Text, _>(META_TABLE)
    .load(conn)
    .map_err(|e| RuntimeError::query("reading information_schema.STATISTICS", e))?;
    let mut out = BTreeSet::new();
    for r in indexes {
        out.insert(Fact::Index {
            table: r.table_name.to_lowercase(),
            name: r.index_name.to_lowercase(),
            unique: r.non_unique == 0,
            columns: r.columns.unwrap_or_default().to_lowercase(),
            valid: true,
        });
    }
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

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = BigInt)]
    non_unique: i64,
    #[diesel(sql_type = Nullable<Text>)]
    columns: Option<String>,
}

/// The model's tables, columns and indexes, spelled as [`live_facts`] spells them.
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
        .chain(schema.indexes.values().map(|idx| Fact::Index {
            table: idx.table.name.to_lowercase(),
            name: idx.name.name.to_lowercase(),
            unique: idx.unique,
            columns: idx.columns.join(", ").to_lowercase(),
            valid: true,
        }))
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
