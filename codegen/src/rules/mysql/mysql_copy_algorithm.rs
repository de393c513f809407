//! `mysql-copy-algorithm`: an explicit `ALGORITHM=COPY`, `LOCK=SHARED` or `LOCK=EXCLUSIVE`
//! asks InnoDB to block writes (or all access) for the whole copy of the table. MariaDB 11.4+
//! copies online when told `ALGORITHM=COPY, LOCK=NONE` (writes go on): that form is a warning.
//! `CREATE INDEX … ALGORITHM=COPY` is read from the statement's text (sqlparser drops it).

use super::{algorithm, at_least, is_mariadb, lock};
use crate::change::Change;
use crate::diag::Severity;
use crate::fix::{sqltext, Edit, Fix, NoFix};
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-copy-algorithm",
    severity: Severity::Error,
    summary: "explicit `ALGORITHM=COPY`, `LOCK=SHARED` or `LOCK=EXCLUSIVE`",
    help: "drop the clause (the runtime asks for INSTANT or INPLACE with LOCK=NONE); if the server then refuses, follow the recipe of the rule that names the change",
    check,
    fix: Some(fix),
};

/// Drops `ALGORITHM=COPY`, `LOCK=SHARED` and `LOCK=EXCLUSIVE` with the comma that joins each
/// to the rest; every other byte stays. The runtime then asks for INSTANT or INPLACE with
/// LOCK=NONE.
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let text = ctx.text();
    let toks = sqltext::tokens(text)
        .ok_or_else(|| NoFix::because("the statement's text could not be read token by token"))?;
    let copy_online = clause(text, "ALGORITHM").as_deref() == Some("COPY")
        && clause(text, "LOCK").as_deref() == Some("NONE");
    if copy_online && is_mariadb(ctx) && at_least(ctx, 11, 4, 0) {
        return Err(NoFix::because("`ALGORITHM=COPY, LOCK=NONE` asks for MariaDB's online copy on purpose: without it the server may refuse the change or block writes; keep it with an `allow`, or follow the recipe of the rule that names the change"));
    }
    let comma = |i: usize| toks.get(i).is_some_and(|t| &text[t.start..t.end] == ",");
    let mut edits = Vec::new();
    let mut done = 0;
    for (i, t) in toks.iter().enumerate() {
        let blocking: &[&str] = if t.depth > 0 {
            continue;
        } else if t.is(text, "ALGORITHM") {
            &["COPY"]
        } else if t.is(text, "LOCK") {
            &["SHARED", "EXCLUSIVE"]
        } else {
            continue;
        };
        let equals = usize::from(
            toks.get(i + 1)
                .is_some_and(|e| &text[e.start..e.end] == "="),
        );
        let v = i + 1 + equals;
        let Some(value) = toks
            .get(v)
            .filter(|v| blocking.iter().any(|b| v.is(text, b)))
        else {
            continue;
        };
        let (start, end) = if i > 0 && comma(i - 1) && toks[i - 1].start >= done {
            (toks[i - 1].start, value.end)
        } else if comma(v + 1) {
            (
                t.start,
                toks.get(v + 2).map_or(toks[v + 1].end, |n| n.start),
            )
        } else {
            let before = i.checked_sub(1).map_or(t.start, |p| toks[p].end);
            (before.max(done), value.end)
        };
        done = end;
        edits.push(Edit::Replace {
            start: ctx.statement.start + start,
            end: ctx.statement.start + end,
            text: String::new(),
        });
    }
    if edits.is_empty() {
        return Err(NoFix::because(
            "the clause is not written as `ALGORITHM=COPY` or `LOCK=SHARED|EXCLUSIVE`",
        ));
    }
    Ok(Fix { edits })
}

/// `KEY=VALUE` in the statement's words, spaces around `=` allowed.
fn clause(text: &str, key: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let mut from = 0;
    while let Some(at) = upper[from..].find(key) {
        let start = from + at;
        let before_ok = start == 0
            || !upper.as_bytes()[start - 1].is_ascii_alphanumeric()
                && upper.as_bytes()[start - 1] != b'_';
        let rest = upper[start + key.len()..].trim_start();
        if before_ok {
            if let Some(value) = rest.strip_prefix('=') {
                let value: String = value
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                return Some(value);
            }
        }
        from = start + key.len();
    }
    None
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let (table, algo, lock) = match ctx.change {
        Change::AlterTable { table, ops, .. } => (
            table,
            algorithm(ops).map(str::to_string),
            lock(ops).map(str::to_string),
        ),
        Change::CreateIndex(ci) => (
            &ci.table,
            clause(ctx.text(), "ALGORITHM"),
            clause(ctx.text(), "LOCK"),
        ),
        _ => return,
    };
    if !ctx.is_existing_table(table) {
        return;
    }
    let copy = algo.as_deref() == Some("COPY");
    let blocking_lock = matches!(lock.as_deref(), Some("SHARED" | "EXCLUSIVE"));
    if copy && lock.as_deref() == Some("NONE") && is_mariadb(ctx) && at_least(ctx, 11, 4, 0) {
        out.report_as(
            Severity::Warning,
            format!("`ALGORITHM=COPY, LOCK=NONE` on `{table}`: MariaDB copies the whole table online (writes go on), but time, disk and replica lag grow with the table"),
        );
        return;
    }
    if blocking_lock {
        let what = if lock.as_deref() == Some("SHARED") {
            "writes"
        } else {
            "reads and writes"
        };
        out.report(format!(
            "`LOCK={}` on `{table}`: {what} wait for the whole ALTER",
            lock.unwrap_or_default()
        ));
    } else if copy {
        out.report(format!(
            "`ALGORITHM=COPY` on `{table}`: InnoDB copies the whole table into a new one and writes wait until the copy is done"
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));";
    const RULE: &str = "mysql-copy-algorithm";

    #[test]
    fn flags_copy_and_blocking_locks() {
        let h = mysql_hits(
            SETUP,
            "ALTER TABLE users ADD COLUMN a int, ALGORITHM=COPY;",
            RULE,
        );
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("ALGORITHM=COPY"), "{}", h[0].message);
        let h = mysql_hits(
            SETUP,
            "ALTER TABLE users ADD INDEX e (email), LOCK=SHARED;",
            RULE,
        );
        assert!(h[0].message.contains("LOCK=SHARED"), "{}", h[0].message);
        let h = mysql_hits(
            SETUP,
            "CREATE INDEX e ON users (email) ALGORITHM = COPY;",
            RULE,
        );
        assert_eq!(h.len(), 1, "{h:?}");
    }

    #[test]
    fn online_clauses_are_fine() {
        for sql in [
            "ALTER TABLE users ADD COLUMN a int, ALGORITHM=INSTANT;",
            "ALTER TABLE users ADD INDEX e (email), ALGORITHM=INPLACE, LOCK=NONE;",
            "CREATE INDEX e ON users (email);",
        ] {
            assert!(mysql_hits(SETUP, sql, RULE).is_empty(), "{sql}");
        }
    }

    #[test]
    fn online_copy_on_mariadb_11_4_is_a_warning() {
        let sql = "ALTER TABLE users MODIFY email varchar(300), ALGORITHM=COPY, LOCK=NONE;";
        let run = |server| {
            Case::mysql(SETUP, &[(Phase::Expand, sql)])
                .dialect(DialectKind::MariaDb)
                .server(server)
                .hits(RULE)
        };
        let h = run("11.4");
        assert_eq!(h.len(), 1);
        assert!(!h[0].is_error());
        assert!(run("10.11")[0].is_error());
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-copy-algorithm): 20 rows\nALTER TABLE users FORCE, ALGORITHM=COPY;";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new =
            "CREATE TABLE t (id int PRIMARY KEY);\nALTER TABLE t ADD COLUMN a int, ALGORITHM=COPY;";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }

    #[test]
    fn fix_drops_the_blocking_clauses_with_their_commas() {
        for (sql, fixed) in [
            (
                "ALTER TABLE users ADD COLUMN a int, ALGORITHM=COPY;",
                "ALTER TABLE users ADD COLUMN a int;",
            ),
            (
                "ALTER TABLE users ALGORITHM = COPY, LOCK=SHARED, ADD INDEX e (email);",
                "ALTER TABLE users ADD INDEX e (email);",
            ),
            (
                "ALTER TABLE users ADD INDEX e (email), ALGORITHM=INPLACE, LOCK=EXCLUSIVE;",
                "ALTER TABLE users ADD INDEX e (email), ALGORITHM=INPLACE;",
            ),
            (
                "CREATE INDEX e ON users (email) ALGORITHM = COPY LOCK = SHARED;",
                "CREATE INDEX e ON users (email);",
            ),
        ] {
            let (files, left) = Case::mysql(SETUP, &[(Phase::Expand, sql)]).fixed();
            assert_eq!(files, [(Phase::Expand, fixed.to_string())], "{sql}");
            assert!(left.iter().all(|(rule, _)| rule != RULE), "{sql}: {left:?}");
        }
    }

    #[test]
    fn the_online_copy_on_mariadb_is_left_as_written() {
        let sql = "ALTER TABLE users MODIFY email varchar(300), ALGORITHM=COPY, LOCK=NONE;";
        let (files, left) = Case::mysql(SETUP, &[(Phase::Expand, sql)])
            .dialect(DialectKind::MariaDb)
            .server("11.4")
            .fixed();
        assert_eq!(files, [(Phase::Expand, sql.to_string())]);
        assert!(
            left.iter()
                .any(|(rule, why)| rule == RULE && why.contains("online copy")),
            "{left:?}"
        );
    }
}
