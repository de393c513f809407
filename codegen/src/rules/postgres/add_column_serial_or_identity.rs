//! `add-column-serial-or-identity`: a `serial` or identity column added to an existing table
//! needs a value per row: a rewrite under ACCESS EXCLUSIVE.

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-serial-or-identity",
    severity: Severity::Error,
    summary: "`ADD COLUMN` of `smallserial/serial/bigserial`, or `GENERATED … AS IDENTITY`",
    help: "expand: a nullable `bigint` column, `CREATE SEQUENCE`, `ALTER COLUMN … SET DEFAULT nextval('…')` (new rows only); backfill: number the old rows; contract: `SET NOT NULL`",
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
        let (column, what) = match op {
            AlterOp::AddColumn { column, .. } if column.serial => {
                (&column.name, "a `serial` column")
            }
            AlterOp::AddColumn { column, .. } if column.identity => {
                (&column.name, "an identity column")
            }
            AlterOp::AddIdentity { column } => (column, "an identity on an existing column"),
            _ => continue,
        };
        if matches!(op, AlterOp::AddIdentity { .. }) {
            // Making an existing NOT NULL column an identity is a catalog change; PostgreSQL
            // refuses it on a nullable column, so there is nothing to rewrite.
            continue;
        }
        out.report(format!(
            "{what} `{table}.{column}` needs its own value in every existing row: the table is rewritten under ACCESS EXCLUSIVE"
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE items (name text);";
    const RULE: &str = "add-column-serial-or-identity";

    #[test]
    fn flags_serial_and_identity() {
        assert_eq!(
            expand_hits(SETUP, "ALTER TABLE items ADD COLUMN id bigserial;", RULE).len(),
            1
        );
        assert_eq!(
            expand_hits(
                SETUP,
                "ALTER TABLE items ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;",
                RULE
            )
            .len(),
            1
        );
    }

    #[test]
    fn a_plain_bigint_with_a_sequence_default_is_the_recipe() {
        let sql = "ALTER TABLE items ADD COLUMN id bigint;\nCREATE SEQUENCE items_id_seq;\nALTER TABLE items ALTER COLUMN id SET DEFAULT nextval('items_id_seq');";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn new_table_is_exempt() {
        assert!(expand_hits(
            SETUP,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN id serial;",
            RULE
        )
        .is_empty());
    }
}
