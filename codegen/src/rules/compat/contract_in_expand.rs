//! `contract-in-expand`: in a migration that has a contract.sql, a statement in expand.sql that
//! is contract work and breaks the old app that still runs during expand:
//! - dropping a column, table or view that `S(N-1)` has;
//! - making an old-app column reject NULL while the old app may write NULL or omit it
//!   (`SET NOT NULL`, `CHECK (col IS NOT NULL)`, `PRIMARY KEY`, MySQL `MODIFY … NOT NULL`);
//! - adding a constraint over old-app columns that is checked against existing rows (CHECK /
//!   FOREIGN KEY / UNIQUE without `NOT VALID`, unique indexes).
//!
//! Division of labour, so a statement gets one diagnostic: with a contract.sql this rule reports
//! the cases above and `compat-column-removed` / `compat-table-removed` (drops),
//! `compat-not-null-in-expand` and `compat-constraint-in-expand` (validated constraints) stay
//! quiet; without one those rules report them. Renames are always `compat-*-removed`'s, and a
//! `NOT VALID` constraint stays `compat-constraint-in-expand`'s warning (enforcing it during
//! the window is how contract's `VALIDATE` is made safe).

use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::compat::compat_column_removed::removed_old_columns;
use crate::rules::compat::compat_constraint_in_expand::constraint_hazards;
use crate::rules::compat::compat_not_null_in_expand::not_null_hazards;
use crate::rules::compat::compat_table_removed::removed_old_relations;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "contract-in-expand",
    severity: Severity::Error,
    summary: "in a migration with a `contract.sql`, a statement in `expand.sql` that belongs to contract: dropping what `S(N-1)` has, tightening a constraint",
    help: "move the statement to this migration's contract.sql: contract runs once no app version that needs the old structure is deployed",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Expand || !ctx.window.has_phase(Phase::Contract) {
        return;
    }
    for r in removed_old_columns(ctx) {
        if r.renamed_to.is_none() {
            out.report(format!(
                "`DROP COLUMN {}` on `{}` belongs in contract.sql: expand runs while the old app (S(N-1)) still selects and writes `{}`",
                r.column, r.table, r.column
            ));
        }
    }
    for r in removed_old_relations(ctx) {
        if r.renamed_to.is_none() && r.recreated_without.is_empty() {
            out.report(format!(
                "dropping {} `{}` belongs in contract.sql: expand runs while the old app (S(N-1)) still queries it",
                r.kind, r.name
            ));
        }
    }
    for h in not_null_hazards(ctx) {
        out.report(format!(
            "{} on `{}.{}` belongs in contract.sql, after backfill: during expand {}",
            h.what, h.table, h.column, h.reason
        ));
    }
    for h in constraint_hazards(ctx) {
        if h.validated {
            let cols = h
                .columns
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            out.report(format!(
                "{} on `{}` checks every existing row and belongs in contract.sql, after backfill: during expand the old app (S(N-1)) still writes {cols} unchecked by it, and its writes may fail",
                h.what, h.table
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text, email text, age int);\nCREATE TABLE legacy (id bigint PRIMARY KEY);\nCREATE VIEW v AS SELECT id FROM users;";
    const ID: &str = "contract-in-expand";

    fn with_contract(expand: &str) -> Vec<crate::diag::Diagnostic> {
        Case::pg(
            SETUP,
            &[(Phase::Expand, expand), (Phase::Contract, "SELECT 1;")],
        )
        .hits(ID)
    }

    #[test]
    fn flags_drops_of_old_structure() {
        let hits =
            with_contract("ALTER TABLE users DROP COLUMN name;\nDROP TABLE legacy;\nDROP VIEW v;");
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert!(hits[0].is_error());
        assert!(
            hits[0]
                .message
                .contains("`DROP COLUMN name` on `users` belongs in contract.sql"),
            "{}",
            hits[0].message
        );
        assert!(hits[1].message.contains("table `legacy`"));
        assert!(hits[2].message.contains("view `v`"));
    }

    #[test]
    fn flags_tightening() {
        let hits = with_contract("ALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0);\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);");
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert!(hits[0].message.contains("`SET NOT NULL` on `users.email`"));
    }

    #[test]
    fn not_valid_constraints_renames_and_additions_are_not_contract_work() {
        let hits = with_contract("ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT VALID;\nALTER TABLE users RENAME COLUMN name TO full_name;\nALTER TABLE users ADD COLUMN tier text;\nALTER TABLE users DROP COLUMN tier;");
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn without_a_contract_the_compat_rules_report_it() {
        let all = Case::pg(
            SETUP,
            &[(Phase::Expand, "ALTER TABLE users DROP COLUMN name;")],
        )
        .run();
        assert!(all.iter().all(|d| d.rule != ID), "{all:?}");
        assert!(
            all.iter().any(|d| d.rule == "compat-column-removed"),
            "{all:?}"
        );
    }

    #[test]
    fn contract_itself_and_new_tables_are_fine() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;\nDROP TABLE t;"),
                (Phase::Contract, "ALTER TABLE users DROP COLUMN name;"),
            ],
        )
        .hits(ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(contract-in-expand): no app reads legacy since v12\nDROP TABLE legacy;";
        let all = Case::pg(
            SETUP,
            &[(Phase::Expand, sql), (Phase::Contract, "SELECT 1;")],
        )
        .run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
