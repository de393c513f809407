//! `mysql-lock-tables`: `LOCK TABLES` holds its locks until `UNLOCK TABLES` (or the session
//! ends); every other session's access to the tables waits meanwhile. Phases are the way to
//! order a change, not explicit locks.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-lock-tables",
    severity: Severity::Error,
    summary: "`LOCK TABLES`",
    help: "remove it: express the change as expand, backfill and contract steps; the runtime keeps each statement's own locks short",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::LockTable { tables } = ctx.change else {
        return;
    };
    if !tables.is_empty() && tables.iter().all(|t| ctx.is_new_table(t)) {
        return;
    }
    let names: Vec<String> = tables.iter().map(ToString::to_string).collect();
    out.report(format!(
        "`LOCK TABLES {}` holds its locks until `UNLOCK TABLES`: the app's queries on them wait all that time",
        names.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY);";
    const RULE: &str = "mysql-lock-tables";

    #[test]
    fn flags_lock_tables() {
        let h = mysql_hits(SETUP, "LOCK TABLES users WRITE;\nUNLOCK TABLES;", RULE);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].message.contains("`LOCK TABLES users`"),
            "{}",
            h[0].message
        );
        let h = Case::mysql(SETUP, &[(Phase::Contract, "LOCK TABLES users READ;")]).hits(RULE);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn suppressed_and_new_table() {
        assert!(mysql_hits(
            SETUP,
            "-- concertina:allow(mysql-lock-tables): maintenance window\nLOCK TABLES users WRITE;",
            RULE
        )
        .is_empty());
        assert!(mysql_hits(
            SETUP,
            "CREATE TABLE t (id int);\nLOCK TABLES t WRITE;",
            RULE
        )
        .is_empty());
    }

    #[test]
    fn postgres_lock_table_is_not_this_rule() {
        let h = Case::pg(SETUP, &[(Phase::Expand, "LOCK TABLE users;")]).hits(RULE);
        assert!(h.is_empty());
    }
}
