//! `mysql-add-check`: adding a CHECK constraint to an existing table (also as part of a new
//! column) validates every row by a table COPY: MySQL refuses INSTANT and INPLACE for it.
//! MySQL enforces CHECK from 8.0.16 (before, it is parsed and ignored: silent); MariaDB
//! from 10.2. MariaDB 10.11 adds a new column with its CHECK instantly (`ALGORITHM=INSTANT`
//! accepted, measured), so that form is flagged on MySQL only.

use super::{at_least, is_mariadb};
use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-add-check",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … CHECK`, or `ADD COLUMN … CHECK (…)`, on an existing table",
    help: "enforce the rule in the app during the window; a CHECK only on a new table (or in a new table that replaces this one)",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if !is_mariadb(ctx) && !at_least(ctx, 8, 0, 16) {
        return;
    }
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let (what, expr) = match op {
            AlterOp::AddConstraint(c) => match &c.kind {
                ConstraintKind::Check { expr, .. } => ("ADD CONSTRAINT … CHECK".to_string(), expr),
                _ => continue,
            },
            AlterOp::AddColumn { column, .. } if !is_mariadb(ctx) => {
                let Some(expr) = column.constraints.iter().find_map(|c| match &c.kind {
                    ConstraintKind::Check { expr, .. } => Some(expr),
                    _ => None,
                }) else {
                    continue;
                };
                (format!("ADD COLUMN {} … CHECK", column.name), expr)
            }
            _ => continue,
        };
        out.report(format!(
            "`{what} ({})` on `{table}` checks every row by copying the table (ALGORITHM=COPY): writes wait for the whole copy",
            expr.text
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE items (id bigint PRIMARY KEY, qty int);";
    const RULE: &str = "mysql-add-check";
    const ADD: &str = "ALTER TABLE items ADD CONSTRAINT qty_pos CHECK (qty > 0);";

    #[test]
    fn flags_checks_on_existing_tables() {
        let h = mysql_hits(SETUP, ADD, RULE);
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("qty > 0"), "{}", h[0].message);
        let col = "ALTER TABLE items ADD COLUMN price int CHECK (price >= 0);";
        assert_eq!(mysql_hits(SETUP, col, RULE).len(), 1);
        let h = Case::mariadb(SETUP, &[(Phase::Contract, ADD)]).hits(RULE);
        assert_eq!(h.len(), 1);
        let h = Case::mariadb(SETUP, &[(Phase::Expand, col)]).hits(RULE);
        assert!(h.is_empty(), "instant on MariaDB: {h:?}");
    }

    #[test]
    fn ignored_before_8_0_16() {
        let h = Case::mysql(SETUP, &[(Phase::Expand, ADD)])
            .server("8.0.15")
            .hits(RULE);
        assert!(h.is_empty());
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = format!("-- concertina:allow(mysql-add-check): 10 rows\n{ADD}");
        assert!(mysql_hits(SETUP, &allowed, RULE).is_empty());
        let new = "CREATE TABLE t (id int PRIMARY KEY, n int);\nALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0);";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
