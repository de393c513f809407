//! `concurrently-in-transaction`: `CREATE/DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY`
//! and `DETACH PARTITION … CONCURRENTLY` are refused inside a transaction block: inside an
//! explicit `BEGIN … COMMIT`, inside a `DO` block (which always runs in one), and inside a
//! function or procedure (measured on PostgreSQL 15: "cannot be executed from a function",
//! for a procedure too, so every call fails). `REFRESH MATERIALIZED VIEW CONCURRENTLY` is
//! accepted in all three (measured) and is not flagged.

use crate::change::{AlterOp, Change, ObjectKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "concurrently-in-transaction",
    severity: Severity::Error,
    summary: "`CREATE/DROP INDEX`, `REINDEX` or `DETACH PARTITION` `… CONCURRENTLY` inside `BEGIN … COMMIT`, a `DO` block or a function",
    help: "drop the explicit transaction (or the DO block, or the function): write the CONCURRENTLY statement on its own in the phase file; the runtime runs it outside any transaction",
    check,
    fix: None,
};

/// The statement itself, when it is one of the forms refused in a transaction block.
fn concurrent(change: &Change) -> Option<&'static str> {
    match change {
        Change::CreateIndex(ci) if ci.concurrently => Some("CREATE INDEX CONCURRENTLY"),
        Change::DropObjects {
            kind: ObjectKind::Index,
            concurrently: true,
            ..
        } => Some("DROP INDEX CONCURRENTLY"),
        Change::Reindex {
            concurrently: true, ..
        } => Some("REINDEX … CONCURRENTLY"),
        Change::AlterTable { ops, .. }
            if ops.iter().any(|op| {
                matches!(
                    op,
                    AlterOp::DetachPartition {
                        concurrently: true,
                        ..
                    }
                )
            }) =>
        {
            Some("DETACH PARTITION … CONCURRENTLY")
        }
        _ => None,
    }
}

/// The first refused `CONCURRENTLY` form written anywhere in procedural text (a `DO` body, a
/// function body, an `EXECUTE '…'` string), read word by word.
fn concurrent_in_text(text: &str) -> Option<&'static str> {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    for (i, word) in words.iter().enumerate() {
        if word != "CONCURRENTLY" {
            continue;
        }
        let window = &words[i.saturating_sub(6)..i];
        let has = |w: &str| window.iter().any(|x| x == w);
        if has("REINDEX") {
            return Some("REINDEX … CONCURRENTLY");
        }
        if window
            .windows(2)
            .any(|p| p[0] == "DETACH" && p[1] == "PARTITION")
        {
            return Some("DETACH PARTITION … CONCURRENTLY");
        }
        if window.last().is_some_and(|w| w == "INDEX") {
            return Some(if has("DROP") {
                "DROP INDEX CONCURRENTLY"
            } else {
                "CREATE INDEX CONCURRENTLY"
            });
        }
        // `REFRESH MATERIALIZED VIEW CONCURRENTLY` and anything else: allowed.
    }
    None
}

/// `CREATE [OR REPLACE] PROCEDURE`, which the lowering does not single out.
fn creates_procedure(text: &str) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    match words.as_slice() {
        [c, p, ..] if c == "CREATE" && p == "PROCEDURE" => true,
        [c, o, r, p, ..] if c == "CREATE" && o == "OR" && r == "REPLACE" && p == "PROCEDURE" => {
            true
        }
        _ => false,
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if let Some(what) = concurrent(ctx.change) {
        if ctx.in_transaction() {
            out.report(format!(
                "`{what}` inside `BEGIN … COMMIT`: PostgreSQL refuses it in a transaction block, so the phase fails here"
            ));
        }
        return;
    }
    match ctx.change {
        Change::ProceduralBlock => {
            if let Some(what) = concurrent_in_text(ctx.text()) {
                out.report(format!(
                    "`{what}` inside a `DO` block: the block runs in a transaction, where PostgreSQL refuses it"
                ));
            }
        }
        Change::CreateFunction { name, body, .. } => {
            if let Some(what) = concurrent_in_text(body) {
                out.report(format!(
                    "function `{name}` runs `{what}`: PostgreSQL refuses it inside a function (which runs in its caller's transaction), so every call fails"
                ));
            }
        }
        _ if creates_procedure(ctx.text()) => {
            if let Some(what) = concurrent_in_text(ctx.text()) {
                out.report(format!(
                    "this procedure runs `{what}`: PostgreSQL refuses it inside a procedure, so every `CALL` fails"
                ));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::concurrent_in_text;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email ON users (email);\nCREATE TABLE p (id int, d date) PARTITION BY RANGE (d);\nCREATE TABLE p1 PARTITION OF p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\nCREATE MATERIALIZED VIEW mv AS SELECT id FROM users;";
    const RULE: &str = "concurrently-in-transaction";

    #[test]
    fn flags_concurrently_inside_begin_commit() {
        let sql = "BEGIN;\nCREATE INDEX CONCURRENTLY a ON users (email);\nDROP INDEX CONCURRENTLY users_email;\nREINDEX INDEX CONCURRENTLY a;\nALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;\nCOMMIT;";
        let hits = expand_hits(SETUP, sql, RULE);
        assert_eq!(
            hits.iter().map(|h| h.line).collect::<Vec<_>>(),
            [2, 3, 4, 5],
            "{hits:?}"
        );
        assert!(hits[0].message.contains("transaction block"));
    }

    #[test]
    fn start_transaction_counts_too_and_commit_ends_it() {
        let sql = "START TRANSACTION;\nCREATE INDEX CONCURRENTLY a ON users (email);\nCOMMIT;\nCREATE INDEX CONCURRENTLY b ON users (id);";
        let hits = expand_hits(SETUP, sql, RULE);
        assert_eq!(hits.iter().map(|h| h.line).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn flags_concurrently_inside_do() {
        let sql = "DO $$ BEGIN EXECUTE 'CREATE INDEX CONCURRENTLY a ON users (email)'; END $$;";
        let hits = expand_hits(SETUP, sql, RULE);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("`DO` block"));
    }

    #[test]
    fn flags_concurrently_inside_a_function_or_procedure() {
        let f = "CREATE FUNCTION mk() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DROP INDEX CONCURRENTLY users_email'; END $$;";
        let hits = expand_hits(SETUP, f, RULE);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].message.contains("DROP INDEX CONCURRENTLY"));
        let p = "CREATE OR REPLACE PROCEDURE mk() LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'CREATE INDEX CONCURRENTLY a ON users (email)'; END $$;";
        let all = Case::pg(SETUP, &[(Phase::Expand, p)]).run();
        assert_eq!(all.iter().filter(|d| d.rule == RULE).count(), 1, "{all:?}");
    }

    #[test]
    fn refresh_concurrently_is_allowed_in_a_block() {
        let sql = "DO $$ BEGIN REFRESH MATERIALIZED VIEW CONCURRENTLY mv; END $$;\nBEGIN;\nREFRESH MATERIALIZED VIEW CONCURRENTLY mv;\nCOMMIT;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn reads_the_forms_in_text() {
        for (text, want) in [
            (
                "EXECUTE 'create unique index concurrently x on t (a)'",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            (
                "drop index concurrently if exists x",
                Some("DROP INDEX CONCURRENTLY"),
            ),
            (
                "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
                Some("REINDEX … CONCURRENTLY"),
            ),
            (
                "ALTER TABLE s.p DETACH PARTITION s.p1 CONCURRENTLY",
                Some("DETACH PARTITION … CONCURRENTLY"),
            ),
            ("REFRESH MATERIALIZED VIEW CONCURRENTLY mv", None),
            ("SELECT 1", None),
        ] {
            assert_eq!(concurrent_in_text(text), want, "{text}");
        }
    }

    #[test]
    fn alone_is_fine() {
        let sql = "CREATE INDEX CONCURRENTLY a ON users (email);\nBEGIN;\nALTER TABLE users ADD COLUMN b int;\nCOMMIT;\nDROP INDEX CONCURRENTLY users_email;\nALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn applies_in_contract_as_well() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "BEGIN;\nDROP INDEX CONCURRENTLY users_email;\nCOMMIT;",
            )],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].file, "0002_change/contract.sql");
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "BEGIN;\n-- concertina:allow(concurrently-in-transaction): testing the refusal\nCREATE INDEX CONCURRENTLY a ON users (email);\nCOMMIT;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != RULE && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
