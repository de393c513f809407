//! `mysql-null-to-not-null`: `MODIFY … NOT NULL` on a nullable column rebuilds the table
//! INPLACE (online only under a strict `sql_mode`) and fails on any NULL left. In expand the
//! old app's inserts that omit the column fail at once, so it is an error there; in contract,
//! after backfill filled the column, it is the expected step and only the rebuild is left:
//! a warning.

use super::{modifies, spec_is_primary};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-null-to-not-null",
    severity: Severity::Error,
    summary: "`MODIFY … NOT NULL` on a nullable column (E in expand, W in contract)",
    help: "contract only, after backfill filled the column; for a large table an online schema change tool outside migrations",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for (_, old, new) in modifies(ctx, table, ops) {
        if !old.nullable || !(new.not_null || spec_is_primary(new)) {
            continue;
        }
        let message = format!(
            "`MODIFY {} … NOT NULL` on `{table}`: the table is rebuilt (INPLACE, online only in strict sql_mode) and the statement fails on any NULL left",
            new.name
        );
        if ctx.phase == Phase::Contract {
            out.report_as(Severity::Warning, message);
        } else {
            out.report(format!(
                "{message}; meanwhile the old app's inserts that omit `{}` fail",
                new.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{mysql_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id int PRIMARY KEY, email varchar(100));";
    const RULE: &str = "mysql-null-to-not-null";
    const SQL: &str = "ALTER TABLE users MODIFY email varchar(100) NOT NULL;";

    #[test]
    fn error_in_expand_warning_in_contract() {
        let h = mysql_hits(SETUP, SQL, RULE);
        assert_eq!(h.len(), 1);
        assert!(h[0].is_error());
        let h = Case::mysql(
            SETUP,
            &[
                (
                    Phase::Backfill,
                    "UPDATE users SET email = '' WHERE email IS NULL;",
                ),
                (Phase::Contract, SQL),
            ],
        )
        .hits(RULE);
        assert_eq!(h.len(), 1);
        assert!(!h[0].is_error());
    }

    #[test]
    fn already_not_null_or_still_nullable_is_fine() {
        assert!(mysql_hits(
            SETUP,
            "ALTER TABLE users MODIFY email varchar(100) NULL;",
            RULE
        )
        .is_empty());
        let setup = "CREATE TABLE users (id int PRIMARY KEY, email varchar(100) NOT NULL);";
        assert!(mysql_hits(
            setup,
            "ALTER TABLE users MODIFY email varchar(100) NOT NULL DEFAULT '';",
            RULE
        )
        .is_empty());
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed =
            format!("-- concertina:allow(mysql-null-to-not-null): no app writes it yet\n{SQL}");
        assert!(mysql_hits(SETUP, &allowed, RULE).is_empty());
        let new = "CREATE TABLE t (a int);\nALTER TABLE t MODIFY a int NOT NULL;";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
