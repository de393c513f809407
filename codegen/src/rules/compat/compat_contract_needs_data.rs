//! `compat-contract-needs-data` (check 3 of DESIGN.md §2): contract tightens a column of an
//! old-app table while nothing in the window guarantees the rows comply, so the statement fails
//! (or holds its lock while scanning, then fails).
//!
//! The heuristic, per tightening:
//! - **NOT NULL** (`SET NOT NULL`, `CHECK (c IS NOT NULL)` / `NOT NULL` constraint added without
//!   `NOT VALID` or validated here, `PRIMARY KEY` columns, MySQL `MODIFY … NOT NULL`, a new
//!   column added `NOT NULL` without default): the column counts as filled when a backfill
//!   `UPDATE` assigns it (`window.backfilled`); or `S(N-1)` already had it not null (the old
//!   app always wrote it, and the transition types require it); or `E(N)` proves it not null;
//!   or it is new in this migration and `E(N)` gives it a default, identity or generation
//!   expression (taken as "added with a default": old rows and the old app's omitted writes got
//!   a value). The transition types write every column `S(N)` requires, so the new app's writes
//!   are covered. A `-- concertina:renames(t.a -> t.c)` annotation is not a fill by itself: it
//!   makes the transition types write both columns, but rows written before them keep NULL
//!   until a backfill copies them; the help then names that `UPDATE`.
//! - **CHECK / FOREIGN KEY** added validated (or `VALIDATE`d here after a `NOT VALID` add in
//!   this same contract) over columns the old app wrote: the old app wrote them unchecked during
//!   the window, so unless every such column is backfilled (rewritten by the migration) nothing
//!   shows the rows comply. Over new columns only, old rows hold NULL, which passes.
//!   A constraint added `NOT VALID` in expand (or earlier) and `VALIDATE`d here was enforced on
//!   every write of the window: quiet.
//! - **UNIQUE** (constraint, unique index, primary key): as CHECK for old-app columns; over new
//!   columns, a non-NULL default shared by every old row (not backfilled) is a duplicate.
//!
//! Tables created by this migration are not judged: the old app never wrote them, and the new
//! app writes what `S(N)` requires.

use crate::change::{AlterOp, Change, ColumnSpec, ConstraintKind, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-contract-needs-data",
    severity: Severity::Error,
    summary: "contract tightens a column (`SET NOT NULL`, CHECK, FK, unique index) that backfill does not fill or that `E(N)` writers may leave violating",
    help: "make the transition types write it, backfill the old rows (`UPDATE t SET c = … WHERE c IS NULL` in backfill.sql), then tighten in contract",
    check,
    fix: None,
};

enum Tightening {
    NotNull { column: String, what: String },
    Constraint { columns: Vec<String>, what: String },
    Unique { columns: Vec<String>, what: String },
}

fn spec_requires(spec: &ColumnSpec) -> bool {
    spec.not_null
        && spec.default.as_ref().is_none_or(|d| d.is_null)
        && !spec.serial
        && !spec.identity
        && spec.generated.is_none()
}

fn tightenings(ctx: &StatementCtx, table: &QualName) -> Vec<Tightening> {
    let mut out = Vec::new();
    let current = ctx.schema.table(table);
    let constraint = |kind: &ConstraintKind, what: String, out: &mut Vec<Tightening>| match kind {
        ConstraintKind::Check {
            not_null_of: Some(c),
            ..
        }
        | ConstraintKind::NotNull { column: c } => out.push(Tightening::NotNull {
            column: c.clone(),
            what,
        }),
        ConstraintKind::Check { .. } | ConstraintKind::ForeignKey { .. } => {
            out.push(Tightening::Constraint {
                columns: kind.columns(),
                what,
            })
        }
        ConstraintKind::PrimaryKey {
            columns,
            using_index,
        } => {
            let cols = match using_index {
                Some(idx) => ctx
                    .schema
                    .indexes
                    .get(&QualName::new(table.schema.clone(), idx.clone()))
                    .map(|i| i.columns.clone())
                    .unwrap_or_default(),
                None => columns.clone(),
            };
            for c in &cols {
                out.push(Tightening::NotNull {
                    column: c.clone(),
                    what: what.clone(),
                });
            }
            if using_index.is_none() {
                out.push(Tightening::Unique {
                    columns: cols,
                    what,
                });
            }
        }
        ConstraintKind::Unique {
            columns,
            using_index: None,
        } => out.push(Tightening::Unique {
            columns: columns.clone(),
            what,
        }),
        ConstraintKind::Unique { .. } | ConstraintKind::Exclude => {}
    };
    match ctx.change {
        Change::AlterTable { ops, .. } => {
            for op in ops {
                match op {
                    AlterOp::SetNotNull { column } => out.push(Tightening::NotNull {
                        column: column.clone(),
                        what: "`SET NOT NULL`".into(),
                    }),
                    AlterOp::AddConstraint(spec) if !spec.not_valid => {
                        let what = match &spec.name {
                            Some(n) => format!("{} constraint `{n}`", spec.kind.label()),
                            None => format!("{} constraint", spec.kind.label()),
                        };
                        constraint(&spec.kind, what, &mut out);
                    }
                    AlterOp::ValidateConstraint { name } => {
                        let Some(c) = current.and_then(|t| t.constraint(name)) else {
                            continue;
                        };
                        let what = format!("`VALIDATE CONSTRAINT {name}`");
                        let enforced_in_window = [&ctx.window.before, &ctx.window.expanded]
                            .iter()
                            .any(|s| s.table(table).is_some_and(|t| t.constraint(name).is_some()));
                        match &c.kind {
                            // Old rows may still hold NULL, enforced or not.
                            ConstraintKind::Check {
                                not_null_of: Some(_),
                                ..
                            }
                            | ConstraintKind::NotNull { .. } => constraint(&c.kind, what, &mut out),
                            _ if enforced_in_window => {}
                            kind => constraint(kind, what, &mut out),
                        }
                    }
                    AlterOp::ModifyColumn { old_name, column } if column.not_null => {
                        out.push(Tightening::NotNull {
                            column: old_name.clone(),
                            what: format!("`MODIFY {} … NOT NULL`", column.name),
                        })
                    }
                    AlterOp::AddColumn { column, .. } if spec_requires(column) => {
                        out.push(Tightening::NotNull {
                            column: column.name.clone(),
                            what: format!(
                                "`ADD COLUMN {} … NOT NULL` without default",
                                column.name
                            ),
                        })
                    }
                    AlterOp::AddIndex {
                        name,
                        columns,
                        unique: true,
                        ..
                    } => out.push(Tightening::Unique {
                        columns: columns.clone(),
                        what: format!("unique index `{}`", name.as_deref().unwrap_or("")),
                    }),
                    AlterOp::RenameTable { .. } => break,
                    _ => {}
                }
            }
        }
        Change::CreateIndex(ci) if ci.unique => {
            let mut columns: Vec<String> = ci
                .columns
                .iter()
                .chain(ci.expressions.iter().flat_map(|e| e.columns.iter()))
                .cloned()
                .collect();
            columns.dedup();
            out.push(Tightening::Unique {
                columns,
                what: match &ci.name {
                    Some(n) => format!("unique index `{n}`"),
                    None => "unique index".into(),
                },
            });
        }
        _ => {}
    }
    out
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Contract {
        return;
    }
    let table = match ctx.change {
        Change::AlterTable { table, .. } => table,
        Change::CreateIndex(ci) => &ci.table,
        _ => return,
    };
    if ctx.is_new_table(table) {
        return;
    }
    let (Some(old), Some(expanded)) = (
        ctx.window.before.table(table),
        ctx.window.expanded.table(table),
    ) else {
        return;
    };
    let backfilled = |c: &str| {
        ctx.window
            .backfilled
            .iter()
            .any(|(t, col)| t == table && col == c)
    };
    for t in tightenings(ctx, table) {
        match t {
            Tightening::NotNull { column: c, what } => {
                if ctx
                    .schema
                    .table(table)
                    .is_some_and(|t| t.proves_not_null(&c))
                {
                    continue;
                }
                let added_with_value = old.column(&c).is_none()
                    && expanded.column(&c).is_some_and(|col| {
                        col.default.is_some() || col.identity || col.generated.is_some()
                    });
                if backfilled(&c)
                    || old.proves_not_null(&c)
                    || expanded.proves_not_null(&c)
                    || added_with_value
                {
                    continue;
                }
                let why = if old.column(&c).is_some() {
                    "the old app (S(N-1)) had it nullable, so old rows and its writes may hold NULL"
                } else if expanded.column(&c).is_some() {
                    "it was added in this migration without a default, so every old row and every insert of the old app left it NULL"
                } else {
                    "the column is new and empty"
                };
                let help = match ctx
                    .window
                    .renames
                    .iter()
                    .find(|r| &r.table == table && r.to == c)
                {
                    Some(r) => format!(
                        "`-- concertina:renames({table}.{} -> {table}.{c})` makes the transition types write both, but rows written before them keep NULL: backfill.sql: `UPDATE {table} SET {c} = {} WHERE {c} IS NULL` (keyset batches), then contract",
                        r.from, r.from
                    ),
                    None => format!(
                        "make the transition types write `{c}` (S(N) requires it), backfill the old rows in backfill.sql (`UPDATE {table} SET {c} = … WHERE {c} IS NULL`), then contract"
                    ),
                };
                out.report_with_help(
                    format!("{what} on `{table}.{c}` in contract: no backfill `UPDATE` assigns `{c}`, and {why}: the statement fails on the first NULL after scanning under its lock"),
                    help,
                );
            }
            Tightening::Constraint { columns, what } | Tightening::Unique { columns, what }
                if columns.iter().any(|c| old.column(c).is_some()) =>
            {
                let unchecked: Vec<String> = columns
                    .iter()
                    .filter(|c| old.column(c).is_some() && !backfilled(c))
                    .map(|c| format!("`{c}`"))
                    .collect();
                if unchecked.is_empty() {
                    continue;
                }
                out.report_with_help(
                    format!("{what} on `{table}` in contract covers {}, which the old app (S(N-1)) wrote unchecked during the window and no backfill rewrote: nothing shows every row complies, so it may fail after a full scan", unchecked.join(", ")),
                    "enforce it during the window instead: add it `NOT VALID` in expand (new writes are checked, see compat-constraint-in-expand), fix old rows in backfill, then `VALIDATE CONSTRAINT` in contract; or `allow` this with how the rows were checked",
                );
            }
            Tightening::Unique { columns, what } => {
                let shared: Vec<String> = columns
                    .iter()
                    .filter(|c| {
                        !backfilled(c)
                            && expanded
                                .column(c)
                                .is_some_and(|col| col.default.is_some() && !col.identity)
                    })
                    .map(|c| format!("`{c}`"))
                    .collect();
                if !shared.is_empty() {
                    out.report(format!(
                        "{what} on `{table}` in contract covers {}, added in this migration with a default and not backfilled: every old row holds the same value, so the unique check fails",
                        shared.join(", ")
                    ));
                }
            }
            Tightening::Constraint { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const SETUP: &str = "CREATE TABLE orgs (id bigint PRIMARY KEY);\nCREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text, org_id bigint, age int);";
    const ID: &str = "compat-contract-needs-data";

    fn run(phases: &[(Phase, &str)]) -> Vec<crate::diag::Diagnostic> {
        Case::pg(SETUP, phases).hits(ID)
    }

    #[test]
    fn set_not_null_without_backfill_fails() {
        let hits = run(&[
            (Phase::Expand, "ALTER TABLE users ADD COLUMN tier text;"),
            (Phase::Contract, "ALTER TABLE users ALTER COLUMN tier SET NOT NULL;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
        ]);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(hits[0].is_error());
        assert!(
            hits[0].message.contains("`SET NOT NULL` on `users.tier`")
                && hits[0].message.contains("added in this migration"),
            "{}",
            hits[0].message
        );
        assert!(
            hits[1].message.contains("had it nullable"),
            "{}",
            hits[1].message
        );
    }

    #[test]
    fn backfilled_or_defaulted_columns_are_fine() {
        let hits = run(&[
            (Phase::Expand, "ALTER TABLE users ADD COLUMN tier text;\nALTER TABLE users ADD COLUMN plan text DEFAULT 'free';"),
            (Phase::Backfill, "UPDATE users SET tier = 'basic' WHERE tier IS NULL;"),
            (Phase::Contract, "ALTER TABLE users ALTER COLUMN tier SET NOT NULL;\nALTER TABLE users ALTER COLUMN plan SET NOT NULL;\nALTER TABLE users ALTER COLUMN name SET NOT NULL;"),
        ]);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn the_four_step_form_is_judged_at_each_scan() {
        let contract = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT email_nn;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;";
        let hits = run(&[(Phase::Contract, contract)]);
        // The NOT VALID add scans nothing; VALIDATE does; SET NOT NULL is then proven.
        let lines: Vec<usize> = hits.iter().map(|h| h.line).collect();
        assert_eq!(lines, [2], "{hits:?}");
        let hits = run(&[
            (
                Phase::Backfill,
                "UPDATE users SET email = '' WHERE email IS NULL;",
            ),
            (Phase::Contract, contract),
        ]);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn a_renames_annotation_alone_is_not_a_fill() {
        let hits = run(&[
            (Phase::Expand, "-- concertina:renames(users.name -> users.full_name)\nALTER TABLE users ADD COLUMN full_name text;"),
            (Phase::Contract, "ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;"),
        ]);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0]
                .help
                .contains("UPDATE users SET full_name = name WHERE full_name IS NULL"),
            "{}",
            hits[0].help
        );
        let hits = run(&[
            (Phase::Expand, "-- concertina:renames(users.name -> users.full_name)\nALTER TABLE users ADD COLUMN full_name text;"),
            (Phase::Backfill, "UPDATE users SET full_name = name WHERE full_name IS NULL;"),
            (Phase::Contract, "ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;"),
        ]);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn constraints_over_old_columns_need_a_rewrite_or_window_enforcement() {
        let hits = run(&[(Phase::Contract, "ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0);\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);\nALTER TABLE users ADD CONSTRAINT org_fk FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT org_fk;")]);
        let lines: Vec<usize> = hits.iter().map(|h| h.line).collect();
        assert_eq!(lines, [1, 2, 4], "{hits:?}");
        // Enforced since expand: VALIDATE is quiet.
        let hits = run(&[
            (Phase::Expand, "ALTER TABLE users ADD CONSTRAINT org_fk FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID;"),
            (Phase::Contract, "ALTER TABLE users VALIDATE CONSTRAINT org_fk;"),
        ]);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn constraints_over_new_columns_are_fine_unless_a_default_repeats() {
        let hits = run(&[
            (Phase::Expand, "ALTER TABLE users ADD COLUMN team_id bigint;\nALTER TABLE users ADD COLUMN code text DEFAULT '';"),
            (Phase::Contract, "ALTER TABLE users ADD CONSTRAINT team_fk FOREIGN KEY (team_id) REFERENCES orgs (id) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT team_fk;\nCREATE UNIQUE INDEX CONCURRENTLY users_code ON users (code);"),
        ]);
        let lines: Vec<usize> = hits.iter().map(|h| h.line).collect();
        assert_eq!(lines, [3], "{hits:?}");
    }

    #[test]
    fn tables_of_this_migration_and_other_phases_are_not_judged() {
        let hits = run(&[
            (Phase::Expand, "CREATE TABLE t (id int PRIMARY KEY, v int);\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
            (Phase::Contract, "ALTER TABLE t ALTER COLUMN v SET NOT NULL;"),
        ]);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn mysql_modify_not_null() {
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));",
            &[(
                Phase::Contract,
                "ALTER TABLE users MODIFY email varchar(100) NOT NULL;",
            )],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(compat-contract-needs-data): verified: SELECT count(*) WHERE email IS NULL = 0, app validates\nALTER TABLE users ALTER COLUMN email SET NOT NULL;";
        let all = Case::pg(SETUP, &[(Phase::Contract, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
