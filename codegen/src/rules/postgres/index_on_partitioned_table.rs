//! `index-on-partitioned-table`: `CREATE INDEX` on a partitioned parent

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "index-on-partitioned-table",
    severity: Severity::Error,
    summary: "`CREATE INDEX` on a partitioned parent",
    help: "`CREATE INDEX p_idx ON ONLY parent (…)` (no build, invalid); per partition `CREATE INDEX CONCURRENTLY` + `ALTER INDEX p_idx ATTACH PARTITION part_idx`; valid once all are attached",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
