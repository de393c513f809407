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
use crate::rules::postgres::column_type_rewrite::strip_domains;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-volatile-default",
    severity: Severity::Error,
    summary: "`ADD COLUMN … DEFAULT e`, `e` volatile (`random()`, `clock_timestamp()`, `gen_random_uuid()`, `nextval()`, a function not known `STABLE`/`IMMUTABLE`), or of a domain type with constraints",
    help: "expand: add the column without a default (of the domain's base type if it has constraints), then `ALTER COLUMN … SET DEFAULT e` (applies to new rows only); backfill: give the old rows their values",
    check,
    fix: None,
};

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
}
