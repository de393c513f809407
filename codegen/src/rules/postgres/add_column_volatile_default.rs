//! `add-column-volatile-default`: `ADD COLUMN … DEFAULT e` with a volatile `e` (`random()`,
//! `clock_timestamp()`, `gen_random_uuid()`, `nextval()`, a function not known STABLE or
//! IMMUTABLE) or of a domain type with constraints: every row gets its own value, a rewrite
//! under ACCESS EXCLUSIVE, on every version. Non-volatile defaults are
//! `add-column-default-old-server`'s (before 11 only); a volatile default reports here alone.

use crate::change::{AlterOp, Change, ExprInfo, Volatility};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-volatile-default",
    severity: Severity::Error,
    summary: "`ADD COLUMN … DEFAULT e`, `e` volatile (`random()`, `clock_timestamp()`, `gen_random_uuid()`, `nextval()`, a function not known `STABLE`/`IMMUTABLE`), or of a domain type with constraints",
    help: "expand: add the column without a default, then `ALTER COLUMN … SET DEFAULT e` (applies to new rows only); backfill: give the old rows their values",
    check,
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

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return;
    };
    if !ctx.is_existing_table(table) {
        return;
    }
    for op in ops {
        let AlterOp::AddColumn { column, .. } = op else {
            continue;
        };
        if let Some(default) = column.default.as_ref().filter(|d| !d.is_null) {
            if let Some(f) = volatile_function(ctx, default) {
                out.report(format!(
                    "`ADD COLUMN {} … DEFAULT {}` on `{table}`: `{f}()` is volatile (or not known to be stable), so every existing row gets its own value: the table is rewritten under ACCESS EXCLUSIVE",
                    column.name, default.text
                ));
                continue;
            }
        }
        let constrained_domain = ctx
            .schema
            .domains
            .iter()
            .any(|(n, d)| n.name == column.ty.name && d.has_constraints);
        if constrained_domain {
            out.report(format!(
                "`ADD COLUMN {}` of domain `{}` with constraints on `{table}`: every existing row is checked and rewritten under ACCESS EXCLUSIVE",
                column.name, column.ty.name
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
        ] {
            let sql = format!("ALTER TABLE users ADD COLUMN x text DEFAULT {f};");
            assert_eq!(expand_hits(SETUP, &sql, RULE).len(), 1, "{f}");
        }
    }

    #[test]
    fn stable_and_constant_defaults_are_fine() {
        for d in ["now()", "'active'", "0", "CURRENT_TIMESTAMP", "NULL"] {
            let sql = format!("ALTER TABLE users ADD COLUMN x text DEFAULT {d};");
            assert!(expand_hits(SETUP, &sql, RULE).is_empty(), "{d}");
        }
    }

    #[test]
    fn a_function_created_stable_is_trusted() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE FUNCTION today_tag() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'x' $$;";
        assert!(expand_hits(
            setup,
            "ALTER TABLE users ADD COLUMN tag text DEFAULT today_tag();",
            RULE
        )
        .is_empty());
    }

    #[test]
    fn constrained_domains_count() {
        let setup = "CREATE DOMAIN positive AS int CHECK (VALUE > 0);\nCREATE TABLE users (id bigint PRIMARY KEY);";
        assert_eq!(
            expand_hits(setup, "ALTER TABLE users ADD COLUMN n positive;", RULE).len(),
            1
        );
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
}
