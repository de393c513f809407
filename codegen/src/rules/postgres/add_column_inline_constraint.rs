//! `add-column-inline-constraint`: `ADD COLUMN … UNIQUE` / `PRIMARY KEY` / `CHECK (…)` in one statement

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-inline-constraint",
    severity: Severity::Error,
    summary: "`ADD COLUMN … UNIQUE` / `PRIMARY KEY` / `CHECK (…)` in one statement",
    help: "add the bare column, then follow `add-unique-constraint-building-index` / `add-check-validating`",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
