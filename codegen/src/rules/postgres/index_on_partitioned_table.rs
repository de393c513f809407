//! `index-on-partitioned-table`: `CREATE INDEX` on a partitioned parent. `CONCURRENTLY` is
//! refused there, and the plain form takes SHARE on every partition for the whole build.
//! `CREATE INDEX … ON ONLY parent` builds nothing (an invalid parent index) and is the recipe.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "index-on-partitioned-table",
    severity: Severity::Error,
    summary: "`CREATE INDEX` on a partitioned parent",
    help: "`CREATE INDEX p_idx ON ONLY parent (…)` (no build, invalid); per partition `CREATE INDEX CONCURRENTLY part_idx ON part (…)` + `ALTER INDEX p_idx ATTACH PARTITION part_idx`; the parent index is valid once all are attached",
    check,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::CreateIndex(ci) = ctx.change else {
        return;
    };
    if ci.only || !ctx.is_existing_table(&ci.table) {
        return;
    }
    if !ctx.schema.table(&ci.table).is_some_and(|t| t.partitioned) {
        return;
    }
    let what = if ci.concurrently {
        "PostgreSQL refuses `CONCURRENTLY` on a partitioned table"
    } else {
        "the build holds SHARE on every partition: writes to all of them wait"
    };
    out.report(format!(
        "`CREATE INDEX` on partitioned `{}`: {what}",
        ci.table
    ));
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE events (id bigint, d date) PARTITION BY RANGE (d);\nCREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');";
    const RULE: &str = "index-on-partitioned-table";

    #[test]
    fn flags_plain_and_concurrent_builds_on_the_parent() {
        assert_eq!(
            expand_hits(SETUP, "CREATE INDEX events_d ON events (d);", RULE).len(),
            1
        );
        assert_eq!(
            expand_hits(
                SETUP,
                "CREATE INDEX CONCURRENTLY events_d ON events (d);",
                RULE
            )
            .len(),
            1
        );
    }

    #[test]
    fn the_recipe_passes() {
        let sql = "CREATE INDEX events_d ON ONLY events (d);\nCREATE INDEX CONCURRENTLY events_2024_d ON events_2024 (d);\nALTER INDEX events_d ATTACH PARTITION events_2024_d;";
        let all =
            crate::rules::testing::Case::pg(SETUP, &[(crate::layout::Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != RULE && d.rule != "index-not-concurrent"),
            "{all:?}"
        );
    }
}
