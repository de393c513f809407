//! `add-column-volatile-default`: `ADD COLUMN … DEFAULT e` with a volatile `e` (`random()`,
//! `clock_timestamp()`, `gen_random_uuid()`, `nextval()`, a function not known STABLE or
//! IMMUTABLE) or of a domain type with constraints: every row gets its own value (or is
//! checked), a rewrite under ACCESS EXCLUSIVE, on every version. Measured on PostgreSQL 15
//! (`relfilenode`): `DEFAULT random()` and a constrained domain (with or without a default)
//! rewrite; `DEFAULT now()`, `now()::text`, a constant and an unconstrained domain do not.
//!
//! Double reports: a non-volatile default before 11 is `add-column-default-old-server`'s; a
//! statement this rule reports is not reported again by that one (one rewrite, one finding).

use crate::change::{AlterOp, ColumnSpec, ExprInfo, Volatility};
use crate::diag::Severity;
use crate::fix::sqltext::{find_word, ident, not_null_clause, qualified, tokens, COLUMN_CLAUSES};
use crate::fix::{Edit, Fix, NoFix};
use crate::layout::{Layout, Phase};
use crate::rules::postgres::column_type_rewrite::strip_domains;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-volatile-default",
    severity: Severity::Error,
    summary: "`ADD COLUMN … DEFAULT e`, `e` volatile (`random()`, `clock_timestamp()`, `gen_random_uuid()`, `nextval()`, a function not known `STABLE`/`IMMUTABLE`), or of a domain type with constraints",
    help: "expand: add the column without a default (of the domain's base type if it has constraints), then `ALTER COLUMN … SET DEFAULT e` (applies to new rows only); backfill: give the old rows their values",
    check,
    fix: Some(fix),
};

/// `ADD COLUMN c t [NOT NULL] DEFAULT e` → expand: `ADD COLUMN c t` and `ALTER COLUMN c SET
/// DEFAULT e` (new rows); backfill: `UPDATE … SET c = e WHERE c IS NULL` (old rows, in
/// batches); contract: `SET NOT NULL` when the column had it.
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    let [AlterOp::AddColumn { column, .. }] = ops else {
        return Err(NoFix::because("the column shares its `ALTER TABLE` with other actions: split the statement (one action per `ALTER TABLE`) and run fix again"));
    };
    if column.default.is_none() || column.type_is_user_defined {
        return Err(NoFix::because("the column is of a domain with constraints: the recipe adds it of the domain's base type, a type to choose by hand"));
    }
    if !column.constraints.is_empty()
        || column.serial
        || column.identity
        || column.generated.is_some()
    {
        return Err(NoFix::because("the column has constraints of its own (key, `CHECK`, `REFERENCES`): each needs its own recipe, written by hand"));
    }
    if ctx.phase != Phase::Expand || ctx.window.layout != Layout::Concertina {
        return Err(NoFix::because("the recipe spreads over expand, backfill and contract: only a column added in a concertina migration's expand.sql is rewritten"));
    }
    if ctx.in_transaction() {
        return Err(NoFix::because(
            "it is inside `BEGIN … COMMIT`: the recipe's statements would commit together",
        ));
    }
    let text = ctx.text();
    let unreadable = || NoFix::because("the statement's text could not be read token by token");
    let toks = tokens(text).ok_or_else(unreadable)?;
    let d = find_word(text, &toks, "DEFAULT").ok_or_else(unreadable)?;
    let e = (d + 1..toks.len())
        .find(|&i| toks[i].depth == 0 && COLUMN_CLAUSES.iter().any(|w| toks[i].is(text, w)))
        .unwrap_or(toks.len());
    if e == d + 1 {
        return Err(unreadable());
    }
    let expr = &text[toks[d + 1].start..toks[e - 1].end];
    let at = |i: usize| ctx.statement.start + i;
    // Each removed clause takes the space before it.
    let mut fix = Fix::replace(at(toks[d - 1].end), at(toks[e - 1].end), "");
    if let Some((from, to)) = not_null_clause(text, &toks) {
        fix = fix.and(Edit::Replace {
            start: at(from),
            end: at(to),
            text: String::new(),
        });
    }
    let name = qualified(table, ctx.dialect);
    let col = ident(&column.name, ctx.dialect);
    let end = at(toks.last().map_or(0, |t| t.end));
    fix = fix
        .and(Edit::Replace {
            start: end,
            end,
            text: format!(";\nALTER TABLE {name} ALTER COLUMN {col} SET DEFAULT {expr}"),
        })
        .and(Edit::Append {
            phase: Phase::Backfill,
            text: format!("UPDATE {name} SET {col} = {expr} WHERE {col} IS NULL;"),
        });
    if column.not_null {
        fix = fix.and(Edit::Append {
            phase: Phase::Contract,
            text: format!("ALTER TABLE {name} ALTER COLUMN {col} SET NOT NULL;"),
        });
    }
    Ok(fix)
}

/// The first function of `expr` that is volatile or of unknown volatility.
pub(crate) fn volatile_function(ctx: &StatementCtx, expr: &ExprInfo) -> Option<String> {
    expr.functions
        .iter()
        .find(|f| {
            let known = ctx
                .dialect
                .builtin_volatility(f)
                .or_else(|| ctx.schema.function_volatility(f));
            !matches!(known, Some(Volatility::Stable | Volatility::Immutable))
        })
        .cloned()
}

/// Why adding `column` to an existing table rewrites it on every server version, if it does:
/// what this rule reports.
pub(crate) fn rewrite_reason(ctx: &StatementCtx, column: &ColumnSpec) -> Option<String> {
    if let Some(default) = column.default.as_ref().filter(|d| !d.is_null) {
        if let Some(f) = volatile_function(ctx, default) {
            return Some(format!(
                "`ADD COLUMN {} … DEFAULT {}`: `{f}()` is volatile (or not known to be stable), so every existing row gets its own value",
                column.name, default.text
            ));
        }
    }
    let (_, constrained) = strip_domains(ctx.schema, &column.ty);
    constrained.then(|| {
        format!(
            "`ADD COLUMN {}` of domain `{}`, which has constraints: every existing row is checked against them",
            column.name, column.ty.name
        )
    })
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let AlterOp::AddColumn { column, .. } = op else {
            continue;
        };
        if let Some(why) = rewrite_reason(ctx, column) {
            out.report(format!(
                "{why} on `{table}`: the table is rewritten under ACCESS EXCLUSIVE, reads and writes wait for the whole rewrite"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY);";
    const RULE: &str = "add-column-volatile-default";

    #[test]
    fn flags_volatile_defaults_on_every_version() {
        for f in [
            "random()",
            "gen_random_uuid()",
            "clock_timestamp()",
            "nextval('s')",
            "my_func()",
            "md5(random()::text)",
        ] {
            let sql = format!("ALTER TABLE users ADD COLUMN x text DEFAULT {f};");
            for server in ["10", "14", "17"] {
                let hits = Case::pg(SETUP, &[(Phase::Expand, sql.as_str())])
                    .server(server)
                    .hits(RULE);
                assert_eq!(hits.len(), 1, "{f} on {server}");
                assert!(hits[0].message.contains("rewritten under ACCESS EXCLUSIVE"));
            }
        }
    }

    #[test]
    fn stable_and_constant_defaults_are_fine() {
        for d in [
            "now()",
            "now()::text",
            "'active'",
            "0",
            "CURRENT_TIMESTAMP",
            "NULL",
            "lower('X')",
        ] {
            let sql = format!("ALTER TABLE users ADD COLUMN x text DEFAULT {d};");
            assert!(expand_hits(SETUP, &sql, RULE).is_empty(), "{d}");
        }
    }

    #[test]
    fn functions_created_by_migrations_are_judged_by_their_volatility() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE FUNCTION tag() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'x' $$;\nCREATE FUNCTION roll() RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT 'x' $$;\nCREATE FUNCTION plain() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;";
        assert!(expand_hits(
            setup,
            "ALTER TABLE users ADD COLUMN tag text DEFAULT tag();",
            RULE
        )
        .is_empty());
        for f in ["roll()", "plain()"] {
            let sql = format!("ALTER TABLE users ADD COLUMN tag text DEFAULT {f};");
            assert_eq!(expand_hits(setup, &sql, RULE).len(), 1, "{f}");
        }
    }

    #[test]
    fn constrained_domains_count() {
        let setup = "CREATE DOMAIN positive AS int CHECK (VALUE > 0);\nCREATE DOMAIN pos2 AS positive;\nCREATE DOMAIN label AS text;\nCREATE TABLE users (id bigint PRIMARY KEY);";
        for sql in [
            "ALTER TABLE users ADD COLUMN n positive;",
            "ALTER TABLE users ADD COLUMN n positive DEFAULT 5;",
            "ALTER TABLE users ADD COLUMN n pos2;",
        ] {
            let hits = expand_hits(setup, sql, RULE);
            assert_eq!(hits.len(), 1, "{sql}");
            assert!(hits[0].message.contains("domain"), "{}", hits[0].message);
        }
        assert!(expand_hits(setup, "ALTER TABLE users ADD COLUMN l label;", RULE).is_empty());
    }

    #[test]
    fn the_recipe_passes_and_new_tables_are_exempt() {
        let sql = "ALTER TABLE users ADD COLUMN token uuid;\nALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid();";
        assert!(Case::pg(SETUP, &[(Phase::Expand, sql)])
            .hits(RULE)
            .is_empty());
        assert!(expand_hits(
            SETUP,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN r float DEFAULT random();",
            RULE
        )
        .is_empty());
    }

    #[test]
    fn a_table_created_in_expand_is_not_new_by_contract() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (a int);"),
                (
                    Phase::Contract,
                    "ALTER TABLE t ADD COLUMN r float DEFAULT random();",
                ),
            ],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(add-column-volatile-default): users is empty here\nALTER TABLE users ADD COLUMN r float DEFAULT random();";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != RULE && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn fix_splits_the_column_into_default_for_new_rows_and_a_backfill() {
        let sql = "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files,
            [
                (Phase::Expand, "ALTER TABLE users ADD COLUMN token uuid;\nALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid();\n".to_string()),
                (Phase::Backfill, "-- backfill: written by `cargo xtask migrate fix`\nUPDATE users SET token = gen_random_uuid() WHERE token IS NULL;\n".to_string()),
                (Phase::Contract, "-- contract: written by `cargo xtask migrate fix`\nALTER TABLE users ALTER COLUMN token SET NOT NULL;\n".to_string()),
            ]
        );
        assert!(
            left.iter()
                .all(|(rule, _)| rule != "add-column-volatile-default"),
            "{left:?}"
        );
    }
}
