//! `add-column-inline-constraint`: `ADD COLUMN … UNIQUE` / `PRIMARY KEY` / `CHECK (…)` in one
//! statement builds the index or checks every row under ACCESS EXCLUSIVE. An inline
//! `REFERENCES` is fine (the new column is all NULL: no validation scan).

use crate::change::{AlterOp, Change, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-inline-constraint",
    severity: Severity::Error,
    summary: "`ADD COLUMN … UNIQUE` / `PRIMARY KEY` / `CHECK (…)` in one statement",
    help: "add the bare column; then `CREATE UNIQUE INDEX CONCURRENTLY` + `ADD CONSTRAINT … UNIQUE USING INDEX`, or `ADD CONSTRAINT … CHECK (…) NOT VALID` + `VALIDATE CONSTRAINT`",
    check,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return;
    };
    if !ctx.is_existing_table(table) {
        return;
    }
    for op in ops {
        let AlterOp::AddColumn { column, .. } = op else {
            continue;
        };
        for c in &column.constraints {
            let what = match &c.kind {
                ConstraintKind::Unique { .. } => "`UNIQUE` builds its index",
                ConstraintKind::PrimaryKey { .. } => "`PRIMARY KEY` builds its index",
                ConstraintKind::Check { .. } => "`CHECK` checks every row",
                _ => continue,
            };
            out.report(format!(
                "`ADD COLUMN {} … {}` on `{table}`: {what} under ACCESS EXCLUSIVE, reads and writes wait",
                column.name,
                c.kind.label().to_uppercase()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str =
        "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE orgs (id bigint PRIMARY KEY);";
    const RULE: &str = "add-column-inline-constraint";

    #[test]
    fn flags_unique_and_check_inline() {
        assert_eq!(
            expand_hits(
                SETUP,
                "ALTER TABLE users ADD COLUMN email text UNIQUE;",
                RULE
            )
            .len(),
            1
        );
        assert_eq!(
            expand_hits(
                SETUP,
                "ALTER TABLE users ADD COLUMN age int CHECK (age > 0);",
                RULE
            )
            .len(),
            1
        );
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
    }

    #[test]
    fn new_table_is_exempt() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int UNIQUE;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
