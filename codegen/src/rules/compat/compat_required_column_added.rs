//! `compat-required-column-added`: in `E(N)` a column of an old-app table is `NOT NULL` with
//! nothing that fills it, and `S(N-1)`'s inserts may omit it: added that way
//! (`ADD COLUMN c … NOT NULL` without default), or its default dropped (`DROP DEFAULT`,
//! `SET DEFAULT NULL`, a MySQL `MODIFY` restating it `NOT NULL` without default).
//!
//! Checked in expand. `SET NOT NULL` on a nullable column is `compat-not-null-in-expand`'s.
//!
//! Fix, for `ADD COLUMN c T NOT NULL` once `migrate fix --fill t.c=EXPR` says what old rows
//! get: see [`fix`].

use crate::change::{AlterOp, ColumnSpec, ConstraintKind};
use crate::diag::Severity;
use crate::fix::decisions::flag_target;
use crate::fix::new_column::restates_more;
use crate::fix::sqltext::{ident, not_null_clause, qualified, tokens};
use crate::fix::{recipes, Edit, Fix, NoFix};
use crate::layout::{Layout, Phase};
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-required-column-added",
    severity: Severity::Error,
    summary: "in `E(N)` a column is `NOT NULL` without default that `S(N-1)` inserts omit: added that way, or its default dropped",
    help: "expand: add the column nullable or with a default; backfill: fill the old rows; contract: `SET NOT NULL` (and drop the default if the new app always writes it)",
    check,
    fix: Some(fix),
};

/// `ALTER TABLE t ADD COLUMN c T NOT NULL` in expand, with `--fill t.c=EXPR` → expand: the
/// same statement without its `NOT NULL`; backfill: `UPDATE t SET c = EXPR WHERE c IS NULL`
/// (old rows, in batches; the transition app writes `c` on new ones); contract: `c` made NOT
/// NULL (PostgreSQL's no-scan recipe; MySQL restates the column, which has nothing else).
/// The value is the user's: nothing in the statement says what old rows should hold.
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    let spec = match ops {
        // MySQL's `FIRST`/`AFTER` is a step of its own: it stays in the statement, as written.
        [AlterOp::AddColumn { column, .. }]
        | [AlterOp::AddColumn { column, .. }, AlterOp::MoveColumn { .. }] => column,
        [AlterOp::AddColumn { .. }, ..] | [_, _, ..] => return Err(NoFix::because("the statement has other actions: split it (one action per `ALTER TABLE`) and run fix again")),
        _ => return Err(NoFix::because("a default dropped from a column the old app omits has no rewrite: keep the default until contract (drop it there once no app omits the column)")),
    };
    if ctx.window.layout == Layout::Diesel {
        return Err(NoFix::because("a diesel migration has no backfill or contract phase: give it concertina's expand.sql/backfill.sql/contract.sql layout first"));
    }
    if ctx.in_transaction() {
        return Err(NoFix::because(
            "it is inside `BEGIN … COMMIT`: the recipe's statements would commit together",
        ));
    }
    if let Some(why) = restates_more(spec) {
        return Err(NoFix::because(format!(
            "the column {why}: add it bare and that as a statement of its own, then run fix again"
        )));
    }
    let d = ctx.dialect;
    let c = spec.name.as_str();
    let later = &ctx.source.text[ctx.statement.end..];
    let backfill = ctx.window.phase_text(Phase::Backfill).unwrap_or("");
    if recipes::names_table(ctx, later, table) || recipes::names_table(ctx, backfill, table) {
        return Err(NoFix::because(format!("a later statement of expand.sql, or backfill.sql, names `{table}` or cannot be followed: it may need `{c}` filled before the backfill fills it")));
    }
    let text = ctx.text();
    let toks = tokens(text)
        .ok_or_else(|| NoFix::because("the statement's text could not be read token by token"))?;
    let (from, to) = not_null_clause(text, &toks).ok_or_else(|| {
        NoFix::because("no `NOT NULL` in the statement as written: rewrite it by hand")
    })?;
    // Asked for last: with the value given, nothing else stands in the way.
    let Some(value) = ctx.config.fix_decisions.fill(table, c) else {
        let target = flag_target(table, c, d.default_schema());
        return Err(NoFix::needs(format!("--fill {target}=EXPR"), format!("the backfill needs the value every old row gets: run `cargo xtask migrate fix --fill {target}=EXPR` (a constant, or SQL over the row's other columns) to write the recipe with it")));
    };
    let start = ctx.statement.start;
    let (name, col) = (qualified(table, d), ident(c, d));
    let required = match ctx.is_postgres() {
        true => format!("ALTER COLUMN {col} SET NOT NULL"),
        false => format!("MODIFY {col} {} NOT NULL", spec.ty),
    };
    Ok(Fix::replace(start + from, start + to, "")
        .and(Edit::Append {
            phase: Phase::Backfill,
            text: format!("UPDATE {name} SET {col} = {value} WHERE {col} IS NULL;"),
        })
        .and(Edit::Append {
            phase: Phase::Contract,
            text: format!("ALTER TABLE {name} {required};"),
        }))
}

/// The column spec needs a value on every insert.
fn spec_requires(spec: &ColumnSpec) -> bool {
    let primary = spec
        .constraints
        .iter()
        .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }));
    (spec.not_null || primary)
        && spec.default.as_ref().is_none_or(|d| d.is_null)
        && !spec.serial
        && !spec.identity
        && spec.generated.is_none()
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Expand {
        return;
    }
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let Some(old) = ctx.window.before.table(table) else {
        return;
    };
    let current = ctx.schema.table(table);
    // The old app may leave the column out of its inserts: not in S(N-1), or filled there.
    let old_app_omits = |c: &str| old.column(c).is_none_or(|col| !col.insert_requires());
    for op in ops {
        match op {
            AlterOp::AddColumn { column, .. } if spec_requires(column) => {
                let c = &column.name;
                let also = if ctx.is_postgres() {
                    "; on PostgreSQL the `ADD COLUMN` itself fails once the table has a row"
                } else {
                    " (strict mode, error 1364)"
                };
                out.report_with_help(
                    format!("`ADD COLUMN {c}` on `{table}` is NOT NULL without a default: the old app (S(N-1)) does not know `{c}`, so its inserts omit it and fail{also}"),
                    format!("expand: `ALTER TABLE {table} ADD COLUMN {c} {}` (nullable) or with a `DEFAULT`; backfill: `UPDATE {table} SET {c} = … WHERE {c} IS NULL`; contract: `ALTER TABLE {table} ALTER COLUMN {c} SET NOT NULL`", column.ty),
                );
            }
            AlterOp::DropDefault { column: c } | AlterOp::SetDefault { column: c, .. } => {
                if let AlterOp::SetDefault { default, .. } = op {
                    if !default.is_null {
                        continue;
                    }
                }
                let Some(col) = current.and_then(|t| t.column(c)) else {
                    continue;
                };
                let required_now = !col.nullable && !col.identity && col.generated.is_none();
                if required_now && old_app_omits(c) {
                    out.report_with_help(
                        format!("dropping the default of `{table}.{c}` makes it NOT NULL without default while the old app (S(N-1)) may omit it: its inserts fail"),
                        format!("keep the default until contract, or `ALTER COLUMN {c} DROP NOT NULL` first; drop the default in {} once no app omits `{c}`", ctx.contract_place()),
                    );
                }
            }
            AlterOp::ModifyColumn { old_name, column } if spec_requires(column) => {
                // A nullable column made NOT NULL is compat-not-null-in-expand's.
                if let Some(before) = old.column(old_name) {
                    if !before.nullable && !before.insert_requires() {
                        let c = &column.name;
                        out.report_with_help(
                            format!("`MODIFY {c}` on `{table}` restates it NOT NULL without its default: the old app (S(N-1)) may omit `{c}`, so its inserts fail (strict mode, error 1364)"),
                            format!("restate the column with its `DEFAULT` in {}; drop the default in {} once no app omits `{c}`", ctx.file_name(), ctx.contract_place()),
                        );
                    }
                }
            }
            AlterOp::RenameTable { .. } => break,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text, status text NOT NULL DEFAULT 'new', email text NOT NULL);";
    const ID: &str = "compat-required-column-added";

    #[test]
    fn flags_a_required_new_column() {
        let hits = expand_hits(
            SETUP,
            "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;",
            ID,
        );
        assert_eq!(hits.len(), 1);
        assert!(hits[0].is_error());
        assert!(
            hits[0]
                .message
                .contains("`ADD COLUMN tenant_id` on `users`"),
            "{}",
            hits[0].message
        );
        assert!(
            hits[0].help.contains("ADD COLUMN tenant_id bigint"),
            "{}",
            hits[0].help
        );
    }

    #[test]
    fn flags_a_dropped_default_the_old_app_relies_on() {
        let sql = "ALTER TABLE users ALTER COLUMN status DROP DEFAULT;";
        assert_eq!(expand_hits(SETUP, sql, ID).len(), 1);
        let sql = "ALTER TABLE users ALTER COLUMN status SET DEFAULT NULL;";
        assert_eq!(expand_hits(SETUP, sql, ID).len(), 1);
    }

    #[test]
    fn filled_or_nullable_columns_are_fine() {
        let sql = "ALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN b int NOT NULL DEFAULT 0;\nALTER TABLE users ADD COLUMN c bigint GENERATED BY DEFAULT AS IDENTITY;\nALTER TABLE users ADD COLUMN d bigserial;\nALTER TABLE users ALTER COLUMN name DROP DEFAULT;\nALTER TABLE users ALTER COLUMN status SET DEFAULT 'fresh';";
        let hits = expand_hits(SETUP, sql, ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn a_column_the_old_app_always_writes_may_lose_its_default() {
        // `email` is required in S(N-1): the old app always writes it.
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);";
        let sql = "ALTER TABLE users ALTER COLUMN email SET DEFAULT '';\nALTER TABLE users ALTER COLUMN email DROP DEFAULT;";
        assert!(expand_hits(setup, sql, ID).is_empty());
    }

    #[test]
    fn new_tables_and_other_phases_are_exempt() {
        let sql = "CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN v int NOT NULL;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE users ALTER COLUMN status DROP DEFAULT;",
            )],
        )
        .hits(ID);
        assert!(hits.is_empty());
        // Created in expand: not the old app's table, by contract either.
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (id int);"),
                (Phase::Backfill, "UPDATE t SET id = 1 WHERE id IS NULL;"),
                (Phase::Contract, "ALTER TABLE t ADD COLUMN v int NOT NULL;"),
            ],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn mysql_add_and_modify() {
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, status varchar(10) NOT NULL DEFAULT 'new');",
            &[(Phase::Expand, "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;\nALTER TABLE users MODIFY status varchar(10) NOT NULL;")],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(hits[1].message.contains("MODIFY status"));
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(compat-required-column-added): the table is written by a batch job we stop first\nALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn fix_leaves_it_and_says_the_value_is_a_decision() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY);";
        let sql = "ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;";
        let (files, left) = Case::pg(setup, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(files, [(Phase::Expand, sql.to_string())]);
        let (_, why) = left
            .iter()
            .find(|(r, _)| r == "compat-required-column-added")
            .expect("listed");
        assert!(why.contains("value every old row gets"), "{why}");
    }

    #[test]
    fn fix_needs_the_fill_value_and_then_splits_the_column() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY);";
        let sql =
            "-- every user has a phone\nALTER TABLE users ADD COLUMN phone varchar(20) NOT NULL;\n";
        let (files, left) = Case::pg(setup, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(files, [(Phase::Expand, sql.to_string())]);
        let (_, why) = left.iter().find(|(r, _)| r == ID).expect("listed");
        assert!(why.contains("--fill users.phone=EXPR"), "{why}");
        let (files, left) = Case::pg(setup, &[(Phase::Expand, sql)])
            .fill("users.phone='unknown'")
            .fixed();
        assert_eq!(
            files,
            [
                (Phase::Expand, "-- every user has a phone\nALTER TABLE users ADD COLUMN phone varchar(20);\n".to_string()),
                (Phase::Backfill, "-- backfill: written by `cargo xtask migrate fix`\nUPDATE users SET phone = 'unknown' WHERE phone IS NULL;\n".to_string()),
                (Phase::Contract, "-- contract: written by `cargo xtask migrate fix`\nALTER TABLE users ALTER COLUMN phone SET NOT NULL;\n".to_string()),
            ]
        );
        assert!(left.is_empty(), "{left:?}");
        // MySQL restates the column in contract.
        let sql = "ALTER TABLE users ADD COLUMN phone varchar(20) NOT NULL AFTER id;";
        let (files, left) = Case::mysql(setup, &[(Phase::Expand, sql)])
            .server("8.0")
            .fill("users.phone=concat('+', id)")
            .fixed();
        assert_eq!(
            files[0].1, "ALTER TABLE users ADD COLUMN phone varchar(20) AFTER id;",
            "{left:?}"
        );
        assert!(
            files[1]
                .1
                .contains("UPDATE users SET phone = concat('+', id) WHERE phone IS NULL;"),
            "{}",
            files[1].1
        );
        assert!(
            files[2]
                .1
                .contains("ALTER TABLE users MODIFY phone varchar(20) NOT NULL;"),
            "{}",
            files[2].1
        );
        assert!(left.iter().all(|(r, _)| r != ID), "{left:?}");
        // A column with more than a type is split by hand first.
        let sql = "ALTER TABLE users ADD COLUMN phone varchar(20) NOT NULL COLLATE \"C\";";
        let (files, left) = Case::pg(setup, &[(Phase::Expand, sql)])
            .fill("users.phone='x'")
            .fixed();
        assert_eq!(files, [(Phase::Expand, sql.to_string())]);
        let (_, why) = left.iter().find(|(r, _)| r == ID).expect("listed");
        assert!(
            why.contains("collation") && why.contains("add it bare"),
            "{why}"
        );
    }
}
