//! `add-exclusion-constraint`: `ADD CONSTRAINT … EXCLUDE` on an existing table

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-exclusion-constraint",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … EXCLUDE` on an existing table",
    help: "a new table with the constraint, dual write, backfill, switch; or a reviewed `allow` for a small table",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
