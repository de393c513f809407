//! `compat-constraint-in-expand`: expand adds a CHECK, FOREIGN KEY, UNIQUE / PRIMARY KEY or
//! EXCLUDE constraint, or a unique index, over columns the old app (`S(N-1)`) writes. It is
//! enforced on new writes at once (`NOT VALID` only skips the old rows), and the checker cannot
//! prove the old app complies.
//!
//! Split with `contract-in-expand`: in a migration with a contract.sql, a constraint that is
//! checked against the existing rows (no `NOT VALID`, unique indexes) is contract work and is
//! reported there as an error; a `NOT VALID` one stays here as a warning, because adding it in
//! expand is how transition writers are kept from violating it before contract validates it.
//! `CHECK (col IS NOT NULL)` is `compat-not-null-in-expand`'s; `ADD CONSTRAINT … USING INDEX`
//! adds no enforcement of its own (the `CREATE UNIQUE INDEX` was the one to report).

use crate::change::{AlterOp, Change, ConstraintKind, ConstraintSpec, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::model::Table;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-constraint-in-expand",
    severity: Severity::Warning,
    summary: "expand adds a CHECK, FK or unique index (even `NOT VALID`) over columns `S(N-1)` writes",
    help: "add it in contract (after backfill), or keep it here with `-- concertina:allow(compat-constraint-in-expand): <why the old app's writes always comply>`",
    check,
    fix: None,
};

/// A constraint over old-app columns added by this statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConstraintHazard {
    pub table: QualName,
    /// "`CHECK`", "`FOREIGN KEY`", "unique index `users_email`"…
    pub what: String,
    /// The old app's columns it covers.
    pub columns: Vec<String>,
    /// Checked against the existing rows as it is added (no `NOT VALID`).
    pub validated: bool,
}

fn spec_hazard(table: &QualName, old: &Table, spec: &ConstraintSpec) -> Option<ConstraintHazard> {
    let what = match &spec.kind {
        ConstraintKind::Check {
            not_null_of: Some(_),
            ..
        }
        | ConstraintKind::NotNull { .. } => return None,
        ConstraintKind::PrimaryKey {
            using_index: Some(_),
            ..
        }
        | ConstraintKind::Unique {
            using_index: Some(_),
            ..
        } => return None,
        ConstraintKind::Check { .. } => "`CHECK`",
        ConstraintKind::ForeignKey { .. } => "`FOREIGN KEY`",
        ConstraintKind::Unique { .. } => "`UNIQUE`",
        ConstraintKind::PrimaryKey { .. } => "`PRIMARY KEY`",
        ConstraintKind::Exclude => "`EXCLUDE`",
    };
    let columns: Vec<String> = match &spec.kind {
        // The checker does not read an exclusion's columns: assume the old app writes them.
        ConstraintKind::Exclude => vec!["…".into()],
        kind => kind
            .columns()
            .into_iter()
            .filter(|c| old.column(c).is_some())
            .collect(),
    };
    if columns.is_empty() {
        return None;
    }
    let what = match &spec.name {
        Some(n) => format!("{what} constraint `{n}`"),
        None => format!("{what} constraint"),
    };
    Some(ConstraintHazard {
        table: table.clone(),
        what,
        columns,
        validated: !spec.not_valid,
    })
}

/// Constraints over old-app columns this statement adds (any phase; callers pick theirs).
pub(crate) fn constraint_hazards(ctx: &StatementCtx) -> Vec<ConstraintHazard> {
    let mut out = Vec::new();
    match ctx.change {
        Change::AlterTable { table, ops, .. } => {
            if ctx.is_new_table(table) {
                return out;
            }
            let Some(old) = ctx.window.before.table(table) else {
                return out;
            };
            for op in ops {
                match op {
                    AlterOp::AddConstraint(spec) => out.extend(spec_hazard(table, old, spec)),
                    AlterOp::AddColumn { column, .. } => {
                        for spec in &column.constraints {
                            out.extend(spec_hazard(table, old, spec));
                        }
                    }
                    AlterOp::AddIndex {
                        name,
                        columns,
                        unique: true,
                        ..
                    } => {
                        let columns: Vec<String> = columns
                            .iter()
                            .filter(|c| old.column(c).is_some())
                            .cloned()
                            .collect();
                        if !columns.is_empty() {
                            out.push(ConstraintHazard {
                                table: table.clone(),
                                what: format!("unique index `{}`", name.as_deref().unwrap_or("")),
                                columns,
                                validated: true,
                            });
                        }
                    }
                    AlterOp::RenameTable { .. } => break,
                    _ => {}
                }
            }
        }
        Change::CreateIndex(ci) if ci.unique => {
            if ctx.is_new_table(&ci.table) {
                return out;
            }
            let Some(old) = ctx.window.before.table(&ci.table) else {
                return out;
            };
            let mut columns: Vec<String> = ci
                .columns
                .iter()
                .chain(ci.expressions.iter().flat_map(|e| e.columns.iter()))
                .filter(|c| old.column(c).is_some())
                .cloned()
                .collect();
            columns.dedup();
            if !columns.is_empty() {
                out.push(ConstraintHazard {
                    table: ci.table.clone(),
                    what: match &ci.name {
                        Some(n) => format!("unique index `{n}`"),
                        None => "unique index".into(),
                    },
                    columns,
                    validated: true,
                });
            }
        }
        _ => {}
    }
    out
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Expand {
        return;
    }
    let has_contract = ctx.window.has_phase(Phase::Contract);
    for h in constraint_hazards(ctx) {
        // Checked against existing rows with a contract.sql at hand: contract-in-expand's.
        if has_contract && h.validated {
            continue;
        }
        let cols = h
            .columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let nv = if h.validated {
            ""
        } else {
            " (`NOT VALID` skips the old rows, not new writes)"
        };
        out.report(format!(
            "{} on `{}` in expand covers {cols}, which the old app (S(N-1)) writes: it is enforced on new writes at once{nv}, and nothing shows the old app's writes comply",
            h.what, h.table
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE orgs (id bigint PRIMARY KEY);\nCREATE TABLE users (id bigint PRIMARY KEY, email text, org_id bigint, age int);";
    const ID: &str = "compat-constraint-in-expand";

    #[test]
    fn warns_on_constraints_over_old_columns() {
        let sql = "ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT VALID;\nALTER TABLE users ADD CONSTRAINT users_org_fk FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID;\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);\nCREATE UNIQUE INDEX CONCURRENTLY users_lower_email ON users (lower(email));";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 4, "{hits:?}");
        assert!(hits.iter().all(|h| !h.is_error()));
        assert!(
            hits[0]
                .message
                .contains("`CHECK` constraint `age_pos` on `users`")
                && hits[0].message.contains("NOT VALID"),
            "{}",
            hits[0].message
        );
        assert!(
            hits[2].message.contains("unique index `users_email`"),
            "{}",
            hits[2].message
        );
    }

    #[test]
    fn constraints_over_new_columns_or_new_tables_are_quiet() {
        let sql = "ALTER TABLE users ADD COLUMN team_id bigint REFERENCES orgs (id);\nALTER TABLE users ADD COLUMN score int CHECK (score >= 0);\nCREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT a_pos CHECK (a > 0);\nCREATE UNIQUE INDEX CONCURRENTLY users_id2 ON users (id) WHERE false;";
        let hits = expand_hits(SETUP, sql, ID);
        // Only the last: a unique index over the old `id`.
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].line, 5);
    }

    #[test]
    fn not_null_checks_are_the_other_rule() {
        let sql = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn with_a_contract_validated_ones_are_contract_in_expand_not_valid_ones_stay_here() {
        let all = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT VALID;\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);"),
                (Phase::Contract, "ALTER TABLE users VALIDATE CONSTRAINT age_pos;"),
            ],
        )
        .run();
        let ours: Vec<usize> = all
            .iter()
            .filter(|d| d.rule == ID)
            .map(|d| d.line)
            .collect();
        let theirs: Vec<usize> = all
            .iter()
            .filter(|d| d.rule == "contract-in-expand")
            .map(|d| d.line)
            .collect();
        assert_eq!((ours, theirs), (vec![1], vec![2]), "{all:?}");
    }

    #[test]
    fn contract_is_not_checked_here() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT VALID;",
            )],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(compat-constraint-in-expand): the old app validates age > 0\nALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT VALID;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
