//! `drop-index-not-concurrent`: `DROP INDEX` without `CONCURRENTLY` takes ACCESS EXCLUSIVE on
//! the index's table. No scan, so it is short, but under steady long transactions the retries
//! may keep failing: a warning.

use crate::change::{Change, ObjectKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "drop-index-not-concurrent",
    severity: Severity::Warning,
    summary: "`DROP INDEX` without `CONCURRENTLY`",
    help: "`DROP INDEX CONCURRENTLY` (one index per statement, no `CASCADE`)",
    check,
};

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
        let on = table.map_or_else(|| "its table".to_string(), |t| format!("`{t}`"));
        out.report(format!(
            "`DROP INDEX {name}` without `CONCURRENTLY` takes ACCESS EXCLUSIVE on {on}: brief, but it waits for every open transaction on the table and queues the app behind it"
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email ON users (email);";
    const RULE: &str = "drop-index-not-concurrent";

    #[test]
    fn warns_on_a_plain_drop() {
        let hits = expand_hits(SETUP, "DROP INDEX users_email;", RULE);
        assert_eq!(hits.len(), 1);
        assert!(!hits[0].is_error());
        assert!(hits[0].message.contains("`users`"));
    }

    #[test]
    fn concurrently_is_fine() {
        assert!(expand_hits(SETUP, "DROP INDEX CONCURRENTLY users_email;", RULE).is_empty());
    }

    #[test]
    fn an_index_of_a_new_table_is_exempt() {
        let sql = "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nDROP INDEX t_a;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
