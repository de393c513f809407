//! `add-foreign-key-validating`: `ADD CONSTRAINT … FOREIGN KEY` on an existing table without
//! `NOT VALID` scans the table under SHARE ROW EXCLUSIVE on both tables.
//!
//! An inline `ADD COLUMN c … REFERENCES other (id)` is the exception: the new column is all
//! NULL and PostgreSQL skips the validation (measured on PostgreSQL 15, 3M rows: 1 ms). It
//! does so only for a column written without any `DEFAULT` (even `DEFAULT NULL` validates:
//! 108 ms; `DEFAULT 1`: 231 ms). A table-level `ADD CONSTRAINT … FOREIGN KEY` always
//! validates, even on a column added by the same statement (111 ms). Before PostgreSQL 13 the
//! skip is decided for the whole statement (its parse analysis, `transformAlterTableStmt`,
//! drops it when any added column has a default or any table-level foreign key is added): on
//! those servers such a statement is flagged too (from the source, not measured).

use crate::change::{AlterOp, ColumnSpec, ConstraintKind};
use crate::diag::Severity;
use crate::fix::{recipes, Fix, NoFix};
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-foreign-key-validating",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … FOREIGN KEY` on an existing column without `NOT VALID`",
    help: "add it `NOT VALID` (a brief SHARE ROW EXCLUSIVE on both tables, enforced for new writes), then `ALTER TABLE … VALIDATE CONSTRAINT …` as a separate statement (in contract): SHARE UPDATE EXCLUSIVE on the referencing table and ROW SHARE on the referenced one, so the app keeps reading and writing both",
    check,
    fix: Some(fix),
};

/// `ADD CONSTRAINT …` → `… NOT VALID` here, `VALIDATE CONSTRAINT` in contract.
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    recipes::not_valid_then_validate(ctx)
}

const INLINE_HELP: &str = "add the column without any `DEFAULT` (`ADD COLUMN c bigint REFERENCES other (id)` alone is not scanned), then `ALTER COLUMN c SET DEFAULT …` (new rows only) and fill old rows in backfill; or add the column bare and the foreign key `NOT VALID` + `VALIDATE CONSTRAINT`";

/// PostgreSQL gives the column a default expression (`DEFAULT`, even `NULL`; `serial`; a
/// generation expression), which makes it validate the column's foreign key.
fn has_default(column: &ColumnSpec) -> bool {
    column.default.is_some() || column.serial || column.generated.is_some()
}

fn inline_fk(column: &ColumnSpec) -> Option<&ConstraintKind> {
    column
        .constraints
        .iter()
        .map(|c| &c.kind)
        .find(|k| matches!(k, ConstraintKind::ForeignKey { .. }))
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let added: Vec<&ColumnSpec> = ops
        .iter()
        .filter_map(|op| match op {
            AlterOp::AddColumn { column, .. } => Some(column),
            _ => None,
        })
        .collect();
    let table_level_fk = ops.iter().any(|op| {
        matches!(
            op,
            AlterOp::AddConstraint(spec) if matches!(spec.kind, ConstraintKind::ForeignKey { .. })
        )
    });
    // Before 13 one default or table-level foreign key anywhere in the statement makes every
    // inline `REFERENCES` of it validate.
    let statement_wide =
        !ctx.server_at_least(13, 0) && (table_level_fk || added.iter().any(|c| has_default(c)));
    for op in ops {
        match op {
            AlterOp::AddConstraint(spec) => {
                let ConstraintKind::ForeignKey {
                    columns, ref_table, ..
                } = &spec.kind
                else {
                    continue;
                };
                if spec.not_valid {
                    continue;
                }
                let new_columns = columns.iter().all(|c| added.iter().any(|a| &a.name == c));
                let even = if new_columns {
                    " (even on a column this statement adds: only an inline `REFERENCES` without a default skips the check)"
                } else {
                    ""
                };
                out.report(format!(
                    "`FOREIGN KEY ({})` on `{table}` without `NOT VALID` checks every existing row while holding SHARE ROW EXCLUSIVE on `{table}` and `{ref_table}`: writes to both tables wait for the whole scan{even}",
                    columns.join(", ")
                ));
            }
            AlterOp::AddColumn { column, .. } => {
                let Some(ConstraintKind::ForeignKey { ref_table, .. }) = inline_fk(column) else {
                    continue;
                };
                let why = if has_default(column) {
                    "the column has a default, so PostgreSQL validates the foreign key"
                } else if statement_wide {
                    "before PostgreSQL 13 a default or a table-level foreign key elsewhere in the same statement makes PostgreSQL validate it"
                } else {
                    continue;
                };
                out.report_with_help(
                    format!(
                        "`ADD COLUMN {} … REFERENCES {ref_table}` on `{table}`: {why}, checking every existing row while holding SHARE ROW EXCLUSIVE on `{table}` and `{ref_table}`: writes to both tables wait for the whole scan",
                        column.name
                    ),
                    INLINE_HELP,
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);";
    const RULE: &str = "add-foreign-key-validating";

    #[test]
    fn flags_a_validating_foreign_key() {
        let hits = expand_hits(
            SETUP,
            "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);",
            RULE,
        );
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("`users`") && hits[0].message.contains("SHARE ROW EXCLUSIVE"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn not_valid_is_safe() {
        let sql = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
        let validate = Case::pg(
            SETUP,
            &[
                (Phase::Expand, sql),
                (
                    Phase::Contract,
                    "ALTER TABLE orders VALIDATE CONSTRAINT fk;",
                ),
            ],
        )
        .hits(RULE);
        assert!(validate.is_empty(), "{validate:?}");
    }

    #[test]
    fn a_new_column_with_references_is_not_flagged() {
        let sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id);";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
        // On 13+ the skip is per column (measured on 15).
        let sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id), ADD COLUMN n int DEFAULT 0;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
        let sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id), ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn a_new_column_with_a_default_validates() {
        for sql in [
            "ALTER TABLE orders ADD COLUMN buyer_id bigint DEFAULT 1 REFERENCES users (id);",
            "ALTER TABLE orders ADD COLUMN buyer_id bigint DEFAULT NULL REFERENCES users (id);",
        ] {
            let hits = expand_hits(SETUP, sql, RULE);
            assert_eq!(hits.len(), 1, "{sql}");
            assert!(
                hits[0].message.contains("has a default"),
                "{}",
                hits[0].message
            );
            assert!(hits[0].help.contains("without any `DEFAULT`"));
        }
    }

    #[test]
    fn before_13_the_whole_statement_decides() {
        let sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id), ADD COLUMN n int DEFAULT 0;";
        let hits = Case::pg(SETUP, &[(Phase::Expand, sql)])
            .server("12")
            .hits(RULE);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("before PostgreSQL 13"));
        let alone = "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id);";
        assert!(Case::pg(SETUP, &[(Phase::Expand, alone)])
            .server("12")
            .hits(RULE)
            .is_empty());
    }

    #[test]
    fn a_table_level_key_on_a_column_added_by_the_same_statement_validates() {
        // Measured on 15: 111 ms against 1 ms for the inline form.
        let sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint, ADD CONSTRAINT fk FOREIGN KEY (buyer_id) REFERENCES users (id);";
        let hits = expand_hits(SETUP, sql, RULE);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("even on a column"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn a_table_created_in_the_same_file_is_exempt() {
        let sql = "CREATE TABLE items (id bigint, order_id bigint);\nALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (order_id) REFERENCES orders (id);\nALTER TABLE items ADD COLUMN o2 bigint DEFAULT 1 REFERENCES orders (id);";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn flagged_in_contract_too() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);",
            )],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn a_table_created_in_expand_is_not_new_by_contract() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE items (id bigint, order_id bigint);"),
                (
                    Phase::Contract,
                    "ALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (order_id) REFERENCES orders (id);",
                ),
            ],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn fix_names_an_unnamed_key_adds_it_not_valid_and_validates_in_contract() {
        let sql = "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files,
            [
                (Phase::Expand, "ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE NOT VALID;\n".to_string()),
                (Phase::Contract, "-- contract: written by `cargo xtask migrate fix`\nALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;\n".to_string()),
            ]
        );
        assert!(left.iter().all(|(rule, _)| rule != RULE), "{left:?}");
    }

    #[test]
    fn fix_in_contract_validates_right_after_and_a_shared_statement_is_left() {
        let sql = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);\nSELECT 1;\n";
        let (files, _) = Case::pg(SETUP, &[(Phase::Contract, sql)]).fixed();
        assert_eq!(
            files,
            [(Phase::Contract, "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT fk;\nSELECT 1;\n".to_string())]
        );
        let shared = "ALTER TABLE orders ADD COLUMN n int, ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);";
        let (files, left) = Case::pg(SETUP, &[(Phase::Contract, shared)]).fixed();
        assert_eq!(files, [(Phase::Contract, shared.to_string())]);
        assert!(
            left.iter()
                .any(|(rule, why)| rule == RULE && why.contains("split")),
            "{left:?}"
        );
        let inline =
            "ALTER TABLE orders ADD COLUMN buyer_id bigint DEFAULT 1 REFERENCES users (id);";
        let (_, left) = Case::pg(SETUP, &[(Phase::Contract, inline)]).fixed();
        assert!(
            left.iter()
                .any(|(rule, why)| rule == RULE && why.contains("inline")),
            "{left:?}"
        );
    }
}
