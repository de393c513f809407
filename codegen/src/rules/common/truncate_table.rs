//! `truncate-table`: `TRUNCATE` of an existing table, in any phase (down included: a rollback
//! that empties a table loses the rows the apps wrote meanwhile).

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "truncate-table",
    severity: Severity::Error,
    summary: "`TRUNCATE` of an existing table",
    help: "contract: `DROP TABLE` once no app version reads it; to empty it while apps run, a batched `DELETE` in backfill.sql",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::Truncate { tables } = ctx.change else {
        return;
    };
    let existing: Vec<String> = tables
        .iter()
        .filter(|t| ctx.is_existing_table(t))
        .map(|t| format!("`{t}`"))
        .collect();
    if existing.is_empty() {
        return;
    }
    let lock = if ctx.is_postgres() {
        "takes ACCESS EXCLUSIVE: reads and writes wait behind it"
    } else {
        "takes an exclusive metadata lock and drops and recreates the table: reads and writes wait behind it"
    };
    out.report(format!(
        "`TRUNCATE` of {} {lock}, and it deletes every row the running app still reads",
        existing.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE TABLE logs (id bigint PRIMARY KEY);";
    const ID: &str = "truncate-table";

    #[test]
    fn flags_truncate_of_existing_tables_once_per_statement() {
        let hits = expand_hits(SETUP, "TRUNCATE users, logs;", ID);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].is_error());
        let m = &hits[0].message;
        assert!(
            m.contains("`users`") && m.contains("`logs`") && m.contains("ACCESS EXCLUSIVE"),
            "{m}"
        );
    }

    #[test]
    fn flags_in_every_phase() {
        for phase in [Phase::Backfill, Phase::Contract, Phase::Down] {
            let hits = Case::pg(SETUP, &[(phase, "TRUNCATE TABLE logs;")]).hits(ID);
            assert_eq!(hits.len(), 1, "{phase:?}");
        }
    }

    #[test]
    fn delete_is_not_truncate() {
        assert!(expand_hits(SETUP, "DELETE FROM logs WHERE id = 1;", ID).is_empty());
    }

    #[test]
    fn table_created_in_same_file_is_exempt() {
        let sql = "CREATE TABLE scratch (id int);\nTRUNCATE scratch;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
        // Only the existing table of a mixed statement is named.
        let sql = "CREATE TABLE scratch (id int);\nTRUNCATE scratch, logs;";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 1);
        assert!(!hits[0].message.contains("scratch"), "{}", hits[0].message);
    }

    #[test]
    fn table_created_in_expand_is_not_new_by_contract() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE scratch (id int);"),
                (Phase::Contract, "TRUNCATE scratch;"),
            ],
        )
        .hits(ID);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn mysql_wording() {
        let hits = Case::pg(
            "CREATE TABLE logs (id bigint PRIMARY KEY);",
            &[(Phase::Expand, "TRUNCATE TABLE logs;")],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("metadata lock"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql =
            "-- concertina:allow(truncate-table): cache table, rebuilt on demand\nTRUNCATE logs;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
