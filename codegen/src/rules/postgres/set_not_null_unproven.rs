//! `set-not-null-unproven`: `ALTER COLUMN … SET NOT NULL` scans the table under ACCESS
//! EXCLUSIVE unless a validated `CHECK (col IS NOT NULL)` proves it (PostgreSQL 12+). In
//! contract (and down) on 12+ the runtime applies that recipe itself, so there only the
//! statements it cannot expand are flagged; in expand (where it also breaks the old app, see
//! `compat-not-null-in-expand`) and in backfill it is flagged, and before 12 everywhere (even a
//! validated CHECK does not spare the scan there: keep the CHECK instead).
//!
//! The runtime (`runtime/src/plan.rs`) expands a `SET NOT NULL` only when it is the sole action
//! of its `ALTER TABLE`, outside an explicit transaction, on a table the old app `S(N-1)`
//! already has; any other `SET NOT NULL` in contract runs as written and is flagged here.
//! PostgreSQL 18's `ADD CONSTRAINT c NOT NULL col` without `NOT VALID` scans the same way and
//! is never expanded by the runtime: flagged unless proven.

use crate::change::{AlterOp, ConstraintKind, QualName};
use crate::diag::Severity;
use crate::fix::{recipes, Fix, NoFix};
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "set-not-null-unproven",
    severity: Severity::Error,
    summary: "`ALTER COLUMN … SET NOT NULL` on an existing column without a validated `CHECK (col IS NOT NULL)`, in expand, or anywhere before 12",
    help: "put it in contract, alone in its `ALTER TABLE` and outside `BEGIN … COMMIT`: on 12+ the runtime runs `ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT c` (the app goes on), `SET NOT NULL` (no scan) and `DROP CONSTRAINT c`; before 12, keep the validated CHECK instead of SET NOT NULL",
    check,
    fix: Some(fix),
};

/// A `SET NOT NULL` in expand or backfill moves, as written, to the end of contract.sql,
/// where the runtime runs its no-scan recipe.
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    if !ctx.server_at_least(12, 0) {
        return Err(NoFix::because("before PostgreSQL 12 `SET NOT NULL` scans wherever it runs; the recipe keeps a validated `CHECK (col IS NOT NULL)` instead, which the server does not read as NOT NULL: a decision to make by hand"));
    }
    let skipped = match ctx.phase {
        Phase::Contract => runtime_skips(ctx, table, ops.len()),
        Phase::Down => Some("it is in down.sql"),
        Phase::Expand | Phase::Backfill => None,
    };
    if let Some(why) = skipped {
        return Err(NoFix::because(format!("the runtime cannot run its recipe here because {why}: the recipe's statements need names and an order only you can choose")));
    }
    let [AlterOp::SetNotNull { .. }] = ops else {
        return Err(NoFix::because("the statement has other actions, or is PostgreSQL 18's `ADD CONSTRAINT … NOT NULL`: split it so `ALTER COLUMN … SET NOT NULL` stands alone, and run fix again"));
    };
    if ctx.in_transaction() {
        return Err(NoFix::because("it is inside `BEGIN … COMMIT`: moving it out of the transaction changes what commits together"));
    }
    if !ctx.old_app_has_table(table) {
        return Err(NoFix::because("the table is new in this migration: in contract the runtime would still run it as written"));
    }
    recipes::move_to_contract(ctx)
}

const KEEP_THE_CHECK: &str = "a validated `CHECK (col IS NOT NULL)` already guarantees it, but before PostgreSQL 12 `SET NOT NULL` scans anyway: drop this statement and keep the CHECK (the model reads the column as not null)";

fn recipe_by_hand(table: &QualName, column: &str) -> String {
    format!(
        "write the recipe out: `ALTER TABLE {table} ADD CONSTRAINT {column}_not_null CHECK ({column} IS NOT NULL) NOT VALID;` `ALTER TABLE {table} VALIDATE CONSTRAINT {column}_not_null;` `ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;` `ALTER TABLE {table} DROP CONSTRAINT {column}_not_null;` (each its own statement), or split the statement so the runtime can do it"
    )
}

/// Why the runtime will not expand this contract `SET NOT NULL` into its safe recipe.
fn runtime_skips(ctx: &StatementCtx, table: &QualName, ops: usize) -> Option<&'static str> {
    if ctx.in_transaction() {
        Some("it is inside `BEGIN … COMMIT`")
    } else if ops > 1 {
        Some("it shares its `ALTER TABLE` with other actions")
    } else if !ctx.window.before.tables.contains_key(table) {
        Some("the table is new in this migration")
    } else {
        None
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let on_12 = ctx.server_at_least(12, 0);
    for op in ops {
        let (column, what, expandable) = match op {
            AlterOp::SetNotNull { column } => (column, "`SET NOT NULL`", true),
            AlterOp::AddConstraint(spec) if !spec.not_valid => match &spec.kind {
                ConstraintKind::NotNull { column } => {
                    (column, "`ADD CONSTRAINT … NOT NULL`", false)
                }
                _ => continue,
            },
            _ => continue,
        };
        let proven = ctx
            .schema
            .table(table)
            .is_some_and(|t| t.proves_not_null(column));
        if proven && on_12 {
            continue;
        }
        let scan = format!(
            "scans every row of `{table}` under ACCESS EXCLUSIVE: reads and writes of `{table}` wait for the whole scan"
        );
        if !on_12 {
            let message = format!(
                "{what} on `{table}.{column}` on PostgreSQL {} (before 12) {scan}",
                ctx.config.server_version
            );
            if proven {
                out.report_with_help(message, KEEP_THE_CHECK);
            } else {
                out.report(message);
            }
            continue;
        }
        match ctx.phase {
            Phase::Expand | Phase::Backfill => {
                out.report(format!(
                    "{what} on `{table}.{column}` in {} {scan}",
                    ctx.file_name()
                ));
            }
            Phase::Contract | Phase::Down => {
                let skipped = if expandable {
                    runtime_skips(ctx, table, ops.len())
                } else {
                    Some("the runtime expands only `ALTER COLUMN … SET NOT NULL`")
                };
                if let Some(why) = skipped {
                    out.report_with_help(
                        format!(
                            "{what} on `{table}.{column}` runs as written because {why}: it {scan}"
                        ),
                        recipe_by_hand(table, column),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, phone text, email text);";
    const RULE: &str = "set-not-null-unproven";
    const SET: &str = "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;";

    fn contract(sql: &str, server: &str) -> Vec<crate::diag::Diagnostic> {
        Case::pg(SETUP, &[(Phase::Contract, sql)])
            .server(server)
            .hits(RULE)
    }

    #[test]
    fn flagged_in_expand() {
        let hits = expand_hits(SETUP, SET, RULE);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("in expand"), "{}", hits[0].message);
        assert!(hits[0].message.contains("ACCESS EXCLUSIVE"));
    }

    #[test]
    fn flagged_in_backfill() {
        let hits = Case::pg(SETUP, &[(Phase::Backfill, SET)]).hits(RULE);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("in backfill"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn contract_on_12_is_left_to_the_runtime() {
        assert!(contract(SET, "12").is_empty());
    }

    #[test]
    fn contract_statements_the_runtime_cannot_expand_are_flagged() {
        let tx = contract(&format!("BEGIN;\n{SET}\nCOMMIT;"), "14");
        assert_eq!(tx.len(), 1);
        assert!(tx[0].message.contains("BEGIN"), "{}", tx[0].message);
        assert!(tx[0].help.contains("NOT VALID"), "{}", tx[0].help);
        let two = contract(
            "ALTER TABLE users ALTER COLUMN phone SET NOT NULL, ALTER COLUMN email SET NOT NULL;",
            "14",
        );
        assert_eq!(two.len(), 2);
        assert!(two[0].message.contains("other actions"));
    }

    #[test]
    fn a_table_created_in_expand_is_not_new_by_contract() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (a int);"),
                (
                    Phase::Contract,
                    "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
                ),
            ],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("new in this migration"));
    }

    #[test]
    fn down_on_12_is_left_to_the_runtime() {
        let hits = Case::pg(SETUP, &[(Phase::Expand, "SELECT 1;"), (Phase::Down, SET)])
            .server("12")
            .hits(RULE);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn contract_before_12_is_flagged() {
        let hits = contract(SET, "11");
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("before 12"), "{}", hits[0].message);
    }

    #[test]
    fn a_validated_check_proves_it_on_12_only() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, phone text);\nALTER TABLE users ADD CONSTRAINT phone_nn CHECK (phone IS NOT NULL);";
        assert!(expand_hits(setup, SET, RULE).is_empty());
        let old = Case::pg(setup, &[(Phase::Contract, SET)])
            .server("11")
            .hits(RULE);
        assert_eq!(old.len(), 1);
        assert!(old[0].help.contains("keep the CHECK"), "{}", old[0].help);
        let unvalidated = "CREATE TABLE users (id bigint PRIMARY KEY, phone text);\nALTER TABLE users ADD CONSTRAINT phone_nn CHECK (phone IS NOT NULL) NOT VALID;";
        assert_eq!(expand_hits(unvalidated, SET, RULE).len(), 1);
        // Validated in the same file before the SET NOT NULL: proven by then.
        let validated_here = "ALTER TABLE users ADD CONSTRAINT phone_nn CHECK (phone IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT phone_nn;\nALTER TABLE users ALTER COLUMN phone SET NOT NULL;";
        assert!(Case::pg(SETUP, &[(Phase::Contract, validated_here)])
            .hits(RULE)
            .is_empty());
    }

    #[test]
    fn the_postgres_18_constraint_form() {
        let add = "ALTER TABLE users ADD CONSTRAINT phone_nn NOT NULL phone;";
        let hits = Case::pg(SETUP, &[(Phase::Contract, add)])
            .server("18")
            .hits(RULE);
        assert_eq!(hits.len(), 1, "{hits:?}");
        let not_valid = "ALTER TABLE users ADD CONSTRAINT phone_nn NOT NULL phone NOT VALID;";
        assert!(Case::pg(SETUP, &[(Phase::Contract, not_valid)])
            .server("18")
            .hits(RULE)
            .is_empty());
    }

    #[test]
    fn new_table_is_exempt() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = format!("-- concertina:allow(set-not-null-unproven): users holds 3 rows\n{SET}");
        let hits = Case::pg(SETUP, &[(Phase::Expand, sql.as_str())]).hits(RULE);
        assert!(hits.is_empty());
    }

    #[test]
    fn fix_moves_it_from_expand_to_contract() {
        let expand = "ALTER TABLE users ADD COLUMN nick text;\nALTER TABLE users ALTER COLUMN phone SET NOT NULL;\n";
        let (files, left) = Case::pg(
            SETUP,
            &[
                (Phase::Expand, expand),
                (Phase::Contract, "ALTER TABLE users DROP COLUMN email;\n"),
            ],
        )
        .fixed();
        assert_eq!(
            files,
            [
                (
                    Phase::Expand,
                    "ALTER TABLE users ADD COLUMN nick text;\n".to_string()
                ),
                (
                    Phase::Contract,
                    format!("ALTER TABLE users DROP COLUMN email;\n{SET}\n")
                ),
            ]
        );
        assert!(left.iter().all(|(rule, _)| rule != RULE), "{left:?}");
    }

    #[test]
    fn no_fix_where_the_runtime_cannot_run_the_recipe() {
        let shared =
            "ALTER TABLE users ALTER COLUMN phone SET NOT NULL, ALTER COLUMN email SET NOT NULL;";
        let (files, left) = Case::pg(SETUP, &[(Phase::Contract, shared)]).fixed();
        assert_eq!(files, [(Phase::Contract, shared.to_string())]);
        assert!(
            left.iter()
                .any(|(rule, why)| rule == RULE && why.contains("other actions")),
            "{left:?}"
        );
        let (_, left) = Case::pg(SETUP, &[(Phase::Expand, SET)])
            .server("11")
            .fixed();
        assert!(
            left.iter()
                .any(|(rule, why)| rule == RULE && why.contains("before PostgreSQL 12")),
            "{left:?}"
        );
    }
}
