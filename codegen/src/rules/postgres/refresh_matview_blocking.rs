//! `refresh-matview-blocking`: `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY` on an existing view

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "refresh-matview-blocking",
    severity: Severity::Error,
    summary: "`REFRESH MATERIALIZED VIEW` without `CONCURRENTLY` on an existing view",
    help: "`… CONCURRENTLY` (needs a unique index on the view; reads go on)",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
