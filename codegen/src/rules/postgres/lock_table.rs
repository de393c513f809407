//! `lock-table`: an explicit `LOCK TABLE` holds its lock to the end of the transaction.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "lock-table",
    severity: Severity::Error,
    summary: "`LOCK TABLE`",
    help: "remove it and express the change as phases: the runtime takes each statement's lock for as short a time as it can, under lock_timeout",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::LockTable { tables } = ctx.change else {
        return;
    };
    let existing: Vec<String> = tables
        .iter()
        .filter(|t| ctx.is_existing_table(t))
        .map(|t| format!("`{t}`"))
        .collect();
    if existing.is_empty() && !tables.is_empty() {
        return;
    }
    let what = if existing.is_empty() {
        "the tables it names".to_string()
    } else {
        existing.join(", ")
    };
    out.report(format!(
        "`LOCK TABLE` holds an explicit lock on {what} until the transaction ends: the app's queries queue behind it"
    ));
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY);";

    #[test]
    fn flags_lock_table() {
        let hits = expand_hits(
            SETUP,
            "BEGIN;\nLOCK TABLE users IN ACCESS EXCLUSIVE MODE;\nCOMMIT;",
            "lock-table",
        );
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 2);
    }

    #[test]
    fn a_new_table_is_exempt() {
        let sql = "CREATE TABLE t (a int);\nLOCK TABLE t;";
        assert!(expand_hits(SETUP, sql, "lock-table").is_empty());
    }
}
