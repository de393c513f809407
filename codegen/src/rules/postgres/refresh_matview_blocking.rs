//! `refresh-matview-blocking`: `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY` holds ACCESS
//! EXCLUSIVE on the view for the whole query: reads of the view wait.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "refresh-matview-blocking",
    severity: Severity::Error,
    summary: "`REFRESH MATERIALIZED VIEW` without `CONCURRENTLY` on an existing view",
    help:
        "`REFRESH MATERIALIZED VIEW CONCURRENTLY` (needs a unique index on the view; reads go on)",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::RefreshMaterializedView {
        name,
        concurrently: false,
    } = ctx.change
    else {
        return;
    };
    // A view created earlier in this file is as new as a table created there.
    if ctx.is_new_table(name) {
        return;
    }
    out.report(format!(
        "`REFRESH MATERIALIZED VIEW {name}` holds ACCESS EXCLUSIVE on the view while its query runs: every read of `{name}` waits"
    ));
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str =
        "CREATE TABLE t (id bigint PRIMARY KEY);\nCREATE MATERIALIZED VIEW mv AS SELECT id FROM t;";
    const RULE: &str = "refresh-matview-blocking";

    #[test]
    fn flags_a_plain_refresh() {
        assert_eq!(
            expand_hits(SETUP, "REFRESH MATERIALIZED VIEW mv;", RULE).len(),
            1
        );
    }

    #[test]
    fn concurrently_is_safe() {
        assert!(expand_hits(SETUP, "REFRESH MATERIALIZED VIEW CONCURRENTLY mv;", RULE).is_empty());
    }
}
