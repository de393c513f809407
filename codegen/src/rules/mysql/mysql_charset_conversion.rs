//! `mysql-charset-conversion`: `CONVERT TO CHARACTER SET`, or a column's `CHARACTER SET` /
//! `COLLATE` changed by `MODIFY`/`CHANGE`, re-encodes every row: a COPY on MySQL 8.0 (the
//! table's default alone, `DEFAULT CHARSET=…`, is metadata). A `MODIFY` that leaves out the
//! column's `CHARACTER SET` converts it to the table default, so that counts too. MariaDB
//! 10.4+ converts `utf8mb3`→`utf8mb4` and changes collations within a character set without a
//! copy (an index on the column is rebuilt, NOCOPY): not flagged there. A column without a
//! character set of its own has the table's (`DEFAULT CHARSET=…`), else `utf8mb4`.

use super::{at_least, effective_charset, is_mariadb, is_text_type, modifies};
use crate::change::AlterOp;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-charset-conversion",
    severity: Severity::Error,
    summary: "`CONVERT TO CHARACTER SET`, a column `CHARACTER SET`/`COLLATE` change",
    help: "a new column in the new character set, dual-written, backfilled in batches, switched, the old one dropped in contract; on MariaDB 10.4+ try `ALGORITHM=NOCOPY`",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        if let AlterOp::ConvertCharset { charset } = op {
            out.report(format!(
                "`CONVERT TO CHARACTER SET {charset}` on `{table}` re-encodes every text column: InnoDB copies the whole table and writes wait until it is done"
            ));
        }
    }
    let mariadb_online = is_mariadb(ctx) && at_least(ctx, 10, 4, 0);
    for (_, old, new) in modifies(ctx, table, ops) {
        if !is_text_type(&old.ty) || !is_text_type(&new.ty) {
            continue;
        }
        let old_cs =
            effective_charset(ctx, table, old.charset.as_deref(), old.collation.as_deref());
        let new_cs =
            effective_charset(ctx, table, new.charset.as_deref(), new.collation.as_deref());
        let lower = |c: &Option<String>| {
            c.as_ref()
                .map(|c| c.trim_matches(['`', '\'', '"']).to_lowercase())
        };
        let collation_changed =
            new.collation.is_some() && lower(&new.collation) != lower(&old.collation);
        let why = if old_cs != new_cs {
            if mariadb_online && old_cs == "utf8mb3" && new_cs == "utf8mb4" {
                continue;
            }
            if new.charset.is_none() && new.collation.is_none() {
                format!("the restated column has no `CHARACTER SET`, so it is converted from `{old_cs}` to the table default")
            } else {
                format!("character set `{old_cs}` → `{new_cs}`")
            }
        } else if collation_changed {
            if mariadb_online {
                continue;
            }
            format!(
                "collation → `{}`",
                lower(&new.collation).unwrap_or_default()
            )
        } else {
            continue;
        };
        out.report(format!(
            "`MODIFY` of `{table}.{}`: {why}; every row is re-encoded by copying the table (ALGORITHM=COPY), writes wait until it is done",
            old.name
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id int PRIMARY KEY, name varchar(40), legacy varchar(40) CHARACTER SET utf8mb3, bio text CHARACTER SET latin1 COLLATE latin1_swedish_ci);";
    const RULE: &str = "mysql-charset-conversion";

    #[test]
    fn flags_conversions() {
        for sql in [
            "ALTER TABLE users CONVERT TO CHARACTER SET utf8mb4;",
            "ALTER TABLE users MODIFY name varchar(40) CHARACTER SET latin1;",
            "ALTER TABLE users MODIFY legacy varchar(40) CHARACTER SET utf8mb4;",
            "ALTER TABLE users MODIFY name varchar(40) COLLATE utf8mb4_bin;",
            "ALTER TABLE users MODIFY bio text;",
        ] {
            let h = mysql_hits(SETUP, sql, RULE);
            assert_eq!(h.len(), 1, "{sql}: {h:?}");
        }
    }

    #[test]
    fn restating_the_same_charset_is_fine() {
        for sql in [
            "ALTER TABLE users MODIFY bio text CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL;",
            "ALTER TABLE users MODIFY name varchar(40) NOT NULL;",
            "ALTER TABLE users MODIFY legacy varchar(40) CHARACTER SET utf8;",
        ] {
            assert!(mysql_hits(SETUP, sql, RULE).is_empty(), "{sql}");
        }
    }

    #[test]
    fn the_table_default_is_the_columns_charset() {
        let setup =
            "CREATE TABLE old (id int PRIMARY KEY, name varchar(40)) DEFAULT CHARSET=latin1;";
        let restate = "ALTER TABLE old MODIFY name varchar(40) NOT NULL DEFAULT '';";
        assert!(mysql_hits(setup, restate, RULE).is_empty());
        let convert = "ALTER TABLE old MODIFY name varchar(40) CHARACTER SET utf8mb4;";
        assert_eq!(mysql_hits(setup, convert, RULE).len(), 1);
        let setup =
            "CREATE TABLE old (id int PRIMARY KEY, name varchar(40)) COLLATE=latin1_swedish_ci;";
        assert_eq!(mysql_hits(setup, convert, RULE).len(), 1);
        // A new table default reaches new columns only: `name` stays latin1, so restating it
        // without a character set converts it to the new default.
        let setup = "CREATE TABLE old (id int PRIMARY KEY, name varchar(40)) CHARSET latin1;\nALTER TABLE old DEFAULT CHARACTER SET = utf8mb4;";
        assert_eq!(mysql_hits(setup, restate, RULE).len(), 1);
        let keep =
            "ALTER TABLE old MODIFY name varchar(40) CHARACTER SET latin1 NOT NULL DEFAULT '';";
        assert!(mysql_hits(setup, keep, RULE).is_empty());
    }

    #[test]
    fn mariadb_converts_utf8mb3_without_copy() {
        let sql = "ALTER TABLE users MODIFY legacy varchar(40) CHARACTER SET utf8mb4;";
        let h = Case::mariadb(SETUP, &[(Phase::Expand, sql)]).hits(RULE);
        assert!(h.is_empty(), "{h:?}");
        let h = Case::mariadb(SETUP, &[(Phase::Expand, sql)])
            .server("10.3")
            .hits(RULE);
        assert_eq!(h.len(), 1);
        let convert = "ALTER TABLE users CONVERT TO CHARACTER SET utf8mb4;";
        assert_eq!(
            Case::mariadb(SETUP, &[(Phase::Expand, convert)])
                .hits(RULE)
                .len(),
            1
        );
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-charset-conversion): small table\nALTER TABLE users CONVERT TO CHARACTER SET utf8mb4;";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new = "CREATE TABLE t (a varchar(10));\nALTER TABLE t CONVERT TO CHARACTER SET latin1;";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
