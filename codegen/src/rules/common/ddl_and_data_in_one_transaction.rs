//! `ddl-and-data-in-one-transaction`: an explicit `BEGIN … COMMIT` that both changes a table's
//! schema and updates, deletes or `INSERT … SELECT`s its rows.
//!
//! Reported at the second statement of the pair, whichever comes first. Checked in expand,
//! contract and down; in backfill.sql every DDL and `BEGIN` is already `ddl-in-backfill`.
//! A table created earlier in the same file is empty: exempt. On MySQL the DDL commits the
//! transaction implicitly, so the message says that instead of a held lock
//! (`mysql-ddl-in-transaction` covers the broken atomicity itself).

use crate::change::{Change, ObjectKind, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "ddl-and-data-in-one-transaction",
    severity: Severity::Error,
    summary: "an explicit transaction that changes a table's schema and updates or deletes its rows",
    help: "split them: the DDL in expand.sql or contract.sql without an explicit transaction, the data change in backfill.sql (keyset batches)",
    check,
    fix: None,
};

/// Tables whose rows a data change touches, and its verb.
fn data_change(change: &Change) -> Option<(&'static str, &QualName)> {
    match change {
        Change::Update { table, .. } => Some(("UPDATE", table)),
        Change::Delete { table, .. } => Some(("DELETE", table)),
        Change::Insert {
            table, select_from, ..
        } if !select_from.is_empty() => Some(("INSERT … SELECT", table)),
        _ => None,
    }
}

/// Tables whose schema or lock a DDL statement changes, and its label.
fn ddl_tables(change: &Change) -> Option<(&'static str, Vec<&QualName>)> {
    let (label, tables) = match change {
        Change::AlterTable { table, .. } => ("ALTER TABLE", vec![table]),
        Change::CreateIndex(ci) => ("CREATE INDEX", vec![&ci.table]),
        Change::Truncate { tables } => ("TRUNCATE", tables.iter().collect()),
        Change::LockTable { tables } => ("LOCK TABLE", tables.iter().collect()),
        Change::CreateTrigger { table, .. } => ("CREATE TRIGGER", vec![table]),
        Change::CreateRule { table } => ("CREATE RULE", vec![table]),
        Change::RewriteTable { table: Some(t), .. } => ("a table rewrite", vec![t]),
        Change::DropObjects {
            kind: ObjectKind::Table,
            names,
            ..
        } => ("DROP TABLE", names.iter().collect()),
        _ => return None,
    };
    Some((label, tables))
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase == Phase::Backfill {
        return;
    }
    let Some(earlier) = &ctx.file.open_transaction else {
        return;
    };
    let pg = ctx.is_postgres();
    if let Some((verb, table)) = data_change(ctx.change) {
        if !ctx.is_existing_table(table) {
            return;
        }
        let Some(label) = earlier.iter().find_map(|c| {
            ddl_tables(c).and_then(|(label, ts)| ts.contains(&table).then_some(label))
        }) else {
            return;
        };
        out.report(if pg {
            format!("`{verb}` of `{table}` runs in the same explicit transaction as `{label}` on it: the DDL's lock (ACCESS EXCLUSIVE for most forms) is held until COMMIT, so the app's queries on `{table}` wait for the whole data change")
        } else {
            format!("`{verb}` of `{table}` follows `{label}` on it in one explicit transaction: MySQL commits at the DDL, so the block is not atomic and the data change runs as one long transaction next to the DDL")
        });
        return;
    }
    let Some((label, tables)) = ddl_tables(ctx.change) else {
        return;
    };
    for table in tables {
        if !ctx.is_existing_table(table) {
            continue;
        }
        let Some(verb) = earlier
            .iter()
            .find_map(|c| data_change(c).and_then(|(verb, t)| (t == table).then_some(verb)))
        else {
            continue;
        };
        out.report(if pg {
            format!("`{label}` on `{table}` follows `{verb}` of it in the same explicit transaction: the data change's row locks are held while the DDL waits for its lock, and the DDL's lock is then held until COMMIT")
        } else {
            format!("`{label}` on `{table}` follows `{verb}` of it in one explicit transaction: MySQL commits implicitly at the DDL, so the block is not atomic")
        });
        return;
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);\nCREATE TABLE orders (id bigint PRIMARY KEY, total int);";
    const ID: &str = "ddl-and-data-in-one-transaction";

    #[test]
    fn flags_ddl_then_data_on_the_same_table() {
        let sql = "BEGIN;\nALTER TABLE users ADD COLUMN full_name text;\nUPDATE users SET full_name = name WHERE id > 0;\nCOMMIT;";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].line, 3);
        assert!(
            hits[0].message.contains("`UPDATE` of `users`")
                && hits[0].message.contains("ALTER TABLE"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn flags_data_then_ddl_on_the_same_table() {
        let sql = "BEGIN;\nDELETE FROM users WHERE email IS NULL;\nCREATE INDEX users_email ON users (email);\nCOMMIT;";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].line, 3);
        assert!(
            hits[0]
                .message
                .contains("`CREATE INDEX` on `users` follows `DELETE`"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn different_tables_or_no_transaction_are_quiet() {
        let sql = "BEGIN;\nALTER TABLE users ADD COLUMN full_name text;\nUPDATE orders SET total = 0 WHERE id = 1;\nCOMMIT;\nALTER TABLE orders ADD COLUMN note text;\nUPDATE orders SET note = '' WHERE id = 2;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
        // After COMMIT the transaction is over.
        let sql = "BEGIN;\nALTER TABLE users ADD COLUMN a text;\nCOMMIT;\nUPDATE users SET a = '' WHERE id = 1;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn table_created_in_the_same_file_is_exempt() {
        let sql = "BEGIN;\nCREATE TABLE t (id int, v int);\nALTER TABLE t ADD COLUMN w int;\nUPDATE t SET w = v;\nCOMMIT;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn contract_and_down_are_checked_backfill_is_left_to_ddl_in_backfill() {
        let sql = "BEGIN;\nALTER TABLE users DROP COLUMN name;\nUPDATE users SET email = lower(email) WHERE id = 1;\nCOMMIT;";
        for phase in [Phase::Contract, Phase::Down] {
            assert_eq!(
                Case::pg(SETUP, &[(phase, sql)]).hits(ID).len(),
                1,
                "{phase:?}"
            );
        }
        assert!(Case::pg(SETUP, &[(Phase::Backfill, sql)])
            .hits(ID)
            .is_empty());
    }

    #[test]
    fn mysql_wording() {
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text);",
            &[(Phase::Expand, "START TRANSACTION;\nALTER TABLE users ADD COLUMN full_name text;\nUPDATE users SET full_name = name;\nCOMMIT;")],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("not atomic"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\n-- concertina:allow(ddl-and-data-in-one-transaction): orders holds 12 rows\nUPDATE orders SET note = '' WHERE total > 0;\nCOMMIT;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
