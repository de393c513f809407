//! `concurrently-in-transaction`: `CREATE/DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY`
//! and `DETACH PARTITION … CONCURRENTLY` are refused inside a transaction block: inside an
//! explicit `BEGIN … COMMIT`, or inside a `DO` block (which always runs in one).

use crate::change::{AlterOp, Change, ObjectKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "concurrently-in-transaction",
    severity: Severity::Error,
    summary: "`CREATE/DROP INDEX`, `REINDEX` or `DETACH PARTITION` `… CONCURRENTLY` inside `BEGIN … COMMIT`, a `DO` block or a function",
    help: "drop the explicit transaction (or the DO block): the runtime runs each CONCURRENTLY statement on its own, outside any transaction",
    check,
};

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

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if let Some(what) = concurrent(ctx.change) {
        if ctx.in_transaction() {
            out.report(format!(
                "`{what}` inside `BEGIN … COMMIT`: PostgreSQL refuses it in a transaction block"
            ));
        }
        return;
    }
    if matches!(ctx.change, Change::ProceduralBlock)
        && ctx.text().to_ascii_uppercase().contains("CONCURRENTLY")
    {
        out.report(
            "`CONCURRENTLY` inside a `DO` block: the block runs in a transaction, where PostgreSQL refuses it",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email ON users (email);";
    const RULE: &str = "concurrently-in-transaction";

    #[test]
    fn flags_concurrently_inside_begin_commit() {
        let sql = "BEGIN;\nCREATE INDEX CONCURRENTLY a ON users (email);\nDROP INDEX CONCURRENTLY users_email;\nCOMMIT;";
        let hits = expand_hits(SETUP, sql, RULE);
        assert_eq!(hits.iter().map(|h| h.line).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn flags_concurrently_inside_do() {
        let sql = "DO $$ BEGIN EXECUTE 'CREATE INDEX CONCURRENTLY a ON users (email)'; END $$;";
        assert_eq!(expand_hits(SETUP, sql, RULE).len(), 1);
    }

    #[test]
    fn alone_is_fine() {
        let sql = "CREATE INDEX CONCURRENTLY a ON users (email);\nBEGIN;\nALTER TABLE users ADD COLUMN b int;\nCOMMIT;\nDROP INDEX CONCURRENTLY users_email;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
