//! `compat-column-removed`: expand drops or renames a column that `S(N-1)` has (check 1 of
//! DESIGN.md §2: the old app still selects and writes it).
//!
//! Split with `contract-in-expand`: a `DROP COLUMN` in expand is reported by
//! `contract-in-expand` when the migration has a contract.sql (the fix is to move the drop
//! there) and by this rule otherwise (the fix is a contract phase). A rename is always this
//! rule's: renaming is never the right contract step either, it is a new column plus a copy.
//! Tables the old app does not have (created in this migration) are not its concern.

use crate::change::{AlterOp, Change, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::compat::compat_type_changed::type_change_problem;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-column-removed",
    severity: Severity::Error,
    summary: "expand drops or renames a column that `S(N-1)` has",
    help: "expand: add the new column; backfill: copy (`-- concertina:renames(t.old -> t.new)` makes the transition types write both); contract: drop the old column",
    check,
    fix: None,
};

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
}
