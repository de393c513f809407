//! MySQL and MariaDB (InnoDB) rules: one per file, tests beside each, plus what they share:
//! which server and version the check is for, and what an ALTER action costs on it
//! (shared/RULES.md §3).

pub mod mysql_add_check;
pub mod mysql_add_column_computed;
pub mod mysql_charset_conversion;
pub mod mysql_column_type_copy;
pub mod mysql_combined_alter;
pub mod mysql_copy_algorithm;
pub mod mysql_ddl_in_transaction;
pub mod mysql_drop_primary_key;
pub mod mysql_enum_change;
pub mod mysql_foreign_key_checked;
pub mod mysql_fulltext_or_spatial_index;
pub mod mysql_instant_row_versions;
pub mod mysql_lock_tables;
pub mod mysql_null_to_not_null;
pub mod mysql_online_rebuild;
pub mod mysql_optimize_table;

use super::{Rule, StatementCtx};
use crate::change::{AlterOp, ColumnSpec, ConstraintKind, QualName};
use crate::config::ServerVersion;
use crate::dialect::DialectKind;
use crate::model::Column;
use crate::types::SqlType;

pub static RULES: &[&Rule] = &[
    &mysql_copy_algorithm::RULE,
    &mysql_column_type_copy::RULE,
    &mysql_charset_conversion::RULE,
    &mysql_null_to_not_null::RULE,
    &mysql_online_rebuild::RULE,
    &mysql_drop_primary_key::RULE,
    &mysql_add_check::RULE,
    &mysql_foreign_key_checked::RULE,
    &mysql_fulltext_or_spatial_index::RULE,
    &mysql_add_column_computed::RULE,
    &mysql_enum_change::RULE,
    &mysql_instant_row_versions::RULE,
    &mysql_combined_alter::RULE,
    &mysql_optimize_table::RULE,
    &mysql_lock_tables::RULE,
    &mysql_ddl_in_transaction::RULE,
];

pub(crate) fn is_mariadb(ctx: &StatementCtx) -> bool {
    ctx.dialect.kind() == DialectKind::MariaDb
}

/// The oldest server to be safe on is at least `major.minor.patch` (patch levels matter on
/// MySQL 8.0: 8.0.12, 8.0.16, 8.0.29).
pub(crate) fn at_least(ctx: &StatementCtx, major: u32, minor: u32, patch: u32) -> bool {
    ctx.config.server_version >= ServerVersion::new(major, minor, patch)
}

/// The `ALGORITHM=` the statement names, upper case.
pub(crate) fn algorithm(ops: &[AlterOp]) -> Option<&str> {
    ops.iter().rev().find_map(|op| match op {
        AlterOp::Algorithm(a) => Some(a.as_str()),
        _ => None,
    })
}

/// The `LOCK=` the statement names, upper case.
pub(crate) fn lock(ops: &[AlterOp]) -> Option<&str> {
    ops.iter().rev().find_map(|op| match op {
        AlterOp::Lock(l) => Some(l.as_str()),
        _ => None,
    })
}

/// The column before the statement.
pub(crate) fn old_column<'a>(
    ctx: &'a StatementCtx,
    table: &QualName,
    name: &str,
) -> Option<&'a Column> {
    ctx.schema.table(table)?.column(name)
}

/// `ENUM` or `SET`.
pub(crate) fn is_label_type(ty: &SqlType) -> bool {
    matches!(ty.name.as_str(), "enum" | "set")
}

/// The labels of an `ENUM('a','b')` / `SET(…)`, unquoted, commas inside labels kept.
pub(crate) fn labels(ty: &SqlType) -> Vec<String> {
    let text = ty.args.join(",");
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' && c != '"' {
            continue;
        }
        let quote = c;
        let mut label = String::new();
        while let Some(c) = chars.next() {
            if c == quote {
                if chars.peek() == Some(&quote) {
                    chars.next();
                    label.push(quote);
                    continue;
                }
                break;
            }
            if c == '\\' {
                if let Some(next) = chars.next() {
                    label.push(next);
                }
                continue;
            }
            label.push(c);
        }
        out.push(label);
    }
    out
}

/// `ADD COLUMN` is INSTANT (no rebuild) on this server: as the last column from MySQL 8.0.12
/// and MariaDB 10.3, at any position from MySQL 8.0.29 and MariaDB 10.4.
pub(crate) fn instant_add(ctx: &StatementCtx, positioned: bool) -> bool {
    match (is_mariadb(ctx), positioned) {
        (true, false) => at_least(ctx, 10, 3, 0),
        (true, true) => at_least(ctx, 10, 4, 0),
        (false, false) => at_least(ctx, 8, 0, 12),
        (false, true) => at_least(ctx, 8, 0, 29),
    }
}

/// `DROP COLUMN` is INSTANT from MySQL 8.0.29 and MariaDB 10.4.
pub(crate) fn instant_drop(ctx: &StatementCtx) -> bool {
    if is_mariadb(ctx) {
        at_least(ctx, 10, 4, 0)
    } else {
        at_least(ctx, 8, 0, 29)
    }
}

/// Whether the `ADD COLUMN` at `i` is followed by its own `FIRST` / `AFTER`.
pub(crate) fn positioned(ops: &[AlterOp], i: usize, column: &str) -> bool {
    matches!(ops.get(i + 1), Some(AlterOp::MoveColumn { column: c, .. }) if c == column)
}

/// A column whose every value must be computed when it is added: `AUTO_INCREMENT`, `SERIAL`,
/// or a `STORED` generated column (MySQL's generated columns are `VIRTUAL` unless stated).
pub(crate) fn computed(column: &ColumnSpec) -> bool {
    column.identity
        || column.serial
        || column.generated.as_ref().and_then(|g| g.stored) == Some(true)
}

/// The column is declared part of the primary key.
pub(crate) fn spec_is_primary(column: &ColumnSpec) -> bool {
    column
        .constraints
        .iter()
        .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }))
}

/// Maximum bytes per character of a character set (`utf8mb4` when unknown: the default of
/// MySQL 8.0 and MariaDB 11.6).
pub(crate) fn charset_bytes(charset: Option<&str>) -> u64 {
    match charset.unwrap_or("utf8mb4") {
        "latin1" | "ascii" | "binary" | "latin2" | "latin5" | "latin7" | "cp1250" | "cp1251"
        | "cp1252" | "hebrew" | "greek" | "koi8r" | "tis620" | "swe7" => 1,
        "ucs2" | "gbk" | "big5" | "sjis" | "cp932" => 2,
        "utf8" | "utf8mb3" | "ujis" | "eucjpms" | "gb2312" => 3,
        _ => 4,
    }
}

/// The character set a column has: stated, or the prefix of its collation.
pub(crate) fn column_charset(charset: Option<&str>, collation: Option<&str>) -> Option<String> {
    charset.map(str::to_string).or_else(|| {
        collation.map(|c| {
            c.trim_matches(['`', '\'', '"'])
                .split('_')
                .next()
                .unwrap_or_default()
                .to_lowercase()
        })
    })
}

/// The character set a column of `table` ends up with: its own (stated, or from its
/// collation), else the table's default, else `utf8mb4` (the default of MySQL 8.0 and
/// MariaDB 11.6; older MariaDB servers default to `latin1`: state it on the table).
pub(crate) fn effective_charset(
    ctx: &StatementCtx,
    table: &QualName,
    charset: Option<&str>,
    collation: Option<&str>,
) -> String {
    column_charset(charset, collation)
        .or_else(|| ctx.schema.table(table).and_then(|t| t.charset.clone()))
        .map(|c| charset_name(&c))
        .unwrap_or_else(|| "utf8mb4".into())
}

/// Normalised character set name (`utf8` is `utf8mb3`).
pub(crate) fn charset_name(c: &str) -> String {
    match c.to_lowercase().as_str() {
        "utf8" => "utf8mb3".into(),
        other => other.into(),
    }
}

/// Types whose values are character strings (charset and collation apply).
pub(crate) fn is_text_type(ty: &SqlType) -> bool {
    matches!(
        ty.name.as_str(),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
    )
}

/// One `MODIFY` / `CHANGE COLUMN` of an existing column: its index among the ops, the column
/// before, and the restated column.
pub(crate) fn modifies<'a>(
    ctx: &'a StatementCtx,
    table: &QualName,
    ops: &'a [AlterOp],
) -> Vec<(usize, &'a Column, &'a ColumnSpec)> {
    ops.iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            AlterOp::ModifyColumn { old_name, column } => {
                old_column(ctx, table, old_name).map(|old| (i, old, column))
            }
            _ => None,
        })
        .collect()
}

/// The base word of a type name and whether it is unsigned (`int unsigned` → `int`, true).
fn base_and_sign(ty: &SqlType) -> (&str, bool) {
    let mut words = ty.name.split_whitespace();
    let base = words.next().unwrap_or_default();
    (base, words.any(|w| w == "unsigned"))
}

const INTEGERS: &[&str] = &["tinyint", "smallint", "mediumint", "int", "bigint"];
const TEXTS: &[&str] = &["tinytext", "text", "mediumtext", "longtext"];
const BLOBS: &[&str] = &["tinyblob", "blob", "mediumblob", "longblob"];

/// Why `old` → `new` makes InnoDB copy the table, and whether it only widens (MariaDB 10.4+
/// does some widenings instantly). `None`: same type, a VARCHAR growth within its length
/// prefix, or an ENUM/SET change (`mysql-enum-change`).
pub(crate) fn type_copy(
    old: &SqlType,
    new: &SqlType,
    old_charset: Option<&str>,
    new_charset: Option<&str>,
) -> Option<(String, bool)> {
    if old == new {
        return None;
    }
    let (ob, osign) = base_and_sign(old);
    let (nb, nsign) = base_and_sign(new);
    if is_label_type(old) && ob == nb {
        return None;
    }
    if osign != nsign {
        return Some((format!("`{old}` → `{new}` changes signedness"), false));
    }
    let rank = |list: &[&str], b: &str| list.iter().position(|x| *x == b);
    if ob != nb {
        for list in [INTEGERS, TEXTS, BLOBS] {
            if let (Some(o), Some(n)) = (rank(list, ob), rank(list, nb)) {
                let widens = n > o;
                let what = if widens { "widens" } else { "narrows" };
                return Some((format!("`{old}` → `{new}` {what} the type"), widens));
            }
        }
        return Some((format!("`{old}` → `{new}` changes the type"), false));
    }
    match ob {
        "varchar" | "varbinary" => {
            let (Some(o), Some(n)) = (old.arg(0), new.arg(0)) else {
                return Some((format!("`{old}` → `{new}`"), false));
            };
            if n < o {
                return Some((format!("`{old}` → `{new}` shortens it"), false));
            }
            let per_char = if ob == "varbinary" {
                1
            } else {
                charset_bytes(new_charset.or(old_charset))
            };
            let prefix = |len: u64| if len * per_char <= 255 { 1 } else { 2 };
            (prefix(o) != prefix(n)).then(|| {
                (
                    format!("`{old}` → `{new}` crosses the 255-byte length prefix ({per_char} bytes a character)"),
                    true,
                )
            })
        }
        _ => {
            let widens = match ob {
                "char" | "binary" => new.arg(0) > old.arg(0),
                "decimal" => new.arg(0) > old.arg(0) && new.arg(1) == old.arg(1),
                _ => false,
            };
            Some((format!("`{old}` → `{new}` changes the type's size"), widens))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unquoted_with_commas_and_quotes_inside() {
        let ty = SqlType::parse_text("ENUM('a','b,c','it''s')");
        assert_eq!(labels(&ty), ["a", "b,c", "it's"]);
    }

    #[test]
    fn enum_labels_keep_commas_and_quotes_through_lowering() {
        let file = crate::source::SourceFile::new(
            "t.sql",
            "t.sql".into(),
            "CREATE TABLE t (e enum('a','b, c','it''s'), s set('x','y'));".into(),
        );
        let parsed = crate::sql::parse_file(&file, crate::dialect::DialectKind::MySql.dialect());
        let crate::change::Change::CreateTable(ct) = &parsed.statements[0].change else {
            panic!("not a CREATE TABLE");
        };
        assert_eq!(labels(&ct.columns[0].ty), ["a", "b, c", "it's"]);
        assert_eq!(ct.columns[0].ty.to_string(), "enum('a','b, c','it''s')");
        assert_eq!(labels(&ct.columns[1].ty), ["x", "y"]);
    }

    #[test]
    fn type_changes_that_copy() {
        let t = SqlType::parse_text;
        let copy = |a: &str, b: &str| type_copy(&t(a), &t(b), None, None);
        assert!(copy("varchar(20)", "varchar(63)").is_none());
        assert_eq!(copy("varchar(63)", "varchar(64)").map(|c| c.1), Some(true));
        assert!(type_copy(&t("varchar(100)"), &t("varchar(200)"), Some("latin1"), None).is_none());
        assert_eq!(copy("int", "bigint").map(|c| c.1), Some(true));
        assert_eq!(copy("bigint", "int").map(|c| c.1), Some(false));
        assert_eq!(copy("int", "int unsigned").map(|c| c.1), Some(false));
        assert!(copy("char(10)", "varchar(10)").is_some());
        assert!(copy("enum('a')", "enum('a','b')").is_none());
        assert!(copy("enum('a')", "varchar(10)").is_some());
    }

    /// The shared and compat rules see what a MySQL `MODIFY` restates implicitly.
    mod shared_rules_on_mysql {
        use crate::layout::Phase;
        use crate::rules::testing::{mysql_hits, Case};

        const SETUP: &str = "CREATE TABLE users (id int NOT NULL AUTO_INCREMENT, email varchar(100) NOT NULL DEFAULT '', state enum('a','b') NOT NULL DEFAULT 'a', PRIMARY KEY (id));";

        fn rules(sql: &str) -> Vec<String> {
            let mut r: Vec<String> = Case::mysql(SETUP, &[(Phase::Expand, sql)])
                .run()
                .into_iter()
                .map(|d| d.rule)
                .collect();
            r.sort();
            r
        }

        #[test]
        fn modify_without_the_default_is_a_required_column() {
            let r = rules("ALTER TABLE users MODIFY email varchar(100) NOT NULL;");
            assert!(
                r.contains(&"compat-required-column-added".to_string()),
                "{r:?}"
            );
        }

        #[test]
        fn modify_to_another_type_breaks_the_old_app() {
            let r = rules("ALTER TABLE users MODIFY id bigint NOT NULL AUTO_INCREMENT;");
            assert!(r.contains(&"compat-type-changed".to_string()), "{r:?}");
            assert!(r.contains(&"mysql-column-type-copy".to_string()), "{r:?}");
        }

        #[test]
        fn change_column_renames_and_enum_redefinition_removes() {
            let r = rules("ALTER TABLE users CHANGE email mail varchar(100) NOT NULL DEFAULT '';");
            assert_eq!(r, ["compat-column-removed"]);
            let r = rules("ALTER TABLE users MODIFY state enum('a') NOT NULL DEFAULT 'a';");
            assert!(
                r.contains(&"compat-enum-value-removed".to_string()),
                "{r:?}"
            );
            assert!(r.contains(&"mysql-enum-change".to_string()), "{r:?}");
        }

        #[test]
        fn safe_expand_is_quiet() {
            let sql = "ALTER TABLE users ADD COLUMN nickname varchar(40);\nALTER TABLE users MODIFY email varchar(100) NOT NULL DEFAULT 'x';\nCREATE INDEX users_email ON users (email);\nALTER TABLE users RENAME INDEX users_email TO users_mail;";
            let all = Case::mysql(SETUP, &[(Phase::Expand, sql)]).run();
            assert!(all.is_empty(), "{all:?}");
        }

        #[test]
        fn a_modify_to_null_in_expand_relaxes_a_column_contract_drops() {
            let setup = "CREATE TABLE u (id int PRIMARY KEY, legacy varchar(10) NOT NULL);";
            let drop = "ALTER TABLE u DROP COLUMN legacy;";
            let rule = "compat-old-required-unwritten";
            let unrelaxed = Case::mysql(
                setup,
                &[
                    (Phase::Expand, "ALTER TABLE u ADD COLUMN n int;"),
                    (Phase::Contract, drop),
                ],
            )
            .hits(rule);
            assert_eq!(unrelaxed.len(), 1, "{unrelaxed:?}");
            let relaxed = Case::mysql(
                setup,
                &[
                    (
                        Phase::Expand,
                        "ALTER TABLE u MODIFY legacy varchar(10) NULL;",
                    ),
                    (Phase::Contract, drop),
                ],
            )
            .hits(rule);
            assert!(relaxed.is_empty(), "{relaxed:?}");
        }

        #[test]
        fn ddl_and_data_in_one_transaction_says_mysql_commits() {
            let sql = "START TRANSACTION;\nALTER TABLE users ADD COLUMN n int;\nUPDATE users SET n = 1 WHERE id = 1;\nCOMMIT;";
            let h = mysql_hits(SETUP, sql, "ddl-and-data-in-one-transaction");
            assert_eq!(h.len(), 1, "{h:?}");
            assert!(
                h[0].message.contains("commits at the DDL"),
                "{}",
                h[0].message
            );
        }

        #[test]
        fn truncate_and_unbatched_updates_apply() {
            assert_eq!(
                mysql_hits(SETUP, "TRUNCATE TABLE users;", "truncate-table").len(),
                1
            );
            assert_eq!(
                mysql_hits(
                    SETUP,
                    "UPDATE users SET email = '';",
                    "unbatched-data-change"
                )
                .len(),
                1
            );
        }

        #[test]
        fn metadata_only_mysql_alters_are_read() {
            let setup = "CREATE TABLE users (id int PRIMARY KEY, a int, CONSTRAINT a_pos CHECK (a > 0), KEY ia (a));";
            for sql in [
                "ALTER TABLE users COMMENT = 'people';",
                "ALTER TABLE users ALTER INDEX ia INVISIBLE;",
                "ALTER TABLE users ALTER COLUMN a SET INVISIBLE;",
                "ALTER TABLE users DROP CHECK a_pos;",
            ] {
                let all = Case::mysql(setup, &[(Phase::Expand, sql)]).run();
                assert!(all.is_empty(), "{sql}: {all:?}");
            }
        }

        #[test]
        fn unparsable_mysql_gives_a_diagnostic_not_a_panic() {
            for sql in [
                "ALTER TABLE users ALGORITHM=;",
                "CREATE FULLTEXT INDEX ON;",
                "ALTER TABLE users RENAME INDEX a;",
                "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END //\nDELIMITER ;",
                "ALTER TABLE `users` CHANGE;",
                "ALTER TABLE users FROBNICATE;",
            ] {
                // Kept opaque with a warning that carries the parser's message.
                let diags = Case::mysql(SETUP, &[(Phase::Expand, sql)]).run();
                assert_eq!(diags.len(), 1, "{sql}: {diags:?}");
                assert_eq!(diags[0].rule, "unparsed-statement", "{sql}");
                assert!(
                    diags[0].message.contains("cannot parse"),
                    "{}",
                    diags[0].message
                );
            }
        }
    }
}
