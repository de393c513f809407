//! `validate-in-same-transaction`: `VALIDATE CONSTRAINT` in the same explicit transaction as its `NOT VALID` add

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "validate-in-same-transaction",
    severity: Severity::Error,
    summary: "`VALIDATE CONSTRAINT` in the same explicit transaction as its `NOT VALID` add",
    help: "separate statements with no explicit transaction (the runtime commits each)",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
