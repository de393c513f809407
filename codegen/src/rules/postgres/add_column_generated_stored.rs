//! `add-column-generated-stored`: `ADD COLUMN … GENERATED ALWAYS AS (e) STORED` computes and
//! stores `e` for every row: a table rewrite under ACCESS EXCLUSIVE (measured on PostgreSQL
//! 15). Generated columns exist from 12, always stored before 18; PostgreSQL 18's `VIRTUAL`
//! columns (its default when neither is written) store nothing and are not flagged.

use crate::change::AlterOp;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-generated-stored",
    severity: Severity::Error,
    summary: "`ADD COLUMN … GENERATED ALWAYS AS (e) STORED`",
    help: "a plain column the app writes (the transition types write it), filled for old rows by a backfill; on PostgreSQL 18+ a `VIRTUAL` generated column stores nothing",
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
        let Some(generated) = &column.generated else {
            continue;
        };
        // Before 18 every generated column is stored; from 18 only an explicit STORED is.
        let stored = generated.stored.unwrap_or(!ctx.server_at_least(18, 0));
        if stored {
            out.report(format!(
                "generated column `{table}.{}` (`{}`) is computed and stored for every existing row: the table is rewritten under ACCESS EXCLUSIVE, reads and writes wait for the whole rewrite",
                column.name, generated.expr.text
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
    const STORED: &str =
        "ALTER TABLE items ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty) STORED;";
    const UNSAID: &str =
        "ALTER TABLE items ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty);";
    const VIRTUAL: &str =
        "ALTER TABLE items ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty) VIRTUAL;";

    fn hits(sql: &str, server: &str) -> usize {
        Case::pg(SETUP, &[(Phase::Expand, sql)])
            .server(server)
            .hits(RULE)
            .len()
    }

    #[test]
    fn flags_stored_generated_columns() {
        let h = expand_hits(SETUP, STORED, RULE);
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("items.total"), "{}", h[0].message);
        assert_eq!(hits(STORED, "18"), 1);
    }

    #[test]
    fn the_default_kind_depends_on_the_version() {
        assert_eq!(hits(UNSAID, "17"), 1, "stored before 18");
        assert_eq!(hits(UNSAID, "18"), 0, "virtual from 18");
    }

    #[test]
    fn virtual_on_18_is_fine() {
        assert_eq!(hits(VIRTUAL, "18"), 0);
        // Parsed, not merely skipped: the model knows the column.
        let all = Case::pg(SETUP, &[(Phase::Expand, VIRTUAL)])
            .server("18")
            .run();
        assert!(all.is_empty(), "{all:?}");
        let all = Case::pg(SETUP, &[(Phase::Expand, UNSAID)])
            .server("18")
            .run();
        assert!(all.is_empty(), "{all:?}");
    }

    #[test]
    fn each_column_keeps_its_own_kind() {
        let sql = "ALTER TABLE items ADD COLUMN a int GENERATED ALWAYS AS (qty + 1) VIRTUAL, ADD COLUMN b int GENERATED ALWAYS AS (qty + 2) STORED, ADD COLUMN c int GENERATED ALWAYS AS (qty + 3);";
        let h = Case::pg(SETUP, &[(Phase::Expand, sql)])
            .server("18")
            .hits(RULE);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].message.contains("items.b"), "{}", h[0].message);
    }

    #[test]
    fn new_table_is_exempt() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS (a + 1) STORED;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
