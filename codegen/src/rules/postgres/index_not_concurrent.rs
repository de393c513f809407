//! `index-not-concurrent`: `CREATE [UNIQUE] INDEX` without `CONCURRENTLY` on an existing table.

use crate::change::Change;
use crate::diag::Severity;
use crate::fix::{recipes, Fix, NoFix};
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "index-not-concurrent",
    severity: Severity::Error,
    summary: "`CREATE [UNIQUE] INDEX` without `CONCURRENTLY` on an existing table (expression and partial indexes alike)",
    help: "use `CREATE [UNIQUE] INDEX CONCURRENTLY`; the runtime runs it outside a transaction",
    check,
    fix: Some(fix),
};

/// `CREATE [UNIQUE] INDEX` → `CREATE [UNIQUE] INDEX CONCURRENTLY`, the rest as written.
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    if ctx.in_transaction() {
        return Err(NoFix::because(recipes::IN_TRANSACTION));
    }
    recipes::insert_after_prefix(ctx, &["CREATE", "UNIQUE?", "INDEX"], "CONCURRENTLY")
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::CreateIndex(ci) = ctx.change else {
        return;
    };
    if ci.concurrently || !ctx.is_existing_table(&ci.table) {
        return;
    }
    // A partitioned parent is `index-on-partitioned-table`'s case.
    if ctx.schema.table(&ci.table).is_some_and(|t| t.partitioned) {
        return;
    }
    // A materialized view has no writes but `REFRESH`: its readers go on during the build.
    if ctx
        .schema
        .views
        .get(&ci.table)
        .is_some_and(|v| v.materialized)
    {
        out.items.push(crate::rules::Finding {
            message: format!(
                "`CREATE {}INDEX` on materialized view `{}` without `CONCURRENTLY` holds a SHARE lock for the whole build: its readers go on, a `REFRESH` waits",
                if ci.unique { "UNIQUE " } else { "" },
                ci.table
            ),
            severity: Some(crate::diag::Severity::Warning),
            help: None,
        });
        return;
    }
    out.report(format!(
        "`CREATE {}INDEX` on `{}` without `CONCURRENTLY` holds a SHARE lock for the whole build: every write to the table waits",
        if ci.unique { "UNIQUE " } else { "" },
        ci.table
    ));
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);";

    #[test]
    fn a_materialized_view_blocks_only_its_refresh_and_a_new_one_nothing() {
        let setup = format!(
            "{SETUP}\nCREATE MATERIALIZED VIEW user_emails AS SELECT id, email FROM users;"
        );
        let hits = expand_hits(
            &setup,
            "CREATE INDEX user_emails_email ON user_emails (email);",
            "index-not-concurrent",
        );
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            !hits[0].is_error() && hits[0].message.contains("REFRESH"),
            "{hits:?}"
        );
        let hits = expand_hits(
            SETUP,
            "CREATE MATERIALIZED VIEW recent AS SELECT id FROM users WITH NO DATA;\nCREATE UNIQUE INDEX recent_id ON recent (id);",
            "index-not-concurrent",
        );
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn flags_plain_index_on_existing_table() {
        let hits = expand_hits(
            SETUP,
            "CREATE INDEX users_email ON users (email);",
            "index-not-concurrent",
        );
        assert_eq!(hits.len(), 1);
        assert_eq!((hits[0].line, hits[0].column), (1, 1));
        assert!(
            hits[0].message.contains("SHARE lock"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn flags_unique_expression_and_partial_indexes() {
        let sql = "CREATE UNIQUE INDEX a ON users (lower(email));\nCREATE INDEX b ON users (email) WHERE email IS NOT NULL;";
        assert_eq!(expand_hits(SETUP, sql, "index-not-concurrent").len(), 2);
    }

    #[test]
    fn concurrent_index_is_safe() {
        let sql = "CREATE INDEX CONCURRENTLY users_email ON users (email);";
        assert!(expand_hits(SETUP, sql, "index-not-concurrent").is_empty());
    }

    #[test]
    fn table_created_in_same_file_is_exempt() {
        let sql = "CREATE TABLE t (id int);\nCREATE INDEX t_id ON t (id);";
        assert!(expand_hits(SETUP, sql, "index-not-concurrent").is_empty());
    }

    #[test]
    fn table_created_in_expand_is_not_new_by_contract() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (id int);"),
                (Phase::Contract, "CREATE INDEX t_id ON t (id);"),
            ],
        )
        .hits("index-not-concurrent");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].file, "0002_change/contract.sql");
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(index-not-concurrent): the table holds ten rows\nCREATE INDEX users_email ON users (email);";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != "index-not-concurrent" && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn fix_adds_concurrently_and_keeps_every_other_byte() {
        let sql = "-- the lookup by address\nCREATE UNIQUE INDEX IF NOT EXISTS \"Users_Email\" ON users (lower(email)) WHERE email IS NOT NULL;\n\nCREATE INDEX /* plain */ users_id ON users (id);\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files,
            [(Phase::Expand, "-- the lookup by address\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Users_Email\" ON users (lower(email)) WHERE email IS NOT NULL;\n\nCREATE INDEX CONCURRENTLY /* plain */ users_id ON users (id);\n".to_string())]
        );
        // The unique index is enforced for the old app's writes at once: compat's, not ours.
        assert!(
            left.iter().all(|(rule, _)| rule != "index-not-concurrent"),
            "{left:?}"
        );
    }

    #[test]
    fn no_fix_inside_a_transaction() {
        let sql = "BEGIN;\nCREATE INDEX users_email ON users (email);\nCOMMIT;\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(files, [(Phase::Expand, sql.to_string())]);
        assert!(
            left.iter()
                .any(|(rule, why)| rule == "index-not-concurrent" && why.contains("BEGIN")),
            "{left:?}"
        );
    }
}
