//! `add-column-inline-constraint`: `ADD COLUMN … UNIQUE` / `PRIMARY KEY` / `CHECK (…)` in one
//! statement builds the index or checks every row under ACCESS EXCLUSIVE. Measured on
//! PostgreSQL 15, 3M rows: `ADD COLUMN i int CHECK (i > 0)` 122 ms against 1 ms for the bare
//! column (the CHECK scans even though the new column is all NULL); `… UNIQUE` 645 ms. An
//! inline `REFERENCES` is `add-foreign-key-validating`'s (not scanned without a default).

use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-inline-constraint",
    severity: Severity::Error,
    summary: "`ADD COLUMN … UNIQUE` / `PRIMARY KEY` / `CHECK (…)` in one statement",
    help: "add the bare column; then `CREATE UNIQUE INDEX CONCURRENTLY` + `ADD CONSTRAINT … UNIQUE USING INDEX` (see `add-unique-constraint-building-index`), or `ADD CONSTRAINT … CHECK (…) NOT VALID` + `VALIDATE CONSTRAINT` (see `add-check-validating`)",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let AlterOp::AddColumn { column, .. } = op else {
            continue;
        };
        for c in &column.constraints {
            let (clause, what) = match &c.kind {
                ConstraintKind::Unique { .. } => ("UNIQUE", "builds its unique index"),
                ConstraintKind::PrimaryKey { .. } => ("PRIMARY KEY", "builds its unique index"),
                ConstraintKind::Check { .. } => ("CHECK (…)", "checks every existing row"),
                _ => continue,
            };
            out.report(format!(
                "`ADD COLUMN {} … {clause}` on `{table}` {what} under ACCESS EXCLUSIVE: reads and writes of `{table}` wait for the whole build",
                column.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str =
        "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE orgs (id bigint PRIMARY KEY);\nCREATE TABLE logs (at timestamptz);";
    const RULE: &str = "add-column-inline-constraint";

    #[test]
    fn flags_unique_primary_key_and_check_inline() {
        for (sql, clause) in [
            ("ALTER TABLE users ADD COLUMN email text UNIQUE;", "UNIQUE"),
            (
                "ALTER TABLE users ADD COLUMN age int CHECK (age > 0);",
                "CHECK",
            ),
            (
                "ALTER TABLE logs ADD COLUMN id bigint PRIMARY KEY;",
                "PRIMARY KEY",
            ),
        ] {
            let hits = expand_hits(SETUP, sql, RULE);
            assert_eq!(hits.len(), 1, "{sql}");
            assert!(
                hits[0].message.contains(clause) && hits[0].message.contains("ACCESS EXCLUSIVE"),
                "{}",
                hits[0].message
            );
        }
    }

    #[test]
    fn one_finding_per_constraint() {
        let sql = "ALTER TABLE users ADD COLUMN email text UNIQUE CHECK (email <> '');";
        assert_eq!(expand_hits(SETUP, sql, RULE).len(), 2);
    }

    #[test]
    fn bare_columns_and_references_are_fine() {
        assert!(expand_hits(SETUP, "ALTER TABLE users ADD COLUMN email text;", RULE).is_empty());
        assert!(expand_hits(
            SETUP,
            "ALTER TABLE users ADD COLUMN org_id bigint REFERENCES orgs (id);",
            RULE
        )
        .is_empty());
        assert!(expand_hits(
            SETUP,
            "ALTER TABLE users ADD COLUMN n int NOT NULL DEFAULT 0;",
            RULE
        )
        .is_empty());
    }

    #[test]
    fn new_table_is_exempt_but_not_by_contract() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int UNIQUE;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (a int);"),
                (Phase::Contract, "ALTER TABLE t ADD COLUMN b int UNIQUE;"),
            ],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
    }
}
