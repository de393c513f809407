//! `compat-column-removed`: expand drops or renames a column that `S(N-1)` has (check 1 of
//! DESIGN.md §2: the old app still selects and writes it).
//!
//! Split with `contract-in-expand`: a `DROP COLUMN` in expand is reported by
//! `contract-in-expand` when the migration has a contract.sql (the fix is to move the drop
//! there) and by this rule otherwise (the fix is a contract phase). A rename is always this
//! rule's: renaming is never the right contract step either, it is a new column plus a copy.
//! Tables the old app does not have (created in this migration) are not its concern.
//!
//! Fix: a plain `RENAME COLUMN a TO b` (or MySQL's `CHANGE a b …`) becomes migrations/0004's
//! recipe, see [`fix`].

use crate::change::{AlterOp, Change, QualName};
use crate::diag::Severity;
use crate::fix::new_column::{new_column_and_copy, restates_more, NewColumn};
use crate::fix::sqltext::ident;
use crate::fix::{Fix, NoFix};
use crate::layout::Phase;
use crate::rules::compat::compat_type_changed::type_change_problem;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-column-removed",
    severity: Severity::Error,
    summary: "expand drops or renames a column that `S(N-1)` has",
    help: "expand: add the new column; backfill: copy (`-- concertina:renames(t.old -> t.new)` makes the transition types write both); contract: drop the old column",
    check,
    fix: Some(fix),
};

/// `ALTER TABLE t RENAME COLUMN a TO b` (or MySQL's `CHANGE a b …` restating `a`'s type) in
/// expand → the new-column recipe of [`new_column`](crate::fix::new_column): expand:
/// `-- concertina:renames(t.a -> t.b)`, `ADD COLUMN b` of `a`'s type, `a` made nullable if it
/// was NOT NULL; backfill: `UPDATE t SET b = a WHERE b IS NULL`; contract: `DROP COLUMN a`,
/// `b` made NOT NULL if `a` was. A `CHANGE` that also changes the type copies as the server
/// would convert, without the annotation (one field cannot write two types).
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    let column_of = |name: &str| match ctx.schema.table(table) {
        None => Err(NoFix::because(format!("the model does not know `{table}`"))),
        Some(t) => t
            .column(name)
            .ok_or_else(|| NoFix::because(format!("the model does not know `{table}.{name}`"))),
    };
    let new = match ops {
        [AlterOp::RenameColumn { from, to }] => {
            let column = column_of(from)?;
            NewColumn {
                table,
                from,
                to,
                ty: column.ty.to_string(),
                not_null: !column.nullable,
                copy: ident(from, ctx.dialect),
                rename: true,
            }
        }
        [AlterOp::ModifyColumn {
            old_name,
            column: spec,
        }] => {
            let column = column_of(old_name)?;
            if let Some(why) = restates_more(spec) {
                return Err(NoFix::because(format!(
                    "the `CHANGE` {why}: the new column needs the same, written by hand"
                )));
            }
            NewColumn {
                table,
                from: old_name,
                to: &spec.name,
                ty: spec.ty.to_string(),
                not_null: spec.not_null,
                copy: ident(old_name, ctx.dialect),
                rename: spec.ty == column.ty,
            }
        }
        [AlterOp::RenameColumn { .. } | AlterOp::ModifyColumn { .. }, ..] | [_, _, ..] => return Err(NoFix::because("the statement has other actions: split it (one action per `ALTER TABLE`) and run fix again")),
        _ => return Err(NoFix::because("a `DROP COLUMN` has no mechanical rewrite here: the recipe moves it to a contract phase this migration does not have yet")),
    };
    new_column_and_copy(ctx, &new)
}

/// A column of `S(N-1)` that an expand statement drops or renames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Removal {
    pub table: QualName,
    pub column: String,
    /// `Some(new name)` for a rename.
    pub renamed_to: Option<String>,
}

/// Columns of `S(N-1)` this statement drops or renames (any phase; callers pick theirs).
pub(crate) fn removed_old_columns(ctx: &StatementCtx) -> Vec<Removal> {
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return Vec::new();
    };
    if ctx.is_new_table(table) {
        return Vec::new();
    }
    let Some(old) = ctx.window.before.table(table) else {
        return Vec::new();
    };
    // MySQL column names are case-insensitive.
    let pg = ctx.is_postgres();
    let same = |a: &str, b: &str| {
        if pg {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    let mut out = Vec::new();
    for op in ops {
        let (column, renamed_to) = match op {
            AlterOp::DropColumn { name, .. } => (name, None),
            AlterOp::RenameColumn { from, to } => (from, Some(to.clone())),
            AlterOp::ModifyColumn { old_name, column } if !same(old_name, &column.name) => {
                (old_name, Some(column.name.clone()))
            }
            // Later ops would name the table by its new name: stop following.
            AlterOp::RenameTable { .. } => break,
            _ => continue,
        };
        // Judged at the end of the file: a column dropped and re-added (in this `ALTER` or
        // later in the file) is still there for the old app.
        let at_end = ctx
            .phase_end
            .table(table)
            .is_some_and(|t| t.columns.iter().any(|c| same(&c.name, column)));
        if old.column(column).is_some() && !at_end {
            out.push(Removal {
                table: table.clone(),
                column: column.clone(),
                renamed_to,
            });
        }
    }
    out
}

/// Columns of `S(N-1)` this statement drops that the file adds back with a type the old app
/// cannot use: (column, problem).
fn readded_incompatibly(ctx: &StatementCtx) -> Vec<(String, String)> {
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return Vec::new();
    };
    let (Some(old), Some(end)) = (ctx.window.before.table(table), ctx.phase_end.table(table))
    else {
        return Vec::new();
    };
    if ctx.is_new_table(table) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for op in ops {
        match op {
            AlterOp::DropColumn { name, .. } => {
                if let (Some(before), Some(after)) = (old.column(name), end.column(name)) {
                    if let Some(why) = type_change_problem(ctx, &before.ty, &after.ty) {
                        out.push((name.clone(), why));
                    }
                }
            }
            AlterOp::RenameTable { .. } => break,
            _ => {}
        }
    }
    out
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Expand {
        return;
    }
    if let Change::AlterTable { table, .. } = ctx.change {
        for (c, why) in readded_incompatibly(ctx) {
            out.report_with_help(
                format!("`DROP COLUMN {c}` on `{table}` in expand: the file adds `{c}` back, but {why}"),
                format!("keep `{c}` as it is in expand; add the new column under another name, backfill it, and drop `{c}` in contract"),
            );
        }
    }
    let has_contract = ctx.window.has_phase(Phase::Contract);
    for r in removed_old_columns(ctx) {
        let (t, c) = (&r.table, &r.column);
        match &r.renamed_to {
            Some(to) => out.report_with_help(
                format!("renaming `{c}` to `{to}` on `{t}` in expand breaks the old app (S(N-1)): it still selects and writes `{c}`, so its queries fail until it is gone"),
                format!("expand: `ADD COLUMN {to}` (nullable or with a default); backfill: `UPDATE {t} SET {to} = {c} WHERE {to} IS NULL` with `-- concertina:renames({t}.{c} -> {t}.{to})` so the transition types write both; contract: `DROP COLUMN {c}`"),
            ),
            // With a contract.sql, `contract-in-expand` says "move it there".
            None if has_contract => {}
            None => out.report_with_help(
                format!("`DROP COLUMN {c}` on `{t}` in expand breaks the old app (S(N-1)): it still selects and writes `{c}`, so its queries fail until it is gone"),
                format!("keep `{c}` in {}; stop using it in the new app; drop it (`ALTER TABLE {t} DROP COLUMN {c}`) in {}, which runs once no app reads it", ctx.file_name(), ctx.contract_place()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text, email text);";
    const ID: &str = "compat-column-removed";

    #[test]
    fn flags_drop_in_an_expand_only_migration() {
        let hits = expand_hits(SETUP, "ALTER TABLE users DROP COLUMN email;", ID);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].is_error());
        assert!(
            hits[0].message.contains("`DROP COLUMN email` on `users`"),
            "{}",
            hits[0].message
        );
        assert!(hits[0].help.contains("contract.sql"));
    }

    #[test]
    fn flags_rename_with_a_recipe_naming_both_columns() {
        let hits = expand_hits(
            SETUP,
            "ALTER TABLE users RENAME COLUMN name TO full_name;",
            ID,
        );
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0]
                .help
                .contains("concertina:renames(users.name -> users.full_name)"),
            "{}",
            hits[0].help
        );
    }

    #[test]
    fn with_a_contract_the_drop_is_contract_in_expand() {
        let case = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "ALTER TABLE users DROP COLUMN email;\nALTER TABLE users RENAME COLUMN name TO full_name;"),
                (Phase::Contract, "SELECT 1;"),
            ],
        );
        let all = case.run();
        let ours: Vec<usize> = all
            .iter()
            .filter(|d| d.rule == ID)
            .map(|d| d.line)
            .collect();
        let theirs: Vec<usize> = all
            .iter()
            .filter(|d| d.rule == "contract-in-expand")
            .map(|d| d.line)
            .collect();
        assert_eq!(ours, [2], "{all:?}");
        assert_eq!(theirs, [1], "{all:?}");
    }

    #[test]
    fn new_columns_and_new_tables_are_free_to_go() {
        let sql = "ALTER TABLE users ADD COLUMN tmp int;\nALTER TABLE users DROP COLUMN tmp;\nCREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN a;\nALTER TABLE t RENAME COLUMN b TO c;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn contract_drops_are_fine() {
        let hits = Case::pg(
            SETUP,
            &[(Phase::Contract, "ALTER TABLE users DROP COLUMN email;")],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn mysql_change_column_is_a_rename() {
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(50));",
            &[(Phase::Expand, "ALTER TABLE users CHANGE name full_name varchar(50);\nALTER TABLE users MODIFY full_name varchar(80);")],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].line, 1);
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(compat-column-removed): the old app never reads it since v41\nALTER TABLE users DROP COLUMN email;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn dropped_and_re_added_in_the_file_is_not_removed() {
        // In one ALTER, and across statements of the file.
        for sql in [
            "ALTER TABLE users DROP COLUMN email, ADD COLUMN email text;",
            "ALTER TABLE users DROP COLUMN email;\nALTER TABLE users ADD COLUMN email varchar;",
        ] {
            let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
            assert!(
                all.iter()
                    .all(|d| d.rule != ID && d.rule != "contract-in-expand"),
                "{sql}: {all:?}"
            );
        }
        // Re-added with a type the old app cannot read: what changed is reported.
        let hits = expand_hits(
            SETUP,
            "ALTER TABLE users DROP COLUMN email;\nALTER TABLE users ADD COLUMN email integer;",
            ID,
        );
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains("adds `email` back") && hits[0].message.contains("`text`"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn diesel_help_names_up_sql_and_no_contract_sql() {
        let mut case = Case::pg(
            SETUP,
            &[(Phase::Expand, "ALTER TABLE users DROP COLUMN email;")],
        );
        case.diesel = true;
        let hits = case.hits(ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].help.contains("keep `email` in up.sql")
                && hits[0].help.contains("later migration")
                && !hits[0].help.contains("contract.sql"),
            "{}",
            hits[0].help
        );
    }

    #[test]
    fn fix_turns_a_rename_into_expand_backfill_contract() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(255) NOT NULL, \"Nick\" text);";
        let sql = "ALTER TABLE users RENAME COLUMN name TO full_name;\n";
        let (files, left) = Case::pg(setup, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files,
            [
                (Phase::Expand, "-- concertina:renames(users.name -> users.full_name)\nALTER TABLE users ADD COLUMN full_name character varying(255);\nALTER TABLE users ALTER COLUMN \"name\" DROP NOT NULL;\n".to_string()),
                (Phase::Backfill, "-- backfill: written by `cargo xtask migrate fix`\nUPDATE users SET full_name = \"name\" WHERE full_name IS NULL;\n".to_string()),
                (Phase::Contract, "-- contract: written by `cargo xtask migrate fix`\nALTER TABLE users DROP COLUMN \"name\";\nALTER TABLE users ALTER COLUMN full_name SET NOT NULL;\n".to_string()),
            ]
        );
        assert!(left.is_empty(), "{left:?}");
        // A nullable column with a quoted name: no NOT NULL to carry, the note quotes it.
        let sql = "ALTER TABLE users RENAME COLUMN \"Nick\" TO nickname;\n";
        let (files, _) = Case::pg(setup, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(files[0].1, "-- concertina:renames(users.\"Nick\" -> users.nickname)\nALTER TABLE users ADD COLUMN nickname text;\n");
        assert_eq!(files[2].1, "-- contract: written by `cargo xtask migrate fix`\nALTER TABLE users DROP COLUMN \"Nick\";\n");
    }

    #[test]
    fn no_fix_for_a_rename_that_is_more_than_a_plain_column() {
        let rename = "ALTER TABLE users RENAME COLUMN name TO full_name;";
        type Phases<'a> = &'a [(Phase, &'a str)];
        let cases: [(&str, Phases, &str); 8] = [
            ("CREATE TABLE users (id bigint PRIMARY KEY, name text DEFAULT 'x');", &[(Phase::Expand, rename)], "default"),
            ("CREATE TABLE users (id bigint PRIMARY KEY, name text UNIQUE);", &[(Phase::Expand, rename)], "constraint"),
            ("CREATE TABLE users (id bigint PRIMARY KEY, name text);\nCREATE INDEX u_n ON users (name);", &[(Phase::Expand, rename)], "index"),
            ("CREATE TABLE users (id bigint PRIMARY KEY, name text UNIQUE);\nCREATE TABLE o (n text REFERENCES users (name));", &[(Phase::Expand, rename)], "constraint"),
            (SETUP, &[(Phase::Expand, "ALTER TABLE users RENAME COLUMN name TO full_name;\nCREATE INDEX CONCURRENTLY u_f ON users (full_name);")], "later statement"),
            (SETUP, &[(Phase::Expand, rename), (Phase::Down, "ALTER TABLE users RENAME COLUMN full_name TO name;\nCOMMENT ON TABLE users IS 'people';")], "down.sql"),
            (SETUP, &[(Phase::Expand, "BEGIN;\nALTER TABLE users RENAME COLUMN name TO full_name;\nCOMMIT;")], "BEGIN"),
            (SETUP, &[(Phase::Expand, "ALTER TABLE users RENAME COLUMN name TO full_name, ADD COLUMN x int;")], "other actions"),
        ];
        for (setup, phases, why) in cases {
            let (files, left) = Case::pg(setup, phases).fixed();
            let before: Vec<(Phase, String)> =
                phases.iter().map(|(p, t)| (*p, t.to_string())).collect();
            assert_eq!(files, before, "{why}");
            let (_, reason) = left
                .iter()
                .find(|(r, _)| r == ID)
                .unwrap_or_else(|| panic!("{why}: {left:?}"));
            assert!(reason.contains(why), "{why}: {reason}");
        }
    }

    #[test]
    fn fix_rewrites_the_down_that_undoes_the_rename_as_written() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(255) NOT NULL);\nCREATE TABLE teams (id bigint PRIMARY KEY);";
        let down = "-- undo\nDROP TABLE IF EXISTS teams_old;\nALTER TABLE users RENAME COLUMN full_name TO name;\n";
        let (files, left) = Case::pg(
            setup,
            &[
                (
                    Phase::Expand,
                    "ALTER TABLE users RENAME COLUMN name TO full_name;\n",
                ),
                (Phase::Down, down),
            ],
        )
        .fixed();
        assert!(left.iter().all(|(r, _)| r != ID), "{left:?}");
        assert_eq!(
            files.last(),
            Some(&(Phase::Down, "-- undo\nDROP TABLE IF EXISTS teams_old;\nALTER TABLE users ALTER COLUMN \"name\" SET NOT NULL;\nALTER TABLE users DROP COLUMN full_name;\n".to_string()))
        );
        // A down that undoes something else is left, and says what its down would be.
        let (files, left) = Case::pg(
            setup,
            &[
                (
                    Phase::Expand,
                    "ALTER TABLE users RENAME COLUMN name TO full_name;\n",
                ),
                (Phase::Down, "ALTER TABLE teams ADD COLUMN x int;\n"),
            ],
        )
        .fixed();
        assert_eq!(files.len(), 2, "{files:?}");
        let (_, why) = left.iter().find(|(r, _)| r == ID).expect("listed");
        assert!(
            why.contains("does not undo") && why.contains("drops `full_name`"),
            "{why}"
        );
    }

    #[test]
    fn fix_on_mysql_restates_the_column_to_make_it_nullable_and_required() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(50) NOT NULL);";
        for sql in [
            "ALTER TABLE users RENAME COLUMN name TO full_name;\n",
            "ALTER TABLE users CHANGE name full_name varchar(50) NOT NULL;\n",
        ] {
            let (files, left) = Case::mysql(setup, &[(Phase::Expand, sql)])
                .server("8.0")
                .fixed();
            assert_eq!(
                files,
                [
                    (Phase::Expand, "-- concertina:renames(users.name -> users.full_name)\nALTER TABLE users ADD COLUMN full_name varchar(50);\nALTER TABLE users MODIFY `name` varchar(50) NULL;\n".to_string()),
                    (Phase::Backfill, "-- backfill: written by `cargo xtask migrate fix`\nUPDATE users SET full_name = `name` WHERE full_name IS NULL;\n".to_string()),
                    (Phase::Contract, "-- contract: written by `cargo xtask migrate fix`\nALTER TABLE users DROP COLUMN `name`;\nALTER TABLE users MODIFY full_name varchar(50) NOT NULL;\n".to_string()),
                ],
                "{sql}"
            );
            assert!(left.iter().all(|(r, _)| r != ID), "{sql}: {left:?}");
        }
        // A `CHANGE` that changes the type too copies without the annotation; one that gives
        // the column more than a type is written by hand.
        let sql = "ALTER TABLE users CHANGE name full_name varchar(80);\n";
        let (files, _) = Case::mysql(setup, &[(Phase::Expand, sql)])
            .server("8.0")
            .fixed();
        assert!(
            files[0]
                .1
                .starts_with("ALTER TABLE users ADD COLUMN full_name varchar(80);"),
            "{}",
            files[0].1
        );
        assert!(!files[2].1.contains("NOT NULL"), "{}", files[2].1);
        let sql = "ALTER TABLE users CHANGE name full_name varchar(50) NOT NULL DEFAULT 'x';";
        let (files, left) = Case::mysql(setup, &[(Phase::Expand, sql)])
            .server("8.0")
            .fixed();
        assert_eq!(files, [(Phase::Expand, sql.to_string())]);
        let (_, why) = left.iter().find(|(r, _)| r == ID).expect("listed");
        assert!(why.contains("default"), "{why}");
    }
    #[test]
    fn fix_writes_the_type_as_the_server_reads_it() {
        let setup = "CREATE TYPE \"Mood\" AS ENUM ('a');\nCREATE TABLE users (id bigint PRIMARY KEY, tags text[], at timestamp(3) with time zone, m \"Mood\", p numeric(10,2));";
        for (from, ty) in [
            ("tags", "text[]"),
            ("at", "timestamp(3) with time zone"),
            ("m", "\"Mood\""),
            ("p", "numeric(10,2)"),
        ] {
            let sql = format!("ALTER TABLE users RENAME COLUMN {from} TO x;\n");
            let (files, _) = Case::pg(setup, &[(Phase::Expand, sql.as_str())]).fixed();
            assert!(
                files[0].1.contains(&format!("ADD COLUMN x {ty};")),
                "{from}: {}",
                files[0].1
            );
        }
    }
}
