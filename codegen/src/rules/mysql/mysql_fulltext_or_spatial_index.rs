//! `mysql-fulltext-or-spatial-index`: InnoDB refuses `LOCK=NONE` for a FULLTEXT or SPATIAL
//! index, so writes wait for the whole build; the first FULLTEXT index also rebuilds the
//! table unless it has an `FTS_DOC_ID` column. `CREATE FULLTEXT INDEX … ON t` is read as the
//! same `ALTER TABLE t ADD FULLTEXT INDEX`.

use crate::change::AlterOp;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-fulltext-or-spatial-index",
    severity: Severity::Error,
    summary: "`ADD FULLTEXT INDEX`, `ADD SPATIAL INDEX`",
    help: "only on a new table (create it with the index, copy in batches, switch), or a reviewed `allow` at a quiet time",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let AlterOp::AddIndex { kind, columns, .. } = op else {
            continue;
        };
        if kind != "FULLTEXT" && kind != "SPATIAL" {
            continue;
        }
        out.report(format!(
            "{kind} index on `{table}` ({}): InnoDB refuses LOCK=NONE for it, so writes wait for the whole build{}",
            columns.join(", "),
            if kind == "FULLTEXT" {
                "; the first FULLTEXT index also rebuilds the table"
            } else {
                ""
            }
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::mysql_hits;

    const SETUP: &str =
        "CREATE TABLE posts (id bigint PRIMARY KEY, body text, spot point NOT NULL);";
    const RULE: &str = "mysql-fulltext-or-spatial-index";

    #[test]
    fn flags_both_forms() {
        for sql in [
            "ALTER TABLE posts ADD FULLTEXT INDEX posts_body (body);",
            "CREATE FULLTEXT INDEX posts_body ON posts (body);",
            "ALTER TABLE posts ADD SPATIAL INDEX posts_spot (spot);",
        ] {
            let h = mysql_hits(SETUP, sql, RULE);
            assert_eq!(h.len(), 1, "{sql}: {h:?}");
            assert!(h[0].message.contains("posts"), "{}", h[0].message);
        }
    }

    #[test]
    fn plain_index_is_fine() {
        assert!(mysql_hits(SETUP, "ALTER TABLE posts ADD INDEX b (id);", RULE).is_empty());
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-fulltext-or-spatial-index): quiet hour\nALTER TABLE posts ADD FULLTEXT INDEX b (body);";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new =
            "CREATE TABLE t (id int PRIMARY KEY, b text);\nCREATE FULLTEXT INDEX t_b ON t (b);";
        let all =
            crate::rules::testing::Case::mysql(SETUP, &[(crate::layout::Phase::Expand, new)]).run();
        assert!(all.is_empty(), "{all:?}");
    }
}
