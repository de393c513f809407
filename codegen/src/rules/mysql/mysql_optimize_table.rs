//! `mysql-optimize-table`: `OPTIMIZE TABLE`, `ALTER TABLE … FORCE` and `ALTER TABLE …
//! ENGINE=InnoDB` rebuild the whole table (INPLACE and online, but COPY with FULLTEXT
//! indexes); time, disk and replica lag grow with the table. Maintenance, not a migration
//! step (the one planned rebuild that `mysql-instant-row-versions` asks for takes an `allow`).

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-optimize-table",
    severity: Severity::Error,
    summary: "`OPTIMIZE TABLE`, `ALTER TABLE … FORCE` / `ENGINE=InnoDB`",
    help: "not a migration step: run it as maintenance (an online schema change tool for large tables); a planned rebuild takes a reviewed `concertina:allow(mysql-optimize-table): reason`",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let (table, what) = match ctx.change {
        Change::RewriteTable {
            table: Some(table),
            what,
        } if what == "OPTIMIZE TABLE" => (table, "OPTIMIZE TABLE".to_string()),
        Change::AlterTable { table, ops, .. } => {
            let Some(what) = ops.iter().find_map(|op| match op {
                AlterOp::Rewrite { what } if what == "FORCE" => {
                    Some("ALTER TABLE … FORCE / ENGINE=".to_string())
                }
                _ => None,
            }) else {
                return;
            };
            (table, what)
        }
        _ => return,
    };
    if !ctx.is_existing_table(table) {
        return;
    }
    out.report(format!(
        "`{what}` rebuilds the whole of `{table}`: time, disk and I/O grow with the table and replicas lag by the whole rebuild (writes are blocked if it has a FULLTEXT index)"
    ));
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::mysql_hits;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));";
    const RULE: &str = "mysql-optimize-table";

    #[test]
    fn flags_rebuilds() {
        for sql in [
            "OPTIMIZE TABLE users;",
            "ALTER TABLE users FORCE;",
            "ALTER TABLE users ENGINE=InnoDB;",
        ] {
            let h = mysql_hits(SETUP, sql, RULE);
            assert_eq!(h.len(), 1, "{sql}: {h:?}");
            assert!(h[0].message.contains("users"), "{}", h[0].message);
        }
    }

    #[test]
    fn other_alters_and_new_tables_are_fine() {
        assert!(mysql_hits(SETUP, "ALTER TABLE users ADD COLUMN a int;", RULE).is_empty());
        assert!(mysql_hits(SETUP, "CREATE TABLE t (id int);\nOPTIMIZE TABLE t;", RULE).is_empty());
        assert!(mysql_hits(
            SETUP,
            "-- concertina:allow(mysql-optimize-table): planned rebuild\nALTER TABLE users FORCE;",
            RULE
        )
        .is_empty());
    }
}
