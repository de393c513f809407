//! `function-used-by-index-changed`: `CREATE OR REPLACE FUNCTION` of a function that an index
//! expression or predicate, a generated column or a CHECK uses. Stored results (index entries,
//! generated values) are not recomputed, so they disagree with the new body.

use crate::change::{Change, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "function-used-by-index-changed",
    severity: Severity::Warning,
    summary: "`CREATE OR REPLACE FUNCTION` of a function used in an index expression/predicate, generated column or CHECK",
    help: "create a new function and a new index on it `CONCURRENTLY` (then drop the old ones), or `REINDEX INDEX CONCURRENTLY` (12+) right after the replacement",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::CreateFunction {
        name,
        or_replace: true,
        ..
    } = ctx.change
    else {
        return;
    };
    let f = name.name.to_lowercase();
    let mut users = Vec::new();
    for idx in ctx.schema.indexes.values() {
        let in_index = idx.expressions.iter().any(|e| e.functions.contains(&f))
            || idx
                .predicate
                .as_ref()
                .is_some_and(|p| p.functions.contains(&f));
        if in_index {
            users.push(format!("index `{}`", idx.name));
        }
    }
    for table in ctx.schema.tables.values() {
        for c in &table.columns {
            if c.generated
                .as_ref()
                .is_some_and(|g| g.expr.functions.contains(&f))
            {
                users.push(format!("generated column `{}.{}`", table.name, c.name));
            }
        }
        for con in &table.constraints {
            if let ConstraintKind::Check { expr, .. } = &con.kind {
                if expr.functions.contains(&f) {
                    users.push(format!("check `{}` on `{}`", con.name, table.name));
                }
            }
        }
    }
    if users.is_empty() {
        return;
    }
    out.report(format!(
        "replacing `{name}` leaves what was stored with the old body in place: {} keep(s) values computed by the old definition",
        users.join(", ")
    ));
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;\nCREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_norm_email ON users (norm(email));";
    const RULE: &str = "function-used-by-index-changed";
    const REPLACE: &str = "CREATE OR REPLACE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(trim(t)) $$;";

    #[test]
    fn flags_replacing_a_function_an_index_uses() {
        let hits = expand_hits(SETUP, REPLACE, RULE);
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("users_norm_email"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn an_unused_function_is_fine() {
        let setup = "CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;\nCREATE TABLE users (id bigint PRIMARY KEY, email text);";
        assert!(expand_hits(setup, REPLACE, RULE).is_empty());
    }

    #[test]
    fn check_constraints_count_too() {
        let setup = "CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(t) $$;\nCREATE TABLE users (id bigint PRIMARY KEY, email text CHECK (norm(email) = email));";
        assert_eq!(expand_hits(setup, REPLACE, RULE).len(), 1);
    }
}
