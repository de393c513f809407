//! `compat-type-changed`: expand changes the type of a column `S(N-1)` has so that the old app's
//! Rust type no longer decodes it (`integer` → `bigint` included: `i32` cannot hold a `bigint`),
//! or the old app's values no longer fit (shorter `varchar`, lower `numeric` precision or
//! another scale, lower time precision, a domain with constraints, text → enum).
//!
//! Accepted (same Rust type, every old value still fits): growing `varchar(n)` / `char(n)` /
//! `varbit(n)` or dropping the limit, `varchar` ↔ `text`, MySQL `tinytext` → `text` →
//! `mediumtext` → `longtext`, growing `numeric(p, s)` with the same scale or dropping the
//! limit, raising a time precision, `cidr` → `inet`, a type → an unconstrained domain over it,
//! a MySQL integer's display width. The labels of an enum kept under the same name are the
//! `compat-enum-value-*` rules' business. Renaming an enum type the old app's columns use is
//! reported too: the old app binds the type by name.

use crate::change::{AlterOp, Change, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};
use crate::types::SqlType;

pub static RULE: Rule = Rule {
    id: "compat-type-changed",
    severity: Severity::Error,
    summary: "a column of `S(N-1)` changes type in `E(N)` so the old Rust type cannot decode it (`int`→`bigint` included) or the old app's values no longer fit",
    help: "expand: a new column of the new type; backfill: copy (`-- concertina:renames(t.old -> t.new)` makes the transition types write both); contract: drop the old column",
    check,
    fix: Some(crate::fix::new_column::type_change),
};

/// How many characters a string type holds: `Some(None)` unlimited, `None` not a string type.
fn string_capacity(t: &SqlType, pg: bool) -> Option<Option<u64>> {
    let cap = match t.name.as_str() {
        "text" if pg => None,
        "character varying" | "varchar" | "bit varying" => t.arg(0),
        "character" | "char" => Some(t.arg(0).unwrap_or(1)),
        "tinytext" => Some(255),
        "text" => Some(65_535),
        "mediumtext" => Some(16_777_215),
        "longtext" => Some(4_294_967_295),
        _ => return None,
    };
    Some(cap)
}

/// Why the old app cannot work with `new` where it had `old`; `None` when it can.
pub(crate) fn type_change_problem(
    ctx: &StatementCtx,
    old: &SqlType,
    new: &SqlType,
) -> Option<String> {
    if old == new {
        return None;
    }
    let pg = ctx.is_postgres();
    let decode = || {
        Some(format!(
            "the old app (S(N-1)) decodes it into the Rust type of `{old}`, which cannot read `{new}`, and binds its writes as `{old}`"
        ))
    };
    let narrow = || {
        Some(format!(
            "`{old}` → `{new}` narrows it: values the old app (S(N-1)) writes may no longer fit, so its writes fail"
        ))
    };
    if old.array_dims != new.array_dims {
        return decode();
    }
    // A domain over the old type.
    if let Some((_, d)) = ctx.schema.domains.iter().find(|(k, _)| k.name == new.name) {
        if d.base == old.element() {
            return if d.has_constraints {
                Some(format!(
                    "domain `{new}` over `{old}` has constraints: values the old app (S(N-1)) writes may be rejected"
                ))
            } else {
                None
            };
        }
        return decode();
    }
    if let (Some(o), Some(n)) = (string_capacity(old, pg), string_capacity(new, pg)) {
        let bits = |t: &SqlType| t.name == "bit varying";
        if bits(old) != bits(new) {
            return decode();
        }
        return match (o, n) {
            (_, None) => None,
            (Some(o), Some(n)) if n >= o => None,
            _ => narrow(),
        };
    }
    if old.name != new.name {
        return match (old.name.as_str(), new.name.as_str()) {
            ("cidr", "inet") => None,
            _ => decode(),
        };
    }
    // Same base name, other modifiers.
    match old.name.as_str() {
        "numeric" | "decimal" => {
            // MySQL's bare DECIMAL is DECIMAL(10, 0); PostgreSQL's bare numeric is unbounded.
            let args = |t: &SqlType| match (t.arg(0), t.arg(1)) {
                (None, _) if pg => None,
                (None, _) => Some((10, 0)),
                (Some(p), s) => Some((p, s.unwrap_or(0))),
            };
            match (args(old), args(new)) {
                (_, None) => None,
                (Some((p, s)), Some((q, t))) if t == s && q >= p => None,
                _ => narrow(),
            }
        }
        "timestamp without time zone"
        | "timestamp with time zone"
        | "time without time zone"
        | "time with time zone"
        | "interval"
        | "timestamp"
        | "datetime"
        | "time" => {
            // Fractional seconds: 6 by default on PostgreSQL, 0 on MySQL.
            let default = if pg { 6 } else { 0 };
            let p = |t: &SqlType| t.arg(0).unwrap_or(default);
            if p(new) >= p(old) {
                None
            } else {
                narrow()
            }
        }
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" if !pg => {
            // A display width; `tinyint(1)` is diesel's `Bool`, though.
            let is_bool = |t: &SqlType| t.arg(0) == Some(1);
            if old.name == "tinyint" && is_bool(old) != is_bool(new) {
                decode()
            } else {
                None
            }
        }
        // MySQL ENUM / SET with other labels, or a PostgreSQL enum recreated under its name:
        // the compat-enum-value-* rules compare the labels.
        "enum" | "set" if !pg => None,
        _ if ctx.schema.enums.keys().any(|k| k.name == new.name) => None,
        _ => decode(),
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Expand {
        return;
    }
    match ctx.change {
        Change::AlterTable { table, ops, .. } => {
            if ctx.is_new_table(table) {
                return;
            }
            let Some(old) = ctx.window.before.table(table) else {
                return;
            };
            for op in ops {
                let (column, new_ty, verb) = match op {
                    AlterOp::AlterColumnType { column, ty, .. } => {
                        (column, ty, format!("`ALTER COLUMN {column} TYPE {ty}`"))
                    }
                    AlterOp::ModifyColumn { old_name, column } => {
                        (old_name, &column.ty, format!("`MODIFY {}`", column.name))
                    }
                    AlterOp::RenameTable { .. } => break,
                    _ => continue,
                };
                let Some(before) = old.column(column) else {
                    continue;
                };
                if let Some(why) = type_change_problem(ctx, &before.ty, new_ty) {
                    out.report(format!("{verb} on `{table}` in expand: {why}"));
                }
            }
        }
        Change::RenameType { from, to } => {
            if !ctx.window.before.enums.contains_key(from) {
                return;
            }
            let users = columns_of_type(ctx, from);
            if !users.is_empty() {
                out.report(format!(
                    "renaming type `{from}` to `{to}` in expand: the old app (S(N-1)) names `{from}` for {}, so its reads and writes of them fail",
                    users.join(", ")
                ));
            }
        }
        _ => {}
    }
}

/// Old-app columns of a type, as "`t.c`".
fn columns_of_type(ctx: &StatementCtx, ty: &QualName) -> Vec<String> {
    ctx.window
        .before
        .tables
        .values()
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| c.ty.name == ty.name)
                .map(move |c| format!("`{}.{}`", t.name, c.name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TYPE mood AS ENUM ('ok', 'sad');\nCREATE TABLE users (id integer PRIMARY KEY, name varchar(100), bio text, price numeric(10, 2), at timestamp(3), ip cidr, m mood, flag text);\nCREATE DOMAIN short_text AS varchar(100);\nCREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');";
    const ID: &str = "compat-type-changed";

    fn one(sql: &str) -> Vec<crate::diag::Diagnostic> {
        expand_hits(SETUP, sql, ID)
    }

    #[test]
    fn int_to_bigint_breaks_decoding() {
        let hits = one("ALTER TABLE users ALTER COLUMN id TYPE bigint;");
        assert_eq!(hits.len(), 1);
        assert!(hits[0].is_error());
        assert!(
            hits[0]
                .message
                .contains("`ALTER COLUMN id TYPE bigint` on `users`")
                && hits[0].message.contains("`integer`"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn narrowing_is_flagged() {
        for sql in [
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(50);",
            "ALTER TABLE users ALTER COLUMN bio TYPE varchar(200);",
            "ALTER TABLE users ALTER COLUMN price TYPE numeric(8, 2);",
            "ALTER TABLE users ALTER COLUMN price TYPE numeric(12, 3);",
            "ALTER TABLE users ALTER COLUMN at TYPE timestamp(0);",
            "ALTER TABLE users ALTER COLUMN bio TYPE email;",
        ] {
            assert_eq!(one(sql).len(), 1, "{sql}");
        }
    }

    #[test]
    fn other_type_changes_are_flagged() {
        for sql in [
            "ALTER TABLE users ALTER COLUMN at TYPE timestamptz;",
            "ALTER TABLE users ALTER COLUMN flag TYPE mood USING flag::mood;",
            "ALTER TABLE users ALTER COLUMN m TYPE text;",
            "ALTER TABLE users ALTER COLUMN bio TYPE jsonb USING to_jsonb(bio);",
        ] {
            assert_eq!(one(sql).len(), 1, "{sql}");
        }
    }

    #[test]
    fn widening_is_fine() {
        let sql = "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);\nALTER TABLE users ALTER COLUMN name TYPE text;\nALTER TABLE users ALTER COLUMN bio TYPE varchar;\nALTER TABLE users ALTER COLUMN price TYPE numeric(12, 2);\nALTER TABLE users ALTER COLUMN price TYPE numeric;\nALTER TABLE users ALTER COLUMN at TYPE timestamp(6);\nALTER TABLE users ALTER COLUMN ip TYPE inet;";
        let hits = one(sql);
        assert!(hits.is_empty(), "{hits:?}");
        assert!(one("ALTER TABLE users ALTER COLUMN name TYPE short_text;").is_empty());
    }

    #[test]
    fn renaming_an_enum_type_the_old_app_uses() {
        let hits = one("ALTER TYPE mood RENAME TO feeling;");
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("`users.m`"), "{}", hits[0].message);
    }

    #[test]
    fn new_columns_new_tables_and_contract_are_exempt() {
        let sql = "ALTER TABLE users ADD COLUMN n int;\nALTER TABLE users ALTER COLUMN n TYPE bigint;\nCREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;";
        assert!(one(sql).is_empty());
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE users ALTER COLUMN id TYPE bigint;",
            )],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn mysql_modify() {
        let case = |sql: &'static str| {
            Case::pg(
                "CREATE TABLE users (id int(11) PRIMARY KEY, name varchar(100), bio tinytext, price decimal(10, 2));",
                &[(Phase::Expand, sql)],
            )
            .dialect(DialectKind::MySql)
            .server("8.0")
            .hits(ID)
            .len()
        };
        assert_eq!(case("ALTER TABLE users MODIFY id bigint;"), 1);
        assert_eq!(case("ALTER TABLE users MODIFY name varchar(50);"), 1);
        assert_eq!(case("ALTER TABLE users MODIFY name varchar(255);"), 0);
        assert_eq!(case("ALTER TABLE users MODIFY bio mediumtext;"), 0);
        assert_eq!(case("ALTER TABLE users MODIFY id int;"), 0);
        assert_eq!(case("ALTER TABLE users MODIFY price decimal;"), 1);
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(compat-type-changed): the old app maps the column to i64 already\nALTER TABLE users ALTER COLUMN id TYPE bigint;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn fix_needs_the_new_columns_name_and_then_writes_the_recipe() {
        let setup = "CREATE TABLE users (id integer PRIMARY KEY, n integer NOT NULL, m text);";
        let sql = "ALTER TABLE users ALTER COLUMN n TYPE bigint;\n";
        let (files, left) = Case::pg(setup, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(files, [(Phase::Expand, sql.to_string())]);
        for rule in ["compat-type-changed", "column-type-rewrite"] {
            let (_, why) = left.iter().find(|(r, _)| r == rule).expect(rule);
            assert!(why.contains("--new-column users.n=NAME"), "{rule}: {why}");
        }
        let (files, left) = Case::pg(setup, &[(Phase::Expand, sql)])
            .new_column("users.n=n_big")
            .fixed();
        assert_eq!(
            files,
            [
                (Phase::Expand, "ALTER TABLE users ADD COLUMN n_big bigint;\nALTER TABLE users ALTER COLUMN n DROP NOT NULL;\n".to_string()),
                (Phase::Backfill, "-- backfill: written by `cargo xtask migrate fix`\nUPDATE users SET n_big = n WHERE n_big IS NULL;\n".to_string()),
                (Phase::Contract, "-- contract: written by `cargo xtask migrate fix`\nALTER TABLE users DROP COLUMN n;\nALTER TABLE users ALTER COLUMN n_big SET NOT NULL;\n".to_string()),
            ]
        );
        assert!(left.is_empty(), "{left:?}");
        // `USING` is the backfill's conversion, as written.
        let sql = "ALTER TABLE users ALTER COLUMN m TYPE integer USING length(m) * 2;";
        let (files, _) = Case::pg(setup, &[(Phase::Expand, sql)])
            .new_column("public.users.m=m_len")
            .fixed();
        assert_eq!(files[0].1, "ALTER TABLE users ADD COLUMN m_len integer;");
        assert!(
            files[1]
                .1
                .contains("UPDATE users SET m_len = length(m) * 2 WHERE m_len IS NULL;"),
            "{}",
            files[1].1
        );
        // MySQL's `MODIFY` restates nullability: the new column is required as written.
        let setup = "CREATE TABLE users (id int PRIMARY KEY, n int);";
        let sql = "ALTER TABLE users MODIFY n bigint NOT NULL;";
        let (files, left) = Case::mysql(setup, &[(Phase::Expand, sql)])
            .server("8.0")
            .new_column("users.n=n_big")
            .fixed();
        assert_eq!(files[0].1, "ALTER TABLE users ADD COLUMN n_big bigint;");
        assert!(
            files[2]
                .1
                .contains("ALTER TABLE users MODIFY n_big bigint NOT NULL;"),
            "{}",
            files[2].1
        );
        assert!(left.iter().all(|(r, _)| r != ID), "{left:?}");
    }
}
