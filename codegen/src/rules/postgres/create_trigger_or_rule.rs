//! `create-trigger-or-rule`: `CREATE [OR REPLACE] TRIGGER`, `ENABLE/DISABLE TRIGGER` on an existing table; `CREATE RULE`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "create-trigger-or-rule",
    severity: Severity::Warning,
    summary: "`CREATE [OR REPLACE] TRIGGER`, `ENABLE/DISABLE TRIGGER` on an existing table; `CREATE RULE`",
    help: "fine under lock_timeout; review the body's cost; prefer triggers",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
