//! `add-check-validating`: `ADD CONSTRAINT … CHECK (…)` without `NOT VALID` on an existing table

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-check-validating",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … CHECK (…)` without `NOT VALID` on an existing table",
    help: "`… NOT VALID` (brief; enforced on new writes at once, so mind `compat-constraint-in-expand`), then `VALIDATE CONSTRAINT` as a separate statement",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
