//! `drop-index-not-concurrent`: `DROP INDEX` without `CONCURRENTLY` takes ACCESS EXCLUSIVE on
//! the index's table. No scan, so it is short, but under steady long transactions the retries
//! may keep failing: a warning. An index of a partitioned table has no concurrent form
//! (measured on PostgreSQL 15: "cannot drop partitioned index … concurrently"), so the warning
//! there says so instead of offering it.

use crate::change::{Change, ObjectKind};
use crate::diag::Severity;
use crate::fix::{recipes, sqltext, Fix, NoFix};
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "drop-index-not-concurrent",
    severity: Severity::Warning,
    summary: "`DROP INDEX` without `CONCURRENTLY`",
    help: "`DROP INDEX CONCURRENTLY` (one index per statement, no `CASCADE`)",
    check,
    fix: Some(fix),
};

/// `DROP INDEX a` → `DROP INDEX CONCURRENTLY a`; several indexes → one statement each.
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Change::DropObjects {
        names,
        if_exists,
        cascade,
        ..
    } = ctx.change
    else {
        return Err(NoFix::because("not a `DROP INDEX`"));
    };
    if ctx.in_transaction() {
        return Err(NoFix::because(recipes::IN_TRANSACTION));
    }
    if *cascade {
        return Err(NoFix::because("`CASCADE` also drops what depends on the index, which `DROP INDEX CONCURRENTLY` refuses to do: drop the dependent objects first, by hand"));
    }
    let partitioned = names.iter().any(|n| {
        ctx.schema
            .indexes
            .get(n)
            .and_then(|i| ctx.schema.table(&i.table))
            .is_some_and(|t| t.partitioned)
    });
    if partitioned {
        return Err(NoFix::because(
            "PostgreSQL has no `DROP INDEX CONCURRENTLY` for an index of a partitioned table",
        ));
    }
    if let [_] = names.as_slice() {
        return recipes::insert_after_prefix(ctx, &["DROP", "INDEX"], "CONCURRENTLY");
    }
    let if_exists = if *if_exists { "IF EXISTS " } else { "" };
    let statements: Vec<String> = names
        .iter()
        .map(|n| {
            format!(
                "DROP INDEX CONCURRENTLY {if_exists}{}",
                sqltext::qualified(n, ctx.dialect)
            )
        })
        .collect();
    let s = ctx.statement;
    Ok(Fix::replace(s.start, s.end, statements.join(";\n")))
}

const PARTITIONED_HELP: &str = "PostgreSQL refuses `DROP INDEX CONCURRENTLY` on a partitioned index: keep the plain `DROP INDEX` alone in its statement (the runtime retries it under lock_timeout) and, if the warning is understood, `-- concertina:allow(drop-index-not-concurrent): reason`";

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::DropObjects {
        kind: ObjectKind::Index,
        names,
        concurrently: false,
        ..
    } = ctx.change
    else {
        return;
    };
    for name in names {
        let table = ctx.schema.indexes.get(name).map(|i| i.table.clone());
        if table.as_ref().is_some_and(|t| ctx.is_new_table(t)) {
            continue;
        }
        let partitioned = table
            .as_ref()
            .and_then(|t| ctx.schema.table(t))
            .is_some_and(|t| t.partitioned);
        let on = table.map_or_else(|| "its table".to_string(), |t| format!("`{t}`"));
        if partitioned {
            out.report_with_help(
                format!(
                    "`DROP INDEX {name}` takes ACCESS EXCLUSIVE on partitioned {on} and every partition: brief, but it waits for every open transaction on them and queues the app behind it"
                ),
                PARTITIONED_HELP,
            );
        } else {
            out.report(format!(
                "`DROP INDEX {name}` without `CONCURRENTLY` takes ACCESS EXCLUSIVE on {on}: brief, but it waits for every open transaction on the table and queues the app behind it"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email ON users (email);\nCREATE INDEX users_id ON users (id);";
    const RULE: &str = "drop-index-not-concurrent";

    #[test]
    fn warns_on_a_plain_drop() {
        let hits = expand_hits(SETUP, "DROP INDEX users_email;", RULE);
        assert_eq!(hits.len(), 1);
        assert!(!hits[0].is_error());
        assert!(hits[0].message.contains("`users`"));
        assert!(hits[0].help.contains("DROP INDEX CONCURRENTLY"));
    }

    #[test]
    fn one_warning_per_index() {
        let hits = expand_hits(SETUP, "DROP INDEX users_email, users_id;", RULE);
        assert_eq!(hits.len(), 2);
    }

    #[test]
    fn warns_in_contract_and_on_unknown_indexes() {
        let hits = Case::pg(SETUP, &[(Phase::Contract, "DROP INDEX IF EXISTS ghost;")]).hits(RULE);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("its table"), "{}", hits[0].message);
    }

    #[test]
    fn concurrently_is_fine() {
        assert!(expand_hits(SETUP, "DROP INDEX CONCURRENTLY users_email;", RULE).is_empty());
    }

    #[test]
    fn a_partitioned_index_gets_no_concurrent_recipe() {
        let setup =
            "CREATE TABLE p (id int, d date) PARTITION BY RANGE (d);\nCREATE INDEX p_d ON p (d);";
        let hits = expand_hits(setup, "DROP INDEX p_d;", RULE);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("partitioned `p`"),
            "{}",
            hits[0].message
        );
        assert!(hits[0].help.contains("refuses"), "{}", hits[0].help);
    }

    #[test]
    fn an_index_of_a_new_table_is_exempt() {
        let sql = "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nDROP INDEX t_a;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql =
            "-- concertina:allow(drop-index-not-concurrent): quiet table\nDROP INDEX users_email;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != RULE && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn fix_drops_each_index_concurrently_in_its_own_statement() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX a ON users (email);\nCREATE INDEX \"B\" ON users (id);";
        let (files, left) = Case::pg(
            setup,
            &[(Phase::Contract, "DROP INDEX IF EXISTS a, \"B\";\n")],
        )
        .fixed();
        assert_eq!(
            files,
            [(
                Phase::Contract,
                "DROP INDEX CONCURRENTLY IF EXISTS a;\nDROP INDEX CONCURRENTLY IF EXISTS \"B\";\n"
                    .to_string()
            )]
        );
        assert!(left.is_empty(), "{left:?}");
        let (_, left) = Case::pg(setup, &[(Phase::Contract, "DROP INDEX a CASCADE;")]).fixed();
        assert!(
            left.iter().any(|(_, why)| why.contains("CASCADE")),
            "{left:?}"
        );
    }
}
