//! `compat-old-required-unwritten`: a column `NOT NULL` without default in `E(N)` that `S(N)`
//! no longer has (check 2 of DESIGN.md §2: the new app, built on `S(N)`, may be deployed before
//! contract runs; its inserts leave that column out and fail).
//!
//! Reported at the contract statement that removes the column (`DROP COLUMN`, `RENAME COLUMN`,
//! MySQL `CHANGE`), with the recipe to relax it in expand. Only for tables the old app has:
//! a table created by this migration has no such window.

use crate::change::Change;
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::compat::compat_column_removed::removed_old_columns;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-old-required-unwritten",
    severity: Severity::Error,
    summary: "a column `NOT NULL` without default in `E(N)` but absent from `S(N)`",
    help: "expand: `ALTER COLUMN c DROP NOT NULL` (or add a default); contract: drop the column",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Contract {
        return;
    }
    let Change::AlterTable { table, .. } = ctx.change else {
        return;
    };
    // Only the table as the old app and E(N) name it; S(N) must still have the table.
    let (Some(expanded), Some(after)) = (
        ctx.window.expanded.table(table),
        ctx.window.after.table(table),
    ) else {
        return;
    };
    for r in removed_old_columns(ctx) {
        let c = &r.column;
        let Some(col) = expanded.column(c) else {
            continue;
        };
        if !col.insert_requires() || after.column(c).is_some() {
            continue;
        }
        let how = match &r.renamed_to {
            Some(to) => format!("renaming `{c}` to `{to}`"),
            None => format!("dropping `{c}`"),
        };
        let relax = if ctx.is_postgres() {
            format!("ALTER TABLE {table} ALTER COLUMN {c} DROP NOT NULL")
        } else {
            format!("ALTER TABLE {table} MODIFY {c} {} NULL", col.ty)
        };
        out.report_with_help(
            format!("{how} on `{table}` in contract: `{c}` is NOT NULL without default in E(N), but the new app (S(N)) no longer writes it, so its inserts fail from its deploy until contract runs"),
            format!("expand: `{relax}` (or give `{c}` a default) so the new app can run on E(N); contract: then remove `{c}`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, full_name text, nick text, status text NOT NULL DEFAULT 'new');";
    const ID: &str = "compat-old-required-unwritten";

    #[test]
    fn flags_dropping_a_required_column_that_expand_left_required() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "ALTER TABLE users ADD COLUMN display text;"),
                (
                    Phase::Backfill,
                    "UPDATE users SET display = name WHERE display IS NULL;",
                ),
                (Phase::Contract, "ALTER TABLE users DROP COLUMN name;"),
            ],
        )
        .hits(ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].is_error());
        assert_eq!(hits[0].file, "0002_change/contract.sql");
        assert!(
            hits[0].message.contains("dropping `name` on `users`"),
            "{}",
            hits[0].message
        );
        assert!(
            hits[0]
                .help
                .contains("ALTER TABLE users ALTER COLUMN name DROP NOT NULL"),
            "{}",
            hits[0].help
        );
    }

    #[test]
    fn flags_a_rename_in_contract() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE users RENAME COLUMN name TO legal_name;",
            )],
        )
        .hits(ID);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn relaxed_in_expand_is_fine() {
        let hits = Case::pg(
            SETUP,
            &[
                (
                    Phase::Expand,
                    "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;",
                ),
                (Phase::Contract, "ALTER TABLE users DROP COLUMN name;"),
            ],
        )
        .hits(ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn nullable_or_defaulted_columns_are_fine() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE users DROP COLUMN nick;\nALTER TABLE users DROP COLUMN status;",
            )],
        )
        .hits(ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn dropping_the_whole_table_or_a_new_table_is_fine() {
        let hits = Case::pg(
            SETUP,
            &[
                (
                    Phase::Expand,
                    "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);",
                ),
                (
                    Phase::Contract,
                    "ALTER TABLE t DROP COLUMN v;\nDROP TABLE users;",
                ),
            ],
        )
        .hits(ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn only_contract_is_checked() {
        // Expand drops are compat-column-removed's.
        let hits = Case::pg(
            SETUP,
            &[(Phase::Expand, "ALTER TABLE users DROP COLUMN name;")],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn mysql_recipe() {
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(50) NOT NULL);",
            &[(Phase::Contract, "ALTER TABLE users DROP COLUMN name;")],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].help.contains("MODIFY name varchar(50) NULL"),
            "{}",
            hits[0].help
        );
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(compat-old-required-unwritten): the new app deploys only after contract\nALTER TABLE users DROP COLUMN name;";
        let all = Case::pg(SETUP, &[(Phase::Contract, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
