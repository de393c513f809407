//! `attach-partition-scan`: `ATTACH PARTITION` scans the table to prove every row fits the
//! bound, under ACCESS EXCLUSIVE on it (and scans a DEFAULT partition to prove none of its rows
//! belongs to the new one). A validated CHECK that implies the bound skips the scan.
//!
//! Heuristic (the model cannot prove implication): the partition is taken as proven when it
//! has a validated CHECK whose text mentions every literal of the bound. Attaching as DEFAULT
//! is always flagged. Limitation: the model does not record partition bounds, so it cannot
//! tell whether the parent has a DEFAULT partition that would be scanned too; the recipe
//! names that case. New tables (created earlier in the same file) are exempt.

use crate::change::{AlterOp, Change, ConstraintKind};
use crate::diag::Severity;
use crate::model::Table;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "attach-partition-scan",
    severity: Severity::Error,
    summary: "`ATTACH PARTITION` when the table has no validated CHECK implying the bound, or a DEFAULT partition has none excluding it",
    help: "add `CHECK (<bound>) NOT VALID` + `VALIDATE CONSTRAINT` on the table (and one excluding the bound on the DEFAULT partition), then `ATTACH PARTITION`, then drop the helper CHECKs",
    check,
    fix: None,
};

/// The quoted and numeric literals of a bound such as `FOR VALUES FROM ('2024-01-01') TO (…)`.
fn literals(bound: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = bound.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            let rest = &bound[i + 1..];
            if let Some(end) = rest.find('\'') {
                out.push(rest[..end].to_string());
                for _ in 0..=end {
                    chars.next();
                }
            }
        } else if c.is_ascii_digit() && (i == 0 || !bound.as_bytes()[i - 1].is_ascii_alphanumeric())
        {
            let num: String = bound[i..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            for _ in 1..num.len() {
                chars.next();
            }
            out.push(num);
        }
    }
    out
}

fn proven_by_check(table: &Table, literals: &[String]) -> bool {
    table.constraints.iter().any(|c| {
        c.validated
            && matches!(&c.kind, ConstraintKind::Check { expr, .. }
                if literals.iter().all(|m| expr.text.contains(m.as_str())))
    })
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::AlterTable { ops, .. } = ctx.change else {
        return;
    };
    for op in ops {
        let AlterOp::AttachPartition {
            partition,
            bound,
            is_default,
        } = op
        else {
            continue;
        };
        if ctx.is_new_table(partition) {
            continue;
        }
        let proven = !*is_default
            && ctx
                .schema
                .table(partition)
                .is_some_and(|part| proven_by_check(part, &literals(bound)));
        if !proven {
            out.report(format!(
                "`ATTACH PARTITION {partition}` scans `{partition}` under ACCESS EXCLUSIVE to prove every row fits `{bound}`: no validated CHECK on it implies the bound"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE events (id bigint, d date) PARTITION BY RANGE (d);\nCREATE TABLE events_2024 (id bigint, d date);";
    const RULE: &str = "attach-partition-scan";
    const ATTACH: &str = "ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');";

    #[test]
    fn flags_an_unproven_attach() {
        let hits = expand_hits(SETUP, ATTACH, RULE);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("events_2024"));
    }

    #[test]
    fn a_validated_check_over_the_bound_makes_it_safe() {
        let setup = format!("{SETUP}\nALTER TABLE events_2024 ADD CONSTRAINT in_2024 CHECK (d >= '2024-01-01' AND d < '2025-01-01');");
        assert!(expand_hits(&setup, ATTACH, RULE).is_empty());
        let not_valid = format!("{SETUP}\nALTER TABLE events_2024 ADD CONSTRAINT in_2024 CHECK (d >= '2024-01-01' AND d < '2025-01-01') NOT VALID;");
        assert_eq!(expand_hits(&not_valid, ATTACH, RULE).len(), 1);
    }

    #[test]
    fn a_partition_created_in_the_same_file_is_exempt() {
        let sql = format!(
            "CREATE TABLE events_2025 (id bigint, d date);\n{}",
            ATTACH.replace("events_2024", "events_2025")
        );
        assert!(expand_hits(SETUP, &sql, RULE).is_empty());
    }

    #[test]
    fn reads_bound_literals() {
        assert_eq!(
            super::literals("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"),
            ["2024-01-01", "2025-01-01"]
        );
        assert_eq!(
            super::literals("FOR VALUES FROM (1) TO (100)"),
            ["1", "100"]
        );
    }
}
