//! `add-column-default-old-server`: before PostgreSQL 11, `ADD COLUMN … DEFAULT` with any
//! non-NULL default rewrites the table under ACCESS EXCLUSIVE (11+ keeps a non-volatile default
//! in the catalog, `now()` included). What rewrites on every version (a volatile default, a
//! domain with constraints) is `add-column-volatile-default`'s and is not reported twice.

use crate::change::AlterOp;
use crate::diag::Severity;
use crate::rules::postgres::add_column_volatile_default::rewrite_reason;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-default-old-server",
    severity: Severity::Error,
    summary: "`ADD COLUMN … DEFAULT` with any non-NULL default, before PostgreSQL 11",
    help: "expand: add the column without a default, then `ALTER COLUMN … SET DEFAULT …` (new rows only); backfill: the old rows",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.server_at_least(11, 0) {
        return;
    }
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let AlterOp::AddColumn { column, .. } = op else {
            continue;
        };
        let Some(default) = column.default.as_ref().filter(|d| !d.is_null) else {
            continue;
        };
        if rewrite_reason(ctx, column).is_some() {
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

    fn hits(setup: &str, sql: &str, server: &str) -> Vec<crate::diag::Diagnostic> {
        Case::pg(setup, &[(Phase::Expand, sql)])
            .server(server)
            .hits(RULE)
    }

    #[test]
    fn flags_defaults_before_11_only() {
        let old = hits(SETUP, SQL, "10");
        assert_eq!(old.len(), 1);
        assert!(old[0].message.contains("before PostgreSQL 11"));
        assert!(hits(SETUP, SQL, "9.6").len() == 1);
        assert!(hits(SETUP, SQL, "11").is_empty());
        let now = "ALTER TABLE users ADD COLUMN at timestamptz NOT NULL DEFAULT now();";
        assert_eq!(hits(SETUP, now, "10").len(), 1);
        assert!(hits(SETUP, now, "11").is_empty());
    }

    #[test]
    fn volatile_defaults_are_reported_once_by_the_other_rule() {
        let sql = "ALTER TABLE users ADD COLUMN r float DEFAULT random();";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).server("10").run();
        let rules: Vec<&str> = all.iter().map(|d| d.rule.as_str()).collect();
        assert_eq!(rules, ["add-column-volatile-default"]);
        let setup = "CREATE DOMAIN positive AS int CHECK (VALUE > 0);\nCREATE TABLE users (id bigint PRIMARY KEY);";
        let all = Case::pg(
            setup,
            &[(
                Phase::Expand,
                "ALTER TABLE users ADD COLUMN n positive DEFAULT 1;",
            )],
        )
        .server("10")
        .run();
        let rules: Vec<&str> = all.iter().map(|d| d.rule.as_str()).collect();
        assert_eq!(rules, ["add-column-volatile-default"]);
    }

    #[test]
    fn no_default_or_null_default_is_fine() {
        let sql = "ALTER TABLE users ADD COLUMN a text;\nALTER TABLE users ADD COLUMN b text DEFAULT NULL;";
        assert!(hits(SETUP, sql, "10").is_empty());
    }

    #[test]
    fn new_table_is_exempt_but_not_by_contract() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b text DEFAULT 'x';";
        assert!(hits(SETUP, sql, "10").is_empty());
        let later = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (a int);"),
                (
                    Phase::Contract,
                    "ALTER TABLE t ADD COLUMN b text DEFAULT 'x';",
                ),
            ],
        )
        .server("10")
        .hits(RULE);
        assert_eq!(later.len(), 1);
    }
}
