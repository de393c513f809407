//! `add-foreign-key-validating`: `ADD CONSTRAINT … FOREIGN KEY` on an existing table without
//! `NOT VALID` scans the table under `SHARE ROW EXCLUSIVE` on both tables. A foreign key on a
//! column added in the same statement (`ADD COLUMN … REFERENCES`) is all NULL: no scan
//! (measured on PostgreSQL 15), so it is not flagged.

use crate::change::{AlterOp, Change, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-foreign-key-validating",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … FOREIGN KEY` on an existing column without `NOT VALID`",
    help: "add it `NOT VALID` (a brief SHARE ROW EXCLUSIVE on both tables, enforced for new writes), then `ALTER TABLE … VALIDATE CONSTRAINT …` as a separate statement (in contract): SHARE UPDATE EXCLUSIVE on the referencing table and ROW SHARE on the referenced one, so the app keeps reading and writing both",
    check,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return;
    };
    if !ctx.is_existing_table(table) {
        return;
    }
    // Columns added by this same statement are all NULL: their foreign key scans nothing.
    let added: Vec<&String> = ops
        .iter()
        .filter_map(|op| match op {
            AlterOp::AddColumn { column, .. } => Some(&column.name),
            _ => None,
        })
        .collect();
    for op in ops {
        let AlterOp::AddConstraint(spec) = op else {
            continue;
        };
        let ConstraintKind::ForeignKey {
            columns, ref_table, ..
        } = &spec.kind
        else {
            continue;
        };
        if spec.not_valid || columns.iter().all(|c| added.contains(&c)) {
            continue;
        }
        out.report(format!(
            "`FOREIGN KEY ({})` on `{table}` without `NOT VALID` checks every existing row while holding SHARE ROW EXCLUSIVE on `{table}` and `{ref_table}`: writes to both tables wait for the whole scan",
            columns.join(", ")
        ));
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
    }

    #[test]
    fn a_new_column_with_references_is_not_flagged() {
        let sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id);";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn a_constraint_on_a_column_added_by_the_same_statement_is_fine() {
        let sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint, ADD CONSTRAINT fk FOREIGN KEY (buyer_id) REFERENCES users (id);";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn a_table_created_in_the_same_file_is_exempt() {
        let sql = "CREATE TABLE items (id bigint, order_id bigint);\nALTER TABLE items ADD CONSTRAINT fk FOREIGN KEY (order_id) REFERENCES orders (id);";
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
}
