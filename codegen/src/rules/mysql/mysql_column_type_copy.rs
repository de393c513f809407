//! `mysql-column-type-copy`: a `MODIFY` / `CHANGE COLUMN` to another type makes InnoDB copy
//! the table with writes blocked: `INT`→`BIGINT`, narrowing, signedness, `CHAR`↔`VARCHAR`, and
//! `VARCHAR` growth across the 255-byte length prefix (`utf8mb4` `VARCHAR(63)`→`(64)`).
//! Growth within the prefix is INPLACE without a rebuild. MariaDB 10.4+ widens some types
//! instantly (it depends on `ROW_FORMAT`): a widening that names `ALGORITHM=INSTANT|NOCOPY|
//! INPLACE` is left to the server, which refuses it rather than copy.

use super::{algorithm, at_least, effective_charset, is_mariadb, modifies, type_copy};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-column-type-copy",
    severity: Severity::Error,
    summary: "`MODIFY`/`CHANGE COLUMN` to another type: `INT`→`BIGINT`, narrowing, signedness, `VARCHAR` growth across the 255-byte length prefix, `CHAR`↔`VARCHAR`",
    help: "expand: a new column of the new type, written by the transition types; backfill: copy in batches; switch reads; contract: drop the old column (or an online schema change tool outside migrations)",
    check,
    fix: Some(crate::fix::new_column::type_change),
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let online_claimed = matches!(algorithm(ops), Some("INSTANT" | "NOCOPY" | "INPLACE"));
    for (_, old, new) in modifies(ctx, table, ops) {
        let old_cs =
            effective_charset(ctx, table, old.charset.as_deref(), old.collation.as_deref());
        let new_cs =
            effective_charset(ctx, table, new.charset.as_deref(), new.collation.as_deref());
        let Some((why, widens)) = type_copy(&old.ty, &new.ty, Some(&old_cs), Some(&new_cs)) else {
            continue;
        };
        if widens && online_claimed && is_mariadb(ctx) && at_least(ctx, 10, 4, 0) {
            continue;
        }
        out.report(format!(
            "`{}` of `{table}.{}`: {why}, so InnoDB copies the whole table (ALGORITHM=COPY) and writes wait until it is done",
            if new.name == old.name { "MODIFY" } else { "CHANGE COLUMN" },
            old.name
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str =
        "CREATE TABLE users (id int NOT NULL, name varchar(40), code char(4), PRIMARY KEY (id));";
    const RULE: &str = "mysql-column-type-copy";

    #[test]
    fn flags_copies() {
        for sql in [
            "ALTER TABLE users MODIFY id bigint NOT NULL;",
            "ALTER TABLE users MODIFY COLUMN name varchar(64);",
            "ALTER TABLE users MODIFY name varchar(20);",
            "ALTER TABLE users MODIFY id int unsigned NOT NULL;",
            "ALTER TABLE users CHANGE code code_v varchar(4);",
        ] {
            let h = mysql_hits(SETUP, sql, RULE);
            assert_eq!(h.len(), 1, "{sql}: {h:?}");
            assert!(h[0].message.contains("users."), "{}", h[0].message);
        }
    }

    #[test]
    fn growth_within_the_prefix_and_restatements_are_fine() {
        for sql in [
            "ALTER TABLE users MODIFY name varchar(63);",
            "ALTER TABLE users MODIFY name varchar(40) NOT NULL DEFAULT '';",
            "ALTER TABLE users CHANGE name full_name varchar(40);",
            "ALTER TABLE users MODIFY id integer(11) NOT NULL;",
        ] {
            assert!(mysql_hits(SETUP, sql, RULE).is_empty(), "{sql}");
        }
    }

    #[test]
    fn mariadb_widening_with_an_online_algorithm_is_left_to_the_server() {
        let run = |sql: &'static str, server: &'static str| {
            Case::mariadb(SETUP, &[(Phase::Expand, sql)])
                .server(server)
                .hits(RULE)
                .len()
        };
        let widen = "ALTER TABLE users MODIFY id bigint NOT NULL, ALGORITHM=INSTANT;";
        assert_eq!(run(widen, "10.11"), 0);
        assert_eq!(run(widen, "10.3"), 1);
        assert_eq!(
            run("ALTER TABLE users MODIFY id bigint NOT NULL;", "10.11"),
            1
        );
        assert_eq!(
            run(
                "ALTER TABLE users MODIFY id smallint NOT NULL, ALGORITHM=INSTANT;",
                "10.11"
            ),
            1
        );
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-column-type-copy): 50 rows\nALTER TABLE users MODIFY id bigint NOT NULL;";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new = "CREATE TABLE t (id int);\nALTER TABLE t MODIFY id bigint;";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
