//! `add-column-default-old-server`: before PostgreSQL 11, `ADD COLUMN … DEFAULT` with any
//! non-NULL default rewrites the table under ACCESS EXCLUSIVE (11+ keeps a non-volatile default
//! in the catalog). A volatile default is `add-column-volatile-default`'s on every version and
//! is not reported twice.

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::rules::postgres::add_column_volatile_default::volatile_function;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-default-old-server",
    severity: Severity::Error,
    summary: "`ADD COLUMN … DEFAULT` with any non-NULL default, before PostgreSQL 11",
    help: "expand: add the column without a default, then `ALTER COLUMN … SET DEFAULT …` (new rows only); backfill: the old rows",
    check,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.server_at_least(11, 0) {
        return;
    }
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return;
    };
    if !ctx.is_existing_table(table) {
        return;
    }
    for op in ops {
        let AlterOp::AddColumn { column, .. } = op else {
            continue;
        };
        let Some(default) = column.default.as_ref().filter(|d| !d.is_null) else {
            continue;
        };
        if volatile_function(ctx, default).is_some() {
            continue;
        }
        out.report(format!(
            "`ADD COLUMN {} … DEFAULT {}` on `{table}`: before PostgreSQL 11 every existing row is rewritten with the default under ACCESS EXCLUSIVE (server_version is {})",
            column.name, default.text, ctx.config.server_version
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY);";
    const RULE: &str = "add-column-default-old-server";
    const SQL: &str = "ALTER TABLE users ADD COLUMN status text DEFAULT 'active';";

    #[test]
    fn flags_defaults_before_11_only() {
        assert_eq!(
            Case::pg(SETUP, &[(Phase::Expand, SQL)])
                .server("10")
                .hits(RULE)
                .len(),
            1
        );
        assert!(Case::pg(SETUP, &[(Phase::Expand, SQL)])
            .server("11")
            .hits(RULE)
            .is_empty());
    }

    #[test]
    fn volatile_defaults_are_reported_once_by_the_other_rule() {
        let sql = "ALTER TABLE users ADD COLUMN r float DEFAULT random();";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).server("10").run();
        let rules: Vec<&str> = all.iter().map(|d| d.rule.as_str()).collect();
        assert_eq!(rules, ["add-column-volatile-default"]);
    }

    #[test]
    fn no_default_or_null_default_is_fine() {
        let sql = "ALTER TABLE users ADD COLUMN a text;\nALTER TABLE users ADD COLUMN b text DEFAULT NULL;";
        assert!(Case::pg(SETUP, &[(Phase::Expand, sql)])
            .server("10")
            .hits(RULE)
            .is_empty());
    }
}
