//! `detach-partition-blocking`: `DETACH PARTITION` without `CONCURRENTLY`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "detach-partition-blocking",
    severity: Severity::Error,
    summary: "`DETACH PARTITION` without `CONCURRENTLY`",
    help: "14+: `DETACH PARTITION … CONCURRENTLY` (refused when the parent has a DEFAULT partition; after an interruption, `… FINALIZE`); otherwise a reviewed `allow`",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
