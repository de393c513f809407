//! `set-not-null-unproven`: `ALTER COLUMN … SET NOT NULL` scans the table under ACCESS
//! EXCLUSIVE unless a validated `CHECK (col IS NOT NULL)` proves it (PostgreSQL 12+). In
//! contract (and down) on 12+ the runtime applies that recipe itself, so only expand (where it
//! also breaks the old app, see `compat-not-null-in-expand`) and servers before 12 are flagged.

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "set-not-null-unproven",
    severity: Severity::Error,
    summary: "`ALTER COLUMN … SET NOT NULL` on an existing column without a validated `CHECK (col IS NOT NULL)`, in expand, or anywhere before 12",
    help: "put it in contract: on 12+ the runtime runs `ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT c` (the app goes on), `SET NOT NULL` (no scan) and `DROP CONSTRAINT c`; before 12, keep the validated CHECK instead of SET NOT NULL",
    check,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return;
    };
    if !ctx.is_existing_table(table) {
        return;
    }
    // The runtime applies the recipe in contract and in down (which restores S(N-1)).
    let recipe_applies =
        matches!(ctx.phase, Phase::Contract | Phase::Down) && ctx.server_at_least(12, 0);
    for op in ops {
        let AlterOp::SetNotNull { column } = op else {
            continue;
        };
        let proven = ctx
            .schema
            .table(table)
            .is_some_and(|t| t.proves_not_null(column));
        // Before 12 even a validated CHECK is not used by SET NOT NULL: it scans anyway.
        if recipe_applies || (proven && ctx.server_at_least(12, 0)) {
            continue;
        }
        let why = if ctx.server_at_least(12, 0) {
            "in expand".to_string()
        } else {
            format!("on PostgreSQL {} (before 12)", ctx.config.server_version)
        };
        out.report(format!(
            "`SET NOT NULL` on `{table}.{column}` {why} scans every row under ACCESS EXCLUSIVE: reads and writes of `{table}` wait for the whole scan"
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, phone text);";
    const RULE: &str = "set-not-null-unproven";

    #[test]
    fn flagged_in_expand() {
        let hits = expand_hits(
            SETUP,
            "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;",
            RULE,
        );
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("in expand"));
    }

    #[test]
    fn contract_on_12_is_left_to_the_runtime() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;",
            )],
        )
        .server("12")
        .hits(RULE);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn down_on_12_is_left_to_the_runtime() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "SELECT 1;"),
                (
                    Phase::Down,
                    "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;",
                ),
            ],
        )
        .server("12")
        .hits(RULE);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn contract_before_12_is_flagged() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;",
            )],
        )
        .server("11")
        .hits(RULE);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("before 12"), "{}", hits[0].message);
    }

    #[test]
    fn a_validated_check_proves_it_on_12() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, phone text);\nALTER TABLE users ADD CONSTRAINT phone_nn CHECK (phone IS NOT NULL);";
        assert!(expand_hits(
            setup,
            "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;",
            RULE
        )
        .is_empty());
        let unvalidated = "CREATE TABLE users (id bigint PRIMARY KEY, phone text);\nALTER TABLE users ADD CONSTRAINT phone_nn CHECK (phone IS NOT NULL) NOT VALID;";
        assert_eq!(
            expand_hits(
                unvalidated,
                "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;",
                RULE
            )
            .len(),
            1
        );
    }

    #[test]
    fn new_table_is_exempt() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
