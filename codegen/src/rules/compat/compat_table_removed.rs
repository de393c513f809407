//! `compat-table-removed`: expand drops or renames a table or view that `S(N-1)` has (the old
//! app still queries it).
//!
//! Split with `contract-in-expand` as for columns: a `DROP` in expand is reported by
//! `contract-in-expand` when the migration has a contract.sql, by this rule otherwise; a rename
//! (`ALTER TABLE … RENAME TO`, MySQL `RENAME TABLE`) is always this rule's.

use crate::change::{AlterOp, Change, ObjectKind, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-table-removed",
    severity: Severity::Error,
    summary: "expand drops or renames a table or view that `S(N-1)` uses",
    help: "expand: create the new table; backfill: copy the rows; contract: drop the old table once no app version reads it",
    check,
};

/// A table or view of `S(N-1)` that a statement drops or renames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelationRemoval {
    pub name: QualName,
    /// `table`, `view` or `materialized view`.
    pub kind: &'static str,
    pub renamed_to: Option<QualName>,
}

fn old_kind(ctx: &StatementCtx, name: &QualName) -> Option<&'static str> {
    if ctx.is_new_table(name) {
        return None;
    }
    let before = &ctx.window.before;
    if before.tables.contains_key(name) {
        Some("table")
    } else {
        before.views.get(name).map(|v| {
            if v.materialized {
                "materialized view"
            } else {
                "view"
            }
        })
    }
}

/// Tables and views of `S(N-1)` this statement drops or renames (any phase).
pub(crate) fn removed_old_relations(ctx: &StatementCtx) -> Vec<RelationRemoval> {
    match ctx.change {
        Change::DropObjects {
            kind: ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView,
            names,
            ..
        } => names
            .iter()
            .filter_map(|n| {
                old_kind(ctx, n).map(|kind| RelationRemoval {
                    name: n.clone(),
                    kind,
                    renamed_to: None,
                })
            })
            .collect(),
        Change::AlterTable { table, ops, .. } => ops
            .iter()
            .find_map(|op| match op {
                AlterOp::RenameTable { to } => Some(to),
                _ => None,
            })
            .and_then(|to| {
                old_kind(ctx, table).map(|kind| RelationRemoval {
                    name: table.clone(),
                    kind,
                    renamed_to: Some(to.clone()),
                })
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Expand {
        return;
    }
    let has_contract = ctx.window.has_phase(Phase::Contract);
    for r in removed_old_relations(ctx) {
        let (name, kind) = (&r.name, r.kind);
        match &r.renamed_to {
            Some(to) => out.report_with_help(
                format!("renaming {kind} `{name}` to `{to}` in expand breaks the old app (S(N-1)): it still queries `{name}`, so its queries fail until it is gone"),
                format!("expand: `CREATE TABLE {to} (…)`; backfill: `INSERT INTO {to} SELECT … FROM {name}` in batches while the transition code writes both; contract: `DROP TABLE {name}`. Or keep the name and expose the new one as a view"),
            ),
            None if has_contract => {}
            None => out.report_with_help(
                format!("dropping {kind} `{name}` in expand breaks the old app (S(N-1)): it still queries `{name}`, so its queries fail until it is gone"),
                format!("keep `{name}` in expand; stop using it in the new app; drop it in this migration's contract.sql, which runs once no app reads it"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text);\nCREATE TABLE legacy (id bigint PRIMARY KEY);\nCREATE VIEW active_users AS SELECT id, name FROM users;";
    const ID: &str = "compat-table-removed";

    #[test]
    fn flags_drop_of_old_tables_and_views() {
        let hits = expand_hits(SETUP, "DROP TABLE legacy;\nDROP VIEW active_users;", ID);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(
            hits[0].message.contains("dropping table `legacy`"),
            "{}",
            hits[0].message
        );
        assert!(
            hits[1].message.contains("dropping view `active_users`"),
            "{}",
            hits[1].message
        );
        assert!(hits[0].is_error());
    }

    #[test]
    fn flags_renames() {
        let hits = expand_hits(SETUP, "ALTER TABLE users RENAME TO accounts;", ID);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("`users` to `accounts`"),
            "{}",
            hits[0].message
        );
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY);",
            &[(Phase::Expand, "RENAME TABLE users TO accounts;")],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn with_a_contract_a_drop_is_contract_in_expand() {
        let all = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "DROP TABLE legacy;"),
                (Phase::Contract, "SELECT 1;"),
            ],
        )
        .run();
        assert!(all.iter().all(|d| d.rule != ID), "{all:?}");
        assert!(
            all.iter().any(|d| d.rule == "contract-in-expand"),
            "{all:?}"
        );
    }

    #[test]
    fn new_tables_and_contract_drops_are_fine() {
        let sql = "CREATE TABLE t (id int);\nALTER TABLE t RENAME TO t2;\nDROP TABLE t2;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
        let hits = Case::pg(SETUP, &[(Phase::Contract, "DROP TABLE legacy;")]).hits(ID);
        assert!(hits.is_empty());
        // A table created in expand is not the old app's, even by contract.
        let hits = Case::pg(
            SETUP,
            &[(Phase::Expand, "DROP TABLE IF EXISTS nothing_here;")],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql =
            "-- concertina:allow(compat-table-removed): unused since 2023\nDROP TABLE legacy;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
