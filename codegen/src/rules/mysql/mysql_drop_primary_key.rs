//! `mysql-drop-primary-key`: InnoDB clusters rows by the primary key; dropping it without
//! adding another in the same statement needs a COPY (writes blocked). `DROP PRIMARY KEY,
//! ADD PRIMARY KEY (…)` in one ALTER runs INPLACE with `LOCK=NONE` (a rebuild:
//! `mysql-online-rebuild`).

use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-drop-primary-key",
    severity: Severity::Error,
    summary: "`DROP PRIMARY KEY` without an `ADD PRIMARY KEY` in the same statement",
    help: "`DROP PRIMARY KEY, ADD PRIMARY KEY (…)` in one ALTER (INPLACE, LOCK=NONE; still a rebuild), or a new table and a batched copy",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let drops = ops.iter().any(|op| matches!(op, AlterOp::DropPrimaryKey));
    let adds = ops.iter().any(|op| {
        matches!(op, AlterOp::AddConstraint(c) if matches!(c.kind, ConstraintKind::PrimaryKey { .. }))
            || matches!(op, AlterOp::AddColumn { column, .. } if super::spec_is_primary(column))
    });
    if drops && !adds {
        out.report(format!(
            "`DROP PRIMARY KEY` on `{table}` without a new primary key in the same statement: InnoDB copies the whole table (ALGORITHM=COPY) and writes wait until it is done"
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::mysql_hits;

    const SETUP: &str =
        "CREATE TABLE users (id bigint NOT NULL, email varchar(100) NOT NULL, PRIMARY KEY (id));";
    const RULE: &str = "mysql-drop-primary-key";

    #[test]
    fn flags_a_bare_drop() {
        let h = mysql_hits(SETUP, "ALTER TABLE users DROP PRIMARY KEY;", RULE);
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("users"));
    }

    #[test]
    fn swap_in_one_statement_is_this_rules_recipe() {
        let sql = "ALTER TABLE users DROP PRIMARY KEY, ADD PRIMARY KEY (id, email);";
        assert!(mysql_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-drop-primary-key): tiny lookup table\nALTER TABLE users DROP PRIMARY KEY;";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new =
            "CREATE TABLE t (id int NOT NULL, PRIMARY KEY (id));\nALTER TABLE t DROP PRIMARY KEY;";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
