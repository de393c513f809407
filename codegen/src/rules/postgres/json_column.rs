//! `json-column`: a column of type `json` added to an existing table or converted to it.
//! `json` has no equality operator, so `DISTINCT`, `UNION`, `GROUP BY` and `=` fail on it.
//! Decision: `CREATE TABLE` columns are not flagged — choosing a type for a new table is style
//! (RULES.md §5); the rule guards changes to tables the app already queries.

use crate::change::AlterOp;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "json-column",
    severity: Severity::Warning,
    summary: "`ADD COLUMN … json`, `ALTER COLUMN … TYPE json` (the latter also hits `column-type-rewrite`)",
    help: "use `jsonb`: it compares, groups and indexes",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let (column, ty) = match op {
            AlterOp::AddColumn { column, .. } => (&column.name, &column.ty),
            AlterOp::AlterColumnType { column, ty, .. } => (column, ty),
            _ => continue,
        };
        if ty.name == "json" {
            out.report(format!(
                "`{table}.{column}` of type `json` has no equality operator: `DISTINCT`, `UNION`, `GROUP BY` and `=` on it fail"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE events (id bigint PRIMARY KEY, payload text);";
    const RULE: &str = "json-column";

    #[test]
    fn flags_json_but_not_jsonb() {
        assert_eq!(
            expand_hits(SETUP, "ALTER TABLE events ADD COLUMN meta json;", RULE).len(),
            1
        );
        assert_eq!(
            expand_hits(
                SETUP,
                "ALTER TABLE events ALTER COLUMN payload TYPE json USING payload::json;",
                RULE
            )
            .len(),
            1
        );
        assert!(expand_hits(SETUP, "ALTER TABLE events ADD COLUMN meta jsonb;", RULE).is_empty());
    }

    #[test]
    fn new_tables_are_not_flagged() {
        assert!(expand_hits(
            SETUP,
            "CREATE TABLE t (doc json);\nALTER TABLE t ADD COLUMN more json;",
            RULE
        )
        .is_empty());
    }
}
