//! The schema model against a real MySQL or MariaDB server. The migrations of
//! `tests/fixtures/model_mysql/` are replayed statement by statement on a fresh database, and
//! after each expand (`E(N)`) and each contract (`S(N)`) `information_schema` is compared with
//! the model:
//!
//! - tables;
//! - columns: position, type (`COLUMN_TYPE` without integer display widths, which MySQL 8.0.19+
//!   no longer prints; `tinyint(1)` kept), nullability, what fills a value an insert omits
//!   (`auto` for `AUTO_INCREMENT`, the default's text, `generated`, or `-`), and the character
//!   set of a text column (its own, else its table's default, else the database's `utf8mb4`);
//! - indexes: name, uniqueness, columns in order (`PRIMARY`, unnamed and foreign-key indexes
//!   included);
//! - primary key, unique and foreign key constraints: name, columns, referenced table and
//!   columns.
//!
//! Column and index names compare without case (the server keeps the case written, the model
//! folds it: both servers compare them without case); table names with case.
//!
//! Server: `CONCERTINA_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/`). Each test
//! creates its own database `ct_live_model_<pid>_<nanos>` and drops it when it ends, failed or
//! not. An unreachable server fails the test: it never skips.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

mod live;

use live::load;

use concertina_codegen::model::Schema;
use concertina_runtime::testdb_mysql::MySqlTestDb;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fact {
    Table {
        table: String,
    },
    Column {
        table: String,
        position: i64,
        name: String,
        ty: String,
        not_null: bool,
        fill: String,
        charset: Option<String>,
    },
    Index {
        table: String,
        name: String,
        unique: bool,
        columns: String,
    },
    Constraint {
        table: String,
        name: String,
        kind: &'static str,
        columns: String,
        references: Option<String>,
    },
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fact::Table { table } => write!(f, "table {table}"),
            Fact::Column {
                table,
                position,
                name,
                ty,
                not_null,
                fill,
                charset,
            } => write!(
                f,
                "column {table}.{name} #{position} {ty}{} fill={fill}{}",
                if *not_null { " NOT NULL" } else { "" },
                charset
                    .as_ref()
                    .map(|c| format!(" charset={c}"))
                    .unwrap_or_default()
            ),
            Fact::Index {
                table,
                name,
                unique,
                columns,
            } => write!(
                f,
                "{}index {name} on {table} ({columns})",
                if *unique { "unique " } else { "" }
            ),
            Fact::Constraint {
                table,
                name,
                kind,
                columns,
                references,
            } => {
                write!(f, "{kind} constraint {name} on {table} ({columns})")?;
                if let Some(r) = references {
                    write!(f, " references {r}")?;
                }
                Ok(())
            }
        }
    }
}

/// A default's text as both sides can agree on it: `CURRENT_TIMESTAMP` is
/// `current_timestamp()` in MariaDB's catalog.
fn normalize_default(text: &str) -> String {
    let t = text.trim().to_lowercase();
    t.strip_suffix("()").map(str::to_string).unwrap_or(t)
}

/// `COLUMN_TYPE` without integer display widths (`int(11)` → `int`, `bigint(20) unsigned` →
/// `bigint unsigned`); `tinyint(1)` is the boolean spelling and stays.
fn normalize_type(text: &str) -> String {
    let t = text.trim().to_lowercase();
    for int in ["tinyint", "smallint", "mediumint", "int", "bigint"] {
        if let Some(rest) = t.strip_prefix(int).and_then(|r| r.strip_prefix('(')) {
            if let Some((width, after)) = rest.split_once(')') {
                if int == "tinyint" && width == "1" {
                    return t;
                }
                return format!("{int}{after}");
            }
        }
    }
    t
}

/// `utf8` is `utf8mb3` (MariaDB 10.6+ prints the latter).
fn normalize_charset(c: &str) -> String {
    match c.to_lowercase().as_str() {
        "utf8" => "utf8mb3".into(),
        other => other.into(),
    }
}

/// The facts the model holds.
fn model_facts(schema: &Schema) -> BTreeSet<Fact> {
    let mut out = BTreeSet::new();
    for (qual, table) in &schema.tables {
        let t = qual.name.clone();
        out.insert(Fact::Table { table: t.clone() });
        for (i, c) in table.columns.iter().enumerate() {
            let fill = match &c.default {
                _ if c.generated.is_some() => "generated".to_string(),
                _ if c.identity => "auto".to_string(),
                Some(d) => normalize_default(&d.text),
                None => "-".to_string(),
            };
            let text = matches!(
                c.ty.name.as_str(),
                "char"
                    | "varchar"
                    | "tinytext"
                    | "text"
                    | "mediumtext"
                    | "longtext"
                    | "enum"
                    | "set"
            );
            let charset = text.then(|| {
                let own = c.charset.clone().or_else(|| {
                    c.collation.as_ref().and_then(|k| {
                        k.trim_matches(['`', '\'', '"'])
                            .split('_')
                            .next()
                            .map(str::to_string)
                    })
                });
                normalize_charset(
                    &own.or_else(|| table.charset.clone())
                        .unwrap_or_else(|| "utf8mb4".into()),
                )
            });
            out.insert(Fact::Column {
                table: t.clone(),
                position: i64::try_from(i + 1).unwrap_or(i64::MAX),
                name: c.name.to_lowercase(),
                ty: c.ty.to_string(),
                not_null: !c.nullable,
                fill,
                charset,
            });
        }
        for c in &table.constraints {
            // CHECK names differ between MySQL and MariaDB; not compared.
            let Some((kind, columns, references)) =
                live::key_constraint(&c.kind, |t| t.name.clone())
            else {
                continue;
            };
            out.insert(Fact::Constraint {
                table: t.clone(),
                name: c.name.to_lowercase(),
                kind,
                columns,
                references,
            });
        }
    }
    for idx in schema.indexes.values() {
        out.insert(Fact::Index {
            table: idx.table.name.clone(),
            name: idx.name.name.to_lowercase(),
            unique: idx.unique,
            columns: idx.columns.join(", "),
        });
    }
    out
}

#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = BigInt)]
    pos: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    ty: String,
    #[diesel(sql_type = Text)]
    nullable: String,
    #[diesel(sql_type = Nullable<Text>)]
    dflt: Option<String>,
    #[diesel(sql_type = Text)]
    extra: String,
    #[diesel(sql_type = Nullable<Text>)]
    charset: Option<String>,
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    non_unique: i64,
    #[diesel(sql_type = Text)]
    cols: String,
}

#[derive(QueryableByName)]
struct ConstraintRow {
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    cols: String,
    #[diesel(sql_type = Nullable<Text>)]
    ref_table: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    ref_cols: Option<String>,
}

/// The facts the live database holds.
fn live_facts(conn: &mut MysqlConnection) -> BTreeSet<Fact> {
    let mut out = BTreeSet::new();
    let tables: Vec<TableRow> = load(
        conn,
        "tables",
        "SELECT CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
    );
    for r in tables {
        out.insert(Fact::Table { table: r.name });
    }
    let columns: Vec<ColumnRow> = load(
        conn,
        "columns",
        "SELECT CAST(TABLE_NAME AS CHAR) AS tbl, CAST(ORDINAL_POSITION AS SIGNED) AS pos,
                CAST(COLUMN_NAME AS CHAR) AS name, CAST(COLUMN_TYPE AS CHAR) AS ty,
                CAST(IS_NULLABLE AS CHAR) AS nullable, CAST(COLUMN_DEFAULT AS CHAR) AS dflt,
                CAST(EXTRA AS CHAR) AS extra, CAST(CHARACTER_SET_NAME AS CHAR) AS charset
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
    );
    for r in columns {
        let extra = r.extra.to_lowercase();
        let fill = if extra.contains("auto_increment") {
            "auto".to_string()
        } else if extra.contains("generated")
            || extra.contains("virtual")
            || extra.contains("persistent")
            || extra.contains("stored")
        {
            "generated".to_string()
        } else {
            match r.dflt.as_deref() {
                // MariaDB spells a nullable column's missing default as `NULL`.
                None | Some("NULL") => "-".to_string(),
                Some(d) => normalize_default(d),
            }
        };
        out.insert(Fact::Column {
            table: r.tbl,
            position: r.pos,
            name: r.name.to_lowercase(),
            ty: normalize_type(&r.ty),
            not_null: r.nullable == "NO",
            fill,
            charset: r.charset.as_deref().map(normalize_charset),
        });
    }
    let indexes: Vec<IndexRow> = load(
        conn,
        "indexes",
        "SELECT CAST(TABLE_NAME AS CHAR) AS tbl, CAST(INDEX_NAME AS CHAR) AS name,
                CAST(MAX(NON_UNIQUE) AS SIGNED) AS non_unique,
                CAST(GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ', ') AS CHAR)
                  AS cols
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
         GROUP BY TABLE_NAME, INDEX_NAME",
    );
    for r in indexes {
        out.insert(Fact::Index {
            table: r.tbl,
            name: r.name.to_lowercase(),
            unique: r.non_unique == 0,
            columns: r.cols.to_lowercase(),
        });
    }
    let constraints: Vec<ConstraintRow> = load(
        conn,
        "constraints",
        "SELECT CAST(tc.TABLE_NAME AS CHAR) AS tbl, CAST(tc.CONSTRAINT_NAME AS CHAR) AS name,
                CAST(tc.CONSTRAINT_TYPE AS CHAR) AS kind,
                CAST(GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', ')
                  AS CHAR) AS cols,
                CAST(MAX(k.REFERENCED_TABLE_NAME) AS CHAR) AS ref_table,
                CAST(GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION
                  SEPARATOR ', ') AS CHAR) AS ref_cols
         FROM information_schema.TABLE_CONSTRAINTS tc
         JOIN information_schema.KEY_COLUMN_USAGE k
           ON k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = tc.TABLE_NAME
          AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
         WHERE tc.TABLE_SCHEMA = DATABASE()
           AND tc.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
         GROUP BY tc.TABLE_NAME, tc.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE",
    );
    for r in constraints {
        let kind = match r.kind.as_str() {
            "PRIMARY KEY" => "primary key",
            "UNIQUE" => "unique",
            _ => "foreign key",
        };
        out.insert(Fact::Constraint {
            table: r.tbl,
            name: r.name.to_lowercase(),
            kind,
            columns: r.cols.to_lowercase(),
            references: r
                .ref_table
                .map(|t| format!("{t}({})", r.ref_cols.unwrap_or_default().to_lowercase())),
        });
    }
    out
}

/// The replay of `dir` on a fresh database of its own (utf8mb4, the model's default character
/// set), compared with the model (see `live`).
fn replay_and_compare(dir: &Path) -> usize {
    let db = MySqlTestDb::new("live_model").unwrap_or_else(|e| panic!("{e}"));
    let mut conn = db.conn().unwrap_or_else(|e| panic!("{e}"));
    live::replay_and_compare(dir, "the server", &mut conn, live_facts, model_facts)
}

#[test]
fn model_fixture_matches_mysql() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model_mysql");
    let compared = replay_and_compare(&dir);
    assert!(
        compared >= 7,
        "the fixture was replayed ({compared} versions)"
    );
}

#[test]
fn default_and_type_spellings_agree() {
    assert_eq!(normalize_type("int(11)"), "int");
    assert_eq!(normalize_type("bigint(20) unsigned"), "bigint unsigned");
    assert_eq!(normalize_type("tinyint(1)"), "tinyint(1)");
    assert_eq!(normalize_type("varchar(255)"), "varchar(255)");
    assert_eq!(
        normalize_default("current_timestamp()"),
        "current_timestamp"
    );
    assert_eq!(normalize_default("CURRENT_TIMESTAMP"), "current_timestamp");
}
