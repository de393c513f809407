//! `reindex-not-concurrent`: `REINDEX` without `CONCURRENTLY` blocks writes to the table and
//! the queries that would use the index for the whole rebuild. `CONCURRENTLY` exists from 12.

use crate::change::Change;
use crate::diag::Severity;
use crate::fix::{recipes, Fix, NoFix};
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "reindex-not-concurrent",
    severity: Severity::Error,
    summary: "`REINDEX INDEX/TABLE/SCHEMA/DATABASE` without `CONCURRENTLY`",
    help: "12+: `REINDEX … CONCURRENTLY`; before 12: build a twin index `CONCURRENTLY`, then `DROP INDEX CONCURRENTLY` the old one",
    check,
    fix: Some(fix),
};

/// `REINDEX INDEX a` → `REINDEX INDEX CONCURRENTLY a` (12+).
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Change::Reindex { target, .. } = ctx.change else {
        return Err(NoFix::because("not a `REINDEX`"));
    };
    if !ctx.server_at_least(12, 0) {
        return Err(NoFix::because("`REINDEX CONCURRENTLY` needs PostgreSQL 12; before it the recipe is a twin index built `CONCURRENTLY` under a name of your choosing, then the old one dropped"));
    }
    if target == "SYSTEM" {
        return Err(NoFix::because(
            "`REINDEX SYSTEM` has no concurrent form: run it outside migrations",
        ));
    }
    if ctx.in_transaction() {
        return Err(NoFix::because(recipes::IN_TRANSACTION));
    }
    recipes::insert_after_word(ctx, target, "CONCURRENTLY")
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::Reindex {
        target,
        name,
        concurrently,
    } = ctx.change
    else {
        return;
    };
    // `CONCURRENTLY` before 12 is `feature-newer-than-server`'s (the server refuses it).
    if *concurrently {
        return;
    }
    // A table (or an index of a table) created earlier in this file is empty.
    let table = name.as_ref().map(|n| {
        ctx.schema
            .indexes
            .get(n)
            .map_or_else(|| n.clone(), |i| i.table.clone())
    });
    if table.as_ref().is_some_and(|t| ctx.is_new_table(t)) {
        return;
    }
    let scope = match target.as_str() {
        "SCHEMA" | "DATABASE" | "SYSTEM" => "every table it covers",
        _ => "the table",
    };
    let what = match name {
        Some(n) => format!("`REINDEX {target} {n}`"),
        None => format!("`REINDEX {target}`"),
    };
    let fix = if ctx.server_at_least(12, 0) {
        "add `CONCURRENTLY`"
    } else {
        "before 12, build a twin index `CONCURRENTLY` instead"
    };
    out.report(format!(
        "{what} without `CONCURRENTLY` blocks writes to {scope}, and queries that would use the indexes, for the whole rebuild ({fix})"
    ));
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email ON users (email);";
    const RULE: &str = "reindex-not-concurrent";

    #[test]
    fn flags_plain_reindex() {
        assert_eq!(
            expand_hits(
                SETUP,
                "REINDEX INDEX users_email;\nREINDEX TABLE users;",
                RULE
            )
            .len(),
            2
        );
        let old = Case::pg(SETUP, &[(Phase::Expand, "REINDEX TABLE users;")])
            .server("11")
            .hits(RULE);
        assert!(old[0].message.contains("before 12"));
    }

    #[test]
    fn concurrently_is_fine_from_12_and_another_rules_before() {
        assert!(expand_hits(SETUP, "REINDEX INDEX CONCURRENTLY users_email;", RULE).is_empty());
        let old = Case::pg(
            SETUP,
            &[(Phase::Expand, "REINDEX INDEX CONCURRENTLY users_email;")],
        )
        .server("11")
        .hits("feature-newer-than-server");
        assert_eq!(old.len(), 1);
        assert!(
            old[0].message.contains("PostgreSQL 12+"),
            "{}",
            old[0].message
        );
    }

    #[test]
    fn every_target_and_option_list() {
        for sql in [
            "REINDEX SCHEMA public;",
            "REINDEX DATABASE app;",
            "REINDEX (VERBOSE) TABLE users;",
        ] {
            let hits = expand_hits(SETUP, sql, RULE);
            assert_eq!(hits.len(), 1, "{sql}");
            assert!(hits[0].message.contains("add `CONCURRENTLY`"));
        }
        assert!(expand_hits(SETUP, "REINDEX (VERBOSE) TABLE CONCURRENTLY users;", RULE).is_empty());
    }

    #[test]
    fn flagged_in_contract_and_suppressible() {
        let hits = Case::pg(SETUP, &[(Phase::Contract, "REINDEX TABLE users;")]).hits(RULE);
        assert_eq!(hits.len(), 1);
        let sql = "-- concertina:allow(reindex-not-concurrent): corrupted index, maintenance window\nREINDEX TABLE users;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != RULE && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn new_tables_are_exempt() {
        let sql = "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nREINDEX INDEX t_a;\nREINDEX TABLE t;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn fix_adds_concurrently_after_the_target_from_12() {
        let sql = "REINDEX (VERBOSE) TABLE users;";
        let (files, left) = Case::pg(SETUP, &[(Phase::Contract, sql)]).fixed();
        assert_eq!(
            files,
            [(
                Phase::Contract,
                "REINDEX (VERBOSE) TABLE CONCURRENTLY users;".to_string()
            )]
        );
        assert!(left.is_empty(), "{left:?}");
        let (files, left) = Case::pg(SETUP, &[(Phase::Contract, sql)])
            .server("11")
            .fixed();
        assert_eq!(files, [(Phase::Contract, sql.to_string())]);
        assert!(
            left.iter()
                .any(|(_, why)| why.contains("needs PostgreSQL 12")),
            "{left:?}"
        );
    }
}
