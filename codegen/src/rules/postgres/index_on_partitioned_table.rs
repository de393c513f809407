//! `index-on-partitioned-table`: `CREATE INDEX` on a partitioned parent. `CONCURRENTLY` is
//! refused there, and the plain form takes SHARE on every partition for the whole build.
//! `CREATE INDEX … ON ONLY parent` builds nothing (an invalid parent index) and is the recipe.
//! Measured on PostgreSQL 15: `CREATE INDEX CONCURRENTLY` on a partitioned table fails with
//! "cannot create index on partitioned table … concurrently". An index on one partition is an
//! ordinary table's (`index-not-concurrent`).

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "index-on-partitioned-table",
    severity: Severity::Error,
    summary: "`CREATE INDEX` on a partitioned parent",
    help: "`CREATE INDEX p_idx ON ONLY parent (…)` (no build, invalid); per partition `CREATE INDEX CONCURRENTLY part_idx ON part (…)` + `ALTER INDEX p_idx ATTACH PARTITION part_idx`; the parent index is valid once all are attached",
    check,
    fix: None,
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
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE events (id bigint, d date) PARTITION BY RANGE (d);\nCREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');";
    const RULE: &str = "index-on-partitioned-table";

    #[test]
    fn flags_plain_and_concurrent_builds_on_the_parent() {
        let plain = expand_hits(SETUP, "CREATE INDEX events_d ON events (d);", RULE);
        assert_eq!(plain.len(), 1);
        assert!(
            plain[0].message.contains("every partition"),
            "{}",
            plain[0].message
        );
        let concurrent = expand_hits(
            SETUP,
            "CREATE UNIQUE INDEX CONCURRENTLY events_d ON events (id, d);",
            RULE,
        );
        assert_eq!(concurrent.len(), 1);
        assert!(
            concurrent[0].message.contains("refuses"),
            "{}",
            concurrent[0].message
        );
    }

    #[test]
    fn reported_once_not_also_as_index_not_concurrent() {
        let all = Case::pg(
            SETUP,
            &[(Phase::Expand, "CREATE INDEX events_d ON events (d);")],
        )
        .run();
        let rules: Vec<&str> = all.iter().map(|d| d.rule.as_str()).collect();
        assert_eq!(rules, [RULE]);
    }

    #[test]
    fn a_sub_partitioned_partition_is_a_parent_too() {
        let setup = "CREATE TABLE events (id bigint, d date, k int) PARTITION BY RANGE (d);\nCREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (k);";
        assert_eq!(
            expand_hits(setup, "CREATE INDEX e24_d ON events_2024 (d);", RULE).len(),
            1
        );
    }

    #[test]
    fn the_recipe_passes() {
        let sql = "CREATE INDEX events_d ON ONLY events (d);\nCREATE INDEX CONCURRENTLY events_2024_d ON events_2024 (d);\nALTER INDEX events_d ATTACH PARTITION events_2024_d;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != RULE && d.rule != "index-not-concurrent"),
            "{all:?}"
        );
    }

    #[test]
    fn new_table_is_exempt_but_not_by_contract() {
        let create = "CREATE TABLE m (id bigint, d date) PARTITION BY RANGE (d);";
        let sql = format!("{create}\nCREATE INDEX m_d ON m (d);");
        assert!(expand_hits(SETUP, &sql, RULE).is_empty());
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, create),
                (Phase::Contract, "CREATE INDEX m_d ON m (d);"),
            ],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(index-on-partitioned-table): two small partitions\nCREATE INDEX events_d ON events (d);";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != RULE && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
