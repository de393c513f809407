//! `ddl-in-backfill`: anything but `UPDATE`, `DELETE` or `INSERT … SELECT` in backfill.sql.
//!
//! The runtime runs each backfill statement in keyset batches, one short transaction per batch.
//! Decisions: a session `SET` (`SET work_mem = …`) is allowed, the runtime applies it to the
//! batch session; `BEGIN`/`COMMIT`/`ROLLBACK` are flagged (an explicit transaction would turn
//! the batches back into one long transaction); `INSERT … VALUES` is flagged (nothing to batch:
//! it belongs in expand); so are `SELECT`, `ANALYZE`, `COMMENT`, `DO` blocks and unparsed
//! statements, which the runtime cannot batch either. MySQL dynamic SQL counts as DDL here:
//! `EXECUTE s` runs whatever text `PREPARE s FROM @v` was given, schema changes included, so
//! it is flagged as a `DO` block is (and `PREPARE` / `DEALLOCATE` as statements without
//! schema effect: nothing to batch). A top-level PL/pgSQL statement (`PERFORM f()`) is
//! `procedural-outside-block`'s, not this rule's.

use crate::change::Change;
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "ddl-in-backfill",
    severity: Severity::Error,
    summary: "DDL, or anything but `UPDATE` / `DELETE` / `INSERT … SELECT`, in `backfill.sql`",
    help: "move schema changes to expand.sql (additive) or contract.sql (removals, tightening); keep backfill.sql to `UPDATE` / `DELETE` / `INSERT … SELECT` data moves",
    check,
    fix: None,
};

/// The statement's first words, upper case, for messages (`CREATE INDEX`, `ALTER TABLE`).
fn head(text: &str) -> String {
    let words: Vec<String> = text
        .split_whitespace()
        .take(2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_alphanumeric())
                .to_uppercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [first, second]
            if matches!(
                first.as_str(),
                "CREATE" | "ALTER" | "DROP" | "COMMENT" | "REFRESH" | "LOCK"
            ) =>
        {
            format!("{first} {second}")
        }
        [first, ..] => first.clone(),
        [] => "statement".into(),
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Backfill {
        return;
    }
    let what = head(ctx.text());
    match ctx.change {
        Change::Update { .. } | Change::Delete { .. } | Change::SetVariable { .. } => {}
        Change::Insert { select_from, .. } if !select_from.is_empty() => {}
        Change::Insert { table, .. } => out.report_with_help(
            format!("`INSERT … VALUES` into `{table}` in backfill.sql: there is nothing to batch over a key; backfill holds batched data moves only"),
            "put fixed rows in expand.sql (a seed `INSERT … VALUES`), or write the move as `INSERT … SELECT` from the table holding the data",
        ),
        Change::Begin | Change::Commit | Change::Rollback => out.report_with_help(
            format!("`{what}` in backfill.sql: the runtime runs every backfill statement in batches, one short transaction each; an explicit transaction would hold every batch's row locks until it ends"),
            "remove the transaction control: the runtime commits each batch",
        ),
        Change::NoSchemaEffect { .. } => out.report(format!(
            "`{what}` in backfill.sql: the runtime runs backfill statements in keyset batches and cannot batch it"
        )),
        // The server refuses it: `procedural-outside-block` reports it.
        Change::ProceduralOutsideBlock { .. } => {}
        Change::Opaque { .. } | Change::ProceduralBlock => out.report(format!(
            "`{what}` in backfill.sql is not a plain `UPDATE` / `DELETE` / `INSERT … SELECT`: the runtime cannot run it in keyset batches"
        )),
        _ => out.report(format!(
            "`{what}` in backfill.sql: backfill runs while both app versions are deployed, in keyset batches, and DDL cannot be batched"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text, full_name text);\nCREATE TABLE archive (id bigint PRIMARY KEY, name text);";
    const ID: &str = "ddl-in-backfill";

    fn hits(sql: &str) -> Vec<crate::diag::Diagnostic> {
        Case::pg(SETUP, &[(Phase::Backfill, sql)]).hits(ID)
    }

    #[test]
    fn flags_ddl() {
        let h = hits("ALTER TABLE users ADD COLUMN x int;\nCREATE INDEX CONCURRENTLY users_name ON users (name);");
        assert_eq!(h.len(), 2, "{h:?}");
        assert!(
            h[0].message.starts_with("`ALTER TABLE` in backfill.sql"),
            "{}",
            h[0].message
        );
        assert!(
            h[1].message.starts_with("`CREATE INDEX` in backfill.sql"),
            "{}",
            h[1].message
        );
        assert!(h[0].is_error());
    }

    #[test]
    fn data_moves_and_set_are_fine() {
        let sql = "SET work_mem = '64MB';\nUPDATE users SET full_name = name WHERE full_name IS NULL;\nDELETE FROM archive WHERE name IS NULL;\nINSERT INTO archive (id, name) SELECT id, name FROM users;";
        let h = hits(sql);
        assert!(h.is_empty(), "{h:?}");
    }

    #[test]
    fn flags_transaction_control_values_and_other_statements() {
        let sql = "BEGIN;\nUPDATE users SET full_name = name;\nCOMMIT;\nINSERT INTO archive (id, name) VALUES (1, 'a');\nANALYZE users;\nDO $$ BEGIN PERFORM 1; END $$;";
        let h = hits(sql);
        let lines: Vec<usize> = h.iter().map(|d| d.line).collect();
        assert_eq!(lines, [1, 3, 4, 5, 6], "{h:?}");
        assert!(h[0].help.contains("commits each batch"));
        assert!(h[2].message.contains("INSERT … VALUES"));
    }

    #[test]
    fn other_phases_are_not_this_rule() {
        for phase in [Phase::Expand, Phase::Contract, Phase::Down] {
            let h = Case::pg(SETUP, &[(phase, "ALTER TABLE users ADD COLUMN x int;")]).hits(ID);
            assert!(h.is_empty(), "{phase:?}");
        }
    }

    #[test]
    fn mysql_too() {
        let h = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text);",
            &[(Phase::Backfill, "ALTER TABLE users ADD COLUMN x int;")],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn mysql_dynamic_sql_is_flagged() {
        let sql = "SET @s = 'ALTER TABLE users ADD COLUMN x int';\nPREPARE stmt FROM @s;\nEXECUTE stmt;\nDEALLOCATE PREPARE stmt;";
        let all = Case::mysql(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text);",
            &[(Phase::Backfill, sql)],
        )
        .run();
        let hits: Vec<(usize, &str)> = all
            .iter()
            .filter(|d| d.rule == ID)
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(
            hits.iter().map(|h| h.0).collect::<Vec<_>>(),
            [2, 3, 4],
            "{all:?}"
        );
        assert!(
            hits[1]
                .1
                .starts_with("`EXECUTE` in backfill.sql is not a plain"),
            "{}",
            hits[1].1
        );
        assert!(
            all.iter().all(|d| d.rule != "unparsed-statement"),
            "{all:?}"
        );
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(ddl-in-backfill): statistics for the contract's plan\nANALYZE users;";
        let all = Case::pg(SETUP, &[(Phase::Backfill, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
