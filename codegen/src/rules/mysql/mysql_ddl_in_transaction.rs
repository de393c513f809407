//! `mysql-ddl-in-transaction`: MySQL and MariaDB commit implicitly before (and after) every
//! DDL statement, so a `START TRANSACTION … COMMIT` around DDL is not atomic: the DML before
//! the DDL commits early and a later `ROLLBACK` undoes nothing of the DDL.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-ddl-in-transaction",
    severity: Severity::Error,
    summary: "DDL inside `START TRANSACTION … COMMIT`",
    help: "no explicit transaction around DDL: each DDL statement commits on its own (the runtime runs them one by one); data changes go to backfill.sql",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if !ctx.in_transaction() || !ctx.change.is_ddl() {
        return;
    }
    // An unreadable statement is `unparsed-statement`'s; a procedural block is no DDL itself.
    if matches!(ctx.change, Change::Opaque { .. } | Change::ProceduralBlock) {
        return;
    }
    out.report(
        "DDL inside an explicit transaction: MySQL commits implicitly at it, so what ran before it in the transaction is committed early and a later ROLLBACK cannot undo it",
    );
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));";
    const RULE: &str = "mysql-ddl-in-transaction";

    #[test]
    fn flags_ddl_in_a_transaction() {
        let sql = "START TRANSACTION;\nALTER TABLE users ADD COLUMN a int;\nCREATE TABLE t (id int);\nCOMMIT;";
        let h = mysql_hits(SETUP, sql, RULE);
        assert_eq!(h.iter().map(|d| d.line).collect::<Vec<_>>(), [2, 3]);
        let h = Case::mysql(
            SETUP,
            &[(
                Phase::Contract,
                "BEGIN;\nALTER TABLE users DROP COLUMN email;\nCOMMIT;",
            )],
        )
        .hits(RULE);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn outside_a_transaction_or_dml_only_is_fine() {
        assert!(mysql_hits(SETUP, "ALTER TABLE users ADD COLUMN a int;", RULE).is_empty());
        let dml = "START TRANSACTION;\nINSERT INTO users (id) VALUES (1);\nCOMMIT;\nALTER TABLE users ADD COLUMN a int;";
        assert!(mysql_hits(SETUP, dml, RULE).is_empty());
    }

    #[test]
    fn suppressed() {
        let sql = "START TRANSACTION;\n-- concertina:allow(mysql-ddl-in-transaction): reviewed\nALTER TABLE users ADD COLUMN a int;\nCOMMIT;";
        assert!(mysql_hits(SETUP, sql, RULE).is_empty());
    }
}
