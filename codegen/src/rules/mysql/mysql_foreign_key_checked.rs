//! `mysql-foreign-key-checked`: `ADD FOREIGN KEY` while `foreign_key_checks=1` (the default)
//! checks every row by a table COPY, writes blocked; INPLACE is allowed only with the checks
//! off (else error 1846/1851). Old rows are then not checked: the backfill's orphan query is
//! what proves them.

use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-foreign-key-checked",
    severity: Severity::Error,
    summary: "`ADD FOREIGN KEY` while `foreign_key_checks=1`",
    help: "`ADD INDEX` on the child columns first; query for orphans in backfill; then `SET foreign_key_checks = 0;` right before this ALTER and `SET foreign_key_checks = 1;` right after it (INPLACE; old rows are not re-checked)",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.file.foreign_key_checks_off {
        return;
    }
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let AlterOp::AddConstraint(c) = op else {
            continue;
        };
        let ConstraintKind::ForeignKey {
            columns, ref_table, ..
        } = &c.kind
        else {
            continue;
        };
        out.report(format!(
            "`ADD FOREIGN KEY ({}) REFERENCES {ref_table}` on `{table}` with `foreign_key_checks=1`: InnoDB checks every row by copying the table (ALGORITHM=COPY), writes wait for the whole copy",
            columns.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::mysql_hits;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, KEY (user_id));";
    const RULE: &str = "mysql-foreign-key-checked";
    const ADD: &str = "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id);";

    #[test]
    fn flags_checked_foreign_keys() {
        let h = mysql_hits(SETUP, ADD, RULE);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].message.contains("REFERENCES users"),
            "{}",
            h[0].message
        );
    }

    #[test]
    fn checks_off_is_the_recipe() {
        let sql = format!("SET foreign_key_checks = 0;\n{ADD}\nSET foreign_key_checks = 1;");
        assert!(mysql_hits(SETUP, &sql, RULE).is_empty());
        let sql = format!("SET @@session.foreign_key_checks = OFF;\n{ADD}");
        assert!(mysql_hits(SETUP, &sql, RULE).is_empty());
        // Turned back on before the ALTER: checked again.
        let sql = format!("SET foreign_key_checks = 0;\nSET foreign_key_checks = 1;\n{ADD}");
        assert_eq!(mysql_hits(SETUP, &sql, RULE).len(), 1);
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = format!("-- concertina:allow(mysql-foreign-key-checked): tiny table\n{ADD}");
        assert!(mysql_hits(SETUP, &allowed, RULE).is_empty());
        let new = "CREATE TABLE t (id int PRIMARY KEY, user_id bigint);\nALTER TABLE t ADD FOREIGN KEY (user_id) REFERENCES users (id);";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
