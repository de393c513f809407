//! `domain-constraint-validating`: `ALTER DOMAIN … ADD CONSTRAINT` without `NOT VALID`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "domain-constraint-validating",
    severity: Severity::Error,
    summary: "`ALTER DOMAIN … ADD CONSTRAINT` without `NOT VALID`",
    help: "`… NOT VALID`, then `ALTER DOMAIN … VALIDATE CONSTRAINT`",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
