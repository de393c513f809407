//! `mysql-null-to-not-null`: `MODIFY … NOT NULL` on a nullable column rebuilds the table
//! INPLACE (online only under a strict `sql_mode`) and fails on any NULL left. In expand the
//! old app's inserts that omit the column fail at once, so it is an error there; in contract,
//! after backfill filled the column, it is the expected step and only the rebuild is left:
//! a warning.
//!
//! Fix: a `MODIFY` that only makes the column NOT NULL (same name, type and nothing else
//! restated) moves, as written, from expand or backfill to the end of contract.sql, as
//! PostgreSQL's `SET NOT NULL` does. Old rows may hold NULL: unless backfill.sql already
//! assigns the column, `--fill t.c=EXPR` says what they get, in a backfill `UPDATE`.

use super::{modifies, spec_is_primary};
use crate::diag::Severity;
use crate::fix::decisions::flag_target;
use crate::fix::new_column::restates_more;
use crate::fix::sqltext::{ident, qualified};
use crate::fix::{recipes, Edit, Fix, NoFix};
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-null-to-not-null",
    severity: Severity::Error,
    summary: "`MODIFY … NOT NULL` on a nullable column (E in expand, W in contract)",
    help: "contract only, after backfill filled the column; for a large table an online schema change tool outside migrations",
    check,
    fix: Some(fix),
};

fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    match ctx.phase {
        Phase::Expand | Phase::Backfill => {}
        Phase::Contract => return Err(NoFix::because("in contract it is the expected step: what is left is the rebuild, for an online schema change tool on a large table")),
        Phase::Down => return Err(NoFix::because("it is in down.sql")),
    }
    let [(_, old, new)] = modifies(ctx, table, ops)[..] else {
        return Err(NoFix::because(
            "the statement restates more than one column",
        ));
    };
    if ops.len() > 1 {
        return Err(NoFix::because("the statement has other actions: split it (one action per `ALTER TABLE`) and run fix again"));
    }
    if !new.name.eq_ignore_ascii_case(&old.name) || new.ty != old.ty {
        return Err(NoFix::because("the `MODIFY` changes the column's name or type too: split that from the NOT NULL, and run fix again"));
    }
    if let Some(why) = restates_more(new) {
        return Err(NoFix::because(format!(
            "the `MODIFY` {why} too: split that from the NOT NULL, and run fix again"
        )));
    }
    if ctx.in_transaction() {
        return Err(NoFix::because("it is inside `BEGIN … COMMIT`: moving it out of the transaction changes what commits together"));
    }
    if !ctx.old_app_has_table(table) {
        return Err(NoFix::because(
            "the table is new in this migration: nothing to move",
        ));
    }
    let moved = recipes::move_to_contract(ctx)?;
    let (d, c) = (ctx.dialect, old.name.as_str());
    if let Some(value) = ctx.config.fix_decisions.fill(table, c) {
        let (name, col) = (qualified(table, d), ident(c, d));
        return Ok(moved.and(Edit::Append {
            phase: Phase::Backfill,
            text: format!("UPDATE {name} SET {col} = {value} WHERE {col} IS NULL;"),
        }));
    }
    // The window knows which columns backfill.sql assigns (MySQL names: any case).
    let backfilled = &ctx.window.backfilled;
    if backfilled
        .iter()
        .any(|(t, col)| t == table && col.eq_ignore_ascii_case(c))
    {
        return Ok(moved);
    }
    let target = flag_target(table, c, d.default_schema());
    Err(NoFix::needs(
        format!("--fill {target}=EXPR"),
        format!("old rows may hold NULL and no backfill `UPDATE` assigns `{c}`: run `cargo xtask migrate fix --fill {target}=EXPR` to write one with the value they get (or write it in backfill.sql, and run fix again)"),
    ))
}

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

    #[test]
    fn fix_moves_a_plain_not_null_to_contract_and_leaves_the_rest() {
        // Old rows need a value: without one, the flag that gives it is named.
        let (files, left) = Case::mysql(SETUP, &[(Phase::Expand, SQL)]).fixed();
        assert_eq!(files, [(Phase::Expand, SQL.to_string())]);
        let (_, why) = left.iter().find(|(r, _)| r == RULE).expect("listed");
        assert!(why.contains("--fill users.email=EXPR"), "{why}");
        let (files, left) = Case::mysql(SETUP, &[(Phase::Expand, SQL)])
            .fill("users.email=''")
            .fixed();
        assert_eq!(
            files,
            [
                (
                    Phase::Backfill,
                    "-- backfill: written by `cargo xtask migrate fix`\nUPDATE users SET email = '' WHERE email IS NULL;\n".to_string()
                ),
                (
                    Phase::Contract,
                    format!("-- contract: written by `cargo xtask migrate fix`\n{SQL}\n")
                )
            ]
        );
        let (_, why) = left
            .iter()
            .find(|(r, _)| r == RULE)
            .expect("a warning left");
        assert!(why.contains("expected step"), "{why}");
        // A backfill that fills it already is enough.
        let fills = "UPDATE users SET email = concat(id, '@example.com') WHERE email IS NULL;";
        let (files, _) =
            Case::mysql(SETUP, &[(Phase::Expand, SQL), (Phase::Backfill, fills)]).fixed();
        assert_eq!(files.len(), 2, "{files:?}");
        assert_eq!(files[1].0, Phase::Contract);
        for (sql, why) in [
            (
                "ALTER TABLE users MODIFY email varchar(200) NOT NULL;",
                "name or type",
            ),
            (
                "ALTER TABLE users MODIFY email varchar(100) NOT NULL DEFAULT '';",
                "default",
            ),
        ] {
            let (files, left) = Case::mysql(SETUP, &[(Phase::Expand, sql)]).fixed();
            assert_eq!(files, [(Phase::Expand, sql.to_string())], "{sql}");
            let (_, reason) = left.iter().find(|(r, _)| r == RULE).expect("listed");
            assert!(reason.contains(why), "{sql}: {reason}");
        }
        // With other actions, `mysql-combined-alter` splits it first; then the flag is named.
        let sql = "ALTER TABLE users MODIFY email varchar(100) NOT NULL, ADD COLUMN x int;";
        let (files, left) = Case::mysql(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files,
            [(Phase::Expand, "ALTER TABLE users MODIFY email varchar(100) NOT NULL;\nALTER TABLE users ADD COLUMN x int;".to_string())]
        );
        let (_, reason) = left.iter().find(|(r, _)| r == RULE).expect("listed");
        assert!(reason.contains("--fill users.email=EXPR"), "{reason}");
    }
}
