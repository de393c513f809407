//! `mysql-online-rebuild`: INPLACE changes that rebuild the table. Writes go on (`LOCK=NONE`),
//! but time, disk and I/O grow with the table and replicas apply the DDL only after the
//! primary finished it, lagging by the whole rebuild. Flagged: reordering columns (instant on
//! MariaDB 10.4+), `NOT NULL`→`NULL` (MariaDB 10.11 refuses it as INSTANT and as NOCOPY with
//! the default `ROW_FORMAT=DYNAMIC`: measured), `ADD PRIMARY KEY` (also
//! after `DROP PRIMARY KEY`), `ROW_FORMAT=`, and `ADD`/`DROP COLUMN` where INSTANT does not
//! apply on the configured server. Computed columns are `mysql-add-column-computed`'s.

use super::{
    at_least, computed, instant_add, instant_drop, is_mariadb, modifies, positioned,
    spec_is_primary,
};
use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-online-rebuild",
    severity: Severity::Warning,
    summary: "INPLACE changes that rebuild: reordering columns, `NOT NULL`→`NULL`, `ADD PRIMARY KEY`, `ROW_FORMAT`, `ADD`/`DROP COLUMN` where INSTANT does not apply",
    help: "fine for modest tables; for large ones an online schema change tool outside migrations (and mind replica lag)",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let mariadb_instant = is_mariadb(ctx) && at_least(ctx, 10, 4, 0);
    let mut reasons = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            AlterOp::AddColumn { column, .. } if !computed(column) => {
                let moved = positioned(ops, i, &column.name);
                if !instant_add(ctx, moved) {
                    reasons.push(format!(
                        "`ADD COLUMN {}`{} is not INSTANT on this server version",
                        column.name,
                        if moved { " with FIRST/AFTER" } else { "" }
                    ));
                }
            }
            AlterOp::DropColumn { name, .. } if !instant_drop(ctx) => {
                reasons.push(format!(
                    "`DROP COLUMN {name}` is not INSTANT before MySQL 8.0.29 / MariaDB 10.4"
                ));
            }
            AlterOp::MoveColumn { column, .. }
                if !mariadb_instant
                    && matches!(ops.get(i.wrapping_sub(1)), Some(AlterOp::ModifyColumn { column: c, .. }) if &c.name == column) =>
            {
                reasons.push(format!("moving column `{column}` (FIRST/AFTER)"));
            }
            AlterOp::AddConstraint(c) if matches!(c.kind, ConstraintKind::PrimaryKey { .. }) => {
                reasons.push("`ADD PRIMARY KEY`".into());
            }
            AlterOp::Rewrite { what } if what == "ROW_FORMAT" => {
                reasons.push("`ROW_FORMAT=`".into());
            }
            _ => {}
        }
    }
    for (_, old, new) in modifies(ctx, table, ops) {
        if !old.nullable && !new.not_null && !spec_is_primary(new) {
            reasons.push(format!("`MODIFY {}` makes it nullable", new.name));
        }
    }
    if reasons.is_empty() {
        return;
    }
    out.report(format!(
        "{} on `{table}` rebuilds the table online (INPLACE): writes go on, but time, disk and I/O grow with the table and replicas lag by the whole rebuild",
        reasons.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id int NOT NULL, email varchar(100) NOT NULL, name varchar(40), PRIMARY KEY (id));";
    const RULE: &str = "mysql-online-rebuild";

    #[test]
    fn flags_rebuilds() {
        for sql in [
            "ALTER TABLE users MODIFY email varchar(100) NULL;",
            "ALTER TABLE users MODIFY name varchar(40) FIRST;",
            "ALTER TABLE users DROP PRIMARY KEY, ADD PRIMARY KEY (id, email);",
            "ALTER TABLE users ROW_FORMAT=COMPRESSED;",
        ] {
            let h = mysql_hits(SETUP, sql, RULE);
            assert_eq!(h.len(), 1, "{sql}: {h:?}");
            assert!(!h[0].is_error());
        }
    }

    #[test]
    fn add_and_drop_column_depend_on_the_version() {
        let run = |sql: &'static str, server: &'static str| {
            Case::mysql(SETUP, &[(Phase::Contract, sql)])
                .server(server)
                .hits(RULE)
                .len()
        };
        assert_eq!(run("ALTER TABLE users DROP COLUMN name;", "8.0.35"), 0);
        assert_eq!(run("ALTER TABLE users DROP COLUMN name;", "8.0.28"), 1);
        assert_eq!(run("ALTER TABLE users ADD COLUMN a int;", "8.0.12"), 0);
        assert_eq!(
            run("ALTER TABLE users ADD COLUMN a int AFTER id;", "8.0.28"),
            1
        );
        assert_eq!(
            run("ALTER TABLE users ADD COLUMN a int AFTER id;", "8.0.29"),
            0
        );
        assert_eq!(run("ALTER TABLE users ADD COLUMN a int;", "8.0.11"), 1);
        let maria = |sql: &'static str, server: &'static str| {
            Case::mariadb(SETUP, &[(Phase::Contract, sql)])
                .server(server)
                .hits(RULE)
                .len()
        };
        assert_eq!(maria("ALTER TABLE users DROP COLUMN name;", "10.3"), 1);
        assert_eq!(maria("ALTER TABLE users DROP COLUMN name;", "10.4"), 0);
        assert_eq!(
            maria("ALTER TABLE users MODIFY email varchar(100) NULL;", "10.11"),
            1
        );
        assert_eq!(
            maria("ALTER TABLE users MODIFY name varchar(40) FIRST;", "10.11"),
            0
        );
    }

    #[test]
    fn instant_changes_are_fine() {
        for sql in [
            "ALTER TABLE users ADD COLUMN a int;",
            "ALTER TABLE users RENAME COLUMN name TO full_name;",
            "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x';",
            "ALTER TABLE users ADD INDEX users_name (name);",
        ] {
            assert!(mysql_hits(SETUP, sql, RULE).is_empty(), "{sql}");
        }
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-online-rebuild): 1000 rows\nALTER TABLE users MODIFY email varchar(100) NULL;";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new = "CREATE TABLE t (a int NOT NULL, b int);\nALTER TABLE t ADD PRIMARY KEY (a), MODIFY b int FIRST;";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
