//! `mysql-combined-alter`: one ALTER runs with one algorithm, the slowest its actions need. An
//! `ADD`/`DROP COLUMN` that alone would be INSTANT becomes part of an INPLACE rebuild (or a
//! COPY) when the same statement also adds an index, a constraint or changes a column's type
//! (observed on MariaDB 10.11); with `ALGORITHM=INSTANT` the server refuses the statement.
//! Renames and default changes stay metadata-only under INPLACE, so they do not count.
//!
//! Fix: one `ALTER TABLE` per action, in order ([`split_alter`](crate::fix::split::split_alter)).

use super::{
    algorithm, computed, instant_add, instant_drop, is_mariadb, modifies, positioned,
    spec_is_primary, type_copy,
};
use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-combined-alter",
    severity: Severity::Warning,
    summary: "one ALTER mixing an INSTANT change with one that needs INPLACE or COPY (e.g. `ADD COLUMN` + `ADD INDEX`)",
    help: "one ALTER per change: the INSTANT one on its own, then the one that builds or rebuilds",
    check,
    fix: Some(crate::fix::split::split_alter),
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let mut instant = Vec::new();
    let mut slow = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            AlterOp::AddColumn { column, .. } => {
                // MariaDB adds a column with a CHECK instantly (measured on 10.11).
                let constrained = column
                    .constraints
                    .iter()
                    .any(|c| !matches!(c.kind, ConstraintKind::Check { .. }) || !is_mariadb(ctx));
                if computed(column) || spec_is_primary(column) || constrained {
                    slow.push(format!(
                        "`ADD COLUMN {}` with a constraint or computed value",
                        column.name
                    ));
                } else if instant_add(ctx, positioned(ops, i, &column.name)) {
                    instant.push(format!("`ADD COLUMN {}`", column.name));
                }
            }
            AlterOp::DropColumn { name, .. } if instant_drop(ctx) => {
                instant.push(format!("`DROP COLUMN {name}`"));
            }
            AlterOp::AddIndex { kind, .. } => slow.push(format!("`ADD {kind}`")),
            AlterOp::AddConstraint(c) => {
                slow.push(format!("`ADD {}`", c.kind.label().to_uppercase()))
            }
            AlterOp::DropPrimaryKey => slow.push("`DROP PRIMARY KEY`".into()),
            AlterOp::DropIndexOrKey { name } => {
                slow.push(format!("`DROP INDEX|FOREIGN KEY {name}`"))
            }
            AlterOp::ConvertCharset { .. } => slow.push("`CONVERT TO CHARACTER SET`".into()),
            AlterOp::Rewrite { what } => slow.push(format!("`{what}`")),
            _ => {}
        }
    }
    for (_, old, new) in modifies(ctx, table, ops) {
        let changes_type = type_copy(&old.ty, &new.ty, None, None).is_some();
        let changes_null = old.nullable == (new.not_null || spec_is_primary(new));
        if changes_type || changes_null {
            slow.push(format!("`MODIFY {}`", new.name));
        }
    }
    if instant.is_empty() || slow.is_empty() {
        return;
    }
    let outcome = if algorithm(ops) == Some("INSTANT") {
        "with `ALGORITHM=INSTANT` the server refuses the statement".to_string()
    } else {
        format!(
            "the whole statement takes the slowest algorithm, so {} rebuilds the table instead of being INSTANT",
            instant.join(", ")
        )
    };
    out.report(format!(
        "one ALTER on `{table}` mixes {} with {}: {outcome}",
        instant.join(", "),
        slow.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id int NOT NULL, email varchar(100), name varchar(40), PRIMARY KEY (id));";
    const RULE: &str = "mysql-combined-alter";

    #[test]
    fn flags_instant_mixed_with_inplace() {
        let h = mysql_hits(
            SETUP,
            "ALTER TABLE users ADD COLUMN a int, ADD INDEX users_email (email);",
            RULE,
        );
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("ADD COLUMN a"), "{}", h[0].message);
        let h = mysql_hits(SETUP, "ALTER TABLE users DROP COLUMN name, MODIFY email varchar(100) NOT NULL, ALGORITHM=INSTANT;", RULE);
        assert!(h[0].message.contains("refuses"), "{}", h[0].message);
    }

    #[test]
    fn a_checked_column_is_instant_on_mariadb_only() {
        let sql = "ALTER TABLE users ADD COLUMN a int, ADD COLUMN b int CHECK (b > 0);";
        assert_eq!(mysql_hits(SETUP, sql, RULE).len(), 1);
        let phases = [(crate::layout::Phase::Expand, sql)];
        let maria = crate::rules::testing::Case::mariadb(SETUP, &phases).hits(RULE);
        assert!(maria.is_empty(), "{maria:?}");
    }

    #[test]
    fn one_kind_per_statement_is_fine() {
        for sql in [
            "ALTER TABLE users ADD COLUMN a int, ADD COLUMN b int;",
            "ALTER TABLE users ADD INDEX e (email), ADD INDEX n (name);",
            "ALTER TABLE users RENAME COLUMN name TO full_name, ADD INDEX e (email);",
        ] {
            assert!(mysql_hits(SETUP, sql, RULE).is_empty(), "{sql}");
        }
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-combined-alter): small table\nALTER TABLE users ADD COLUMN a int, ADD INDEX e (email);";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int, ADD INDEX ta (a);";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }

    #[test]
    fn fix_splits_the_statement_one_action_each() {
        let setup = "CREATE TABLE users (id int PRIMARY KEY, name varchar(40));";
        let sql = "ALTER TABLE `users` ADD COLUMN nickname varchar(40) AFTER name, ADD INDEX users_name (name);";
        let (files, left) = Case::mysql(setup, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files[0].1,
            "ALTER TABLE `users` ADD COLUMN nickname varchar(40) AFTER name;\nALTER TABLE `users` ADD INDEX users_name (name);"
        );
        assert!(
            left.iter().all(|(r, _)| r != "mysql-combined-alter"),
            "{left:?}"
        );
        let sql = "ALTER TABLE users ADD COLUMN a int, ADD INDEX i (name), ALGORITHM=INPLACE;";
        let (files, left) = Case::mysql(setup, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(files[0].1, sql);
        let (_, why) = left
            .iter()
            .find(|(r, _)| r == "mysql-combined-alter")
            .expect("listed");
        assert!(why.contains("ALGORITHM"), "{why}");
    }
}
