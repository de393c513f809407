//! `detach-partition-blocking`: `DETACH PARTITION` without `CONCURRENTLY` takes ACCESS
//! EXCLUSIVE on the parent. `CONCURRENTLY` exists from PostgreSQL 14; before that there is no
//! safe form and the recipe is a reviewed `allow`.

use crate::change::AlterOp;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "detach-partition-blocking",
    severity: Severity::Error,
    summary: "`DETACH PARTITION` without `CONCURRENTLY`",
    help: "14+: `ALTER TABLE parent DETACH PARTITION part CONCURRENTLY` (refused when the parent has a DEFAULT partition; after an interruption, `… FINALIZE`); before 14: a reviewed `-- concertina:allow(detach-partition-blocking): reason` at a quiet time",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let AlterOp::DetachPartition {
            partition,
            concurrently,
            finalize,
        } = op
        else {
            continue;
        };
        if *concurrently || *finalize {
            continue;
        }
        let how = if ctx.server_at_least(14, 0) {
            "use `CONCURRENTLY`"
        } else {
            "PostgreSQL before 14 has no concurrent form"
        };
        out.report(format!(
            "`DETACH PARTITION {partition}` takes ACCESS EXCLUSIVE on `{table}`: every query on the partitioned table waits ({how})"
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const SETUP: &str = "CREATE TABLE events (id bigint, d date) PARTITION BY RANGE (d);\nCREATE TABLE events_2020 PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');";
    const RULE: &str = "detach-partition-blocking";

    #[test]
    fn flags_a_blocking_detach() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE events DETACH PARTITION events_2020;",
            )],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("use `CONCURRENTLY`"));
        let old = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE events DETACH PARTITION events_2020;",
            )],
        )
        .server("13")
        .hits(RULE);
        assert!(old[0].message.contains("before 14"));
    }

    #[test]
    fn concurrently_is_safe() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;",
            )],
        )
        .hits(RULE);
        assert!(hits.is_empty());
    }
}
