//! `compat-table-removed`: expand drops or renames a table or view that `S(N-1)` has (the old
//! app still queries it).
//!
//! Split with `contract-in-expand` as for columns: a `DROP` in expand is reported by
//! `contract-in-expand` when the migration has a contract.sql, by this rule otherwise; a rename
//! (`ALTER TABLE … RENAME TO`, MySQL `RENAME TABLE`) is always this rule's.

use crate::change::{AlterOp, Change, ObjectKind, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::compat::compat_type_changed::type_change_problem;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-table-removed",
    severity: Severity::Error,
    summary: "expand drops or renames a table or view that `S(N-1)` uses",
    help: "expand: create the new table; backfill: copy the rows; contract: drop the old table once no app version reads it",
    check,
    fix: None,
};

/// A table or view of `S(N-1)` that a statement drops or renames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelationRemoval {
    pub name: QualName,
    /// `table`, `view` or `materialized view`.
    pub kind: &'static str,
    pub renamed_to: Option<QualName>,
    /// The file creates the relation again under its name (judged at the end of the file):
    /// what the old app used that the new one lacks or has with an incompatible type. Never
    /// empty: a compatible recreation is no removal.
    pub recreated_without: Vec<String>,
}

/// A table or view of `S(N-1)` dropped (or renamed away) by this statement is back under its
/// name at the end of the file: `None` when it is not, else what changed incompatibly.
fn recreated(ctx: &StatementCtx, name: &QualName) -> Option<Vec<String>> {
    let end = ctx.phase_end;
    let before = &ctx.window.before;
    if let (Some(old), Some(new)) = (before.table(name), end.table(name)) {
        let mut changed = Vec::new();
        for c in &old.columns {
            match new.column(&c.name) {
                None => changed.push(format!("column `{}` is gone", c.name)),
                Some(n) => {
                    if let Some(why) = type_change_problem(ctx, &c.ty, &n.ty) {
                        changed.push(format!("column `{}`: {why}", c.name));
                    }
                }
            }
        }
        return Some(changed);
    }
    // A view recreated (or replaced) as a view, a table replaced by a view of its name: the
    // old app's queries still find it.
    if end.views.contains_key(name) || end.tables.contains_key(name) {
        return Some(Vec::new());
    }
    None
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
                let kind = old_kind(ctx, n)?;
                let recreated_without = match recreated(ctx, n) {
                    Some(changed) if changed.is_empty() => return None,
                    Some(changed) => changed,
                    None => Vec::new(),
                };
                Some(RelationRemoval {
                    name: n.clone(),
                    kind,
                    renamed_to: None,
                    recreated_without,
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
                let kind = old_kind(ctx, table)?;
                let recreated_without = match recreated(ctx, table) {
                    Some(changed) if changed.is_empty() => return None,
                    Some(changed) => changed,
                    None => Vec::new(),
                };
                Some(RelationRemoval {
                    name: table.clone(),
                    kind,
                    renamed_to: Some(to.clone()),
                    recreated_without,
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
        if !r.recreated_without.is_empty() {
            out.report_with_help(
                format!("{kind} `{name}` is dropped and created again in this file, but not as the old app (S(N-1)) uses it: {}", r.recreated_without.join("; ")),
                format!("keep `{name}`'s columns as they are in expand (add new ones beside them); drop or change the old ones in contract"),
            );
            continue;
        }
        match &r.renamed_to {
            Some(to) => out.report_with_help(
                format!("renaming {kind} `{name}` to `{to}` in expand breaks the old app (S(N-1)): it still queries `{name}`, so its queries fail until it is gone"),
                format!("expand: `CREATE TABLE {to} (…)`; backfill: `INSERT INTO {to} SELECT … FROM {name}` in batches while the transition code writes both; contract: `DROP TABLE {name}`. Or keep the name and expose the new one as a view"),
            ),
            None if has_contract => {}
            None => out.report_with_help(
                format!("dropping {kind} `{name}` in expand breaks the old app (S(N-1)): it still queries `{name}`, so its queries fail until it is gone"),
                format!("keep `{name}` in {}; stop using it in the new app; drop it in {}, which runs once no app reads it", ctx.file_name(), ctx.contract_place()),
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

    #[test]
    fn dropped_and_recreated_in_the_file_is_not_removed() {
        for sql in [
            "DROP VIEW active_users;\nALTER TABLE users ADD COLUMN email text;\nCREATE VIEW active_users AS SELECT id, name, email FROM users;",
            "CREATE OR REPLACE VIEW active_users AS SELECT id, name FROM users WHERE id > 0;",
            "DROP TABLE legacy;\nCREATE TABLE legacy (id bigint PRIMARY KEY, note text);",
        ] {
            for phases in [
                vec![(Phase::Expand, sql)],
                vec![(Phase::Expand, sql), (Phase::Contract, "SELECT 1;")],
            ] {
                let all = Case::pg(SETUP, &phases).run();
                assert!(
                    all.iter()
                        .all(|d| d.rule != ID && d.rule != "contract-in-expand"),
                    "{sql}: {all:?}"
                );
            }
        }
    }

    #[test]
    fn a_recreated_table_reports_what_actually_changed() {
        let hits = expand_hits(
            SETUP,
            "DROP TABLE users CASCADE;\nCREATE TABLE users (id integer PRIMARY KEY, email text);",
            ID,
        );
        assert_eq!(hits.len(), 1, "{hits:?}");
        let m = &hits[0].message;
        assert!(
            m.contains("dropped and created again")
                && m.contains("column `name` is gone")
                && m.contains("column `id`"),
            "{m}"
        );
    }
}
