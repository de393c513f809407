//! `add-column-generated-stored`: `ADD COLUMN … GENERATED ALWAYS AS (e) STORED` computes and
//! stores `e` for every row: a table rewrite under ACCESS EXCLUSIVE. PostgreSQL 18's `VIRTUAL`
//! columns (its default when neither is written) store nothing and are not flagged there.

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-generated-stored",
    severity: Severity::Error,
    summary: "`ADD COLUMN … GENERATED ALWAYS AS (e) STORED`",
    help: "a plain column the app writes, filled for old rows by a backfill; on PostgreSQL 18+ a `VIRTUAL` generated column stores nothing",
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
        let Some(generated) = &column.generated else {
            continue;
        };
        // Before 18 every generated column is stored; from 18 only an explicit STORED is.
        let stored = match generated.stored {
            Some(s) => s,
            None => !ctx.server_at_least(18, 0),
        };
        if stored {
            out.report(format!(
                "generated column `{table}.{}` is computed and stored for every existing row: the table is rewritten under ACCESS EXCLUSIVE",
                column.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE items (id bigint PRIMARY KEY, price numeric, qty int);";
    const RULE: &str = "add-column-generated-stored";

    #[test]
    fn flags_stored_generated_columns() {
        let sql =
            "ALTER TABLE items ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty) STORED;";
        assert_eq!(expand_hits(SETUP, sql, RULE).len(), 1);
    }

    #[test]
    fn virtual_on_18_is_fine() {
        let sql =
            "ALTER TABLE items ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty) VIRTUAL;";
        let hits = Case::pg(SETUP, &[(Phase::Expand, sql)])
            .server("18")
            .hits(RULE);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn new_table_is_exempt() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS (a + 1) STORED;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
