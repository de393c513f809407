//! `compat-not-null-in-expand`: expand makes a column of an old-app table reject NULL while
//! `S(N-1)` may write NULL to it (nullable there) or omits it (not in `S(N-1)`, no default):
//! `SET NOT NULL`, `CHECK (col IS NOT NULL)` (`NOT VALID` included: it skips old rows, not new
//! writes), a `NOT NULL` constraint, `PRIMARY KEY` over nullable columns, MySQL `MODIFY … NOT NULL`.
//!
//! Split with `contract-in-expand`: when the migration has a contract.sql, that rule reports these
//! statements ("move it to contract.sql") and this one stays quiet.

use crate::change::{AlterOp, Change, ConstraintKind, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-not-null-in-expand",
    severity: Severity::Error,
    summary: "expand sets `NOT NULL`, or adds `CHECK (col IS NOT NULL)` (even `NOT VALID`), on a column that `S(N-1)` omits or may write NULL to",
    help: "in expand keep the column nullable; backfill the NULLs; then `SET NOT NULL` in contract, once no app writes NULL (the runtime turns it into CHECK NOT VALID + VALIDATE + SET NOT NULL)",
    check,
    fix: None,
};

/// A tightening to NOT NULL that the old app's writes may violate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotNullHazard {
    pub table: QualName,
    pub column: String,
    /// The statement's form, for messages: "`SET NOT NULL`".
    pub what: String,
    /// Why the old app writes NULL there.
    pub reason: &'static str,
}

const MAY_WRITE_NULL: &str =
    "the old app (S(N-1)) has it nullable and may write NULL to it, so its writes fail at once";
const OMITS: &str =
    "the old app (S(N-1)) does not know it and omits it from its inserts, which then fail at once";

/// NOT NULL tightenings of old-app columns in this statement (any phase; callers pick theirs).
pub(crate) fn not_null_hazards(ctx: &StatementCtx) -> Vec<NotNullHazard> {
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return Vec::new();
    };
    if ctx.is_new_table(table) {
        return Vec::new();
    }
    let Some(old) = ctx.window.before.table(table) else {
        return Vec::new();
    };
    let current = ctx.schema.table(table);
    let mut candidates: Vec<(String, String, bool)> = Vec::new(); // (column, what, filled)
    let filled_now = |c: &str| {
        current
            .and_then(|t| t.column(c))
            .is_some_and(|col| col.default.is_some() || col.identity || col.generated.is_some())
    };
    for op in ops {
        match op {
            AlterOp::SetNotNull { column } => {
                candidates.push((column.clone(), "`SET NOT NULL`".into(), filled_now(column)))
            }
            AlterOp::AddConstraint(spec) => {
                let nv = if spec.not_valid { " NOT VALID" } else { "" };
                match &spec.kind {
                    ConstraintKind::Check {
                        not_null_of: Some(c),
                        ..
                    } => candidates.push((
                        c.clone(),
                        format!("`CHECK ({c} IS NOT NULL){nv}`"),
                        filled_now(c),
                    )),
                    ConstraintKind::NotNull { column } => candidates.push((
                        column.clone(),
                        format!("`NOT NULL {column}{nv}` constraint"),
                        filled_now(column),
                    )),
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
                        for c in cols {
                            let filled = filled_now(&c);
                            candidates.push((c, "`PRIMARY KEY`".into(), filled));
                        }
                    }
                    _ => {}
                }
            }
            AlterOp::ModifyColumn { old_name, column } if column.not_null => {
                let filled = column.default.as_ref().is_some_and(|d| !d.is_null) || column.identity;
                candidates.push((
                    old_name.clone(),
                    format!("`MODIFY {} … NOT NULL`", column.name),
                    filled,
                ));
            }
            AlterOp::AddColumn { column, .. } => {
                let filled = column.default.as_ref().is_some_and(|d| !d.is_null)
                    || column.identity
                    || column.serial
                    || column.generated.is_some();
                for c in &column.constraints {
                    if let ConstraintKind::Check {
                        not_null_of: Some(n),
                        ..
                    } = &c.kind
                    {
                        if n == &column.name {
                            candidates.push((
                                n.clone(),
                                format!("`CHECK ({n} IS NOT NULL)`"),
                                filled,
                            ));
                        }
                    }
                }
            }
            AlterOp::RenameTable { .. } => break,
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (column, what, filled) in candidates {
        let reason = match old.column(&column) {
            Some(_) if old.proves_not_null(&column) => continue,
            Some(_) => MAY_WRITE_NULL,
            None if filled => continue,
            // Neither the old app's schema nor the model now has the column: an opaque
            // statement (or a history the model did not see) made it. What the old app writes
            // is unknown; `unknown-object` says so instead of a guess.
            None if current.and_then(|t| t.column(&column)).is_none() => continue,
            None => OMITS,
        };
        out.push(NotNullHazard {
            table: table.clone(),
            column,
            what,
            reason,
        });
    }
    out
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Expand || ctx.window.has_phase(Phase::Contract) {
        return;
    }
    for h in not_null_hazards(ctx) {
        out.report(format!(
            "{} on `{}.{}` in expand: {}",
            h.what, h.table, h.column, h.reason
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str =
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text NOT NULL, code text);";
    const ID: &str = "compat-not-null-in-expand";

    #[test]
    fn flags_set_not_null_on_a_column_the_old_app_may_leave_null() {
        let hits = expand_hits(
            SETUP,
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            ID,
        );
        assert_eq!(hits.len(), 1);
        assert!(hits[0].is_error());
        assert!(
            hits[0].message.contains("`SET NOT NULL` on `users.email`"),
            "{}",
            hits[0].message
        );
        assert!(hits[0].message.contains("may write NULL"));
    }

    #[test]
    fn not_valid_checks_and_not_null_constraints_count() {
        let sql = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users ADD CONSTRAINT code_nn NOT NULL code;";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(hits[0].message.contains("NOT VALID"));
    }

    #[test]
    fn a_new_column_without_default_is_omitted_by_the_old_app() {
        let sql = "ALTER TABLE users ADD COLUMN tier text;\nALTER TABLE users ALTER COLUMN tier SET NOT NULL;";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("omits it"), "{}", hits[0].message);
        // With a default the old app's inserts get a value.
        let sql = "ALTER TABLE users ADD COLUMN tier text DEFAULT 'free';\nALTER TABLE users ALTER COLUMN tier SET NOT NULL;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn already_not_null_or_new_tables_are_fine() {
        let sql = "ALTER TABLE users ALTER COLUMN name SET NOT NULL;\nCREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn primary_key_over_a_nullable_column() {
        let setup = "CREATE TABLE events (uid uuid, kind text);";
        let hits = expand_hits(setup, "ALTER TABLE events ADD PRIMARY KEY (uid);", ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
    }

    #[test]
    fn with_a_contract_it_is_contract_in_expand() {
        let all = Case::pg(
            SETUP,
            &[
                (
                    Phase::Expand,
                    "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
                ),
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
    fn contract_is_where_it_belongs() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            )],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn mysql_modify_not_null() {
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));",
            &[(
                Phase::Expand,
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
        let sql = "-- concertina:allow(compat-not-null-in-expand): the old app validates email as required\nALTER TABLE users ALTER COLUMN email SET NOT NULL;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn a_column_the_model_does_not_know_is_no_guess() {
        let hits = crate::rules::testing::expand_hits(
            "CREATE TABLE pm (id bigint PRIMARY KEY, body text);",
            "ALTER TABLE pm ALTER COLUMN ap_id SET NOT NULL;",
            "compat-not-null-in-expand",
        );
        assert!(hits.is_empty(), "{hits:?}");
    }
}
