//! `lock-table`: `LOCK TABLE`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "lock-table",
    severity: Severity::Error,
    summary: "`LOCK TABLE`",
    help: "remove it; express the change as phases",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
