//! `drop-index-not-concurrent`: `DROP INDEX` without `CONCURRENTLY`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "drop-index-not-concurrent",
    severity: Severity::Warning,
    summary: "`DROP INDEX` without `CONCURRENTLY`",
    help: "`DROP INDEX CONCURRENTLY` (one index, no `CASCADE`)",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
