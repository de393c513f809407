//! `mysql-add-column-computed`: a new `AUTO_INCREMENT` (or `SERIAL`) column numbers every
//! existing row, which rebuilds the table with writes blocked; a `STORED` generated column is
//! computed for every row by a COPY. A `VIRTUAL` generated column (MySQL's default) stores
//! nothing and is INSTANT.

use crate::change::AlterOp;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-add-column-computed",
    severity: Severity::Error,
    summary: "`ADD COLUMN … AUTO_INCREMENT`; `ADD COLUMN … AS (…) STORED`",
    help: "a nullable plain column the app writes, filled for old rows by a backfill; or a `VIRTUAL` generated column",
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
        let c = &column.name;
        if column.identity || column.serial {
            out.report(format!(
                "`ADD COLUMN {c} … AUTO_INCREMENT` on `{table}` numbers every existing row: the table is rebuilt and writes wait until it is done"
            ));
        } else if let Some(g) = column.generated.as_ref().filter(|g| g.stored == Some(true)) {
            out.report(format!(
                "`ADD COLUMN {c} … AS ({}) STORED` on `{table}` computes and stores it for every row by copying the table (ALGORITHM=COPY): writes wait for the whole copy",
                g.expr.text
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str =
        "CREATE TABLE items (id bigint NOT NULL, price int, qty int, UNIQUE KEY (id));";
    const RULE: &str = "mysql-add-column-computed";

    #[test]
    fn flags_auto_increment_and_stored() {
        let h = mysql_hits(
            SETUP,
            "ALTER TABLE items ADD COLUMN n bigint NOT NULL AUTO_INCREMENT, ADD PRIMARY KEY (n);",
            RULE,
        );
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("AUTO_INCREMENT"), "{}", h[0].message);
        let h = mysql_hits(
            SETUP,
            "ALTER TABLE items ADD COLUMN total int AS (price * qty) STORED;",
            RULE,
        );
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("STORED"), "{}", h[0].message);
        let h = Case::mariadb(
            SETUP,
            &[(
                Phase::Expand,
                "ALTER TABLE items ADD COLUMN total int GENERATED ALWAYS AS (price * qty) STORED;",
            )],
        )
        .hits(RULE);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn virtual_is_fine() {
        for sql in [
            "ALTER TABLE items ADD COLUMN total int AS (price * qty);",
            "ALTER TABLE items ADD COLUMN total int GENERATED ALWAYS AS (price * qty) VIRTUAL;",
        ] {
            assert!(mysql_hits(SETUP, sql, RULE).is_empty(), "{sql}");
        }
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-add-column-computed): 100 rows\nALTER TABLE items ADD COLUMN total int AS (price * qty) STORED;";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN id int NOT NULL AUTO_INCREMENT PRIMARY KEY;";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
