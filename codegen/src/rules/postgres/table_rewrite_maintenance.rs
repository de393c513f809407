//! `table-rewrite-maintenance`: `VACUUM FULL`, `CLUSTER`, `SET TABLESPACE`, `SET LOGGED` /
//! `SET UNLOGGED` copy the whole relation under ACCESS EXCLUSIVE. Plain `VACUUM` and `ANALYZE`
//! are fine.

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "table-rewrite-maintenance",
    severity: Severity::Error,
    summary: "`VACUUM FULL`, `CLUSTER`, `ALTER TABLE/INDEX … SET TABLESPACE`, `SET LOGGED` / `SET UNLOGGED`",
    help: "not a migration step: use an online repack tool outside migrations; plain `VACUUM` / `ANALYZE` are fine",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let copy =
        "copies the whole relation under ACCESS EXCLUSIVE: reads and writes wait until it is done";
    match ctx.change {
        Change::RewriteTable { table, what } => {
            if table.as_ref().is_some_and(|t| ctx.is_new_table(t)) {
                return;
            }
            let on = table
                .as_ref()
                .map_or("every table".to_string(), |t| format!("`{t}`"));
            out.report(format!("`{what}` of {on} {copy}"));
        }
        Change::RewriteIndex { name, what } => {
            out.report(format!("`ALTER INDEX {name} {what}` {copy}"))
        }
        Change::AlterTable { table, ops, .. } if ctx.is_existing_table(table) => {
            for op in ops {
                if let AlterOp::Rewrite { what } = op {
                    out.report(format!("`ALTER TABLE {table} {what}` {copy}"));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str =
        "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE INDEX users_id_idx ON users (id);";
    const RULE: &str = "table-rewrite-maintenance";

    #[test]
    fn flags_every_rewrite() {
        let sql = "VACUUM FULL users;\nCLUSTER users USING users_id_idx;\nALTER TABLE users SET TABLESPACE fast;\nALTER TABLE users SET UNLOGGED;\nALTER INDEX users_id_idx SET TABLESPACE fast;";
        assert_eq!(expand_hits(SETUP, sql, RULE).len(), 5);
    }

    #[test]
    fn plain_vacuum_and_analyze_are_fine() {
        assert!(expand_hits(SETUP, "VACUUM users;\nANALYZE users;", RULE).is_empty());
    }

    #[test]
    fn new_table_is_exempt() {
        assert!(expand_hits(
            SETUP,
            "CREATE TABLE t (a int);\nALTER TABLE t SET LOGGED;",
            RULE
        )
        .is_empty());
    }
}
